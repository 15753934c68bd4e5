//! Bad input gets one clear line on stderr and exit 2: never a panic, never a partial file.

mod common;

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::{Moto, mkfifo, s3audit, scan_at, send_signal, temp_files, wait_with_timeout};
use fakes3::{BucketSpec, Config, Latency};

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let m = Moto::start();
        m.seed("seed_demo.py");
        m
    })
}

/// Asserts the exit code, showing stderr when it is not the one wanted.
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    // The scan does not end in silence: what was written, where, and the verdict.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("s3audit: wrote {} (csv): 1 bucket, ", report.display());
    assert!(stderr.starts_with(&want), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(" fail, 0 error, ") && stderr.contains(" pass, "),
        "{stderr}"
    );
}

/// Whether this build writes HTML reports (`.html` is then a report extension).
fn writes_html() -> bool {
    use clap::ValueEnum;
    s3audit::cli::Format::value_variants().iter().any(|f| {
        f.to_possible_value()
            .is_some_and(|v| v.get_name() == "html")
    })
}

#[test]
fn an_output_extension_s3audit_cannot_write_is_a_usage_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = common::repo_root().join("tests/fixtures/readme_estate.json");
    let mut names = vec!["report.sarif", "report.xyz", "REPORT.XML"];
    if !writes_html() {
        names.push("report.html");
    }
    for name in names {
        let path = dir.path().join(name);
        let ext = name.rsplit('.').next().unwrap().to_ascii_lowercase();
        // Before any scan: the endpoint is unreachable and never contacted.
        let out = scan_at("http://127.0.0.1:1")
            .arg("--output")
            .arg(&path)
            .output()
            .unwrap();
        let line = assert_usage_error(&out, &format!("s3audit writes no .{ext} report"));
        assert!(
            line.contains("--format"),
            "says how to get a report: {line}"
        );
        assert!(
            line.contains("(it writes .txt, .csv, .json"),
            "names what it writes: {line}"
        );
        let out = s3audit()
            .arg("evaluate")
            .arg(&snapshot)
            .arg("--output")
            .arg(&path)
            .output()
            .unwrap();
        assert_usage_error(&out, &format!("s3audit writes no .{ext} report"));
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{name}: files created: {left:?}");
    }
    // SARIF annotates policy files (check-policy): an estate has none, so scan and
    // evaluate refuse it by name too, before anything is contacted or created.
    let path = dir.path().join("report.sarif");
    let out = scan_at("http://127.0.0.1:1")
        .args(["--format", "sarif", "--output"])
        .arg(&path)
        .output()
        .unwrap();
    assert_usage_error(&out, "--format sarif is for check-policy");
    let out = s3audit()
        .arg("evaluate")
        .arg(&snapshot)
        .args(["--format", "sarif"])
        .output()
        .unwrap();
    let line = assert_usage_error(&out, "--format sarif is for check-policy");
    assert!(line.contains("write table, csv, json"), "{line}");
    assert!(!path.exists());
    // Naming the format is a choice, not an accident: written as asked.
    let path = dir.path().join("report.log");
    let out = s3audit()
        .arg("evaluate")
        .arg(&snapshot)
        .args(["--format", "csv", "--output"])
        .arg(&path)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(common::read(&path).starts_with("rule,status,"));
    // No extension (a device, a FIFO, a descriptor): JSON, as before.
    let path = dir.path().join("report");
    let out = s3audit()
        .arg("evaluate")
        .arg(&snapshot)
        .arg("--output")
        .arg(&path)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(common::read(&path).starts_with('{'));
}

