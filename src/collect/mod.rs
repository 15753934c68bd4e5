//! Collection: the only code that talks to AWS. It turns SDK answers into the plain
//! snapshot types of [`crate::model`]; access denied, throttling and missing
//! configuration are recorded there as facts, never swallowed.

pub mod accounts;
mod buckets;
pub mod clients;
mod credentials;
pub mod errors;
mod head;
pub mod inventory;
mod keys;
mod listing;
mod objects;
mod pace;
mod partition;
mod progress;
mod tls;
mod whole_xml;

use std::sync::Arc;

use futures::StreamExt;
use s3audit_policy::glob::Glob;
use time::OffsetDateTime;

pub use clients::{Clients, ConnectionSettings};
use errors::CallFailure;
pub use objects::ObjectScanSettings;

use crate::model::{
    BucketSnapshot, Estate, ObjectRecord, ObjectScanInfo, ObjectSource, SNAPSHOT_VERSION, ScanInfo,
    ScanObjectSource, ScanScope, bucket_regions,
};

/// What to scan, validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    pub connection: ConnectionSettings,
    /// Only these buckets (exact names); empty means all.
    pub buckets: Vec<String>,
    /// Skip buckets whose name matches any of these globs (`*`, `?`).
    pub exclude: Vec<String>,
    /// Buckets read at once.
    pub bucket_concurrency: usize,
    /// How to scan objects; `None` skips the object scan.
    pub objects: Option<ObjectScanSettings>,
    /// Stop reading once this much time has passed since the scan started (`--timeout`):
    /// whatever was not read by then is reported as not read, and the scan as incomplete.
    pub timeout: Option<std::time::Duration>,
    /// The command line that asked for this scan, secrets already removed, recorded in the
    /// snapshot as `scan.command_line`.
    pub command_line: Vec<String>,
    /// `--inventory`: manifests whose source buckets' objects are counted from S3 Inventory
    /// instead of HEADs (see [`inventory`]).
    pub inventories: Vec<String>,
    /// `--organization` / `--accounts`: scan these accounts through an assumed role each
    /// (see [`accounts`]); `None` scans the credentials' own account.
    pub accounts: Option<accounts::AccountSettings>,
}

