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
    let facts = policy_facts_for_document(&options.bucket, Some(&policy), options, config);
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
    // The document is judged for the partition its inputs name (the bucket's region is
    // unknown before deployment: see `input_partition`), and its findings name it.
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

/// What `check-policy` knows about the bucket a document is for: what the flags say, and
/// the partition they or the document (`policy`, when it parsed) name.
pub fn policy_facts_for_document(
    bucket: &str,
    policy: Option<&s3audit_policy::Policy>,
    options: &CheckPolicyOptions,
    config: &RuleConfig,
) -> PolicyFacts {
    let mut facts = PolicyFacts::new(bucket);
    facts.target.partition = input_partition(policy, options).to_string();
    facts.default_sse = options.default_sse;
    facts.default_key = options.default_kms_key.iter().cloned().collect();
    facts.sse_c_blocked = Some(options.sse_c_blocked);
    facts.allowed_keys = config.allowed_kms_keys.clone();
    facts
}

/// The partition a bucket policy is judged in before deployment, when no region says it:
/// the one `--default-kms-key` names when it is an ARN, else the one every S3 ARN of the
/// document names (`arn:aws-cn:s3:::b/*` is a China bucket's policy), else the commercial
/// partition. A China or GovCloud document judged as a commercial one would match none of
/// its own ARNs, and every Deny of it would look absent.
fn input_partition<'a>(
    policy: Option<&'a s3audit_policy::Policy>,
    options: &'a CheckPolicyOptions,
) -> &'a str {
    use s3audit_policy::partition::of_arn;
    if let Some(key) = options
        .default_kms_key
        .as_deref()
        .filter(|k| k.starts_with("arn:"))
    {
        return of_arn(key);
    }
    let mut named = policy
        .into_iter()
        .flat_map(|p| &p.statements)
        .flat_map(|s| &s.resources.patterns)
        .map(|r| r.raw.as_str())
        .filter(|r| r.starts_with("arn:") && r.split(':').nth(2) == Some("s3"))
        .map(of_arn);
    match named.next() {
        Some(first) if named.all(|p| p == first) => first,
        _ => "aws",
    }
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

    /// A China bucket's TLS-only policy is judged in aws-cn: it passes POL-001 and its
    /// findings name arn:aws-cn:. Judged in the commercial partition (as before, and as a
    /// document naming no partition still is), its Deny covers no request and it fails.
    #[test]
    fn check_policy_judges_a_document_in_the_partition_its_arns_name() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws-cn:s3:::b","arn:aws-cn:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        let config = RuleConfig::default();
        let findings = check_policy(text, &options(), &config).unwrap();
        assert_eq!(
            findings[0].status,
            FindingStatus::Pass,
            "{}",
            findings[0].message
        );
        assert!(findings.iter().all(|f| f.resource == "arn:aws-cn:s3:::b"));
        let policy = parse_policy(text).unwrap();
        let commercial = policy_facts_for_document("b", None, &options(), &config);
        assert_eq!(commercial.target.partition, "aws");
        let verdict = evaluate(RULE_IDS[0], Some(&policy), &commercial);
        assert_eq!(verdict.status, FindingStatus::Fail, "{}", verdict.message);
        // --default-kms-key's ARN decides first; ARNs of two partitions decide nothing.
        let gov_key = CheckPolicyOptions {
            default_kms_key: Some("arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/k".into()),
            ..options()
        };
        let facts = policy_facts_for_document("b", Some(&policy), &gov_key, &config);
        assert_eq!(facts.target.partition, "aws-us-gov");
        let mixed = parse_policy(&text.replace("arn:aws-cn:s3:::b\"", "arn:aws:s3:::b\"")).unwrap();
        let facts = policy_facts_for_document("b", Some(&mixed), &options(), &config);
        assert_eq!(facts.target.partition, "aws");
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
