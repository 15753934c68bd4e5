//! POL-*: the bucket policy, decided by evaluating it with s3audit's policy engine
//! ([`s3audit_policy`]), never by matching its text. One file per rule, each a question
//! the engine answers and the verdict it makes:
//!
//! * POL-001 ([`tls_only`]): every request without TLS is denied: all principals, all S3
//!   actions, the bucket and its objects. On plain HTTP `aws:SecureTransport` is `false`
//!   and `s3:TlsVersion` is absent, so a TLS-version floor alone does not refuse HTTP.
//! * POL-002 ([`tls_floor`]): every request over TLS older than 1.2 is denied.
//! * POL-003 ([`kms_uploads`]): no `s3:PutObject` can store an object that is not
//!   KMS-encrypted (explicit AES256, no header under a non-KMS default, SSE-C unless the
//!   bucket blocks it).
//! * POL-004 ([`pinned_keys`]): KMS uploads are pinned to the allowed keys (configured,
//!   else the bucket's default key, else the keys the policy itself names), including an
//!   upload naming no key id, which S3 stores under the AWS managed `aws/s3`.
//! * POL-005 ([`lockout`]): some upload and some read over modern TLS remain possible.
//!
//! [`scan`] takes the facts from a snapshot, [`check`] from `check-policy`'s flags;
//! [`rcp`] judges an organization's resource control policies on POL-001/002, and [`fix`]
//! writes one document that resolves every failing rule. Every rule returns the engine's
//! common [`Verdict`]; a fail carries the statements that fix it in `Verdict::fix`.

mod check;
mod explain;
pub mod fix;
mod kms_uploads;
mod lockout;
mod pinned_keys;
pub mod rcp;
mod scan;
mod tls_floor;
mod tls_only;

pub use check::{
    CheckPolicyOptions, check_key_policy, check_policy, check_rcps, policy_facts_for_document,
};
pub use pinned_keys::key_arn_placeholder;
pub(super) use scan::RULES;

use s3audit_policy::{Policy, PolicyError, Target, parse_policy, remediation};

use super::Verdict;
use crate::model::RuleId;
use crate::model::evidence::InvalidPolicy;

pub const POL_001: RuleId = RuleId::Pol001;
pub const POL_002: RuleId = RuleId::Pol002;
pub const POL_003: RuleId = RuleId::Pol003;
pub const POL_004: RuleId = RuleId::Pol004;
pub const POL_005: RuleId = RuleId::Pol005;
pub const RULE_IDS: [RuleId; 5] = [POL_001, POL_002, POL_003, POL_004, POL_005];

/// The bucket's default encryption, as far as it matters to uploads without a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultSse {
    None,
    SseS3,
    SseKms,
    DsseKms,
    /// The configuration could not be read.
    Unknown,
}

impl DefaultSse {
    pub fn is_kms(self) -> bool {
        matches!(self, DefaultSse::SseKms | DefaultSse::DsseKms)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DefaultSse::None => "none",
            DefaultSse::SseS3 => "SSE-S3",
            DefaultSse::SseKms => "SSE-KMS",
            DefaultSse::DsseKms => "DSSE-KMS",
            DefaultSse::Unknown => "unknown",
        }
    }
}

/// What the POL rules need to know about the bucket besides its policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFacts {
    pub target: Target,
    pub default_sse: DefaultSse,
    /// Every reference (ARN, key id, alias) of the default KMS key, if one is configured.
    pub default_key: Vec<String>,
    /// Whether `BlockedEncryptionTypes` blocks SSE-C; `None` when unknown.
    pub sse_c_blocked: Option<bool>,
    /// The configured allowed keys (every known reference of each); empty: none configured.
    pub allowed_keys: Vec<String>,
}

impl PolicyFacts {
    pub fn new(bucket: &str) -> PolicyFacts {
        PolicyFacts {
            target: Target::new(bucket),
            default_sse: DefaultSse::None,
            default_key: Vec::new(),
            sse_c_blocked: Some(false),
            allowed_keys: Vec::new(),
        }
    }
}

/// Evaluates every POL rule on a policy text (`None`: the bucket has no policy), parsed
/// once. A text that is not a valid policy makes every rule an `error` naming the problem.
pub fn evaluate_all(text: Option<&str>, facts: &PolicyFacts) -> Vec<(RuleId, Verdict)> {
    let parsed = text.map(parse_policy).transpose();
    RULE_IDS
        .iter()
        .map(|&rule| {
            let verdict = match &parsed {
                Ok(policy) => evaluate(rule, policy.as_ref(), facts),
                Err(e) => invalid_policy(e),
            };
            (rule, verdict)
        })
        .collect()
}

