//! SigV4 for the requests the direct client sends by the million: HEAD and ranged GET of
//! an object, GET of a listing page.
//!
//! `aws-sigv4`'s general signer took 18% of the scan's CPU on the 1M-object bench (perf,
//! 200,000 objects): per request it derives the day's signing key again (four HMACs),
//! copies every header into a fresh `HeaderMap`, decodes and re-encodes the query and
//! formats the canonical request through `fmt`. These requests have one shape, so this
//! signer writes the canonical request straight into one buffer and derives the signing
//! key once per day, region and credentials. The key derivation and the signature itself
//! are still `aws-sigv4`'s own functions; the tests check every header this signer writes
//! against `aws-sigv4`'s for arbitrary keys, version ids, listing queries, session tokens,
//! endpoints and times.
//!
//! What the request must already be (the direct client builds only such requests):
//! the path and query are percent-encoded with RFC 3986's unreserved set (plus `/` in the
//! path), as the SDK encodes them, so S3's single-encoding canonical form is the path as
//! sent and the query's pairs sorted; extra header names are lowercase and their values
//! have no surrounding or repeated spaces.

use std::sync::Mutex;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use sha2::{Digest, Sha256};

/// S3 takes the payload hash in `x-amz-content-sha256`; these requests have no body to
/// hash, and S3 accepts an unsigned one.
pub(super) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Signing keys kept (one per day, region, service and credentials): a scan's buckets
/// span a few regions, and each key is 32 bytes.
const MAX_KEYS: usize = 16;

/// What one request is, as far as its signature goes.
pub(super) struct Unsigned<'a> {
    pub method: &'a str,
    /// The full URL: `scheme://authority/path[?query]`.
    pub uri: &'a str,
    /// Extra headers to sign besides host and the `x-amz-*` ones, e.g. `range`.
    pub headers: &'a [(&'a str, &'a str)],
}

/// The headers that carry a request's signature.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Signature {
    pub authorization: String,
    /// `x-amz-date`: `YYYYMMDD'T'HHMMSS'Z'`.
    pub amz_date: String,
}

/// Why a request could not be signed (a URL the direct client would never build).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign {0}: not an absolute URL")]
pub(super) struct UnsignableUrl(String);

/// Signs with a signing key derived once per day, region, service and credentials.
#[derive(Default)]
pub(super) struct Signer {
    keys: Mutex<Vec<DayKey>>,
}

/// One derived signing key and what it was derived for.
struct DayKey {
    day: u64,
    region: String,
    service: String,
    access_key: String,
    secret: String,
    key: [u8; 32],
}

impl Signer {
    /// Signs `request` as `credentials` for `region` and `service` at `time`. The session
    /// token, if any, is signed too (S3's default) and must be sent as
    /// `x-amz-security-token`.
    pub fn sign(
        &self,
        request: &Unsigned<'_>,
        credentials: &Credentials,
        region: &str,
        service: &str,
        time: SystemTime,
    ) -> Result<Signature, UnsignableUrl> {
        let (authority, path, query) =
            split_url(request.uri).ok_or_else(|| UnsignableUrl(request.uri.to_string()))?;
        let amz_date = amz_date(unix_secs(time));
        let date = &amz_date[..8];

        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(5 + request.headers.len());
        headers.push(("host", host_value(request.uri, authority)));
        headers.extend_from_slice(request.headers);
        headers.push(("x-amz-content-sha256", UNSIGNED_PAYLOAD));
        headers.push(("x-amz-date", &amz_date));
        if let Some(token) = credentials.session_token() {
            headers.push(("x-amz-security-token", token));
        }
        headers.sort_unstable_by_key(|(name, _)| *name);
        let signed_headers = headers
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(";");

        let mut creq = String::with_capacity(256 + request.uri.len());
        creq.push_str(request.method);
        creq.push('\n');
        creq.push_str(if path.is_empty() { "/" } else { path });
        creq.push('\n');
        push_canonical_query(&mut creq, query);
        creq.push('\n');
        for (name, value) in &headers {
            creq.push_str(name);
            creq.push(':');
            creq.push_str(value);
            creq.push('\n');
        }
        creq.push('\n');
        creq.push_str(&signed_headers);
        creq.push('\n');
        creq.push_str(UNSIGNED_PAYLOAD);

        let mut scope = String::with_capacity(64);
        for part in [date, "/", region, "/", service, "/aws4_request"] {
            scope.push_str(part);
        }
        let mut hashed = [0u8; 64];
        hex::encode_to_slice(Sha256::digest(creq.as_bytes()), &mut hashed)
            .expect("a SHA-256 is 64 hex digits");
        let mut string_to_sign = creq;
        string_to_sign.clear();
        for part in [ALGORITHM, "\n", &amz_date, "\n", &scope, "\n"] {
            string_to_sign.push_str(part);
        }
        string_to_sign.push_str(std::str::from_utf8(&hashed).expect("hex is ASCII"));
        let key = self.key(credentials, time, region, service);
        let signature = calculate_signature(key, string_to_sign.as_bytes());
        let mut authorization = String::with_capacity(256);
        for part in [
            ALGORITHM,
            " Credential=",
            credentials.access_key_id(),
            "/",
            &scope,
            ", SignedHeaders=",
            &signed_headers,
            ", Signature=",
            &signature,
        ] {
            authorization.push_str(part);
        }
        Ok(Signature {
            authorization,
            amz_date,
        })
    }

