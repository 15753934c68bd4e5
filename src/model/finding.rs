use serde::{Deserialize, Serialize};

use super::{Evidence, RuleId};

/// The verdict of one rule on one resource. Also the value of `--status` (the table's
/// `n/a`, or the JSON's `not_applicable`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The requirement is not met.
    Fail,
    /// Could not be evaluated (access denied, throttled out, unreadable). Never a pass.
    Error,
    /// The requirement is met.
    Pass,
    /// The rule does not apply (e.g. no KMS key to judge).
    #[value(name = "n/a", alias = "not_applicable", alias = "na")]
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Pass => "pass",
            Status::NotApplicable => "not_applicable",
        }
    }
}

/// Ordered from least to most severe, so `>=` reads as "at least as severe as".
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One row of the report: the verdict of one rule on one resource. The shape is the
/// JSON/CSV contract (schema_version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Finding {
    pub rule: RuleId,
    pub status: Status,
    /// The catalogue's severity for the rule, raised for some failures (a key pending
    /// deletion is critical).
    pub severity: Severity,
    /// The ARN of what was judged: a bucket, or the policies `check-policy` judged.
    pub resource: String,
    /// The bucket judged, if any.
    pub bucket: Option<String>,
    /// The account the resource belongs to (the bucket's owner, or the account an ACC rule
    /// judged); null when the scan could not learn it (no STS). Added within
    /// schema_version 1.
    #[serde(default)]
    pub account: Option<String>,
    /// The verdict in words: on a fail, what is wrong; on an error, what could not be read.
    #[schemars(length(min = 1))]
    pub message: String,
    /// What the verdict rests on; its shape depends on the rule.
    #[schemars(with = "Evidence")]
    pub evidence: serde_json::Value,
    /// How to fix a fail: the catalogue's words, or a fix specific to this resource.
    pub remediation: String,
    /// The framework requirements the rule evidences, as labels from the catalogues in
    /// rules/frameworks/ (e.g. "PCI DSS v4.0.1 4.2.1"); `s3audit frameworks` lists the
    /// catalogues.
    pub frameworks: Vec<String>,
    /// The config file's waiver that accepts this failure until its expiry, when one does.
    /// Only a `fail` is ever waived (an `error` is unknown, not an accepted failure); the
    /// status stays `fail`, so every format still shows it, and `--fail-on` does not count
    /// it. Absent on every other finding. Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<AppliedWaiver>,
}

/// The waiver a failing finding is accepted under, as the config file's `[[waiver]]` says
/// it: who accepted the failure, why, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AppliedWaiver {
    /// Which `[[waiver]]` of the config file, counted from 1 in file order (the report's
    /// `waivers` section lists it under the same number).
    pub index: usize,
    /// The waiver's rule id or glob, as written.
    pub rule: String,
    /// The waiver's resource glob (bucket name or resource ARN), as written.
    pub resource: String,
    /// Why the failure is accepted.
    pub reason: String,
    /// Who accepted it and answers for it.
    pub owner: String,
    /// The last day the waiver applies (YYYY-MM-DD, inclusive), judged against the day the
    /// scan started.
    pub expires: String,
}

impl Finding {
    /// Whether this is a `not_applicable` that stands for data the scan's source does not
    /// carry rather than for nothing to judge: OBJ-003/004 on objects counted from an S3
    /// Inventory, which records no KMS key (evidence `kms_objects_unjudged`). Nothing that
    /// rests on such a finding may read as a pass.
    pub fn leaves_unjudged(&self) -> bool {
        self.status == Status::NotApplicable
            && self.evidence["kms_objects_unjudged"]
                .as_u64()
                .is_some_and(|n| n > 0)
    }
}

#[cfg(test)]
impl Finding {
    /// A finding of `rule` on `bucket`, for unit tests: high severity, the bucket's `aws`
    /// ARN, nothing else said. Tests override the fields they are about.
    pub(crate) fn on_bucket(rule: &str, bucket: &str, status: Status) -> Finding {
        Finding {
            rule: rule.parse().expect("a rule id of the catalogue"),
            status,
            severity: Severity::High,
            resource: format!("arn:aws:s3:::{bucket}"),
            bucket: Some(bucket.into()),
            account: None,
            message: String::new(),
            evidence: serde_json::Value::Null,
            remediation: String::new(),
            frameworks: Vec::new(),
            waiver: None,
        }
    }
}
