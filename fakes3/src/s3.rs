//! S3 operations (REST-XML protocol, path-style addressing).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

use crate::config::Mode;
use crate::fmt::{Xml, hex, http_date, iso_date, s3_url_encode, unhex};
use crate::model::{BucketModel, Item, Walk};
use crate::server::{Req, Resp, Shared};
use crate::stats::Op;

const CANONICAL_OWNER_LEN: usize = 64;

pub(crate) fn owner_id(account: &str) -> String {
    let h = crate::hash::hash_str(0x006f_776e_6572, account);
    let mut s = String::with_capacity(CANONICAL_OWNER_LEN);
    for i in 0..4u64 {
        s.push_str(&format!("{:016x}", crate::hash::h2(h, i)));
    }
    s
}

pub(crate) fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if !content_type.is_empty() {
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("static content type"),
        );
    }
    r
}

pub(crate) fn xml(body: String) -> Resp {
    response(StatusCode::OK, "application/xml", body)
}

/// An S3 error: XML `<Error>` body, or status only for HEAD (S3 sends no body to HEAD).
pub(crate) fn error(req: &Req, status: StatusCode, code: &str, message: &str) -> Resp {
    if req.is_head() {
        return response(status, "", Bytes::new());
    }
    let mut x = Xml::bare("Error");
    x.elem("Code", code).elem("Message", message);
    if !req.bucket.is_empty() {
        x.elem("BucketName", &req.bucket);
    }
    if let Some(k) = &req.key {
        x.elem("Key", k);
    }
    x.elem("RequestId", &request_id(req.seq))
        .elem("HostId", "fakes3");
    response(status, "application/xml", x.finish("Error"))
}

pub(crate) fn request_id(seq: u64) -> String {
    format!(
        "{:016X}",
        crate::hash::h2(crate::hash::tag::REQUEST_ID, seq)
    )
}

fn invalid_argument(req: &Req, message: &str) -> Resp {
    error(req, StatusCode::BAD_REQUEST, "InvalidArgument", message)
}

fn no_such_bucket(req: &Req) -> Resp {
    error(
        req,
        StatusCode::NOT_FOUND,
        "NoSuchBucket",
        "The specified bucket does not exist",
    )
}

/// Runs one S3 operation.
pub(crate) fn dispatch(shared: &Shared, op: Op, req: &Req) -> Resp {
    if op == Op::ListBuckets {
        return list_buckets(shared, req);
    }
    let Some(m) = shared.bucket(&req.bucket) else {
        return no_such_bucket(req);
    };
    if m.spec.denied_operations.iter().any(|o| o == op.name()) {
        return error(req, StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    }
    match op {
        Op::HeadBucket => {
            let mut r = response(StatusCode::OK, "application/xml", Bytes::new());
            set(r.headers_mut(), "x-amz-bucket-region", &m.spec.region);
            set(r.headers_mut(), "x-amz-access-point-alias", "false");
            r
        }
        Op::GetBucketLocation => {
            let region = &m.spec.region;
            let body = if region == "us-east-1" {
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\"/>",
                    crate::fmt::S3_NS
                )
            } else {
                let mut x = Xml::new("LocationConstraint");
                crate::fmt::xml_escape_into(&mut x.out, region);
                x.finish("LocationConstraint")
            };
            xml(body)
        }
        Op::GetBucketEncryption => get_bucket_encryption(m, req),
        Op::GetBucketPolicy => match &m.spec.policy {
            Some(p) => response(StatusCode::OK, "application/json", p.clone()),
            None => error(
                req,
                StatusCode::NOT_FOUND,
                "NoSuchBucketPolicy",
                "The bucket policy does not exist",
            ),
        },
        Op::GetBucketVersioning => xml(if m.versioned {
            let mut x = Xml::new("VersioningConfiguration");
            x.elem("Status", "Enabled");
            x.finish("VersioningConfiguration")
        } else {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"{}\"/>",
                crate::fmt::S3_NS
            )
        }),
        Op::GetPublicAccessBlock => match &m.spec.public_access_block {
            Some(p) => {
                let mut x = Xml::new("PublicAccessBlockConfiguration");
                x.elem_display("BlockPublicAcls", p.block_public_acls)
                    .elem_display("IgnorePublicAcls", p.ignore_public_acls)
                    .elem_display("BlockPublicPolicy", p.block_public_policy)
                    .elem_display("RestrictPublicBuckets", p.restrict_public_buckets);
                xml(x.finish("PublicAccessBlockConfiguration"))
            }
            None => error(
                req,
                StatusCode::NOT_FOUND,
                "NoSuchPublicAccessBlockConfiguration",
                "The public access block configuration was not found",
            ),
        },
        Op::ListObjectsV2 => list_objects(shared, m, req, true),
        Op::ListObjects => list_objects(shared, m, req, false),
        Op::ListObjectVersions => list_object_versions(shared, m, req),
        Op::HeadObject => head_object(m, req),
        Op::GetObject => get_object(m, req),
        _ => error(
            req,
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "not an S3 operation",
        ),
    }
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

