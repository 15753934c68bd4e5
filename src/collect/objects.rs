//! The object scan: list every object (or version) and HEAD each one to read how it is
//! encrypted at rest.
//!
//! Listing feeds HEADs through a bounded channel, so a fast lister waits for the HEADs
//! (backpressure) and memory holds at most a channel's worth of listed objects. One
//! semaphore bounds the HEADs in flight across every bucket scanned at once. Per-object
//! results are folded into counters and bounded samples as they arrive, and streamed to
//! the optional inventory sink; nothing grows with the object count.

use std::sync::Arc;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use tokio::sync::{OnceCell, Semaphore};

use super::clients::Clients;
use super::errors::CallFailure;
use super::head::{HeadClient, HeadSse, HeadTarget};
use super::keys::KeyResolver;
use super::progress::Progress;
use crate::model::{
    BucketSnapshot, ModeCounts, ObjectRecord, ObjectSummary, SseMode, UnreadableObject,
};

/// How objects are scanned.
#[derive(Debug, Clone)]
pub struct ObjectScanSettings {
    /// HEAD requests in flight at once, across all buckets.
    pub concurrency: usize,
    /// Buckets whose objects are scanned at once.
    pub buckets_in_flight: usize,
    /// List and HEAD every version (ListObjectVersions), not just current objects.
    pub versions: bool,
    pub prefix: Option<String>,
    /// Read at most this many objects (versions) per bucket.
    pub sample: Option<u64>,
    /// HEAD through [`HeadClient`] where it can (the fast path), else through the SDK.
    pub direct_heads: bool,
}

/// Keys named per mode, per KMS key and per unreadable reason in the summary: enough for
/// a finding to point at examples, bounded so memory stays flat.
const SAMPLE_KEYS: usize = 10;
const SAMPLE_UNREADABLE: usize = 50;

/// One listed object or version, waiting for its HEAD.
struct Listed {
    key: String,
    version_id: Option<String>,
    is_latest: bool,
    size: Option<i64>,
    storage_class: Option<String>,
    last_modified: Option<String>,
}

/// What one HEAD established.
enum Outcome {
    Read {
        mode: SseMode,
        kms_key: Option<String>,
        bucket_key: Option<bool>,
    },
    Unreadable(String),
}

pub struct ObjectScanner {
    pub clients: Arc<Clients>,
    pub resolver: Arc<KeyResolver>,
    pub settings: ObjectScanSettings,
    pub heads: Arc<Semaphore>,
    /// The fast HEAD path, unless `--head-via sdk`.
    pub direct: Option<HeadClient>,
    pub sink: Option<tokio::sync::mpsc::Sender<ObjectRecord>>,
    pub progress: Progress,
}

impl ObjectScanner {
    /// Scans the objects of every bucket, several buckets at once, and attaches each
    /// bucket's summary to it.
    pub async fn scan_buckets(&self, buckets: &mut [BucketSnapshot]) {
        let total = buckets.len();
        let mut done = 0;
        self.progress.buckets(done, total);
        let summaries: Vec<(usize, ObjectSummary)> =
            futures::stream::iter(buckets.iter().enumerate())
                .map(|(i, bucket)| async move { (i, self.scan_bucket(bucket).await) })
                .buffer_unordered(self.settings.buckets_in_flight.max(1))
                .inspect(|_| {
                    done += 1;
                    self.progress.buckets(done, total);
                })
                .collect()
                .await;
        self.progress.finish();
        for (i, summary) in summaries {
            buckets[i].objects = Some(summary);
        }
    }

