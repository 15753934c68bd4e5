//! `scan --verify-sample N`: does the inventory still describe the live objects? N of its
//! current objects, picked at random while the files are decoded ([`super::Picked`]), are
//! HEADed through the scan's own HEAD path; this module compares the answers with the
//! inventory's rows. A mode that differs or an object that is gone is a disagreement
//! (OBJ-008); the sampled objects' KMS keys fill the bucket's per-key breakdown, marked as a
//! sample, so OBJ-003/004 can judge at least those keys.

use std::collections::BTreeMap;

use super::Picked;
use crate::collect::objects::ObjectScanner;
use crate::model::{
    BucketSnapshot, Disagreement, InventoryCheck, MAX_DISAGREEMENTS, ObjectRecord, ObjectSummary,
    UnreadableObject,
};

/// HEADs each bucket's picked objects (`samples`: bucket name, picks) and records what they
/// say in the bucket's summary. `verify`: `--verify-sample N` and the seed.
pub(in crate::collect) async fn verify_buckets(
    scanner: &ObjectScanner,
    mut buckets: Vec<&mut BucketSnapshot>,
    samples: Vec<(String, Vec<Picked>)>,
    (requested, seed): (usize, u64),
) {
    for (name, picked) in samples {
        let Some(bucket) = buckets.iter_mut().find(|b| b.name == name) else {
            continue;
        };
        let keys = picked.iter().map(|p| p.key().to_string()).collect();
        let live = scanner.head_keys(bucket, keys).await;
        if let Some(summary) = bucket.objects.as_mut() {
            apply(summary, requested as u64, seed, &picked, live);
        }
    }
}

/// Keys named per KMS key in the sampled breakdown, as the HEAD scan keeps.
const SAMPLE_KEYS: usize = 10;

/// Folds the HEADs of the picked objects (`live`, in any order) into `summary`.
pub fn apply(
    summary: &mut ObjectSummary,
    requested: u64,
    seed: u64,
    picked: &[Picked],
    live: Vec<ObjectRecord>,
) {
    let mut live: BTreeMap<String, ObjectRecord> =
        live.into_iter().map(|r| (r.key.clone(), r)).collect();
    let mut check = InventoryCheck {
        requested,
        seed,
        ..InventoryCheck::default()
    };
    for p in picked {
        let Some(record) = live.remove(p.key()) else {
            continue;
        };
        check.headed += 1;
        match (record.mode, record.error) {
            (None, Some(e)) if e.starts_with(crate::collect::objects::NOT_FOUND) => {
                disagree(&mut check, p, None)
            }
            (None, e) => check.unreadable.push(UnreadableObject {
                key: record.key,
                version_id: None,
                reason: e.unwrap_or_else(|| "not read".to_string()),
            }),
            (Some(mode), _) if mode == p.mode => check.agreed += 1,
            (Some(mode), _) => disagree(&mut check, p, Some(mode)),
        }
        if let Some(k) = record.kms_key {
            *summary.by_key.entry(k.clone()).or_default() += 1;
            let keys = summary.key_samples.entry(k).or_default();
            if keys.len() < SAMPLE_KEYS {
                // `picked` is in key order, so these are too.
                keys.push(p.key().to_string());
            }
        }
    }
    summary.verified = Some(check);
}

fn disagree(check: &mut InventoryCheck, p: &Picked, live: Option<crate::model::SseMode>) {
    check.disagreement_count += 1;
    if check.disagreements.len() < MAX_DISAGREEMENTS {
        check.disagreements.push(Disagreement {
            key: p.key().to_string(),
            inventory: p.mode,
            live,
            missing: live.is_none(),
        });
    }
}
