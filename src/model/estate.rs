use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AccountInfo, AccountStatus, BucketSnapshot, KeyRecord, ObjectScanInfo, Observed};

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
    /// What the scan was asked to cover and what it reached (bucket selection, object
    /// settings, regions). `None` in snapshots of older s3audit versions: see
    /// [`Estate::scope`], which infers what it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScanScope>,
    /// The scan's command line, secrets removed (`crate::provenance::redact_command_line`).
    /// `None` in snapshots of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<Vec<String>>,
    /// The git commit the scanning s3audit was built from (`tool_version` is the package
    /// version); `None` for a build outside a git checkout and in older snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_commit: Option<String>,
    /// The accounts of a multi-account scan (`--organization`, `--accounts`), in scan
    /// order: scanned, skipped or in error. Empty for a single-account scan (and in older
    /// snapshots): [`Estate::accounts`] then makes the one account from `account`. A
    /// single-account scan records its one account here only when it has something to say
    /// of it (the opt-in regions it met, [`AccountInfo::disabled_regions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountInfo>,
}

/// Where a scan's object facts came from, across its buckets (each bucket's own source is
/// on its object summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanObjectSource {
    /// Objects were listed and each one read with HEAD.
    Head,
    /// Every bucket's objects were counted from an S3 Inventory report (`--inventory`) or
    /// an S3 Metadata live inventory table (`--metadata-table`).
    Inventory,
    /// Some buckets from S3 Inventory reports or metadata tables, the others listed and
    /// HEADed.
    Mixed,
    /// Objects were not read (`--no-objects`): the OBJ rules are not applicable.
    None,
}

impl ScanObjectSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanObjectSource::Head => "head",
            ScanObjectSource::Inventory => "inventory",
            ScanObjectSource::Mixed => "mixed",
            ScanObjectSource::None => "none",
        }
    }
}

/// What a scan covered: a report is complete for this scope, and says so when the scope
/// is partial (a `--prefix` or a `--sample`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScanScope {
    /// The buckets named with `--bucket`; empty: every bucket the account's listing returned.
    #[serde(default)]
    pub buckets: Vec<String>,
    /// The `--exclude` globs: buckets whose names match were skipped.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// How objects were read: `head` (listed, then HEAD each), `inventory` (S3 Inventory
    /// reports), `mixed` (some of each), `none` (`--no-objects`).
    pub object_source: ScanObjectSource,
    /// `--prefix`: only objects whose key starts with it were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `--sample`: at most this many objects were read per bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u64>,
    /// `--versions`: noncurrent versions were read too.
    #[serde(default)]
    pub versions: bool,
    /// The regions of the buckets read, sorted, each once (buckets whose region could not
    /// be read add none; that is a gap of its own; nor do buckets skipped because their
    /// region is not enabled for their account).
    #[serde(default)]
    pub regions: Vec<String>,
    /// The region the scan started from (bucket listing, caller identity).
    pub start_region: String,
    /// True when the snapshot predates scope recording and this was inferred from what it
    /// does hold: then `buckets` and `exclude` were not recorded (empty says nothing).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
    /// `--offline`: only local S3 Inventory reports were read and no AWS API was called,
    /// so bucket settings, policies and keys were not read (their rules are errors). Added
    /// within schema_version 1.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
    /// `scan --shard I/N`: this snapshot is one shard of a split run, a partial view that
    /// `s3audit merge` combines with the others into the whole; never set on a whole run
    /// (nor on a merged one). Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardScope>,
}

/// Which share of a split run (`scan --shard I/N`) a snapshot holds. A bucket belongs to
/// shard `hash(name) mod count`, which reads its settings and HEADs its objects; an S3
/// Inventory's data files are shared out the same way by their keys, so one big bucket's
/// counts can come from every shard (`crate::shard`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardScope {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards the run was split into.
    pub count: u32,
    /// Every bucket the run selected (not only this shard's), in the order a whole run
    /// lists them: the same in every shard, so `merge` can check that each bucket is in the
    /// snapshot of the shard that owns it and order the merged snapshot as one run would.
    pub buckets: Vec<String>,
}