    /// Scans one bucket's objects. Never fails: what could not be listed or read is
    /// recorded in the summary.
    pub async fn scan_bucket(&self, bucket: &BucketSnapshot) -> ObjectSummary {
        let region = bucket
            .region
            .present()
            .cloned()
            .unwrap_or_else(|| self.clients.home_region.clone());
        let s3 = self.clients.s3(&region);
        let target = match &self.direct {
            Some(direct) => direct.target(&bucket.name, &region).await,
            None => None,
        };
        let via = match (&self.direct, &target) {
            (Some(client), Some(target)) => Via::Direct(client, target),
            (Some(_), None) => {
                tracing::debug!(
                    bucket = %bucket.name,
                    "endpoint needs another auth scheme: HEADs go through the SDK"
                );
                Via::Sdk(&s3)
            }
            (None, _) => Via::Sdk(&s3),
        };
        let (tx, rx) = mpsc::channel::<Listed>(self.settings.concurrency.max(1) * 2);
        let lister = list(&s3, &bucket.name, &self.settings, tx);
        let implied = ImpliedKey {
            bucket_default: bucket.default_kms_key().map(str::to_string),
            aws_managed: OnceCell::new(),
        };
        let mut tally = Tally::new(self.settings.versions);
        let heads = rx
            .map(|obj| {
                let via = &via;
                let name = bucket.name.as_str();
                let region = region.as_str();
                let implied = &implied;
                async move {
                    let _permit = self.heads.acquire().await.expect("semaphore never closed");
                    let outcome = self.head(via, name, region, &obj, implied).await;
                    (obj, outcome)
                }
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .for_each(|(obj, outcome)| {
                tally.add(&obj, &outcome);
                self.progress.object_done();
                // The inventory row is built only when there is an inventory to write.
                let row = self
                    .sink
                    .clone()
                    .map(|sink| (sink, record(&bucket.name, obj, outcome)));
                async move {
                    if let Some((sink, row)) = row {
                        // The writer only goes away on an I/O error, which app reports.
                        let _ = sink.send(row).await;
                    }
                }
            });
        let (listing, ()) = tokio::join!(lister, heads);
        let mut summary = tally.finish();
        match listing {
            Ok(sampled) => summary.sampled = sampled,
            Err(reason) => summary.listing_error = Some(reason),
        }
        summary
    }

    async fn head(
        &self,
        via: &Via<'_>,
        bucket: &str,
        region: &str,
        obj: &Listed,
        implied: &ImpliedKey,
    ) -> Outcome {
        // The current "null" version (written before versioning was enabled) is simply the
        // current object. Asking for it by `versionId=null` is valid on AWS but some
        // S3-compatible servers (moto) answer 400, which would read as SSE-C.
        let version = obj
            .version_id
            .as_deref()
            .filter(|v| !(obj.is_latest && *v == "null"));
        let result = match via {
            Via::Direct(client, target) => client.head(target, &obj.key, version).await,
            Via::Sdk(s3) => s3
                .head_object()
                .bucket(bucket)
                .key(&obj.key)
                .set_version_id(version.map(str::to_string))
                .send()
                .await
                .map(|out| HeadSse {
                    algorithm: out.server_side_encryption().map(|s| s.as_str().to_string()),
                    kms_key: out.ssekms_key_id().map(str::to_string),
                    bucket_key: out.bucket_key_enabled(),
                    customer_key: out.sse_customer_algorithm().is_some(),
                })
                .map_err(CallFailure::from_sdk),
        };
        match result {
            Ok(sse) => {
                let mode = mode_of(&sse);
                let kms_key = match (mode, sse.kms_key.filter(|k| !k.is_empty())) {
                    (SseMode::SseKms | SseMode::DsseKms, Some(r)) => {
                        Some(self.resolver.resolve(&r, region).await)
                    }
                    (SseMode::SseKms | SseMode::DsseKms, None) => {
                        Some(implied.get(&self.resolver, region).await)
                    }
                    _ => None,
                };
                Outcome::Read {
                    mode,
                    kms_key,
                    bucket_key: sse.bucket_key,
                }
            }
            // AWS answers a HEAD of an SSE-C object made without its key with 400: the
            // object is encrypted with a key S3 does not hold.
            Err(CallFailure::Service { status: 400, .. }) => Outcome::Read {
                mode: SseMode::SseC,
                kms_key: None,
                bucket_key: None,
            },
            // A HEAD error has no body: 403 is access denied, unless the client learned
            // otherwise (a wrong clock it could not correct in the attempts it had).
            Err(CallFailure::Service {
                status: 403,
                ref code,
                ..
            }) if code.as_deref() != Some("RequestTimeTooSkewed") => {
                Outcome::Unreadable("access denied (HTTP 403)".to_string())
            }
            Err(CallFailure::Service { status: 404, .. }) => Outcome::Unreadable(
                "not found (HTTP 404): deleted between listing and HEAD".to_string(),
            ),
            Err(other) => Outcome::Unreadable(other.to_string()),
        }
    }
}

/// How a bucket's objects are HEADed: the fast path where the bucket's endpoint allows
/// it, the SDK otherwise.
enum Via<'a> {
    Direct(&'a HeadClient, &'a HeadTarget),
    Sdk(&'a aws_sdk_s3::Client),
}

/// The key S3 used for an SSE-KMS object whose HEAD names none (AWS always names it; some
/// S3-compatible servers do not): the bucket's default key, else the region's aws/s3 key.
/// aws/s3 is resolved only once such an object turns up, so a bucket that never needs it
/// costs no KMS call and adds no key to the report.
struct ImpliedKey {
    bucket_default: Option<String>,
    aws_managed: OnceCell<String>,
}

impl ImpliedKey {
    async fn get(&self, resolver: &KeyResolver, region: &str) -> String {
        match &self.bucket_default {
            Some(id) => id.clone(),
            None => self
                .aws_managed
                .get_or_init(|| resolver.resolve("alias/aws/s3", region))
                .await
                .clone(),
        }
    }
}

/// The encryption mode a HEAD response states.
fn mode_of(sse: &HeadSse) -> SseMode {
    match sse.algorithm.as_deref() {
        Some("AES256") => SseMode::SseS3,
        Some("aws:kms") => SseMode::SseKms,
        Some("aws:kms:dsse") => SseMode::DsseKms,
        // A readable SSE-C HEAD needs the key; a server that still reports it is honoured.
        _ if sse.customer_key => SseMode::SseC,
        Some(_) => SseMode::SseS3,
        None => SseMode::None,
    }
}

/// Lists the bucket into `tx`. `Ok(true)` when `--sample` cut the listing short.
async fn list(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    settings: &ObjectScanSettings,
    mut tx: mpsc::Sender<Listed>,
) -> Result<bool, String> {
    let limit = settings.sample.unwrap_or(u64::MAX);
    let mut listed: u64 = 0;
    if settings.versions {
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = s3
                .list_object_versions()
                .bucket(bucket)
                .set_prefix(settings.prefix.clone())
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| format!("listing versions stopped: {}", CallFailure::from_sdk(e)))?;
            // Delete markers hold no data, so there is nothing to encrypt.
            for v in page.versions.unwrap_or_default() {
                let Some(key) = v.key else { continue };
                if listed >= limit {
                    return Ok(true);
                }
                listed += 1;
                let obj = Listed {
                    key,
                    version_id: v.version_id,
                    is_latest: v.is_latest.unwrap_or(true),
                    size: v.size,
                    storage_class: v.storage_class.map(|s| s.as_str().to_string()),
                    last_modified: v.last_modified.map(|t| t.to_string()),
                };
                if tx.send(obj).await.is_err() {
                    return Ok(false);
                }
            }
            if page.is_truncated != Some(true) {
                return Ok(false);
            }
            key_marker = page.next_key_marker;
            version_marker = page.next_version_id_marker;
            if key_marker.is_none() {
                return Err(
                    "listing versions stopped: truncated page without a next marker".to_string(),
                );
            }
        }
    } else {
        let mut pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .set_prefix(settings.prefix.clone())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| format!("listing stopped: {}", CallFailure::from_sdk(e)))?;
            for o in page.contents.unwrap_or_default() {
                let Some(key) = o.key else { continue };
                if listed >= limit {
                    return Ok(true);
                }
                listed += 1;
                let obj = Listed {
                    key,
                    version_id: None,
                    is_latest: true,
                    size: o.size,
                    storage_class: o.storage_class.map(|s| s.as_str().to_string()),
                    last_modified: o.last_modified.map(|t| t.to_string()),
                };
                if tx.send(obj).await.is_err() {
                    return Ok(false);
                }
            }
        }
        Ok(false)
    }
}

