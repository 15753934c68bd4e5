//! Listing pagination over real HTTP: every key exactly once, in UTF-8 byte order.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::{Client, blocks, encode, first, top, unescape, unquote_plus};
use fakes3::{BucketSpec, Config};

fn config() -> Config {
    Config::new(11)
        .bucket(BucketSpec::new("plain", 2345).awkward(true))
        .bucket(
            BucketSpec::new("versioned", 300)
                .versions(3)
                .awkward(true)
                .denied(3)
                .delete_markers(5),
        )
}

/// All keys via ListObjectsV2 with the given page size; asserts page invariants.
async fn list_v2(c: &mut Client, bucket: &str, extra: &str, max: usize, url: bool) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut target = format!("/{bucket}?list-type=2&max-keys={max}{extra}");
        if url {
            target.push_str("&encoding-type=url");
        }
        if let Some(t) = &token {
            target.push_str(&format!("&continuation-token={}", encode(t, false)));
        }
        let r = c.get(&target).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/xml"));
        let x = r.text();
        assert!(x.contains("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"));
        let page: Vec<String> = blocks(&x, "Contents")
            .iter()
            .map(|b| {
                let k = first(b, "Key").unwrap();
                if url { unquote_plus(&k) } else { k }
            })
            .collect();
        let cps = blocks(&x, "CommonPrefixes").len();
        assert_eq!(
            top(&x, "KeyCount").unwrap().parse::<usize>().unwrap(),
            page.len() + cps
        );
        assert!(page.len() + cps <= max);
        assert_eq!(top(&x, "EncodingType").is_some(), url);
        keys.extend(page);
        pages += 1;
        match top(&x, "IsTruncated").as_deref() {
            Some("true") => {
                assert_eq!(page_len_ok(&x), max, "a truncated page is full");
                token = Some(top(&x, "NextContinuationToken").expect("token when truncated"));
            }
            Some("false") => {
                assert!(top(&x, "NextContinuationToken").is_none());
                break;
            }
            other => panic!("IsTruncated {other:?}"),
        }
        assert!(pages < 100_000);
    }
    keys
}

fn page_len_ok(x: &str) -> usize {
    blocks(x, "Contents").len() + blocks(x, "CommonPrefixes").len()
}

