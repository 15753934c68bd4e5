//! The hyper server: accept loop, routing, latency and fault injection, stats.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::{Config, Expected};
use crate::fmt::{parse_query, percent_decode};
use crate::hash::{h3, tag, unit};
use crate::kms::{self, Kms};
use crate::model::BucketModel;
use crate::s3;
use crate::stats::{Counters, FaultKind, Op, Stats};

pub(crate) type Resp = Response<Full<Bytes>>;

const MAX_BODY: usize = 1 << 20;

/// Everything a request handler may read.
pub(crate) struct Shared {
    pub config: Config,
    buckets: HashMap<String, Arc<BucketModel>>,
    sorted: Vec<Arc<BucketModel>>,
    kms: Kms,
    stats: Counters,
    seq: AtomicU64,
    /// Token buckets of `config.head_rate_per_prefix`, per (bucket, prefix).
    prefix_rates: std::sync::Mutex<HashMap<(String, String), PrefixBucket>>,
}

/// One prefix's token bucket: `tokens` as of `at`.
struct PrefixBucket {
    tokens: f64,
    at: tokio::time::Instant,
    /// Reads served (not throttled) so far: how a bench sees the scan's spread.
    served: u64,
}

impl Shared {
    /// The fake's clock: the machine's, shifted by `clock_offset_secs`.
    fn now(&self) -> i64 {
        let machine = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        machine + self.config.clock_offset_secs
    }

    pub fn new(config: Config) -> Result<Shared, String> {
        config.validate()?;
        let mut sorted = Vec::new();
        let mut buckets = HashMap::new();
        for spec in &config.buckets {
            let m = Arc::new(BucketModel::new(spec, config.seed, &config.account_id)?);
            if buckets.insert(spec.name.clone(), m.clone()).is_some() {
                return Err(format!("duplicate bucket {}", spec.name));
            }
            sorted.push(m);
        }
        sorted.sort_by(|a, b| a.name().cmp(b.name()));
        let kms = Kms::new(&config, &sorted);
        Ok(Shared {
            config,
            buckets,
            sorted,
            kms,
            stats: Counters::default(),
            seq: AtomicU64::new(0),
            prefix_rates: std::sync::Mutex::default(),
        })
    }

    pub fn bucket(&self, name: &str) -> Option<&BucketModel> {
        self.buckets.get(name).map(|m| &**m)
    }

    pub fn buckets_sorted(&self) -> impl Iterator<Item = &Arc<BucketModel>> {
        self.sorted.iter()
    }
}

/// A parsed request.
pub(crate) struct Req {
    pub seq: u64,
    pub method: Method,
    /// Decoded bucket name; empty for `/`.
    pub bucket: String,
    /// Decoded key; `None` for bucket-level requests.
    pub key: Option<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    pub fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }
}

/// Where a request goes.
enum Route {
    S3(Op),
    Kms(Op),
    Sts,
    /// Not served: `mutating` or unknown.
    Rejected {
        mutating: bool,
        resp: Resp,
    },
}

/// Query parameters a bucket GET may carry and still be a plain listing.
const LIST_PARAMS: &[&str] = &[
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "encoding-type",
    "continuation-token",
    "fetch-owner",
    "start-after",
    "marker",
    "x-id",
];

fn not_implemented(req: &Req) -> Resp {
    s3::error(
        req,
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "fakes3 serves a read-only subset of S3; this request is not part of it",
    )
}