    /// The signing key for `time`'s day, derived on first use.
    fn key(
        &self,
        credentials: &Credentials,
        time: SystemTime,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        let day = unix_secs(time) / 86_400;
        let matches = |k: &DayKey| {
            k.day == day
                && k.region == region
                && k.service == service
                && k.access_key == credentials.access_key_id()
                && k.secret == credentials.secret_access_key()
        };
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = keys.iter().find(|k| matches(k)) {
            return k.key;
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(
            generate_signing_key(credentials.secret_access_key(), time, region, service).as_ref(),
        );
        // Keys of past days and rotated credentials are never used again.
        keys.retain(|k| k.day == day && k.access_key == credentials.access_key_id());
        if keys.len() >= MAX_KEYS {
            keys.remove(0);
        }
        keys.push(DayKey {
            day,
            region: region.to_string(),
            service: service.to_string(),
            access_key: credentials.access_key_id().to_string(),
            secret: credentials.secret_access_key().to_string(),
            key,
        });
        key
    }
}

/// `scheme://authority/path?query` as (authority, path, query); `None` without a scheme.
fn split_url(uri: &str) -> Option<(&str, &str, &str)> {
    let (_, rest) = uri.split_once("://")?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    (!authority.is_empty()).then_some((authority, path, query))
}

/// `url`'s `scheme://authority` length and the `host` header signed for it: the HEADs'
/// own connections send the path alone with this `Host`, so the two cannot disagree.
pub(super) fn origin_and_host(url: &str) -> Option<(usize, &str)> {
    let (authority, path, query) = split_url(url)?;
    let origin = url.len() - path.len() - if query.is_empty() { 0 } else { query.len() + 1 };
    Some((origin, host_value(url, authority)))
}

/// The `host` header hyper sends for `uri`: the authority without a default port.
fn host_value<'a>(uri: &str, authority: &'a str) -> &'a str {
    let default = if uri.starts_with("https://") {
        ":443"
    } else {
        ":80"
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// The query's pairs sorted by name then value (a bare `name` counts as `name=`). They
/// are already encoded as the canonical form wants, so sorting is all that is left.
fn push_canonical_query(out: &mut String, query: &str) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
}

/// Whole seconds since the epoch (0 before it).
fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `x-amz-date` for `secs` since the epoch: `YYYYMMDD'T'HHMMSS'Z'`, UTC. Written digit by
/// digit: through `format!` it cost as much as the rest of the signature.
fn amz_date(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut out = String::with_capacity(16);
    let year = u32::try_from(t.year()).unwrap_or(0);
    push_digits(&mut out, year / 100);
    push_digits(&mut out, year % 100);
    push_digits(&mut out, u32::from(u8::from(t.month())));
    push_digits(&mut out, u32::from(t.day()));
    out.push('T');
    push_digits(&mut out, u32::from(t.hour()));
    push_digits(&mut out, u32::from(t.minute()));
    push_digits(&mut out, u32::from(t.second()));
    out.push('Z');
    out
}

