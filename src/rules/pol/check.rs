//! `s3audit check-policy`: a policy judged before it is deployed, with the facts the
//! flags give instead of a scan, and reported in the same finding shape a scan uses.

use s3audit_policy::{PolicyError, parse_policy};

use super::{DefaultSse, PolicyFacts, RULE_IDS, evaluate, rcp};
use crate::config::RuleConfig;
use crate::model::{BucketSnapshot, Finding, Observed};
use crate::rules::finding_on;
use crate::rules::kms::key_policy::key_policy_verdicts;

/// The bucket facts `check-policy` takes from the command line instead of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPolicyOptions {
    pub bucket: String,
    /// `--default-sse`: the default encryption the bucket has (or will have).
    pub default_sse: DefaultSse,
    /// The default KMS key, if the default is SSE-KMS with a configured key.
    pub default_kms_key: Option<String>,
    /// Whether the bucket blocks SSE-C (`BlockedEncryptionTypes`); unknown before
    /// deployment, so `false` is the safe assumption.
    pub sse_c_blocked: bool,
}

/// `s3audit check-policy`: evaluates a policy document before it is deployed and returns
/// the POL findings, in the same shape `scan` reports them. A document that is not JSON or
/// not a valid policy is an `Err` naming the problem and where (the CLI exits 2).
pub fn check_policy(
    text: &str,
    options: &CheckPolicyOptions,
    config: &RuleConfig,
) -> Result<Vec<Finding>, PolicyError> {
    let policy = parse_policy(text)?;
    let facts = policy_facts_for_document(&options.bucket, options, config);
    let bucket = BucketSnapshot {
        name: options.bucket.clone(),
        region: Observed::Failed {
            reason: "not scanned (check-policy)".to_string(),
        },
        encryption: Observed::Failed {
            reason: "not scanned (check-policy)".to_string(),
        },
        policy: Observed::Present(text.to_string()),
        versioning: Observed::Failed {
            reason: "not scanned (check-policy)".to_string(),
        },
        public_access_block: Observed::Failed {
            reason: "not scanned (check-policy)".to_string(),
        },
        objects: None,
        skipped: None,
        account: None,
    };
    // The document is judged for the partition its facts name (the commercial one; the
    // bucket's region is unknown before deployment), and its findings name that partition.
    let resource = format!("arn:{}:s3:::{}", facts.target.partition, bucket.name);
    Ok(RULE_IDS
        .iter()
        .map(|&rule| {
            let verdict = evaluate(rule, Some(&policy), &facts);
            finding_on(rule, resource.clone(), Some(bucket.name.clone()), verdict)
        })
        .collect())
}

/// `s3audit check-policy --kind key-policy`: judges a KMS key policy on KMS-004 (no
/// anonymous caller or arbitrary account may decrypt) and KMS-005 (no one outside the
/// key's account may delete, disable or re-policy it).
pub fn check_key_policy(text: &str, key_arn: &str) -> Result<Vec<Finding>, PolicyError> {
    let policy = parse_policy(text)?;
    Ok(key_policy_verdicts(&policy, key_arn)
        .into_iter()
        .map(|(rule, verdict)| finding_on(rule, key_arn.to_string(), None, verdict))
        .collect())
}

/// What `check-policy` knows about the bucket a document is for: only what the flags say.
pub fn policy_facts_for_document(
    bucket: &str,
    options: &CheckPolicyOptions,
    config: &RuleConfig,
) -> PolicyFacts {
    let mut facts = PolicyFacts::new(bucket);
    facts.default_sse = options.default_sse;
    facts.default_key = options.default_kms_key.iter().cloned().collect();
    facts.sse_c_blocked = Some(options.sse_c_blocked);
    facts.allowed_keys = config.allowed_kms_keys.clone();
    facts
}

/// `s3audit check-policy --kind rcp`: judges the resource control policies attached along
/// root → OU → account (`documents` as `(file name, text)`, root first) for TLS-only
/// access (POL-001) and the TLS floor (POL-002) across every bucket of the account, with
/// the same finding shape a bucket policy gets. The findings' resource names the chain.
pub fn check_rcps(
    documents: &[(String, String)],
    account: Option<&str>,
) -> Result<Vec<Finding>, rcp::InvalidRcp> {
    let outcomes = rcp::evaluate_rcps(documents, account)?;
    let names: Vec<&str> = documents.iter().map(|(n, _)| n.as_str()).collect();
    let resource = format!("RCPs ({})", names.join(" → "));
    Ok(outcomes
        .into_iter()
        .map(|(rule, verdict)| finding_on(rule, resource.clone(), None, verdict))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status as FindingStatus;

    fn options() -> CheckPolicyOptions {
        CheckPolicyOptions {
            bucket: "b".to_string(),
            default_sse: DefaultSse::None,
            default_kms_key: None,
            sse_c_blocked: false,
        }
    }

    #[test]
    fn check_policy_reports_every_pol_rule_with_a_counterexample() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        let findings = check_policy(text, &options(), &RuleConfig::default()).unwrap();
        let ids: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(ids, ["POL-001", "POL-002", "POL-003", "POL-004", "POL-005"]);
        let pol1 = &findings[0];
        assert_eq!(pol1.status, FindingStatus::Fail);
        assert!(pol1.message.contains("anonymous s3:PutObject arn:aws:s3:::b/s3audit-probe with aws:SecureTransport=false gets through"), "{}", pol1.message);
        assert!(pol1.remediation.contains("S3AuditDenyInsecureTransport"));
        assert_eq!(pol1.resource, "arn:aws:s3:::b");
        // Nothing pins uploads to a key: any key is accepted.
        assert_eq!(findings[3].status, FindingStatus::Fail);
    }

    #[test]
    fn check_policy_refuses_invalid_documents_with_the_problem() {
        let err = check_policy(
            r#"{"Statement":[{"Effect":"Permit"}]}"#,
            &options(),
            &RuleConfig::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"Statement[0].Effect must be "Allow" or "Deny", found "Permit""#
        );
        let err = check_policy("{", &options(), &RuleConfig::default()).unwrap_err();
        assert!(err.to_string().starts_with("not valid JSON"));
    }
}
