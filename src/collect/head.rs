//! A lean HEAD Object client for the object scan's hot path.
//!
//! A scan costs one HEAD per object, so the CPU cost of a HEAD decides how fast a 2-core
//! machine can audit a large estate. Through the SDK's general-purpose orchestrator a HEAD
//! costs about 0.2 ms of CPU (interceptors, a config bag per call, endpoint rules and auth
//! scheme resolution per call, a re-derived signing key), which caps a scan near 6,000
//! objects/s whatever the concurrency. This client does only what a HEAD needs and asks S3
//! the same question at the same URL with the same credentials:
//!
//! * the URL and signing scope come from the SDK's own S3 endpoint resolver, run once per
//!   bucket with the parameters the SDK would use (region, FIPS, dual-stack, custom
//!   endpoint, path style), so addressing matches the SDK's exactly;
//! * requests are signed as the SDK's `aws-sigv4` signs them with S3's settings, by a
//!   signer for these few request shapes that derives the signing key once a day
//!   ([`super::signer`]);
//! * credentials come from the SDK's provider chain, cached until shortly before expiry;
//! * a clock more than 4 minutes off S3's is corrected from a refused request's `Date`,
//!   as the SDK corrects it;
//! * hyper sends the requests over keep-alive connections, with the SDK's trust store
//!   (native roots plus `--ca-bundle`); each HEAD drives the connection it holds in its
//!   own task ([`conns`]).
//!
//! Buckets whose endpoint needs another auth scheme (S3 Express directory buckets, SigV4a),
//! and endpoints reached through an HTTP(S) proxy (`HTTPS_PROXY` and friends, which the
//! SDK's client honours), are left to the SDK: [`HeadClient::target`] returns `None` for
//! them.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

mod conns;

use super::clients::TransportPolicy;
use super::credentials::CredentialCache;
use super::errors::{CallFailure, describe};
use super::pace::{Attempts, is_throttling};
use super::signer::{Signer, UNSIGNED_PAYLOAD, Unsigned};
use super::tls::{CaBundle, rustls_config};

/// Characters left as they are in an object key's URL path: RFC 3986 unreserved plus `/`,
/// as the SDK encodes the `{Key+}` label.
const KEY_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');
/// Characters left as they are in a query value: RFC 3986 unreserved only.
const QUERY_VALUE: &AsciiSet = &KEY_PATH.add(b'/');

/// Names the auditor in CloudTrail data events and S3 access logs, as the SDK's clients
/// do (`app/s3audit`).
const USER_AGENT: &str = concat!("s3audit/", env!("CARGO_PKG_VERSION"), " app/s3audit");
/// S3 refuses requests signed more than 15 minutes away from its clock. As in the SDK, a
/// 403 whose `Date` is further than this from our clock means ours is wrong: the offset is
/// learned and the HEAD signed again.
const SKEW_THRESHOLD_MS: i64 = 4 * 60 * 1000;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// What a HEAD says about an object's encryption at rest, as sent by S3.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadSse {
    /// `x-amz-server-side-encryption`: `AES256`, `aws:kms`, `aws:kms:dsse`.
    pub algorithm: Option<String>,
    /// `x-amz-server-side-encryption-aws-kms-key-id`, as S3 names it (usually an ARN).
    pub kms_key: Option<String>,
    pub bucket_key: Option<bool>,
    /// `x-amz-server-side-encryption-customer-algorithm` was present.
    pub customer_key: bool,
}

/// Where a bucket's objects are, and how requests to them are signed.
#[derive(Debug, Clone)]
pub struct HeadTarget {
    /// `scheme://authority[/path]` without a trailing slash; the key's path follows.
    base: String,
    /// How long `scheme://authority` is in `base`: the HEADs' connections are per
    /// endpoint, and their requests name only the path.
    origin_len: usize,
    /// The `Host` header: the authority without a default port (what the signer signs).
    host: http::HeaderValue,
    signing_region: String,
    signing_name: String,
}

