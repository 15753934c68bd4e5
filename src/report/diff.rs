//! Drift between two scans (`s3audit diff OLD NEW`): which failures appeared or went away,
//! how object counts per encryption mode moved, which buckets and keys came and went and
//! which keys changed state. Pure: both sides arrive as [`Report`]s (a snapshot is
//! evaluated into one by the caller), so a report and a snapshot can be compared alike.
//!
//! A drift over an incomplete scan is not evidence of resolution: a failure whose finding
//! is missing from NEW, or that NEW only judged n/a because it did not read that bucket's
//! objects, is listed as *not covered*, never as resolved.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::Report;
use crate::model::{ModeCounts, RuleId, Severity, SseMode, Status};
use crate::report::escape::terminal;

/// One side of the comparison, as the output describes it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Side {
    /// "report" or "snapshot".
    pub kind: String,
    pub source: String,
    pub complete: bool,
    pub gaps: Vec<String>,
    /// The report kept only some findings (`--status`, `--rule`...): absent findings
    /// say nothing about the resource.
    pub filtered: bool,
}

/// One (rule, resource) whose status moved between the scans.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FindingChange {
    pub rule: RuleId,
    pub resource: String,
    pub bucket: Option<String>,
    pub severity: Severity,
    /// `None`: no such finding on that side.
    pub old_status: Option<Status>,
    pub new_status: Option<Status>,
    /// NEW's message when it has the finding, else OLD's.
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FindingDrift {
    /// Fail or error now; pass, n/a or absent before.
    pub new_failures: Vec<FindingChange>,
    /// Fail or error before, pass or n/a now, on a resource NEW did look at.
    pub resolved: Vec<FindingChange>,
    /// Fail or error before, and NEW cannot tell: no finding, or n/a because NEW did not
    /// read the objects OLD had read.
    pub not_covered: Vec<FindingChange>,
    /// Failing on both sides.
    pub still_failing: usize,
    /// Every other status change (fail to error, pass to n/a, new passes...).
    pub status_changes: Vec<FindingChange>,
}

/// Objects of one bucket in one mode, current or noncurrent, whose count changed.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CountChange {
    pub bucket: String,
    /// "current" or "noncurrent".
    pub scope: String,
    /// An [`SseMode`] name, "unreadable" or "total".
    pub mode: String,
    /// `None`: that side did not count this bucket's objects (or versions).
    pub old: Option<u64>,
    pub new: Option<u64>,
    pub delta: i128,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct KeyChange {
    pub arn: String,
    pub old_state: String,
    pub new_state: String,
}

/// What `s3audit diff OLD NEW --format json` writes: the drift between two scans.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[schemars(title = "s3audit drift")]
pub struct Drift {
    pub old: Side,
    pub new: Side,
    /// Something got worse; `reasons` says what. The exit code is 1 exactly then.
    pub regressed: bool,
    pub reasons: Vec<String>,
    pub findings: FindingDrift,
    pub buckets_added: Vec<String>,
    pub buckets_removed: Vec<String>,
    pub object_counts: Vec<CountChange>,
    pub keys_added: Vec<String>,
    pub keys_removed: Vec<String>,
    pub key_state_changes: Vec<KeyChange>,
}

fn failing(s: Status) -> bool {
    matches!(s, Status::Fail | Status::Error)
}

