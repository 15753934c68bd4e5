//! The accounts of a scan. A single-account scan has one (its credentials' account); a
//! scan of an AWS Organization (`scan --organization`) or of a list of accounts
//! (`scan --accounts FILE`) has one per account it was asked to cover, each scanned
//! through a role assumed in it, skipped (not active in the organization) or in error (the
//! role could not be assumed, or its bucket listing was refused).

use serde::{Deserialize, Serialize};

/// One account of the scan, as the report's `accounts` array lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AccountInfo {
    /// The 12-digit account id; null for a single-account scan whose caller identity
    /// could not be read (an S3-compatible store without STS).
    pub id: Option<String>,
    /// The account's name, from Organizations or the accounts file, when known.
    pub name: Option<String>,
    /// Where the account sits in the organization, root first (`Root/Prod/Payments`);
    /// null outside `--organization`.
    pub ou_path: Option<String>,
    pub status: AccountStatus,
    /// Why the account was not scanned (status `error` or `skipped`); null otherwise.
    pub error: Option<String>,
}

/// What became of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Its buckets were listed and read (each bucket's own facts may still have gaps).
    Scanned,
    /// Not active in the organization (suspended, closed, pending closure): listed, not
    /// scanned, and not a gap.
    Skipped,
    /// Could not be scanned: its role could not be assumed, or ListBuckets was refused.
    /// The scan is incomplete and the account has an `error` finding (ACC-001).
    Error,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Scanned => "scanned",
            AccountStatus::Skipped => "skipped",
            AccountStatus::Error => "error",
        }
    }
}

impl AccountInfo {
    /// The one account of a single-account scan (its credentials' account, if known).
    pub fn single(id: Option<String>) -> Self {
        AccountInfo {
            id,
            name: None,
            ou_path: None,
            status: AccountStatus::Scanned,
            error: None,
        }
    }
}
