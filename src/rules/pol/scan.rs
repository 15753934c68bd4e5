//! The POL rules in a scan: the bucket's default encryption, its SSE-C block and the
//! allowed keys become [`PolicyFacts`], and the policy (parsed once per bucket, by
//! [`RuleContext::parsed_policy`]) is judged on them. A bucket without a policy is
//! evaluated as an empty one (so POL-001..003 fail: nothing is denied); a policy that
//! could not be read is an `error`, and so is one that is not a valid policy (naming the
//! problem).

use std::collections::HashSet;

use super::{DefaultSse, POL_001, POL_002, POL_003, POL_004, POL_005, PolicyFacts};
use super::{evaluate, invalid_policy};
use crate::config::RuleConfig;
use crate::model::evidence::{PolicyNotRead, PolicyPresence};
use crate::model::{KeyInfo, Observed, RuleId, SseAlgorithm};
use crate::rules::{Rule, RuleContext, Verdict};

pub(in crate::rules) const RULES: &[Rule] = &[
    Rule {
        id: POL_001,
        check: tls_required,
    },
    Rule {
        id: POL_002,
        check: modern_tls,
    },
    Rule {
        id: POL_003,
        check: kms_uploads,
    },
    Rule {
        id: POL_004,
        check: pinned_keys,
    },
    Rule {
        id: POL_005,
        check: no_lockout,
    },
];

fn tls_required(ctx: &RuleContext) -> Verdict {
    run(POL_001, ctx)
}

fn modern_tls(ctx: &RuleContext) -> Verdict {
    run(POL_002, ctx)
}

fn kms_uploads(ctx: &RuleContext) -> Verdict {
    run(POL_003, ctx)
}

fn pinned_keys(ctx: &RuleContext) -> Verdict {
    run(POL_004, ctx)
}

fn no_lockout(ctx: &RuleContext) -> Verdict {
    run(POL_005, ctx)
}

fn run(rule: RuleId, ctx: &RuleContext) -> Verdict {
    super::rcp::with_rcps(rule, bucket_policy_verdict(rule, ctx), ctx)
}

/// The rule on the bucket policy alone.
fn bucket_policy_verdict(rule: RuleId, ctx: &RuleContext) -> Verdict {
    if let Some(reason) = ctx.bucket.policy.unknown_reason() {
        return Verdict::error(format!("the bucket policy could not be read: {reason}"))
            .with_evidence(PolicyNotRead {
                policy: PolicyPresence::Unreadable,
                reason: reason.to_string(),
            });
    }
    let facts = facts(ctx);
    // `None`: the bucket has no policy, judged as an empty one.
    match ctx.parsed_policy() {
        Some(Ok(policy)) => evaluate(rule, Some(policy), &facts),
        Some(Err(e)) => invalid_policy(e),
        None => evaluate(rule, None, &facts),
    }
}

/// Every name a key is known by: ARN, key id, aliases (as names and as alias ARNs),
/// appended to `out` unless already there. `seen` holds the names in `out`: an allowed list
/// can name hundreds of keys, too many to scan again for every name of every known key
/// (for every bucket and POL rule of a scan).
fn key_references(info: &KeyInfo, out: &mut Vec<String>, seen: &mut HashSet<String>) {
    let mut push = |s: String| {
        if seen.insert(s.clone()) {
            out.push(s);
        }
    };
    push(info.arn.clone());
    push(info.key_id.clone());
    for alias in info.aliases.present().into_iter().flatten() {
        push(alias.clone());
        if let Some((prefix, _)) = info.arn.split_once(":key/") {
            push(format!("{prefix}:{alias}"));
        }
    }
}

