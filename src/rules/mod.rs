//! The rules engine: pure functions from an [`Estate`] to [`Finding`]s.
//!
//! Each family file holds its rules as plain functions returning a [`Verdict`]; the engine
//! attaches the catalog's metadata (title, severity, remediation, frameworks) so that a
//! rule's code only decides, and its words live in `rules/<ID>.toml`. No I/O, no clock:
//! the same snapshot always yields the same findings.

mod account;
mod encryption;
pub mod frameworks;
pub mod kms;
pub mod metadata;

pub use pol::{
    CheckPolicyOptions, check_key_policy, check_policy, check_rcps, policy_facts_for_document,
};
mod objects;
pub mod pol;
pub mod waivers;

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::RuleConfig;
use crate::model::{
    BucketSnapshot, Estate, Evidence, Finding, KeyRecord, RcpChain, RuleId, Severity, Status,
};

/// What a rule sees: the bucket under evaluation and the estate around it.
pub struct RuleContext<'a> {
    pub estate: &'a Estate,
    pub bucket: &'a BucketSnapshot,
    pub config: &'a RuleConfig,
    /// The bucket policy, parsed once for every POL rule (`None` inside: no policy text).
    policy:
        std::sync::OnceLock<Option<Result<s3audit_policy::Policy, s3audit_policy::PolicyError>>>,
    shared: &'a Shared,
}

/// What every bucket's rules may ask of the same key: KMS-004 and KMS-005 judge the key
/// policy of each key a bucket uses, and a key shared by a thousand buckets would otherwise
/// be parsed and judged twice per bucket. One per evaluation, filled on first use (by key
/// ARN) from whichever bucket asks first.
#[derive(Default)]
pub struct Shared {
    key_policies: std::sync::Mutex<HashMap<String, Arc<kms::key_policy::Judged>>>,
    /// Each account's RCP chain judged on POL-001/002, once for all its buckets.
    rcp_verdicts: std::sync::Mutex<HashMap<String, Arc<pol::rcp::Judged>>>,
}

impl<'a> RuleContext<'a> {
    pub fn new(
        estate: &'a Estate,
        bucket: &'a BucketSnapshot,
        config: &'a RuleConfig,
        shared: &'a Shared,
    ) -> Self {
        RuleContext {
            estate,
            bucket,
            config,
            policy: std::sync::OnceLock::new(),
            shared,
        }
    }

    /// KMS-004/005 on a key's policy `text`, judged once per key and evaluation.
    pub fn key_policy(&self, key_arn: &str, text: &str) -> Arc<kms::key_policy::Judged> {
        let cached = |shared: &Shared| {
            let map = shared
                .key_policies
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            map.get(key_arn).cloned()
        };
        if let Some(judged) = cached(self.shared) {
            return judged;
        }
        // Judged outside the lock: two buckets racing on one key may both judge it (the
        // same answer), but no bucket waits on another key's judgement.
        let judged = Arc::new(kms::key_policy::judge(text, key_arn));
        let mut map = self
            .shared
            .key_policies
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(key_arn.to_string()).or_insert(judged).clone()
    }

    /// An account's RCP chain judged on POL-001/002, once per account and evaluation.
    pub fn rcp_verdicts(&self, account: &str, chain: &RcpChain) -> Arc<pol::rcp::Judged> {
        let lock = || {
            self.shared
                .rcp_verdicts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        };
        if let Some(judged) = lock().get(account) {
            return judged.clone();
        }
        let judged = Arc::new(pol::rcp::judge_chain(chain, account));
        lock().entry(account.to_string()).or_insert(judged).clone()
    }

    pub fn key(&self, record_id: &str) -> Option<&KeyRecord> {
        self.estate.keys.get(record_id)
    }

    /// The bucket's policy text, parsed on first use and shared by every rule that asks.
    pub fn parsed_policy(
        &self,
    ) -> Option<&Result<s3audit_policy::Policy, s3audit_policy::PolicyError>> {
        self.policy
            .get_or_init(|| {
                self.bucket
                    .policy
                    .present()
                    .map(|text| s3audit_policy::parse_policy(text))
            })
            .as_ref()
    }
}

/// A rule's decision, before the catalog's metadata is attached.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub status: Status,
    pub message: String,
    /// Boxed: most verdicts are passed around as `Err` values before they become a
    /// finding, and the largest evidence shape is hundreds of bytes.
    pub evidence: Box<Evidence>,
    /// Overrides the catalog severity (e.g. a key pending deletion is critical).
    pub severity: Option<Severity>,
    /// Overrides the catalog remediation with one specific to this resource.
    pub remediation: Option<String>,
    /// For a fail that a policy document can fix: the statements that fix it (POL rules),
    /// which `check-policy --fix` combines across rules into one document.
    pub fix: Vec<s3audit_policy::Json>,
}

