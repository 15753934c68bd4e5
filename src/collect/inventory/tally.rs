//! Folds inventory rows into the per-bucket [`ObjectSummary`] the HEAD scan fills, so every
//! OBJ rule and every output reads inventory counts exactly as it reads HEAD counts.

use std::collections::BTreeMap;

use super::manifest::{Field, Manifest};
use crate::model::{
    MAX_UNKNOWN_VALUE_LEN, MAX_UNKNOWN_VALUES, ModeCounts, OTHER_UNKNOWN_VALUES, ObjectSummary,
    SseMode,
};

/// Keys kept per mode in the summary's samples, as the HEAD scan keeps.
pub(crate) const SAMPLE_KEYS: usize = 10;

/// One inventory row, its values as the file holds them (a CSV key already decoded).
#[derive(Debug, Default)]
pub struct Row<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub version_id: Option<&'a str>,
    pub is_latest: Option<bool>,
    pub is_delete_marker: Option<bool>,
    pub size: Option<u64>,
    pub encryption_status: Option<&'a str>,
}

/// The mode an inventory `EncryptionStatus` names, as the S3 User Guide lists them; anything
/// else, the empty value included, is [`SseMode::Unknown`] with the raw value kept.
pub fn mode_of(status: &str) -> SseMode {
    match status {
        "NOT-SSE" => SseMode::None,
        "SSE-S3" => SseMode::SseS3,
        "SSE-KMS" => SseMode::SseKms,
        "DSSE-KMS" => SseMode::DsseKms,
        "SSE-C" => SseMode::SseC,
        _ => SseMode::Unknown,
    }
}

pub struct Tally {
    source_bucket: String,
    summary: ObjectSummary,
}

impl Tally {
    /// An empty tally for `manifest`'s bucket: noncurrent counters when the inventory lists
    /// versions (it has `IsLatest`), byte sums when it has `Size`.
    pub fn new(manifest: &Manifest) -> Self {
        let versions = manifest.columns.position(Field::IsLatest).is_some();
        let sizes = manifest.columns.position(Field::Size).is_some();
        Tally {
            source_bucket: manifest.source_bucket.clone(),
            summary: ObjectSummary {
                noncurrent: versions.then(ModeCounts::default),
                current_bytes: sizes.then(ModeCounts::default),
                noncurrent_bytes: (sizes && versions).then(ModeCounts::default),
                ..ObjectSummary::default()
            },
        }
    }

    /// Counts one row. Delete markers hold no data and are not objects; rows outside
    /// `prefix` are not counted, as a HEAD scan would not have listed them. A row of another
    /// bucket, or an object row without a size where the inventory has sizes, is bad input.
    pub fn add(&mut self, row: &Row, prefix: Option<&str>) -> Result<(), String> {
        if row.bucket != self.source_bucket {
            return Err(format!(
                "a row of bucket {:?} in the inventory of {:?}",
                row.bucket, self.source_bucket
            ));
        }
        if row.is_delete_marker == Some(true) {
            return Ok(());
        }
        if prefix.is_some_and(|p| !row.key.starts_with(p)) {
            return Ok(());
        }
        let raw = row.encryption_status.unwrap_or("");
        let mode = mode_of(raw);
        let current = row.is_latest != Some(false);
        let s = &mut self.summary;
        let counts = if current {
            &mut s.current
        } else {
            s.noncurrent.get_or_insert_with(ModeCounts::default)
        };
        counts.add(Some(mode));
        let bytes = if current {
            s.current_bytes.as_mut()
        } else {
            s.noncurrent_bytes.as_mut()
        };
        if let Some(bytes) = bytes {
            let size = row
                .size
                .ok_or_else(|| format!("the object {:?} has no Size", row.key))?;
            bytes.add_n(mode, size);
        }
        if mode == SseMode::Unknown {
            note_unknown_value(&mut s.unknown_values, raw);
        }
        let samples = s.samples.entry(mode).or_default();
        let full = samples.len() >= SAMPLE_KEYS;
        // A label starts with its key: a key past the largest kept label cannot get in.
        if !(full && samples.last().is_some_and(|last| row.key > last.as_str())) {
            let label = match (row.version_id, current) {
                (Some(v), false) => format!("{} (version {v})", row.key),
                _ => row.key.to_string(),
            };
            push_bounded(samples, label, SAMPLE_KEYS);
        }
        Ok(())
    }

    /// Adds another file's tally of the same bucket.
    pub fn merge(&mut self, other: Tally) {
        let (s, o) = (&mut self.summary, other.summary);
        s.current.merge(&o.current);
        if let Some(n) = &o.noncurrent {
            s.noncurrent
                .get_or_insert_with(ModeCounts::default)
                .merge(n);
        }
        for (mine, theirs) in [
            (&mut s.current_bytes, o.current_bytes),
            (&mut s.noncurrent_bytes, o.noncurrent_bytes),
        ] {
            if let Some(theirs) = theirs {
                mine.get_or_insert_with(ModeCounts::default).merge(&theirs);
            }
        }
        for (value, n) in o.unknown_values {
            let slot = if s.unknown_values.contains_key(&value)
                || s.unknown_values.len() < MAX_UNKNOWN_VALUES
            {
                value
            } else {
                OTHER_UNKNOWN_VALUES.to_string()
            };
            *s.unknown_values.entry(slot).or_default() += n;
        }
        for (mode, keys) in o.samples {
            let mine = s.samples.entry(mode).or_default();
            for key in keys {
                push_bounded(mine, key, SAMPLE_KEYS);
            }
        }
    }

    pub fn finish(self) -> ObjectSummary {
        self.summary
    }
}

/// As the HEAD scan does: at most [`MAX_UNKNOWN_VALUES`] distinct values of at most
/// [`MAX_UNKNOWN_VALUE_LEN`] bytes, so a file of invented values cannot grow the summary.
pub(crate) fn note_unknown_value(values: &mut BTreeMap<String, u64>, raw: &str) {
    let raw = if raw.len() <= MAX_UNKNOWN_VALUE_LEN {
        raw.to_string()
    } else {
        let mut at = MAX_UNKNOWN_VALUE_LEN;
        while !raw.is_char_boundary(at) {
            at -= 1;
        }
        format!("{}…", &raw[..at])
    };
    if let Some(n) = values.get_mut(&raw) {
        *n += 1;
    } else if values.len() < MAX_UNKNOWN_VALUES {
        values.insert(raw, 1);
    } else {
        *values.entry(OTHER_UNKNOWN_VALUES.to_string()).or_default() += 1;
    }
}

/// Keeps the `max` smallest labels in order: the same samples whatever the order of the
/// files and rows.
pub(crate) fn push_bounded(list: &mut Vec<String>, item: String, max: usize) {
    if list.len() >= max && list.last().is_some_and(|last| &item >= last) {
        return;
    }
    match list.binary_search(&item) {
        Ok(_) => {}
        Err(at) => {
            list.insert(at, item);
            list.truncate(max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_names_its_mode_and_nothing_else_does() {
        assert_eq!(mode_of("NOT-SSE"), SseMode::None);
        assert_eq!(mode_of("SSE-S3"), SseMode::SseS3);
        assert_eq!(mode_of("SSE-KMS"), SseMode::SseKms);
        assert_eq!(mode_of("DSSE-KMS"), SseMode::DsseKms);
        assert_eq!(mode_of("SSE-C"), SseMode::SseC);
        for other in ["", "sse-s3", "SSE-S3 ", "AES256", "aws:kms", "SSE-FSX"] {
            assert_eq!(mode_of(other), SseMode::Unknown, "{other:?}");
        }
    }
}
