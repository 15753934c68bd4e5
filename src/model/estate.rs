use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{BucketSnapshot, KeyRecord, ObjectScanInfo, Observed};

/// Version of the snapshot format written by `--save-snapshot`; bumped on breaking change.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Everything one scan observed: the input to the rules, saveable and re-loadable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estate {
    pub snapshot_version: u32,
    pub scan: ScanInfo,
    pub buckets: Vec<BucketSnapshot>,
    /// KMS keys referenced anywhere in the estate, by record id (see [`KeyRecord::id`]).
    pub keys: BTreeMap<String, KeyRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanInfo {
    pub tool_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub account: Option<String>,
    pub principal: Option<String>,
    /// The endpoint override, if any (`None`: AWS's own endpoints).
    pub endpoint: Option<String>,
    /// The region the scan started from (ListBuckets, identity).
    pub region: String,
    /// Set when objects were scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<ObjectScanInfo>,
}

impl Estate {
    /// A scan is complete when every fact it tried to read was answered: nothing denied,
    /// failed, unreadable or cut short. Derived, never stored, so it cannot drift.
    pub fn is_complete(&self) -> bool {
        let bucket_ok = |b: &BucketSnapshot| {
            b.region.unknown_reason().is_none()
                && b.encryption.unknown_reason().is_none()
                && b.policy.unknown_reason().is_none()
                && b.versioning.unknown_reason().is_none()
                && b.public_access_block.unknown_reason().is_none()
                && b.objects.as_ref().is_none_or(|o| {
                    o.listing_error.is_none()
                        && o.current.unreadable == 0
                        && o.noncurrent.is_none_or(|n| n.unreadable == 0)
                })
        };
        let key_ok = |k: &KeyRecord| match &k.info {
            Observed::Present(info) => {
                info.rotation.unknown_reason().is_none() && info.aliases.unknown_reason().is_none()
            }
            other => other.unknown_reason().is_none(),
        };
        self.buckets.iter().all(bucket_ok) && self.keys.values().all(key_ok)
    }
}