fn assert_sorted_unique(keys: &[String]) {
    for w in keys.windows(2) {
        assert!(
            w[0].as_bytes() < w[1].as_bytes(),
            "not in byte order: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_pagination_returns_every_key_once_in_byte_order() {
    let cfg = config();
    let want: Vec<String> = cfg.keys("plain").unwrap().collect();
    assert_eq!(want.len(), 2345);
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    for (max, url) in [(1000, false), (7, false), (1000, true), (93, true)] {
        let got = list_v2(&mut c, "plain", "", max, url).await;
        assert_eq!(got.len(), 2345, "max-keys={max} url={url}");
        assert_sorted_unique(&got);
        assert_eq!(got, want, "max-keys={max} url={url}");
    }
    let got: HashSet<&str> = want.iter().map(String::as_str).collect();
    for k in [
        "trailing-slash/",
        "folder/",
        " leading-space",
        "/leading-slash",
        "xml<&>\"'chars",
        "plus+sign.txt",
        "percent%20literal.txt",
        "unicode/caf\u{e9}.txt",
        "unicode/cafe\u{301}.txt",
        "data/0000000/0000000000.bin",
        "data/zz-not-synthetic",
    ] {
        assert!(got.contains(k), "missing {k:?}");
    }
    assert!(want.iter().any(|k| k.len() > 1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_encoding_matches_aws() {
    let server = fakes3::start(config()).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    let r = c
        .get(&format!(
            "/plain?list-type=2&encoding-type=url&prefix={}",
            encode("a+b", false)
        ))
        .await;
    let x = r.text();
    // space → '+', '+' → %2B, '/' kept, as AWS encodes
    assert_eq!(first(&x, "Key").unwrap(), "a%2Bb+c%2Bd.txt");
    assert_eq!(top(&x, "Prefix").unwrap(), "a%2Bb");
    let r = c
        .get(&format!(
            "/plain?list-type=2&encoding-type=url&prefix={}",
            encode("unicode/caf", false)
        ))
        .await;
    let keys: Vec<String> = blocks(&r.text(), "Contents")
        .iter()
        .map(|b| first(b, "Key").unwrap())
        .collect();
    // NFD "e\u{301}" (0x65 ...) sorts before NFC "\u{e9}" (0xC3 ...)
    assert_eq!(keys, ["unicode/cafe%CC%81.txt", "unicode/caf%C3%A9.txt"]);
    let r = c.get("/plain?list-type=2&encoding-type=base64").await;
    assert_eq!(r.status, 400);
    assert_eq!(first(&r.text(), "Code").unwrap(), "InvalidArgument");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_prefix_delimiter_and_start_after() {
    let server = fakes3::start(config()).await.unwrap();
    let mut c = Client::new(&server.endpoint());

    let got = list_v2(&mut c, "plain", "&prefix=folder%2F", 1000, false).await;
    assert_eq!(got, ["folder/", "folder/child.txt", "folder/sub/"]);

    // Delimiter: one page vs many small pages give the same set of items.
    let one = c
        .get("/plain?list-type=2&delimiter=%2F&max-keys=1000")
        .await
        .text();
    assert_eq!(top(&one, "IsTruncated").unwrap(), "false");
    let mut want: BTreeSet<String> = blocks(&one, "Prefix")
        .iter()
        .skip(1) // the top-level <Prefix>
        .map(|p| format!("P:{}", unescape(p)))
        .collect();
    want.extend(
        blocks(&one, "Contents")
            .iter()
            .map(|b| format!("K:{}", first(b, "Key").unwrap())),
    );
    for p in [
        "data/",
        "folder/",
        "unicode/",
        "trailing-slash/",
        "/",
        "double/",
        "long/",
    ] {
        assert!(
            want.contains(&format!("P:{p}")),
            "missing common prefix {p}"
        );
    }
    assert!(want.contains("K:plus+sign.txt"));
    assert!(!want.iter().any(|k| k.starts_with("K:data/0")));

    let mut got = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut t = "/plain?list-type=2&delimiter=%2F&max-keys=3".to_owned();
        if let Some(tok) = &token {
            t.push_str(&format!("&continuation-token={}", encode(tok, false)));
        }
        let x = c.get(&t).await.text();
        for p in blocks(&x, "CommonPrefixes") {
            assert!(
                got.insert(format!("P:{}", first(p, "Prefix").unwrap())),
                "duplicate"
            );
        }
        for b in blocks(&x, "Contents") {
            assert!(
                got.insert(format!("K:{}", first(b, "Key").unwrap())),
                "duplicate"
            );
        }
        if top(&x, "IsTruncated").unwrap() == "false" {
            break;
        }
        token = top(&x, "NextContinuationToken");
    }
    assert_eq!(got, want);

    // start-after is exclusive and prefix-bounded
    let got = list_v2(
        &mut c,
        "plain",
        "&prefix=folder%2F&start-after=folder%2F",
        1000,
        false,
    )
    .await;
    assert_eq!(got, ["folder/child.txt", "folder/sub/"]);
    // 2345 objects - 39 awkward keys = synthetic indexes 0..=2305
    assert_eq!(fakes3::awkward_keys().len(), 39);
    let r = c
        .get("/plain?list-type=2&start-after=data%2F0000002%2F0000002304.bin&max-keys=1000")
        .await
        .text();
    let keys: Vec<String> = blocks(&r, "Contents")
        .iter()
        .map(|b| first(b, "Key").unwrap())
        .collect();
    assert_eq!(keys[0], "data/0000002/0000002305.bin");
    assert_eq!(keys[1], "data/zz-not-synthetic");
    assert_eq!(keys[2], "datb");

    // a bad token is refused
    let r = c.get("/plain?list-type=2&continuation-token=garbage").await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_listing_uses_markers() {
    let cfg = config();
    let want: Vec<String> = cfg.keys("plain").unwrap().collect();
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    let mut got: Vec<String> = Vec::new();
    let mut marker = String::new();
    loop {
        let x = c
            .get(&format!(
                "/plain?max-keys=500&marker={}",
                encode(&marker, false)
            ))
            .await
            .text();
        assert!(
            top(&x, "NextMarker").is_none(),
            "NextMarker only with a delimiter"
        );
        got.extend(
            blocks(&x, "Contents")
                .iter()
                .map(|b| first(b, "Key").unwrap()),
        );
        if top(&x, "IsTruncated").unwrap() == "false" {
            break;
        }
        marker = got.last().unwrap().clone();
    }
    assert_eq!(got, want);
    let x = c.get("/plain?delimiter=%2F&max-keys=2").await.text();
    assert_eq!(top(&x, "NextMarker").unwrap(), "-dash-first");
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    marker: bool,
    key: String,
    vid: String,
    latest: bool,
}

async fn list_versions(c: &mut Client, bucket: &str, max: usize) -> Vec<Entry> {
    let mut out = Vec::new();
    let (mut km, mut vm) = (String::new(), String::new());
    loop {
        let mut t = format!("/{bucket}?versions&max-keys={max}");
        if !km.is_empty() {
            t.push_str(&format!("&key-marker={}", encode(&km, false)));
        }
        if !vm.is_empty() {
            t.push_str(&format!("&version-id-marker={}", encode(&vm, false)));
        }
        let r = c.get(&t).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let x = r.text();
        assert!(
            x.contains("<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">")
        );
        // entries in document order, Version and DeleteMarker interleaved
        let mut rest = x.as_str();
        let mut n = 0;
        loop {
            let v = rest.find("<Version>");
            let d = rest.find("<DeleteMarker>");
            let (pos, marker, tag) = match (v, d) {
                (None, None) => break,
                (Some(v), Some(d)) if d < v => (d, true, "DeleteMarker"),
                (None, Some(d)) => (d, true, "DeleteMarker"),
                (Some(v), _) => (v, false, "Version"),
            };
            let block = blocks(&rest[pos..], tag)[0];
            out.push(Entry {
                marker,
                key: first(block, "Key").unwrap(),
                vid: first(block, "VersionId").unwrap(),
                latest: first(block, "IsLatest").unwrap() == "true",
            });
            n += 1;
            rest = &rest[pos + tag.len() + 2 + block.len()..];
        }
        assert!(n <= max);
        if top(&x, "IsTruncated").unwrap() == "false" {
            assert!(top(&x, "NextKeyMarker").is_none());
            break;
        }
        assert_eq!(n, max);
        km = top(&x, "NextKeyMarker").unwrap();
        vm = top(&x, "NextVersionIdMarker").unwrap_or_default();
        let last = out.last().unwrap();
        assert_eq!((&km, &vm), (&last.key, &last.vid));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_pagination_every_version_once() {
    let cfg = config();
    let expected = cfg.expected("versioned");
    let keys: Vec<String> = cfg.keys("versioned").unwrap().collect();
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    let full = list_versions(&mut c, "versioned", 1000).await;
    assert_eq!(full.iter().filter(|e| !e.marker).count(), 300 * 3);
    assert_eq!(
        full.iter().filter(|e| e.marker).count() as u64,
        expected.delete_markers
    );
    assert_eq!(expected.delete_markers, 5);
    let unique: HashSet<(&str, &str)> = full
        .iter()
        .map(|e| (e.key.as_str(), e.vid.as_str()))
        .collect();
    assert_eq!(unique.len(), full.len());
    // keys in byte order; per key, exactly one latest entry and it comes first
    for w in full.windows(2) {
        assert!(w[0].key.as_bytes() <= w[1].key.as_bytes());
        if w[0].key == w[1].key {
            assert!(!w[1].latest);
        } else {
            assert!(w[1].latest, "first entry of {:?} is latest", w[1].key);
        }
    }
    // current keys = keys whose latest entry is a Version
    let current: Vec<&str> = full
        .iter()
        .filter(|e| e.latest && !e.marker)
        .map(|e| e.key.as_str())
        .collect();
    assert_eq!(current, keys.iter().map(String::as_str).collect::<Vec<_>>());
    for max in [1, 2, 4, 7] {
        assert_eq!(
            list_versions(&mut c, "versioned", max).await,
            full,
            "max-keys={max}"
        );
    }
    // a version-id marker needs a key marker; an unknown one is refused
    assert_eq!(
        c.get("/versioned?versions&version-id-marker=abc")
            .await
            .status,
        400
    );
    let k = encode(&full[0].key, false);
    assert_eq!(
        c.get(&format!(
            "/versioned?versions&key-marker={k}&version-id-marker=nope"
        ))
        .await
        .status,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_of_an_unversioned_bucket_are_null() {
    let server = fakes3::start(Config::new(1).bucket(BucketSpec::new("flat", 50)))
        .await
        .unwrap();
    let mut c = Client::new(&server.endpoint());
    let all = list_versions(&mut c, "flat", 7).await;
    assert_eq!(all.len(), 50);
    assert!(all.iter().all(|e| e.vid == "null" && e.latest && !e.marker));
}
