//! The object scan against a real moto server: exact counts per mode across listing pages,
//! awkward keys, noncurrent versions, sampling and prefixes, unreadable objects, and the
//! promise that the auditor only reads.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryption, VersioningConfiguration};
use common::{Moto, bucket, bucket_names, finding, scan_at, scan_json, status_of};
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

fn counts(report: &Value, name: &str, section: &str) -> Value {
    bucket(report, name)[section].clone()
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

// ---------------------------------------------------------------------------------------
// `scan --inventory`: objects counted from S3 Inventory reports (CSV.gz, Parquet and ORC),
// read from disk and through moto's S3, and every kind of bad input refused with exit 2.
// Fixtures are written here: CSV.gz with csv + flate2, Parquet with the parquet crate's own
// writer (Snappy, the documented message type), ORC with pyarrow (the Apache ORC C++
// writer, through scripts/orc_fixture.py), manifests with their MD5s.

mod inventory_fixtures {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use md5::{Digest, Md5};

    /// One inventory row: key (plain), version, is_latest, is_delete_marker, size, status.
    pub type Row = (
        &'static str,
        &'static str,
        bool,
        bool,
        Option<u64>,
        &'static str,
    );

    /// Every documented status and an unknown one; a noncurrent version; a delete marker
    /// over a noncurrent version; keys with a space, a `+`, unicode.
    pub const ROWS: &[Row] = &[
        ("with space.txt", "", true, false, Some(10), "SSE-S3"),
        ("plain.txt", "v2", true, false, Some(20), "SSE-KMS"),
        ("plus+sign", "", true, false, Some(40), "NOT-SSE"),
        ("c.bin", "", true, false, Some(30), "DSSE-KMS"),
        ("unicodé/文件.txt", "", true, false, Some(50), "SSE-C"),
        ("odd", "", true, false, Some(60), "SSE-FSX"),
        ("plain.txt", "v1", false, false, Some(5), "NOT-SSE"),
        ("gone.txt", "v3", true, true, None, ""),
        ("gone.txt", "v2", false, false, Some(7), "SSE-KMS"),
    ];

    pub const CSV_SCHEMA: &str = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus, IntelligentTieringAccessTier, BucketKeyStatus, ChecksumAlgorithm";

    /// The S3 User Guide's Parquet manifest example's schema.
    pub const PARQUET_SCHEMA: &str = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); optional boolean is_multipart_uploaded; optional binary replication_status (UTF8); optional binary encryption_status (UTF8); optional int64 object_lock_retain_until_date (TIMESTAMP_MILLIS); optional binary object_lock_mode (UTF8); optional binary object_lock_legal_hold_status (UTF8); optional binary intelligent_tiering_access_tier (UTF8); optional binary bucket_key_status (UTF8); optional binary checksum_algorithm (UTF8); }";

    /// URL-encoded as S3 Inventory's CSV encodes keys: a space is `+`, a `+` is `%2B`.
    fn encode(key: &str) -> String {
        let mut out = String::new();
        for b in key.bytes() {
            match b {
                b' ' => out.push('+'),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                    out.push(b as char)
                }
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }

    /// A CSV.gz inventory file of `rows`, every value quoted as S3 writes them.
    pub fn csv_gz(bucket: &str, rows: &[Row]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        {
            let mut w = csv::WriterBuilder::new()
                .quote_style(csv::QuoteStyle::Always)
                .from_writer(&mut gz);
            for (key, version, latest, marker, size, status) in rows {
                let size = size.map(|s| s.to_string()).unwrap_or_default();
                let mut record = vec![
                    bucket.to_string(),
                    encode(key),
                    version.to_string(),
                    latest.to_string(),
                    marker.to_string(),
                    size,
                    "2026-01-01T00:00:00.000Z".into(),
                    "etag".into(),
                    "STANDARD".into(),
                    "false".into(),
                    String::new(),
                    status.to_string(),
                ];
                record.extend([""; 4].map(String::from));
                record.push(
                    if *status == "SSE-KMS" {
                        "ENABLED"
                    } else {
                        "DISABLED"
                    }
                    .into(),
                );
                record.push(String::new());
                w.write_record(&record).unwrap();
            }
            w.flush().unwrap();
        }
        gz.finish().unwrap()
    }

    /// A Parquet inventory file of `rows`, one row group per chunk of `per_group` rows.
    pub fn parquet(bucket: &str, rows: &[Row], per_group: usize) -> Vec<u8> {
        use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
        let schema = Arc::new(parquet::schema::parser::parse_message_type(PARQUET_SCHEMA).unwrap());
        let props = Arc::new(
            parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .build(),
        );
        let mut out = Vec::new();
        let mut writer =
            parquet::file::writer::SerializedFileWriter::new(&mut out, schema.clone(), props)
                .unwrap();
        for chunk in rows.chunks(per_group) {
            let mut group = writer.next_row_group().unwrap();
            let mut i = 0;
            while let Some(mut col) = group.next_column().unwrap() {
                let name = schema.get_fields()[i].name().to_string();
                i += 1;
                let texts: Vec<Option<String>> = chunk
                    .iter()
                    .map(|(key, version, _, marker, _, status)| match name.as_str() {
                        "bucket" => Some(bucket.to_string()),
                        "key" => Some(key.to_string()),
                        "version_id" => Some(version.to_string()),
                        "encryption_status" if !marker => Some(status.to_string()),
                        "storage_class" => Some("STANDARD".into()),
                        _ => None,
                    })
                    .collect();
                let defs = |present: &[bool]| -> Vec<i16> {
                    present.iter().map(|p| i16::from(*p)).collect()
                };
                match name.as_str() {
                    "is_latest" | "is_delete_marker" | "is_multipart_uploaded" => {
                        let values: Vec<bool> = chunk
                            .iter()
                            .map(|r| match name.as_str() {
                                "is_latest" => r.2,
                                "is_delete_marker" => r.3,
                                _ => false,
                            })
                            .collect();
                        let d = defs(&vec![true; chunk.len()]);
                        col.typed::<BoolType>()
                            .write_batch(&values, Some(&d), None)
                            .unwrap();
                    }
                    "size" | "last_modified_date" | "object_lock_retain_until_date" => {
                        let present: Vec<bool> = chunk
                            .iter()
                            .map(|r| name == "size" && r.4.is_some())
                            .collect();
                        let values: Vec<i64> =
                            chunk.iter().filter_map(|r| r.4).map(|s| s as i64).collect();
                        let values = if name == "size" { values } else { Vec::new() };
                        col.typed::<Int64Type>()
                            .write_batch(&values, Some(&defs(&present)), None)
                            .unwrap();
                    }
                    _ => {
                        let present: Vec<bool> = texts.iter().map(Option::is_some).collect();
                        let values: Vec<ByteArray> = texts
                            .iter()
                            .flatten()
                            .map(|t| ByteArray::from(t.as_str()))
                            .collect();
                        let required = matches!(name.as_str(), "bucket" | "key");
                        col.typed::<ByteArrayType>()
                            .write_batch(
                                &values,
                                (!required).then(|| defs(&present)).as_deref(),
                                None,
                            )
                            .unwrap();
                    }
                }
                col.close().unwrap();
            }
            group.close().unwrap();
        }
        writer.close().unwrap();
        out
    }

    /// The S3 User Guide's ORC manifest example's schema.
    pub const ORC_SCHEMA: &str = "struct<bucket:string,key:string,version_id:string,is_latest:boolean,is_delete_marker:boolean,size:bigint,last_modified_date:timestamp,e_tag:string,storage_class:string,is_multipart_uploaded:boolean,replication_status:string,encryption_status:string,object_lock_retain_until_date:timestamp,object_lock_mode:string,object_lock_legal_hold_status:string,intelligent_tiering_access_tier:string,bucket_key_status:string,checksum_algorithm:string>";

    /// An ORC inventory file of `rows` written by scripts/orc_fixture.py (pyarrow), keys as
    /// they are (ORC inventories do not URL-encode them), a delete marker's status null;
    /// `args` go to the script (`--rows-per-stripe N --compression uncompressed`, `--omit
    /// COLUMN`, `--type COLUMN=TYPE`). ZLIB, as S3 writes, unless `args` say otherwise.
    pub fn orc(bucket: &str, rows: &[Row], args: &[&str]) -> Vec<u8> {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|(key, version, latest, marker, size, status)| {
                serde_json::json!({
                    "bucket": bucket,
                    "key": key,
                    "version_id": version,
                    "is_latest": latest,
                    "is_delete_marker": marker,
                    "size": size,
                    "encryption_status": (!marker).then_some(status),
                    "storage_class": "STANDARD",
                    "bucket_key_status": if *status == "SSE-KMS" { "ENABLED" } else { "DISABLED" },
                })
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("data.orc");
        let mut child = std::process::Command::new(super::common::python())
            .arg(super::common::repo_root().join("scripts/orc_fixture.py"))
            .arg(&out)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run scripts/orc_fixture.py");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(serde_json::to_string(&rows).unwrap().as_bytes())
            .unwrap();
        let done = child.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "orc_fixture.py: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        std::fs::read(out).unwrap()
    }

    pub fn md5_hex(bytes: &[u8]) -> String {
        Md5::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// manifest.json (and its manifest.checksum) listing `files` (key, bytes).
    pub fn manifest(
        source: &str,
        destination: &str,
        format: &str,
        schema: &str,
        created_ms: i64,
        files: &[(String, Vec<u8>)],
    ) -> (String, String) {
        let files: Vec<serde_json::Value> = files
            .iter()
            .map(|(key, bytes)| {
                serde_json::json!({
                    "key": key, "size": bytes.len(), "MD5checksum": md5_hex(bytes),
                })
            })
            .collect();
        let json = serde_json::to_string_pretty(&serde_json::json!({
            "sourceBucket": source,
            "destinationBucket": format!("arn:aws:s3:::{destination}"),
            "version": "2016-11-30",
            "creationTimestamp": created_ms.to_string(),
            "fileFormat": format,
            "fileSchema": schema,
            "files": files,
        }))
        .unwrap();
        let checksum = md5_hex(json.as_bytes());
        (json, checksum)
    }

    pub fn now_ms() -> i64 {
        (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Lays an inventory out as `aws s3 sync` of the destination bucket would: data files
    /// by key, the manifest under `src/cfg/<date>/`. Returns the manifest's path.
    pub fn write_local(
        root: &Path,
        manifest: &(String, String),
        prefix_dir: &str,
        files: &[(String, Vec<u8>)],
    ) -> PathBuf {
        for (key, bytes) in files {
            let path = root.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
        let dir = root.join(prefix_dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("manifest.json");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(manifest.0.as_bytes())
            .unwrap();
        std::fs::write(dir.join("manifest.checksum"), format!("{}\n", manifest.1)).unwrap();
        path
    }

    /// A CSV inventory of `bucket` in two files, written under `root`.
    pub fn local_csv(root: &Path, bucket: &str, created_ms: i64) -> PathBuf {
        let files = vec![
            (
                format!("inv/{bucket}/cfg/data/part-1.csv.gz"),
                csv_gz(bucket, &ROWS[..4]),
            ),
            (
                format!("inv/{bucket}/cfg/data/part-2.csv.gz"),
                csv_gz(bucket, &ROWS[4..]),
            ),
        ];
        let m = manifest(bucket, "dest", "CSV", CSV_SCHEMA, created_ms, &files);
        write_local(
            root,
            &m,
            &format!("inv/{bucket}/cfg/2026-01-01T00-00Z"),
            &files,
        )
    }
}

use inventory_fixtures as inv;

/// A report's mode counts: total, none, SSE-S3, SSE-KMS, DSSE-KMS, SSE-C, unknown, unreadable.
fn mode_cells(v: &Value) -> [u64; 8] {
    [
        "total",
        "none",
        "sse_s3",
        "sse_kms",
        "dsse_kms",
        "sse_c",
        "unknown",
        "unreadable",
    ]
    .map(|c| v[c].as_u64().unwrap_or_else(|| panic!("{c} in {v}")))
}

/// The counts `inv::ROWS` must give, whatever the format.
fn assert_inventory_counts(report: &Value, bucket: &str, files: u64) {
    let b = report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == bucket)
        .unwrap_or_else(|| panic!("{bucket} not in report"));
    let cells = mode_cells;
    // Current: one object per documented status and one unknown; the delete marker is no
    // object; noncurrent: the old plain.txt (NOT-SSE) and the version under the marker.
    assert_eq!(cells(&b["objects"]), [6, 1, 1, 1, 1, 1, 1, 0], "{b}");
    assert_eq!(cells(&b["noncurrent"]), [2, 1, 0, 1, 0, 0, 0, 0], "{b}");
    assert_eq!(cells(&b["bytes"]), [210, 40, 10, 20, 30, 50, 60, 0], "{b}");
    assert_eq!(
        cells(&b["noncurrent_bytes"]),
        [12, 5, 0, 7, 0, 0, 0, 0],
        "{b}"
    );
    assert_eq!(b["object_source"]["kind"], "inventory", "{b}");
    assert_eq!(b["object_source"]["files"], files, "{b}");
    assert!(
        b.get("kms_keys").is_none(),
        "inventory has no key ARNs: {b}"
    );

    // OBJ-001: the NOT-SSE objects, keys decoded ("plus+sign" from plus%2Bsign).
    let obj1 = finding(report, bucket, "OBJ-001");
    assert_eq!(obj1["status"], "fail");
    assert_eq!(obj1["evidence"]["count"], 2);
    let examples: Vec<&str> = obj1["evidence"]["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(examples, ["plain.txt (version v1)", "plus+sign"], "{obj1}");
    assert_eq!(obj1["evidence"]["unknown_values"]["SSE-FSX"], 1, "{obj1}");
    // OBJ-002 (SSE-KMS required): "with space.txt" from with+space.txt.
    let obj2 = finding(report, bucket, "OBJ-002");
    assert!(
        obj2["evidence"]["examples"]
            .as_array()
            .unwrap()
            .contains(&Value::from("with space.txt")),
        "{obj2}"
    );
    // OBJ-005: the SSE-C object, its unicode key decoded.
    let obj5 = finding(report, bucket, "OBJ-005");
    assert_eq!(obj5["status"], "fail");
    assert_eq!(
        obj5["evidence"]["examples"],
        serde_json::json!(["unicodé/文件.txt"])
    );
    // OBJ-003/004: n/a, never pass: 3 KMS objects whose keys S3 Inventory does not record.
    for rule in ["OBJ-003", "OBJ-004"] {
        let f = finding(report, bucket, rule);
        assert_eq!(f["status"], "not_applicable", "{f}");
        assert_eq!(f["evidence"]["kms_objects_unjudged"], 3, "{f}");
        assert!(
            f["message"].as_str().unwrap().contains("does not record"),
            "{f}"
        );
    }
    // OBJ-006: every row of the inventory is a read object.
    assert_eq!(status_of(report, bucket, "OBJ-006"), "pass");
}

#[tokio::test(flavor = "multi_thread")]
async fn inventories_in_csv_parquet_and_orc_count_like_heads() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    for b in ["inv-csv", "inv-pq", "inv-orc", "live"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    put_all(&s3, "live", vec![("a".into(), None)]).await;
    let root = tempfile::tempdir().unwrap();
    let day = 24 * 3600 * 1000;
    let csv_manifest = inv::local_csv(root.path(), "inv-csv", inv::now_ms() - day);
    // Parquet: one file of three row groups.
    let pq_files = vec![(
        "inv/inv-pq/cfg/data/part-1.parquet".to_string(),
        inv::parquet("inv-pq", inv::ROWS, 4),
    )];
    let m = inv::manifest(
        "inv-pq",
        "dest",
        "Parquet",
        inv::PARQUET_SCHEMA,
        inv::now_ms() - 2 * day,
        &pq_files,
    );
    let pq_manifest = inv::write_local(
        root.path(),
        &m,
        "inv/inv-pq/cfg/2026-01-01T00-00Z",
        &pq_files,
    );
    // ORC: two files, the first ZLIB in one stripe as S3 writes, the second (the delete
    // marker, the versions, the SSE-C and unknown statuses) in three stripes of two rows.
    let orc_files = vec![
        (
            "inv/inv-orc/cfg/data/part-1.orc".to_string(),
            inv::orc("inv-orc", &inv::ROWS[..4], &[]),
        ),
        (
            "inv/inv-orc/cfg/data/part-2.orc".to_string(),
            inv::orc(
                "inv-orc",
                &inv::ROWS[4..],
                &["--rows-per-stripe", "2", "--compression", "uncompressed"],
            ),
        ),
    ];
    let m = inv::manifest(
        "inv-orc",
        "dest",
        "ORC",
        inv::ORC_SCHEMA,
        inv::now_ms() - 3 * day,
        &orc_files,
    );
    let orc_manifest = inv::write_local(
        root.path(),
        &m,
        "inv/inv-orc/cfg/2026-01-01T00-00Z",
        &orc_files,
    );

    let (code, report, out) = scan_json(
        &moto.endpoint,
        &[
            "--inventory",
            csv_manifest.to_str().unwrap(),
            "--inventory",
            pq_manifest.to_str().unwrap(),
            "--inventory",
            orc_manifest.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // OBJ-001 fails (NOT-SSE objects): exit 1.
    assert_eq!(code, 1, "{stderr}");
    assert_inventory_counts(&report, "inv-csv", 2);
    assert_inventory_counts(&report, "inv-pq", 1);
    assert_inventory_counts(&report, "inv-orc", 2);
    assert_eq!(counts(&report, "inv-orc", "object_source")["format"], "ORC");
    for (bucket, days) in [("inv-csv", 1), ("inv-pq", 2), ("inv-orc", 3)] {
        let f = finding(&report, bucket, "OBJ-007");
        assert_eq!(f["status"], "pass", "{f}");
        let age = f["evidence"]["age_seconds"].as_i64().unwrap();
        assert!((days * 86400..days * 86400 + 600).contains(&age), "{f}");
        assert_eq!(f["evidence"]["max_age_seconds"], 8 * 86400);
    }
    // The HEAD-scanned bucket: read live, so OBJ-007 does not apply, and it says head.
    assert_eq!(status_of(&report, "live", "OBJ-007"), "not_applicable");
    assert_eq!(counts(&report, "live", "object_source")["kind"], "head");
    assert_eq!(counts(&report, "live", "objects")["total"], 1);
    // Inventory buckets were not listed nor HEADed: no request names them but the
    // bucket-settings reads.
    let object_reads: Vec<String> = moto
        .requests()
        .into_iter()
        .filter(|r| r.contains("/inv-") && (r.starts_with("HEAD") || r.contains("list-type")))
        .collect();
    assert!(object_reads.is_empty(), "{object_reads:?}");

    // An inventory older than --max-age fails OBJ-007, judged against the scan's start; the
    // table view says where the counts come from.
    let out = scan_at(&moto.endpoint)
        .args([
            "--bucket",
            "inv-pq",
            "--max-age",
            "36h",
            "--format",
            "table",
        ])
        .args(["--inventory", pq_manifest.to_str().unwrap()])
        .env("COLUMNS", "300")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("objects counted from the S3 Inventory of")
            && table.contains("no KMS key per object"),
        "{table}"
    );
    let (_, report, _) = scan_json(
        &moto.endpoint,
        &[
            "--bucket",
            "inv-pq",
            "--max-age",
            "36h",
            "--inventory",
            pq_manifest.to_str().unwrap(),
        ],
    );
    let f = finding(&report, "inv-pq", "OBJ-007");
    assert_eq!(f["status"], "fail", "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("older than --max-age 1day 12h"),
        "{f}"
    );
}

/// Requests that list or HEAD the objects of `bucket` (path-style, as moto is addressed).
fn object_reads_of(moto: &Moto, bucket: &str) -> Vec<String> {
    moto.requests()
        .into_iter()
        .filter(|r| {
            r.contains(&format!("/{bucket}"))
                && (r.starts_with("HEAD") || r.contains("list-type") || r.contains("versions"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_from_chooses_inventory_heads_or_both_and_says_what_was_not_read() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    for b in ["inv-csv", "live"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    put_all(&s3, "live", vec![("a".into(), None)]).await;
    let root = tempfile::tempdir().unwrap();
    let manifest = inv::local_csv(root.path(), "inv-csv", inv::now_ms() - 3600 * 1000);
    let manifest = manifest.to_str().unwrap();

    // inventory: the bucket without one is not read at all, and nothing about its objects
    // passes: every OBJ rule is an error naming why, and the scan is incomplete.
    let (code, report, out) = scan_json(
        &moto.endpoint,
        &["--objects-from", "inventory", "--inventory", manifest],
    );
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_inventory_counts(&report, "inv-csv", 2);
    assert_eq!(
        counts(&report, "live", "object_source")["kind"],
        "not_read",
        "{report}"
    );
    for rule in [
        "OBJ-001", "OBJ-002", "OBJ-003", "OBJ-004", "OBJ-005", "OBJ-006", "OBJ-007",
    ] {
        let f = finding(&report, "live", rule);
        assert_eq!(f["status"], "error", "{f}");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("objects not read: --objects-from inventory"),
            "{f}"
        );
    }
    assert_eq!(report["scan"]["complete"], false);
    let gaps = report["scan"]["gaps"].to_string();
    assert!(gaps.contains("bucket live: objects not read"), "{gaps}");
    assert_eq!(report["scan"]["scope"]["object_source"], "inventory");
    assert!(object_reads_of(&moto, "live").is_empty());
    // The bucket's settings are still read live.
    assert_ne!(status_of(&report, "live", "ENC-001"), "error");

    // Judged by OBJ-006 alone (no failure to decide the code): incomplete, exit 3, never 0.
    let (code, _, _) = scan_json(
        &moto.endpoint,
        &[
            "--objects-from",
            "inventory",
            "--inventory",
            manifest,
            "--bucket",
            "inv-csv",
            "--bucket",
            "live",
            "--rule",
            "OBJ-006",
        ],
    );
    assert_eq!(code, 3);

    // head: every bucket is HEADed (the inventory bucket holds no object in moto).
    let (code, report, out) = scan_json(&moto.endpoint, &["--objects-from", "head"]);
    // Bucket rules fail on moto's buckets (no TLS-only policy): 1, not 3.
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out.stderr));
    for (bucket, total) in [("inv-csv", 0), ("live", 1)] {
        assert_eq!(counts(&report, bucket, "object_source")["kind"], "head");
        assert_eq!(counts(&report, bucket, "objects")["total"], total);
    }
    assert_eq!(report["scan"]["scope"]["object_source"], "head");
    assert_eq!(report["scan"]["complete"], true);

    // auto (the default): the inventory where given, HEADs for the rest.
    let (_, report, _) = scan_json(&moto.endpoint, &["--inventory", manifest]);
    assert_eq!(report["scan"]["scope"]["object_source"], "mixed");
    assert_eq!(
        counts(&report, "inv-csv", "object_source")["kind"],
        "inventory"
    );
    assert_eq!(counts(&report, "live", "object_source")["kind"], "head");
}

#[test]
fn offline_reads_local_inventories_with_no_aws_call_and_judges_no_setting() {
    let root = tempfile::tempdir().unwrap();
    let day = 24 * 3600 * 1000;
    let a = inv::local_csv(root.path(), "inv-a", inv::now_ms() - day);
    let b = inv::local_csv(root.path(), "inv-b", inv::now_ms() - 2 * day);
    // Nothing listens on port 1, and there are no credentials: any AWS call would fail.
    let run = |extra: &[&str]| {
        common::scan_at("http://127.0.0.1:1")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args(["--max-attempts", "1"])
            .args(["--inventory", a.to_str().unwrap()])
            .args(["--inventory", b.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    // Proof that the environment reaches no AWS: the same scan online stops at once.
    let online = run(&["--format", "json"]);
    assert_eq!(online.status.code(), Some(2));

    let out = run(&["--offline", "--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // OBJ-001 fails on the inventories' NOT-SSE objects.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = bucket_names(&report);
    assert_eq!(
        names,
        ["inv-a", "inv-b"],
        "buckets come from the inventories"
    );
    for bucket in ["inv-a", "inv-b"] {
        assert_inventory_counts(&report, bucket, 2);
        // Bucket settings were not read: errors naming --offline, never pass.
        for rule in ["ENC-001", "ENC-002", "POL-001", "POL-002", "KMS-001"] {
            let f = finding(&report, bucket, rule);
            assert_eq!(f["status"], "error", "{f}");
            assert!(f["message"].as_str().unwrap().contains("--offline"), "{f}");
        }
        assert_eq!(status_of(&report, bucket, "OBJ-007"), "pass");
    }
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["status"] == "pass" && !f["rule"].as_str().unwrap().starts_with("OBJ")),
        "no bucket-level rule passes offline"
    );
    let scan = &report["scan"];
    assert_eq!(scan["complete"], false);
    assert_eq!(scan["scope"]["offline"], true);
    assert_eq!(scan["scope"]["object_source"], "inventory");
    assert!(
        scan["account"].is_null() && scan["endpoint"].is_null(),
        "{scan}"
    );
    assert!(
        scan["gaps"]
            .to_string()
            .contains("bucket inv-a: default encryption not read: --offline"),
        "{scan}"
    );
    assert!(
        scan["command_line"].to_string().contains("--offline"),
        "{scan}"
    );

    // Nothing failing: incomplete is exit 3, and the summary says offline.
    let out = run(&["--offline", "--rule", "OBJ-006"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // --bucket narrows as online: an inventory of a bucket left out is refused, once.
    let out = run(&["--offline", "--bucket", "inv-b"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr
            .matches("source bucket inv-a is not one this scan reads")
            .count(),
        1,
        "{stderr}"
    );
    let out = run(&["--offline", "--format", "table"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("offline: bucket settings not read"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_sample_heads_inventory_objects_and_reports_each_disagreement() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    s3.create_bucket().bucket("inv-v").send().await.unwrap();
    let mut live: Vec<(String, Option<ServerSideEncryption>)> = (0..6)
        .map(|i| (format!("k{i}"), Some(ServerSideEncryption::Aes256)))
        .collect();
    live.push(("kms".into(), Some(ServerSideEncryption::AwsKms)));
    live.push(("plain".into(), None));
    put_all(&s3, "inv-v", live).await;
    let root = tempfile::tempdir().unwrap();
    let write = |dir: &str, rows: &[inv::Row]| {
        let files = vec![(
            format!("inv/inv-v/{dir}/data/part-1.csv.gz"),
            inv::csv_gz("inv-v", rows),
        )];
        let m = inv::manifest(
            "inv-v",
            "dest",
            "CSV",
            inv::CSV_SCHEMA,
            inv::now_ms() - 3600 * 1000,
            &files,
        );
        let path = inv::write_local(root.path(), &m, &format!("inv/inv-v/{dir}/m"), &files);
        path.to_str().unwrap().to_string()
    };
    let row = |key: &'static str, status: &'static str| -> inv::Row {
        (key, "", true, false, Some(1), status)
    };
    let mut agreeing: Vec<inv::Row> = ["k0", "k1", "k2", "k3", "k4", "k5"]
        .iter()
        .map(|k| row(k, "SSE-S3"))
        .collect();
    agreeing.push(row("kms", "SSE-KMS"));
    agreeing.push(row("plain", "NOT-SSE"));
    // The planted disagreements: an unencrypted object the inventory calls SSE-S3, and one
    // the inventory lists that is gone.
    let mut disagreeing = agreeing.clone();
    disagreeing[7] = row("plain", "SSE-S3");
    disagreeing.push(row("vanished", "SSE-S3"));
    let agreeing = write("agree", &agreeing);
    let disagreeing = write("disagree", &disagreeing);

    // A sample as large as the inventory HEADs every object: all agree.
    let (_, report, out) = scan_json(
        &moto.endpoint,
        &["--inventory", &agreeing, "--verify-sample", "100"],
    );
    let f = finding(&report, "inv-v", "OBJ-008");
    assert_eq!(
        f["status"],
        "pass",
        "{f} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f["evidence"]["sample"]["headed"], 8, "{f}");
    assert_eq!(f["evidence"]["sample"]["agreed"], 8, "{f}");
    // The sampled SSE-KMS object's key is known now: OBJ-003/004 judge it, as a sample.
    let keys = counts(&report, "inv-v", "kms_keys");
    assert_eq!(keys.as_object().unwrap().len(), 1, "{keys}");
    for rule in ["OBJ-003", "OBJ-004"] {
        let f = finding(&report, "inv-v", rule);
        assert_ne!(f["status"], "not_applicable", "{f}");
        assert_eq!(f["evidence"]["sampled"], true, "{f}");
    }
    assert_eq!(status_of(&report, "inv-v", "OBJ-004"), "pass");

    // The planted disagreements are each reported; the seed is recorded.
    let (code, report, _) = scan_json(
        &moto.endpoint,
        &[
            "--inventory",
            &disagreeing,
            "--verify-sample",
            "100",
            "--verify-seed",
            "7",
        ],
    );
    assert_eq!(code, 1);
    let f = finding(&report, "inv-v", "OBJ-008");
    assert_eq!(f["status"], "fail", "{f}");
    let sample = &f["evidence"]["sample"];
    assert_eq!(sample["seed"], 7);
    assert_eq!(sample["disagreement_count"], 2, "{f}");
    assert_eq!(
        sample["disagreements"],
        serde_json::json!([
            {"key": "plain", "inventory": "sse_s3", "live": "none", "missing": false},
            {"key": "vanished", "inventory": "sse_s3", "live": null, "missing": true},
        ]),
        "{f}"
    );
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("plain: sse_s3 in the inventory, none live"),
        "{f}"
    );

    // A smaller sample: N HEADs, and the same seed picks the same objects again.
    let heads_before = object_reads_of(&moto, "inv-v").len();
    let run = || {
        let (_, report, _) = scan_json(
            &moto.endpoint,
            &[
                "--inventory",
                &disagreeing,
                "--verify-sample",
                "4",
                "--verify-seed",
                "42",
            ],
        );
        finding(&report, "inv-v", "OBJ-008")["evidence"].clone()
    };
    let first = run();
    assert_eq!(first["sample"]["headed"], 4, "{first}");
    assert_eq!(object_reads_of(&moto, "inv-v").len() - heads_before, 4);
    assert_eq!(run(), first);
    // Without --verify-sample the inventory is not checked: n/a, never pass.
    let (_, report, _) = scan_json(&moto.endpoint, &["--inventory", &agreeing]);
    assert_eq!(status_of(&report, "inv-v", "OBJ-008"), "not_applicable");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inventory_in_s3_is_read_through_the_sdk() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    for b in ["inv-csv", "inventory-dest"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let files = vec![
        (
            "inv/inv-csv/cfg/data/part-1.csv.gz".to_string(),
            inv::csv_gz("inv-csv", &inv::ROWS[..5]),
        ),
        (
            "inv/inv-csv/cfg/data/part-2.csv.gz".to_string(),
            inv::csv_gz("inv-csv", &inv::ROWS[5..]),
        ),
    ];
    let (json, checksum) = inv::manifest(
        "inv-csv",
        "inventory-dest",
        "CSV",
        inv::CSV_SCHEMA,
        inv::now_ms() - 3600 * 1000,
        &files,
    );
    let dir = "inv/inv-csv/cfg/2026-01-01T00-00Z";
    let mut objects: Vec<(String, Vec<u8>)> = files.clone();
    objects.push((format!("{dir}/manifest.json"), json.into_bytes()));
    objects.push((format!("{dir}/manifest.checksum"), checksum.into_bytes()));
    for (key, body) in objects {
        s3.put_object()
            .bucket("inventory-dest")
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    let url = format!("s3://inventory-dest/{dir}/manifest.json");
    let (code, report, out) = scan_json(
        &moto.endpoint,
        &[
            "--bucket",
            "inv-csv",
            "--bucket",
            "inventory-dest",
            "--inventory",
            &url,
        ],
    );
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_inventory_counts(&report, "inv-csv", 2);
    assert_eq!(counts(&report, "inv-csv", "object_source")["manifest"], url);
    // The destination bucket itself is HEAD-scanned like any other: 4 objects.
    assert_eq!(counts(&report, "inventory-dest", "objects")["total"], 4);
    assert_eq!(status_of(&report, "inv-csv", "OBJ-007"), "pass");
    // Only reads: the manifest, its checksum and both files were fetched with GET.
    let writes: Vec<String> = moto
        .requests()
        .into_iter()
        .filter(|r| !(r.starts_with("GET ") || r.starts_with("HEAD ")))
        .filter(|r| !r.starts_with("POST / "))
        .filter(|r| !r.starts_with("PUT ") && !r.starts_with("POST /inventory-dest"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inventories_stop_the_scan_with_one_line_naming_the_file() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    s3.create_bucket().bucket("inv-csv").send().await.unwrap();
    let day = 24 * 3600 * 1000;

    // Each case: a fresh layout, a change to it, and what the one line must name.
    type Change = Box<dyn Fn(&std::path::Path, &std::path::Path)>;
    let rewrite_manifest = |edit: fn(&mut serde_json::Value)| -> Change {
        Box::new(move |_root, manifest| {
            let mut json: Value = serde_json::from_str(&common::read(manifest)).unwrap();
            edit(&mut json);
            let text = serde_json::to_string(&json).unwrap();
            std::fs::write(manifest, &text).unwrap();
            std::fs::write(
                manifest.with_file_name("manifest.checksum"),
                inv::md5_hex(text.as_bytes()),
            )
            .unwrap();
        })
    };
    let part2 = |root: &std::path::Path| root.join("inv/inv-csv/cfg/data/part-2.csv.gz");
    // Replaces part 2 with `bytes` and updates its MD5 and size, so only the content is bad.
    let replace_part2 = |bytes: Vec<u8>| -> Change {
        Box::new(move |root, manifest| {
            std::fs::write(root.join("inv/inv-csv/cfg/data/part-2.csv.gz"), &bytes).unwrap();
            let mut json: Value = serde_json::from_str(&common::read(manifest)).unwrap();
            json["files"][1]["MD5checksum"] = inv::md5_hex(&bytes).into();
            json["files"][1]["size"] = bytes.len().into();
            let text = serde_json::to_string(&json).unwrap();
            std::fs::write(manifest, &text).unwrap();
            std::fs::write(
                manifest.with_file_name("manifest.checksum"),
                inv::md5_hex(text.as_bytes()),
            )
            .unwrap();
        })
    };
    let good_gz = inv::csv_gz("inv-csv", &inv::ROWS[4..]);
    let truncated_gz = good_gz[..good_gz.len() - 12].to_vec();
    let pq = inv::parquet("inv-csv", inv::ROWS, 4);
    let truncated_pq = pq[..pq.len() - 20].to_vec();
    // Part 2 replaced by `bytes` as the only file of a manifest of `format` and `schema`.
    let only_part2 = move |format: &'static str, schema: &'static str, bytes: Vec<u8>| -> Change {
        Box::new(move |root, manifest| {
            replace_part2(bytes.clone())(root, manifest);
            let mut json: Value = serde_json::from_str(&common::read(manifest)).unwrap();
            json["fileFormat"] = format.into();
            json["fileSchema"] = schema.into();
            json["files"] = serde_json::json!([json["files"][1].clone()]);
            let text = serde_json::to_string(&json).unwrap();
            std::fs::write(manifest, &text).unwrap();
            std::fs::write(
                manifest.with_file_name("manifest.checksum"),
                inv::md5_hex(text.as_bytes()),
            )
            .unwrap();
        })
    };
    let orc = inv::orc("inv-csv", inv::ROWS, &[]);
    let truncated_orc = orc[..orc.len() - 20].to_vec();
    let orc_without_status = inv::orc("inv-csv", inv::ROWS, &["--omit", "encryption_status"]);
    let orc_size_as_text = inv::orc("inv-csv", inv::ROWS, &["--type", "size=string"]);
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "manifest checksum mismatch",
            Box::new(|_root, manifest| {
                std::fs::write(manifest.with_file_name("manifest.checksum"), "0".repeat(32))
                    .unwrap()
            }),
            "manifest.checksum says",
        ),
        (
            "no manifest.checksum",
            Box::new(|_root, manifest| {
                std::fs::remove_file(manifest.with_file_name("manifest.checksum")).unwrap()
            }),
            "cannot read the manifest.checksum",
        ),
        (
            "file MD5 mismatch",
            Box::new(move |root, _| {
                let mut bytes = std::fs::read(part2(root)).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                std::fs::write(part2(root), bytes).unwrap();
            }),
            "part-2.csv.gz: MD5 is",
        ),
        (
            "missing file",
            Box::new(move |root, _| std::fs::remove_file(part2(root)).unwrap()),
            "inventory file inv/inv-csv/cfg/data/part-2.csv.gz: missing",
        ),
        (
            "unknown column",
            rewrite_manifest(|j| j["fileSchema"] = inv::CSV_SCHEMA.replace("ETag", "Etag").into()),
            "column \"Etag\" that S3 Inventory does not document",
        ),
        (
            "no EncryptionStatus",
            rewrite_manifest(|j| {
                j["fileSchema"] = inv::CSV_SCHEMA.replace(", EncryptionStatus", "").into()
            }),
            "no EncryptionStatus column",
        ),
        (
            "ORC manifest with a CSV schema",
            rewrite_manifest(|j| j["fileFormat"] = "ORC".into()),
            "is not an ORC struct type",
        ),
        (
            "truncated ORC file",
            only_part2("ORC", inv::ORC_SCHEMA, truncated_orc),
            "part-2.csv.gz: not a readable ORC file",
        ),
        (
            "ORC file without a column its manifest names",
            only_part2("ORC", inv::ORC_SCHEMA, orc_without_status),
            "part-2.csv.gz: no column encryption_status, which the manifest's fileSchema names",
        ),
        (
            "ORC column of another type",
            only_part2("ORC", inv::ORC_SCHEMA, orc_size_as_text),
            "part-2.csv.gz: column size is string, expected bigint",
        ),
        (
            "source bucket not scanned",
            rewrite_manifest(|j| j["sourceBucket"] = "not-in-account".into()),
            "source bucket not-in-account is not one this scan reads",
        ),
        (
            "truncated gzip",
            replace_part2(truncated_gz),
            "part-2.csv.gz: truncated or corrupt gzip",
        ),
        (
            "fewer values than the schema",
            rewrite_manifest(|j| {
                j["fileSchema"] = format!("{}, ObjectOwner", inv::CSV_SCHEMA).into()
            }),
            "part-1.csv.gz: row 1 has 18 values, fileSchema names 19 columns",
        ),
        (
            "truncated Parquet footer",
            only_part2("Parquet", inv::PARQUET_SCHEMA, truncated_pq),
            "part-2.csv.gz: not a readable Parquet file",
        ),
    ];
    for (what, change, says) in cases {
        let root = tempfile::tempdir().unwrap();
        let manifest = inv::local_csv(root.path(), "inv-csv", inv::now_ms() - day);
        change(root.path(), &manifest);
        let out = scan_at(&moto.endpoint)
            .args([
                "--format",
                "json",
                "--inventory",
                manifest.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(out.stdout.is_empty(), "{what}: no report at all");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: one line: {stderr}");
        assert!(lines[0].contains(says), "{what}: {stderr}");
    }
}

// ---------------------------------------------------------------------------------------
// `scan --metadata-table`: objects counted from an S3 Metadata live inventory table, a real
// Iceberg table written by scripts/iceberg_fixture.py (pyiceberg, pyarrow).

/// Copies a directory tree (a table "synced down" elsewhere).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The counts the fixture's rows must give (see scripts/iceberg_fixture.py), with key A the
/// bucket default and key B disabled.
fn assert_metadata_table_counts(report: &Value, bucket: &str, a: &str, b: &str) {
    let b_json = common::bucket(report, bucket);
    // Current: a2 (KMS, A), b1 (S3), d1 (SSE-C), e1 (unknown), f1 (null status: none), g2
    // (KMS, A, the greatest sequence number though g3 came later); c's and k's delete
    // markers are no objects, h1 was deleted from the table. Noncurrent: a1 (null: none),
    // c1 (DSSE-KMS, B), g1 (KMS, B), g3 (S3).
    for (section, want) in [
        ("objects", [6, 1, 1, 2, 0, 1, 1, 0]),
        ("noncurrent", [4, 1, 1, 1, 1, 0, 0, 0]),
        ("bytes", [320, 70, 30, 110, 0, 50, 60, 0]),
        ("noncurrent_bytes", [135, 10, 5, 80, 40, 0, 0, 0]),
    ] {
        assert_eq!(mode_cells(&b_json[section]), want, "{section}: {b_json}");
    }
    let source = &b_json["object_source"];
    assert_eq!(source["kind"], "metadata_table", "{b_json}");
    assert_eq!(source["data_files"], 3, "{b_json}");
    assert_eq!(source["kms_objects_without_key"], 0, "{b_json}");

    // OBJ-001: the null-status objects count as unencrypted.
    let obj1 = finding(report, bucket, "OBJ-001");
    assert_eq!(obj1["status"], "fail", "{obj1}");
    assert_eq!(obj1["evidence"]["count"], 2, "{obj1}");
    assert_eq!(obj1["evidence"]["unknown_values"]["SSE-FOO"], 1, "{obj1}");
    // OBJ-003: key B (2 objects: c1, g1) is neither the default (A) nor allowed.
    let obj3 = finding(report, bucket, "OBJ-003");
    assert_eq!(obj3["status"], "fail", "{obj3}");
    let keys = obj3["evidence"]["keys"].as_array().unwrap();
    let per_key: std::collections::BTreeMap<&str, (u64, bool)> = keys
        .iter()
        .map(|k| {
            (
                k["key"].as_str().unwrap(),
                (
                    k["objects"].as_u64().unwrap(),
                    k["expected"].as_bool().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(per_key.get(a), Some(&(2, true)), "{obj3}");
    assert_eq!(per_key.get(b), Some(&(2, false)), "{obj3}");
    // OBJ-004: key B is disabled: its 2 objects are at risk.
    let obj4 = finding(report, bucket, "OBJ-004");
    assert_eq!(obj4["status"], "fail", "{obj4}");
    assert!(
        obj4["message"].as_str().unwrap().starts_with("2 objects"),
        "{obj4}"
    );
    assert!(
        obj4["evidence"].get("kms_objects_unjudged").is_none(),
        "{obj4}"
    );
    // OBJ-007: the snapshot was committed moments ago.
    let obj7 = finding(report, bucket, "OBJ-007");
    assert_eq!(obj7["status"], "pass", "{obj7}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metadata_table_counts_versions_and_judges_keys() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    let kms = moto.kms("us-east-1").await;
    let mut keys = Vec::new();
    for _ in 0..2 {
        let meta = kms.create_key().send().await.unwrap().key_metadata.unwrap();
        keys.push((meta.arn.unwrap(), meta.key_id));
    }
    let (a, b) = (keys[0].0.clone(), keys[1].0.clone());
    // moto's DisableKey takes the key id, not the ARN.
    kms.disable_key().key_id(&keys[1].1).send().await.unwrap();
    for name in ["meta-live", "live"] {
        s3.create_bucket().bucket(name).send().await.unwrap();
    }
    put_all(&s3, "live", vec![("x".into(), None)]).await;
    {
        use aws_sdk_s3::types::{
            ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
            ServerSideEncryptionRule,
        };
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(&a)
            .build()
            .unwrap();
        s3.put_bucket_encryption()
            .bucket("meta-live")
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(default)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let metadata = common::iceberg_table(dir.path(), "meta-live", &a, &b);
    assert!(metadata.starts_with("file://"), "{metadata}");

    let (code, report, out) = scan_json(&moto.endpoint, &["--metadata-table", &metadata]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, 1, "{stderr}");
    assert_metadata_table_counts(&report, "meta-live", &a, &b);
    assert_eq!(counts(&report, "live", "object_source")["kind"], "head");
    assert_eq!(report["scan"]["scope"]["object_source"], "mixed");
    // The table's bucket was neither listed nor HEADed.
    let object_reads: Vec<String> = moto
        .requests()
        .into_iter()
        .filter(|r| r.contains("/meta-live") && (r.starts_with("HEAD") || r.contains("list-type")))
        .collect();
    assert!(object_reads.is_empty(), "{object_reads:?}");

    // The same table synced down elsewhere (its paths still name the old place): read
    // relative to its own directory, same counts; the table view names the source.
    let table_dir = dir.path().join("warehouse/b_meta_live/inventory");
    let synced = tempfile::tempdir().unwrap();
    copy_tree(&table_dir, &synced.path().join("inventory"));
    std::fs::remove_dir_all(&table_dir).unwrap();
    let name = std::path::Path::new(&metadata)
        .file_name()
        .unwrap()
        .to_owned();
    let copied = synced.path().join("inventory/metadata").join(name);
    let (_, report, out) = scan_json(
        &moto.endpoint,
        &[
            "--bucket",
            "meta-live",
            "--metadata-table",
            copied.to_str().unwrap(),
        ],
    );
    assert_metadata_table_counts(&report, "meta-live", &a, &b);
    assert!(out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("error"));
    let out = scan_at(&moto.endpoint)
        .args([
            "--bucket",
            "meta-live",
            "--format",
            "table",
            "--metadata-table",
        ])
        .arg(&copied)
        .env("COLUMNS", "300")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("objects counted from the metadata table snapshot of"),
        "{table}"
    );

    // The same rows as S3 Metadata keeps them: a table bucket's ARN, its live inventory
    // table found through the S3 Tables API and read from its warehouse in S3 (which S3
    // refuses to list: s3audit reads only the files the metadata names, never lists).
    let arn = common::s3tables_table(
        &dir.path().join("s3tables"),
        &moto.endpoint,
        "meta-live",
        &a,
        &b,
    );
    assert!(arn.starts_with("arn:aws:s3tables:us-east-1:"), "{arn}");
    let before = moto.requests().len();
    let (_, report, out) = scan_json(
        &moto.endpoint,
        &["--bucket", "meta-live", "--metadata-table", &arn],
    );
    assert_metadata_table_counts(&report, "meta-live", &a, &b);
    let source = counts(&report, "meta-live", "object_source");
    assert!(
        source["table"].as_str().unwrap().starts_with("s3://")
            && source["table"]
                .as_str()
                .unwrap()
                .ends_with(".metadata.json"),
        "{source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = moto.requests().split_off(before);
    assert!(
        requests.iter().any(|r| r.contains("--table-s3/")),
        "the warehouse was read: {requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("--table-s3") && r.contains("list-type")),
        "{requests:?}"
    );

    // --offline reads the local table alone (nothing listens at the endpoint): the same
    // counts; the keys were not described, so OBJ-003/004 cannot pass; settings not read.
    let out = scan_at("http://127.0.0.1:1")
        .args(["--offline", "--format", "json", "--metadata-table"])
        .arg(&copied)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(1), "OBJ-001 fails");
    assert_eq!(report["scan"]["scope"]["offline"], true);
    let b_json = bucket(&report, "meta-live");
    assert_eq!(
        mode_cells(&b_json["objects"]),
        [6, 1, 1, 2, 0, 1, 1, 0],
        "{b_json}"
    );
    for rule in ["OBJ-003", "OBJ-004", "ENC-001"] {
        let f = finding(&report, "meta-live", rule);
        assert_eq!(f["status"], "error", "{f}");
    }
}

/// The snapshot a scan saved, with what must differ between runs of the same estate removed:
/// when it ran and how it was asked for.
fn normalised_snapshot(path: &std::path::Path) -> Value {
    let mut v: Value = serde_json::from_str(&common::read(path)).unwrap();
    let scan = v["scan"].as_object_mut().unwrap();
    for field in ["started_at", "finished_at", "command_line"] {
        assert!(scan.remove(field).is_some(), "{field} in {path:?}");
    }
    v
}

/// `s3audit merge INPUTS... --output OUT`.
fn s3audit_merge(inputs: &[&std::path::Path], out: &std::path::Path) -> std::process::Output {
    let mut cmd = common::s3audit();
    cmd.arg("merge").args(inputs).arg("--output").arg(out);
    cmd.output().unwrap()
}

/// `scan --shard I/N` splits a run three ways (six HEAD-scanned buckets by name, an S3
/// Inventory of nine data files by file key), and `s3audit merge` of the three snapshots is
/// exactly the snapshot of one whole run, judged the same by `evaluate`; each shard's own
/// report says it is partial, and merges of the wrong snapshots are refused with one line.
#[tokio::test(flavor = "multi_thread")]
async fn shards_merged_are_exactly_one_whole_run() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    let heads = ["sh-a", "sh-b", "sh-c", "sh-d", "sh-e", "sh-f"];
    for b in heads.iter().chain(&["sh-big"]) {
        s3.create_bucket().bucket(*b).send().await.unwrap();
    }
    common::put_kms_default(&s3, "sh-c").await;
    for (i, b) in heads.iter().enumerate() {
        let objects = (0..=i)
            .map(|n| {
                let sse = match n % 3 {
                    0 => None,
                    1 => Some(ServerSideEncryption::Aes256),
                    _ => Some(ServerSideEncryption::AwsKms),
                };
                (format!("k{n}"), sse)
            })
            .collect();
        put_all(&s3, b, objects).await;
    }
    // One inventory file per row, so its counts are split across the shards.
    let root = tempfile::tempdir().unwrap();
    let files: Vec<(String, Vec<u8>)> = inv::ROWS
        .iter()
        .enumerate()
        .map(|(i, row)| {
            (
                format!("inv/sh-big/cfg/data/part-{i}.csv.gz"),
                inv::csv_gz("sh-big", std::slice::from_ref(row)),
            )
        })
        .collect();
    let m = inv::manifest(
        "sh-big",
        "dest",
        "CSV",
        inv::CSV_SCHEMA,
        inv::now_ms(),
        &files,
    );
    let manifest = inv::write_local(root.path(), &m, "inv/sh-big/cfg/2026-01-01T00-00Z", &files);
    let manifest = manifest.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let scan = |extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = scan_at(&moto.endpoint);
        cmd.args(["--format", "json", "--inventory", manifest])
            .args(extra);
        for var in ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        let out = cmd.output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (
            out.status.code(),
            report,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    let full = path("full.json");
    let (code, whole, stderr) = scan(&["--save-snapshot", full.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1), "OBJ-001 fails on NOT-SSE objects: {stderr}");
    // Its only gap: the inventory's undocumented SSE-FSX value.
    let whole_gaps = serde_json::json!([
        "bucket sh-big: 1 objects report an encryption value S3 does not document"
    ]);
    assert_eq!(whole["scan"]["gaps"], whole_gaps, "{}", whole["scan"]);
    // Three shards: by flag, from a Kubernetes Indexed Job's and an AWS Batch array's index.
    let shards: Vec<_> = (0..3).map(|i| path(&format!("shard-{i}.json"))).collect();
    let envs: [&[(&str, &str)]; 3] = [
        &[],
        &[("JOB_COMPLETION_INDEX", "1")],
        &[("AWS_BATCH_JOB_ARRAY_INDEX", "2")],
    ];
    let mut holders_of_big = 0;
    let mut owned = Vec::new();
    for (i, shard) in shards.iter().enumerate() {
        let spec = if i == 0 {
            "0/3".to_string()
        } else {
            "auto/3".to_string()
        };
        let (code, report, stderr) = scan(
            &["--shard", &spec, "--save-snapshot", shard.to_str().unwrap()],
            envs[i],
        );
        // Partial, and says so: never a whole, complete audit.
        assert_ne!(code, Some(0), "{stderr}");
        assert_eq!(report["scan"]["complete"], false);
        assert_eq!(
            report["scan"]["scope"]["shard"]["index"], i,
            "{}",
            report["scan"]
        );
        assert!(
            report["scan"]["gaps"][0]
                .as_str()
                .unwrap()
                .starts_with(&format!("shard {i}/3: a partial view")),
            "{}",
            report["scan"]["gaps"]
        );
        assert!(
            stderr.contains(&format!("shard {i}/3 of a split run")),
            "{stderr}"
        );
        let snapshot: Value = serde_json::from_str(&common::read(shard)).unwrap();
        for b in snapshot["buckets"].as_array().unwrap() {
            let name = b["name"].as_str().unwrap().to_string();
            if name == "sh-big" {
                holders_of_big += 1;
            }
            // The owner read its settings; another shard holds only its share of files.
            if b["region"]["status"] == "present" {
                owned.push(name);
            }
        }
    }
    // Every bucket's settings were read by exactly one shard, the HEAD-scanned buckets
    // spread over more than one, and the inventory's files too.
    owned.sort();
    let mut every: Vec<&str> = heads.iter().copied().chain(["sh-big"]).collect();
    every.sort();
    assert_eq!(owned, every, "each bucket read once");
    assert!(
        holders_of_big >= 2,
        "the inventory's files are split across shards"
    );

    let merged = path("merged.json");
    let out = s3audit_merge(&[&shards[2], &shards[0], &shards[1]], &merged);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(normalised_snapshot(&merged), normalised_snapshot(&full));
    let evaluate = |snapshot: &std::path::Path| -> Value {
        let out = common::s3audit()
            .args(["evaluate", "--format", "json"])
            .arg(snapshot)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (a, b) = (evaluate(&merged), evaluate(&full));
    let (fa, fb) = (
        a["findings"].as_array().unwrap(),
        b["findings"].as_array().unwrap(),
    );
    assert_eq!(fa.len(), fb.len());
    // OBJ-007 judges the inventory's age at the scan's start, which differs between runs.
    let timeless = |f: &Value| {
        let mut f = f.clone();
        if f["rule"] == "OBJ-007" && f["bucket"] == "sh-big" {
            let evidence = f["evidence"].as_object_mut().unwrap();
            assert!(evidence.remove("judged_at").is_some(), "{f}");
            evidence.remove("age_seconds");
            // "... was 1s old when ...": the age in the message moves with the clock too.
            let message = f["message"].as_str().unwrap().to_string();
            let (head, rest) = message.split_once(" was ").expect("an age in the message");
            let (_, tail) = rest.split_once(" old ").expect("an age in the message");
            f["message"] = format!("{head} was AGE old {tail}").into();
        }
        f
    };
    for (x, y) in fa.iter().zip(fb) {
        assert_eq!(timeless(x), timeless(y));
    }
    assert_eq!(a["buckets"], b["buckets"]);
    assert_eq!(
        a["scan"]["gaps"], whole_gaps,
        "no shard's partial view is left"
    );
    assert!(a["scan"]["scope"].get("shard").is_none(), "{}", a["scan"]);
    assert_eq!(
        counts(&a, "sh-big", "objects"),
        counts(&whole, "sh-big", "objects")
    );

    // Wrong inputs: one line on stderr, exit 2, nothing written.
    let other = path("other-run.json");
    let (_, _, stderr) = scan(
        &[
            "--shard",
            "1/3",
            "--exclude",
            "sh-a",
            "--save-snapshot",
            other.to_str().unwrap(),
        ],
        &[],
    );
    assert!(other.exists(), "{stderr}");
    let bad = path("bad.json");
    for (inputs, says) in [
        (vec![&shards[0], &shards[1]], "missing shard 2/3"),
        (
            vec![&shards[0], &shards[1], &shards[1], &shards[2]],
            "duplicate shard 1/3",
        ),
        (
            vec![&shards[0], &full, &shards[2]],
            "is not a shard's snapshot",
        ),
        (vec![&shards[0], &other, &shards[2]], "mismatched settings"),
    ] {
        let inputs: Vec<&std::path::Path> = inputs.iter().map(|p| p.as_path()).collect();
        let out = s3audit_merge(&inputs, &bad);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{says}: {stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!bad.exists(), "{says}: nothing written");
    }
    // A shard that is not one of N, and auto/N outside a job: usage errors naming why.
    for (spec, says) in [
        ("3/3", "must be below N, from 0 to 2"),
        (
            "auto/3",
            "neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor AWS_BATCH_JOB_ARRAY_INDEX",
        ),
    ] {
        let mut cmd = scan_at(&moto.endpoint);
        cmd.args(["--shard", spec])
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("AWS_BATCH_JOB_ARRAY_INDEX");
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

/// `--offline --shard I/N`: local inventories decoded by two shards, each a share of every
/// bucket's files, merge into exactly the offline run of all of them (no AWS call).
#[test]
fn offline_shards_merge_into_the_whole_offline_run() {
    let root = tempfile::tempdir().unwrap();
    let manifests: Vec<String> = ["off-a", "off-b", "off-c", "off-d"]
        .iter()
        .map(|b| {
            let m = inv::local_csv(root.path(), b, inv::now_ms());
            m.to_str().unwrap().to_string()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| -> std::path::PathBuf {
        let snapshot = dir.path().join(name);
        let mut cmd = common::s3audit();
        cmd.args(["scan", "--offline", "--format", "json", "--save-snapshot"])
            .arg(&snapshot)
            .args(extra);
        for m in &manifests {
            cmd.args(["--inventory", m]);
        }
        let out = cmd.output().unwrap();
        assert!(
            matches!(out.status.code(), Some(1 | 3)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        snapshot
    };
    let full = run("full.json", &[]);
    let shards = [
        run("s0.json", &["--shard", "0/2"]),
        run("s1.json", &["--shard", "1/2"]),
    ];
    // Some bucket is held by both shards: its files were split between them.
    let names = |p: &std::path::Path| -> Vec<String> {
        let v: Value = serde_json::from_str(&common::read(p)).unwrap();
        v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (n0, n1) = (names(&shards[0]), names(&shards[1]));
    assert!(n0.iter().any(|n| n1.contains(n)), "{n0:?} {n1:?}");
    let merged = dir.path().join("merged.json");
    let out = s3audit_merge(&[&shards[1], &shards[0]], &merged);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(normalised_snapshot(&merged), normalised_snapshot(&full));
}
