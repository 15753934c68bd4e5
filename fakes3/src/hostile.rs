//! Misbehaviour no honest S3 shows: the hostile endpoint s3audit's edge tests run against.
//!
//! Each fault is a rewrite of what the faithful fake would answer (or, for a hang or an
//! endless listing, a replacement), so everything not named here stays exactly as honest
//! as the rest of fakes3. A client passes these tests when it notices: a listing that
//! loops, stops without saying where to go on, is cut off or never ends must not be taken
//! for a complete one; a value it has never seen must not be guessed.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde::{Deserialize, Serialize};

use crate::server::{Req, Resp};
use crate::stats::Op;

/// Faults layered over the faithful fake. The default is an honest server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hostile {
    /// What object listings (ListObjectsV2 and ListObjectVersions) get wrong.
    pub listing: Option<ListingFault>,
    /// The buckets `listing` applies to; empty: every bucket.
    pub listing_buckets: Vec<String>,
    /// What ListBuckets gets wrong (`RepeatToken`, `TruncatedWithoutToken` and
    /// `Malformed` apply: ListBuckets pages by `ContinuationToken` alone).
    pub list_buckets: Option<ListingFault>,
    /// What KMS ListAliases gets wrong (`RepeatToken`, `TruncatedWithoutToken`).
    pub list_aliases: Option<ListingFault>,
    /// Sent as `x-amz-server-side-encryption` on HEAD of every SSE-S3 object instead of
    /// `AES256` (raw bytes: may be empty, lower-case, padded or not UTF-8).
    pub sse_s3_header: Option<Vec<u8>>,
    /// HEAD of every SSE-S3 object answers 400 though the object is not SSE-C (a ranged
    /// GET then returns data, as it would for any readable object).
    pub head_400_for_sse_s3: bool,
    /// Replaces the body of every GetBucketEncryption answer (e.g. an unknown or
    /// missing `SSEAlgorithm`, or XML cut short).
    pub encryption_body: Option<String>,
    /// Names ListBuckets adds to the honest ones: names S3 could never have created.
    pub extra_bucket_names: Vec<String>,
    /// Operation names (see [`Op::name`]) whose requests are accepted and never answered.
    pub hang: Vec<String>,
}

/// One way a paginated listing lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingFault {
    /// Every page after the first names, as the next page, the page just asked for: the
    /// same page forever (a client that stops on a repeated token stops early, one that
    /// does not loops).
    RepeatToken,
    /// The first page says `IsTruncated=true` but names no next page.
    TruncatedWithoutToken,
    /// The first page's body stops in the middle of an element, the way a proxy or a
    /// dropped connection cuts it; the status is 200 and the length consistent.
    CutBody,
    /// Every page leads to another with fresh keys, in order: the listing never ends.
    /// Keys are `endless/NNNNNNNNNN/NNNN`; HEAD of them answers SSE-S3.
    Endless,
    /// After the first page the server starts over under a fresh token: the same keys
    /// again, forever.
    Cycle,
    /// The body is not XML at all.
    Malformed,
}

/// Keys of the [`ListingFault::Endless`] listing.
pub const ENDLESS_PREFIX: &str = "endless/";

impl Hostile {
    fn listing_fault(&self, bucket: &str) -> Option<ListingFault> {
        let applies =
            self.listing_buckets.is_empty() || self.listing_buckets.iter().any(|b| b == bucket);
        self.listing.filter(|_| applies)
    }

    /// The answer that replaces the honest one before it is computed, if any.
    /// Never returns when `op` is one of [`Hostile::hang`]: the request was accepted and
    /// the connection stays open, silent.
    pub(crate) async fn hang_if_named(&self, op: Op) {
        if self.hang.iter().any(|h| h == op.name()) {
            std::future::pending::<()>().await;
        }
    }

