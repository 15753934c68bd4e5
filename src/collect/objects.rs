//! The object scan: list every object (or version) and HEAD each one to read how it is
//! encrypted at rest.
//!
//! Listing feeds HEADs through a bounded channel, so a fast lister waits for the HEADs
//! (backpressure) and memory holds at most a channel's worth of listed objects. One
//! semaphore bounds the HEADs in flight across every bucket scanned at once. Per-object
//! results are folded into counters and bounded samples as they arrive, and streamed to
//! the optional inventory sink; nothing grows with the object count.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc;
use tokio::sync::{OnceCell, Semaphore};

use super::clients::Clients;
use super::errors::CallFailure;
use super::head::{HeadClient, HeadSse, HeadTarget};
use super::keys::KeyResolver;
use super::list_page;
use super::listing::{self, Cursor, ObjectPage};
use super::pace;
use super::partition;
use super::progress::Progress;
use super::survey;
use crate::model::{
    BucketSnapshot, MAX_UNKNOWN_VALUE_LEN, MAX_UNKNOWN_VALUES, ModeCounts, OTHER_UNKNOWN_VALUES,
    ObjectRecord, ObjectSummary, SseMode, UnreadableObject,
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
    /// Cap on listing pages plus HEAD attempts per second, across the scan (`--max-rps`).
    pub max_rps: Option<u32>,
    /// Parts of a bucket listed at once (see [`super::partition`]); 1 lists each bucket
    /// as one stream, as does `sample` (whose first N objects are in key order).
    pub list_parallelism: usize,
}

/// Levels of `/` below the scanned prefix that parallel listing discovers by delimiter
/// before cutting by key ranges.
const LIST_DEPTH: u32 = 2;

/// Keys named per mode, per KMS key and per unreadable reason in the summary: enough for
/// a finding to point at examples, bounded so memory stays flat.
const SAMPLE_KEYS: usize = 10;
const SAMPLE_UNREADABLE: usize = 50;

/// How the reason of an object whose HEAD answered 404 begins (`--verify-sample` tells a
/// deleted object from an unreadable one by it).
pub(super) const NOT_FOUND: &str = "not found (HTTP 404)";

/// One listed object or version, waiting for its HEAD.
pub(super) struct Listed {
    key: String,
    version_id: Option<String>,
    is_latest: bool,
    size: Option<i64>,
    storage_class: Option<String>,
    last_modified: Option<String>,
    /// Holds a place in its prefix's window until the object has been read.
    ticket: Option<pace::Ticket>,
}

/// Where listers hand objects to the HEADs: each object first takes a ticket from its
/// prefix's window, so a throttled prefix's lister waits and the others go on.
#[derive(Clone)]
struct Gated<'a> {
    tx: mpsc::Sender<Listed>,
    pacer: &'a pace::Pacer,
    bucket: &'a str,
}

impl partition::Feed<Listed> for Gated<'_> {
    async fn send(&mut self, mut entry: Listed) -> bool {
        let gate = self.pacer.gate(self.bucket, &entry.key);
        entry.ticket = Some(gate.ticket().await);
        futures::SinkExt::send(&mut self.tx, entry).await.is_ok()
    }
}

/// Listed objects that may wait between the listers and the HEADs (besides one per
/// lister blocked on a full queue).
///
/// Short on purpose. An object holds a place in its prefix's window from the moment it
/// is handed on, so time spent queued counts against the window as if it were in flight.
/// With two pipelines' worth queued (1,024 objects at 512 in flight, about 60 ms at
/// 16,000 HEAD/s), a window of 300 read a prefix at 3,500/s where S3 allows 5,500/s, and
/// windows grew one step per 80 ms round instead of per 25 ms. An eighth of a pipeline
/// keeps the HEADs fed: listers hand on objects far faster than HEADs read them
/// (1M-object bench, `--list-parallelism 16`: 15,318 and 16,031 objects/s with the long
/// queue, 16,167 and 16,233 with 64).
fn handoff_queue(concurrency: usize) -> usize {
    (concurrency / 8).max(16)
}