impl ScanScope {
    /// What narrows the scan below "every fact of every bucket read": `--offline` (no
    /// bucket setting read), `prefix=logs/; sample=100 per bucket`, or `None` for a full
    /// scan. The
    /// summary line, the table, the HTML page and the CSV's `scope` column show it, so a
    /// partial scan is never read as a whole one.
    pub fn limits(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.offline {
            parts.push("offline: bucket settings not read".to_string());
        }
        if let Some(prefix) = &self.prefix {
            parts.push(format!("prefix={prefix}"));
        }
        if let Some(n) = self.sample {
            parts.push(format!("sample={n} per bucket"));
        }
        if let Some(shard) = &self.shard {
            parts.push(format!(
                "shard {}/{} of a split run (merge every shard's snapshot with s3audit merge)",
                shard.index, shard.count
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The regions of `buckets` that were read, sorted, each once.
pub fn bucket_regions(buckets: &[BucketSnapshot]) -> Vec<String> {
    let regions: std::collections::BTreeSet<&String> = buckets
        .iter()
        .filter(|b| b.skipped.is_none())
        .filter_map(|b| b.region.present())
        .collect();
    regions.into_iter().cloned().collect()
}

impl Estate {
    /// The scan's scope: as recorded, or for a snapshot of an older s3audit inferred from
    /// its object settings and bucket regions (marked `inferred`).
    pub fn scope(&self) -> ScanScope {
        if let Some(scope) = &self.scan.scope {
            return scope.clone();
        }
        let objects = self.scan.objects.as_ref();
        ScanScope {
            buckets: Vec::new(),
            exclude: Vec::new(),
            object_source: if objects.is_some() {
                ScanObjectSource::Head
            } else {
                ScanObjectSource::None
            },
            prefix: objects.and_then(|o| o.prefix.clone()),
            sample: objects.and_then(|o| o.sample),
            versions: objects.is_some_and(|o| o.versions),
            regions: bucket_regions(&self.buckets),
            start_region: self.scan.region.clone(),
            inferred: true,
            offline: false,
            shard: None,
        }
    }

    /// A scan is complete when every fact it tried to read was answered and understood:
    /// nothing denied, failed, unreadable, unrecognised or cut short. Derived, never
    /// stored, so it cannot drift.
    pub fn is_complete(&self) -> bool {
        self.gaps().is_empty()
    }

    /// Every reason the scan is incomplete, one line each, naming the bucket or key and
    /// the fact: the report lists them so that "incomplete" always says why, including
    /// facts no rule uses (versioning, the public access block).
    /// Every account of the scan: those a multi-account scan recorded, else the single
    /// account of the credentials (whose id may be unknown).
    pub fn accounts(&self) -> Vec<AccountInfo> {
        if self.scan.accounts.is_empty() {
            vec![AccountInfo::single(self.scan.account.clone())]
        } else {
            self.scan.accounts.clone()
        }
    }

    /// The account that owns `bucket`: the one recorded with it, else the scan's (a
    /// single-account snapshot of an older version).
    pub fn account_of(&self, bucket: &BucketSnapshot) -> Option<String> {
        bucket.account.clone().or_else(|| self.scan.account.clone())
    }

    pub fn gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        if let Some(shard) = self.scan.scope.as_ref().and_then(|s| s.shard.as_ref()) {
            gaps.push(format!(
                "shard {}/{}: a partial view: only the buckets and S3 Inventory files of this shard were read; merge every shard's snapshot with s3audit merge for the whole audit",
                shard.index, shard.count
            ));
        }
        gaps.extend(self.scan.gaps.iter().cloned());
        for a in self.scan.accounts.iter() {
            if a.status == AccountStatus::Error {
                gaps.push(format!(
                    "account {}: not scanned: {}",
                    a.id.as_deref().unwrap_or("unknown"),
                    a.error.as_deref().unwrap_or("no reason recorded")
                ));
            }
        }
        // A skipped bucket (its region not enabled for its account) was not read on
        // purpose: nothing of it is missing from what could be read.
        for b in self.buckets.iter().filter(|b| b.skipped.is_none()) {
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
                if let Some(reason) = o.not_read_reason() {
                    gaps.push(format!("bucket {}: objects not read: {reason}", b.name));
                }
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