    pub(crate) async fn intercept(&self, op: Op, req: &Req) -> Option<Resp> {
        match op {
            Op::ListObjectsV2 | Op::ListObjectVersions
                if self.listing_fault(&req.bucket) == Some(ListingFault::Endless) =>
            {
                Some(endless_page(op, req))
            }
            Op::HeadObject
                if self.listing == Some(ListingFault::Endless)
                    && req
                        .key
                        .as_deref()
                        .is_some_and(|k| k.starts_with(ENDLESS_PREFIX)) =>
            {
                let mut r = crate::s3::response(StatusCode::OK, "", Bytes::new());
                r.headers_mut().insert(
                    "x-amz-server-side-encryption",
                    HeaderValue::from_static("AES256"),
                );
                Some(r)
            }
            _ => None,
        }
    }

    /// Rewrites the honest answer `resp` to `req`.
    pub(crate) async fn rewrite(&self, op: Op, req: &Req, resp: Resp) -> Resp {
        match op {
            Op::ListObjectsV2 => match self.listing_fault(&req.bucket) {
                Some(fault) => {
                    let tokens = Markers::V2 {
                        asked: req.param("continuation-token").map(str::to_string),
                    };
                    rewrite_listing(fault, req, resp, &tokens).await
                }
                None => resp,
            },
            Op::ListObjectVersions => match self.listing_fault(&req.bucket) {
                Some(fault) => {
                    let markers = Markers::Versions {
                        key: req.param("key-marker").map(str::to_string),
                        version: req.param("version-id-marker").map(str::to_string),
                    };
                    rewrite_listing(fault, req, resp, &markers).await
                }
                None => resp,
            },
            Op::ListBuckets => self.rewrite_list_buckets(req, resp).await,
            Op::KmsListAliases => match self.list_aliases {
                Some(fault) => rewrite_aliases(fault, resp).await,
                None => resp,
            },
            Op::GetBucketEncryption if resp.status() == StatusCode::OK => {
                match &self.encryption_body {
                    Some(body) => replace_body(resp, Bytes::from(body.clone())),
                    None => resp,
                }
            }
            Op::HeadObject => self.rewrite_head(resp),
            _ => resp,
        }
    }

    fn rewrite_head(&self, mut resp: Resp) -> Resp {
        let is_sse_s3 = resp
            .headers()
            .get("x-amz-server-side-encryption")
            .is_some_and(|v| v.as_bytes() == b"AES256");
        if !is_sse_s3 {
            return resp;
        }
        if self.head_400_for_sse_s3 {
            return crate::s3::response(StatusCode::BAD_REQUEST, "", Bytes::new());
        }
        if let Some(raw) = &self.sse_s3_header
            && let Ok(v) = HeaderValue::from_bytes(raw)
        {
            resp.headers_mut().insert("x-amz-server-side-encryption", v);
        }
        resp
    }

    async fn rewrite_list_buckets(&self, req: &Req, resp: Resp) -> Resp {
        if self.extra_bucket_names.is_empty() && self.list_buckets.is_none() {
            return resp;
        }
        let (parts, text) = body_text(resp).await;
        let mut text = text;
        if !self.extra_bucket_names.is_empty() {
            let extra: String = self
                .extra_bucket_names
                .iter()
                .map(|n| {
                    let mut name = String::new();
                    crate::fmt::xml_escape_into(&mut name, n);
                    format!(
                        "<Bucket><Name>{name}</Name><CreationDate>2024-01-01T00:00:00.000Z</CreationDate><BucketRegion>us-east-1</BucketRegion></Bucket>"
                    )
                })
                .collect();
            text = text.replacen("</Buckets>", &format!("{extra}</Buckets>"), 1);
        }
        text = match self.list_buckets {
            Some(ListingFault::RepeatToken) => {
                // A token the honest fake accepts (hex of "a": every bucket after "a"),
                // named again as the next page every time.
                let _ = req;
                with_element(
                    &text,
                    "ContinuationToken",
                    "61",
                    "</ListAllMyBucketsResult>",
                )
            }
            // ListBuckets has no IsTruncated: a page without a token is a last page, so
            // this fault cannot be told from an honest answer.
            Some(ListingFault::TruncatedWithoutToken) => {
                without_element(&text, "ContinuationToken")
            }
            Some(ListingFault::Malformed) => MALFORMED.to_string(),
            Some(ListingFault::CutBody) => cut(&text),
            _ => text,
        };
        hyper::Response::from_parts(parts, Full::new(Bytes::from(text)))
    }
}

