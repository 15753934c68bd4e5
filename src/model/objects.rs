use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How one object is encrypted at rest, as its HEAD reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SseMode {
    None,
    SseS3,
    SseKms,
    DsseKms,
    /// Customer-provided key: S3 holds no key, so nothing about it is auditable.
    SseC,
}

impl SseMode {
    pub const ALL: [SseMode; 5] = [
        SseMode::None,
        SseMode::SseS3,
        SseMode::SseKms,
        SseMode::DsseKms,
        SseMode::SseC,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SseMode::None => "none",
            SseMode::SseS3 => "sse_s3",
            SseMode::SseKms => "sse_kms",
            SseMode::DsseKms => "dsse_kms",
            SseMode::SseC => "sse_c",
        }
    }

    /// Strength order used by "no objects below the required mode" (OBJ-002).
    /// SSE-C ranks with SSE-S3: encrypted, but with no key S3 or KMS can account for.
    pub fn rank(self) -> u8 {
        match self {
            SseMode::None => 0,
            SseMode::SseS3 | SseMode::SseC => 1,
            SseMode::SseKms => 2,
            SseMode::DsseKms => 3,
        }
    }
}

/// Objects counted by encryption mode. Every listed object lands in exactly one cell:
/// `total == none + sse_s3 + sse_kms + dsse_kms + sse_c + unreadable`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeCounts {
    pub total: u64,
    pub none: u64,
    pub sse_s3: u64,
    pub sse_kms: u64,
    pub dsse_kms: u64,
    pub sse_c: u64,
    pub unreadable: u64,
}

impl ModeCounts {
    pub fn add(&mut self, mode: Option<SseMode>) {
        self.total += 1;
        match mode {
            None => self.unreadable += 1,
            Some(SseMode::None) => self.none += 1,
            Some(SseMode::SseS3) => self.sse_s3 += 1,
            Some(SseMode::SseKms) => self.sse_kms += 1,
            Some(SseMode::DsseKms) => self.dsse_kms += 1,
            Some(SseMode::SseC) => self.sse_c += 1,
        }
    }

    pub fn get(&self, mode: SseMode) -> u64 {
        match mode {
            SseMode::None => self.none,
            SseMode::SseS3 => self.sse_s3,
            SseMode::SseKms => self.sse_kms,
            SseMode::DsseKms => self.dsse_kms,
            SseMode::SseC => self.sse_c,
        }
    }

    pub fn merge(&mut self, other: &ModeCounts) {
        self.total += other.total;
        self.none += other.none;
        self.sse_s3 += other.sse_s3;
        self.sse_kms += other.sse_kms;
        self.dsse_kms += other.dsse_kms;
        self.sse_c += other.sse_c;
        self.unreadable += other.unreadable;
    }
}

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
    /// Set when the listing itself stopped early: the counts are then a lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_error: Option<String>,
    /// True when only a sample of the objects was read (`--sample`).
    #[serde(default)]
    pub sampled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
