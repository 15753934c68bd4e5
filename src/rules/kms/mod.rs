//! KMS-*: the health of every KMS key a bucket depends on.

pub mod key_policy;

use super::encryption::default_rule;
use super::{Rule, RuleContext, Verdict, arn_region};
use crate::model::evidence::{
    self, KeyPolicies, KeyRegion, KeyRotation, KeyUsable, KeysRotate, KeysUsable,
};
use crate::model::{Evidence, KeyInfo, KeyState, Observed, RuleId, Severity};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: RuleId::Kms001,
        check: keys_usable,
    },
    Rule {
        id: RuleId::Kms002,
        check: keys_rotate,
    },
    Rule {
        id: RuleId::Kms003,
        check: default_key_in_region,
    },
    Rule {
        id: RuleId::Kms004,
        check: no_outside_use,
    },
    Rule {
        id: RuleId::Kms005,
        check: no_outside_destruction,
    },
];

/// KMS-004 and KMS-005: one key-policy question asked of every key the bucket uses; the
/// worst answer wins (fail, then error, then pass).
fn key_policy_rule(ctx: &RuleContext, rule: RuleId) -> Verdict {
    use crate::model::Status;

    let uses = match keys_in_use(ctx) {
        Ok(u) => u,
        Err(v) => return v,
    };
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    let mut passes = Vec::new();
    let mut evidence = Vec::new();
    for u in &uses {
        let key = match ctx.key(u.record_id).map(|r| &r.info) {
            Some(Observed::Present(key)) => key,
            // A key that does not exist has no policy to judge (KMS-001 fails it).
            Some(Observed::Absent) => continue,
            // A key that could not be described may have any policy: unknown, not skipped.
            Some(other) => {
                unknown.push(format!(
                    "{}: not described: {}",
                    u.record_id,
                    other.unknown_reason().unwrap_or("unknown")
                ));
                continue;
            }
            None => {
                unknown.push(format!("{}: not resolved by the scan", u.record_id));
                continue;
            }
        };
        // AWS managed keys' policies are AWS's: nobody can change them, KMS-003 and
        // ENC-003 judge their use.
        if key.is_aws_managed() {
            continue;
        }
        let text = match &key.policy {
            None => continue,
            Some(Observed::Present(text)) => text,
            Some(other) => {
                unknown.push(format!(
                    "{}: key policy not read: {}",
                    key.arn,
                    other.unknown_reason().unwrap_or("absent")
                ));
                continue;
            }
        };
        let outcome = match &*ctx.key_policy(&key.arn, text) {
            Ok(verdicts) => verdicts
                .iter()
                .find(|(id, _)| *id == rule)
                .map(|(_, v)| v.clone()),
            Err(e) => {
                unknown.push(format!("{}: {e}", key.arn));
                continue;
            }
        };
        let Some(outcome) = outcome else { continue };
        if let Evidence::KeyPolicy(mut judged) = *outcome.evidence.clone() {
            judged.default = Some(u.default);
            judged.objects = Some(u.objects);
            evidence.push(judged);
        }
        match outcome.status {
            Status::Fail => fails.push(format!("{}: {}", key.arn, outcome.message)),
            Status::Pass => passes.push(format!("{}: {}", key.arn, outcome.message)),
            _ => unknown.push(format!("{}: {}", key.arn, outcome.message)),
        }
    }
    let evidence = KeyPolicies { keys: evidence };
    if !fails.is_empty() {
        return Verdict::fail(fails.join("; ")).with_evidence(evidence);
    }
    if !unknown.is_empty() {
        return Verdict::error(unknown.join("; ")).with_evidence(evidence);
    }
    if passes.is_empty() {
        return Verdict::not_applicable(
            "the bucket uses no customer-managed KMS key whose key policy was read",
        );
    }
    Verdict::pass(passes.join("; ")).with_evidence(evidence)
}

fn no_outside_use(ctx: &RuleContext) -> Verdict {
    key_policy_rule(ctx, key_policy::KMS_004)
}

fn no_outside_destruction(ctx: &RuleContext) -> Verdict {
    key_policy_rule(ctx, key_policy::KMS_005)
}