#[test]
fn a_rule_filter_that_names_no_rule_is_a_usage_error() {
    let snapshot = common::repo_root().join("tests/fixtures/readme_estate.json");
    let out = s3audit()
        .arg("evaluate")
        .arg(&snapshot)
        .args(["--rule", "ENC-001,ENC-01"])
        .output()
        .unwrap();
    assert_usage_error(&out, "--rule \"ENC-01\" matches no rule");
    let out = s3audit()
        .arg("evaluate")
        .arg(&snapshot)
        .args(["--status", "failed"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("possible values: fail, error, pass, n/a"),
        "{stderr}"
    );
}

#[test]
fn unknown_framework_catalogue_or_rule_ids_are_usage_errors_listing_the_valid_ones() {
    let snapshot = common::repo_root().join("tests/fixtures/readme_estate.json");
    let out = s3audit()
        .arg("evaluate")
        .arg(&snapshot)
        .args(["--framework", "pci-dss-3.2.1"])
        .output()
        .unwrap();
    let line = assert_usage_error(
        &out,
        "--framework \"pci-dss-3.2.1\" names no framework catalogue",
    );
    assert!(
        line.contains("pci-dss-4.0.1") && line.contains("aws-fsbp"),
        "{line}"
    );
    let out = s3audit()
        .args(["frameworks", "coverage", "cis-6"])
        .output()
        .unwrap();
    let line = assert_usage_error(&out, "\"cis-6\" names no framework catalogue");
    assert!(line.contains("cis-aws-foundations-6.0.0"), "{line}");
    let out = s3audit()
        .args(["rules", "explain", "POL-9"])
        .output()
        .unwrap();
    let line = assert_usage_error(&out, "no rule \"POL-9\"");
    assert!(
        line.contains("POL-001") && line.contains("OBJ-006"),
        "{line}"
    );
    // A snapshot is not a report: said in one line, not a serde trace.
    let out = s3audit()
        .args(["frameworks", "coverage", "aws-fsbp"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert_usage_error(&out, "is not a JSON report of s3audit scan or evaluate");
    let out = s3audit()
        .args([
            "frameworks",
            "coverage",
            "aws-fsbp",
            "/nonexistent/report.json",
        ])
        .output()
        .unwrap();
    assert_usage_error(&out, "cannot read report /nonexistent/report.json");
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
    assert!(
        text.contains("130 or 143"),
        "the interrupt exit codes: {text}"
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
fn object_source_flags_that_contradict_are_usage_errors_before_any_request() {
    // Nothing listens on port 1: a request would fail differently.
    let cases: &[(&[&str], &str)] = &[
        (
            &["--objects-from", "head", "--inventory", "m/manifest.json"],
            "--objects-from head HEADs every bucket's objects, --inventory and --metadata-table count",
        ),
        (
            &[
                "--objects-from",
                "head",
                "--metadata-table",
                "t/metadata/1.metadata.json",
            ],
            "--objects-from head HEADs every bucket's objects, --inventory and --metadata-table count",
        ),
        (
            &[
                "--offline",
                "--metadata-table",
                "s3://t/metadata/1.metadata.json",
            ],
            "--offline makes no AWS call, so it cannot read --metadata-table s3://t/metadata/1.metadata.json",
        ),
        (
            &["--organization", "--metadata-table", "t/m.json"],
            "--inventory and --metadata-table read one account's files",
        ),
        (
            &[
                "--organization",
                "--offline",
                "--inventory",
                "m/manifest.json",
            ],
            "--offline makes no AWS call, --organization/--accounts assume a role",
        ),
        (
            &["--objects-from", "inventory"],
            "--objects-from inventory needs at least one --inventory MANIFEST or --metadata-table",
        ),
        (
            &["--objects-from", "inventory", "--no-objects"],
            "--no-objects not to read them",
        ),
        (
            &[
                "--offline",
                "--inventory",
                "m/manifest.json",
                "--verify-sample",
                "5",
            ],
            "--verify-sample HEADs live objects, --offline makes no AWS call",
        ),
        (
            &["--verify-sample", "5"],
            "--verify-sample checks an S3 Inventory against the live objects: give --inventory",
        ),
        (
            &["--offline"],
            "--offline audits local S3 Inventory reports and metadata tables: give at least one --inventory MANIFEST or --metadata-table",
        ),
        (
            &["--offline", "--inventory", "s3://dest/inv/manifest.json"],
            "--offline makes no AWS call, so it cannot read --inventory s3://dest/inv/manifest.json",
        ),
    ];
    for (args, needle) in cases {
        let out = scan_at("http://127.0.0.1:1").args(*args).output().unwrap();
        assert_usage_error(&out, needle);
    }
    let help = s3audit().args(["scan", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--objects-from <SOURCE>")
            && text.contains("refuses --inventory")
            && text.contains("no AWS call at all")
            && text.contains("--verify-seed <SEED>"),
        "{text}"
    );
}

#[test]
fn completions_and_man_pages_come_from_the_cli_definitions() {
    let run = |args: &[&str]| {
        let out = s3audit().args(args).output().unwrap();
        assert_exit(&out, 0);
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = run(&["completions", "bash"]);
    assert!(
        bash.contains("_s3audit()") && bash.contains("--endpoint-url"),
        "{bash}"
    );
    assert!(
        bash.contains("--show-passes") && bash.contains("check-policy"),
        "{bash}"
    );
    let zsh = run(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef s3audit"), "{zsh}");
    let fish = run(&["completions", "fish"]);
    assert!(fish.contains("complete -c s3audit"), "{fish}");
    let out = s3audit().args(["completions", "tcsh"]).output().unwrap();
    assert_exit(&out, 2);

    let man = run(&["man"]);
    assert!(man.contains("\n.TH s3audit 1 "), "{man}");
    assert!(
        man.contains("\ns3audit\\-scan(1)\n"),
        "subcommands listed: {man}"
    );
    let scan = run(&["man", "scan"]);
    assert!(scan.contains("\n.TH s3audit-scan 1 "), "{scan}");
    for flag in ["\\-\\-endpoint\\-url", "\\-\\-show\\-passes", "\\-\\-quiet"] {
        assert!(scan.contains(flag), "{flag} in s3audit-scan(1): {scan}");
    }
    let out = s3audit().args(["man", "nope"]).output().unwrap();
    assert_usage_error(&out, "no subcommand \"nope\"");
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = s3audit().arg("--version").output().unwrap();
    assert_exit(&out, 0);
    let version = String::from_utf8(out.stdout).unwrap();
    let want = format!("s3audit {}", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&want), "{version}");
    // Built from a git checkout (as the tests are, unless run from a source tarball):
    // the commit, and -dirty when tracked files were modified.
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(common::repo_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(commit) => assert!(
            version == format!("{want} ({commit})\n")
                || version == format!("{want} ({commit}-dirty)\n"),
            "{version} (HEAD is {commit})"
        ),
        None => assert_eq!(version, format!("{want}\n")),
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

/// `s3audit check-policy` on a small policy written into `dir`: a report with no network
/// call, for tests about where reports go.
fn check_policy(dir: &Path) -> Command {
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    )
    .unwrap();
    let mut cmd = s3audit();
    cmd.arg("check-policy")
        .arg(&policy)
        .args(["--bucket", "b", "--format", "json"]);
    cmd
}

fn assert_json_report(text: &[u8]) {
    let report: serde_json::Value = serde_json::from_slice(text)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}): {}", String::from_utf8_lossy(text)));
    assert!(report["findings"].is_array(), "{report}");
}

/// Names in `dir` other than the ones a test made.
fn others_in(dir: &Path, made: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !made.contains(&n.as_str()))
        .collect()
}

#[test]
fn a_fifo_output_is_written_into_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    mkfifo(&fifo);
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let read = std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut text));
        let _ = tx.send(read.map(|_| text));
    });
    let out = check_policy(dir.path())
        .arg("--output")
        .arg(&fifo)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let text = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("no report came through the FIFO")
        .unwrap();
    assert_json_report(&text);
    let meta = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(
        meta.file_type().is_fifo(),
        "the FIFO was replaced: {meta:?}"
    );
    assert_eq!(
        others_in(dir.path(), &["report.fifo", "policy.json"]),
        Vec::<String>::new()
    );
}