fn route(req: &Req) -> Route {
    let reject = |mutating: bool| Route::Rejected {
        mutating,
        resp: not_implemented(req),
    };
    match req.method {
        Method::GET if req.bucket.is_empty() => Route::S3(Op::ListBuckets),
        Method::GET if req.key.is_none() => {
            let sub = [
                ("location", Op::GetBucketLocation),
                ("encryption", Op::GetBucketEncryption),
                ("policy", Op::GetBucketPolicy),
                ("versioning", Op::GetBucketVersioning),
                ("publicAccessBlock", Op::GetPublicAccessBlock),
            ];
            if let Some((_, op)) = sub.iter().find(|(name, _)| req.has(name)) {
                return Route::S3(*op);
            }
            if req.has("versions") {
                let ok = req.query.iter().all(|(k, _)| {
                    ["versions", "key-marker", "version-id-marker"].contains(&k.as_str())
                        || LIST_PARAMS.contains(&k.as_str())
                });
                return if ok {
                    Route::S3(Op::ListObjectVersions)
                } else {
                    reject(false)
                };
            }
            if !req
                .query
                .iter()
                .all(|(k, _)| LIST_PARAMS.contains(&k.as_str()))
            {
                return reject(false);
            }
            match req.param("list-type") {
                Some("2") => Route::S3(Op::ListObjectsV2),
                None => Route::S3(Op::ListObjects),
                Some(_) => Route::Rejected {
                    mutating: false,
                    resp: s3::error(
                        req,
                        StatusCode::BAD_REQUEST,
                        "InvalidArgument",
                        "Invalid list-type",
                    ),
                },
            }
        }
        Method::GET => {
            if req
                .query
                .iter()
                .all(|(k, _)| k == "versionId" || k == "x-id")
            {
                Route::S3(Op::GetObject)
            } else {
                reject(false)
            }
        }
        Method::HEAD if req.bucket.is_empty() => reject(false),
        Method::HEAD if req.key.is_none() => Route::S3(Op::HeadBucket),
        Method::HEAD => {
            if req
                .query
                .iter()
                .all(|(k, _)| k == "versionId" || k == "x-id" || k.starts_with("response-"))
            {
                Route::S3(Op::HeadObject)
            } else {
                reject(false)
            }
        }
        Method::POST if req.bucket.is_empty() => {
            if let Some(target) = req.headers.get("x-amz-target") {
                return match target.to_str().ok().and_then(kms::kms_op) {
                    Some(op) => Route::Kms(op),
                    None => Route::Rejected {
                        mutating: false,
                        resp: kms::kms_error(
                            StatusCode::BAD_REQUEST,
                            "UnknownOperationException",
                            "fakes3 implements DescribeKey, GetKeyRotationStatus, ListAliases and GetKeyPolicy",
                        ),
                    },
                };
            }
            match kms::sts_action(&req.body).as_deref() {
                Some("GetCallerIdentity") => Route::Sts,
                _ => Route::Rejected {
                    mutating: false,
                    resp: kms::sts_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidAction",
                        "fakes3 implements only GetCallerIdentity",
                    ),
                },
            }
        }
        Method::PUT | Method::DELETE | Method::POST | Method::PATCH => reject(true),
        _ => reject(false),
    }
}

/// Per-connection switch that turns a drop into a TCP reset.
struct ConnCtl {
    reset: Notify,
    linger0: Arc<AtomicBool>,
}

