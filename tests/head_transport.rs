//! How the object scan's HEADs travel: signed as S3 checks them, over TLS with the
//! user's trust store.
//!
//! `--head-via direct` (the default) signs and sends HEADs itself instead of going through
//! the SDK's client. moto, with request authentication on, recomputes every signature with
//! botocore from the request as sent (see scripts/moto_server.py), so a HEAD signed wrongly
//! in any way (path encoding of awkward keys, version-id query, session token, signing
//! scope) comes back 403 and shows up as an unreadable object.

mod common;

use std::process::Output;

use common::{Moto, read, scan_at};
use serde_json::Value;

struct Creds {
    key: String,
    secret: String,
    token: Option<String>,
}

impl Creds {
    fn from(v: &Value) -> Self {
        Creds {
            key: v["key"].as_str().unwrap().to_string(),
            secret: v["secret"].as_str().unwrap().to_string(),
            token: v["token"].as_str().map(str::to_string),
        }
    }
}

/// Scans with `creds` (versions included), writing the report and the per-object
/// inventory into `dir`.
fn scan(moto: &Moto, creds: &Creds, via: &str, dir: &std::path::Path) -> (Output, Value, String) {
    let report = dir.join(format!("{via}.json"));
    let inventory = dir.join(format!("{via}.csv"));
    let mut cmd = scan_at(&moto.endpoint);
    cmd.env("AWS_ACCESS_KEY_ID", &creds.key)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret)
        .args(["--versions", "--head-via", via, "--format", "json"])
        .arg("--output")
        .arg(&report)
        .arg("--objects-csv")
        .arg(&inventory);
    if let Some(token) = &creds.token {
        cmd.env("AWS_SESSION_TOKEN", token);
    }
    let out = cmd.output().expect("run s3audit");
    if !report.exists() {
        return (out, Value::Null, String::new());
    }
    let json = serde_json::from_str(&read(&report)).expect("JSON report");
    (out, json, read(&inventory))
}

fn counts<'a>(report: &'a Value, bucket: &str, field: &str) -> &'a Value {
    &report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == bucket)
        .unwrap_or_else(|| panic!("bucket {bucket} in report"))[field]
}

/// Inventory rows in a stable order (rows arrive in completion order).
fn sorted_rows(csv: &str) -> Vec<&str> {
    let mut rows: Vec<&str> = csv.lines().collect();
    rows.sort_unstable();
    rows
}

#[test]
fn heads_pass_signature_checks_for_awkward_keys_versions_and_session_tokens() {
    let moto = Moto::start();
    let seeded: Value = serde_json::from_str(&moto.run_fixture("signed_estate.py")).unwrap();
    let user = Creds::from(&seeded["user"]);
    let role = Creds::from(&seeded["role"]);
    let dir = tempfile::tempdir().unwrap();

    // Authentication is on: a wrong secret is refused, so signatures really are checked.
    let wrong = Creds {
        secret: "not-the-secret".to_string(),
        ..Creds::from(&seeded["user"])
    };
    let (out, _, _) = scan(&moto, &wrong, "direct", dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SignatureDoesNotMatch"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let heads_before = moto
        .requests()
        .iter()
        .filter(|r| r.starts_with("HEAD "))
        .count();
    let (out, direct, direct_rows) = scan(&moto, &user, "direct", dir.path());
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = counts(&direct, "signed", "objects");
    assert_eq!(signed["total"], seeded["objects"]["signed"], "{signed}");
    assert_eq!(
        signed["unreadable"], 0,
        "a HEAD failed its signature check: {signed}"
    );
    assert_eq!(
        (&signed["none"], &signed["sse_s3"], &signed["sse_kms"]),
        (&Value::from(4), &Value::from(4), &Value::from(3)),
        "{signed}"
    );
    let current = counts(&direct, "signed-versions", "objects");
    let noncurrent = counts(&direct, "signed-versions", "noncurrent");
    assert_eq!(
        (current["sse_s3"].as_u64(), current["unreadable"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(
        (
            noncurrent["none"].as_u64(),
            noncurrent["unreadable"].as_u64()
        ),
        (Some(3), Some(0))
    );
    // Every HEAD moto answered was accepted.
    let heads: Vec<String> = moto
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("HEAD "))
        .skip(heads_before)
        .collect();
    assert_eq!(heads.len(), 11 + 6, "{heads:#?}");

    // The SDK's client reads exactly the same thing, object by object.
    let (_, sdk, sdk_rows) = scan(&moto, &user, "sdk", dir.path());
    for bucket in ["signed", "signed-versions"] {
        for field in ["objects", "noncurrent"] {
            assert_eq!(counts(&sdk, bucket, field), counts(&direct, bucket, field));
        }
    }
    assert_eq!(sorted_rows(&direct_rows), sorted_rows(&sdk_rows));
    assert_eq!(direct_rows.lines().count(), 1 + 11 + 6);

    // Role-session credentials: the session token is signed and sent.
    let (_, session, session_rows) = scan(&moto, &role, "direct", dir.path());
    assert_eq!(counts(&session, "signed", "objects")["unreadable"], 0);
    assert_eq!(
        counts(&session, "signed-versions", "noncurrent")["unreadable"],
        0
    );
    assert_eq!(sorted_rows(&session_rows), sorted_rows(&direct_rows));
}

#[test]
fn heads_go_over_tls_trusting_the_ca_bundle() {
    let moto = Moto::start_tls();
    assert!(moto.endpoint.starts_with("https://"), "{}", moto.endpoint);
    moto.seed("seed_demo.py");
    let ca = moto.ca_bundle();
    let mut totals = Vec::new();
    for via in ["direct", "sdk"] {
        let (code, report, out) = common::scan_json(
            &moto.endpoint,
            &["--ca-bundle", ca.to_str().unwrap(), "--head-via", via],
        );
        assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out.stderr));
        let buckets = report["buckets"].as_array().unwrap();
        let sum = |field: &str| -> u64 {
            buckets
                .iter()
                .map(|b| b["objects"][field].as_u64().unwrap())
                .sum()
        };
        assert_eq!(sum("unreadable"), 0, "{via}: every HEAD went through");
        totals.push(sum("total"));
    }
    assert!(totals[0] > 40, "{totals:?}");
    assert_eq!(totals[0], totals[1]);

    // Without the CA the server is not trusted: a one-line error, nothing judged.
    let out = scan_at(&moto.endpoint).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// `AWS_ENDPOINT_URL_S3` (a service-specific endpoint, as for MinIO or a VPC endpoint)
/// reaches every S3 call, HEADs included, with path-style addressing.
#[test]
fn the_s3_specific_endpoint_variable_is_honoured() {
    let moto = Moto::start();
    moto.seed("seed_demo.py");
    let out = common::s3audit()
        .env("AWS_ENDPOINT_URL_S3", &moto.endpoint)
        .env("AWS_ENDPOINT_URL_KMS", &moto.endpoint)
        .env("AWS_ENDPOINT_URL_STS", &moto.endpoint)
        .args(["scan", "--format", "json", "--bucket", "demo-kms-good"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = counts(&report, "demo-kms-good", "objects");
    assert!(c["total"].as_u64().unwrap() > 0, "{c}");
    assert_eq!(c["unreadable"], 0, "{c}");
    assert_eq!(
        report["scan"]["endpoint"],
        Value::from(moto.endpoint.as_str())
    );
}