/// What the client asked to continue from, per listing kind.
enum Markers {
    V2 {
        asked: Option<String>,
    },
    Versions {
        key: Option<String>,
        version: Option<String>,
    },
}

const MALFORMED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Contents><Key>a</Key></Contents><<<not xml";

async fn rewrite_listing(fault: ListingFault, req: &Req, resp: Resp, markers: &Markers) -> Resp {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let first_page = match markers {
        Markers::V2 { asked } => asked.is_none(),
        Markers::Versions { key, .. } => key.is_none(),
    };
    let (parts, text) = body_text(resp).await;
    let text = match fault {
        ListingFault::RepeatToken if !first_page => match markers {
            Markers::V2 { asked } => with_element(
                &text,
                "NextContinuationToken",
                asked.as_deref().unwrap_or_default(),
                "<KeyCount>",
            ),
            Markers::Versions { key, version } => {
                let t = with_element(
                    &text,
                    "NextKeyMarker",
                    key.as_deref().unwrap_or_default(),
                    "<MaxKeys>",
                );
                with_element(
                    &t,
                    "NextVersionIdMarker",
                    version.as_deref().unwrap_or_default(),
                    "<MaxKeys>",
                )
            }
        },
        ListingFault::TruncatedWithoutToken if first_page => {
            let t = without_element(&text, "NextContinuationToken");
            let t = without_element(&t, "NextKeyMarker");
            without_element(&t, "NextVersionIdMarker")
        }
        ListingFault::CutBody if first_page => cut(&text),
        ListingFault::Malformed => MALFORMED.to_string(),
        ListingFault::Cycle if !first_page => {
            // Whatever page was asked for, answer the first one again under a new token.
            let _ = req;
            return cycle_page(parts, markers);
        }
        _ => text,
    };
    hyper::Response::from_parts(parts, Full::new(Bytes::from(text)))
}

/// The first page of a 1,000-key listing, served again under a fresh token.
fn cycle_page(parts: hyper::http::response::Parts, markers: &Markers) -> Resp {
    let n: u64 = match markers {
        Markers::V2 { asked } => asked
            .as_deref()
            .and_then(|t| t.strip_prefix("cycle-"))
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        Markers::Versions { version, .. } => version
            .as_deref()
            .and_then(|t| t.strip_prefix("cycle-"))
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
    };
    let body = synthetic_page(
        matches!(markers, Markers::Versions { .. }),
        "cycle/",
        0,
        &format!("cycle-{}", n + 1),
    );
    hyper::Response::from_parts(parts, Full::new(Bytes::from(body)))
}

/// A page of an endless listing: page `n` holds keys `endless/<n>/0000..0999`.
fn endless_page(op: Op, req: &Req) -> Resp {
    let versions = op == Op::ListObjectVersions;
    let asked = if versions {
        req.param("version-id-marker")
    } else {
        req.param("continuation-token")
    };
    let n: u64 = asked
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    crate::s3::xml(synthetic_page(
        versions,
        ENDLESS_PREFIX,
        n,
        &format!("page-{}", n + 1),
    ))
}

/// 1,000 keys `<prefix><page>/<i>`, truncated, with `next` as the next token (V2) or
/// version-id marker (versions; the key marker is the last key).
fn synthetic_page(versions: bool, prefix: &str, page: u64, next: &str) -> String {
    let key = |i: u32| format!("{prefix}{page:010}/{i:04}");
    let mut out = String::with_capacity(200_000);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if versions {
        out.push_str("<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix></Prefix>");
        out.push_str(&format!(
            "<NextKeyMarker>{}</NextKeyMarker><NextVersionIdMarker>{next}</NextVersionIdMarker><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>",
            key(999)
        ));
        for i in 0..1000 {
            out.push_str(&format!(
                "<Version><Key>{}</Key><VersionId>v{page}-{i}</VersionId><IsLatest>true</IsLatest><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>\"e\"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Version>",
                key(i)
            ));
        }
        out.push_str("</ListVersionsResult>");
    } else {
        out.push_str("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix></Prefix>");
        out.push_str(&format!(
            "<NextContinuationToken>{next}</NextContinuationToken><KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
        ));
        for i in 0..1000 {
            out.push_str(&format!(
                "<Contents><Key>{}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>\"e\"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>",
                key(i)
            ));
        }
        out.push_str("</ListBucketResult>");
    }
    out
}

