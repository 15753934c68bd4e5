//! OBJ-*: the objects themselves. Bucket settings only govern new uploads; these rules
//! judge what is actually stored, current and noncurrent versions alike.

use super::{Rule, RuleContext, Verdict, plural};
use crate::model::evidence::{
    InventoryAgreement, ObjectCounts, ObjectDataAge, ObjectKey, ObjectKeyHealth, ObjectKeyProblem,
    ObjectKeys, ObjectKeysNotRecorded, ObjectsRead, RequiredMode,
};
use crate::model::{KeyState, ModeCounts, ObjectSource, ObjectSummary, Observed, RuleId, SseMode};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: RuleId::Obj001,
        check: no_unencrypted_objects,
    },
    Rule {
        id: RuleId::Obj002,
        check: no_objects_below_required_mode,
    },
    Rule {
        id: RuleId::Obj003,
        check: object_keys_expected,
    },
    Rule {
        id: RuleId::Obj004,
        check: no_objects_under_unusable_keys,
    },
    Rule {
        id: RuleId::Obj005,
        check: no_sse_c_objects,
    },
    Rule {
        id: RuleId::Obj006,
        check: every_object_read,
    },
    Rule {
        id: RuleId::Obj007,
        check: object_data_current,
    },
    Rule {
        id: RuleId::Obj008,
        check: inventory_agrees_with_live_objects,
    },
];

/// The bucket's object counts; every OBJ rule is `not_applicable` without any
/// (`--no-objects`) and `error` when they were deliberately not read (nothing is known).
fn summary<'a>(ctx: &RuleContext<'a>) -> Result<&'a ObjectSummary, Verdict> {
    let s = ctx
        .bucket
        .objects
        .as_ref()
        .ok_or_else(|| Verdict::not_applicable("objects were not scanned (--no-objects)"))?;
    match s.not_read_reason() {
        Some(reason) => Err(Verdict::error(format!("objects not read: {reason}"))),
        None => Ok(s),
    }
}

/// Current and noncurrent together: an old version is data at rest like any other.
fn all_counts(s: &ObjectSummary) -> ModeCounts {
    let mut c = s.current;
    if let Some(n) = &s.noncurrent {
        c.merge(n);
    }
    c
}