/// What one HEAD established.
enum Outcome {
    Read {
        mode: SseMode,
        kms_key: Option<String>,
        bucket_key: Option<bool>,
        /// The value as sent, for [`SseMode::Unknown`].
        raw: Option<String>,
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
    /// When to stop (`--timeout`), and the limit as given, for the report.
    pub deadline: Option<(tokio::time::Instant, std::time::Duration)>,
    /// Prefix windows and the `--max-rps` cap.
    pub pacer: Arc<pace::Pacer>,
}

impl ObjectScanner {
    /// Scans the objects of every bucket, several buckets at once, and attaches each
    /// bucket's summary to it.
    pub async fn scan_buckets(self: &Arc<Self>, buckets: &mut [BucketSnapshot]) {
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
    ///
    /// Each HEAD is its own task, so the signing, sending and parsing of the HEADs in
    /// flight spread over the runtime's worker threads; polled inside this future they
    /// all ran on the one thread that polls the scan, which capped a scan at one core
    /// (profiled: 58% of the scan's CPU on that thread). A task is aborted when its
    /// handle is dropped (`--timeout`), so no HEAD outlives the scan of its bucket.
    pub async fn scan_bucket(self: &Arc<Self>, bucket: &BucketSnapshot) -> ObjectSummary {
        let route = self.route(bucket).await;
        route.note_fallback(self, &bucket.name);
        let (tx, rx) = mpsc::channel::<Listed>(handoff_queue(self.settings.concurrency));
        let feed = Gated {
            tx,
            pacer: &self.pacer,
            bucket: &bucket.name,
        };
        let target = Arc::new(HeadsOf {
            bucket: bucket.name.clone(),
            route,
            implied: ImpliedKey {
                bucket_default: bucket.default_kms_key().map(str::to_string),
                aws_managed: OnceCell::new(),
            },
        });
        let direct = self.direct.as_ref().zip(target.route.target.as_ref());
        let lister = list(
            &target.route.s3,
            &bucket.name,
            &self.settings,
            &self.pacer,
            direct,
            feed,
        );
        let mut tally = Tally::new(self.settings.versions);
        let heads = rx
            .map(|obj| {
                let (scanner, target) = (self.clone(), target.clone());
                // Boxed: a HEAD's future is kilobytes (hyper's request, the retry loop),
                // and a task moves its future and output by value; boxed, only a pointer
                // moves (profiled: 7% of the scan's CPU was memcpy of these futures).
                AbortOnDrop(tokio::spawn(Box::pin(async move {
                    let _permit = scanner
                        .heads
                        .acquire()
                        .await
                        .expect("semaphore never closed");
                    let outcome = scanner.head_in(&target, &obj).await;
                    (obj, outcome)
                })))
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
        let work = async { tokio::join!(lister, heads) };
        let listing = match self.deadline {
            None => work.await.0,
            Some((at, limit)) => match tokio::time::timeout_at(at, work).await {
                Ok((listing, ())) => listing,
                // HEADs in flight are dropped uncounted; what was counted stays, and the
                // bucket is reported incomplete.
                Err(_) => Err(format!(
                    "stopped when the --timeout of {} ran out",
                    super::limit_text(limit)
                )),
            },
        };
        let mut summary = tally.finish();
        match listing {
            Ok(sampled) => summary.sampled = sampled,
            Err(reason) => summary.listing_error = Some(reason),
        }
        summary
    }

    /// HEADs `keys` (current versions) of `bucket` through the same path, semaphore and
    /// pacing as the scan, for `--verify-sample`. One record per key, in any order.
    pub async fn head_keys(&self, bucket: &BucketSnapshot, keys: Vec<String>) -> Vec<ObjectRecord> {
        let route = self.route(bucket).await;
        route.note_fallback(self, &bucket.name);
        let via = route.via(self);
        let implied = ImpliedKey {
            bucket_default: bucket.default_kms_key().map(str::to_string),
            aws_managed: OnceCell::new(),
        };
        futures::stream::iter(keys)
            .map(|key| {
                let obj = Listed {
                    key,
                    version_id: None,
                    is_latest: true,
                    size: None,
                    storage_class: None,
                    last_modified: None,
                    ticket: None,
                };
                let (via, implied, region) = (&via, &implied, route.region.as_str());
                async move {
                    let _permit = self.heads.acquire().await.expect("semaphore never closed");
                    let outcome = self.head(via, &bucket.name, region, &obj, implied).await;
                    record(&bucket.name, obj, outcome)
                }
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await
    }

    /// One HEAD of [`Self::scan_bucket`], through its bucket's route.
    async fn head_in(&self, target: &HeadsOf, obj: &Listed) -> Outcome {
        let via = target.route.via(self);
        self.head(
            &via,
            &target.bucket,
            &target.route.region,
            obj,
            &target.implied,
        )
        .await
    }

    /// Where a bucket's HEADs go: its region's client and, unless `--head-via sdk`, the
    /// direct client's target.
    async fn route(&self, bucket: &BucketSnapshot) -> Route {
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
        Route { region, s3, target }
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
        let pacing = pace::Attempts {
            gate: obj.ticket.as_ref().map(pace::Ticket::gate),
            pacer: &self.pacer,
        };
        let result = match via {
            Via::Direct(client, target) => client.head(target, &obj.key, version, pacing).await,
            // Boxed, as the probe below: the SDK's futures are kilobytes, and inline they
            // would size every HEAD task of the direct path too.
            Via::Sdk(s3) => Box::pin(sdk_head(s3, bucket, &obj.key, version, pacing)).await,
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
                    raw: (mode == SseMode::Unknown).then(|| sse.algorithm.unwrap_or_default()),
                }
            }
            // AWS answers a HEAD of an SSE-C object made without its key with 400, but a
            // 400 can mean other things (a bad version id, a server's bug), and a HEAD
            // error has no body to tell them apart. A ranged GET of one byte does: S3
            // refuses an SSE-C object with an error body that says so.
            Err(CallFailure::Service { status: 400, .. }) => {
                let probe = match via {
                    Via::Direct(client, target) => {
                        Box::pin(client.probe_first_byte(target, &obj.key, version, pacing)).await
                    }
                    Via::Sdk(s3) => Box::pin(sdk_probe(s3, bucket, &obj.key, version)).await,
                };
                sse_c_probe_outcome(probe)
            }
            // A HEAD error has no body: 403 is access denied, unless the client learned
            // otherwise (a wrong clock it could not correct in the attempts it had).
            Err(CallFailure::Service {
                status: 403,
                ref code,
                ..
            }) if code.as_deref() != Some("RequestTimeTooSkewed") => {
                Outcome::Unreadable("access denied (HTTP 403)".to_string())
            }
            Err(CallFailure::Service { status: 404, .. }) => {
                Outcome::Unreadable(format!("{NOT_FOUND}: deleted between listing and HEAD"))
            }
            Err(other) => Outcome::Unreadable(other.to_string()),
        }
    }
}

/// A HEAD through the SDK (`--head-via sdk`, or an endpoint the direct client cannot
/// sign for). The SDK retries inside; its last answer is what the window learns.
async fn sdk_head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    pacing: pace::Attempts<'_>,
) -> Result<HeadSse, CallFailure> {
    let epoch = pacing.before().await;
    let result = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .send()
        .await
        .map(|out| HeadSse {
            algorithm: out.server_side_encryption().map(|s| s.as_str().to_string()),
            kms_key: out.ssekms_key_id().map(str::to_string),
            bucket_key: out.bucket_key_enabled(),
            customer_key: out.sse_customer_algorithm().is_some(),
        })
        .map_err(CallFailure::from_sdk);
    pacing.after(epoch, result.as_ref().is_err_and(pace::is_throttling));
    result
}

/// The SSE-C probe of [`sse_c_probe_outcome`] through the SDK: a ranged GET of one byte,
/// whose body is dropped unread.
async fn sdk_probe(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<(), CallFailure> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .range("bytes=0-0")
        .send()
        .await
        .map(|_| ())
        .map_err(CallFailure::from_sdk)
}

/// Judges the ranged GET sent after a HEAD answered 400: SSE-C only when S3 says the
/// object is stored with a form of server-side encryption whose parameters were not
/// given, which is what it answers for SSE-C and for nothing else.
fn sse_c_probe_outcome(probe: Result<(), CallFailure>) -> Outcome {
    match probe {
        Err(CallFailure::Service {
            status: 400,
            code: Some(code),
            message,
        }) if code == "InvalidRequest"
            && message
                .to_ascii_lowercase()
                .contains("server side encryption") =>
        {
            Outcome::Read {
                mode: SseMode::SseC,
                kms_key: None,
                bucket_key: None,
                raw: None,
            }
        }
        Ok(()) => Outcome::Unreadable(
            "HEAD answered 400, yet a ranged GET returned data: not SSE-C, encryption unknown"
                .to_string(),
        ),
        Err(other) => Outcome::Unreadable(format!(
            "HEAD answered 400 and a ranged GET did not confirm SSE-C: {}",
            shorten(&other.to_string(), 300)
        )),
    }
}

/// `s` cut to at most `max` bytes (on a character boundary), marked when cut: server
/// messages end up in reports, and a hostile server's could be megabytes.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    format!("{}…", &s[..at])
}

/// A bucket's region, SDK client and direct HEAD target ([`ObjectScanner::route`]).
struct Route {
    region: String,
    s3: aws_sdk_s3::Client,
    target: Option<HeadTarget>,
}

impl Route {
    fn via<'a>(&'a self, scanner: &'a ObjectScanner) -> Via<'a> {
        match (&scanner.direct, &self.target) {
            (Some(client), Some(target)) => Via::Direct(client, target),
            _ => Via::Sdk(&self.s3),
        }
    }