/// Folds HEAD outcomes into a bucket's summary: counters plus bounded samples.
struct Tally {
    summary: ObjectSummary,
}

impl Tally {
    fn new(versions: bool) -> Self {
        Tally {
            summary: ObjectSummary {
                noncurrent: versions.then(ModeCounts::default),
                ..ObjectSummary::default()
            },
        }
    }

    /// Counts one object and offers it to the bounded samples. Runs once per object, so
    /// it allocates only for what a sample actually keeps.
    fn add(&mut self, obj: &Listed, outcome: &Outcome) {
        let s = &mut self.summary;
        let counts = if obj.is_latest {
            &mut s.current
        } else {
            s.noncurrent.get_or_insert_with(ModeCounts::default)
        };
        match outcome {
            Outcome::Read { mode, kms_key, .. } => {
                counts.add(Some(*mode));
                offer_sample(s.samples.entry(*mode).or_default(), obj);
                if let Some(k) = kms_key {
                    match s.by_key.get_mut(k) {
                        Some(n) => *n += 1,
                        None => {
                            s.by_key.insert(k.clone(), 1);
                        }
                    }
                    if let Some(samples) = s.key_samples.get_mut(k) {
                        offer_sample(samples, obj);
                    } else {
                        s.key_samples.insert(k.clone(), vec![sample_label(obj)]);
                    }
                }
            }
            Outcome::Unreadable(reason) => {
                counts.add(None);
                let full = s.unreadable.len() >= SAMPLE_UNREADABLE;
                if !full || s.unreadable.last().is_some_and(|l| obj.key <= l.key) {
                    let entry = UnreadableObject {
                        key: obj.key.clone(),
                        version_id: obj.version_id.clone(),
                        reason: reason.clone(),
                    };
                    push_bounded(&mut s.unreadable, entry, SAMPLE_UNREADABLE);
                }
            }
        }
    }

