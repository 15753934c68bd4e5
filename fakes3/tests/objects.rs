//! HEAD per encryption mode, versions, path decoding, and `Config::expected` against a
//! full listing + HEAD tally.

mod common;

use std::collections::BTreeMap;

use common::{Client, Resp, blocks, encode, first, is_rfc1123, top};
use fakes3::{BucketSpec, Config, Expected, Mode, ModeCounts, ModeMix};

const KEY_A: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-4111-8111-111111111111";
const KEY_B: &str = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-4222-8222-222222222222";

const SSEC: [(&str, &str); 3] = [
    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
    (
        "x-amz-server-side-encryption-customer-key",
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    ),
    (
        "x-amz-server-side-encryption-customer-key-MD5",
        "SvSpPGSsPVOl7YGKBRUeHQ==",
    ),
];

fn path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{}", encode(key, true))
}

/// The mode a scanner infers from a HEAD answer; None for 403.
fn observed_mode(r: &Resp) -> Option<Mode> {
    match r.status {
        200 => Some(match r.header("x-amz-server-side-encryption") {
            None => Mode::None,
            Some("AES256") => Mode::SseS3,
            Some("aws:kms") => Mode::SseKms,
            Some("aws:kms:dsse") => Mode::DsseKms,
            Some(other) => panic!("unexpected SSE header {other}"),
        }),
        400 => Some(Mode::SseC),
        403 => None,
        s => panic!("unexpected HEAD status {s}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_headers_per_mode() {
    let mut spec = BucketSpec::new("modes", 500)
        .mix(ModeMix::uniform())
        .kms_keys([KEY_A, KEY_B])
        .awkward(true);
    spec.bucket_key = true;
    spec.storage_classes = true;
    let cfg = Config::new(3).bucket(spec);
    let keys: Vec<String> = cfg.keys("modes").unwrap().collect();
    let server = fakes3::start(cfg.clone()).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    let mut seen = BTreeMap::new();
    for key in &keys {
        let info = cfg.object("modes", key).unwrap();
        let v = &info.versions[0];
        let r = c.head(&path("modes", key)).await;
        assert!(r.body.is_empty());
        *seen.entry(v.mode).or_insert(0) += 1;
        assert_eq!(observed_mode(&r), Some(v.mode), "{key:?}");
        assert!(r.header("x-amz-version-id").is_none(), "unversioned bucket");
        if v.mode == Mode::SseC {
            // exactly as AWS: 400, no body, no SSE headers
            assert_eq!(r.status, 400);
            assert!(r.header("content-type").is_none());
            assert!(r.header("x-amz-server-side-encryption").is_none());
            let r = c.request("HEAD", &path("modes", key), &SSEC, b"").await;
            assert_eq!(r.status, 200);
            assert_eq!(
                r.header("x-amz-server-side-encryption-customer-algorithm"),
                Some("AES256")
            );
            assert_eq!(
                r.header("x-amz-server-side-encryption-customer-key-md5"),
                Some(SSEC[2].1)
            );
            continue;
        }
        // customer key headers on a non-SSE-C object are refused too
        let bad = c.request("HEAD", &path("modes", key), &SSEC, b"").await;
        assert_eq!(bad.status, 400);
        assert_eq!(r.header("content-length").unwrap(), v.size.to_string());
        assert_eq!(r.header("etag").unwrap(), v.etag);
        assert!(v.etag.starts_with('"') && v.etag.ends_with('"'));
        let lm = r.header("last-modified").unwrap();
        assert!(is_rfc1123(lm), "{lm}");
        assert_eq!(
            r.header("x-amz-server-side-encryption-aws-kms-key-id"),
            v.kms_key.as_deref()
        );
        assert_eq!(v.mode.uses_kms(), v.kms_key.is_some());
        if let Some(k) = &v.kms_key {
            assert!(k == KEY_A || k == KEY_B);
        }
        assert_eq!(
            r.header("x-amz-server-side-encryption-bucket-key-enabled"),
            (v.mode == Mode::SseKms).then_some("true")
        );
        match r.header("x-amz-storage-class") {
            None => assert_eq!(v.storage_class, "STANDARD"),
            Some(sc) => {
                assert_ne!(sc, "STANDARD");
                assert_eq!(sc, v.storage_class);
            }
        }
    }
    // every mode shows up, exactly 100 each (stratified mix)
    assert_eq!(seen.len(), 5);
    assert!(seen.values().all(|&n| n == 100), "{seen:?}");
    // missing key and bucket
    assert_eq!(c.head("/modes/no/such/key").await.status, 404);
    assert_eq!(c.head("/nosuchbucket/key").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_in_paths_are_decoded_faithfully() {
    let cfg = Config::new(5).bucket(
        BucketSpec::new("awk", 39)
            .awkward(true)
            .mix(ModeMix::only(Mode::SseS3)),
    );
    let server = fakes3::start(cfg.clone()).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    // every awkward key, encoded as the SDK does, is found
    for k in fakes3::awkward_keys() {
        let r = c.head(&path("awk", &k)).await;
        assert_eq!(r.status, 200, "{k:?}");
    }
    // '+' in a path is a literal plus; %2B too; %20 is a space
    assert_eq!(c.head("/awk/plus+sign.txt").await.status, 200);
    assert_eq!(c.head("/awk/plus%2Bsign.txt").await.status, 200);
    assert_eq!(c.head("/awk/plus%20sign.txt").await.status, 404);
    assert_eq!(c.head("/awk/with%20space.txt").await.status, 200);
    assert_eq!(c.head("/awk/with+space.txt").await.status, 404);
    // a literal '%' that is not an escape, and an escaped one
    assert_eq!(c.head("/awk/100%25.csv").await.status, 200);
    // dot segments and double slashes are not normalised
    assert_eq!(c.head("/awk/dots/../double").await.status, 200);
    assert_eq!(c.head("/awk/double//slash").await.status, 200);
    assert_eq!(c.head("/awk//leading-slash").await.status, 200);
    assert_eq!(c.head("/awk/double/slash").await.status, 404);
    // NFC and NFD are different keys
    let nfc = c.head("/awk/unicode/caf%C3%A9.txt").await;
    let nfd = c.head("/awk/unicode/cafe%CC%81.txt").await;
    assert_eq!((nfc.status, nfd.status), (200, 200));
    assert_ne!(nfc.header("etag"), nfd.header("etag"));
    // invalid UTF-8 is a 400
    assert_eq!(c.head("/awk/%FF").await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_versions_delete_markers_and_denied() {
    let cfg = Config::new(9).bucket(
        BucketSpec::new("ver", 60)
            .versions(3)
            .delete_markers(6)
            .denied(4)
            .mix(ModeMix::only(Mode::SseKms)),
    );
    let server = fakes3::start(cfg.clone()).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    let x = c.get("/ver?versions").await.text();
    let keys: std::collections::BTreeSet<String> = blocks(&x, "Version")
        .iter()
        .map(|b| first(b, "Key").unwrap())
        .collect();
    assert_eq!(keys.len(), 60);
    let (mut denied, mut deleted) = (0, 0);
    for key in &keys {
        let info = cfg.object("ver", key).unwrap();
        let p = path("ver", key);
        let r = c.head(&p).await;
        if info.denied {
            denied += 1;
            assert_eq!(r.status, 403);
            for v in &info.versions {
                assert_eq!(
                    c.head(&format!("{p}?versionId={}", encode(&v.version_id, false)))
                        .await
                        .status,
                    403
                );
            }
            continue;
        }
        if let Some(dm) = &info.delete_marker {
            deleted += 1;
            assert_eq!(r.status, 404);
            assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
            assert_eq!(r.header("x-amz-version-id"), Some(dm.as_str()));
            let r = c
                .head(&format!("{p}?versionId={}", encode(dm, false)))
                .await;
            assert_eq!(r.status, 405);
        } else {
            assert_eq!(r.status, 200);
            assert_eq!(
                r.header("x-amz-version-id"),
                Some(info.versions[0].version_id.as_str())
            );
            assert!(info.versions[0].is_latest);
        }
        for v in &info.versions {
            let r = c
                .head(&format!("{p}?versionId={}", encode(&v.version_id, false)))
                .await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("x-amz-version-id"), Some(v.version_id.as_str()));
            assert_eq!(r.header("etag"), Some(v.etag.as_str()));
        }
        assert_eq!(
            c.head(&format!("{p}?versionId=nosuchversion")).await.status,
            404
        );
    }
    assert_eq!(denied, 4);
    assert!(deleted > 0);
}

fn add(counts: &mut ModeCounts, m: Option<Mode>) {
    counts.total += 1;
    match m {
        None => counts.unreadable += 1,
        Some(Mode::None) => counts.none += 1,
        Some(Mode::SseS3) => counts.sse_s3 += 1,
        Some(Mode::SseKms) => counts.sse_kms += 1,
        Some(Mode::DsseKms) => counts.dsse_kms += 1,
        Some(Mode::SseC) => counts.sse_c += 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_matches_a_full_listing_and_head_tally() {
    let cfg = Config::new(21).bucket(
        BucketSpec::new("tally", 157)
            .versions(3)
            .awkward(true)
            .denied(5)
            .delete_markers(7)
            .kms_keys([KEY_A, KEY_B])
            .mix(
                "none=2,sse_s3=3,sse_kms=5,dsse_kms=1,sse_c=2"
                    .parse()
                    .unwrap(),
            ),
    );
    let want = cfg.expected("tally");
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());

    let mut got = Expected {
        bucket: "tally".into(),
        ..Expected::default()
    };
    let mut keys = std::collections::BTreeSet::new();
    let mut denied = std::collections::BTreeSet::new();
    let (mut km, mut vm) = (String::new(), String::new());
    loop {
        let x = c
            .get(&format!(
                "/tally?versions&max-keys=50&key-marker={}&version-id-marker={}",
                encode(&km, false),
                encode(&vm, false)
            ))
            .await
            .text();
        got.delete_markers += blocks(&x, "DeleteMarker").len() as u64;
        for b in blocks(&x, "Version") {
            let key = first(b, "Key").unwrap();
            let vid = first(b, "VersionId").unwrap();
            let latest = first(b, "IsLatest").unwrap() == "true";
            keys.insert(key.clone());
            let r = c
                .head(&format!(
                    "{}?versionId={}",
                    path("tally", &key),
                    encode(&vid, false)
                ))
                .await;
            let mode = observed_mode(&r);
            if mode.is_none() {
                denied.insert(key.clone());
            }
            let (counts, per_key) = if latest {
                (&mut got.current, &mut got.current_kms_keys)
            } else {
                (&mut got.noncurrent, &mut got.noncurrent_kms_keys)
            };
            add(counts, mode);
            if let Some(k) = r.header("x-amz-server-side-encryption-aws-kms-key-id") {
                *per_key.entry(k.to_owned()).or_default() += 1;
            }
        }
        if top(&x, "IsTruncated").unwrap() == "false" {
            break;
        }
        km = top(&x, "NextKeyMarker").unwrap();
        vm = top(&x, "NextVersionIdMarker").unwrap();
    }
    got.keys = keys.len() as u64;
    got.denied_objects = denied.len() as u64;
    assert_eq!(got, want);
    assert_eq!(want.keys, 157);
    assert_eq!(want.current.total, 150);
    assert_eq!(want.noncurrent.total, 150 * 2 + 7 * 3);

    // ListObjectsV2 + plain HEAD gives the current counts
    let x = c.get("/tally?list-type=2").await.text();
    let mut cur = ModeCounts::default();
    for b in blocks(&x, "Contents") {
        let r = c.head(&path("tally", &first(b, "Key").unwrap())).await;
        add(&mut cur, observed_mode(&r));
    }
    assert_eq!(cur, want.current);
}

#[test]
fn expected_is_exact_for_the_mix() {
    let cfg = Config::new(0).bucket(BucketSpec::new("big", 1_000_000));
    let e = cfg.expected("big");
    assert_eq!(e.current.total, 1_000_000);
    assert_eq!(
        (
            e.current.none,
            e.current.sse_s3,
            e.current.sse_kms,
            e.current.dsse_kms,
            e.current.sse_c
        ),
        (100_000, 100_000, 600_000, 100_000, 100_000)
    );
    assert_eq!(e.current_kms_keys.values().sum::<u64>(), 700_000);
    assert_eq!(
        e.current_kms_keys.keys().next(),
        cfg.default_kms_key("big").as_ref()
    );
    assert_eq!(e.noncurrent, ModeCounts::default());
}