/// The SDK-compatible HEAD client, shared by reference by every HEAD in flight.
pub struct HeadClient {
    /// The HEADs' connections, each driven by the HEAD holding it ([`conns`]).
    conns: conns::Conns,
    /// The SSE-C probes' (ranged GETs with an error body to read).
    probe_http: HttpsClient,
    /// Listing pages (the survey's and the scan's), on connections of their own: a connection keeps the
    /// read buffer a page of hundreds of kB grew it to, and back in the HEADs' pool of
    /// hundreds such connections held 50–60 MB (measured on the 1M-object bench).
    listing_http: HttpsClient,
    credentials: CredentialCache,
    /// The SDK configuration's endpoint variants (`AWS_USE_FIPS_ENDPOINT`, dual-stack).
    use_fips: bool,
    use_dual_stack: bool,
    /// The S3 endpoint override, if any; buckets then go in the path.
    endpoint: Option<String>,
    resolver: DefaultResolver,
    /// Attempts, per-attempt timeout and backoff: the same policy as the SDK's clients.
    transport: TransportPolicy,
    signer: Signer,
    /// The proxy rules of the environment, read as the SDK's client reads them.
    proxy: Matcher,
    /// How far S3's clock is ahead of ours, in milliseconds; signing uses S3's time.
    skew_ms: AtomicI64,
}

impl HeadClient {
    /// A client with `pool` keep-alive connections per host (the scan's concurrency), the
    /// SDK's credentials and trust store, and the scan's transport policy (attempts, timeouts, backoff).
    pub fn new(
        sdk: &SdkConfig,
        endpoint: Option<&str>,
        ca_bundle: Option<&CaBundle>,
        pool: usize,
        transport: TransportPolicy,
    ) -> anyhow::Result<Self> {
        let credentials = sdk
            .credentials_provider()
            .context("no credentials provider configured")?;
        let connector = || -> anyhow::Result<_> {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            http.set_connect_timeout(Some(transport.connect_timeout));
            Ok(hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(rustls_config(ca_bundle)?)
                .https_or_http()
                .enable_http1()
                .wrap_connector(http))
        };
        let client = |pool: usize| -> anyhow::Result<HttpsClient> {
            Ok(Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(pool.max(1))
                .pool_idle_timeout(Duration::from_secs(60))
                .build(connector()?))
        };
        let conns = conns::Conns::new(connector()?, pool);
        let probe_http = client(PROBE_POOL)?;
        let listing_http = client(LISTING_POOL)?;
        Ok(HeadClient {
            conns,
            probe_http,
            listing_http,
            credentials: CredentialCache::new(credentials),
            use_fips: sdk.use_fips().unwrap_or(false),
            use_dual_stack: sdk.use_dual_stack().unwrap_or(false),
            endpoint: endpoint.map(str::to_string),
            resolver: DefaultResolver::new(),
            transport,
            signer: Signer::default(),
            proxy: Matcher::from_env(),
            skew_ms: AtomicI64::new(0),
        })
    }

    /// Resolves where `bucket`'s objects are, exactly as the SDK's S3 client for `region`
    /// would. `None` when the endpoint needs something this client does not do (another
    /// auth scheme, extra endpoint headers, a proxy): the caller then uses the SDK.
    pub async fn target(&self, bucket: &str, region: &str) -> Option<HeadTarget> {
        let mut params = Params::builder()
            .bucket(bucket)
            .region(region)
            .use_fips(self.use_fips)
            .use_dual_stack(self.use_dual_stack)
            .force_path_style(self.endpoint.is_some());
        if let Some(url) = &self.endpoint {
            params = params.endpoint(url);
        }
        let params = params.build().ok()?;
        let endpoint = self.resolver.resolve_endpoint(&params).await.ok()?;
        if endpoint.headers().next().is_some() {
            return None;
        }
        let scheme = endpoint.auth_schemes().first()?;
        if scheme.name() != "sigv4" {
            return None;
        }
        let uri: http::Uri = endpoint.url().parse().ok()?;
        if self.proxy.intercept(&uri).is_some() {
            return None;
        }
        let text = |key: &str| scheme.get(key).and_then(|d| d.as_string());
        let base = endpoint.url().trim_end_matches('/').to_string();
        let (origin_len, host) = super::signer::origin_and_host(&base)?;
        Some(HeadTarget {
            origin_len,
            host: http::HeaderValue::from_str(host).ok()?,
            base,
            signing_region: text("signingRegion").unwrap_or(region).to_string(),
            signing_name: text("signingName").unwrap_or("s3").to_string(),
        })
    }

