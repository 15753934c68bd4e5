//! `scan --shard I/N` and `s3audit merge`: one audit split across machines (a Kubernetes
//! Indexed Job, an AWS Batch array job) and put back together.
//!
//! Who reads what is decided by a stable hash, so every shard decides alone and the same
//! way: a bucket belongs to shard `h(name) mod N`, which reads its settings, resolves its
//! default key and HEADs its objects; an S3 Inventory's data files belong to shard
//! `h(file key) mod N`, so one big bucket's inventory is decoded by every shard and each
//! reports its partial counts. `h` is the first 8 bytes of MD5, little-endian: fixed
//! forever (std's hasher may change between Rust releases, and shards may be built apart).
//!
//! [`merge`] checks that its inputs are every shard of one run, exactly once and with the
//! same settings, then takes each bucket's facts from its owner and adds up the partial
//! counts: the result is the snapshot one whole run would have written, which `evaluate`
//! judges like any other.

use std::collections::BTreeMap;
use std::fmt;

use md5::{Digest, Md5};

use crate::model::{BucketSnapshot, Estate, ObjectSummary, ScanScope, bucket_regions};

/// Where an index comes from under `--shard auto/N`: a Kubernetes Indexed Job's pods and an
/// AWS Batch array job's children each get their index in one of these.
pub const INDEX_VARIABLES: [(&str, &str); 2] = [
    ("JOB_COMPLETION_INDEX", "Kubernetes Indexed Job"),
    ("AWS_BATCH_JOB_ARRAY_INDEX", "AWS Batch array job"),
];