fn list_buckets(shared: &Shared, req: &Req) -> Resp {
    let prefix = req.param("prefix").unwrap_or("");
    let region = req.param("bucket-region");
    let max = match req.param("max-buckets") {
        None => usize::MAX,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => return invalid_argument(req, "Invalid max-buckets"),
        },
    };
    let after = match req.param("continuation-token") {
        None | Some("") => None,
        Some(t) => match unhex(t).and_then(|b| String::from_utf8(b).ok()) {
            Some(n) => Some(n),
            None => return invalid_argument(req, "The continuation token provided is incorrect"),
        },
    };
    let mut matching = shared.buckets_sorted().filter(|m| {
        m.name().starts_with(prefix)
            && region.is_none_or(|r| r == m.spec.region)
            && after.as_deref().is_none_or(|a| m.name() > a)
    });
    let mut x = Xml::new("ListAllMyBucketsResult");
    x.open("Owner")
        .elem("ID", &owner_id(&shared.config.account_id))
        .elem("DisplayName", "fakes3")
        .close("Owner");
    x.open("Buckets");
    let mut last = None;
    for m in matching.by_ref().take(max) {
        x.open("Bucket")
            .elem("Name", m.name())
            .elem("CreationDate", &iso_date(m.created))
            .elem("BucketRegion", &m.spec.region)
            .close("Bucket");
        last = Some(m.name().to_owned());
    }
    x.close("Buckets");
    if matching.next().is_some()
        && let Some(last) = last
    {
        x.elem("ContinuationToken", &hex(last.as_bytes()));
    }
    if !prefix.is_empty() {
        x.elem("Prefix", prefix);
    }
    xml(x.finish("ListAllMyBucketsResult"))
}

fn get_bucket_encryption(m: &BucketModel, req: &Req) -> Resp {
    let Some(enc) = &m.spec.default_encryption else {
        return error(
            req,
            StatusCode::NOT_FOUND,
            "ServerSideEncryptionConfigurationNotFoundError",
            "The server side encryption configuration was not found",
        );
    };
    let mut x = Xml::new("ServerSideEncryptionConfiguration");
    x.open("Rule").open("ApplyServerSideEncryptionByDefault");
    x.elem("SSEAlgorithm", enc.algorithm.as_str());
    if let Some(k) = &enc.kms_key {
        x.elem("KMSMasterKeyID", k);
    }
    x.close("ApplyServerSideEncryptionByDefault");
    x.elem_display("BucketKeyEnabled", enc.bucket_key);
    if enc.block_sse_c {
        x.open("BlockedEncryptionTypes")
            .elem("EncryptionType", "SSE-C")
            .close("BlockedEncryptionTypes");
    }
    x.close("Rule");
    xml(x.finish("ServerSideEncryptionConfiguration"))
}

/// Shared parsing of the listing parameters.
struct ListParams<'a> {
    prefix: &'a str,
    delimiter: Option<&'a str>,
    max: usize,
    url: bool,
}

/// Errors are InvalidArgument messages.
fn list_params<'a>(req: &'a Req) -> Result<ListParams<'a>, &'static str> {
    let max = match req.param("max-keys") {
        None => 1000,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => n.min(1000) as usize,
            _ => {
                return Err("Provided max-keys not an integer or within integer range");
            }
        },
    };
    let url = match req.param("encoding-type") {
        None => false,
        Some(e) if e.eq_ignore_ascii_case("url") => true,
        Some(_) => {
            return Err("Invalid Encoding Method specified in Request");
        }
    };
    Ok(ListParams {
        prefix: req.param("prefix").unwrap_or(""),
        delimiter: req.param("delimiter").filter(|d| !d.is_empty()),
        max,
        url,
    })
}

/// The elements both listings (objects and versions) echo after their markers.
fn list_trailer(x: &mut Xml, p: &ListParams<'_>, truncated: bool) {
    x.elem_display("MaxKeys", p.max);
    if let Some(d) = p.delimiter {
        x.elem("Delimiter", &enc(p.url, d));
    }
    if p.url {
        x.elem("EncodingType", "url");
    }
    x.elem_display("IsTruncated", truncated);
}

