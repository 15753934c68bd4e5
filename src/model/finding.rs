use serde::{Deserialize, Serialize};

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

/// One row of the report: the shape is the JSON/CSV contract (DESIGN.md, schema_version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub status: Status,
    pub severity: Severity,
    pub resource: String,
    pub bucket: Option<String>,
    pub message: String,
    pub evidence: serde_json::Value,
    pub remediation: String,
    pub frameworks: Vec<String>,
}
