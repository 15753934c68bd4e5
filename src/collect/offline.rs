//! `scan --offline`: an audit of local S3 Inventory reports and S3 Metadata tables alone, with no AWS call at all
//! (no credentials, no endpoint, no network), for an auditor handed copies of the
//! inventories, or a machine that must not reach AWS.
//!
//! The buckets are the inventories' source buckets and the tables' buckets (narrowed by
//! `--bucket`/`--exclude`).
//! Their objects are counted exactly as an online scan counts an inventory; their settings,
//! policies and keys were not read, and the snapshot says so fact by fact
//! ([`BucketSnapshot::not_read`]): the rules that need them are `error`, never `pass`, and
//! the scan is incomplete (exit 3 unless something fails), with `scope.offline` recorded.

use time::OffsetDateTime;

use super::{ScanError, ScanSettings, buckets::ListedBucket, inventory, scan_object_source};
use crate::model::{
    BucketSnapshot, Estate, ObjectScanInfo, SNAPSHOT_VERSION, ScanInfo, ScanScope, ShardScope,
    bucket_regions,
};

/// Why each bucket fact of an offline scan is unknown, as the gaps and the rules say it.
pub const NOT_READ_OFFLINE: &str = "--offline: no AWS API was called, only the S3 Inventory reports and metadata tables given were read (scan without --offline to judge bucket settings)";

/// The region recorded as the scan's start when none was configured: an offline scan
/// started from no region, and naming one would be a guess.
const NO_REGION: &str = "(offline)";

pub(super) async fn scan(settings: &ScanSettings) -> Result<Estate, ScanError> {
    let started_at = OffsetDateTime::now_utc();
    let manifests = inventory::read_manifests(None, &settings.inventories).await?;
    // A table names its bucket only in its rows: read first, selected with the rest.
    let tables = super::read_tables(None, settings, None, &manifests).await?;
    let listed = manifests
        .iter()
        .map(|(_, m)| m.source_bucket.clone())
        .chain(tables.iter().map(|(bucket, _)| bucket.clone()))
        .map(|name| ListedBucket { name, region: None })
        .collect();
    let selected = super::select(listed, &settings.buckets, &settings.exclude)?;
    let is_selected = |name: &str| selected.iter().any(|b| b.name == name);
    inventory::check_sources(&manifests, is_selected)?;
    if let Some((bucket, _)) = tables.iter().find(|(bucket, _)| !is_selected(bucket)) {
        return Err(super::metadata_table::TableError(format!(
            "the metadata table of bucket {bucket} is for a bucket left out by --bucket/--exclude: drop it or the filter"
        ))
        .into());
    }
    let prefix = settings.objects.as_ref().and_then(|o| o.prefix.clone());
    let inventory_settings = inventory::InventorySettings {
        shard: settings.shard,
        ..inventory::InventorySettings::new(prefix.clone())
    };
    let order: Vec<String> = selected.iter().map(|b| b.name.clone()).collect();
    let mut buckets = Vec::with_capacity(manifests.len());
    for (spec, manifest) in manifests {
        // Sharded: the owner holds the bucket (its facts, all not read, and its share of
        // the files); another shard only its share of the files, when it has any.
        let reason = match settings.shard {
            Some(s) if !s.owns(&manifest.source_bucket) => {
                if !manifest.files.iter().any(|f| inventory_settings.decodes(f)) {
                    continue;
                }
                s.not_owner_reason(&manifest.source_bucket)
            }
            _ => NOT_READ_OFFLINE.to_string(),
        };
        let mut bucket = BucketSnapshot::not_read(&manifest.source_bucket, &reason);
        bucket.objects = Some(
            inventory::load(None, spec, manifest, &inventory_settings)
                .await?
                .summary,
        );
        buckets.push(bucket);
    }
    // The rows' KMS key ARNs stay as written: resolving them would call KMS, so OBJ-003/004
    // find no record of those keys and say so (error, never pass).
    for (name, summary) in tables {
        let mut bucket = BucketSnapshot::not_read(&name, NOT_READ_OFFLINE);
        bucket.objects = Some(summary);
        buckets.push(bucket);
    }
    let region = settings
        .connection
        .region
        .clone()
        .unwrap_or_else(|| NO_REGION.to_string());
    Ok(Estate {
        snapshot_version: SNAPSHOT_VERSION,
        scan: ScanInfo {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at,
            finished_at: OffsetDateTime::now_utc(),
            account: None,
            principal: None,
            endpoint: None,
            region: region.clone(),
            objects: Some(ObjectScanInfo {
                versions: false,
                prefix: prefix.clone(),
                sample: None,
            }),
            gaps: Vec::new(),
            scope: Some(ScanScope {
                buckets: settings.buckets.clone(),
                exclude: settings.exclude.clone(),
                object_source: scan_object_source(true, &buckets),
                prefix,
                sample: None,
                versions: false,
                regions: bucket_regions(&buckets),
                start_region: region,
                inferred: false,
                offline: true,
                shard: settings.shard.map(|s| ShardScope {
                    index: s.index,
                    count: s.count,
                    buckets: order,
                }),
            }),
            command_line: Some(settings.command_line.clone()),
            tool_commit: crate::provenance::tool_commit().map(str::to_string),
            accounts: Vec::new(),
        },
        buckets,
        keys: Default::default(),
    })
}