fn enc(url: bool, s: &str) -> std::borrow::Cow<'_, str> {
    if url {
        s3_url_encode(s).into()
    } else {
        s.into()
    }
}

/// Continuation tokens name the last item returned; opaque to clients.
fn token_encode(last: &str) -> String {
    format!("1{}", hex(last.as_bytes()))
}

fn token_decode(t: &str) -> Option<String> {
    String::from_utf8(unhex(t.strip_prefix('1')?)?).ok()
}

fn list_objects(shared: &Shared, m: &BucketModel, req: &Req, v2: bool) -> Resp {
    let p = match list_params(req) {
        Ok(p) => p,
        Err(msg) => return invalid_argument(req, msg),
    };
    let token = match req.param("continuation-token").filter(|_| v2) {
        None => None,
        Some(t) => match token_decode(t) {
            Some(k) => Some(k),
            None => return invalid_argument(req, "The continuation token provided is incorrect"),
        },
    };
    let start_after = if v2 {
        req.param("start-after")
    } else {
        req.param("marker")
    };
    let after = token.as_deref().or(start_after);
    let mut items: Vec<Item> = if p.max == 0 {
        Vec::new()
    } else {
        Walk::new(m, p.prefix, p.delimiter, after, true)
            .take(p.max + 1)
            .collect()
    };
    let truncated = items.len() > p.max;
    items.truncate(p.max);
    let last = items.last().map(|i| match i {
        Item::Key(k, _) => k.clone(),
        Item::Prefix(cp) => cp.clone(),
    });

    let mut x = Xml::new("ListBucketResult");
    x.elem("Name", m.name())
        .elem("Prefix", &enc(p.url, p.prefix));
    if v2 {
        if let Some(t) = req.param("continuation-token") {
            x.elem("ContinuationToken", t);
        }
        if truncated && let Some(l) = &last {
            x.elem("NextContinuationToken", &token_encode(l));
        }
        x.elem_display("KeyCount", items.len());
        if let Some(s) = req.param("start-after") {
            x.elem("StartAfter", &enc(p.url, s));
        }
    } else {
        x.elem("Marker", &enc(p.url, start_after.unwrap_or("")));
        if truncated
            && p.delimiter.is_some()
            && let Some(l) = &last
        {
            x.elem("NextMarker", &enc(p.url, l));
        }
    }
    list_trailer(&mut x, &p, truncated);
    let fetch_owner = !v2 || req.param("fetch-owner") == Some("true");
    let owner = fetch_owner.then(|| owner_id(&shared.config.account_id));
    for item in &items {
        if let Item::Key(k, id) = item {
            let v = m.version(*id, 0, k);
            x.open("Contents")
                .elem("Key", &enc(p.url, k))
                .elem("LastModified", &iso_date(v.last_modified))
                .elem("ETag", &v.etag)
                .elem_display("Size", v.size);
            if let Some(o) = &owner {
                x.open("Owner")
                    .elem("ID", o)
                    .elem("DisplayName", "fakes3")
                    .close("Owner");
            }
            x.elem("StorageClass", &v.storage_class).close("Contents");
        }
    }
    for item in &items {
        if let Item::Prefix(cp) = item {
            x.open("CommonPrefixes")
                .elem("Prefix", &enc(p.url, cp))
                .close("CommonPrefixes");
        }
    }
    xml(x.finish("ListBucketResult"))
}

enum VItem {
    Version { key: String, id: u64, age: u32 },
    DeleteMarker { key: String, id: u64 },
    Prefix(String),
}

/// The `Version` / `DeleteMarker` entries of one key, newest first.
fn entries(m: &BucketModel, key: &str, id: u64) -> Vec<VItem> {
    let mut v = Vec::with_capacity(m.versions as usize + 1);
    if m.is_deleted(id) {
        v.push(VItem::DeleteMarker {
            key: key.to_owned(),
            id,
        });
    }
    for age in 0..m.versions {
        v.push(VItem::Version {
            key: key.to_owned(),
            id,
            age,
        });
    }
    v
}

fn entry_version_id(m: &BucketModel, e: &VItem) -> Option<String> {
    match e {
        VItem::Version { id, age, .. } => Some(m.version_id(*id, u64::from(*age))),
        VItem::DeleteMarker { id, .. } => Some(m.delete_marker_id(*id)),
        VItem::Prefix(_) => None,
    }
}

