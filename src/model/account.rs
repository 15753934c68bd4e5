//! The accounts of a scan. A single-account scan has one (its credentials' account); a
//! scan of an AWS Organization (`scan --organization`) or of a list of accounts
//! (`scan --accounts FILE`) has one per account it was asked to cover, each scanned
//! through a role assumed in it, skipped (not active in the organization) or in error (the
//! role could not be assumed, or its bucket listing was refused).

use serde::{Deserialize, Serialize};

use super::Observed;

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
    /// The resource control policies that apply to the account, read from Organizations
    /// along root → OU → account (`--organization` only; absent otherwise, and then POL
    /// verdicts rest on the bucket policy alone). `denied`/`failed` say why they could not
    /// be read. Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    pub rcps: Option<Observed<RcpChain>>,
    /// The opt-in regions (those launched since March 2019, which an account must enable)
    /// holding buckets of the account that are not enabled for it, as the Account
    /// Management API's ListRegions says (`DISABLED`, `DISABLING` or not yet `ENABLED`):
    /// those buckets are listed with `skipped` and not read, since no request reaches a
    /// region an account has not enabled. Asked once per account, and only when one of its
    /// buckets is in an opt-in region: absent otherwise; an empty list when every such region
    /// is enabled. `denied`/`failed` when the regions' status could not be read: the
    /// buckets were then read as any other, and a disabled region's refusals are their
    /// errors. Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    pub disabled_regions: Option<Observed<Vec<String>>>,
}

/// The RCPs AWS evaluates for every request to the account's resources: every policy
/// attached to the root, to each OU on the account's path and to the account itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RcpChain {
    /// Whether the RESOURCE_CONTROL_POLICY type is enabled on the organization's root (as
    /// the root's policy types say): when it is not, no RCP applies.
    pub enabled: bool,
    /// Root first, then each OU down the path, then the account's own.
    pub policies: Vec<AttachedRcp>,
}

/// One RCP and where it is attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AttachedRcp {
    /// The policy id (`p-…`).
    pub id: String,
    pub name: Option<String>,
    /// Where it is attached: `Root`, an OU path (`Root/Prod`) or the account id.
    pub attached_to: String,
    /// AWS-managed (`RCPFullAWSAccess`, an Allow of everything: it denies nothing).
    pub aws_managed: bool,
    /// The policy document as Organizations returned it.
    pub content: String,
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
            rcps: None,
            disabled_regions: None,
        }
    }
}