async fn rewrite_aliases(fault: ListingFault, resp: Resp) -> Resp {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (parts, text) = body_text(resp).await;
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return hyper::Response::from_parts(parts, Full::new(Bytes::from(text)));
    };
    match fault {
        ListingFault::RepeatToken => {
            v["Truncated"] = serde_json::json!(true);
            v["NextMarker"] = serde_json::json!("again");
        }
        ListingFault::TruncatedWithoutToken => {
            v["Truncated"] = serde_json::json!(true);
            if let Some(o) = v.as_object_mut() {
                o.remove("NextMarker");
            }
        }
        _ => {}
    }
    hyper::Response::from_parts(parts, Full::new(Bytes::from(v.to_string())))
}

async fn body_text(resp: Resp) -> (hyper::http::response::Parts, String) {
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    (parts, String::from_utf8_lossy(&bytes).into_owned())
}

fn replace_body(resp: Resp, body: Bytes) -> Resp {
    let (parts, _) = resp.into_parts();
    hyper::Response::from_parts(parts, Full::new(body))
}

/// `text` with element `name` set to `value`: replaced if present, else inserted before
/// the first `before`.
fn with_element(text: &str, name: &str, value: &str, before: &str) -> String {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut escaped = String::new();
    crate::fmt::xml_escape_into(&mut escaped, value);
    if let Some(start) = text.find(&open)
        && let Some(len) = text[start..].find(&close)
    {
        let end = start + len + close.len();
        return format!("{}{open}{escaped}{close}{}", &text[..start], &text[end..]);
    }
    match text.find(before) {
        Some(at) => format!("{}{open}{escaped}{close}{}", &text[..at], &text[at..]),
        None => text.to_string(),
    }
}

fn without_element(text: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    match text.find(&open) {
        Some(start) => match text[start..].find(&close) {
            Some(len) => format!("{}{}", &text[..start], &text[start + len + close.len()..]),
            None => text.to_string(),
        },
        None => text.to_string(),
    }
}

/// The body cut in the middle of an element: just after the opening tag of the middle
/// `Key` (or of the document's middle byte when there is none).
fn cut(text: &str) -> String {
    let keys: Vec<usize> = text.match_indices("<Key>").map(|(i, _)| i).collect();
    let at = match keys.get(keys.len() / 2) {
        Some(&i) => i + "<Key>".len() + 2,
        None => text.len() / 2,
    };
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text[..at].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_replaced_inserted_and_removed() {
        let t = "<A><N>1</N><K>2</K></A>";
        assert_eq!(
            with_element(t, "N", "x&y", "<K>"),
            "<A><N>x&amp;y</N><K>2</K></A>"
        );
        assert_eq!(
            with_element(t, "M", "3", "<K>"),
            "<A><N>1</N><M>3</M><K>2</K></A>"
        );
        assert_eq!(without_element(t, "N"), "<A><K>2</K></A>");
    }

    #[test]
    fn a_cut_body_stops_inside_a_key() {
        let t = "<R><Key>aaaa</Key><Key>bbbb</Key><Key>cccc</Key></R>";
        let c = cut(t);
        assert!(c.ends_with("<Key>bb"), "{c}");
    }

    #[test]
    fn endless_pages_go_on_in_key_order() {
        let p0 = synthetic_page(false, ENDLESS_PREFIX, 0, "page-1");
        let p1 = synthetic_page(false, ENDLESS_PREFIX, 1, "page-2");
        let last0 = p0.rfind("<Key>").unwrap();
        let first1 = p1.find("<Key>").unwrap();
        assert!(p0[last0..] < p1[first1..]);
        assert!(p1.contains("<NextContinuationToken>page-2</NextContinuationToken>"));
    }
}