/// Errors that stop a scan before it produced anything worth reporting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    /// Missing or rejected credentials; the message says which and what to do.
    #[error("{0}")]
    Credentials(String),
    #[error("access denied listing buckets (s3:ListAllMyBuckets is required): {0}")]
    ListDenied(String),
    #[error("listing buckets failed: {0}")]
    ListFailed(String),
    /// `--organization`: the organization could not be listed (not the management or a
    /// delegated administrator account, or organizations:List* denied).
    #[error("{0}")]
    Organization(String),
    #[error("no such bucket in this account: {}", .0.join(", "))]
    UnknownBuckets(Vec<String>),
    /// An `--inventory` that cannot be used: checksum mismatch, missing file, bad schema.
    #[error("{0}")]
    Inventory(#[from] inventory::InventoryError),
    #[error(transparent)]
    Setup(#[from] anyhow::Error),
}

/// Runs a scan and returns the estate it observed. Each object read is also sent to
/// `inventory`, if given, as it is read.
pub async fn scan(
    settings: &ScanSettings,
    inventory: Option<tokio::sync::mpsc::Sender<ObjectRecord>>,
) -> Result<Estate, ScanError> {
    let clients = Arc::new(Clients::new(&settings.connection).await?);
    match &settings.accounts {
        Some(accounts) => accounts::scan_accounts(clients, settings, accounts, inventory).await,
        None => scan_with(clients, settings, inventory).await,
    }
}

/// Scans the one account `clients`' credentials belong to.
async fn scan_with(
    clients: Arc<Clients>,
    settings: &ScanSettings,
    inventory: Option<tokio::sync::mpsc::Sender<ObjectRecord>>,
) -> Result<Estate, ScanError> {
    let started_at = OffsetDateTime::now_utc();
    let endpoint = clients.endpoint_url().map(str::to_string);

    let deadline = settings
        .timeout
        .map(|t| (tokio::time::Instant::now() + t, t));
    let listing = buckets::list_buckets(&clients)
        .await
        .map_err(|f| listing_failed(f, endpoint.as_deref(), &clients.home_region))?;
    let mut gaps = listing.gaps;
    for gap in &gaps {
        tracing::warn!("{gap}");
    }
    let selected = select(listing.buckets, &settings.buckets, &settings.exclude)?;
    // Manifests first: one for a bucket this scan does not read is a usage error now, not
    // after every bucket was read.
    let manifests = inventory::read_manifests(&clients, &settings.inventories).await?;
    for (spec, m) in &manifests {
        if !selected.iter().any(|b| b.name == m.source_bucket) {
            return Err(inventory::InventoryError(format!(
                "inventory {spec}: its source bucket {} is not one this scan reads (not in the account, or left out by --bucket/--exclude): its settings could not be judged with its objects",
                m.source_bucket
            ))
            .into());
        }
    }
    tracing::info!(buckets = selected.len(), "reading bucket configuration");

    let (account, principal) = identity(&clients).await;
    let resolver = Arc::new(keys::KeyResolver::new(clients.clone()));
    let mut snapshots: Vec<_> = futures::stream::iter(selected.iter())
        .map(|listed| {
            let clients = &clients;
            let resolver = &resolver;
            async move {
                let read = async {
                    let mut bucket = buckets::read_bucket(clients, listed).await;
                    resolve_default_keys(&mut bucket, resolver, &clients.home_region).await;
                    bucket
                };
                match deadline {
                    None => read.await,
                    Some((at, limit)) => match tokio::time::timeout_at(at, read).await {
                        Ok(bucket) => bucket,
                        Err(_) => BucketSnapshot::not_read(
                            &listed.name,
                            &format!(
                                "not read before the --timeout of {} ran out",
                                limit_text(limit)
                            ),
                        ),
                    },
                }
            }
        })
        .buffered(settings.bucket_concurrency.max(1))
        .collect()
        .await;

    if let Some(object_settings) = &settings.objects {
        // Buckets with an inventory are counted from it; the HEAD scan reads the others.
        let inventory_settings = inventory::InventorySettings {
            prefix: object_settings.prefix.clone(),
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
        };
        let mut from_inventory = Vec::new();
        for (spec, manifest) in manifests {
            let bucket = manifest.source_bucket.clone();
            let loaded = inventory::load(&clients, spec, manifest, &inventory_settings).await?;
            from_inventory.push((bucket, loaded.summary));
        }
        let (mut counted, to_head): (Vec<_>, Vec<_>) = std::mem::take(&mut snapshots)
            .into_iter()
            .enumerate()
            .partition(|(_, b)| from_inventory.iter().any(|(name, _)| *name == b.name));
        for (_, bucket) in &mut counted {
            if let Some(at) = from_inventory
                .iter()
                .position(|(name, _)| *name == bucket.name)
            {
                bucket.objects = Some(from_inventory.swap_remove(at).1);
            }
        }
        let (order, mut heads): (Vec<usize>, Vec<BucketSnapshot>) = to_head.into_iter().unzip();
        let direct = if object_settings.direct_heads {
            Some(clients.head_client(object_settings.concurrency)?)
        } else {
            None
        };
        let scanner = objects::ObjectScanner {
            direct,
            clients: clients.clone(),
            resolver: resolver.clone(),
            settings: object_settings.clone(),
            heads: Arc::new(tokio::sync::Semaphore::new(
                object_settings.concurrency.max(1),
            )),
            sink: inventory,
            deadline,
            pacer: pace::Pacer::new(
                object_settings.max_rps,
                object_settings.concurrency.max(1) * 2,
            ),
            progress: progress::Progress::on_terminal(
                object_settings
                    .sample
                    .map(|n| n.saturating_mul(heads.len() as u64)),
            ),
        };
        scanner.scan_buckets(&mut heads).await;
        counted.extend(order.into_iter().zip(heads));
        counted.sort_by_key(|(i, _)| *i);
        snapshots = counted.into_iter().map(|(_, b)| b).collect();
    }
    if let Some((at, limit)) = deadline
        && tokio::time::Instant::now() >= at
    {
        gaps.push(format!(
            "the scan stopped when its --timeout of {} ran out: what was not read by then is named per bucket",
            limit_text(limit)
        ));
    }

    // Every bucket is the credentials' account's: ListBuckets lists only the caller's.
    for bucket in &mut snapshots {
        bucket.account.clone_from(&account);
    }
    Ok(Estate {
        snapshot_version: SNAPSHOT_VERSION,
        scan: ScanInfo {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at,
            finished_at: OffsetDateTime::now_utc(),
            account,
            principal,
            endpoint,
            region: clients.home_region.clone(),
            objects: settings.objects.as_ref().map(|o| ObjectScanInfo {
                versions: o.versions,
                prefix: o.prefix.clone(),
                sample: o.sample,
            }),
            gaps,
            scope: Some(ScanScope {
                buckets: settings.buckets.clone(),
                exclude: settings.exclude.clone(),
                object_source: scan_object_source(settings.objects.is_some(), &snapshots),
                prefix: settings.objects.as_ref().and_then(|o| o.prefix.clone()),
                sample: settings.objects.as_ref().and_then(|o| o.sample),
                versions: settings.objects.as_ref().is_some_and(|o| o.versions),
                regions: bucket_regions(&snapshots),
                start_region: clients.home_region.clone(),
                inferred: false,
            }),
            command_line: Some(settings.command_line.clone()),
            tool_commit: crate::provenance::tool_commit().map(str::to_string),
            accounts: Vec::new(),
        },
        buckets: snapshots,
        keys: resolver.take_records(),
    })
}

/// Why the scan cannot start: ListBuckets is the first call, so its failure says whether
/// the endpoint, the credentials or the permissions are wrong.
fn listing_failed(f: CallFailure, endpoint: Option<&str>, home_region: &str) -> ScanError {
    if f.is_credentials() {
        return ScanError::Credentials(match &f {
            CallFailure::Request(m) => m.clone(),
            other => format!("credentials rejected: {other}"),
        });
    }
    match f {
        CallFailure::Unreachable(detail) => ScanError::Unreachable {
            endpoint: endpoint.map_or_else(
                || format!("the S3 endpoint of region {home_region}"),
                str::to_string,
            ),
            detail,
        },
        f if f.is_denied() => ScanError::ListDenied(f.to_string()),
        f => ScanError::ListFailed(f.to_string()),
    }
}

/// A duration as `--timeout` takes it (`90s`, `10m`, `1h 30m`).
pub fn limit_text(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Applies `--bucket` and `--exclude`. Naming a bucket the account does not have is a
/// usage error, not an empty report.
fn select(
    listed: Vec<buckets::ListedBucket>,
    only: &[String],
    exclude: &[String],
) -> Result<Vec<buckets::ListedBucket>, ScanError> {
    let unknown: Vec<String> = only
        .iter()
        .filter(|n| !listed.iter().any(|b| &b.name == *n))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(ScanError::UnknownBuckets(unknown));
    }
    // The same `*`/`?` matcher the policy engine uses for ARNs (linear in the name).
    let exclude: Vec<Glob> = exclude.iter().map(|g| Glob::new(g)).collect();
    Ok(listed
        .into_iter()
        .filter(|b| only.is_empty() || only.contains(&b.name))
        .filter(|b| !exclude.iter().any(|g| g.is_match(&b.name)))
        .collect())
}

/// Who ran the scan, for the report. Best effort: some S3-compatible stores have no STS.
async fn identity(clients: &Clients) -> (Option<String>, Option<String>) {
    match clients.sts().get_caller_identity().send().await {
        Ok(id) => (id.account, id.arn),
        Err(e) => {
            tracing::warn!("caller identity unknown: {}", CallFailure::from_sdk(e));
            (None, None)
        }
    }
}

/// Canonicalises the default-encryption key of a bucket. An SSE-KMS default without a
/// key id uses the region's aws/s3 key, which is resolved too, so KMS rules can judge it.
async fn resolve_default_keys(
    bucket: &mut crate::model::BucketSnapshot,
    resolver: &keys::KeyResolver,
    home_region: &str,
) {
    let region = bucket
        .region
        .present()
        .cloned()
        .unwrap_or_else(|| home_region.to_string());
    let crate::model::Observed::Present(enc) = &mut bucket.encryption else {
        return;
    };
    for rule in enc.rules.iter_mut().filter(|r| r.algorithm.is_kms()) {
        let reference = rule.kms_key_id.as_deref().unwrap_or("alias/aws/s3");
        rule.kms_key = Some(resolver.resolve(reference, &region).await);
    }
}

/// How the scan read objects, across its buckets: from S3 Inventory reports for the buckets
/// that have one (`--inventory`), HEADs for the rest, or not at all (`--no-objects`).
fn scan_object_source(objects: bool, buckets: &[BucketSnapshot]) -> ScanObjectSource {
    let from_inventory = buckets
        .iter()
        .filter(|b| {
            b.objects
                .as_ref()
                .and_then(|o| o.source.as_ref())
                .is_some_and(ObjectSource::is_inventory)
        })
        .count();
    match (objects, from_inventory) {
        (_, 0) if !objects => ScanObjectSource::None,
        (_, 0) => ScanObjectSource::Head,
        (_, n) if n == buckets.len() => ScanObjectSource::Inventory,
        _ => ScanObjectSource::Mixed,
    }
}