    /// Logs, once per bucket, that its HEADs cannot take the fast path.
    fn note_fallback(&self, scanner: &ObjectScanner, bucket: &str) {
        if scanner.direct.is_some() && self.target.is_none() {
            tracing::debug!(
                bucket,
                "endpoint needs another auth scheme: HEADs go through the SDK"
            );
        }
    }
}

/// What every HEAD task of one bucket shares.
struct HeadsOf {
    bucket: String,
    route: Route,
    implied: ImpliedKey,
}

/// A spawned task that is aborted when its handle is dropped, so a scan cut short
/// (`--timeout`, an interrupt) leaves no HEAD running behind it. A task that panicked
/// panics its awaiter, as the future did when it ran inline.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| match joined {
                Ok(value) => value,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Only this handle aborts the task, and it is still here.
                Err(e) => unreachable!("a HEAD task was cancelled while awaited: {e}"),
            })
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

/// The encryption mode a HEAD response states. Only values S3 documents name a mode;
/// anything else, an empty value included, is [`SseMode::Unknown`], never a guess.
fn mode_of(sse: &HeadSse) -> SseMode {
    match sse.algorithm.as_deref() {
        Some(value) => SseMode::from_header(value),
        // A readable SSE-C HEAD needs the key; a server that still reports it is honoured.
        None if sse.customer_key => SseMode::SseC,
        None => SseMode::None,
    }
}

