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
mod list_page;
mod listing;
pub mod metadata_table;
mod objects;
mod offline;
mod pace;
mod partition;
mod progress;
mod rcps;
mod regions;
mod signer;
mod survey;
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
    AccountInfo, BucketSnapshot, Estate, ObjectRecord, ObjectScanInfo, ObjectSource, ObjectSummary,
    SNAPSHOT_VERSION, ScanInfo, ScanObjectSource, ScanScope, ShardScope, bucket_regions,
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
    /// `--objects-from`: whether buckets without an inventory are HEADed or left unread.
    pub objects_from: inventory::ObjectsFrom,
    /// `--offline`: the local `--inventory` manifests alone, no AWS call (see [`offline`]).
    pub offline: bool,
    /// `--verify-sample N` and its seed: HEAD N random objects of each inventory.
    pub verify_sample: Option<(usize, u64)>,
    /// `--metadata-table`: S3 Metadata live inventory tables (their metadata files) whose
    /// buckets' objects are counted from them instead of HEADs (see [`metadata_table`]).
    pub metadata_tables: Vec<String>,
    /// `--organization` / `--accounts`: scan these accounts through an assumed role each
    /// (see [`accounts`]); `None` scans the credentials' own account.
    pub accounts: Option<accounts::AccountSettings>,
    /// `--shard I/N`: read only this shard's buckets and inventory files
    /// ([`crate::shard`]); `None` reads everything.
    pub shard: Option<crate::shard::Shard>,
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
    /// Transparent: `{0}` with `#[from]` (a source) printed the line twice in `{:#}`.
    /// Transparent: the message is the whole line (`{0}` with a source printed it twice).
    #[error(transparent)]
    Inventory(#[from] inventory::InventoryError),
    /// A `--metadata-table` that cannot be used: missing file, delete files, bad schema.
    #[error(transparent)]
    MetadataTable(#[from] metadata_table::TableError),
    #[error(transparent)]
    Setup(#[from] anyhow::Error),
}

/// Runs a scan and returns the estate it observed. Each object read is also sent to
/// `inventory`, if given, as it is read.
pub async fn scan(
    settings: &ScanSettings,
    inventory: Option<tokio::sync::mpsc::Sender<ObjectRecord>>,
) -> Result<Estate, ScanError> {
    if settings.offline {
        return offline::scan(settings).await;
    }
    let clients = Arc::new(Clients::new(&settings.connection).await?);
    let budget = Budget::new(settings);
    match &settings.accounts {
        Some(accounts) => {
            accounts::scan_accounts(clients, settings, accounts, inventory, &budget).await
        }
        None => scan_with(clients, settings, inventory, &budget).await,
    }
}

/// What every account of a run shares: one `--concurrency` of object HEADs in flight (a
/// fair semaphore, so the accounts' HEADs take turns and one big account cannot starve
/// the rest), one `--max-rps` and one per-prefix pacing, and one `--timeout` deadline.
pub(crate) struct Budget {
    heads: Arc<tokio::sync::Semaphore>,
    pacer: Arc<pace::Pacer>,
    deadline: Option<(tokio::time::Instant, std::time::Duration)>,
}

impl Budget {
    fn new(settings: &ScanSettings) -> Self {
        let concurrency = settings
            .objects
            .as_ref()
            .map_or(1, |o| o.concurrency.max(1));
        Budget {
            heads: Arc::new(tokio::sync::Semaphore::new(concurrency)),
            pacer: Arc::new(pace::Pacer::new(
                settings.objects.as_ref().and_then(|o| o.max_rps),
                concurrency * 2,
            )),
            deadline: settings
                .timeout
                .map(|t| (tokio::time::Instant::now() + t, t)),
        }
    }
}

/// Scans the one account `clients`' credentials belong to.
async fn scan_with(
    clients: Arc<Clients>,
    settings: &ScanSettings,
    inventory: Option<tokio::sync::mpsc::Sender<ObjectRecord>>,
    budget: &Budget,
) -> Result<Estate, ScanError> {
    let started_at = OffsetDateTime::now_utc();
    let endpoint = clients.endpoint_url().map(str::to_string);

    let deadline = budget.deadline;
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
    let manifests = inventory::read_manifests(Some(&clients), &settings.inventories).await?;
    inventory::check_sources(&manifests, |name| selected.iter().any(|b| b.name == name))?;
    // Tables next, read whole: the bucket a table holds is known only from its rows.
    let tables = read_tables(Some(&clients), settings, Some(&selected), &manifests).await?;
    // A shard reads the settings (and HEADs the objects) of the buckets it owns only.
    let owned: Vec<&buckets::ListedBucket> = selected
        .iter()
        .filter(|b| settings.shard.is_none_or(|s| s.owns(&b.name)))
        .collect();
    tracing::info!(buckets = owned.len(), "reading bucket configuration");

    let (account, principal) = identity(&clients).await;
    let resolver = Arc::new(keys::KeyResolver::new(clients.clone()));
    let opt_in = regions::OptInRegions::new(&clients, account.clone());
    let mut snapshots: Vec<_> = futures::stream::iter(owned.iter().copied())
        .map(|listed| {
            let clients = &clients;
            let resolver = &resolver;
            let opt_in = &opt_in;
            async move {
                let read = async {
                    let region = buckets::region_of(clients, listed).await;
                    // A region the account has not enabled answers nothing: not read, and
                    // said so, rather than an error per fact.
                    if let Some(r) = region.present()
                        && let Some(why) = opt_in.not_enabled(r).await
                    {
                        return BucketSnapshot::skipped(&listed.name, r, &why);
                    }
                    let mut bucket = buckets::read_bucket(clients, listed, region).await;
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

    // A shard's share of the inventories of buckets another shard owns.
    let mut partial = Vec::new();
    if let Some(object_settings) = &settings.objects {
        // Buckets with an inventory are counted from it; the HEAD scan reads the others.
        let inventory_settings = inventory::InventorySettings {
            verify: settings.verify_sample,
            shard: settings.shard,
            ..inventory::InventorySettings::new(object_settings.prefix.clone())
        };
        let mut samples = Vec::new();
        let mut from_inventory = Vec::new();
        for (spec, manifest) in manifests {
            let bucket = manifest.source_bucket.clone();
            let not_owner = settings.shard.filter(|s| !s.owns(&bucket));
            if not_owner.is_some() && !manifest.files.iter().any(|f| inventory_settings.decodes(f))
            {
                continue;
            }
            let loaded =
                inventory::load(Some(&clients), spec, manifest, &inventory_settings).await?;
            samples.extend(loaded.sample.map(|s| (bucket.clone(), s)));
            match not_owner {
                None => from_inventory.push((bucket, loaded.summary)),
                Some(shard) => {
                    let mut b = BucketSnapshot::not_read(&bucket, &shard.not_owner_reason(&bucket));
                    b.objects = Some(loaded.summary);
                    partial.push(b);
                }
            }
        }
        for (bucket, mut summary) in tables {
            let region = snapshots
                .iter()
                .find(|b| b.name == bucket)
                .and_then(|b| b.region.present().cloned())
                .unwrap_or_else(|| clients.home_region.clone());
            resolve_object_keys(&mut summary, &resolver, &region).await;
            from_inventory.push((bucket, summary));
        }
        let (mut counted, to_head): (Vec<_>, Vec<_>) = std::mem::take(&mut snapshots)
            .into_iter()
            .enumerate()
            // Skipped buckets (region not enabled) are not HEADed: they join the counted,
            // with no object summary.
            .partition(|(_, b)| {
                b.skipped.is_some() || from_inventory.iter().any(|(name, _)| *name == b.name)
            });
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
        let scanner = Arc::new(objects::ObjectScanner {
            direct,
            clients: clients.clone(),
            resolver: resolver.clone(),
            settings: object_settings.clone(),
            heads: budget.heads.clone(),
            sink: inventory,
            deadline,
            pacer: budget.pacer.clone(),
            progress: progress::Progress::on_terminal(
                object_settings
                    .sample
                    .map(|n| n.saturating_mul(heads.len() as u64)),
            ),
        });
        if let Some(verify) = settings.verify_sample {
            let buckets = counted.iter_mut().map(|(_, b)| b).collect();
            inventory::verify::verify_buckets(&scanner, buckets, samples, verify).await;
        }
        if settings.objects_from == inventory::ObjectsFrom::Inventory {
            for bucket in &mut heads {
                bucket.objects = Some(ObjectSummary::not_read(inventory::NOT_IN_ANY_INVENTORY));
            }
        } else {
            scanner.scan_buckets(&mut heads).await;
        }
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

    if !partial.is_empty() {
        snapshots.extend(partial);
        let at: std::collections::HashMap<&str, usize> = selected
            .iter()
            .enumerate()
            .map(|(i, b)| (b.name.as_str(), i))
            .collect();
        snapshots.sort_by_key(|b| at.get(b.name.as_str()).copied());
    }
    // Every bucket is the credentials' account's: ListBuckets lists only the caller's.
    for bucket in &mut snapshots {
        bucket.account.clone_from(&account);
    }
    // The account is recorded when its opt-in regions were asked about (a multi-account
    // scan takes that from here into its own entry for the account).
    let accounts = opt_in
        .outcome()
        .map(|regions| AccountInfo {
            disabled_regions: Some(regions),
            ..AccountInfo::single(account.clone())
        })
        .into_iter()
        .collect();
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
            objects: object_scan_info(settings),
            gaps,
            scope: Some(ScanScope {
                shard: settings.shard.map(|s| ShardScope {
                    index: s.index,
                    count: s.count,
                    buckets: selected.iter().map(|b| b.name.clone()).collect(),
                }),
                ..scan_scope(settings, &snapshots, &clients.home_region)
            }),
            command_line: Some(settings.command_line.clone()),
            tool_commit: crate::provenance::tool_commit().map(str::to_string),
            accounts,
        },
        buckets: snapshots,
        keys: resolver.take_records(),
    })
}

/// How the scan was asked to read objects, as the snapshot records it.
fn object_scan_info(settings: &ScanSettings) -> Option<ObjectScanInfo> {
    settings.objects.as_ref().map(|o| ObjectScanInfo {
        versions: o.versions,
        prefix: o.prefix.clone(),
        sample: o.sample,
    })
}

/// What an online scan of `buckets` covered: the selection and object settings asked for,
/// and the object source and regions the buckets turned out to have (no shard).
fn scan_scope(
    settings: &ScanSettings,
    buckets: &[BucketSnapshot],
    start_region: &str,
) -> ScanScope {
    let objects = settings.objects.as_ref();
    ScanScope {
        buckets: settings.buckets.clone(),
        exclude: settings.exclude.clone(),
        object_source: scan_object_source(objects.is_some(), buckets),
        prefix: objects.and_then(|o| o.prefix.clone()),
        sample: objects.and_then(|o| o.sample),
        versions: objects.is_some_and(|o| o.versions),
        regions: bucket_regions(buckets),
        start_region: start_region.to_string(),
        inferred: false,
        offline: false,
        shard: None,
    }
}

/// Reads every `--metadata-table` (when objects are scanned): its bucket must be one the
/// scan reads and have no other object source (an `--inventory` or a second table).
/// `selected` is `None` under `--offline`, where the tables' buckets are part of what the
/// scan selects from (checked once they are known).
async fn read_tables(
    clients: Option<&Clients>,
    settings: &ScanSettings,
    selected: Option<&[buckets::ListedBucket]>,
    manifests: &[(String, inventory::Manifest)],
) -> Result<Vec<(String, crate::model::ObjectSummary)>, ScanError> {
    let Some(objects) = &settings.objects else {
        return Ok(Vec::new());
    };
    let table_settings = metadata_table::TableSettings {
        prefix: objects.prefix.clone(),
        parallel: std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
    };
    // A table bucket's ARN stands for its live inventory tables (`from_bucket`): one of a
    // bucket the scan does not read is skipped, where a table named alone is an error.
    let mut specs: Vec<(String, bool)> = Vec::new();
    for spec in &settings.metadata_tables {
        match (metadata_table::catalog::table_bucket_region(spec), clients) {
            (Some(_), Some(clients)) => specs.extend(
                metadata_table::catalog::inventory_tables(clients, spec)
                    .await?
                    .into_iter()
                    .map(|location| (location, true)),
            ),
            _ => specs.push((spec.clone(), false)),
        }
    }
    let mut out: Vec<(String, crate::model::ObjectSummary)> = Vec::new();
    for (spec, from_bucket) in &specs {
        let loaded = metadata_table::load(clients, spec, &table_settings).await?;
        let refuse = |why: String| -> ScanError {
            metadata_table::TableError(format!("metadata table {spec}: {why}")).into()
        };
        if let Some(selected) = selected
            && !selected.iter().any(|b| b.name == loaded.bucket)
        {
            if *from_bucket {
                tracing::info!(
                    "metadata table {spec}: bucket {} is not scanned: skipped",
                    loaded.bucket
                );
                continue;
            }
            return Err(refuse(format!(
                "its bucket {} is not one this scan reads (not in the account, or left out by --bucket/--exclude): its settings could not be judged with its objects",
                loaded.bucket
            )));
        }
        if manifests
            .iter()
            .any(|(_, m)| m.source_bucket == loaded.bucket)
            || out.iter().any(|(b, _)| *b == loaded.bucket)
        {
            return Err(refuse(format!(
                "bucket {} already has an object source (an --inventory or another --metadata-table): give one per bucket",
                loaded.bucket
            )));
        }
        out.push((loaded.bucket, loaded.summary));
    }
    Ok(out)
}

/// Replaces the KMS key ARNs a metadata table wrote with the records they resolve to, as
/// the HEAD scan resolves the key ids HEADs return (two spellings of a key count as one).
async fn resolve_object_keys(
    summary: &mut crate::model::ObjectSummary,
    resolver: &keys::KeyResolver,
    region: &str,
) {
    let by_arn = std::mem::take(&mut summary.by_key);
    let mut samples = std::mem::take(&mut summary.key_samples);
    for (arn, n) in by_arn {
        let id = resolver.resolve(&arn, region).await;
        *summary.by_key.entry(id.clone()).or_default() += n;
        let mine = summary.key_samples.entry(id).or_default();
        for label in samples.remove(&arn).unwrap_or_default() {
            inventory::tally::push_bounded(mine, label, inventory::tally::SAMPLE_KEYS);
        }
    }
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
/// Buckets whose objects were deliberately not read (`--objects-from inventory`) count as
/// neither: they are gaps of their own.
pub(crate) fn scan_object_source(objects: bool, buckets: &[BucketSnapshot]) -> ScanObjectSource {
    let (mut from_inventory, mut headed) = (0, 0);
    for b in buckets.iter().filter_map(|b| b.objects.as_ref()) {
        match &b.source {
            Some(ObjectSource::Inventory { .. } | ObjectSource::MetadataTable { .. }) => {
                from_inventory += 1
            }
            Some(ObjectSource::NotRead { .. }) => {}
            Some(ObjectSource::Head) | None => headed += 1,
        }
    }
    match (from_inventory, headed) {
        _ if !objects => ScanObjectSource::None,
        (0, _) => ScanObjectSource::Head,
        (_, 0) => ScanObjectSource::Inventory,
        _ => ScanObjectSource::Mixed,
    }
}