/// `n` (below 100) as two decimal digits.
fn push_digits(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    use aws_sigv4::sign::v4;
    use percent_encoding::utf8_percent_encode;
    use proptest::prelude::*;
    use std::time::Duration;

    /// `aws-sigv4`'s headers for the same request, with the settings the SDK's S3 client
    /// signs with: the reference this signer must match.
    fn reference(r: &Unsigned<'_>, c: &Credentials, region: &str, t: SystemTime) -> Signature {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let identity = c.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("s3")
            .time(t)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            r.method,
            r.uri,
            r.headers.iter().copied(),
            SignableBody::UnsignedPayload,
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::builder()
            .method(r.method)
            .uri(r.uri)
            .body(())
            .unwrap();
        instructions.apply_to_request_http1x(&mut request);
        let h = |n: &str| request.headers()[n].to_str().unwrap().to_string();
        assert_eq!(
            request
                .headers()
                .get("x-amz-security-token")
                .map(|v| v.to_str().unwrap()),
            c.session_token(),
        );
        assert_eq!(h("x-amz-content-sha256"), UNSIGNED_PAYLOAD);
        Signature {
            authorization: h("authorization"),
            amz_date: h("x-amz-date"),
        }
    }

    const KEY_PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');
    const QUERY: &percent_encoding::AsciiSet = &KEY_PATH.add(b'/');

    fn credentials(token: Option<String>, secret: &str) -> Credentials {
        Credentials::new("AKIDEXAMPLE", secret, token, None, "test")
    }

    fn bases() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "https://logs.s3.eu-west-1.amazonaws.com",
            "https://s3.eu-west-1.amazonaws.com/my.logs",
            "http://127.0.0.1:9000/logs",
            "https://minio.internal:443/logs",
            "http://localhost:80/logs",
            "https://[::1]:8443/logs",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn object_requests_are_signed_exactly_as_aws_sigv4_signs_them(
            base in bases(),
            key in ".{0,40}",
            version in prop::option::of(".{1,20}"),
            token in prop::option::of("[A-Za-z0-9+/=]{1,60}"),
            ranged in any::<bool>(),
            secs in 0u64..4_102_444_800,
        ) {
            let mut uri = format!("{base}/{}", utf8_percent_encode(&key, KEY_PATH));
            if let Some(v) = &version {
                uri.push_str("?versionId=");
                uri.extend(utf8_percent_encode(v, QUERY));
            }
            let range = [("range", "bytes=0-0")];
            let request = Unsigned {
                method: if ranged { "GET" } else { "HEAD" },
                uri: &uri,
                headers: if ranged { &range } else { &[] },
            };
            let c = credentials(token, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            let ours = Signer::default().sign(&request, &c, "eu-west-1", "s3", t).unwrap();
            prop_assert_eq!(ours, reference(&request, &c, "eu-west-1", t));
        }

        #[test]
        fn listing_requests_are_signed_exactly_as_aws_sigv4_signs_them(
            base in bases(),
            prefix in ".{0,30}",
            delimited in any::<bool>(),
            token in prop::option::of(".{1,30}"),
        ) {
            let mut query = format!("list-type=2&prefix={}", utf8_percent_encode(&prefix, QUERY));
            if delimited {
                query.push_str("&delimiter=%2F");
            }
            if let Some(t) = &token {
                query.push_str("&continuation-token=");
                query.extend(utf8_percent_encode(t, QUERY));
            }
            let sep = if base.matches('/').count() > 2 { "?" } else { "/?" };
            let uri = format!("{base}{sep}{query}");
            let request = Unsigned { method: "GET", uri: &uri, headers: &[] };
            let c = credentials(None, "secret");
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_600_000);
            let ours = Signer::default().sign(&request, &c, "us-east-1", "s3", t).unwrap();
            prop_assert_eq!(ours, reference(&request, &c, "us-east-1", t));
        }
    }

    #[test]
    fn one_signer_derives_a_new_key_for_a_new_day_region_or_secret() {
        let signer = Signer::default();
        let uri = "https://b.s3.us-east-1.amazonaws.com/k";
        let request = Unsigned {
            method: "HEAD",
            uri,
            headers: &[],
        };
        let midnight = SystemTime::UNIX_EPOCH + Duration::from_secs(20_000 * 86_400);
        let cases = [
            (midnight - Duration::from_secs(1), "us-east-1", "one"),
            (midnight, "us-east-1", "one"),
            (midnight, "eu-west-1", "one"),
            (midnight, "eu-west-1", "two"),
            (midnight - Duration::from_secs(1), "us-east-1", "one"),
        ];
        // The same signer, so a key cached for one case would be wrong for the next.
        for (t, region, secret) in cases {
            let c = credentials(None, secret);
            let ours = signer.sign(&request, &c, region, "s3", t).unwrap();
            assert_eq!(
                ours,
                reference(&request, &c, region, t),
                "{region} {secret}"
            );
        }
    }

    #[test]
    fn a_url_without_a_scheme_is_refused() {
        let request = Unsigned {
            method: "HEAD",
            uri: "/bucket/key",
            headers: &[],
        };
        let c = credentials(None, "s");
        assert!(
            Signer::default()
                .sign(&request, &c, "us-east-1", "s3", SystemTime::now())
                .is_err()
        );
    }
}
