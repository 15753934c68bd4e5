use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How one object is encrypted at rest, as its HEAD reports it.
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
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SseMode {
    None,
    SseS3,
    SseKms,
    DsseKms,
    /// Customer-provided key: S3 holds no key, so nothing about it is auditable.
    SseC,
    /// `aws:fsx`: an object served through an access point of an FSx file system, which
    /// FSx encrypts at rest with keys it manages.
    SseFsx,
    /// An `x-amz-server-side-encryption` value S3 does not document (or an empty or
    /// repeated header). Never folded into another mode: the raw values are kept in
    /// [`ObjectSummary::unknown_values`] and every rule that needs the mode says it cannot
    /// tell.
    Unknown,
}

impl SseMode {
    pub const ALL: [SseMode; 7] = [
        SseMode::None,
        SseMode::SseS3,
        SseMode::SseKms,
        SseMode::DsseKms,
        SseMode::SseC,
        SseMode::SseFsx,
        SseMode::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SseMode::None => "none",
            SseMode::SseS3 => "sse_s3",
            SseMode::SseKms => "sse_kms",
            SseMode::DsseKms => "dsse_kms",
            SseMode::SseC => "sse_c",
            SseMode::SseFsx => "sse_fsx",
            SseMode::Unknown => "unknown",
        }
    }

    /// Strength order used by "no objects below the required mode" (OBJ-002); `None`
    /// for [`SseMode::Unknown`], which cannot be ranked. SSE-C and FSx rank with SSE-S3:
    /// encrypted, but with no key KMS can account for.
    pub fn rank(self) -> Option<u8> {
        match self {
            SseMode::None => Some(0),
            SseMode::SseS3 | SseMode::SseC | SseMode::SseFsx => Some(1),
            SseMode::SseKms => Some(2),
            SseMode::DsseKms => Some(3),
            SseMode::Unknown => None,
        }
    }

    /// The mode an `x-amz-server-side-encryption` value names, exactly as S3 documents
    /// it (case and whitespace included); anything else is [`SseMode::Unknown`].
    pub fn from_header(value: &str) -> SseMode {
        match value {
            "AES256" => SseMode::SseS3,
            "aws:kms" => SseMode::SseKms,
            "aws:kms:dsse" => SseMode::DsseKms,
            "aws:fsx" => SseMode::SseFsx,
            _ => SseMode::Unknown,
        }
    }
}

/// Objects counted by encryption mode. Every listed object lands in exactly one cell:
/// `total == none + sse_s3 + sse_kms + dsse_kms + sse_c + sse_fsx + unknown + unreadable`.
/// `sse_fsx` and `unknown` were added to schema_version 1 later; snapshots written before
/// them read as 0.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ModeCounts {
    pub total: u64,
    pub none: u64,
    pub sse_s3: u64,
    pub sse_kms: u64,
    pub dsse_kms: u64,
    pub sse_c: u64,
    #[serde(default)]
    pub sse_fsx: u64,
    /// Objects whose encryption value s3audit does not recognise.
    #[serde(default)]
    pub unknown: u64,
    pub unreadable: u64,
}

impl ModeCounts {
    pub fn add(&mut self, mode: Option<SseMode>) {
        self.total += 1;
        match mode {
            None => self.unreadable += 1,
            Some(m) => *self.cell(m) += 1,
        }
    }

    fn cell(&mut self, mode: SseMode) -> &mut u64 {
        match mode {
            SseMode::None => &mut self.none,
            SseMode::SseS3 => &mut self.sse_s3,
            SseMode::SseKms => &mut self.sse_kms,
            SseMode::DsseKms => &mut self.dsse_kms,
            SseMode::SseC => &mut self.sse_c,
            SseMode::SseFsx => &mut self.sse_fsx,
            SseMode::Unknown => &mut self.unknown,
        }
    }

    pub fn get(&self, mode: SseMode) -> u64 {
        match mode {
            SseMode::None => self.none,
            SseMode::SseS3 => self.sse_s3,
            SseMode::SseKms => self.sse_kms,
            SseMode::DsseKms => self.dsse_kms,
            SseMode::SseC => self.sse_c,
            SseMode::SseFsx => self.sse_fsx,
            SseMode::Unknown => self.unknown,
        }
    }