/// Why the counts cannot prove a negative: a listing cut short, unread objects, or
/// objects whose encryption value is not one S3 documents.
fn gap(s: &ObjectSummary) -> Option<String> {
    let counts = all_counts(s);
    let mut why = Vec::new();
    if let Some(e) = &s.listing_error {
        why.push(e.clone());
    }
    if counts.unreadable > 0 {
        why.push(format!(
            "{} could not be read (OBJ-006)",
            plural(counts.unreadable as usize, "object")
        ));
    }
    if counts.unknown > 0 {
        why.push(unknown_values_note(s, counts.unknown));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// [`gap`], plus what only the per-key rules (OBJ-003/004) miss: SSE-KMS objects whose
/// metadata table row names no `kms_key_arn`, whose key cannot be judged.
fn keys_gap(s: &ObjectSummary) -> Option<String> {
    let mut why: Vec<String> = gap(s).into_iter().collect();
    if let Some(ObjectSource::MetadataTable {
        kms_objects_without_key: n,
        ..
    }) = &s.source
        && *n > 0
    {
        why.push(format!(
            "the metadata table records no kms_key_arn for {}",
            plural(*n as usize, "SSE-KMS object")
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// "3 objects report an encryption value s3audit does not recognise ("aws:foo" ×3)".
fn unknown_values_note(s: &ObjectSummary, n: u64) -> String {
    let values: Vec<String> = s
        .unknown_values
        .iter()
        .map(|(v, n)| format!("{v:?} ×{n}"))
        .collect();
    format!(
        "{} {} an x-amz-server-side-encryption value S3 does not document ({}), so their encryption is unknown",
        plural(n as usize, "object"),
        if n == 1 { "reports" } else { "report" },
        values.join(", ")
    )
}

fn scope(s: &ObjectSummary) -> String {
    let n = all_counts(s).total;
    let what = if s.noncurrent.is_some() {
        "objects and versions"
    } else {
        "objects"
    };
    if s.sampled {
        format!("in a sample of {n} {what} (--sample)")
    } else if let Some(ObjectSource::Inventory { as_of, .. }) = &s.source {
        format!(
            "among {n} {what} of the S3 Inventory of {}",
            rfc3339(*as_of)
        )
    } else if let Some(ObjectSource::MetadataTable { as_of, .. }) = &s.source {
        format!(
            "among {n} {what} of the metadata table snapshot of {}",
            rfc3339(*as_of)
        )
    } else {
        format!("among {n} {what}")
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// The common shape of "no object may be X": fail on any, error when the scan has a gap,
/// pass otherwise.
fn none_may_be(
    s: &ObjectSummary,
    modes: &[SseMode],
    what: &str,
    criteria: Option<RequiredMode>,
) -> Verdict {
    let counts = all_counts(s);
    let bad: u64 = modes.iter().map(|m| counts.get(*m)).sum();
    let examples: Vec<&String> = modes
        .iter()
        .filter_map(|m| s.samples.get(m))
        .flatten()
        .take(10)
        .collect();
    let evidence = ObjectCounts {
        count: bad,
        examples: examples.iter().map(|e| e.to_string()).collect(),
        unknown_values: s.unknown_values.clone(),
        counts,
        noncurrent_scanned: s.noncurrent.is_some(),
        sampled: s.sampled,
        criteria,
    };
    if bad > 0 {
        let e: Vec<&str> = examples.iter().map(|s| s.as_str()).take(3).collect();
        return Verdict::fail(format!("{bad} {what} {} (e.g. {})", scope(s), e.join(", ")))
            .with_evidence(evidence);
    }
    if let Some(g) = gap(s) {
        return Verdict::error(format!("cannot rule out {what}: {g}")).with_evidence(evidence);
    }
    if counts.total == 0 {
        return Verdict::not_applicable("the bucket holds no objects (under the scanned prefix)");
    }
    Verdict::pass(format!("no {what} {}", scope(s))).with_evidence(evidence)
}

fn no_unencrypted_objects(ctx: &RuleContext) -> Verdict {
    match summary(ctx) {
        Err(v) => v,
        Ok(s) => none_may_be(s, &[SseMode::None], "unencrypted objects", None),
    }
}

fn no_objects_below_required_mode(ctx: &RuleContext) -> Verdict {
    let s = match summary(ctx) {
        Err(v) => return v,
        Ok(s) => s,
    };
    let required = ctx.config.required_object_mode;
    // Unknown objects rank nowhere: they are not "below", they make the verdict an
    // error through the gap.
    let below: Vec<SseMode> = SseMode::ALL
        .into_iter()
        .filter(|m| matches!((m.rank(), required.rank()), (Some(a), Some(b)) if a < b))
        .collect();
    none_may_be(
        s,
        &below,
        &format!("objects below {}", required.as_str()),
        Some(RequiredMode {
            required_mode: required,
        }),
    )
}

fn no_sse_c_objects(ctx: &RuleContext) -> Verdict {
    match summary(ctx) {
        Err(v) => v,
        Ok(s) => none_may_be(s, &[SseMode::SseC], "SSE-C objects", None),
    }
}

/// Up to 3 of the object keys the scan saw under KMS key `id`.
fn examples_under(s: &ObjectSummary, id: &str) -> Option<Vec<String>> {
    s.key_samples.get(id).map(|v| v[..v.len().min(3)].to_vec())
}

/// The verdict of a per-key rule when no object is under a KMS key: unknown if some
/// objects went unread, else nothing to judge.
///
/// Counts from S3 Inventory have SSE-KMS objects but no keys: the inventory records each
/// object's mode, never its key ARN. The rule is then `not_applicable`, never `pass`, with
/// a message and evidence naming how many objects went unjudged. Not `error`: nothing
/// failed to be read (the data source the user chose does not carry the fact, as
/// `--no-objects` does not carry any object fact, which is `not_applicable` too), and an
/// `error` would make every inventory scan "incomplete" (exit 3) for a reason no retry can
/// fix. The bucket's object source in every report format says what the counts lack.
fn without_kms_objects(s: &ObjectSummary) -> Option<Verdict> {
    if !s.by_key.is_empty() {
        return None;
    }
    if let Some(v) = keys_not_recorded(s) {
        return Some(v);
    }
    Some(match keys_gap(s) {
        Some(g) => Verdict::error(format!("cannot tell which KMS keys objects use: {g}")),
        None => Verdict::not_applicable(format!("no KMS-encrypted objects {}", scope(s))),
    })
}

/// The `not_applicable` of OBJ-003/004 for SSE-KMS objects of an S3 Inventory whose keys
/// nothing recorded: all of them, or with `--verify-sample` those outside the sample (the
/// sampled ones were judged, and a failure among them is reported before this). `None`
/// when every KMS object's key is known.
fn keys_not_recorded(s: &ObjectSummary) -> Option<Verdict> {
    let Some(ObjectSource::Inventory { manifest, .. }) = &s.source else {
        return None;
    };
    let counts = all_counts(s);
    let sampled: u64 = s.by_key.values().sum();
    let unjudged = (counts.sse_kms + counts.dsse_kms).saturating_sub(sampled);
    if unjudged == 0 {
        return None;
    }
    let why = "S3 Inventory does not record which KMS key encrypts an object";
    let message = if sampled == 0 {
        format!(
            "not checked: {why}, so the keys of {} are unknown (HEAD-scan the bucket, without --inventory, to judge them)",
            plural(unjudged as usize, "SSE-KMS object")
        )
    } else {
        format!(
            "not checked for every object: the keys of the {} --verify-sample HEADed raise nothing, and {why}, so the keys of the other {unjudged} are unknown",
            plural(sampled as usize, "SSE-KMS object")
        )
    };
    Some(
        Verdict::not_applicable(message).with_evidence(ObjectKeysNotRecorded {
            kms_objects_unjudged: unjudged,
            manifest: manifest.clone(),
            sampled_kms_objects: (sampled > 0).then_some(sampled),
        }),
    )
}

/// Whether `by_key` holds a `--verify-sample`'s keys rather than every object's.
fn keys_sampled(s: &ObjectSummary) -> bool {
    s.verified.is_some() && s.source.as_ref().is_some_and(ObjectSource::is_inventory)
}

/// " among the objects --verify-sample HEADed" when the keys are a sample's, else "".
fn sample_note(s: &ObjectSummary) -> &'static str {
    if keys_sampled(s) {
        " (among the objects --verify-sample HEADed)"
    } else {
        ""
    }
}

fn object_keys_expected(ctx: &RuleContext) -> Verdict {
    let s = match summary(ctx) {
        Err(v) => return v,
        Ok(s) => s,
    };
    if let Some(v) = without_kms_objects(s) {
        return v;
    }
    let default = ctx.bucket.default_kms_key();
    let mut unexpected = Vec::new();
    let mut keys = Vec::new();
    for (id, n) in &s.by_key {
        let allowed = Some(id.as_str()) == default
            || ctx.config.allowed_kms_keys.iter().any(|a| a == id)
            || ctx
                .key(id)
                .and_then(|r| r.info.present())
                .is_some_and(|k| ctx.config.key_allowed(k));
        keys.push(ObjectKey {
            key: id.clone(),
            objects: *n,
            expected: allowed,
            examples: examples_under(s, id),
        });
        if !allowed {
            unexpected.push((id, n));
        }
    }
    let evidence = ObjectKeys {
        default_key: default.map(str::to_string),
        allowed_kms_keys: ctx.config.allowed_kms_keys.clone(),
        keys,
        sampled: keys_sampled(s),
    };
    // A key that is not allowed may still be the bucket's default, when that was not read:
    // unknown, never a failure claimed on a guess (nor a pass).
    if let (false, Some(reason)) = (
        unexpected.is_empty(),
        ctx.bucket.encryption.unknown_reason(),
    ) {
        return Verdict::error(format!(
            "cannot tell whether the KMS keys of {} objects are expected: the bucket's default encryption was not read ({reason})",
            unexpected.iter().map(|(_, n)| **n).sum::<u64>()
        ))
        .with_evidence(evidence);
    }
    if !unexpected.is_empty() {
        let total: u64 = unexpected.iter().map(|(_, n)| **n).sum();
        let named: Vec<String> = unexpected
            .iter()
            .map(|(id, n)| format!("{id} ({n})"))
            .collect();
        return Verdict::fail(format!(
            "{total} objects{} are under KMS keys that are neither the bucket default nor allowed: {}",
            sample_note(s),
            named.join(", ")
        ))
        .with_evidence(evidence);
    }
    if let Some(v) = keys_not_recorded(s) {
        return v;
    }
    if let Some(g) = keys_gap(s) {
        return Verdict::error(format!("cannot rule out unexpected KMS keys: {g}"))
            .with_evidence(evidence);
    }
    Verdict::pass(format!(
        "all SSE-KMS objects {} use the default or an allowed key",
        scope(s)
    ))
    .with_evidence(evidence)
}

fn no_objects_under_unusable_keys(ctx: &RuleContext) -> Verdict {
    let s = match summary(ctx) {
        Err(v) => return v,
        Ok(s) => s,
    };
    if let Some(v) = without_kms_objects(s) {
        return v;
    }
    let mut at_risk = Vec::new();
    let mut unknown = Vec::new();
    let mut keys = Vec::new();
    let mut total_at_risk = 0;
    for (id, n) in &s.by_key {
        let state = match ctx.key(id).map(|r| &r.info) {
            Some(Observed::Present(k)) => Some(match k.state {
                KeyState::Enabled => None,
                KeyState::PendingDeletion => Some(match k.deletion_date {
                    Some(d) => format!("pending deletion on {}", d.date()),
                    None => "pending deletion".to_string(),
                }),
                other => Some(format!("{other:?}")),
            }),
            Some(Observed::Absent) => Some(Some("missing".to_string())),
            Some(o) => {
                unknown.push(format!("{id}: {}", o.unknown_reason().unwrap_or("unknown")));
                None
            }
            None => {
                unknown.push(format!("{id}: not resolved"));
                None
            }
        };
        let problem = state.flatten();
        keys.push(ObjectKeyProblem {
            key: id.clone(),
            objects: *n,
            problem: problem.clone(),
            examples: examples_under(s, id),
        });
        if let Some(p) = problem {
            total_at_risk += n;
            at_risk.push(format!("{n} under {id} ({p})"));
        }
    }
    let evidence = ObjectKeyHealth {
        keys,
        sampled: keys_sampled(s),
    };
    if !at_risk.is_empty() {
        return Verdict::fail(format!(
            "{total_at_risk} objects{} are unreadable or about to be: {}",
            sample_note(s),
            at_risk.join("; ")
        ))
        .with_evidence(evidence);
    }
    if !unknown.is_empty() {
        return Verdict::error(format!("key state unknown: {}", unknown.join("; ")))
            .with_evidence(evidence);
    }
    if let Some(v) = keys_not_recorded(s) {
        return v;
    }
    if let Some(g) = keys_gap(s) {
        return Verdict::error(format!("cannot rule out objects under unusable keys: {g}"))
            .with_evidence(evidence);
    }
    Verdict::pass(format!(
        "every KMS key objects use is enabled ({})",
        plural(s.by_key.len(), "key")
    ))
    .with_evidence(evidence)
}

fn every_object_read(ctx: &RuleContext) -> Verdict {
    let s = match summary(ctx) {
        Err(v) => return v,
        Ok(s) => s,
    };
    let counts = all_counts(s);
    let evidence = ObjectsRead {
        listed: counts.total,
        unreadable: counts.unreadable,
        examples: s.unreadable.iter().take(10).cloned().collect(),
        listing_error: s.listing_error.clone(),
    };
    if counts.unreadable > 0 {
        let e: Vec<String> = s
            .unreadable
            .iter()
            .take(3)
            .map(|u| format!("{}: {}", u.key, u.reason))
            .collect();
        return Verdict::fail(format!(
            "{} of {} listed objects could not be read (e.g. {})",
            counts.unreadable,
            counts.total,
            e.join("; ")
        ))
        .with_evidence(evidence);
    }
    if let Some(e) = &s.listing_error {
        return Verdict::error(format!("the listing did not complete: {e}"))
            .with_evidence(evidence);
    }
    if counts.total == 0 {
        return Verdict::not_applicable("the bucket holds no objects (under the scanned prefix)");
    }
    Verdict::pass(format!(
        "all {} were read",
        plural(counts.total as usize, "listed object")
    ))
    .with_evidence(evidence)
}

/// A bucket's counts with the file they were read from (an inventory's manifest or a
/// metadata table's metadata file) and its date; the verdict of a rule about such sources
/// otherwise (not applicable to buckets this scan HEADed).
fn from_inventory<'a>(
    ctx: &RuleContext<'a>,
) -> Result<(&'a ObjectSummary, &'a str, time::OffsetDateTime), Verdict> {
    let s = summary(ctx)?;
    match s.source.as_ref().and_then(ObjectSource::data_file) {
        Some((file, as_of)) => Ok((s, file, as_of)),
        None => Err(Verdict::not_applicable(
            "objects were read live by this scan's HEADs",
        )),
    }
}

/// OBJ-007: counts read from an S3 Inventory or a metadata table are as old as it. Judged against
/// the scan's start time (recorded in the snapshot), so `evaluate` reaches the same verdict
/// later. Buckets this scan HEADed were read live: not applicable, never a pass.
fn object_data_current(ctx: &RuleContext) -> Verdict {
    let (s, manifest, as_of) = match from_inventory(ctx) {
        Err(v) => return v,
        Ok(found) => found,
    };
    let what = match &s.source {
        Some(ObjectSource::MetadataTable { .. }) => "the metadata table snapshot",
        _ => "the S3 Inventory",
    };
    let judged_at = ctx.estate.scan.started_at;
    let max = ctx.config.max_object_data_age;
    let age = judged_at - as_of;
    let evidence = ObjectDataAge {
        manifest: manifest.to_string(),
        as_of: rfc3339(as_of),
        judged_at: rfc3339(judged_at),
        age_seconds: age.whole_seconds(),
        max_age_seconds: max.as_secs(),
    };
    let max_text = humantime::format_duration(max).to_string();
    // A report dated after the scan began cannot be placed in time: a clock or a manifest
    // that is wrong, either way not something to call current.
    if age.is_negative() {
        return Verdict::error(format!(
            "{what} is dated {}, after the scan started ({}): its age is unknown",
            evidence.as_of, evidence.judged_at
        ))
        .with_evidence(evidence);
    }
    let age_text = humantime::format_duration(std::time::Duration::from_secs(
        age.whole_seconds().unsigned_abs(),
    ))
    .to_string();
    if age > max {
        return Verdict::fail(format!(
            "{what} of {} was {age_text} old when the scan started, older than --max-age {max_text}: objects written or re-encrypted since are not counted",
            evidence.as_of
        ))
        .with_evidence(evidence);
    }
    Verdict::pass(format!(
        "{what} of {} was {age_text} old when the scan started (--max-age {max_text})",
        evidence.as_of
    ))
    .with_evidence(evidence)
}

/// OBJ-008: `--verify-sample`'s HEADs against the inventory's rows. Any disagreement fails
/// (the counts describe another bucket than today's); HEADs that failed otherwise leave it
/// unknown; buckets read live, or an inventory not checked, are not applicable.
fn inventory_agrees_with_live_objects(ctx: &RuleContext) -> Verdict {
    let (s, manifest, as_of) = match from_inventory(ctx) {
        Err(v) => return v,
        Ok(found) => found,
    };
    if let Some(ObjectSource::MetadataTable { .. }) = &s.source {
        return Verdict::not_applicable(
            "objects were counted from a metadata table, which records each object's KMS key (--verify-sample checks S3 Inventory reports)",
        );
    }
    let Some(check) = &s.verified else {
        return Verdict::not_applicable(
            "the S3 Inventory was not checked against the live objects (--verify-sample)",
        );
    };
    if check.headed == 0 {
        return Verdict::not_applicable("the S3 Inventory lists no current object to sample");
    }
    let date = rfc3339(as_of);
    let evidence = InventoryAgreement {
        manifest: manifest.to_string(),
        sample: check.clone(),
    };
    if check.disagreement_count > 0 {
        let named: Vec<String> = check
            .disagreements
            .iter()
            .take(3)
            .map(|d| match d.live {
                None => format!("{}: gone", d.key),
                Some(live) => format!(
                    "{}: {} in the inventory, {} live",
                    d.key,
                    d.inventory.as_str(),
                    live.as_str()
                ),
            })
            .collect();
        return Verdict::fail(format!(
            "{} of {} sampled objects disagree with the S3 Inventory of {date} (e.g. {})",
            check.disagreement_count,
            check.headed,
            named.join("; ")
        ))
        .with_evidence(evidence);
    }
    if !check.unreadable.is_empty() {
        return Verdict::error(format!(
            "cannot confirm the S3 Inventory: {} of {} sampled objects could not be HEADed (e.g. {}: {})",
            check.unreadable.len(),
            check.headed,
            check.unreadable[0].key,
            check.unreadable[0].reason
        ))
        .with_evidence(evidence);
    }
    Verdict::pass(format!(
        "all {} agree with the S3 Inventory of {date} (seed {})",
        plural(check.headed as usize, "sampled object"),
        check.seed
    ))
    .with_evidence(evidence)
}