impl Verdict {
    fn new(status: Status, message: impl Into<String>) -> Self {
        Verdict {
            status,
            message: message.into(),
            evidence: Box::default(),
            severity: None,
            remediation: None,
            fix: Vec::new(),
        }
    }
    pub fn pass(message: impl Into<String>) -> Self {
        Self::new(Status::Pass, message)
    }
    pub fn fail(message: impl Into<String>) -> Self {
        Self::new(Status::Fail, message)
    }
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Status::Error, message)
    }
    pub fn not_applicable(message: impl Into<String>) -> Self {
        Self::new(Status::NotApplicable, message)
    }
    pub fn with_evidence(mut self, evidence: impl Into<Evidence>) -> Self {
        self.evidence = Box::new(evidence.into());
        self
    }
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
    pub fn with_remediation(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = Some(remediation.into());
        self
    }
    pub fn with_fix(mut self, statements: Vec<s3audit_policy::Json>) -> Self {
        self.fix = statements;
        self
    }
}

/// A bucket-scoped rule: its catalog id and the function that decides it.
pub struct Rule {
    pub id: RuleId,
    pub check: fn(&RuleContext) -> Verdict,
}

/// Every rule, in catalog order.
pub fn registry() -> impl Iterator<Item = &'static Rule> {
    encryption::RULES
        .iter()
        .chain(pol::RULES.iter())
        .chain(kms::RULES.iter())
        .chain(objects::RULES.iter())
}

/// The rules judged once per account, not per bucket (after every bucket's findings).
pub const ACCOUNT_RULES: &[RuleId] = &[RuleId::Acc001];

/// Runs every rule on every bucket, then the account rules on every account in error.
/// Buckets are evaluated in parallel; the output order is deterministic (bucket order, then
/// catalog order, then the accounts in scan order). Every finding names its account.
pub fn evaluate(estate: &Estate, config: &RuleConfig) -> Vec<Finding> {
    let shared = Shared::default();
    let mut findings: Vec<Finding> = estate
        .buckets
        .par_iter()
        .flat_map_iter(|bucket| {
            let ctx = RuleContext::new(estate, bucket, config, &shared);
            let account = estate.account_of(bucket);
            registry().map(move |rule| {
                let verdict = match &bucket.skipped {
                    Some(why) => skipped(why),
                    None => (rule.check)(&ctx),
                };
                Finding {
                    account: account.clone(),
                    ..finding(rule.id, bucket, &estate.scan.region, verdict)
                }
            })
        })
        .collect();
    findings.extend(account::findings(estate));
    findings
}

/// Every rule's verdict on a bucket that was deliberately not read (its region is not
/// enabled for its account): `not_applicable` with the reason, neither a pass (nothing was
/// seen) nor an error (nothing could be seen, by anyone, until the region is enabled).
fn skipped(why: &str) -> Verdict {
    Verdict::not_applicable(format!(
        "not read: {why}; nothing in the region can be read or used until the account enables it"
    ))
}

/// Attaches the catalog's metadata to a verdict on `bucket` (whose ARN is in its partition;
/// `scan_region` stands in for a region that could not be read).
pub fn finding(
    rule_id: RuleId,
    bucket: &BucketSnapshot,
    scan_region: &str,
    verdict: Verdict,
) -> Finding {
    finding_on(
        rule_id,
        bucket.arn(scan_region),
        Some(bucket.name.clone()),
        verdict,
    )
}

/// A finding on any resource: a bucket, or a set of policies judged on their own (the
/// RCPs of `check-policy --kind rcp`).
pub fn finding_on(
    rule_id: RuleId,
    resource: String,
    bucket: Option<String>,
    verdict: Verdict,
) -> Finding {
    let meta = metadata::get(rule_id);
    let remediation = verdict
        .remediation
        .unwrap_or_else(|| catalogue_remediation(&meta.remediation, &resource));
    Finding {
        rule: rule_id,
        status: verdict.status,
        severity: verdict.severity.unwrap_or(meta.severity),
        resource,
        bucket,
        account: None,
        message: verdict.message,
        evidence: verdict.evidence.to_json(),
        remediation,
        // Labels a reader recognises ("PCI DSS v4.0.1 4.2.1"), not the catalogue references.
        frameworks: meta
            .frameworks
            .iter()
            .map(|r| frameworks::label(r))
            .collect(),
        waiver: None,
    }
}

/// The catalogue's generic fix, for a finding on `resource`. Its example statements are
/// written for the commercial partition (`arn:aws:s3:::BUCKET`); a resource in another
/// partition gets them in its own (`arn:aws-cn:s3:::BUCKET`), since a statement naming
/// another partition's ARN matches nothing there.
fn catalogue_remediation(text: &str, resource: &str) -> String {
    let text = text.trim();
    match s3audit_policy::partition::of_arn(resource) {
        "aws" => text.to_string(),
        partition => text.replace("arn:aws:", &format!("arn:{partition}:")),
    }
}

/// The region field of an ARN (`arn:partition:service:region:account:resource`).
pub(crate) fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    parts.nth(2).filter(|r| !r.is_empty())
}

/// "1 key", "3 keys".
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