/// One shard of a run: `index` of `count`, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// `--shard I/N` (0 <= I < N), or `--shard auto/N` with I from [`INDEX_VARIABLES`]
    /// (`env` looks a variable up). The error is the one line the user sees.
    pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard {spec}: expected I/N, this run's index I (from 0) of N shards (e.g. 2/8), or auto/N to read I from JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX"
            )
        };
        let (index, count) = spec.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!("--shard {spec}: N must be at least 1"));
        }
        let (index, from) = if index == "auto" {
            let found: Vec<(&str, String)> = INDEX_VARIABLES
                .iter()
                .filter_map(|(var, _)| env(var).map(|v| (*var, v)))
                .collect();
            match found.as_slice() {
                [] => {
                    return Err(format!(
                        "--shard {spec}: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job) is set: give the index as --shard I/{count}"
                    ));
                }
                [(a, x), (b, y)] if x.trim() != y.trim() => {
                    return Err(format!(
                        "--shard {spec}: {a}={x} and {b}={y} disagree: give the index as --shard I/{count}"
                    ));
                }
                [(var, value), ..] => {
                    let index = value.trim().parse::<u32>().map_err(|_| {
                        format!("--shard {spec}: {var}={value:?} is not a shard index")
                    })?;
                    (index, format!(" ({var}={value})"))
                }
            }
        } else {
            (index.trim().parse().map_err(|_| bad())?, String::new())
        };
        if index >= count {
            return Err(format!(
                "--shard {spec}: the index{from} must be below N, from 0 to {} (the job's parallelism or array size must be {count})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard that owns `name` (a bucket name or an inventory file's key) among `count`.
    pub fn owner(name: &str, count: u32) -> u32 {
        let digest = Md5::digest(name.as_bytes());
        let h = u64::from_le_bytes(digest[..8].try_into().expect("MD5 has 16 bytes"));
        (h % u64::from(count.max(1))) as u32
    }

    /// Whether this shard owns `name`.
    pub fn owns(&self, name: &str) -> bool {
        Shard::owner(name, self.count) == self.index
    }

    /// Why a bucket's settings are not in this shard's snapshot (it holds only this shard's
    /// share of the bucket's inventory files).
    pub fn not_owner_reason(&self, bucket: &str) -> String {
        format!(
            "read by shard {}/{} (--shard {self} holds only its share of this bucket's S3 Inventory files)",
            Shard::owner(bucket, self.count),
            self.count
        )
    }
}

/// Why snapshots cannot be merged: one line, naming the input or the shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(pub String);

/// The scope a shard's settings are compared on: everything but which shard it is and what
/// depends on its share of the buckets (the object source and regions it happened to read).
fn comparable(scope: &ScanScope) -> ScanScope {
    let mut scope = scope.clone();
    scope.shard = None;
    scope.regions.clear();
    scope.object_source = crate::model::ScanObjectSource::None;
    scope
}

/// Combines every shard's snapshot of one run (`named`: each with the name messages use)
/// into the snapshot of the whole run. `command_line` is the merge's own, recorded as how
/// the merged snapshot was made.
pub fn merge(
    named: Vec<(String, Estate)>,
    command_line: Vec<String>,
) -> Result<Estate, MergeError> {
    let fail = |m: String| Err(MergeError(m));
    let mut shards = Vec::with_capacity(named.len());
    for (name, estate) in named {
        let Some(shard) = estate.scan.scope.as_ref().and_then(|s| s.shard.clone()) else {
            return fail(format!(
                "{name} is not a shard's snapshot (scan --shard I/N --save-snapshot): nothing to merge"
            ));
        };
        shards.push((name, shard, estate));
    }
    let Some((first_name, first, _)) = shards.first() else {
        return fail("no snapshot to merge".to_string());
    };
    let (first_name, count) = (first_name.clone(), first.count);
    for (name, shard, _) in &shards {
        if shard.count != count {
            return fail(format!(
                "{name} is shard {}/{} but {first_name} is of {count} shards: not shards of one run",
                shard.index, shard.count
            ));
        }
    }
    let mut by_index: BTreeMap<u32, &str> = BTreeMap::new();
    for (name, shard, _) in &shards {
        if let Some(other) = by_index.insert(shard.index, name) {
            return fail(format!(
                "duplicate shard {}/{count}: {other} and {name}",
                shard.index
            ));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return fail(format!(
            "missing shard {}: merge needs every shard of the run, each once",
            missing.join(", ")
        ));
    }
    shards.sort_by_key(|(_, shard, _)| shard.index);

    // The same run: same build, same account and endpoint, same settings, same buckets.
    let (base_name, base_shard, base) = &shards[0];
    let base_scope = comparable(base.scan.scope.as_ref().expect("checked above"));
    for (name, shard, estate) in &shards[1..] {
        let (a, b) = (&base.scan, &estate.scan);
        let differs = [
            (
                "s3audit version",
                a.tool_version != b.tool_version || a.tool_commit != b.tool_commit,
            ),
            ("account", a.account != b.account),
            ("endpoint", a.endpoint != b.endpoint),
            ("start region", a.region != b.region),
            ("object settings", a.objects != b.objects),
            (
                "scan settings",
                comparable(b.scope.as_ref().expect("checked above")) != base_scope,
            ),
            ("selected buckets", shard.buckets != base_shard.buckets),
        ];
        if let Some((what, _)) = differs.iter().find(|(_, d)| *d) {
            return fail(format!(
                "mismatched settings: {name} (shard {}/{count}) and {base_name} (shard {}/{count}) differ in {what}: not shards of one run",
                shard.index, base_shard.index
            ));
        }
    }

    let order = base_shard.buckets.clone();
    let mut facts: BTreeMap<String, BucketSnapshot> = BTreeMap::new();
    let mut objects: BTreeMap<String, (u32, ObjectSummary)> = BTreeMap::new();
    let mut keys = BTreeMap::new();
    let mut gaps: Vec<String> = Vec::new();
    let (mut started, mut finished) = (base.scan.started_at, base.scan.finished_at);
    for (name, shard, estate) in &shards {
        started = started.min(estate.scan.started_at);
        finished = finished.max(estate.scan.finished_at);
        for gap in &estate.scan.gaps {
            if !gaps.contains(gap) {
                gaps.push(gap.clone());
            }
        }
        for (id, key) in &estate.keys {
            keys.entry(id.clone()).or_insert_with(|| key.clone());
        }
        for bucket in &estate.buckets {
            let here = format!("{name} (shard {}/{count})", shard.index);
            if !order.contains(&bucket.name) {
                return fail(format!(
                    "{here} has bucket {}, which the run did not select",
                    bucket.name
                ));
            }
            let owner = Shard::owner(&bucket.name, count);
            let summary = bucket.objects.clone();
            if owner == shard.index {
                facts.insert(bucket.name.clone(), bucket.clone());
            } else if !summary
                .as_ref()
                .and_then(|s| s.source.as_ref())
                .is_some_and(|s| matches!(s, crate::model::ObjectSource::Inventory { .. }))
            {
                return fail(format!(
                    "{here} has bucket {} of shard {owner}/{count} without S3 Inventory counts: not a shard of this run",
                    bucket.name
                ));
            }
            let Some(summary) = summary else { continue };
            match objects.get_mut(&bucket.name) {
                None => {
                    objects.insert(bucket.name.clone(), (shard.index, summary));
                }
                Some((from, mine)) => {
                    let inventory = |s: &ObjectSummary| {
                        matches!(s.source, Some(crate::model::ObjectSource::Inventory { .. }))
                    };
                    if !inventory(mine) || !inventory(&summary) || mine.source != summary.source {
                        return fail(format!(
                            "bucket {}: shards {from}/{count} and {}/{count} counted its objects from different sources: not shards of one run",
                            bucket.name, shard.index
                        ));
                    }
                    crate::collect::inventory::tally::merge_summary(mine, summary);
                }
            }
        }
    }
    let mut buckets = Vec::with_capacity(order.len());
    for name in &order {
        let Some(mut bucket) = facts.remove(name) else {
            return fail(format!(
                "bucket {name} is not in the snapshot of shard {}/{count}, which owns it: not that shard's snapshot of this run",
                Shard::owner(name, count)
            ));
        };
        bucket.objects = objects.remove(name).map(|(_, s)| s);
        buckets.push(bucket);
    }

    let mut scan = base.scan.clone();
    let mut scope = scan.scope.take().expect("checked above");
    scope.shard = None;
    scope.regions = bucket_regions(&buckets);
    scope.object_source = crate::collect::scan_object_source(scan.objects.is_some(), &buckets);
    scan.scope = Some(scope);
    scan.started_at = started;
    scan.finished_at = finished;
    scan.gaps = gaps;
    scan.command_line = Some(command_line);
    scan.accounts = merged_account(shards.iter().map(|(_, _, e)| e.scan.accounts.as_slice()))
        .into_iter()
        .collect();
    Ok(Estate {
        snapshot_version: base.snapshot_version,
        scan,
        buckets,
        keys,
    })
}

/// The one account of the shards (each recorded it only if it met an opt-in region): the
/// regions not enabled that any shard's buckets are in, or the first shard's reason when
/// one could not read their status (its buckets there were then read as any other).
fn merged_account<'a>(
    shards: impl Iterator<Item = &'a [crate::model::AccountInfo]>,
) -> Option<crate::model::AccountInfo> {
    use crate::model::Observed;
    let mut merged: Option<crate::model::AccountInfo> = None;
    for info in shards.flat_map(|accounts| accounts.first()) {
        let Some(mine) = &mut merged else {
            merged = Some(info.clone());
            continue;
        };
        mine.disabled_regions = match (mine.disabled_regions.take(), &info.disabled_regions) {
            (Some(Observed::Present(mut a)), Some(Observed::Present(b))) => {
                a.extend(b.iter().cloned());
                a.sort();
                a.dedup();
                Some(Observed::Present(a))
            }
            (Some(Observed::Present(_)) | None, other) => other.clone(),
            (unknown, _) => unknown,
        };
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_merge_the_opt_in_regions_their_buckets_met() {
        use crate::model::{AccountInfo, Observed};
        let with = |regions: Option<Observed<Vec<String>>>| AccountInfo {
            disabled_regions: regions,
            ..AccountInfo::single(Some("111122223333".into()))
        };
        let present =
            |r: &[&str]| Some(Observed::Present(r.iter().map(|s| s.to_string()).collect()));
        let a = [with(present(&["me-south-1"]))];
        let b = [with(present(&["ap-east-1", "me-south-1"]))];
        let merged = merged_account([&a[..], &[], &b[..]].into_iter()).unwrap();
        assert_eq!(
            merged.disabled_regions,
            present(&["ap-east-1", "me-south-1"])
        );
        let denied = [with(Some(Observed::Denied {
            reason: "ListRegions: AccessDeniedException".into(),
        }))];
        let merged = merged_account([&a[..], &denied[..]].into_iter()).unwrap();
        assert!(matches!(
            merged.disabled_regions,
            Some(Observed::Denied { .. })
        ));
        assert!(merged_account([&[][..], &[][..]].into_iter()).is_none());
    }

    fn parse(spec: &str, vars: &[(&str, &str)]) -> Result<Shard, String> {
        Shard::parse(spec, |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn shards_parse_from_flags_and_job_indexes() {
        assert_eq!(parse("2/8", &[]), Ok(Shard { index: 2, count: 8 }));
        assert_eq!(parse("0/1", &[]), Ok(Shard { index: 0, count: 1 }));
        for bad in ["3/3", "8/3", "1/0", "x/3", "3", "", "-1/3", "1/3/4"] {
            let e = parse(bad, &[]).unwrap_err();
            assert!(e.starts_with(&format!("--shard {bad}:")), "{bad}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        assert!(parse("3/3", &[]).unwrap_err().contains("from 0 to 2"));
        let k8s = [("JOB_COMPLETION_INDEX", "4")];
        assert_eq!(parse("auto/5", &k8s), Ok(Shard { index: 4, count: 5 }));
        let batch = [("AWS_BATCH_JOB_ARRAY_INDEX", "1")];
        assert_eq!(parse("auto/2", &batch), Ok(Shard { index: 1, count: 2 }));
        let none = parse("auto/2", &[]).unwrap_err();
        assert!(
            none.contains("JOB_COMPLETION_INDEX") && none.contains("AWS_BATCH_JOB_ARRAY_INDEX"),
            "{none}"
        );
        assert!(
            parse("auto/4", &k8s)
                .unwrap_err()
                .contains("JOB_COMPLETION_INDEX=4")
        );
        let both = [
            ("JOB_COMPLETION_INDEX", "1"),
            ("AWS_BATCH_JOB_ARRAY_INDEX", "2"),
        ];
        assert!(parse("auto/4", &both).unwrap_err().contains("disagree"));
        let junk = [("JOB_COMPLETION_INDEX", "one")];
        assert!(
            parse("auto/4", &junk)
                .unwrap_err()
                .contains("not a shard index")
        );
    }

    /// The owner of a name never changes (snapshots of one run may be made by builds on
    /// different machines), and names spread over every shard.
    #[test]
    fn ownership_is_fixed_and_spread() {
        assert_eq!(Shard::owner("my-bucket", 8), Shard::owner("my-bucket", 8));
        // MD5("a") starts 0c c1 75 b9 c0 f1 b6 a8: little-endian 0xa8b6f1c0b975c10c.
        assert_eq!(
            Shard::owner("a", 1000),
            (0xa8b6_f1c0_b975_c10c_u64 % 1000) as u32
        );
        let mut seen = [0u32; 4];
        for i in 0..400 {
            seen[Shard::owner(&format!("bucket-{i}"), 4) as usize] += 1;
        }
        assert!(seen.iter().all(|n| (60..140).contains(n)), "{seen:?}");
        assert_eq!(Shard::owner("anything", 1), 0);
    }
}