    /// Adds `n` to the cell of `mode` and to the total: byte sums, where each object
    /// adds its size (see [`ObjectSummary::current_bytes`]).
    pub fn add_n(&mut self, mode: SseMode, n: u64) {
        self.total += n;
        *self.cell(mode) += n;
    }

    pub fn merge(&mut self, other: &ModeCounts) {
        self.total += other.total;
        self.unreadable += other.unreadable;
        for m in SseMode::ALL {
            *self.cell(m) += other.get(m);
        }
    }
}

/// Distinct unknown encryption values kept per bucket; further ones count under
/// [`OTHER_UNKNOWN_VALUES`].
pub const MAX_UNKNOWN_VALUES: usize = 20;
pub const MAX_UNKNOWN_VALUE_LEN: usize = 100;
pub const OTHER_UNKNOWN_VALUES: &str = "(other values)";

/// What the object scan of one bucket found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectSummary {
    /// Current versions (or all objects of an unversioned bucket).
    pub current: ModeCounts,
    /// Noncurrent versions; present when versions were scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent: Option<ModeCounts>,
    /// Objects (current and noncurrent) per KMS key record id.
    #[serde(default)]
    pub by_key: BTreeMap<String, u64>,
    /// A bounded sample of object keys per mode, for findings to name.
    #[serde(default)]
    pub samples: BTreeMap<SseMode, Vec<String>>,
    /// A bounded sample of object keys per KMS key record id.
    #[serde(default)]
    pub key_samples: BTreeMap<String, Vec<String>>,
    /// A bounded sample of the objects that could not be read, with the reason.
    #[serde(default)]
    pub unreadable: Vec<UnreadableObject>,
    /// The raw `x-amz-server-side-encryption` values counted as [`SseMode::Unknown`], with
    /// how many objects sent each: at most [`MAX_UNKNOWN_VALUES`] distinct values, each cut
    /// to [`MAX_UNKNOWN_VALUE_LEN`] bytes, so a hostile server cannot grow the report.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown_values: BTreeMap<String, u64>,
    /// Set when the listing itself stopped early: the counts are then a lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_error: Option<String>,
    /// True when only a sample of the objects was read (`--sample`).
    #[serde(default)]
    pub sampled: bool,
    /// Where these counts come from; `None` (every snapshot written before this field)
    /// means this scan's HEADs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ObjectSource>,
    /// Bytes of current versions per mode (each object adds its size; `unreadable` stays
    /// 0): filled when the source states sizes (S3 Inventory's `Size`), `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_bytes: Option<ModeCounts>,
    /// Bytes of noncurrent versions per mode, like [`Self::current_bytes`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_bytes: Option<ModeCounts>,
    /// `--verify-sample`: random current objects of the inventory HEADed live, and where
    /// the two disagree (OBJ-008). With it, `by_key` and `key_samples` hold the sampled
    /// objects' keys only: a sample, never the whole bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<InventoryCheck>,
}

/// Disagreements kept per bucket in [`InventoryCheck`]; the rest are only counted.
pub const MAX_DISAGREEMENTS: usize = 20;

/// What `--verify-sample` found: a uniform random sample of the inventory's current
/// objects (the `size` smallest keyed hashes of their keys under `seed`, so the same seed
/// picks the same objects whatever the order of the files), each HEADed live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InventoryCheck {
    /// `--verify-sample`: how many objects were to be HEADed.
    pub requested: u64,
    /// The sampling seed (`--verify-seed`, else random and recorded here): the same seed
    /// samples the same objects of the same inventory again.
    pub seed: u64,
    /// Objects sampled and HEADed (fewer than `requested` when the inventory has fewer).
    pub headed: u64,
    /// Objects whose live encryption mode is the inventory's.
    pub agreed: u64,
    /// Objects whose live state differs from the inventory's (all of them counted here).
    pub disagreement_count: u64,
    /// Up to [`MAX_DISAGREEMENTS`] of them, in key order.
    pub disagreements: Vec<Disagreement>,
    /// Objects whose HEAD failed for another reason (access denied, a network error):
    /// neither agreeing nor disagreeing.
    pub unreadable: Vec<UnreadableObject>,
}

/// One sampled object whose live state is not what the inventory says.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Disagreement {
    pub key: String,
    /// The mode the inventory's `EncryptionStatus` names.
    pub inventory: SseMode,
    /// The mode its HEAD reports now; null when the object is gone (`missing`).
    pub live: Option<SseMode>,
    /// True when the HEAD answered 404: deleted since the inventory was written.
    pub missing: bool,
}