/// The TCP stream, which on drop sends RST instead of FIN when asked to.
struct ResettableStream {
    inner: TcpStream,
    linger0: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.linger0.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

enum Outcome {
    Respond(Resp),
    Reset,
}

fn internal(shared: &Shared, method: &Method, path: &str) -> Resp {
    let json = |v: String| s3::response(StatusCode::OK, "application/json", v);
    match (method, path) {
        (&Method::GET, "stats") => {
            json(serde_json::to_string(&shared.stats.snapshot()).unwrap_or_default())
        }
        // Reads served per prefix, with `--head-rate-per-prefix` ("bucket/prefix": count).
        (&Method::GET, "prefix-reads") => {
            let rates = shared
                .prefix_rates
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let served: std::collections::BTreeMap<String, u64> = rates
                .iter()
                .map(|((bucket, prefix), b)| (format!("{bucket}/{prefix}"), b.served))
                .collect();
            json(serde_json::to_string(&served).unwrap_or_default())
        }
        (&Method::POST, "stats/reset") => {
            shared.stats.reset();
            s3::response(StatusCode::NO_CONTENT, "", Bytes::new())
        }
        (&Method::GET, "expected") => {
            let all: std::collections::BTreeMap<&str, Expected> = shared
                .buckets_sorted()
                .map(|m| (m.name(), m.expected()))
                .collect();
            json(serde_json::to_string(&all).unwrap_or_default())
        }
        (&Method::GET, "config") => json(serde_json::to_string(&shared.config).unwrap_or_default()),
        (&Method::GET, "health") => s3::response(StatusCode::OK, "text/plain", "ok"),
        _ => s3::response(
            StatusCode::NOT_FOUND,
            "text/plain",
            "unknown fakes3 endpoint",
        ),
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Outcome {
    let raw_path = req.uri().path().to_owned();
    if let Some(rest) = raw_path.strip_prefix("/__fakes3/") {
        return Outcome::Respond(internal(&shared, req.method(), rest));
    }
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
    shared.stats.request(req.method().as_str());
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let (parts, body) = req.into_parts();
    let body = if parts.method == Method::POST && raw_path == "/" {
        match Limited::new(body, MAX_BODY).collect().await {
            Ok(c) => c.to_bytes(),
            Err(_) => Bytes::new(),
        }
    } else {
        Bytes::new()
    };
    let rest = &raw_path[1..];
    let (bucket_raw, key_raw) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let bucket = percent_decode(bucket_raw, false);
    let key = key_raw
        .filter(|k| !k.is_empty())
        .map(|k| percent_decode(k, false));
    let query = parse_query(&raw_query);
    let malformed =
        bucket.is_none() || key.as_ref().is_some_and(Option::is_none) || query.is_none();
    let r = Req {
        seq,
        method: parts.method,
        bucket: bucket.unwrap_or_default(),
        key: key.flatten(),
        query: query.unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    if malformed {
        let resp = s3::error(
            &r,
            StatusCode::BAD_REQUEST,
            "InvalidURI",
            "Couldn't parse the specified URI.",
        );
        shared
            .stats
            .rejected(false, format!("{} {raw_path}?{raw_query}", r.method));
        return Outcome::Respond(finish(&shared, resp, seq));
    }
    let route = route(&r);
    let op = match &route {
        Route::S3(op) | Route::Kms(op) => Some(*op),
        Route::Sts => Some(Op::StsGetCallerIdentity),
        Route::Rejected { mutating, .. } => {
            let target = r
                .headers
                .get("x-amz-target")
                .and_then(|t| t.to_str().ok())
                .map(|t| format!(" [{t}]"))
                .unwrap_or_default();
            let q = if raw_query.is_empty() {
                String::new()
            } else {
                format!("?{raw_query}")
            };
            shared
                .stats
                .rejected(*mutating, format!("{} {raw_path}{q}{target}", r.method));
            None
        }
    };
    if let Some(op) = op {
        shared.stats.op(op);
    }
    delay(&shared, seq, op).await;
    if let Some(op) = op {
        shared.config.hostile.hang_if_named(op).await;
    }
    if matches!(op, Some(Op::HeadObject | Op::GetObject)) && over_prefix_rate(&shared, &r) {
        shared.stats.rate_limited();
        return Outcome::Respond(finish(&shared, fault_response(&r, &route, true), seq));
    }
    if let Some(op) = op
        && let Some(fault) = draw_fault(&shared, op, seq)
    {
        shared.stats.fault(&fault);
        return match fault {
            FaultKind::Reset => Outcome::Reset,
            FaultKind::SlowDown => {
                Outcome::Respond(finish(&shared, fault_response(&r, &route, true), seq))
            }
            FaultKind::Internal => {
                Outcome::Respond(finish(&shared, fault_response(&r, &route, false), seq))
            }
        };
    }
    let resp = match route {
        Route::S3(_) if signed_too_far_from(&shared, &r) => s3::error(
            &r,
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        ),
        Route::S3(op) => match shared.config.hostile.intercept(op, &r).await {
            Some(resp) => resp,
            None => {
                let honest = s3::dispatch(&shared, op, &r);
                shared.config.hostile.rewrite(op, &r, honest).await
            }
        },
        Route::Kms(op) => {
            let honest = kms::dispatch(&shared.kms, op, &r.body);
            shared.config.hostile.rewrite(op, &r, honest).await
        }
        Route::Sts => kms::get_caller_identity(&shared.config.account_id),
        Route::Rejected { resp, .. } => resp,
    };
    Outcome::Respond(finish(&shared, resp, seq))
}

fn fault_response(req: &Req, route: &Route, slowdown: bool) -> Resp {
    match route {
        Route::Kms(_) => {
            if slowdown {
                kms::kms_error(
                    StatusCode::BAD_REQUEST,
                    "ThrottlingException",
                    "Rate exceeded",
                )
            } else {
                kms::kms_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "KMSInternalException",
                    "internal error",
                )
            }
        }
        Route::Sts => {
            if slowdown {
                kms::sts_error(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded")
            } else {
                kms::sts_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    "internal error",
                )
            }
        }
        _ => {
            if slowdown {
                s3::error(
                    req,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SlowDown",
                    "Please reduce your request rate.",
                )
            } else {
                s3::error(
                    req,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
            }
        }
    }
}

fn draw_fault(shared: &Shared, op: Op, seq: u64) -> Option<FaultKind> {
    let f = &shared.config.faults;
    if !(op.is_object_data() || f.all_operations) {
        return None;
    }
    let u = unit(h3(shared.config.seed, tag::FAULT, seq));
    if u < f.reset {
        Some(FaultKind::Reset)
    } else if u < f.reset + f.slowdown_503 {
        Some(FaultKind::SlowDown)
    } else if u < f.reset + f.slowdown_503 + f.internal_500 {
        Some(FaultKind::Internal)
    } else {
        None
    }
}

/// Whether this object read exceeds its prefix's rate (`config.head_rate_per_prefix`),
/// taking a token from the prefix's bucket when it does not.
fn over_prefix_rate(shared: &Shared, req: &Req) -> bool {
    let Some(rate) = shared.config.head_rate_per_prefix else {
        return false;
    };
    let rate = f64::from(rate.max(1));
    let burst = (rate / 20.0).max(1.0);
    let key = req.key.as_deref().unwrap_or("");
    let prefix = key.find('/').map_or("", |i| &key[..=i]);
    let now = tokio::time::Instant::now();
    let mut rates = shared
        .prefix_rates
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let b = rates
        .entry((req.bucket.clone(), prefix.to_owned()))
        .or_insert(PrefixBucket {
            tokens: burst,
            at: now,
            served: 0,
        });
    b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
    b.at = now;
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        b.served += 1;
        false
    } else {
        true
    }
}

async fn delay(shared: &Shared, seq: u64, op: Option<Op>) {
    let list = matches!(
        op,
        Some(Op::ListObjectsV2 | Op::ListObjects | Op::ListObjectVersions)
    );
    let mut l = shared.config.latency;
    if list && shared.config.list_page_ms > 0 {
        l.base_ms = shared.config.list_page_ms;
    }
    if l.base_ms == 0 && l.jitter_ms == 0 {
        return;
    }
    let base = i128::from(l.base_ms) * 1000;
    let jitter = i128::from(l.jitter_ms) * 1000;
    let off = if jitter > 0 {
        i128::from(h3(shared.config.seed, tag::JITTER, seq) % (2 * jitter as u64 + 1)) - jitter
    } else {
        0
    };
    let us = (base + off).max(0) as u64;
    if us > 0 {
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

/// S3 refuses a request signed more than 15 minutes away from its own clock. Without an
/// offset the fake's clock is the client's, so nothing can be that far off and the check
/// (a date parse per request) is skipped.
fn signed_too_far_from(shared: &Shared, req: &Req) -> bool {
    if shared.config.clock_offset_secs == 0 {
        return false;
    }
    let now = shared.now();
    req.headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::fmt::parse_amz_date)
        .is_some_and(|signed| (signed - now).abs() > 15 * 60)
}

fn finish(shared: &Shared, mut resp: Resp, seq: u64) -> Resp {
    shared.stats.status(resp.status().as_u16());
    let h = resp.headers_mut();
    // hyper already sends the machine's time; only a shifted clock needs its own.
    if shared.config.clock_offset_secs != 0
        && let Ok(v) = HeaderValue::from_str(&crate::fmt::http_date(shared.now()))
    {
        h.insert(hyper::header::DATE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&s3::request_id(seq)) {
        h.insert("x-amz-request-id", v);
    }
    h.insert("server", HeaderValue::from_static("AmazonS3"));
    resp
}

async fn serve_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let linger0 = Arc::new(AtomicBool::new(false));
    let ctl = Arc::new(ConnCtl {
        reset: Notify::new(),
        linger0: linger0.clone(),
    });
    let io = TokioIo::new(ResettableStream {
        inner: stream,
        linger0,
    });
    let svc_ctl = ctl.clone();
    let svc = service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        let ctl = svc_ctl.clone();
        async move {
            match handle(shared, req).await {
                Outcome::Respond(r) => Ok::<_, Infallible>(r),
                Outcome::Reset => {
                    ctl.linger0.store(true, Ordering::Relaxed);
                    ctl.reset.notify_one();
                    std::future::pending().await
                }
            }
        }
    });
    let mut builder = http1::Builder::new();
    // No header read timeout: hyper arms a timer for it on every request, which was
    // 3 % of the server's CPU in the 1M-object bench (it shares the cores with the
    // scanner it serves); a client that stalls mid-header only holds its own connection.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    let conn = builder.serve_connection(io, svc);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = ctl.reset.notified() => {}
        _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.as_mut()).await;
        }
    }
}

/// A running server. Dropping it stops the server in the background; `shutdown` waits.
pub struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Handle {
    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// Stops accepting, lets in-flight requests finish (up to 2 s), then returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Binds `config.bind` (127.0.0.1:0 by default) and serves on the current tokio runtime.
pub async fn start(config: Config) -> io::Result<Handle> {
    let shared =
        Arc::new(Shared::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?);
    let listener = TcpListener::bind(shared.config.bind).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(shared.clone(), listener, rx));
    Ok(Handle {
        addr,
        shared,
        shutdown: tx,
        task: Some(task),
    })
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, mut rx: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = async { let _ = rx.wait_for(|s| *s).await; } => break,
            res = listener.accept() => match res {
                Ok((stream, _)) => {
                    conns.spawn(serve_connection(shared.clone(), stream, rx.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(3), drain)
        .await
        .is_err()
    {
        conns.abort_all();
    }
}