/// What the POL rules need to know about the bucket, from the snapshot.
fn facts(ctx: &RuleContext) -> PolicyFacts {
    let bucket = ctx.bucket;
    let mut facts = PolicyFacts::new(&bucket.name);
    facts.target.partition = bucket.partition(&ctx.estate.scan.region).to_string();
    // ListBuckets only lists the caller's own buckets, so the scanning account owns them.
    facts.target.account = ctx.estate.scan.account.clone();
    let rule = match &bucket.encryption {
        Observed::Present(enc) => enc.effective().map(Ok),
        Observed::Absent => None,
        Observed::Denied { .. } | Observed::Failed { .. } => Some(Err(())),
    };
    match rule {
        None => {
            facts.default_sse = DefaultSse::None;
            facts.sse_c_blocked = Some(false);
        }
        Some(Err(())) => {
            facts.default_sse = DefaultSse::Unknown;
            facts.sse_c_blocked = None;
        }
        Some(Ok(rule)) => {
            facts.default_sse = match &rule.algorithm {
                SseAlgorithm::Aes256 => DefaultSse::SseS3,
                SseAlgorithm::AwsKms => DefaultSse::SseKms,
                SseAlgorithm::AwsKmsDsse => DefaultSse::DsseKms,
                SseAlgorithm::Other(_) => DefaultSse::Unknown,
            };
            facts.sse_c_blocked = Some(
                rule.blocked_encryption_types
                    .iter()
                    .flatten()
                    .any(|t| t.eq_ignore_ascii_case("SSE-C")),
            );
            // Only a key the configuration names is "the default key": `aws:kms` without
            // one means the AWS managed key, which nobody pins uploads to.
            if let (true, Some(reference)) = (rule.algorithm.is_kms(), &rule.kms_key_id) {
                facts.default_key.push(reference.clone());
                if let Some(record) = rule.kms_key.as_deref().and_then(|id| ctx.key(id))
                    && let Observed::Present(info) = &record.info
                {
                    let mut seen = HashSet::from([reference.clone()]);
                    key_references(info, &mut facts.default_key, &mut seen);
                }
            }
        }
    }
    facts.allowed_keys = allowed_keys(
        ctx.config,
        ctx.estate.keys.values().filter_map(|k| k.info.present()),
    );
    facts
}

