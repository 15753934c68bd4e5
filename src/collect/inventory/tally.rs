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
    /// `--verify-sample`: the current objects picked so far.
    sample: Option<Sample>,
}

/// One current object picked for `--verify-sample`: its key and the mode the inventory
/// states for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Picked {
    /// The keyed hash that ranks it (smallest win), then the key: a total order.
    rank: (u64, String),
    pub mode: SseMode,
}

impl Picked {
    pub fn key(&self) -> &str {
        &self.rank.1
    }
}

/// A bottom-k sample: the `size` objects whose keys hash smallest under `seed`. Each key's
/// hash is an independent uniform draw, so the k smallest are a uniform random sample of
/// the keys; unlike reservoir sampling it needs no shared random stream, so files decoded
/// in parallel and merged in any order pick exactly the same objects. Memory is O(size).
#[derive(Debug, Clone)]
pub struct Sample {
    size: usize,
    seed: u64,
    /// A max-heap: the largest kept rank is the one a smaller newcomer evicts.
    kept: std::collections::BinaryHeap<Picked>,
}

impl Sample {
    pub fn new(size: usize, seed: u64) -> Self {
        Sample {
            size,
            seed,
            kept: std::collections::BinaryHeap::with_capacity(size + 1),
        }
    }

    /// The first 8 bytes of MD5(seed ‖ key): MD5 is already here for the files' checksums,
    /// and any well-mixed hash gives uniform ranks (nothing here needs to resist an attacker
    /// who picks key names: the sample only decides which objects to re-read).
    fn hash(&self, key: &str) -> u64 {
        use md5::{Digest, Md5};
        let digest = Md5::new()
            .chain_update(self.seed.to_le_bytes())
            .chain_update(key.as_bytes())
            .finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("MD5 has 16 bytes"))
    }

    fn offer(&mut self, picked: Picked) {
        if self.kept.len() < self.size {
            self.kept.push(picked);
        } else if self.kept.peek().is_some_and(|max| picked < *max) {
            self.kept.pop();
            self.kept.push(picked);
        }
    }

    fn offer_row(&mut self, key: &str, mode: SseMode) {
        let hash = self.hash(key);
        let beats = self.kept.len() < self.size
            || self
                .kept
                .peek()
                .is_some_and(|max| (hash, key) < (max.rank.0, max.rank.1.as_str()));
        if beats {
            self.offer(Picked {
                rank: (hash, key.to_string()),
                mode,
            });
        }
    }

    /// The picked objects in key order.
    pub fn into_sorted(self) -> Vec<Picked> {
        let mut picked = self.kept.into_vec();
        picked.sort_by(|a, b| a.rank.1.cmp(&b.rank.1));
        picked
    }
}

impl Tally {
    /// An empty tally for `manifest`'s bucket: noncurrent counters when the inventory lists
    /// versions (it has `IsLatest`), byte sums when it has `Size`.
    pub fn new(manifest: &Manifest, sample: Option<Sample>) -> Self {
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
            sample,
        }
    }

    /// Counts one row. Delete markers hold no data and are not objects; rows outside
    /// `prefix` are not counted, as a HEAD scan would not have listed them. A row of another
    /// bucket, or an object row without a size where the inventory has sizes, is bad input.
    pub fn add(&mut self, row: &Row, prefix: Option<&str>) -> Result<(), String> {
        self.check_bucket(row.bucket)?;
        let mode = mode_of(row.encryption_status.unwrap_or(""));
        self.add_checked(row, mode, prefix)
    }

    /// Whether a row of `bucket` belongs in this tally: an inventory lists one bucket.
    pub fn check_bucket(&self, bucket: &str) -> Result<(), String> {
        if bucket == self.source_bucket {
            Ok(())
        } else {
            Err(format!(
                "a row of bucket {bucket:?} in the inventory of {:?}",
                self.source_bucket
            ))
        }
    }

    /// [`Self::add`] for a row whose bucket was checked and whose status reads as `mode`,
    /// for a reader that judged each value of a dictionary column once, not once a row.
    pub fn add_checked(
        &mut self,
        row: &Row,
        mode: SseMode,
        prefix: Option<&str>,
    ) -> Result<(), String> {
        if row.is_delete_marker == Some(true) {
            return Ok(());
        }
        if prefix.is_some_and(|p| !row.key.starts_with(p)) {
            return Ok(());
        }
        let raw = row.encryption_status.unwrap_or("");
        let current = row.is_latest != Some(false);
        let s = &mut self.summary;
        let counts = if current {
            &mut s.current
        } else {
            s.noncurrent.get_or_insert_with(ModeCounts::default)
        };
        counts.add(Some(mode));
        if let (true, Some(sample)) = (current, &mut self.sample) {
            sample.offer_row(row.key, mode);
        }
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
        if let (Some(mine), Some(theirs)) = (&mut self.sample, other.sample) {
            for picked in theirs.kept {
                mine.offer(picked);
            }
        }
        merge_summary(&mut self.summary, other.summary);
    }

    /// The counts, and the `--verify-sample` picks (in key order) when sampling.
    pub fn finish(self) -> (ObjectSummary, Option<Vec<Picked>>) {
        (self.summary, self.sample.map(Sample::into_sorted))
    }
}

/// Adds the counts of another part of the same inventory (a data file, or another shard's
/// share of the files, `s3audit merge`): counts and bytes add up, unknown values and sampled
/// keys are kept bounded as one pass over every row keeps them, so the result does not
/// depend on how the files were split or in which order the parts are added.
pub(crate) fn merge_summary(s: &mut ObjectSummary, o: ObjectSummary) {
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

    /// The same seed picks the same objects however the rows are split into files and
    /// merged; another seed picks others; never more than asked.
    #[test]
    fn the_sample_is_the_same_whatever_the_file_order() {
        let keys: Vec<String> = (0..500).map(|i| format!("k{i:04}")).collect();
        let pick = |order: &[std::ops::Range<usize>], seed: u64| -> Vec<String> {
            let mut total = Sample::new(7, seed);
            for part in order {
                let mut file = Sample::new(7, seed);
                for k in &keys[part.clone()] {
                    file.offer_row(k, SseMode::SseS3);
                }
                for p in file.kept {
                    total.offer(p);
                }
            }
            total
                .into_sorted()
                .iter()
                .map(|p| p.key().to_string())
                .collect()
        };
        let one = pick(&[0..250, 250..500], 1);
        assert_eq!(one.len(), 7);
        assert_eq!(pick(&[300..500, 0..120, 120..300], 1), one);
        assert_ne!(pick(&[0..250, 250..500], 2), one);
        assert!(one.windows(2).all(|w| w[0] < w[1]), "key order: {one:?}");
    }

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