    /// HEADs one object (one version), retrying throttling and transient faults with
    /// jittered exponential backoff. The caller's concurrency slot is held while backing
    /// off, so throttling slows the whole scan down rather than piling retries on.
    pub async fn head(
        &self,
        target: &HeadTarget,
        key: &str,
        version_id: Option<&str>,
        pacing: Attempts<'_>,
    ) -> Result<HeadSse, CallFailure> {
        let uri = object_uri(target, key, version_id);
        self.with_retries(pacing, || async {
            let response = self.send_head(target, &uri).await?;
            let status = response.status();
            if status == StatusCode::OK {
                return Ok(sse_of(response.headers()));
            }
            // A HEAD error has no body: the status is all there is.
            Err(classify(CallFailure::Service {
                code: error_code(status).map(str::to_string),
                message: String::new(),
                status: status.as_u16(),
            }))
        })
        .await
    }

    /// Asks for the object's first byte, without the customer key: how an SSE-C object is
    /// told from any other object whose HEAD answered 400. S3 refuses an SSE-C object
    /// with 400 `InvalidRequest` and an error body that says why; `Ok(())` means the
    /// object answered with data (which is dropped unread: the connection is closed
    /// rather than reused, so at most the one requested byte was ever sent).
    pub async fn probe_first_byte(
        &self,
        target: &HeadTarget,
        key: &str,
        version_id: Option<&str>,
        pacing: Attempts<'_>,
    ) -> Result<(), CallFailure> {
        let uri = object_uri(target, key, version_id);
        self.with_retries(pacing, || async {
            let response = self
                .send_on(
                    &self.probe_http,
                    Method::GET,
                    target,
                    &uri,
                    &[("range", "bytes=0-0")],
                )
                .await?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let body = http_body_util::Limited::new(response.into_body(), MAX_ERROR_BODY)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Err(refused(status, &body))
        })
        .await
    }