/// Where a bucket's object counts come from. A report says it per bucket, because the
/// same counts mean different things: a HEAD of every object by this scan, or what S3
/// Inventory wrote down at its own time, without each object's KMS key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObjectSource {
    /// Every object (or version) was listed and HEADed by this scan.
    Head,
    /// An S3 Inventory report (`scan --inventory`): counts as of its creation, with no KMS
    /// key ARN per object (S3 Inventory has no such field), so OBJ-003 and OBJ-004 cannot
    /// judge the keys of its SSE-KMS objects.
    Inventory {
        /// The `manifest.json` as given: an `s3://bucket/key` URL or a local path.
        manifest: String,
        /// The manifest's `creationTimestamp`: when S3 began scanning the bucket for this
        /// report. Objects written or re-encrypted since are not in the counts (OBJ-007).
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        as_of: OffsetDateTime,
        /// The manifest's `fileFormat` (`CSV`, `Parquet` or `ORC`).
        format: String,
        /// How many data files the manifest lists (each checked against its MD5).
        files: usize,
    },
    /// The objects were deliberately not read (`--objects-from inventory` for a bucket no
    /// `--inventory` names): nothing is known of them, so every OBJ rule is `error` and
    /// the scan is incomplete, never a pass by omission.
    NotRead {
        /// Why, as the OBJ rules and the report's gaps say it.
        reason: String,
    },
    /// An S3 Metadata live inventory table (`scan --metadata-table`), an Apache Iceberg table
    /// S3 keeps current within the hour: counts as of its current snapshot, with each
    /// object's KMS key ARN, so OBJ-003 and OBJ-004 judge keys as for HEADs.
    MetadataTable {
        /// The table's metadata file as given: an `s3://bucket/key` URL or a local path.
        table: String,
        /// When the table's current snapshot was committed. Objects written or re-encrypted
        /// since are not in the counts (OBJ-007).
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        as_of: OffsetDateTime,
        /// The current snapshot's id.
        snapshot_id: i64,
        /// How many Parquet data files the snapshot holds (each checked against its size).
        data_files: usize,
        /// SSE-KMS and DSSE-KMS objects whose row has no `kms_key_arn`: OBJ-003 and OBJ-004
        /// cannot pass while there are any.
        kms_objects_without_key: u64,
    },
}

impl ObjectSource {
    /// Whether the counts come from what AWS wrote down (an S3 Inventory report or a
    /// metadata table) rather than this scan's HEADs.
    pub fn is_inventory(&self) -> bool {
        matches!(
            self,
            ObjectSource::Inventory { .. } | ObjectSource::MetadataTable { .. }
        )
    }

    /// The file the counts come from and its date, for sources other than HEADs.
    pub fn data_file(&self) -> Option<(&str, OffsetDateTime)> {
        match self {
            ObjectSource::Head | ObjectSource::NotRead { .. } => None,
            ObjectSource::Inventory {
                manifest, as_of, ..
            } => Some((manifest, *as_of)),
            ObjectSource::MetadataTable { table, as_of, .. } => Some((table, *as_of)),
        }
    }
}

impl ObjectSummary {
    /// The summary of a bucket whose objects were deliberately not read, for `reason`.
    pub fn not_read(reason: &str) -> Self {
        ObjectSummary {
            source: Some(ObjectSource::NotRead {
                reason: reason.to_string(),
            }),
            ..ObjectSummary::default()
        }
    }

    /// Why the objects were not read, when they were not ([`ObjectSource::NotRead`]).
    pub fn not_read_reason(&self) -> Option<&str> {
        match &self.source {
            Some(ObjectSource::NotRead { reason }) => Some(reason),
            _ => None,
        }
    }
}

#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct UnreadableObject {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub reason: String,
}

/// How objects were scanned, recorded so a report says what its counts cover.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectScanInfo {
    pub versions: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u64>,
}

/// One object (or version) as the scan saw it: a row of the `--objects-csv` inventory.
/// Streamed to disk while the scan runs, never held in memory in bulk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub is_latest: bool,
    /// `None` when the object could not be read (see `error`).
    pub mode: Option<SseMode>,
    /// The KMS key record id (the key ARN when resolved).
    pub kms_key: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub size: Option<i64>,
    pub storage_class: Option<String>,
    pub last_modified: Option<String>,
    pub error: Option<String>,
}
