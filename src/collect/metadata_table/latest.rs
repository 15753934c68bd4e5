//! Which row of each key is its current version, and the counts that follow.
//!
//! The live inventory table has a row per object version and no is-latest column: a key's
//! current version is its row with the greatest `sequence_number` (compared as text: AWS
//! documents that a lexicographically larger one is more recent), a delete marker there
//! means the key has no current object, and every other row of the key is noncurrent.
//!
//! Rows come in no documented order, so the newest row seen so far is kept per key, in a
//! hash map. When a newer row of the key comes, the one it replaces is counted as noncurrent
//! at once; an older row is counted as noncurrent as it comes; the rows left in the map at
//! the end are the current versions. Every row is so counted exactly once whatever the
//! order, and only one row per key is held. Memory: about 130 bytes per distinct key plus
//! the key, its sequence number (about 100 characters in AWS's tables) and its version id,
//! so roughly 300 bytes per key: 10 million keys need about 3 GB. Rows outside `--prefix`
//! are dropped before they take any.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use crate::collect::inventory::tally::{SAMPLE_KEYS, mode_of, note_unknown_value, push_bounded};
use crate::model::{ModeCounts, ObjectSummary, SseMode};

/// One row as the Parquet reader decoded it.
#[derive(Debug, Default)]
pub struct Row<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub sequence_number: &'a str,
    pub version_id: Option<&'a str>,
    pub is_delete_marker: Option<bool>,
    pub size: Option<u64>,
    pub encryption_status: Option<&'a str>,
    pub kms_key_arn: Option<&'a str>,
}

/// What is kept of a key's newest row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    sequence: Box<str>,
    version_id: Option<Box<str>>,
    /// `None` for a delete marker (no object, no mode).
    object: Option<Object>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Object {
    mode: SseMode,
    /// The `encryption_status` as written, kept only for unknown values.
    raw: Option<Box<str>>,
    size: u64,
    /// Shared between the rows of one key ARN.
    kms_key_arn: Option<Arc<str>>,
}

/// The mode an `encryption_status` names: null is an unencrypted object (AWS's own sample
/// query drops these rows; they are counted here), the inventory's documented values name
/// their modes, and anything else is [`SseMode::Unknown`], never encrypted.
pub fn mode_of_status(status: Option<&str>) -> SseMode {
    match status {
        None => SseMode::None,
        Some(s) => mode_of(s),
    }
}

pub struct Latest {
    bucket: Option<String>,
    keys: HashMap<Box<str>, Version>,
    arns: HashMap<Box<str>, Arc<str>>,
    /// Noncurrent counts, by key ARN, samples as they are decided; current ones at the end.
    summary: ObjectSummary,
    /// SSE-KMS and DSSE-KMS objects with no `kms_key_arn`.
    kms_without_key: u64,
}

impl Latest {
    pub fn new() -> Self {
        Latest {
            bucket: None,
            keys: HashMap::new(),
            arns: HashMap::new(),
            summary: ObjectSummary {
                noncurrent: Some(ModeCounts::default()),
                current_bytes: Some(ModeCounts::default()),
                noncurrent_bytes: Some(ModeCounts::default()),
                ..ObjectSummary::default()
            },
            kms_without_key: 0,
        }
    }

    /// The bucket every row names (`None` before the first row).
    pub fn bucket(&self) -> Option<&str> {
        self.bucket.as_deref()
    }

    /// Takes one row. A row of a second bucket, an object row without a size, and two rows
    /// of one key with the same sequence number (which is newer?) are bad input.
    pub fn add(&mut self, row: &Row, prefix: Option<&str>) -> Result<(), String> {
        match &self.bucket {
            Some(b) if b != row.bucket => {
                return Err(format!(
                    "a row of bucket {:?} in a table of bucket {b:?}: a live inventory table holds one bucket",
                    row.bucket
                ));
            }
            Some(_) => {}
            None => self.bucket = Some(row.bucket.to_string()),
        }
        if prefix.is_some_and(|p| !row.key.starts_with(p)) {
            return Ok(());
        }
        let object = if row.is_delete_marker == Some(true) {
            None
        } else {
            let mode = mode_of_status(row.encryption_status);
            let kms_key_arn =
                row.kms_key_arn
                    .filter(|a| !a.is_empty())
                    .map(|a| match self.arns.get(a) {
                        Some(shared) => shared.clone(),
                        None => {
                            let shared: Arc<str> = Arc::from(a);
                            self.arns.insert(a.into(), shared.clone());
                            shared
                        }
                    });
            Some(Object {
                mode,
                raw: (mode == SseMode::Unknown)
                    .then(|| row.encryption_status.unwrap_or_default().into()),
                size: row
                    .size
                    .ok_or_else(|| format!("the object {:?} has no size", row.key))?,
                kms_key_arn,
            })
        };
        let version = Version {
            sequence: row.sequence_number.into(),
            version_id: row.version_id.filter(|v| !v.is_empty()).map(Into::into),
            object,
        };
        self.offer(row.key, version)
    }