    fn finish(self) -> ObjectSummary {
        self.summary
    }
}

/// How an object is named in samples: its key, with the version for noncurrent ones.
fn sample_label(obj: &Listed) -> String {
    match (&obj.version_id, obj.is_latest) {
        (Some(v), false) => format!("{} (version {v})", obj.key),
        _ => obj.key.clone(),
    }
}

/// Offers an object to a sample of keys, building its label only if it could be kept:
/// a label starts with the key, so a key past the largest kept label cannot get in.
fn offer_sample(list: &mut Vec<String>, obj: &Listed) {
    let full = list.len() >= SAMPLE_KEYS;
    if full
        && list
            .last()
            .is_some_and(|last| obj.key.as_str() > last.as_str())
    {
        return;
    }
    push_bounded(list, sample_label(obj), SAMPLE_KEYS);
}

/// The inventory row of one object.
fn record(bucket: &str, obj: Listed, outcome: Outcome) -> ObjectRecord {
    let mut record = ObjectRecord {
        bucket: bucket.to_string(),
        key: obj.key,
        version_id: obj.version_id,
        is_latest: obj.is_latest,
        mode: None,
        kms_key: None,
        bucket_key_enabled: None,
        size: obj.size,
        storage_class: obj.storage_class,
        last_modified: obj.last_modified,
        error: None,
    };
    match outcome {
        Outcome::Read {
            mode,
            kms_key,
            bucket_key,
        } => {
            record.mode = Some(mode);
            record.kms_key = kms_key;
            record.bucket_key_enabled = bucket_key;
        }
        Outcome::Unreadable(reason) => record.error = Some(reason),
    }
    record
}

/// Keeps the `max` smallest items in order. HEADs complete in any order; keeping the
/// first keys in key order (not the first to arrive) makes samples, and so findings,
/// the same on every run.
fn push_bounded<T: Ord>(list: &mut Vec<T>, item: T, max: usize) {
    if list.len() >= max && list.last().is_some_and(|last| &item >= last) {
        return;
    }
    let at = list.binary_search(&item).unwrap_or_else(|i| i);
    list.insert(at, item);
    list.truncate(max);
}