/// The cells compared per bucket, in output order: every mode, then unreadable and total.
fn cells(c: &ModeCounts) -> Vec<(&'static str, u64)> {
    let mut v: Vec<(&'static str, u64)> = SseMode::ALL
        .iter()
        .map(|m| (m.as_str(), c.get(*m)))
        .collect();
    v.push(("unreadable", c.unreadable));
    v.push(("total", c.total));
    v
}

fn count_changes(
    bucket: &str,
    scope: &str,
    old: Option<&ModeCounts>,
    new: Option<&ModeCounts>,
) -> Vec<CountChange> {
    let (o, n) = (old.map(cells), new.map(cells));
    let names = o.as_ref().or(n.as_ref()).cloned().unwrap_or_default();
    names
        .iter()
        .enumerate()
        .filter_map(|(i, (mode, _))| {
            let ov = o.as_ref().map(|c| c[i].1);
            let nv = n.as_ref().map(|c| c[i].1);
            let delta = i128::from(nv.unwrap_or(0)) - i128::from(ov.unwrap_or(0));
            // A side that did not count is not a change of count; it is reported only
            // when the other side has something to show.
            (ov != nv && delta != 0).then(|| CountChange {
                bucket: bucket.to_string(),
                scope: scope.to_string(),
                mode: mode.to_string(),
                old: ov,
                new: nv,
                delta,
            })
        })
        .collect()
}

/// Compares OLD with NEW. The kind ("report" or "snapshot") and source label of each
/// come from the caller, which read the files; completeness is taken from the reports.
pub fn diff(
    old: &Report,
    new: &Report,
    old_kind: &str,
    old_source: &str,
    new_kind: &str,
    new_source: &str,
) -> Drift {
    let side = |r: &Report, kind: &str, source: &str| Side {
        kind: kind.to_string(),
        source: source.to_string(),
        complete: r.scan.complete,
        gaps: r.scan.gaps.clone(),
        filtered: r.filter.is_some(),
    };
    let old_side = side(old, old_kind, old_source);
    let new_side = side(new, new_kind, new_source);

    let key = |f: &crate::model::Finding| (f.rule, f.resource.clone());
    let old_f: BTreeMap<_, _> = old.findings.iter().map(|f| (key(f), f)).collect();
    let new_f: BTreeMap<_, _> = new.findings.iter().map(|f| (key(f), f)).collect();
    let new_objects: BTreeMap<&str, bool> = new
        .buckets
        .iter()
        .map(|b| (b.name.as_str(), b.objects.is_some()))
        .collect();
    let old_objects: BTreeMap<&str, bool> = old
        .buckets
        .iter()
        .map(|b| (b.name.as_str(), b.objects.is_some()))
        .collect();

    let mut findings = FindingDrift::default();
    let all: BTreeSet<_> = old_f.keys().chain(new_f.keys()).cloned().collect();
    for k in &all {
        let (o, n) = (old_f.get(k), new_f.get(k));
        let either = n.or(o).expect("key from one of the maps");
        let change = FindingChange {
            rule: k.0,
            resource: k.1.clone(),
            bucket: either.bucket.clone(),
            severity: either.severity,
            old_status: o.map(|f| f.status),
            new_status: n.map(|f| f.status),
            message: either.message.clone(),
        };
        let was = change.old_status.is_some_and(failing);
        match change.new_status {
            Some(s) if failing(s) && was => findings.still_failing += 1,
            Some(s) if failing(s) => findings.new_failures.push(change),
            None if was => findings.not_covered.push(change),
            None => {}
            Some(s) if was => {
                // n/a because NEW did not read objects OLD had read, or read them from a
                // source that does not record what the rule judges, is not a fix.
                let unread = s == Status::NotApplicable
                    && (n.is_some_and(|f| f.leaves_unjudged())
                        || change.bucket.as_deref().is_some_and(|b| {
                            old_objects.get(b) == Some(&true) && new_objects.get(b) != Some(&true)
                        }));
                if unread {
                    findings.not_covered.push(change);
                } else {
                    findings.resolved.push(change);
                }
            }
            Some(s) if change.old_status != Some(s) => findings.status_changes.push(change),
            Some(_) => {}
        }
    }
    // Fail to error and back: failing on both sides, yet worth seeing.
    for k in &all {
        if let (Some(o), Some(n)) = (old_f.get(k), new_f.get(k))
            && failing(o.status)
            && failing(n.status)
            && o.status != n.status
        {
            findings.status_changes.push(FindingChange {
                rule: k.0,
                resource: k.1.clone(),
                bucket: n.bucket.clone(),
                severity: n.severity,
                old_status: Some(o.status),
                new_status: Some(n.status),
                message: n.message.clone(),
            });
        }
    }

    let old_b: BTreeMap<&str, _> = old.buckets.iter().map(|b| (b.name.as_str(), b)).collect();
    let new_b: BTreeMap<&str, _> = new.buckets.iter().map(|b| (b.name.as_str(), b)).collect();
    let buckets_added: Vec<String> = new_b
        .keys()
        .filter(|b| !old_b.contains_key(*b))
        .map(|b| b.to_string())
        .collect();
    let buckets_removed: Vec<String> = old_b
        .keys()
        .filter(|b| !new_b.contains_key(*b))
        .map(|b| b.to_string())
        .collect();
    let mut object_counts = Vec::new();
    let names: BTreeSet<&str> = old_b.keys().chain(new_b.keys()).copied().collect();
    for name in names {
        let (o, n) = (old_b.get(name), new_b.get(name));
        object_counts.extend(count_changes(
            name,
            "current",
            o.and_then(|b| b.objects.as_ref()),
            n.and_then(|b| b.objects.as_ref()),
        ));
        object_counts.extend(count_changes(
            name,
            "noncurrent",
            o.and_then(|b| b.noncurrent.as_ref()),
            n.and_then(|b| b.noncurrent.as_ref()),
        ));
    }

    let old_k: BTreeMap<&str, &str> = old
        .keys
        .iter()
        .map(|k| (k.arn.as_str(), k.state.as_str()))
        .collect();
    let new_k: BTreeMap<&str, &str> = new
        .keys
        .iter()
        .map(|k| (k.arn.as_str(), k.state.as_str()))
        .collect();
    let keys_added: Vec<String> = new_k
        .keys()
        .filter(|k| !old_k.contains_key(*k))
        .map(|k| k.to_string())
        .collect();
    let keys_removed: Vec<String> = old_k
        .keys()
        .filter(|k| !new_k.contains_key(*k))
        .map(|k| k.to_string())
        .collect();
    let key_state_changes: Vec<KeyChange> = old_k
        .iter()
        .filter_map(|(arn, was)| {
            let now = new_k.get(arn)?;
            (was != now).then(|| KeyChange {
                arn: arn.to_string(),
                old_state: was.to_string(),
                new_state: now.to_string(),
            })
        })
        .collect();

    let mut reasons = Vec::new();
    if !findings.new_failures.is_empty() {
        reasons.push(format!(
            "{} new failing finding(s)",
            findings.new_failures.len()
        ));
    }
    for c in &object_counts {
        if c.mode == SseMode::None.as_str() && c.delta > 0 {
            reasons.push(format!(
                "{} more unencrypted {} object(s) in {}",
                c.delta, c.scope, c.bucket
            ));
        }
    }
    for k in &key_state_changes {
        if k.old_state == "Enabled" {
            reasons.push(format!("key {} left Enabled: now {}", k.arn, k.new_state));
        }
    }
    if old_side.complete && !new_side.complete {
        reasons.push("NEW scan is incomplete where OLD was complete".to_string());
    }
    Drift {
        old: old_side,
        new: new_side,
        regressed: !reasons.is_empty(),
        reasons,
        findings,
        buckets_added,
        buckets_removed,
        object_counts,
        keys_added,
        keys_removed,
        key_state_changes,
    }
}

fn status(s: Option<Status>) -> &'static str {
    s.map_or("absent", |s| match s {
        Status::NotApplicable => "n/a",
        s => s.as_str(),
    })
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// The terminal view: a summary table, then one section per kind of change (empty
/// sections left out). Every name and message is escaped: they come from the scanned
/// account.
pub fn render_table(d: &Drift) -> String {
    let mut t = super::table::prewrapped_table(false);
    t.set_header(vec!["", "OLD", "NEW"]);
    let sides = [&d.old, &d.new];
    let row = |label: &str, f: &dyn Fn(&Side) -> String| {
        vec![label.to_string(), f(sides[0]), f(sides[1])]
    };
    t.add_row(row("input", &|s| {
        format!("{} {}", s.kind, terminal(&s.source))
    }));
    t.add_row(row("complete", &|s| {
        let mut c = if s.complete {
            "yes".to_string()
        } else {
            format!("NO ({} gaps)", s.gaps.len())
        };
        if s.filtered {
            c.push_str(", filtered");
        }
        c
    }));
    let mut out = format!("{t}\n");
    let _ = writeln!(
        out,
        "{} new failure(s), {} resolved, {} not covered by NEW, {} still failing, {} other status change(s)",
        d.findings.new_failures.len(),
        d.findings.resolved.len(),
        d.findings.not_covered.len(),
        d.findings.still_failing,
        d.findings.status_changes.len()
    );
    let _ = writeln!(
        out,
        "buckets +{} -{}; keys +{} -{}, {} state change(s); {} object count change(s)",
        d.buckets_added.len(),
        d.buckets_removed.len(),
        d.keys_added.len(),
        d.keys_removed.len(),
        d.key_state_changes.len(),
        d.object_counts.len()
    );
    let _ = writeln!(
        out,
        "{}",
        if d.regressed {
            format!("REGRESSED: {}", terminal(&d.reasons.join("; ")))
        } else {
            "no regression".to_string()
        }
    );
    if !d.new.complete || !d.old.complete {
        out.push_str(
            "note: a scan is incomplete; what it did not read is listed as not covered, never resolved\n",
        );
    }
    let findings = |title: &str, list: &[FindingChange], out: &mut String| {
        if list.is_empty() {
            return;
        }
        let mut t = super::table::prewrapped_table(false);
        t.set_header(vec!["rule", "resource", "severity", "old", "new"]);
        for c in list {
            t.add_row(vec![
                terminal(c.rule.as_str()).into_owned(),
                terminal(&c.resource).into_owned(),
                c.severity.as_str().to_string(),
                status(c.old_status).to_string(),
                status(c.new_status).to_string(),
            ]);
        }
        let _ = write!(out, "\n{title}\n{t}\n");
    };
    findings("New failures", &d.findings.new_failures, &mut out);
    findings("Resolved", &d.findings.resolved, &mut out);
    findings(
        "Not covered by NEW (not evidence of resolution)",
        &d.findings.not_covered,
        &mut out,
    );
    findings("Other status changes", &d.findings.status_changes, &mut out);
    let names = |title: &str, list: &[String], out: &mut String| {
        if !list.is_empty() {
            let _ = writeln!(out, "\n{title}");
            for n in list {
                let _ = writeln!(out, "  {}", terminal(n));
            }
        }
    };
    names("Buckets added", &d.buckets_added, &mut out);
    names("Buckets removed", &d.buckets_removed, &mut out);
    if !d.object_counts.is_empty() {
        let mut t = super::table::prewrapped_table(false);
        t.set_header(vec!["bucket", "scope", "mode", "old", "new", "change"]);
        for c in &d.object_counts {
            t.add_row(vec![
                terminal(&c.bucket).into_owned(),
                c.scope.clone(),
                c.mode.clone(),
                opt(c.old),
                opt(c.new),
                format!("{:+}", c.delta),
            ]);
        }
        let _ = write!(out, "\nObject counts\n{t}\n");
    }
    names("Keys added", &d.keys_added, &mut out);
    names("Keys removed", &d.keys_removed, &mut out);
    if !d.key_state_changes.is_empty() {
        let mut t = super::table::prewrapped_table(false);
        t.set_header(vec!["key", "old state", "new state"]);
        for k in &d.key_state_changes {
            t.add_row(vec![
                terminal(&k.arn).into_owned(),
                terminal(&k.old_state).into_owned(),
                terminal(&k.new_state).into_owned(),
            ]);
        }
        let _ = write!(out, "\nKey state changes\n{t}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Finding;
    use crate::report::{BucketSection, KeySection};

    fn finding(bucket: &str, rule: &str, status: Status) -> Finding {
        Finding {
            message: format!("{rule} {}", status.as_str()),
            ..Finding::on_bucket(rule, bucket, status)
        }
    }

    fn bucket(name: &str, objects: Option<ModeCounts>) -> BucketSection {
        BucketSection {
            name: name.into(),
            region: Some("us-east-1".into()),
            objects,
            noncurrent: None,
            kms_keys: BTreeMap::new(),
            ..BucketSection::default()
        }
    }

    fn key(arn: &str, state: &str) -> KeySection {
        KeySection {
            arn: arn.into(),
            state: state.into(),
            manager: Some("CUSTOMER".into()),
            rotation: Some(true),
            region: "us-east-1".into(),
        }
    }

    fn report(
        buckets: Vec<BucketSection>,
        keys: Vec<KeySection>,
        findings: Vec<Finding>,
    ) -> Report {
        // A complete scan with no scope and no settings recorded: check-policy's shape.
        Report {
            buckets,
            keys,
            ..Report::for_document(None, findings)
        }
    }

    fn counts(none: u64, sse_kms: u64) -> ModeCounts {
        ModeCounts {
            total: none + sse_kms,
            none,
            sse_kms,
            ..ModeCounts::default()
        }
    }

    fn run(old: &Report, new: &Report) -> Drift {
        diff(old, new, "report", "old.json", "report", "new.json")
    }

    fn ids(list: &[FindingChange]) -> Vec<(&str, &str)> {
        list.iter()
            .map(|c| (c.rule.as_str(), c.bucket.as_deref().unwrap_or("")))
            .collect()
    }

    #[test]
    fn identical_reports_do_not_regress() {
        let r = report(
            vec![bucket("a", Some(counts(1, 2)))],
            vec![key("k1", "Enabled")],
            vec![
                finding("a", "ENC-001", Status::Fail),
                finding("a", "OBJ-001", Status::Pass),
            ],
        );
        let d = run(&r, &r);
        assert!(!d.regressed, "{:?}", d.reasons);
        assert_eq!(d.findings.still_failing, 1);
        assert!(d.findings.new_failures.is_empty() && d.findings.resolved.is_empty());
        assert!(d.object_counts.is_empty() && d.key_state_changes.is_empty());
    }

    #[test]
    fn new_resolved_and_not_covered_failures() {
        let old = report(
            vec![
                bucket("a", Some(counts(0, 1))),
                bucket("b", Some(counts(0, 1))),
                bucket("gone", None),
            ],
            vec![],
            vec![
                finding("a", "ENC-001", Status::Pass),
                finding("a", "POL-001", Status::Fail),
                finding("b", "OBJ-001", Status::Fail),
                finding("gone", "ENC-001", Status::Fail),
            ],
        );
        // NEW: a's ENC-001 now fails, a's POL-001 passes, b's objects were not read (OBJ
        // n/a), the bucket "gone" was not scanned at all.
        let new = report(
            vec![bucket("a", Some(counts(0, 1))), bucket("b", None)],
            vec![],
            vec![
                finding("a", "ENC-001", Status::Fail),
                finding("a", "POL-001", Status::Pass),
                finding("b", "OBJ-001", Status::NotApplicable),
            ],
        );
        let d = run(&old, &new);
        assert_eq!(ids(&d.findings.new_failures), [("ENC-001", "a")]);
        assert_eq!(ids(&d.findings.resolved), [("POL-001", "a")]);
        assert_eq!(
            ids(&d.findings.not_covered),
            [("ENC-001", "gone"), ("OBJ-001", "b")]
        );
        assert_eq!(d.buckets_removed, ["gone"]);
        assert!(d.regressed);
        assert!(d.reasons[0].contains("1 new failing"), "{:?}", d.reasons);
    }

    /// OLD HEAD-scanned the bucket and OBJ-004 failed; NEW counted its objects from an S3
    /// Inventory, which records no KMS key, so OBJ-004 is n/a with objects unjudged. NEW
    /// did read the objects, but not their keys: that is not a fix.
    #[test]
    fn keys_an_inventory_did_not_record_are_not_covered_never_resolved() {
        let old = report(
            vec![bucket("b", Some(counts(0, 3)))],
            vec![],
            vec![finding("b", "OBJ-004", Status::Fail)],
        );
        let unjudged = Finding {
            evidence: serde_json::json!({"kms_objects_unjudged": 3, "manifest": "m.json"}),
            ..finding("b", "OBJ-004", Status::NotApplicable)
        };
        let new = report(
            vec![bucket("b", Some(counts(0, 3)))],
            vec![],
            vec![unjudged],
        );
        let d = run(&old, &new);
        assert_eq!(ids(&d.findings.not_covered), [("OBJ-004", "b")]);
        assert!(d.findings.resolved.is_empty(), "{:?}", d.findings.resolved);
    }

    #[test]
    fn fixed_without_new_failures_is_not_a_regression() {
        let old = report(
            vec![bucket("a", None)],
            vec![],
            vec![finding("a", "ENC-001", Status::Fail)],
        );
        let new = report(
            vec![bucket("a", None)],
            vec![],
            vec![finding("a", "ENC-001", Status::Pass)],
        );
        let d = run(&old, &new);
        assert_eq!(ids(&d.findings.resolved), [("ENC-001", "a")]);
        assert!(!d.regressed, "{:?}", d.reasons);
    }

    #[test]
    fn object_counts_per_mode_and_more_unencrypted_regresses() {
        let old = report(vec![bucket("a", Some(counts(1, 5)))], vec![], vec![]);
        let new = report(
            vec![
                bucket("a", Some(counts(3, 4))),
                bucket("fresh", Some(counts(0, 2))),
            ],
            vec![],
            vec![],
        );
        let d = run(&old, &new);
        let a: Vec<(&str, Option<u64>, Option<u64>, i128)> = d
            .object_counts
            .iter()
            .filter(|c| c.bucket == "a")
            .map(|c| (c.mode.as_str(), c.old, c.new, c.delta))
            .collect();
        assert_eq!(
            a,
            [
                ("none", Some(1), Some(3), 2),
                ("sse_kms", Some(5), Some(4), -1),
                ("total", Some(6), Some(7), 1)
            ]
        );
        assert_eq!(d.buckets_added, ["fresh"]);
        assert!(d.regressed);
        assert!(
            d.reasons
                .iter()
                .any(|r| r.contains("2 more unencrypted current object(s) in a"))
        );

        // Fewer unencrypted objects: a change, not a regression.
        let d = run(&new, &old);
        assert!(!d.regressed, "{:?}", d.reasons);
        assert!(!d.object_counts.is_empty());
    }

    #[test]
    fn keys_added_removed_and_leaving_enabled() {
        let old = report(
            vec![],
            vec![key("k1", "Enabled"), key("k2", "Enabled")],
            vec![],
        );
        let new = report(
            vec![],
            vec![key("k1", "PendingDeletion"), key("k3", "Enabled")],
            vec![],
        );
        let d = run(&old, &new);
        assert_eq!(d.keys_added, ["k3"]);
        assert_eq!(d.keys_removed, ["k2"]);
        assert_eq!(
            d.key_state_changes,
            [KeyChange {
                arn: "k1".into(),
                old_state: "Enabled".into(),
                new_state: "PendingDeletion".into()
            }]
        );
        assert!(d.regressed);
        // Back to Enabled is not a regression.
        assert!(!run(&new, &old).regressed);
    }

    #[test]
    fn new_incomplete_scan_regresses_and_is_said() {
        let old = report(vec![], vec![], vec![]);
        let mut new = old.clone();
        new.scan.complete = false;
        new.scan.gaps = vec!["bucket a: listing cut short".into()];
        let d = run(&old, &new);
        assert!(d.regressed);
        assert!(!d.new.complete);
        let table = render_table(&d);
        assert!(table.contains("NO (1 gaps)"), "{table}");
        assert!(table.contains("REGRESSED"), "{table}");
        // Complete again: not a regression.
        assert!(!run(&new, &old).regressed);
    }

    #[test]
    fn table_lists_sections_and_escapes_names() {
        let old = report(vec![bucket("a", Some(counts(0, 1)))], vec![], vec![]);
        let new = report(
            vec![bucket("a", Some(counts(0, 1))), bucket("evil\x1b[2J", None)],
            vec![],
            vec![finding("a", "ENC-001", Status::Fail)],
        );
        let table = render_table(&run(&old, &new));
        assert!(table.contains("New failures"), "{table}");
        assert!(table.contains("ENC-001"), "{table}");
        assert!(table.contains("Buckets added"), "{table}");
        assert!(!table.contains('\x1b'), "{table:?}");
    }
}