/// Lists the bucket into `tx`. `Ok(true)` when `--sample` cut the listing short; `Err`
/// when the listing cannot be trusted to be complete (see [`super::listing`]).
async fn list(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    settings: &ObjectScanSettings,
    pacer: &pace::Pacer,
    direct: Option<(&HeadClient, &HeadTarget)>,
    mut tx: Gated<'_>,
) -> Result<bool, String> {
    let limit = settings.sample.unwrap_or(u64::MAX);
    let prefix = settings.prefix.as_deref();
    let lister = ObjectLister {
        s3,
        bucket,
        versions: settings.versions,
        page_size: None,
        pacer,
        direct,
    };
    if settings.list_parallelism > 1 && settings.sample.is_none() {
        let parts = partition::PartitionSettings {
            parallelism: settings.list_parallelism,
            max_depth: LIST_DEPTH,
        };
        let prefix = prefix.unwrap_or("");
        // Prefix sizes order the parts (see `survey`). Counted for current objects only,
        // and only where first-level prefixes are below the scan's prefix.
        let sizes = survey::Sizes::default();
        let survey = direct
            .filter(|_| !settings.versions && !prefix.contains('/'))
            .map(|(client, target)| {
                survey::survey(client, target, prefix, parts.parallelism, pacer, &sizes)
            });
        let listing = partition::list(
            &lister,
            prefix,
            parts,
            &partition::Ladder,
            tx,
            survey.is_some().then_some(&sizes),
        );
        let Some(survey) = survey else {
            return listing.await.map(|()| false);
        };
        futures::pin_mut!(listing, survey);
        // The survey is dropped if the listing ends first; if it fails, the listing goes
        // on in equal turns.
        return match futures::future::select(listing, survey).await {
            futures::future::Either::Left((done, _)) => done,
            futures::future::Either::Right((counted, listing)) => {
                match counted {
                    Ok(()) => tracing::debug!(bucket, "prefix survey done"),
                    Err(e) => tracing::debug!(bucket, "prefix survey stopped: {e}"),
                }
                listing.await
            }
        }
        .map(|()| false);
    }
    let mut source = OneStream { lister, prefix };
    listing::drive(&mut source, prefix, limit, &mut tx).await
}