    /// GETs the bucket itself with `query` (already encoded, e.g. `list-type=2&…`): a
    /// listing page's raw XML, at most [`MAX_LISTING_BODY`] bytes. For the survey (see
    /// [`super::survey`]), which only counts keys, and for the scan's listing of current
    /// objects (see [`super::list_page`]): neither builds an SDK object per key.
    pub async fn get_bucket(
        &self,
        target: &HeadTarget,
        query: &str,
        pacing: Attempts<'_>,
    ) -> Result<Bytes, CallFailure> {
        let uri = bucket_uri(target, query);
        self.with_retries(pacing, || async {
            let response = self
                .send_on(&self.listing_http, Method::GET, target, &uri, &[])
                .await?;
            let status = response.status();
            let limit = if status == StatusCode::OK {
                MAX_LISTING_BODY
            } else {
                MAX_ERROR_BODY
            };
            let body = http_body_util::Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Attempt::Final(CallFailure::Request(format!(
                            "listing page larger than {limit} bytes"
                        )))
                    } else {
                        Attempt::Transient(CallFailure::Unreachable(format!(
                            "listing body unreadable: {e}"
                        )))
                    }
                })?
                .to_bytes();
            if status == StatusCode::OK {
                return Ok(body);
            }
            Err(refused(status, &body))
        })
        .await
    }

    /// Runs `attempt` until it succeeds, fails for good, or `max_attempts` are spent,
    /// each attempt bounded by the request timeout, with full-jitter backoff between.
    /// Every attempt waits for `pacing`'s rate cap and tells the prefix's window whether
    /// S3 throttled it.
    async fn with_retries<T, F, Fut>(
        &self,
        pacing: Attempts<'_>,
        mut attempt: F,
    ) -> Result<T, CallFailure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        let mut n = 1;
        loop {
            let epoch = pacing.before().await;
            let outcome = tokio::time::timeout(self.transport.attempt_timeout, attempt()).await;
            pacing.after(
                epoch,
                matches!(&outcome, Ok(Err(Attempt::Transient(f))) if is_throttling(f)),
            );
            let failure = match outcome {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(Attempt::Final(f))) => return Err(f),
                Ok(Err(Attempt::Transient(f))) => f,
                Err(_) => CallFailure::Unreachable(format!(
                    "no answer within {}",
                    humantime::format_duration(self.transport.attempt_timeout)
                )),
            };
            if n >= self.transport.max_attempts {
                return Err(gave_up(failure, n));
            }
            tokio::time::sleep(self.transport.backoff(n)).await;
            n += 1;
        }
    }

    /// Signs and sends one request over the pooled connections of `http`; a 403 that
    /// shows our clock is off is turned into a transient failure so the request is signed
    /// again with S3's time.
    async fn send_on(
        &self,
        http: &HttpsClient,
        method: Method,
        target: &HeadTarget,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> Result<http::Response<hyper::body::Incoming>, Attempt> {
        let identity = self.credentials.get().await.map_err(Attempt::Final)?;
        let signed = self.signed(&identity, method, target, uri, headers, false)?;
        let response = http
            .request(signed.request)
            .await
            .map_err(|e| Attempt::Transient(CallFailure::Unreachable(describe(&e))))?;
        self.unless_skewed(response, signed.sent, signed.skew)
    }

    /// A HEAD of `uri`, signed and sent on one of the HEADs' own connections ([`conns`]).
    async fn send_head(
        &self,
        target: &HeadTarget,
        uri: &str,
    ) -> Result<http::Response<hyper::body::Incoming>, Attempt> {
        let identity = self.credentials.get().await.map_err(Attempt::Final)?;
        let mut last = (SystemTime::UNIX_EPOCH, 0);
        let origin = &target.base[..target.origin_len];
        let response = self
            .conns
            .send(origin, || {
                let signed = self.signed(&identity, Method::HEAD, target, uri, &[], true)?;
                last = (signed.sent, signed.skew);
                Ok(signed.request)
            })
            .await?;
        self.unless_skewed(response, last.0, last.1)
    }

    /// Signs `method` on `uri` (the whole URL) as S3 wants it. `path_only`: the request
    /// names only the path, with `Host` set, as a connection of our own sends it (hyper's
    /// pooled client does both itself).
    fn signed(
        &self,
        identity: &Identity,
        method: Method,
        target: &HeadTarget,
        uri: &str,
        headers: &[(&str, &str)],
        path_only: bool,
    ) -> Result<Signed, Attempt> {
        let credentials = identity.data::<Credentials>().ok_or_else(|| {
            Attempt::Final(CallFailure::Request(
                "the credentials provider gave no access key".to_string(),
            ))
        })?;
        let sent = SystemTime::now();
        let skew = self.skew_ms.load(Ordering::Relaxed);
        let unsigned = Unsigned {
            method: method.as_str(),
            uri,
            headers,
        };
        let signature = self
            .signer
            .sign(
                &unsigned,
                credentials,
                &target.signing_region,
                &target.signing_name,
                shift(sent, skew),
            )
            .map_err(|e| Attempt::Final(CallFailure::Request(e.to_string())))?;
        let mut builder = Request::builder().method(method);
        builder = if path_only {
            builder
                .uri(&uri[target.origin_len..])
                .header(http::header::HOST, target.host.clone())
        } else {
            builder.uri(uri)
        };
        builder = builder
            .header(http::header::USER_AGENT, USER_AGENT)
            .header("x-amz-date", signature.amz_date)
            .header("x-amz-content-sha256", UNSIGNED_PAYLOAD)
            .header(
                http::header::AUTHORIZATION,
                sensitive(&signature.authorization)?,
            );
        if let Some(token) = credentials.session_token() {
            builder = builder.header("x-amz-security-token", sensitive(token)?);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Empty::<Bytes>::new())
            .map_err(|e| Attempt::Final(CallFailure::Request(format!("bad object URL: {e}"))))?;
        Ok(Signed {
            request,
            sent,
            skew,
        })
    }

    /// `response`, unless it is a 403 showing that the request (signed at `sent` with
    /// offset `skew`) was refused for our clock: then a transient failure, so the request
    /// is signed again with S3's time.
    fn unless_skewed(
        &self,
        response: http::Response<hyper::body::Incoming>,
        sent: SystemTime,
        skew: i64,
    ) -> Result<http::Response<hyper::body::Incoming>, Attempt> {
        if response.status() == StatusCode::FORBIDDEN
            && self.learn_skew(response.headers(), sent, skew)
        {
            return Err(Attempt::Transient(CallFailure::Service {
                code: Some("RequestTimeTooSkewed".to_string()),
                message: "this machine's clock is off; signing with S3's time".to_string(),
                status: 403,
            }));
        }
        Ok(response)
    }

    /// Compares the `Date` of a refused request with the middle of its round trip. `true`
    /// when the request was signed more than [`SKEW_THRESHOLD_MS`] away from S3's time
    /// (it was signed with offset `used`): the offset seen is then in force for every
    /// HEAD, and this one is worth signing again.
    fn learn_skew(&self, headers: &http::HeaderMap, sent: SystemTime, used: i64) -> bool {
        let Some(server) = headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
        else {
            return false;
        };
        let received = SystemTime::now();
        let midpoint = sent + received.duration_since(sent).unwrap_or_default() / 2;
        let seen = signed_ms(server, midpoint);
        if (seen - used).abs() <= SKEW_THRESHOLD_MS {
            return false;
        }
        // Many HEADs in flight learn the same offset at once; say it once.
        let previous = self.skew_ms.swap(seen, Ordering::Relaxed);
        if (seen - previous).abs() > SKEW_THRESHOLD_MS {
            tracing::warn!(
                skew_seconds = seen / 1000,
                "S3's clock differs from this machine's; signing HEADs with S3's time"
            );
        }
        true
    }
}