    /// Keeps the newer of `version` and the key's kept row; counts the other as noncurrent.
    fn offer(&mut self, key: &str, version: Version) -> Result<(), String> {
        let older = match self.keys.get_mut(key) {
            None => {
                self.keys.insert(key.into(), version);
                return Ok(());
            }
            Some(kept) => match version.sequence.cmp(&kept.sequence) {
                std::cmp::Ordering::Greater => std::mem::replace(kept, version),
                std::cmp::Ordering::Less => version,
                std::cmp::Ordering::Equal => {
                    return Err(format!(
                        "two rows of key {key:?} have the same sequence_number {}: which one is current cannot be told",
                        version.sequence
                    ));
                }
            },
        };
        self.count(key, &older, false);
        Ok(())
    }

    /// Adds another file's rows (merged in manifest order, so samples are the same on every
    /// run; the counts do not depend on the order).
    pub fn merge(&mut self, other: Latest) -> Result<(), String> {
        if let (Some(mine), Some(theirs)) = (&self.bucket, &other.bucket)
            && mine != theirs
        {
            return Err(format!(
                "rows of bucket {theirs:?} in a table of bucket {mine:?}: a live inventory table holds one bucket"
            ));
        }
        if self.bucket.is_none() {
            self.bucket = other.bucket;
        }
        self.kms_without_key += other.kms_without_key;
        let o = other.summary;
        let s = &mut self.summary;
        for (mine, theirs) in [
            (&mut s.noncurrent, o.noncurrent),
            (&mut s.noncurrent_bytes, o.noncurrent_bytes),
        ] {
            if let (Some(mine), Some(theirs)) = (mine, theirs) {
                mine.merge(&theirs);
            }
        }
        for (arn, n) in o.by_key {
            *s.by_key.entry(arn).or_default() += n;
        }
        for (value, n) in o.unknown_values {
            for _ in 0..n {
                note_unknown_value(&mut s.unknown_values, &value);
            }
        }
        for (mode, labels) in o.samples {
            let mine = s.samples.entry(mode).or_default();
            for label in labels {
                push_bounded(mine, label, SAMPLE_KEYS);
            }
        }
        for (arn, labels) in o.key_samples {
            let mine = s.key_samples.entry(arn).or_default();
            for label in labels {
                push_bounded(mine, label, SAMPLE_KEYS);
            }
        }
        for (key, version) in other.keys {
            // Re-shared with this side's ARNs, so equal ARNs stay one allocation.
            let version = Version {
                object: version.object.map(|o| Object {
                    kms_key_arn: o.kms_key_arn.map(|a| match self.arns.entry((*a).into()) {
                        Entry::Occupied(e) => e.get().clone(),
                        Entry::Vacant(e) => e.insert(a).clone(),
                    }),
                    ..o
                }),
                ..version
            };
            self.offer(&key, version)?;
        }
        Ok(())
    }

    /// Counts one decided row: its mode and bytes, its key ARN, the samples.
    fn count(&mut self, key: &str, version: &Version, current: bool) {
        let Some(object) = &version.object else {
            // A delete marker holds no data and is not an object.
            return;
        };
        let s = &mut self.summary;
        let (counts, bytes) = if current {
            (
                &mut s.current,
                s.current_bytes.get_or_insert_with(ModeCounts::default),
            )
        } else {
            (
                s.noncurrent.get_or_insert_with(ModeCounts::default),
                s.noncurrent_bytes.get_or_insert_with(ModeCounts::default),
            )
        };
        counts.add(Some(object.mode));
        bytes.add_n(object.mode, object.size);
        if let Some(raw) = &object.raw {
            note_unknown_value(&mut s.unknown_values, raw);
        }
        let label = match (&version.version_id, current) {
            (Some(v), false) => format!("{key} (version {v})"),
            _ => key.to_string(),
        };
        if matches!(object.mode, SseMode::SseKms | SseMode::DsseKms) {
            match &object.kms_key_arn {
                Some(arn) => {
                    *s.by_key.entry(arn.to_string()).or_default() += 1;
                    push_bounded(
                        s.key_samples.entry(arn.to_string()).or_default(),
                        label.clone(),
                        SAMPLE_KEYS,
                    );
                }
                None => self.kms_without_key += 1,
            }
        }
        push_bounded(
            s.samples.entry(object.mode).or_default(),
            label,
            SAMPLE_KEYS,
        );
    }

    /// Counts the kept rows as the current versions and returns the summary (its `by_key`
    /// and `key_samples` keyed by the ARNs as written: the caller resolves them) and how
    /// many SSE-KMS objects had no ARN.
    pub fn finish(mut self) -> (ObjectSummary, u64) {
        let keys = std::mem::take(&mut self.keys);
        let mut keys: Vec<(Box<str>, Version)> = keys.into_iter().collect();
        // Key order: the samples do not depend on the hash map's.
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, version) in keys {
            self.count(&key, &version, true);
        }
        (self.summary, self.kms_without_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(
        key: &'a str,
        seq: &'a str,
        version: &'a str,
        marker: bool,
        status: Option<&'a str>,
        arn: Option<&'a str>,
    ) -> Row<'a> {
        Row {
            bucket: "b",
            key,
            sequence_number: seq,
            version_id: Some(version),
            is_delete_marker: Some(marker),
            size: (!marker).then_some(10),
            encryption_status: status,
            kms_key_arn: arn,
        }
    }

