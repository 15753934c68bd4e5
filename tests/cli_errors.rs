//! Bad input gets one clear line on stderr and exit 2: never a panic, never a partial file.

mod common;

use std::process::Output;
use std::sync::OnceLock;

use common::{Moto, s3audit, scan_at};

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let m = Moto::start();
        m.seed("seed_demo.py");
        m
    })
}

/// Asserts exit 2 with exactly one stderr line containing `needle`; returns that line.
fn assert_usage_error(out: &Output, needle: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "want one line, got:\n{stderr}");
    assert!(lines[0].starts_with("s3audit: error: "), "{stderr}");
    assert!(lines[0].contains(needle), "want {needle:?} in: {stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
    lines[0].to_string()
}

#[test]
fn unreachable_endpoint_is_one_line_and_exit_2() {
    // Port 1 on loopback: nothing listens there.
    let out = scan_at("http://127.0.0.1:1")
        .args(["--max-attempts", "2"])
        .output()
        .unwrap();
    assert_usage_error(&out, "cannot reach http://127.0.0.1:1");
}

#[test]
fn a_ca_bundle_without_certificates_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("not-a-bundle.pem");
    std::fs::write(&bundle, "this is not PEM\n").unwrap();
    let out = scan_at("http://127.0.0.1:1")
        .arg("--ca-bundle")
        .arg(&bundle)
        .output()
        .unwrap();
    assert_usage_error(&out, "holds no PEM certificate");
    let out = scan_at("http://127.0.0.1:1")
        .args(["--ca-bundle", "/nonexistent/s3audit/ca.pem"])
        .output()
        .unwrap();
    assert_usage_error(&out, "cannot read CA bundle /nonexistent/s3audit/ca.pem");
}

#[test]
fn malformed_endpoint_url_is_rejected_before_any_request() {
    let out = scan_at("127.0.0.1:9000").output().unwrap();
    assert_usage_error(&out, "invalid --endpoint-url");
}

#[test]
fn unknown_region_is_rejected() {
    let out = s3audit()
        .args(["scan", "--region", "moon_base"])
        .output()
        .unwrap();
    assert_usage_error(&out, "unknown region \"moon_base\"");
}