fn list_object_versions(shared: &Shared, m: &BucketModel, req: &Req) -> Resp {
    let p = match list_params(req) {
        Ok(p) => p,
        Err(msg) => return invalid_argument(req, msg),
    };
    let key_marker = req.param("key-marker").filter(|s| !s.is_empty());
    let vid_marker = req.param("version-id-marker").filter(|s| !s.is_empty());
    let cap = p.max + 1;
    let mut items: Vec<VItem> = Vec::new();
    if p.max > 0 {
        match (key_marker, vid_marker) {
            (None, Some(_)) => {
                return invalid_argument(
                    req,
                    "A version-id marker cannot be specified without a key marker.",
                );
            }
            (Some(km), Some(vm)) => {
                let under_prefix = km.starts_with(p.prefix)
                    && p.delimiter
                        .is_none_or(|d| !km[p.prefix.len()..].contains(d));
                if let Some(id) = m.lookup(km).filter(|_| under_prefix) {
                    let es = entries(m, km, id);
                    let Some(pos) = es
                        .iter()
                        .position(|e| entry_version_id(m, e).as_deref() == Some(vm))
                    else {
                        return invalid_argument(req, "Invalid version id specified");
                    };
                    items.extend(es.into_iter().skip(pos + 1).take(cap));
                }
            }
            _ => {}
        }
        let walk = Walk::new(m, p.prefix, p.delimiter, key_marker, false);
        'outer: for item in walk {
            if items.len() >= cap {
                break;
            }
            match item {
                Item::Prefix(cp) => items.push(VItem::Prefix(cp)),
                Item::Key(k, id) => {
                    for e in entries(m, &k, id) {
                        if items.len() >= cap {
                            break 'outer;
                        }
                        items.push(e);
                    }
                }
            }
        }
    }
    let truncated = items.len() > p.max;
    items.truncate(p.max);

    let mut x = Xml::new("ListVersionsResult");
    x.elem("Name", m.name())
        .elem("Prefix", &enc(p.url, p.prefix))
        .elem("KeyMarker", &enc(p.url, key_marker.unwrap_or("")))
        .elem("VersionIdMarker", vid_marker.unwrap_or(""));
    if truncated && let Some(last) = items.last() {
        match last {
            VItem::Version { key, .. } | VItem::DeleteMarker { key, .. } => {
                x.elem("NextKeyMarker", &enc(p.url, key));
                if let Some(v) = entry_version_id(m, last) {
                    x.elem("NextVersionIdMarker", &v);
                }
            }
            VItem::Prefix(cp) => {
                x.elem("NextKeyMarker", &enc(p.url, cp));
            }
        }
    }
    list_trailer(&mut x, &p, truncated);
    let owner = owner_id(&shared.config.account_id);
    for item in &items {
        match item {
            VItem::Version { key, id, age } => {
                let v = m.version(*id, *age, key);
                x.open("Version")
                    .elem("Key", &enc(p.url, key))
                    .elem("VersionId", &v.version_id)
                    .elem_display("IsLatest", v.is_latest)
                    .elem("LastModified", &iso_date(v.last_modified))
                    .elem("ETag", &v.etag)
                    .elem_display("Size", v.size)
                    .elem("StorageClass", &v.storage_class)
                    .open("Owner")
                    .elem("ID", &owner)
                    .elem("DisplayName", "fakes3")
                    .close("Owner")
                    .close("Version");
            }
            VItem::DeleteMarker { key, id } => {
                x.open("DeleteMarker")
                    .elem("Key", &enc(p.url, key))
                    .elem("VersionId", &m.delete_marker_id(*id))
                    .elem_display("IsLatest", true)
                    .elem("LastModified", &iso_date(m.delete_marker_time(*id)))
                    .open("Owner")
                    .elem("ID", &owner)
                    .elem("DisplayName", "fakes3")
                    .close("Owner")
                    .close("DeleteMarker");
            }
            VItem::Prefix(_) => {}
        }
    }
    for item in &items {
        if let VItem::Prefix(cp) = item {
            x.open("CommonPrefixes")
                .elem("Prefix", &enc(p.url, cp))
                .close("CommonPrefixes");
        }
    }
    xml(x.finish("ListVersionsResult"))
}

fn no_such_key(req: &Req) -> Resp {
    error(
        req,
        StatusCode::NOT_FOUND,
        "NoSuchKey",
        "The specified key does not exist.",
    )
}

/// The object a key request names: its index, or the 404 / 403 S3 answers first.
fn locate(m: &BucketModel, req: &Req) -> Result<u64, Box<Resp>> {
    let key = req.key.as_deref().unwrap_or("");
    let id = m.lookup(key).ok_or_else(|| Box::new(no_such_key(req)))?;
    if m.is_denied(id) {
        return Err(Box::new(error(
            req,
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied",
        )));
    }
    Ok(id)
}