    fn cells(c: &ModeCounts) -> [u64; 7] {
        [
            c.total, c.none, c.sse_s3, c.sse_kms, c.dsse_kms, c.sse_c, c.unknown,
        ]
    }

    /// The same rows in every order give the same summary.
    #[test]
    fn the_greatest_sequence_number_is_current_whatever_the_order() {
        let rows = [
            row("a", "01", "a1", false, None, None),
            row("a", "03", "a3", false, Some("SSE-KMS"), Some("arn:k1")),
            row("a", "02", "a2", false, Some("SSE-S3"), None),
            row("m", "05", "m1", false, Some("DSSE-KMS"), Some("arn:k2")),
            row("m", "06", "m2", true, None, None),
            row("u", "01", "u1", false, Some("SSE-NEW"), None),
            row("k", "01", "k1", false, Some("SSE-KMS"), None),
        ];
        let mut seen = None;
        for rotation in 0..rows.len() {
            let mut latest = Latest::new();
            for r in rows.iter().cycle().skip(rotation).take(rows.len()) {
                latest.add(r, None).unwrap();
            }
            let (s, without_key) = latest.finish();
            let got = (
                cells(&s.current),
                cells(s.noncurrent.as_ref().unwrap()),
                s.by_key.clone(),
                s.samples.clone(),
                without_key,
            );
            // Current: a3 (KMS), u1 (unknown), k1 (KMS, no ARN); m's marker hides m1.
            assert_eq!(got.0, [3, 0, 0, 2, 0, 0, 1], "rotation {rotation}");
            // Noncurrent: a1 (none), a2 (SSE-S3), m1 (DSSE-KMS).
            assert_eq!(got.1, [3, 1, 1, 0, 1, 0, 0], "rotation {rotation}");
            assert_eq!(got.2.get("arn:k1"), Some(&1));
            assert_eq!(got.2.get("arn:k2"), Some(&1));
            assert_eq!(without_key, 1);
            assert_eq!(s.unknown_values.get("SSE-NEW"), Some(&1));
            assert_eq!(
                s.samples[&SseMode::None],
                vec!["a (version a1)".to_string()]
            );
            match &seen {
                None => seen = Some(got),
                Some(first) => assert_eq!(first, &got, "rotation {rotation}"),
            }
        }
    }

    #[test]
    fn merged_files_count_like_one() {
        let mut one = Latest::new();
        let mut left = Latest::new();
        let mut right = Latest::new();
        let rows = [
            row("a", "01", "a1", false, Some("SSE-S3"), None),
            row("b", "01", "b1", false, None, None),
            row("a", "02", "a2", false, Some("SSE-KMS"), Some("arn:k")),
            row("b", "02", "b2", true, None, None),
        ];
        for (i, r) in rows.iter().enumerate() {
            one.add(r, None).unwrap();
            if i % 2 == 0 { &mut left } else { &mut right }
                .add(r, None)
                .unwrap();
        }
        left.merge(right).unwrap();
        assert_eq!(left.finish(), one.finish());
    }

    #[test]
    fn ambiguous_or_foreign_rows_are_bad_input() {
        let mut latest = Latest::new();
        latest
            .add(&row("a", "01", "x", false, None, None), None)
            .unwrap();
        let e = latest
            .add(&row("a", "01", "y", false, None, None), None)
            .unwrap_err();
        assert!(e.contains("same sequence_number"), "{e}");
        let mut other = row("z", "01", "x", false, None, None);
        other.bucket = "c";
        let e = latest.add(&other, None).unwrap_err();
        assert!(e.contains("a row of bucket \"c\""), "{e}");
        let mut sizeless = row("n", "01", "x", false, None, None);
        sizeless.size = None;
        assert!(latest.add(&sizeless, None).unwrap_err().contains("no size"));
        // Outside the prefix: not held, not counted.
        latest
            .add(&row("other/n", "01", "x", false, None, None), Some("a"))
            .unwrap();
        assert_eq!(latest.finish().0.current.total, 1);
    }

    #[test]
    fn null_status_is_unencrypted_and_unknown_values_are_never_encrypted() {
        assert_eq!(mode_of_status(None), SseMode::None);
        assert_eq!(mode_of_status(Some("SSE-KMS")), SseMode::SseKms);
        assert_eq!(mode_of_status(Some("DSSE-KMS")), SseMode::DsseKms);
        assert_eq!(mode_of_status(Some("SSE-S3")), SseMode::SseS3);
        assert_eq!(mode_of_status(Some("SSE-C")), SseMode::SseC);
        assert_eq!(mode_of_status(Some("")), SseMode::Unknown);
        assert_eq!(mode_of_status(Some("sse-kms")), SseMode::Unknown);
    }
}