/// One key a bucket depends on and why.
struct KeyUse<'a> {
    record_id: &'a str,
    /// Referenced by the default encryption configuration.
    default: bool,
    /// The implicit aws/s3 key of an SSE-KMS default without a key id: AWS creates it on
    /// first use, so its absence is not a fault.
    implicit_aws_managed: bool,
    /// Objects encrypted under it.
    objects: u64,
}

/// The keys the bucket uses: its default key and its objects' keys. `Err` when the
/// default encryption could not be read, so the set is unknown.
fn keys_in_use<'a>(ctx: &RuleContext<'a>) -> Result<Vec<KeyUse<'a>>, Verdict> {
    let mut uses: Vec<KeyUse<'a>> = Vec::new();
    if let Some(rule) = default_rule(ctx)?
        && rule.algorithm.is_kms()
    {
        match rule.kms_key.as_deref() {
            Some(id) => uses.push(KeyUse {
                record_id: id,
                default: true,
                implicit_aws_managed: rule.kms_key_id.is_none(),
                objects: 0,
            }),
            None => {
                return Err(Verdict::error(
                    "the default KMS key was not resolved by the scan",
                ));
            }
        }
    }
    if let Some(objects) = &ctx.bucket.objects {
        for (id, count) in &objects.by_key {
            match uses.iter_mut().find(|u| u.record_id == id) {
                Some(u) => u.objects += count,
                None => uses.push(KeyUse {
                    record_id: id,
                    default: false,
                    implicit_aws_managed: false,
                    objects: *count,
                }),
            }
        }
    }
    Ok(uses)
}

fn use_evidence(u: &KeyUse) -> evidence::KeyUse {
    evidence::KeyUse {
        key: u.record_id.to_string(),
        default: u.default,
        objects: u.objects,
    }
}

/// KMS-001's entry for one key: its state, when it will be deleted, or why it is unknown.
fn usable(
    u: &KeyUse,
    state: Option<&str>,
    deletion_date: Option<Option<String>>,
    reason: Option<&str>,
) -> KeyUsable {
    KeyUsable {
        key_use: use_evidence(u),
        state: state.map(str::to_string),
        deletion_date,
        reason: reason.map(str::to_string),
    }
}

fn keys_usable(ctx: &RuleContext) -> Verdict {
    let uses = match keys_in_use(ctx) {
        Ok(u) => u,
        Err(v) => return v,
    };
    if uses.is_empty() {
        return Verdict::not_applicable("the bucket uses no KMS key");
    }
    let mut bad = Vec::new();
    let mut unknown = Vec::new();
    let mut pending = false;
    let mut evidence = Vec::new();
    for u in &uses {
        let Some(record) = ctx.key(u.record_id) else {
            unknown.push(format!("{} (not resolved by the scan)", u.record_id));
            evidence.push(usable(u, None, None, None));
            continue;
        };
        match &record.info {
            Observed::Present(key) => {
                evidence.push(usable(
                    u,
                    Some(&format!("{:?}", key.state)),
                    Some(key.deletion_date.map(|d| d.to_string())),
                    None,
                ));
                match key.state {
                    KeyState::Enabled => {}
                    KeyState::PendingDeletion => {
                        pending = true;
                        let when = key
                            .deletion_date
                            .map(|d| format!(", deleted on {}", d.date()))
                            .unwrap_or_default();
                        bad.push(format!("{} is pending deletion{when}", key.arn));
                    }
                    state => bad.push(format!("{} is {state:?}", key.arn)),
                }
            }
            Observed::Absent if u.implicit_aws_managed => {
                evidence.push(usable(u, Some("not yet created"), None, None));
            }
            Observed::Absent => {
                evidence.push(usable(u, Some("missing"), None, None));
                bad.push(format!("{} does not exist", record.id));
            }
            Observed::Denied { reason } | Observed::Failed { reason } => {
                evidence.push(usable(u, None, None, Some(reason)));
                unknown.push(format!("{}: {reason}", record.id));
            }
        }
    }
    let evidence = KeysUsable { keys: evidence };
    if !bad.is_empty() {
        let v = Verdict::fail(format!(
            "data depends on unusable KMS keys: {}",
            bad.join("; ")
        ))
        .with_evidence(evidence);
        // Deletion is irreversible once the waiting period ends: every object under the
        // key becomes unreadable for good.
        return if pending {
            v.with_severity(Severity::Critical)
        } else {
            v
        };
    }
    if !unknown.is_empty() {
        return Verdict::error(format!(
            "KMS keys could not be described: {}",
            unknown.join("; ")
        ))
        .with_evidence(evidence);
    }
    let msg = match uses.len() {
        1 => "the KMS key in use is enabled".to_string(),
        n => format!("all {n} KMS keys in use are enabled"),
    };
    Verdict::pass(msg).with_evidence(evidence)
}