/// A header value kept out of `Debug` output (and so out of logs), as the SDK keeps the
/// signature and session token.
fn sensitive(value: &str) -> Result<http::HeaderValue, Attempt> {
    let mut v = http::HeaderValue::from_str(value).map_err(|_| {
        Attempt::Final(CallFailure::Request(
            "credentials that cannot be sent in a header".to_string(),
        ))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// `a - b` in milliseconds, signed.
fn signed_ms(a: SystemTime, b: SystemTime) -> i64 {
    match a.duration_since(b) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// `t` moved by `ms` milliseconds (either way).
fn shift(t: SystemTime, ms: i64) -> SystemTime {
    let by = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 { t + by } else { t - by }
}

/// A signed request, and the time and clock offset it was signed with.
struct Signed {
    request: Request<Empty<Bytes>>,
    sent: SystemTime,
    skew: i64,
}

/// How one attempt ended, when it did not read the object.
enum Attempt {
    /// Worth another attempt: throttling, a 5xx, a dropped connection, a timeout.
    Transient(CallFailure),
    /// Retrying cannot change the answer (403, 404, 400 for SSE-C, ...).
    Final(CallFailure),
}

/// Throttling and server-side faults: what AWS documents as retryable for S3.
fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// A failed answer, as worth another attempt or not.
fn classify(failure: CallFailure) -> Attempt {
    match &failure {
        CallFailure::Service { status, .. }
            if StatusCode::from_u16(*status).is_ok_and(is_transient) =>
        {
            Attempt::Transient(failure)
        }
        _ => Attempt::Final(failure),
    }
}

/// The URL of one object (one version) under `target`.
fn object_uri(target: &HeadTarget, key: &str, version_id: Option<&str>) -> String {
    // Pushed piece by piece: through `format!` this cost 1% of a scan's CPU.
    let mut uri = String::with_capacity(target.base.len() + 1 + key.len() * 3);
    uri.push_str(&target.base);
    uri.push('/');
    uri.extend(utf8_percent_encode(key, KEY_PATH));
    if let Some(v) = version_id {
        uri.push_str("?versionId=");
        uri.extend(utf8_percent_encode(v, QUERY_VALUE));
    }
    uri
}

/// The URL of the bucket itself with `query`: `…/bucket?query` when the bucket is in the
/// path, `https://bucket.host/?query` when it is in the host.
fn bucket_uri(target: &HeadTarget, query: &str) -> String {
    let path_style = target
        .base
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    let sep = if path_style { "?" } else { "/?" };
    format!("{}{sep}{query}", target.base)
}

/// Encodes a query parameter's value as the SDK does.
pub(super) fn query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// Idle connections kept for the SSE-C probes (rare: one per HEAD answered 400).
const PROBE_POOL: usize = 16;

/// Idle connections kept for listing pages: the listers' and the survey's streams.
const LISTING_POOL: usize = 16;

/// A listing page of 1,000 keys of S3's longest (1,024 bytes) is about 1.3 MB.
const MAX_LISTING_BODY: usize = 4 * 1024 * 1024;

/// A request S3 answered with `status` and error `body`: its code and message, or what the
/// status means when the body says nothing.
fn refused(status: StatusCode, body: &[u8]) -> Attempt {
    let (code, message) = error_fields(&String::from_utf8_lossy(body));
    classify(CallFailure::Service {
        code: code.or_else(|| error_code(status).map(str::to_string)),
        message: message.unwrap_or_default(),
        status: status.as_u16(),
    })
}

/// Enough of an S3 error body for its code and message; a longer one is cut here.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// `Code` and `Message` of an S3 XML error body (`<Error><Code>…</Code>…`), unescaped.
/// A body that is not such a document yields neither.
pub(crate) fn error_fields(body: &str) -> (Option<String>, Option<String>) {
    let field = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = body.find(&open)? + open.len();
        let len = body[start..].find(&close)?;
        Some(xml_unescape(&body[start..start + len]))
    };
    (field("Code"), field("Message"))
}

/// XML text with its entities replaced ([`super::list_page::unescape`]); text with an
/// entity that cannot be read is kept as sent.
pub(super) fn xml_unescape(s: &str) -> String {
    super::list_page::unescape(s).map_or_else(|_| s.to_string(), std::borrow::Cow::into_owned)
}

/// A HEAD response has no body, so no error code; these are what S3 means by the status.
fn error_code(status: StatusCode) -> Option<&'static str> {
    match status.as_u16() {
        403 => Some("AccessDenied"),
        404 => Some("NotFound"),
        503 => Some("SlowDown"),
        // The bucket is in another region than the one asked (S3 names it in a header).
        301 => Some("PermanentRedirect"),
        307 => Some("TemporaryRedirect"),
        _ => None,
    }
}

fn gave_up(failure: CallFailure, attempts: u32) -> CallFailure {
    let suffix = format!("gave up after {attempts} attempts");
    match failure {
        CallFailure::Service {
            code,
            message,
            status,
        } => CallFailure::Service {
            code,
            message: if message.is_empty() {
                suffix
            } else {
                format!("{message} ({suffix})")
            },
            status,
        },
        CallFailure::Unreachable(m) => CallFailure::Unreachable(format!("{m} ({suffix})")),
        other => other,
    }
}

/// The SSE headers of a HEAD answer. The encryption value is kept as sent, so that a
/// value S3 does not document is seen as such: bytes that are not UTF-8 are replaced (and
/// so match nothing documented), and a repeated header is kept as all its values joined,
/// which matches nothing documented either — never the first value alone.
fn sse_of(headers: &http::HeaderMap) -> HeadSse {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let algorithm = {
        let values: Vec<String> = headers
            .get_all("x-amz-server-side-encryption")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    HeadSse {
        algorithm,
        kms_key: text("x-amz-server-side-encryption-aws-kms-key-id").filter(|k| !k.is_empty()),
        bucket_key: text("x-amz-server-side-encryption-bucket-key-enabled")
            .map(|v| v.eq_ignore_ascii_case("true")),
        customer_key: headers.contains_key("x-amz-server-side-encryption-customer-algorithm"),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::collect) fn client(endpoint: Option<&str>, fips: bool) -> HeadClient {
        let mut sdk = SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("k", "s", None, None, "test"),
                ),
            )
            .use_fips(fips)
            .behavior_version(aws_config::BehaviorVersion::latest());
        if let Some(url) = endpoint {
            sdk = sdk.endpoint_url(url);
        }
        HeadClient::new(
            &sdk.build(),
            endpoint,
            None,
            4,
            TransportPolicy::new(3, Duration::from_secs(30)),
        )
        .unwrap()
    }

    async fn base(client: &HeadClient, bucket: &str, region: &str) -> Option<(String, String)> {
        let t = client.target(bucket, region).await?;
        Some((t.base, t.signing_region))
    }

    #[tokio::test]
    async fn addressing_follows_the_sdk_endpoint_rules() {
        let aws = client(None, false);
        let at = |u: &str, r: &str| Some((u.to_string(), r.to_string()));
        assert_eq!(
            base(&aws, "logs", "eu-west-1").await,
            at("https://logs.s3.eu-west-1.amazonaws.com", "eu-west-1")
        );
        // Dots break the wildcard certificate of virtual hosts: path style.
        assert_eq!(
            base(&aws, "my.logs", "eu-west-1").await,
            at("https://s3.eu-west-1.amazonaws.com/my.logs", "eu-west-1")
        );
        assert_eq!(
            base(&aws, "logs", "cn-north-1").await,
            at("https://logs.s3.cn-north-1.amazonaws.com.cn", "cn-north-1")
        );
        assert_eq!(
            base(&client(None, true), "logs", "us-gov-west-1").await,
            at(
                "https://logs.s3-fips.us-gov-west-1.amazonaws.com",
                "us-gov-west-1"
            )
        );
        let local = client(Some("http://127.0.0.1:9000"), false);
        assert_eq!(
            base(&local, "logs", "us-east-1").await,
            at("http://127.0.0.1:9000/logs", "us-east-1")
        );
        // S3 Express directory buckets sign with session credentials: left to the SDK.
        assert_eq!(base(&aws, "data--usw2-az1--x-s3", "us-west-2").await, None);
    }

    #[tokio::test]
    async fn proxied_endpoints_are_left_to_the_sdk() {
        let mut aws = client(None, false);
        aws.proxy = Matcher::builder()
            .https("http://proxy.internal:3128")
            .no("s3.eu-central-1.amazonaws.com")
            .build();
        assert_eq!(base(&aws, "logs", "eu-west-1").await, None);
        // NO_PROXY matches the host (and its subdomains): sent directly.
        assert!(base(&aws, "logs", "eu-central-1").await.is_some());
        let mut local = client(Some("http://127.0.0.1:9000"), false);
        local.proxy = Matcher::builder()
            .http("http://proxy.internal:3128")
            .build();
        assert_eq!(base(&local, "logs", "us-east-1").await, None);
    }

    #[test]
    fn keys_are_encoded_as_the_sdk_encodes_the_key_label() {
        let enc = |k: &str| utf8_percent_encode(k, KEY_PATH).to_string();
        assert_eq!(enc("a/b c+d%e~f_g.h-i"), "a/b%20c%2Bd%25e~f_g.h-i");
        assert_eq!(enc("ünï/☃"), "%C3%BCn%C3%AF/%E2%98%83");
        assert_eq!(enc("x<&>'\"?#="), "x%3C%26%3E%27%22%3F%23%3D");
        let q = |v: &str| utf8_percent_encode(v, QUERY_VALUE).to_string();
        assert_eq!(q("a/b+c=d"), "a%2Fb%2Bc%3Dd");
    }

    #[test]
    fn clock_offsets_are_signed_both_ways() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let later = t + Duration::from_millis(90_500);
        assert_eq!(signed_ms(later, t), 90_500);
        assert_eq!(signed_ms(t, later), -90_500);
        assert_eq!(shift(t, 90_500), later);
        assert_eq!(shift(later, -90_500), t);
    }

    #[test]
    fn bodiless_errors_are_named_by_their_status() {
        let code = |s| error_code(StatusCode::from_u16(s).unwrap());
        assert_eq!(code(403), Some("AccessDenied"));
        assert_eq!(code(307), Some("TemporaryRedirect"));
        assert_eq!(code(301), Some("PermanentRedirect"));
        assert_eq!(code(400), None);
    }

    #[test]
    fn only_throttling_and_server_faults_are_retried() {
        for s in [429, 500, 502, 503, 504] {
            assert!(is_transient(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [301, 400, 403, 404, 405, 501] {
            assert!(!is_transient(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn sse_headers_are_read_as_sent() {
        let mut h = http::HeaderMap::new();
        h.insert("x-amz-server-side-encryption", "aws:kms".parse().unwrap());
        h.insert(
            "x-amz-server-side-encryption-aws-kms-key-id",
            "arn:aws:kms:us-east-1:1:key/k".parse().unwrap(),
        );
        h.insert(
            "x-amz-server-side-encryption-bucket-key-enabled",
            "TRUE".parse().unwrap(),
        );
        let sse = sse_of(&h);
        assert_eq!(sse.algorithm.as_deref(), Some("aws:kms"));
        assert_eq!(
            sse.kms_key.as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/k")
        );
        assert_eq!(sse.bucket_key, Some(true));
        assert!(!sse.customer_key);
        assert_eq!(sse_of(&http::HeaderMap::new()), HeadSse::default());
    }
}