/// The configured allowed keys, with every other name of each key the estate knows.
fn allowed_keys<'a>(config: &RuleConfig, known: impl Iterator<Item = &'a KeyInfo>) -> Vec<String> {
    let mut out = config.allowed_kms_keys.clone();
    if out.is_empty() {
        return out;
    }
    let mut seen: HashSet<String> = out.iter().cloned().collect();
    for info in known {
        if config.key_allowed(info) {
            key_references(info, &mut out, &mut seen);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        BucketSnapshot, DefaultEncryption, EncryptionRule, Estate, SNAPSHOT_VERSION, ScanInfo,
        Status as FindingStatus,
    };

    fn estate_with(policy: Observed<String>, encryption: Observed<DefaultEncryption>) -> Estate {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        Estate {
            snapshot_version: SNAPSHOT_VERSION,
            scan: ScanInfo {
                accounts: Vec::new(),
                tool_version: "test".into(),
                started_at: now,
                finished_at: now,
                account: Some("111122223333".into()),
                principal: None,
                endpoint: None,
                region: "us-east-1".into(),
                objects: None,
                gaps: Vec::new(),
                scope: None,
                command_line: None,
                tool_commit: None,
            },
            buckets: vec![BucketSnapshot {
                account: None,
                name: "b".into(),
                region: Observed::Present("us-east-1".into()),
                encryption,
                policy,
                versioning: Observed::Absent,
                public_access_block: Observed::Absent,
                objects: None,
                skipped: None,
            }],
            keys: Default::default(),
        }
    }

    fn statuses(estate: &Estate) -> Vec<(String, FindingStatus, String)> {
        let config = RuleConfig::default();
        let shared = crate::rules::Shared::default();
        let ctx = RuleContext::new(estate, &estate.buckets[0], &config, &shared);
        RULES
            .iter()
            .map(|r| {
                let v = (r.check)(&ctx);
                (r.id.to_string(), v.status, v.message)
            })
            .collect()
    }

    #[test]
    fn scan_verdicts_for_missing_unreadable_and_invalid_policies() {
        let aes = Observed::Present(DefaultEncryption {
            rules: vec![EncryptionRule {
                algorithm: SseAlgorithm::Aes256,
                kms_key_id: None,
                kms_key: None,
                bucket_key_enabled: None,
                blocked_encryption_types: None,
            }],
        });
        let none = statuses(&estate_with(Observed::Absent, aes.clone()));
        let got: Vec<FindingStatus> = none.iter().map(|(_, s, _)| *s).collect();
        use FindingStatus::*;
        assert_eq!(got, [Fail, Fail, Fail, Fail, Pass]);
        assert!(
            none[0].2.contains("the bucket has no policy"),
            "{}",
            none[0].2
        );

        let denied = statuses(&estate_with(
            Observed::Denied {
                reason: "AccessDenied (HTTP 403)".into(),
            },
            aes.clone(),
        ));
        assert!(
            denied
                .iter()
                .all(|(_, s, m)| *s == Error && m.contains("could not be read"))
        );

        let invalid = statuses(&estate_with(
            Observed::Present("{\"Statement\": 5}".into()),
            aes,
        ));
        assert!(invalid.iter().all(|(_, s, m)| *s == Error
            && m.contains("Statement must be an object or a list of objects, found a number")));

        // An unreadable default encryption: POL-003's verdict hinges on it for a policy that
        // only denies explicit non-KMS headers, so it is an error, not a fail.
        let explicit_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"false"},"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"Null":{"s3:x-amz-server-side-encryption-customer-algorithm":"false"}}}]}"#;
        let unknown = statuses(&estate_with(
            Observed::Present(explicit_only.into()),
            Observed::Failed {
                reason: "throttled".into(),
            },
        ));
        assert_eq!(unknown[2].1, Error, "{}", unknown[2].2);
        // POL-004 is a fact about the policy alone: it pins uploads to no key, whatever
        // the default is.
        assert_eq!(unknown[3].1, Fail, "{}", unknown[3].2);
    }

    #[test]
    fn allowed_keys_gain_every_known_name_once_in_order() {
        use crate::model::{KeyManager, KeyState};
        let key = |i: usize| KeyInfo {
            arn: format!("arn:aws:kms:us-east-1:111122223333:key/k{i}"),
            key_id: format!("k{i}"),
            account: None,
            state: KeyState::Enabled,
            manager: KeyManager::Customer,
            spec: "SYMMETRIC_DEFAULT".into(),
            origin: "AWS_KMS".into(),
            deletion_date: None,
            rotation: Observed::Present(true),
            aliases: Observed::Present(vec![format!("alias/a{i}"), "alias/shared".into()]),
            policy: None,
        };
        let known: Vec<KeyInfo> = (0..400).map(key).collect();
        // Every other key is allowed, some by ARN and some by key id; k0 is listed twice.
        let mut allowed: Vec<String> = (0..400)
            .step_by(2)
            .map(|i| match i % 4 {
                0 => format!("arn:aws:kms:us-east-1:111122223333:key/k{i}"),
                _ => format!("k{i}"),
            })
            .collect();
        allowed.push("k0".into());
        let config = RuleConfig {
            allowed_kms_keys: allowed.clone(),
            ..RuleConfig::default()
        };
        let got = allowed_keys(&config, known.iter());
        // The reference: the list as configured, then each allowed key's names in turn,
        // each name once.
        let mut want = allowed.clone();
        for info in known.iter().filter(|k| config.key_allowed(k)) {
            let mut names = vec![info.arn.clone(), info.key_id.clone()];
            for a in info.aliases.present().into_iter().flatten() {
                names.push(a.clone());
                names.push(format!("arn:aws:kms:us-east-1:111122223333:{a}"));
            }
            for n in names {
                if !want.contains(&n) {
                    want.push(n);
                }
            }
        }
        assert_eq!(got, want);
        assert!(got.contains(&"alias/a398".to_string()) && !got.contains(&"k1".to_string()));
    }

    #[test]
    fn partitions_follow_the_region() {
        let mut b = crate::model::BucketSnapshot::not_read("b", "test");
        b.region = Observed::Present("cn-north-1".to_string());
        assert_eq!(b.partition("us-east-1"), "aws-cn");
        assert_eq!(b.arn("us-east-1"), "arn:aws-cn:s3:::b");
        b.region = Observed::Present("us-gov-west-1".to_string());
        assert_eq!(b.arn("us-east-1"), "arn:aws-us-gov:s3:::b");
        b.region = Observed::Present("eu-west-1".to_string());
        assert_eq!(b.arn("us-gov-west-1"), "arn:aws:s3:::b");
        // A region that could not be read: the scan's partition.
        b.region = Observed::Denied {
            reason: "AccessDenied".to_string(),
        };
        assert_eq!(b.arn("cn-northwest-1"), "arn:aws-cn:s3:::b");
        assert_eq!(b.arn("us-east-1"), "arn:aws:s3:::b");
    }
}
