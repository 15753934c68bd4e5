use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Observed;

/// One KMS key referenced by the estate, as DescribeKey and friends reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key ARN when DescribeKey resolved the reference; otherwise the reference itself
    /// (ARNs as written, other forms as `<region>/<reference>`).
    pub id: String,
    /// The region the key lives in (or, unresolved, would be looked up in).
    pub region: String,
    /// Every reference (alias, id, ARN) seen in the estate that resolved to this key.
    pub references: Vec<String>,
    /// `Absent`: KMS answered NotFound — the key does not exist.
    pub info: Observed<KeyInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub arn: String,
    pub key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub state: KeyState,
    pub manager: KeyManager,
    /// KeySpec, e.g. `SYMMETRIC_DEFAULT`.
    pub spec: String,
    /// Origin, e.g. `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM`.
    pub origin: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deletion_date: Option<OffsetDateTime>,
    /// Automatic rotation. Not asked for keys that cannot rotate (asymmetric, imported).
    pub rotation: Observed<bool>,
    pub aliases: Observed<Vec<String>>,
    /// The key policy (GetKeyPolicy, `default`) as JSON text. `None` in snapshots taken
    /// before s3audit read key policies: KMS-004/005 are then not applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Observed<String>>,
}

impl KeyInfo {
    /// The AWS managed key for S3. moto reports it as customer managed, so the alias is
    /// checked as well as the manager.
    pub fn is_aws_managed(&self) -> bool {
        self.manager == KeyManager::Aws
            || self
                .aliases
                .present()
                .is_some_and(|a| a.iter().any(|a| a.starts_with("alias/aws/")))
    }

    /// Whether KMS can rotate this key automatically (symmetric, KMS-generated material).
    pub fn can_rotate(&self) -> bool {
        self.spec == "SYMMETRIC_DEFAULT" && self.origin == "AWS_KMS"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
    PendingReplicaDeletion,
    Unavailable,
    Creating,
    Updating,
    #[serde(other)]
    Unknown,
}

impl KeyState {
    pub fn parse(value: &str) -> Self {
        match value {
            "Enabled" => Self::Enabled,
            "Disabled" => Self::Disabled,
            "PendingDeletion" => Self::PendingDeletion,
            "PendingImport" => Self::PendingImport,
            "PendingReplicaDeletion" => Self::PendingReplicaDeletion,
            "Unavailable" => Self::Unavailable,
            "Creating" => Self::Creating,
            "Updating" => Self::Updating,
            _ => Self::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyManager {
    Aws,
    Customer,
}