impl listing::Entry for Listed {
    fn key(&self) -> &str {
        &self.key
    }

    fn version_id(&self) -> Option<&str> {
        self.version_id.as_deref()
    }
}

/// The whole bucket (under `--prefix`) as one listing stream, page after page: the same
/// SDK calls as a part of a parallel listing, without a delimiter or a start key.
struct OneStream<'a> {
    lister: ObjectLister<'a>,
    prefix: Option<&'a str>,
}

impl listing::PageSource for OneStream<'_> {
    type Entry = Listed;

    fn call(&self) -> &'static str {
        partition::Lister::call(&self.lister)
    }

    fn versions(&self) -> bool {
        self.lister.versions
    }

    async fn fetch(&mut self, from: Option<&Cursor>) -> Result<ObjectPage<Listed>, String> {
        let query = partition::Query {
            prefix: self.prefix.unwrap_or(""),
            delimiter: false,
            after: None,
            cursor: from,
        };
        let page = partition::Lister::page(&self.lister, query).await?;
        Ok(ObjectPage {
            entries: page.entries,
            delete_markers: page.delete_markers,
            truncated: page.truncated,
            next: page.next,
        })
    }
}

/// ListObjectsV2 or ListObjectVersions for one part of a bucket (parallel listing):
/// through the SDK, or ListObjectsV2 through the direct client where there is one.
pub(super) struct ObjectLister<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    pub versions: bool,
    /// `MaxKeys`; `None`: S3's 1,000. Tests use tiny pages.
    pub page_size: Option<i32>,
    pub pacer: &'a pace::Pacer,
    /// The direct client and where the bucket is, when the HEADs go that way: current
    /// objects are then listed through it too (see [`super::list_page`]).
    pub direct: Option<(&'a HeadClient, &'a HeadTarget)>,
}

impl ObjectLister<'_> {
    /// One ListObjectsV2 page through the direct client: the query the SDK would send,
    /// the page read by [`list_page::read`].
    async fn direct_page(
        &self,
        client: &HeadClient,
        target: &HeadTarget,
        q: &partition::Query<'_>,
    ) -> Result<partition::Page<Listed>, String> {
        let token = match q.cursor {
            Some(Cursor::Token(t)) => Some(t.as_str()),
            _ => None,
        };
        let query = list_page::query(q.prefix, q.delimiter, q.after, token, self.page_size);
        let pacing = pace::Attempts {
            gate: None,
            pacer: self.pacer,
        };
        let body = client
            .get_bucket(target, &query, pacing)
            .await
            .map_err(|e| e.to_string())?;
        let page = list_page::read(&body)?;
        let mut entries = Vec::with_capacity(page.contents.len());
        for o in page.contents {
            entries.push(Listed {
                key: o.key.ok_or("an entry without a Key")?,
                version_id: None,
                is_latest: true,
                size: o.size,
                storage_class: o.storage_class,
                last_modified: o.last_modified,
                ticket: None,
            });
        }
        Ok(partition::Page {
            entries,
            delete_markers: Vec::new(),
            prefixes: page
                .prefixes
                .into_iter()
                .map(|p| p.ok_or("a CommonPrefix without a Prefix"))
                .collect::<Result<_, _>>()?,
            truncated: page.truncated,
            next: page.next_token.map(Cursor::Token),
        })
    }
}