fn head_object(m: &BucketModel, req: &Req) -> Resp {
    let key = req.key.as_deref().unwrap_or("");
    let not_found = || no_such_key(req);
    let id = match locate(m, req) {
        Ok(id) => id,
        Err(resp) => return *resp,
    };
    let delete_marker = |status: StatusCode| {
        let mut r = error(
            req,
            status,
            "NoSuchKey",
            "The specified key does not exist.",
        );
        set(r.headers_mut(), "x-amz-delete-marker", "true");
        set(r.headers_mut(), "x-amz-version-id", &m.delete_marker_id(id));
        r
    };
    let age = match req.param("versionId") {
        Some(vid) => {
            if m.is_deleted(id) && vid == m.delete_marker_id(id) {
                // HEAD of a delete marker version: 405, as S3 answers.
                let mut r = delete_marker(StatusCode::METHOD_NOT_ALLOWED);
                set(r.headers_mut(), "allow", "DELETE");
                return r;
            }
            match m.age_of(id, vid) {
                Some(a) => a,
                None => return not_found(),
            }
        }
        None if m.is_deleted(id) => return delete_marker(StatusCode::NOT_FOUND),
        None => 0,
    };
    let v = m.version(id, age, key);
    let customer_alg = req
        .headers
        .get("x-amz-server-side-encryption-customer-algorithm");
    if (v.mode == Mode::SseC) != customer_alg.is_some() {
        // SSE-C object without the customer key, or customer key for another mode:
        // AWS answers 400 with no body.
        return response(StatusCode::BAD_REQUEST, "", Bytes::new());
    }
    let mut r = response(StatusCode::OK, "binary/octet-stream", Bytes::new());
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(v.size));
    set(h, "etag", &v.etag);
    set(h, "last-modified", &http_date(v.last_modified));
    set(h, "accept-ranges", "bytes");
    if let Some(sse) = v.mode.header() {
        set(h, "x-amz-server-side-encryption", sse);
    }
    if let Some(k) = &v.kms_key {
        set(h, "x-amz-server-side-encryption-aws-kms-key-id", k);
    }
    if v.bucket_key {
        set(h, "x-amz-server-side-encryption-bucket-key-enabled", "true");
    }
    if v.mode == Mode::SseC {
        set(
            h,
            "x-amz-server-side-encryption-customer-algorithm",
            "AES256",
        );
        if let Some(md5) = req
            .headers
            .get("x-amz-server-side-encryption-customer-key-md5")
            .and_then(|v| v.to_str().ok())
        {
            set(h, "x-amz-server-side-encryption-customer-key-md5", md5);
        }
    }
    if v.storage_class != "STANDARD" {
        set(h, "x-amz-storage-class", &v.storage_class);
    }
    if m.versioned {
        set(h, "x-amz-version-id", &v.version_id);
    }
    r
}

/// GetObject as s3audit sends it: a ranged GET of one byte, to confirm that an object
/// whose HEAD answered 400 is SSE-C. Without the customer key S3 refuses an SSE-C object
/// with 400 `InvalidRequest` and an error body; any other object answers the byte.
fn get_object(m: &BucketModel, req: &Req) -> Resp {
    let key = req.key.as_deref().unwrap_or("");
    let not_found = || no_such_key(req);
    let id = match locate(m, req) {
        Ok(id) => id,
        Err(resp) => return *resp,
    };
    let age = match req.param("versionId") {
        Some(vid) => match m.age_of(id, vid) {
            Some(a) => a,
            None => return not_found(),
        },
        None if m.is_deleted(id) => return not_found(),
        None => 0,
    };
    let v = m.version(id, age, key);
    let customer_alg = req
        .headers
        .get("x-amz-server-side-encryption-customer-algorithm");
    if v.mode == Mode::SseC && customer_alg.is_none() {
        return error(
            req,
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            SSE_C_MESSAGE,
        );
    }
    if v.size == 0 {
        return response(StatusCode::OK, "binary/octet-stream", Bytes::new());
    }
    let mut r = response(
        StatusCode::PARTIAL_CONTENT,
        "binary/octet-stream",
        Bytes::from_static(b"x"),
    );
    set(
        r.headers_mut(),
        "content-range",
        &format!("bytes 0-0/{}", v.size),
    );
    r
}

/// What S3 says to a GET of an SSE-C object made without the customer key.
pub(crate) const SSE_C_MESSAGE: &str = "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.";