/// A character device node for (major, minor) in `dir`, or `fallback` where mknod is not
/// allowed. A private node keeps a broken build from replacing the machine's own device.
fn char_device(dir: &Path, name: &str, major: u32, minor: u32, fallback: &str) -> PathBuf {
    let node = dir.join(name);
    let made = Command::new("mknod")
        .arg(&node)
        .args(["c", &major.to_string(), &minor.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made { node } else { PathBuf::from(fallback) }
}

#[test]
fn a_device_output_is_written_into_and_stays_a_device() {
    let dir = tempfile::tempdir().unwrap();
    let null = char_device(dir.path(), "null", 1, 3, "/dev/null");
    let out = check_policy(dir.path())
        .arg("--output")
        .arg(&null)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let meta = std::fs::symlink_metadata(&null).unwrap();
    assert!(
        meta.file_type().is_char_device(),
        "{} was replaced",
        null.display()
    );

    // A full device: the write error is the answer, one line, and the device stays.
    let full = char_device(dir.path(), "full", 1, 7, "/dev/full");
    let out = check_policy(dir.path())
        .arg("--output")
        .arg(&full)
        .output()
        .unwrap();
    assert_usage_error(&out, &format!("cannot write {}", full.display()));
    let meta = std::fs::symlink_metadata(&full).unwrap();
    assert!(
        meta.file_type().is_char_device(),
        "{} was replaced",
        full.display()
    );
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

#[test]
fn dev_stdout_as_output_writes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    // A link of our own to this process's stdout, as /dev/stdout is: replacing it would
    // harm nothing but this test.
    let link = dir.path().join("out.json");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let out = check_policy(dir.path())
        .arg("--output")
        .arg(&link)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_json_report(&out.stdout);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    let before = std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type();
    let out = check_policy(dir.path())
        .args(["--output", "/dev/stdout"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_json_report(&out.stdout);
    assert_eq!(
        std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type(),
        before
    );

    // Stdout redirected to a file: the report goes into that file, through the descriptor.
    let redirected = dir.path().join("stdout.json");
    let file = std::fs::File::create(&redirected).unwrap();
    let inode = file.metadata().unwrap().ino();
    let out = check_policy(dir.path())
        .args(["--output", "/dev/stdout"])
        .stdout(file)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_json_report(&std::fs::read(&redirected).unwrap());
    assert_eq!(std::fs::metadata(&redirected).unwrap().ino(), inode);
    assert_eq!(
        std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type(),
        before
    );
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

#[test]
fn a_descriptor_path_writes_into_the_file_the_shell_opened() {
    let dir = tempfile::tempdir().unwrap();
    check_policy(dir.path()); // writes policy.json
    let log = dir.path().join("log.json");
    std::fs::write(&log, "earlier\n").unwrap();
    let inode = std::fs::metadata(&log).unwrap().ino();
    // `--output /dev/fd/3 3>>log.json`: appended to what the shell opened, not replaced.
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 3>>log.json")
        .arg(env!("CARGO_BIN_EXE_s3audit"))
        .args([
            "check-policy",
            "policy.json",
            "--bucket",
            "b",
            "--format",
            "json",
        ])
        .args(["--output", "/dev/fd/3"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let text = std::fs::read(&log).unwrap();
    let rest = text
        .strip_prefix(b"earlier\n".as_slice())
        .expect("the earlier line is kept");
    assert_json_report(rest);
    assert_eq!(
        std::fs::metadata(&log).unwrap().ino(),
        inode,
        "log.json was replaced"
    );
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

#[test]
fn a_symlink_output_is_followed_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("report.json"), "old report\n").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink("real/report.json", &link).unwrap();
    let out = check_policy(dir.path())
        .arg("--output")
        .arg(&link)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("real/report.json")
    );
    assert_json_report(&std::fs::read(real.join("report.json")).unwrap());

    // A dangling link gets its target created, as `>` in a shell would.
    let dangling = dir.path().join("new.json");
    std::os::unix::fs::symlink("real/new.json", &dangling).unwrap();
    let out = check_policy(dir.path())
        .arg("--output")
        .arg(&dangling)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_json_report(&std::fs::read(real.join("new.json")).unwrap());

    // ... unless there is nowhere to create it.
    let nowhere = dir.path().join("nowhere.json");
    std::os::unix::fs::symlink("missing-dir/report.json", &nowhere).unwrap();
    let out = check_policy(dir.path())
        .arg("--output")
        .arg(&nowhere)
        .output()
        .unwrap();
    assert_usage_error(&out, "the directory does not exist");
    assert!(
        std::fs::symlink_metadata(&nowhere)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    assert_eq!(temp_files(&real), Vec::<String>::new());
}

/// Whether the tests run as root (CI does).
fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

#[test]
fn a_replaced_report_keeps_its_permissions_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    std::fs::write(&report, "old report\n").unwrap();
    std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o640)).unwrap();
    let root = running_as_root();
    if root {
        std::os::unix::fs::chown(&report, Some(65534), Some(65534)).unwrap();
    }
    let out = check_policy(dir.path())
        .arg("--output")
        .arg(&report)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_json_report(&std::fs::read(&report).unwrap());
    let meta = std::fs::metadata(&report).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o640, "a private report was widened");
    if root {
        assert_eq!(
            (meta.uid(), meta.gid()),
            (65534, 65534),
            "the owner changed"
        );
    }
}

#[test]
fn a_report_its_user_may_not_write_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    // The directory is writable by anyone, so only the file's own mode protects it.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let report = dir.path().join("report.json");
    std::fs::write(&report, "keep me\n").unwrap();
    std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o444)).unwrap();
    // Root may write anything; the check is made as an ordinary user.
    let mut cmd = if running_as_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_s3audit"));
        cmd
    } else {
        Command::new(env!("CARGO_BIN_EXE_s3audit"))
    };
    let policy = dir.path().join("policy.json");
    check_policy(dir.path()); // writes policy.json
    let out = cmd
        .arg("check-policy")
        .arg(&policy)
        .args(["--bucket", "b", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert_usage_error(
        &out,
        &format!("cannot write {}: permission denied", report.display()),
    );
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "keep me\n");
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

#[test]
fn an_output_path_that_can_only_be_a_directory_fails_before_scanning() {
    let dir = tempfile::tempdir().unwrap();
    for path in ["new-dir/", "report.json/.", "."] {
        let out = scan_at("http://127.0.0.1:1")
            .current_dir(dir.path())
            .args(["--output", path])
            .output()
            .unwrap();
        assert_usage_error(&out, &format!("cannot write {path}: it"));
    }
    let out = scan_at("http://127.0.0.1:1")
        .current_dir(dir.path())
        .args(["--save-snapshot", "new-dir/"])
        .output()
        .unwrap();
    assert_usage_error(&out, "cannot write new-dir/: it names a directory");
    assert_eq!(others_in(dir.path(), &[]), Vec::<String>::new());
}

#[test]
fn two_outputs_naming_one_file_are_refused_before_scanning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::os::unix::fs::symlink("a.json", dir.path().join("link.json")).unwrap();
    let cases: [&[&str]; 5] = [
        &["--output", "a.json", "--save-snapshot", "a.json"],
        &["--output", "a.json", "--save-snapshot", "./a.json"],
        &["--output", "a.json", "--objects-csv", "sub/../a.json"],
        &["--save-snapshot", "link.json", "--objects-csv", "a.json"],
        // No --output: the report goes to stdout.
        &["--objects-csv", "/dev/stdout"],
    ];
    for args in cases {
        let out = scan_at("http://127.0.0.1:1")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        let line = assert_usage_error(&out, "are the same file");
        assert!(!line.contains("cannot reach"), "{line}");
    }
    // An existing file, named through a symlink and by an absolute path.
    let existing = dir.path().join("a.json");
    std::fs::write(&existing, "old\n").unwrap();
    let out = scan_at("http://127.0.0.1:1")
        .current_dir(dir.path())
        .args(["--output", "link.json", "--save-snapshot"])
        .arg(&existing)
        .output()
        .unwrap();
    assert_usage_error(&out, "are the same file");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "old\n");
    assert_eq!(
        others_in(dir.path(), &["sub", "link.json", "a.json"]),
        Vec::<String>::new()
    );

    // The null device keeps nothing: any number of outputs may go there. The scan then
    // runs (and fails on the endpoint).
    let out = scan_at("http://127.0.0.1:1")
        .args(["--output", "/dev/null", "--save-snapshot", "/dev/null"])
        .args(["--max-attempts", "1"])
        .output()
        .unwrap();
    assert_usage_error(&out, "cannot reach");
}