#[test]
fn missing_credentials_are_reported_as_such() {
    let out = scan_at(&moto().endpoint)
        .args(["--max-attempts", "1"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert_usage_error(&out, "credentials");
}

#[test]
fn unknown_bucket_is_named() {
    let out = scan_at(&moto().endpoint)
        .args(["--bucket", "demo-sse-s3", "--bucket", "no-such-bucket"])
        .output()
        .unwrap();
    let line = assert_usage_error(&out, "no such bucket in this account: no-such-bucket");
    assert!(!line.contains("demo-sse-s3"), "{line}");
}

#[test]
fn unwritable_output_fails_before_scanning() {
    let out = s3audit()
        // The endpoint is unreachable: if the scan ran first, the error would name it.
        .args(["scan", "--endpoint-url", "http://127.0.0.1:1"])
        .args(["--output", "/nonexistent-dir/report.json"])
        .output()
        .unwrap();
    assert_usage_error(
        &out,
        "cannot write /nonexistent-dir/report.json: the directory does not exist",
    );
}

#[test]
fn a_failed_scan_leaves_no_partial_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let snapshot = dir.path().join("estate.json");
    let out = scan_at(&moto().endpoint)
        .args(["--bucket", "nope"])
        .args(["--output", report.to_str().unwrap()])
        .args(["--save-snapshot", snapshot.to_str().unwrap()])
        .output()
        .unwrap();
    assert_usage_error(&out, "nope");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn output_file_is_written_whole_in_the_format_its_extension_names() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    let out = scan_at(&moto().endpoint)
        .args(["--bucket", "demo-kms-good"])
        .args(["--output", report.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.starts_with("rule,status,severity,bucket,"), "{text}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temp file left"
    );
}

#[test]
fn bad_config_file_names_the_problem_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("s3audit.toml");
    std::fs::write(&cfg, "allowed_kms_keys = [\"arn:aws:kms:us-east-1:1:key/x\"]\nrequired_object_mode = \"rot13\"\n").unwrap();
    let out = scan_at("http://127.0.0.1:1")
        .args(["--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let line = assert_usage_error(&out, "invalid config file");
    assert!(
        line.contains("(line 2, column 24)") && line.contains("rot13"),
        "{line}"
    );

    std::fs::write(&cfg, "allowed_keys = []\n").unwrap();
    let out = s3audit()
        .args(["evaluate", "x.json", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_usage_error(&out, "unknown field `allowed_keys`");
}

#[test]
fn config_errors_name_the_line_and_column_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("s3audit.toml");
    let cases: [(&str, &str, &str); 8] = [
        // A wrong type on line 1.
        (
            "allowed_kms_keys = 5\n",
            "(line 1, column 20)",
            "expected a sequence",
        ),
        // An unknown key at the start of a middle line (the span starts right after a
        // newline).
        (
            "allowed_kms_keys = []\nallowed_keys = []\nrequired_object_mode = \"sse_kms\"\n",
            "(line 2, column 1)",
            "unknown field `allowed_keys`",
        ),
        // A bad mode on the last line, with no newline after it.
        (
            "# rules\nallowed_kms_keys = []\nrequired_object_mode = \"rot13\"",
            "(line 3, column 24)",
            "unknown variant `rot13`",
        ),
        // An unknown key on the last line, with no newline after it.
        (
            "allowed_kms_keys = []\n\nbogus = 1",
            "(line 3, column 1)",
            "unknown field `bogus`",
        ),
        // A mode of the wrong type.
        ("\n\nrequired_object_mode = 3\n", "(line 3, column 24)", ""),
        // A key given twice: the second one is the mistake.
        (
            "allowed_kms_keys = [\"a\"]\nallowed_kms_keys = [\"b\"]\n",
            "(line 2, column 1)",
            "duplicate key",
        ),
        // A syntax error after a multi-line array: counted in lines, not array elements.
        (
            "allowed_kms_keys = [\n  \"a\",\n  \"b\"\n\nrequired_object_mode = \"sse_kms\"\n",
            "(line 5, column 1)",
            "missing comma",
        ),
        // Columns count characters, not bytes.
        (
            "# clé\nallowed_kms_keys = [\"é\", 7]\n",
            "(line 2, column 26)",
            "",
        ),
    ];
    for (text, at, problem) in cases {
        std::fs::write(&cfg, text).unwrap();
        let out = s3audit()
            .args(["evaluate", "x.json", "--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        let line = assert_usage_error(&out, "invalid config file");
        assert!(line.contains(at), "want {at} for {text:?}, got: {line}");
        assert!(
            line.contains(problem),
            "want {problem:?} for {text:?}, got: {line}"
        );
    }
}

#[test]
fn malformed_snapshot_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("estate.json");
    std::fs::write(&snap, "{\"snapshot_version\": 1, \"buckets\": 7}").unwrap();
    let out = s3audit()
        .args(["evaluate", snap.to_str().unwrap()])
        .output()
        .unwrap();
    assert_usage_error(&out, "invalid snapshot");

    std::fs::write(&snap, "not json").unwrap();
    let out = s3audit()
        .args(["evaluate", snap.to_str().unwrap()])
        .output()
        .unwrap();
    assert_usage_error(&out, "not JSON");

    std::fs::write(&snap, "{\"snapshot_version\": 99}").unwrap();
    let out = s3audit()
        .args(["evaluate", snap.to_str().unwrap()])
        .output()
        .unwrap();
    assert_usage_error(&out, "snapshot_version 99 is not supported");

    let out = s3audit()
        .args(["evaluate", "/nonexistent/estate.json"])
        .output()
        .unwrap();
    assert_usage_error(&out, "cannot read snapshot /nonexistent/estate.json");
}

#[test]
fn usage_errors_exit_2_and_help_teaches() {
    let out = s3audit()
        .args(["scan", "--fail-on", "severe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help = s3audit().args(["--help"]).output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("Exit codes") && text.contains("Examples"),
        "{text}"
    );
    let scan_help = s3audit().args(["scan", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&scan_help.stdout);
    for flag in [
        "--profile",
        "--region",
        "--endpoint-url",
        "--bucket",
        "--exclude",
        "--format",
        "--output",
        "--fail-on",
        "--save-snapshot",
    ] {
        assert!(text.contains(flag), "scan --help lacks {flag}");
    }
}

#[test]
fn fail_on_threshold_and_exclusions_shape_the_exit_code() {
    let m = moto();
    // Without its objects, demo-kms-good fails only medium and low rules (ENC-005; POL-002, POL-004).
    let run = |extra: &[&str]| {
        scan_at(&m.endpoint)
            .args([
                "--format",
                "json",
                "--bucket",
                "demo-kms-good",
                "--no-objects",
            ])
            .args(extra)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(
        run(&[]),
        Some(0),
        "medium failures pass the default --fail-on high"
    );
    assert_eq!(run(&["--fail-on", "medium"]), Some(1));
    // --exclude removes buckets by glob.
    let out = scan_at(&m.endpoint)
        .args([
            "--format",
            "json",
            "--exclude",
            "demo-kms-*",
            "--exclude",
            "demo-eu-?ross-region",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with("demo-kms-") && *n != "demo-eu-cross-region"),
        "{names:?}"
    );
    assert!(
        names.contains(&"demo-sse-s3") && names.contains(&"demo-eu-same-region"),
        "{names:?}"
    );
}