/// The `error` verdict for a policy that does not parse.
pub fn invalid_policy(e: &PolicyError) -> Verdict {
    Verdict::error(format!("the bucket policy is not a valid policy: {e}")).with_evidence(
        InvalidPolicy {
            policy_error: e.to_string(),
        },
    )
}

/// Evaluates one POL rule on a parsed policy (`None`: the bucket has none).
pub fn evaluate(rule: RuleId, policy: Option<&Policy>, facts: &PolicyFacts) -> Verdict {
    match rule {
        POL_001 => tls_only::check(policy, facts),
        POL_002 => tls_floor::check(policy, facts),
        POL_003 => kms_uploads::check(policy, facts),
        POL_004 => pinned_keys::check(policy, facts),
        POL_005 => lockout::check(policy, facts),
        other => panic!("{other} is not a POL rule"),
    }
}

/// The policy a failing verdict's fix gives: its statements merged into `policy` (a fresh
/// document when there is none), as pretty JSON.
pub fn merged_policy(policy: Option<&Policy>, verdict: &Verdict) -> String {
    remediation::merge(policy.map(|p| &p.json), &verdict.fix).to_pretty()
}

/// What a TLS verdict covers: one bucket, or every bucket of an account (RCPs).
fn scope(target: &Target) -> &'static str {
    if target.any_bucket {
        "every bucket and object of the account"
    } else {
        "the bucket and its objects"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn run(rule: RuleId, policy: Option<&str>, facts: &PolicyFacts) -> Verdict {
        let p = policy.map(|t| parse_policy(t).unwrap());
        evaluate(rule, p.as_ref(), facts)
    }

    /// The policy with the verdict's fix merged in.
    fn merged(policy: Option<&str>, verdict: &Verdict) -> String {
        let p = policy.map(|t| parse_policy(t).unwrap());
        merged_policy(p.as_ref(), verdict)
    }

    #[test]
    fn no_policy_fails_with_a_counterexample_and_a_fresh_policy() {
        let facts = PolicyFacts::new("b");
        let o = run(POL_001, None, &facts);
        assert_eq!(o.status, Status::Fail);
        assert!(o.message.contains("anonymous s3:GetObject arn:aws:s3:::b/s3audit-probe with aws:SecureTransport=false gets through"), "{}", o.message);
        assert!(
            o.message.contains("the bucket has no policy"),
            "{}",
            o.message
        );
        let rem = o.remediation.unwrap();
        assert!(
            rem.contains("S3AuditDenyInsecureTransport") && rem.contains("(the bucket has none)"),
            "{rem}"
        );
    }

    #[test]
    fn remediations_make_every_rule_pass() {
        for default_sse in [DefaultSse::None, DefaultSse::SseS3, DefaultSse::SseKms] {
            for blocked in [Some(false), Some(true)] {
                let mut facts = PolicyFacts::new("b");
                facts.default_sse = default_sse;
                facts.sse_c_blocked = blocked;
                facts.allowed_keys = vec!["arn:aws:kms:us-east-1:111122223333:key/abc".into()];
                let mut policy: Option<String> = Some(
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#.into(),
                );
                for rule in [POL_001, POL_002, POL_003, POL_004] {
                    let o = run(rule, policy.as_deref(), &facts);
                    assert_eq!(o.status, Status::Fail, "{rule}: {}", o.message);
                    assert!(o.remediation.is_some() && !o.fix.is_empty());
                    let merged = merged(policy.as_deref(), &o);
                    let merged = merged.as_str();
                    let again = run(rule, Some(merged), &facts);
                    assert_eq!(
                        again.status,
                        Status::Pass,
                        "{rule} {default_sse:?} {blocked:?}: {}\n{merged}",
                        again.message
                    );
                    policy = Some(merged.to_string());
                }
                // Every fix applied in turn: everything holds, and uploads with the
                // allowed key and reads over TLS still get through.
                for rule in RULE_IDS {
                    let o = run(rule, policy.as_deref(), &facts);
                    assert_eq!(o.status, Status::Pass, "{rule}: {}", o.message);
                }
            }
        }
    }

    #[test]
    fn contradicting_upload_statements_are_a_lockout() {
        let facts = PolicyFacts::new("b");
        let aes_only = r#"{"Sid":"AesOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}}"#;
        let header_required = r#"{"Sid":"HeaderRequired","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}"#;
        let kms_only = r#"{"Sid":"KmsOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}"#;
        let doc = |stmts: &[&str]| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
                stmts.join(",")
            )
        };
        // The classic AES256 policy alone leaves AES256 uploads possible.
        let o = run(POL_005, Some(&doc(&[aes_only, header_required])), &facts);
        assert_eq!(o.status, Status::Pass, "{}", o.message);
        // Adding "aws:kms only" beside it refuses every upload: POL-003 passes, POL-005
        // names the lockout.
        let locked = doc(&[aes_only, header_required, kms_only]);
        assert_eq!(run(POL_003, Some(&locked), &facts).status, Status::Pass);
        let o = run(POL_005, Some(&locked), &facts);
        assert_eq!(o.status, Status::Fail, "{}", o.message);
        assert!(o.message.contains("every upload"), "{}", o.message);
        assert!(
            o.message.contains("\"AesOnly\"") && o.message.contains("\"KmsOnly\""),
            "{}",
            o.message
        );
        // A policy that refuses every read.
        let no_reads = r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
        let o = run(POL_005, Some(&doc(&[no_reads])), &facts);
        assert_eq!(o.status, Status::Fail, "{}", o.message);
        assert!(o.message.contains("every read"), "{}", o.message);
        // TLS-only is no lockout.
        let tls_only = r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#;
        assert_eq!(
            run(POL_005, Some(&doc(&[tls_only])), &facts).status,
            Status::Pass
        );
    }

    #[test]
    fn with_a_kms_default_the_remediation_keeps_uploads_without_a_header() {
        use s3audit_policy::analyze::{Request, Requester, denied};
        use s3audit_policy::condition::Tv;
        let mut facts = PolicyFacts::new("b");
        facts.default_sse = DefaultSse::SseKms;
        facts.default_key = vec!["arn:aws:kms:us-east-1:111122223333:key/k1".into()];
        let o = run(POL_003, None, &facts);
        let merged = parse_policy(&merged(None, &o)).unwrap();
        let upload = |sse: Option<&str>, ssec: Option<&str>| Request {
            principal: Requester::Anonymous,
            action: "s3:PutObject".into(),
            resource: "arn:aws:s3:::b/k".into(),
            context: vec![
                (
                    "s3:x-amz-server-side-encryption".into(),
                    sse.map(str::to_string),
                ),
                (
                    "s3:x-amz-server-side-encryption-customer-algorithm".into(),
                    ssec.map(str::to_string),
                ),
            ],
            quiet: Vec::new(),
        };
        assert_eq!(denied(Some(&merged), &upload(None, None)), Tv::False);
        assert_eq!(
            denied(Some(&merged), &upload(Some("aws:kms"), None)),
            Tv::False
        );
        assert_eq!(
            denied(Some(&merged), &upload(Some("AES256"), None)),
            Tv::True
        );
        assert_eq!(
            denied(Some(&merged), &upload(None, Some("AES256"))),
            Tv::True
        );
    }

    #[test]
    fn pol_004_without_configured_keys_asks_whether_the_policy_pins_uploads() {
        const K: &str =
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let mut unknown_default = PolicyFacts::new("b");
        unknown_default.default_sse = DefaultSse::Unknown;
        for facts in [PolicyFacts::new("b"), unknown_default] {
            // No policy: any key, a foreign one or aws/s3, is accepted.
            let o = run(POL_004, None, &facts);
            assert_eq!(o.status, Status::Fail, "{}", o.message);
            assert!(o.message.contains("may use any KMS key"), "{}", o.message);
            // Pinned to one key by ARN: pass, naming it.
            let pinned = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{{"StringEquals":{{"s3:x-amz-server-side-encryption":["aws:kms","aws:kms:dsse"]}},"StringNotEquals":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{K}"}}}}}}]}}"#
            );
            let o = run(POL_004, Some(&pinned), &facts);
            assert_eq!(o.status, Status::Pass, "{}", o.message);
            assert!(o.message.contains(K), "{}", o.message);
            // Only "some KMS key" required: any key still passes the policy.
            let any_kms = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]}"#;
            let o = run(POL_004, Some(any_kms), &facts);
            assert_eq!(o.status, Status::Fail, "{}", o.message);
            // No KMS upload can succeed at all: nothing to pin.
            let no_kms = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"s3:x-amz-server-side-encryption":"aws:kms*"}}}]}"#;
            assert_eq!(
                run(POL_004, Some(no_kms), &facts).status,
                Status::NotApplicable
            );
        }
    }

    #[test]
    fn invalid_policies_are_errors_for_every_rule() {
        let outcomes = evaluate_all(Some("{not json"), &PolicyFacts::new("b"));
        assert_eq!(outcomes.len(), RULE_IDS.len());
        assert!(
            outcomes
                .iter()
                .all(|(_, o)| o.status == Status::Error && o.message.contains("not valid JSON"))
        );
    }
}