/// Keys whose rotation KMS-002 judges: enabled, customer managed, able to rotate.
fn rotatable(key: &KeyInfo) -> bool {
    key.state == KeyState::Enabled && !key.is_aws_managed() && key.can_rotate()
}

fn keys_rotate(ctx: &RuleContext) -> Verdict {
    let uses = match keys_in_use(ctx) {
        Ok(u) => u,
        Err(v) => return v,
    };
    let mut not_rotating = Vec::new();
    let mut unknown = Vec::new();
    let mut judged = Vec::new();
    for u in &uses {
        let Some(Observed::Present(key)) = ctx.key(u.record_id).map(|r| &r.info) else {
            continue;
        };
        if !rotatable(key) {
            continue;
        }
        judged.push(KeyRotation {
            key_use: use_evidence(u),
            rotation: key.rotation.clone(),
        });
        match &key.rotation {
            Observed::Present(true) => {}
            Observed::Present(false) | Observed::Absent => not_rotating.push(key.arn.clone()),
            Observed::Denied { reason } | Observed::Failed { reason } => {
                unknown.push(format!("{}: {reason}", key.arn))
            }
        }
    }
    if judged.is_empty() {
        return Verdict::not_applicable(
            "the bucket uses no enabled customer-managed symmetric KMS key",
        );
    }
    let judged_count = judged.len();
    let evidence = KeysRotate { keys: judged };
    if !not_rotating.is_empty() {
        return Verdict::fail(format!(
            "automatic rotation is off for {}",
            not_rotating.join(", ")
        ))
        .with_evidence(evidence);
    }
    if !unknown.is_empty() {
        return Verdict::error(format!(
            "rotation status could not be read: {}",
            unknown.join("; ")
        ))
        .with_evidence(evidence);
    }
    let msg = match judged_count {
        1 => "the customer-managed key in use rotates automatically".to_string(),
        n => format!("all {n} customer-managed keys in use rotate automatically"),
    };
    Verdict::pass(msg).with_evidence(evidence)
}

fn default_key_in_region(ctx: &RuleContext) -> Verdict {
    let rule = match default_rule(ctx) {
        Err(v) => return v,
        Ok(Some(rule)) if rule.algorithm.is_kms() => rule,
        Ok(_) => return Verdict::not_applicable("default encryption is not SSE-KMS"),
    };
    let Some(reference) = rule.kms_key_id.as_deref() else {
        return Verdict::not_applicable(
            "no key id is configured: S3 uses the aws/s3 key of the bucket's own region",
        );
    };
    let bucket_region = match &ctx.bucket.region {
        Observed::Present(r) => r.as_str(),
        other => {
            return Verdict::error(format!(
                "the bucket's region is unknown: {}",
                other.unknown_reason().unwrap_or("not reported")
            ));
        }
    };
    // An ARN names its region; anything else (alias, bare id) S3 resolves in the bucket's
    // own region, so only an ARN can point elsewhere.
    let resolved_arn = rule
        .kms_key
        .as_deref()
        .and_then(|id| ctx.key(id))
        .and_then(|r| r.info.present())
        .map(|k| k.arn.as_str());
    let key_region = arn_region(reference)
        .or_else(|| resolved_arn.and_then(arn_region))
        .unwrap_or(bucket_region);
    let evidence = KeyRegion {
        kms_key_id: reference.to_string(),
        key_region: key_region.to_string(),
        bucket_region: bucket_region.to_string(),
    };
    if key_region == bucket_region {
        Verdict::pass(format!(
            "default key is in the bucket's region {bucket_region}"
        ))
        .with_evidence(evidence)
    } else {
        Verdict::fail(format!(
            "default key is in {key_region} but the bucket is in {bucket_region}: S3 cannot use a key from another region, so uploads relying on the default fail"
        ))
        .with_evidence(evidence)
    }
}
