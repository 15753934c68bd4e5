//! The object scan against a real moto server: exact counts per mode across listing pages,
//! awkward keys, noncurrent versions, sampling and prefixes, unreadable objects, and the
//! promise that the auditor only reads.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryption, VersioningConfiguration};
use common::{Moto, finding, scan_json, status_of};
use futures::StreamExt;
use serde_json::Value;

/// Keys S3 allows that trip naive scanners: spaces, unicode, `+` (not a space), `%`,
/// XML metacharacters, very deep prefixes, a trailing slash ("folder" object).
fn awkward_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "with space.txt",
        "unicodé/文件/ファイル.txt",
        "plus+sign+not+space",
        "percent%20literal%2F",
        "xml&<chars>'\"",
        "trailing-slash/",
        "question?mark#hash",
        "emoji-🔐.bin",
        " leading-space",
        "dots/../not/a/traversal",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    keys.push(format!("{}leaf", "deep/".repeat(60)));
    keys
}

async fn put_all(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: Vec<(String, Option<ServerSideEncryption>)>,
) {
    futures::stream::iter(objects)
        .map(|(key, sse)| {
            let s3 = s3.clone();
            let bucket = bucket.to_string();
            async move {
                s3.put_object()
                    .bucket(bucket)
                    .key(&key)
                    .set_server_side_encryption(sse)
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

fn counts(report: &Value, bucket: &str, section: &str) -> Value {
    report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == bucket)
        .unwrap_or_else(|| panic!("{bucket} not in report"))[section]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_objects_across_pages_are_counted_exactly() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    s3.create_bucket().bucket("many").send().await.unwrap();
    // 2,511 objects: three listing pages; every fifth unencrypted, every fifth SSE-S3
    // explicitly, the rest SSE-KMS under the AWS managed key, plus the awkward keys.
    let mut objects: Vec<(String, Option<ServerSideEncryption>)> = (0..2500)
        .map(|i| {
            let sse = match i % 5 {
                0 => None,
                1 => Some(ServerSideEncryption::Aes256),
                _ => Some(ServerSideEncryption::AwsKms),
            };
            (format!("data/{:04}/part-{i}.parquet", i % 97), sse)
        })
        .collect();
    objects.extend(awkward_keys().into_iter().map(|k| (k, None)));
    put_all(&s3, "many", objects).await;

    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("objects.csv");
    let (_, report, _) = scan_json(&moto.endpoint, &["--objects-csv", inv.to_str().unwrap()]);
    let c = counts(&report, "many", "objects");
    assert_eq!(c["total"], 2511);
    assert_eq!(c["none"], 500 + 11);
    assert_eq!(c["sse_s3"], 500);
    assert_eq!(c["sse_kms"], 1500);
    assert_eq!(c["unreadable"], 0);
    assert_eq!(c["sse_c"], 0);

    // Every awkward key round-trips through listing, HEAD and the inventory unchanged
    // once the inventory's URL-encoding is decoded.
    let mut rdr = csv::Reader::from_path(&inv).unwrap();
    let cells: Vec<String> = rdr.records().map(|r| r.unwrap()[1].to_string()).collect();
    assert!(
        cells.iter().any(|c| c == "%20leading-space"),
        "keys are URL-encoded"
    );
    let keys: std::collections::BTreeSet<String> = cells
        .iter()
        .map(|c| {
            percent_encoding::percent_decode_str(c)
                .decode_utf8()
                .unwrap()
                .into_owned()
        })
        .collect();
    assert_eq!(keys.len(), 2511, "each object exactly once");
    for k in awkward_keys() {
        assert!(keys.contains(&k), "{k:?} missing from the inventory");
    }
    let f = finding(&report, "many", "OBJ-001");
    assert_eq!(f["status"], "fail");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("511 unencrypted objects"),
        "{f}"
    );
    // Samples are the first keys in key order, so reruns give the same evidence.
    let examples: Vec<&str> = f["evidence"]["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut sorted = examples.clone();
    sorted.sort();
    assert_eq!(examples, sorted);
    assert_eq!(examples[0], " leading-space");
}

#[tokio::test(flavor = "multi_thread")]
async fn noncurrent_versions_are_scanned_and_judged() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    s3.create_bucket().bucket("versioned").send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket("versioned")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // v1 unencrypted, then the default becomes SSE-KMS and v2 overwrites: the old
    // plaintext version is still stored.
    put_all(
        &s3,
        "versioned",
        vec![("report.csv".into(), None), ("other.csv".into(), None)],
    )
    .await;
    common::put_kms_default(&s3, "versioned").await;
    put_all(
        &s3,
        "versioned",
        vec![("report.csv".into(), Some(ServerSideEncryption::AwsKms))],
    )
    .await;
    s3.delete_object()
        .bucket("versioned")
        .key("other.csv")
        .send()
        .await
        .unwrap();

    // Current objects only: the delete marker hides other.csv, report.csv is encrypted.
    let (_, report, _) = scan_json(&moto.endpoint, &[]);
    let c = counts(&report, "versioned", "objects");
    assert_eq!(
        (c["total"].as_u64(), c["sse_kms"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(status_of(&report, "versioned", "OBJ-001"), "pass");

    // With versions, both plaintext versions surface as noncurrent.
    let (_, report, _) = scan_json(&moto.endpoint, &["--versions"]);
    let n = counts(&report, "versioned", "noncurrent");
    assert_eq!(
        (n["total"].as_u64(), n["none"].as_u64()),
        (Some(2), Some(2)),
        "{n}"
    );
    let f = finding(&report, "versioned", "OBJ-001");
    assert_eq!(f["status"], "fail");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("objects and versions"),
        "{f}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_and_prefix_narrow_the_scan_and_say_so() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    s3.create_bucket().bucket("narrow").send().await.unwrap();
    let objects = (0..40)
        .map(|i| {
            (
                format!("{}/obj-{i:02}", if i < 10 { "logs" } else { "data" }),
                Some(ServerSideEncryption::Aes256),
            )
        })
        .collect();
    put_all(&s3, "narrow", objects).await;

    let (_, report, _) = scan_json(&moto.endpoint, &["--sample", "7"]);
    assert_eq!(counts(&report, "narrow", "objects")["total"], 7);
    let f = finding(&report, "narrow", "OBJ-002");
    assert!(
        f["message"].as_str().unwrap().contains("in a sample of 7"),
        "{f}"
    );
    assert_eq!(f["evidence"]["sampled"], true);

    let (_, report, _) = scan_json(&moto.endpoint, &["--prefix", "logs/"]);
    assert_eq!(counts(&report, "narrow", "objects")["total"], 10);
    assert_eq!(counts(&report, "narrow", "objects")["sse_s3"], 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn head_403s_are_unreadable_never_encrypted_and_never_pass() {
    // moto with its own policy enforcement: it evaluates the TLS-only Deny without
    // request context, so every HEAD in demo-kms-good is refused with 403.
    let moto = Moto::start_enforcing_policies();
    // The seeder's own HEAD checks are refused too.
    moto.seed_with("seed_demo.py", &["--no-check"]);
    let (code, report, _) = scan_json(
        &moto.endpoint,
        &["--bucket", "demo-kms-good", "--bucket", "demo-sse-s3"],
    );
    let c = counts(&report, "demo-kms-good", "objects");
    assert_eq!(c["unreadable"], c["total"], "{c}");
    assert!(c["total"].as_u64().unwrap() > 0);
    assert_eq!(c["sse_kms"], 0);
    let f = finding(&report, "demo-kms-good", "OBJ-006");
    assert_eq!(f["status"], "fail");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("access denied (HTTP 403)"),
        "{f}"
    );
    for rule in ["OBJ-001", "OBJ-002", "OBJ-005"] {
        assert_eq!(
            status_of(&report, "demo-kms-good", rule),
            "error",
            "{rule} must not pass on unread objects"
        );
    }
    assert_eq!(report["scan"]["complete"], false);
    // The readable bucket is unaffected.
    assert_eq!(counts(&report, "demo-sse-s3", "objects")["unreadable"], 0);
    assert_eq!(code, 1, "OBJ-006 is high: the run fails");
}

#[test]
fn the_auditor_only_reads() {
    let moto = Moto::start();
    moto.seed("seed_demo.py");
    let before = moto.requests().len();
    let (_, _, out) = scan_json(&moto.endpoint, &["--versions"]);
    assert!(out.status.code().is_some());
    let requests = moto.requests();
    let ours = &requests[before..];
    assert!(ours.len() > 50, "too few requests logged: {ours:?}");
    for r in ours {
        let (method, path) = r.split_once(' ').unwrap();
        let read = matches!(method, "GET" | "HEAD")
            // KMS (JSON) and STS (query) read operations are POSTs to the root path.
            || (method == "POST" && path.starts_with("/ "));
        assert!(read, "mutating request from the auditor: {r}");
    }
    assert!(
        ours.iter().any(|r| r.starts_with("HEAD /demo-")),
        "objects were HEADed"
    );
}

/// Regression: the implicit aws/s3 key used to be resolved for every bucket up front, so
/// an estate with no KMS use at all reported (and, on moto, created) an aws/s3 key.
#[tokio::test(flavor = "multi_thread")]
async fn no_kms_key_is_looked_up_when_nothing_uses_one() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    s3.create_bucket().bucket("plain").send().await.unwrap();
    put_all(
        &s3,
        "plain",
        vec![
            ("a".into(), None),
            ("b".into(), Some(ServerSideEncryption::Aes256)),
        ],
    )
    .await;
    let before = moto.requests().len();
    let (_, report, _) = tokio::task::spawn_blocking({
        let endpoint = moto.endpoint.clone();
        move || scan_json(&endpoint, &[])
    })
    .await
    .unwrap();
    assert_eq!(report["keys"], serde_json::json!([]), "no key is in use");
    let kms_calls = moto.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("POST / "))
        .count();
    // STS GetCallerIdentity is the only POST a KMS-free scan needs.
    assert_eq!(kms_calls, 1, "{:?}", &moto.requests()[before..]);
}