impl partition::Lister for ObjectLister<'_> {
    type Entry = Listed;

    fn call(&self) -> &'static str {
        if self.versions {
            "ListObjectVersions"
        } else {
            "ListObjectsV2"
        }
    }

    fn versions(&self) -> bool {
        self.versions
    }

    async fn page(&self, q: partition::Query<'_>) -> Result<partition::Page<Listed>, String> {
        let prefix = (!q.prefix.is_empty()).then(|| q.prefix.to_string());
        let delimiter = q.delimiter.then(|| "/".to_string());
        let prefixes = |cps: Option<Vec<aws_sdk_s3::types::CommonPrefix>>| {
            cps.unwrap_or_default()
                .into_iter()
                .map(|c| c.prefix.ok_or("a CommonPrefix without a Prefix"))
                .collect::<Result<Vec<String>, _>>()
        };
        if !self.versions
            && let Some((client, target)) = self.direct
        {
            return self.direct_page(client, target, &q).await;
        }
        if !self.versions {
            let token = match q.cursor {
                Some(Cursor::Token(t)) => Some(t.clone()),
                _ => None,
            };
            self.pacer.request().await;
            let page = self
                .s3
                .list_objects_v2()
                .bucket(self.bucket)
                .set_prefix(prefix)
                .set_delimiter(delimiter)
                .set_start_after(q.after.map(str::to_string))
                .set_continuation_token(token)
                .set_max_keys(self.page_size)
                .send()
                .await
                .map_err(|e| CallFailure::from_sdk(e).to_string())?;
            let mut entries = Vec::with_capacity(page.contents().len());
            for o in page.contents.unwrap_or_default() {
                let key = o.key.ok_or("an entry without a Key")?;
                entries.push(Listed {
                    key,
                    version_id: None,
                    is_latest: true,
                    size: o.size,
                    storage_class: o.storage_class.map(|s| s.as_str().to_string()),
                    last_modified: o.last_modified.map(|t| t.to_string()),
                    ticket: None,
                });
            }
            return Ok(partition::Page {
                entries,
                delete_markers: Vec::new(),
                prefixes: prefixes(page.common_prefixes)?,
                truncated: page.is_truncated,
                next: page.next_continuation_token.map(Cursor::Token),
            });
        }
        let (key_marker, version_marker) = match q.cursor {
            Some(Cursor::Markers { key, version }) => (Some(key.clone()), version.clone()),
            _ => (q.after.map(str::to_string), None),
        };
        self.pacer.request().await;
        let page = self
            .s3
            .list_object_versions()
            .bucket(self.bucket)
            .set_prefix(prefix)
            .set_delimiter(delimiter)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .set_max_keys(self.page_size)
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(e).to_string())?;
        let mut entries = Vec::with_capacity(page.versions().len());
        for v in page.versions.unwrap_or_default() {
            let key = v.key.ok_or("a Version without a Key")?;
            entries.push(Listed {
                key,
                version_id: v.version_id,
                // S3 always states IsLatest; a server that does not is taken at its
                // most conservative: the version is counted as current.
                is_latest: v.is_latest.unwrap_or(true),
                size: v.size,
                storage_class: v.storage_class.map(|s| s.as_str().to_string()),
                last_modified: v.last_modified.map(|t| t.to_string()),
                ticket: None,
            });
        }
        // Delete markers hold no data, so there is nothing to encrypt; they are still
        // checked for order.
        let mut delete_markers = Vec::new();
        for m in page.delete_markers.unwrap_or_default() {
            let key = m.key.ok_or("a DeleteMarker without a Key")?;
            delete_markers.push((key, m.version_id));
        }
        Ok(partition::Page {
            entries,
            delete_markers,
            prefixes: prefixes(page.common_prefixes)?,
            truncated: page.is_truncated,
            next: page.next_key_marker.map(|key| Cursor::Markers {
                key,
                version: page.next_version_id_marker,
            }),
        })
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
            Outcome::Read {
                mode, kms_key, raw, ..
            } => {
                counts.add(Some(*mode));
                if let Some(raw) = raw {
                    note_unknown_value(&mut s.unknown_values, raw);
                }
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

/// Counts one unknown encryption value, keeping at most [`MAX_UNKNOWN_VALUES`] distinct
/// values of at most [`MAX_UNKNOWN_VALUE_LEN`] bytes: a server inventing a new value per
/// object cannot grow the summary.
fn note_unknown_value(values: &mut BTreeMap<String, u64>, raw: &str) {
    let raw = shorten(raw, MAX_UNKNOWN_VALUE_LEN);
    if let Some(n) = values.get_mut(&raw) {
        *n += 1;
    } else if values.len() < MAX_UNKNOWN_VALUES {
        values.insert(raw, 1);
    } else {
        *values.entry(OTHER_UNKNOWN_VALUES.to_string()).or_default() += 1;
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
            raw,
        } => {
            record.mode = Some(mode);
            record.kms_key = kms_key;
            record.bucket_key_enabled = bucket_key;
            record.error = raw.map(|r| {
                format!(
                    "unrecognised x-amz-server-side-encryption value {:?}",
                    shorten(&r, MAX_UNKNOWN_VALUE_LEN)
                )
            });
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
