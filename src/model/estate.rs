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
    /// What the scan could not cover beyond any one bucket's facts: a bucket listing cut
    /// short, names S3 could never have created, the `--timeout` running out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
}

impl Estate {
    /// A scan is complete when every fact it tried to read was answered and understood:
    /// nothing denied, failed, unreadable, unrecognised or cut short. Derived, never
    /// stored, so it cannot drift.
    pub fn is_complete(&self) -> bool {
        self.gaps().is_empty()
    }

    /// Every reason the scan is incomplete, one line each, naming the bucket or key and
    /// the fact: the report lists them so that "incomplete" always says why, including
    /// facts no rule uses (versioning, the public access block).
    pub fn gaps(&self) -> Vec<String> {
        let mut gaps = self.scan.gaps.clone();
        for b in &self.buckets {
            let facts = [
                ("region", b.region.unknown_reason()),
                ("default encryption", b.encryption.unknown_reason()),
                ("bucket policy", b.policy.unknown_reason()),
                ("versioning", b.versioning.unknown_reason()),
                (
                    "public access block",
                    b.public_access_block.unknown_reason(),
                ),
            ];
            for (fact, reason) in facts {
                if let Some(reason) = reason {
                    gaps.push(format!("bucket {}: {fact} not read: {reason}", b.name));
                }
            }
            if let Some(o) = &b.objects {
                if let Some(e) = &o.listing_error {
                    gaps.push(format!("bucket {}: object listing incomplete: {e}", b.name));
                }
                let mut counts = o.current;
                if let Some(n) = &o.noncurrent {
                    counts.merge(n);
                }
                if counts.unreadable > 0 {
                    gaps.push(format!(
                        "bucket {}: {} of {} objects could not be read",
                        b.name, counts.unreadable, counts.total
                    ));
                }
                if counts.unknown > 0 {
                    gaps.push(format!(
                        "bucket {}: {} objects report an encryption value S3 does not document",
                        b.name, counts.unknown
                    ));
                }
            }
        }
        for k in self.keys.values() {
            let facts: Vec<(&str, Option<&str>)> = match &k.info {
                Observed::Present(info) => vec![
                    ("rotation status", info.rotation.unknown_reason()),
                    ("aliases", info.aliases.unknown_reason()),
                    (
                        "key policy",
                        info.policy.as_ref().and_then(Observed::unknown_reason),
                    ),
                ],
                other => vec![("key", other.unknown_reason())],
            };
            for (fact, reason) in facts {
                if let Some(reason) = reason {
                    gaps.push(format!("KMS key {}: {fact} not read: {reason}", k.id));
                }
            }
        }
        gaps
    }
}