#[test]
fn an_output_naming_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("estate.json");
    std::fs::write(&snapshot, "{\"snapshot_version\": 1}").unwrap();
    let out = s3audit()
        .current_dir(dir.path())
        .args(["evaluate", "estate.json", "--output", "./estate.json"])
        .output()
        .unwrap();
    assert_usage_error(&out, "--output ./estate.json is the snapshot");
    assert_eq!(
        std::fs::read_to_string(&snapshot).unwrap(),
        "{\"snapshot_version\": 1}"
    );

    let cfg = dir.path().join("s3audit.toml");
    std::fs::write(&cfg, "allowed_kms_keys = []\n").unwrap();
    let out = scan_at("http://127.0.0.1:1")
        .arg("--config")
        .arg(&cfg)
        .arg("--save-snapshot")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_usage_error(&out, "is --config");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "allowed_kms_keys = []\n"
    );
}

/// Starts a scan of a bucket slow enough to be interrupted, with earlier outputs at every
/// path it writes; sends `signal` once objects are being read; checks that it exits with
/// `code`, says so in one line, and leaves the earlier files as they were.
async fn interrupt_mid_scan(signal: &'static str, code: i32) {
    let server = fakes3::start(
        Config::new(1)
            .bucket(BucketSpec::new("slow", 200_000))
            .latency(Latency {
                base_ms: 50,
                jitter_ms: 0,
            }),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let earlier = [
        ("report.json", "an earlier report\n"),
        ("estate.json", "an earlier snapshot\n"),
        ("objects.csv", "an,earlier,inventory\n"),
    ];
    for (name, text) in earlier {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let child = scan_at(&server.endpoint())
        .current_dir(dir.path())
        .args(["--output", "report.json", "--save-snapshot", "estate.json"])
        .args(["--objects-csv", "objects.csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-scan: objects are being read, and the temporary files exist.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while server.stats().op("HeadObject") < 100 || temp_files(dir.path()).len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scan never got to the objects"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send_signal(&child, signal);
    let out =
        tokio::task::spawn_blocking(move || wait_with_timeout(child, Duration::from_secs(60)))
            .await
            .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [format!(
            "s3audit: scan interrupted by SIG{signal}: nothing was written"
        )],
    );
    assert!(out.stdout.is_empty());
    for (name, text) in earlier {
        assert_eq!(
            std::fs::read_to_string(dir.path().join(name)).unwrap(),
            text,
            "{name} changed"
        );
    }
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_scan_keeps_earlier_outputs_and_exits_130() {
    interrupt_mid_scan("INT", 130).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_scan_keeps_earlier_outputs_and_exits_143() {
    interrupt_mid_scan("TERM", 143).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_while_the_report_is_written_leaves_no_temp_files() {
    // Enough buckets for a report far larger than a pipe holds (~20 KB of JSON each).
    let mut config = Config::new(2);
    for i in 0..60 {
        config = config.bucket(BucketSpec::new(format!("render-{i:03}"), 1));
    }
    let server = fakes3::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    mkfifo(&fifo);
    let earlier = [
        ("estate.json", "an earlier snapshot\n"),
        ("objects.csv", "an,earlier,inventory\n"),
    ];
    for (name, text) in earlier {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let child = scan_at(&server.endpoint())
        .current_dir(dir.path())
        .args(["--format", "json", "--output", "report.fifo"])
        .args([
            "--save-snapshot",
            "estate.json",
            "--objects-csv",
            "objects.csv",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening blocks until s3audit has opened its end; the first byte means the scan is
    // over and the report is being written. Reading no more then holds it mid-report,
    // with the snapshot and the inventory written to their temporary files.
    let path = fifo.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = [0u8; 1];
        let opened =
            std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut first).map(|_| f));
        let _ = tx.send(opened);
    });
    let mut reader = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("s3audit never wrote into the FIFO")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(temp_files(dir.path()).len(), 2, "the outputs are pending");
    send_signal(&child, "INT");
    // Time for the signal to be noted before the report may go on.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = tokio::task::spawn_blocking(move || {
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        wait_with_timeout(child, Duration::from_secs(60))
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "s3audit: scan interrupted by SIGINT: no file was written or replaced; what went to report.fifo is incomplete"
        ],
    );
    for (name, text) in earlier {
        assert_eq!(
            std::fs::read_to_string(dir.path().join(name)).unwrap(),
            text,
            "{name} changed"
        );
    }
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    server.shutdown().await;
}

#[test]
fn a_signal_while_blocked_on_a_fifo_nobody_reads_still_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.json"), "an earlier report\n").unwrap();
    let fifo = dir.path().join("estate.fifo");
    mkfifo(&fifo);
    // Opening a FIFO for writing waits for a reader, and no reader comes: the run is
    // stuck where no cooperative stop can reach it, with the report's temporary file
    // already made.
    let child = scan_at("http://127.0.0.1:1")
        .current_dir(dir.path())
        .args(["--output", "report.json", "--save-snapshot", "estate.fifo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while temp_files(dir.path()).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no temporary file");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    send_signal(&child, "INT");
    let out = wait_with_timeout(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        ["s3audit: scan interrupted by SIGINT: nothing was written"]
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("report.json")).unwrap(),
        "an earlier report\n"
    );
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

/// `s3audit schema` prints the committed `reports/schema.json` (both generated from the
/// report's types), and a report of this build validates against what it prints.
#[test]
fn the_schema_command_prints_the_schema_reports_validate_against() {
    let out = s3audit().args(["schema", "report"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed = String::from_utf8(out.stdout).unwrap();
    let committed =
        std::fs::read_to_string(common::repo_root().join("reports/schema.json")).unwrap();
    assert_eq!(printed, committed);
    let schema: serde_json::Value = serde_json::from_str(&printed).unwrap();
    let report = s3audit()
        .arg("evaluate")
        .arg(common::repo_root().join("tests/fixtures/readme_estate.json"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is closed where it matters: a finding with a misspelt member fails.
    let mut bad = report.clone();
    bad["findings"][0]["evidense"] = serde_json::json!({});
    assert!(!validator.is_valid(&bad));
}

/// `s3audit schema drift` is the committed `reports/drift-schema.json`, and `diff`'s JSON
/// validates against it.
#[test]
fn diff_json_validates_against_the_drift_schema() {
    let out = s3audit().args(["schema", "drift"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed = String::from_utf8(out.stdout).unwrap();
    let committed =
        std::fs::read_to_string(common::repo_root().join("reports/drift-schema.json")).unwrap();
    assert_eq!(printed, committed);
    let schema: serde_json::Value = serde_json::from_str(&printed).unwrap();
    let estate = common::repo_root().join("tests/fixtures/snapshot_estate.json");
    let readme = common::repo_root().join("tests/fixtures/readme_estate.json");
    let drift = s3audit()
        .arg("diff")
        .arg(&readme)
        .arg(&estate)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(drift.status.code(), Some(1), "a regression between the two");
    let drift: serde_json::Value = serde_json::from_slice(&drift.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&drift)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(
        !drift["findings"]["new_failures"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// `scan --metadata-table` on a broken table: one line naming the file, exit 2, no report.
/// Each case writes a fresh table with scripts/iceberg_fixture.py and breaks it.
#[test]
fn a_broken_metadata_table_stops_the_scan_with_one_line_naming_the_file() {
    let moto = moto();
    type Break = fn(&Path) -> String;
    /// Every file of the table directory whose name ends with `suffix`.
    fn files(table: &Path, suffix: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for sub in ["data", "metadata"] {
            for e in std::fs::read_dir(table.join(sub)).unwrap() {
                let p = e.unwrap().path();
                if p.to_string_lossy().ends_with(suffix) {
                    out.push(p);
                }
            }
        }
        assert!(!out.is_empty(), "no {suffix} files");
        out
    }
    let cases: Vec<(&str, Break, &str)> = vec![
        (
            "no metadata file",
            |_| "/nonexistent/metadata/00001-x.metadata.json".into(),
            "metadata table /nonexistent/metadata/00001-x.metadata.json: No such file",
        ),
        (
            "data files missing",
            |t| {
                files(t, ".parquet")
                    .iter()
                    .for_each(|p| std::fs::remove_file(p).unwrap());
                String::new()
            },
            ".parquet: missing: not found as written nor under the table's directory",
        ),
        (
            "manifests missing",
            |t| {
                files(t, "-m0.avro")
                    .iter()
                    .for_each(|p| std::fs::remove_file(p).unwrap());
                String::new()
            },
            "-m0.avro: missing",
        ),
        (
            "truncated manifests",
            |t| {
                for p in files(t, "-m0.avro") {
                    let bytes = std::fs::read(&p).unwrap();
                    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
                }
                String::new()
            },
            "-m0.avro: not a readable Avro file (truncated?)",
        ),
        (
            "truncated data files",
            |t| {
                for p in files(t, ".parquet") {
                    let bytes = std::fs::read(&p).unwrap();
                    std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
                }
                String::new()
            },
            "bytes, the manifest says",
        ),
        (
            "corrupt Parquet footers",
            |t| {
                for p in files(t, ".parquet") {
                    let mut bytes = std::fs::read(&p).unwrap();
                    let n = bytes.len();
                    bytes[n - 12..].fill(0);
                    std::fs::write(&p, &bytes).unwrap();
                }
                String::new()
            },
            ".parquet: not a readable Parquet file",
        ),
        (
            "no kms_key_arn column",
            |t| {
                let mut newest = files(t, ".metadata.json");
                newest.sort();
                let path = newest.last().unwrap();
                let text = std::fs::read_to_string(path).unwrap();
                std::fs::write(path, text.replace("\"kms_key_arn\"", "\"kms_key\"")).unwrap();
                String::new()
            },
            "no kms_key_arn column: not an S3 Metadata live inventory table",
        ),
        (
            "a bucket the scan does not read",
            |_| String::new(),
            "its bucket not-in-account is not one this scan reads",
        ),
        (
            "an S3 Tables table ARN, not its bucket's",
            |_| "arn:aws:s3tables:us-east-1:111122223333:bucket/aws-s3/table/0f1e".into(),
            "not an S3 Tables table bucket ARN (arn:PARTITION:s3tables:REGION:ACCOUNT:bucket/NAME",
        ),
        (
            "a table bucket that does not exist",
            |_| "arn:aws:s3tables:us-east-1:123456789012:bucket/no-such".into(),
            "metadata table bucket arn:aws:s3tables:us-east-1:123456789012:bucket/no-such: ListNamespaces:",
        ),
    ];
    for (what, break_it, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let written = common::iceberg_table(dir.path(), "not-in-account", "arn:a", "arn:b");
        let table = dir.path().join("warehouse/b_not_in_account/inventory");
        let given = Some(break_it(&table))
            .filter(|s| !s.is_empty())
            .unwrap_or(written);
        let out = scan_at(&moto.endpoint)
            .args(["--format", "json", "--metadata-table", &given])
            .output()
            .unwrap();
        let line = assert_usage_error(&out, says);
        assert!(!line.contains("panicked"), "{what}: {line}");
    }
    // Without objects there is nothing to count from a table.
    let out = scan_at(&moto.endpoint)
        .args(["--no-objects", "--metadata-table", "/x/m.metadata.json"])
        .output()
        .unwrap();
    assert_usage_error(&out, "--metadata-table counts objects: drop --no-objects");
}

/// `--accounts FILE` and the role options are checked before any request: a malformed
/// line, a template without {account}, role options without an account source and
/// `--bucket` with many accounts are one line and exit 2 (no server is contacted: the
/// endpoint is unreachable).
#[test]
fn bad_account_options_are_usage_errors_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.txt");
    std::fs::write(&file, "111122223333\n11112222333x,typo\n").unwrap();
    let scan = |args: &[&str]| {
        common::scan_at("http://127.0.0.1:9")
            .args(args)
            .output()
            .unwrap()
    };
    let line = assert_usage_error(
        &scan(&["--accounts", file.to_str().unwrap()]),
        "line 2: \"11112222333x,typo\" is not a 12-digit account id",
    );
    assert!(line.contains("accounts.txt"), "{line}");
    std::fs::write(&file, "111122223333\n").unwrap();
    assert_usage_error(
        &scan(&[
            "--accounts",
            file.to_str().unwrap(),
            "--role-arn-template",
            "arn:aws:iam::111122223333:role/Audit",
        ]),
        "has no {account}",
    );
    assert_usage_error(
        &scan(&["--role-name", "Audit"]),
        "need --organization or --accounts FILE",
    );
    assert_usage_error(
        &scan(&["--accounts", file.to_str().unwrap(), "--bucket", "b"]),
        "--bucket names one account's buckets",
    );
    assert_usage_error(
        &scan(&["--accounts", dir.path().join("missing").to_str().unwrap()]),
        "cannot read --accounts",
    );
}
