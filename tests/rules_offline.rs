//! The rules on synthetic snapshots, offline: what could not be read never passes, and
//! the verdicts that depend on facts the demo estate cannot show (denied reads, allowed-key
//! lists, sampled or cut-short listings) are right.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use s3audit::config::RuleConfig;
use s3audit::model::*;
use s3audit::rules::evaluate;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1111";

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},
 {"Sid":"DenyOutdatedTls","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"NumericLessThan":{"s3:TlsVersion":1.2}}},
 {"Sid":"DenyNonKmsHeaders","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"false"},"StringNotEquals":{"s3:x-amz-server-side-encryption":["aws:kms","aws:kms:dsse"]}}},
 {"Sid":"DenyOtherKeys","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"s3:x-amz-server-side-encryption":["aws:kms","aws:kms:dsse"]},"StringNotEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:us-east-1:111122223333:key/1111"}}}]}"#;

fn key_info(state: KeyState, rotation: Observed<bool>) -> KeyInfo {
    KeyInfo {
        arn: KEY.into(),
        key_id: "1111".into(),
        account: Some("111122223333".into()),
        state,
        manager: KeyManager::Customer,
        spec: "SYMMETRIC_DEFAULT".into(),
        origin: "AWS_KMS".into(),
        deletion_date: None,
        rotation,
        aliases: Observed::Present(vec!["alias/app".into()]),
        // KMS's default key policy: the key's account only (root delegation).
        policy: Some(Observed::Present(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#
                .into(),
        )),
    }
}

fn kms_bucket() -> BucketSnapshot {
    BucketSnapshot {
        account: None,
        name: "b".into(),
        region: Observed::Present("us-east-1".into()),
        encryption: Observed::Present(DefaultEncryption {
            rules: vec![EncryptionRule {
                algorithm: SseAlgorithm::AwsKms,
                kms_key_id: Some(KEY.into()),
                kms_key: Some(KEY.into()),
                bucket_key_enabled: Some(true),
                blocked_encryption_types: Some(vec!["SSE-C".into()]),
            }],
        }),
        // TLS-only, TLS >= 1.2, uploads KMS-only and pinned to the default key.
        policy: Observed::Present(POLICY.to_string()),
        versioning: Observed::Present(Versioning::Enabled),
        public_access_block: Observed::Absent,
        objects: Some(ObjectSummary {
            current: ModeCounts {
                total: 2,
                sse_kms: 2,
                ..ModeCounts::default()
            },
            by_key: BTreeMap::from([(KEY.to_string(), 2)]),
            ..ObjectSummary::default()
        }),
        skipped: None,
    }
}

fn estate(bucket: BucketSnapshot, key: Observed<KeyInfo>) -> Estate {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    Estate {
        snapshot_version: SNAPSHOT_VERSION,
        scan: ScanInfo {
            accounts: Vec::new(),
            tool_version: "test".into(),
            started_at: now,
            finished_at: now,
            account: None,
            principal: None,
            endpoint: None,
            region: "us-east-1".into(),
            objects: None,
            gaps: Vec::new(),
            scope: None,
            command_line: None,
            tool_commit: None,
        },
        buckets: vec![bucket],
        keys: BTreeMap::from([(
            KEY.to_string(),
            KeyRecord {
                id: KEY.into(),
                region: "us-east-1".into(),
                references: vec![KEY.into()],
                info: key,
            },
        )]),
    }
}

fn statuses(e: &Estate, config: &RuleConfig) -> BTreeMap<String, Status> {
    evaluate(e, config)
        .into_iter()
        .map(|f| (f.rule.to_string(), f.status))
        .collect()
}

#[test]
fn a_healthy_kms_bucket_passes_every_rule() {
    let e = estate(
        kms_bucket(),
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    for (rule, status) in statuses(&e, &RuleConfig::default()) {
        // OBJ-007/008 judge inventory counts (their age, a live sample); HEADed objects
        // were read live.
        let expected = if rule == "OBJ-007" || rule == "OBJ-008" {
            Status::NotApplicable
        } else {
            Status::Pass
        };
        assert_eq!(status, expected, "{rule}");
    }
    assert!(e.is_complete());
}

#[test]
fn denied_default_encryption_is_an_error_for_every_rule_that_reads_it() {
    let mut b = kms_bucket();
    b.encryption = Observed::Denied {
        reason: "AccessDenied (HTTP 403)".into(),
    };
    let e = estate(
        b,
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    let s = statuses(&e, &RuleConfig::default());
    for rule in [
        "ENC-001", "ENC-002", "ENC-003", "ENC-004", "ENC-005", "KMS-001", "KMS-002", "KMS-003",
    ] {
        assert_eq!(s[rule], Status::Error, "{rule}");
    }
    assert!(!e.is_complete());
    let f = evaluate(&e, &RuleConfig::default())
        .into_iter()
        .find(|f| f.rule == "ENC-001")
        .unwrap();
    assert!(
        f.message.contains("AccessDenied"),
        "the reason is carried: {}",
        f.message
    );
}

#[test]
fn undescribable_key_is_an_error_not_a_pass() {
    let e = estate(
        kms_bucket(),
        Observed::Failed {
            reason: "ThrottlingException".into(),
        },
    );
    let s = statuses(&e, &RuleConfig::default());
    assert_eq!(s["ENC-003"], Status::Error);
    assert_eq!(s["KMS-001"], Status::Error);
    assert_eq!(s["OBJ-004"], Status::Error);
    // Its key policy is unknown too: neither skipped nor "no key to judge".
    assert_eq!(s["KMS-004"], Status::Error);
    assert_eq!(s["KMS-005"], Status::Error);
}

#[test]
fn rotation_unknown_is_an_error_and_rotation_off_fails() {
    let unknown = estate(
        kms_bucket(),
        Observed::Present(key_info(
            KeyState::Enabled,
            Observed::Denied {
                reason: "AccessDenied".into(),
            },
        )),
    );
    assert_eq!(
        statuses(&unknown, &RuleConfig::default())["KMS-002"],
        Status::Error
    );
    let off = estate(
        kms_bucket(),
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(false))),
    );
    assert_eq!(
        statuses(&off, &RuleConfig::default())["KMS-002"],
        Status::Fail
    );
}

#[test]
fn allowed_key_list_is_enforced_by_arn_and_by_alias() {
    let e = estate(
        kms_bucket(),
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    let other = RuleConfig {
        allowed_kms_keys: vec!["arn:aws:kms:us-east-1:111122223333:key/9999".into()],
        ..RuleConfig::default()
    };
    let s = statuses(&e, &other);
    assert_eq!(s["ENC-003"], Status::Fail);
    assert_eq!(
        s["OBJ-003"],
        Status::Pass,
        "objects under the default key are expected"
    );
    let by_alias = RuleConfig {
        allowed_kms_keys: vec!["alias/app".into()],
        ..RuleConfig::default()
    };
    assert_eq!(statuses(&e, &by_alias)["ENC-003"], Status::Pass);
}

#[test]
fn cut_short_listing_cannot_prove_a_negative() {
    let mut b = kms_bucket();
    b.objects.as_mut().unwrap().listing_error = Some("listing stopped: SlowDown (HTTP 503)".into());
    let e = estate(
        b,
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    let s = statuses(&e, &RuleConfig::default());
    for rule in ["OBJ-001", "OBJ-002", "OBJ-005", "OBJ-006"] {
        assert_eq!(s[rule], Status::Error, "{rule}");
    }
}

#[test]
fn required_mode_is_configurable() {
    let mut b = kms_bucket();
    let objects = b.objects.as_mut().unwrap();
    objects.current.sse_kms = 1;
    objects.current.sse_s3 = 1;
    let e = estate(
        b,
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    assert_eq!(
        statuses(&e, &RuleConfig::default())["OBJ-002"],
        Status::Fail
    );
    let lenient = RuleConfig {
        required_object_mode: SseMode::SseS3,
        ..RuleConfig::default()
    };
    assert_eq!(statuses(&e, &lenient)["OBJ-002"], Status::Pass);
}

fn unknown<T: Clone + std::fmt::Debug + 'static>() -> impl Strategy<Value = Observed<T>> {
    prop_oneof![
        Just(Observed::Denied {
            reason: "AccessDenied".into()
        }),
        Just(Observed::Failed {
            reason: "SlowDown".into()
        }),
    ]
}

proptest! {
    /// With every bucket fact unreadable and the key undescribable, nothing can pass.
    #[test]
    fn nothing_passes_when_nothing_could_be_read(
        region in unknown::<String>(),
        encryption in unknown::<DefaultEncryption>(),
        policy in unknown::<String>(),
        key in unknown::<KeyInfo>(),
        listing in proptest::option::of("[a-z ]{1,20}"),
        unreadable in 1u64..5,
    ) {
        let mut b = kms_bucket();
        b.region = region;
        b.encryption = encryption;
        b.policy = policy;
        let objects = b.objects.as_mut().unwrap();
        objects.current.unreadable = unreadable;
        objects.current.total += unreadable;
        objects.listing_error = listing;
        let e = estate(b, key);
        prop_assert!(!e.is_complete());
        for f in evaluate(&e, &RuleConfig::default()) {
            prop_assert_ne!(f.status, Status::Pass, "{} passed on unknown facts: {}", f.rule, f.message);
        }
    }
}

/// Exit codes (DESIGN.md): 1 for a failure at or above --fail-on, else 3 when anything
/// could not be read, else 0.
#[test]
fn exit_codes_follow_fail_on_then_completeness() {
    use s3audit::app::{EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, exit_code};
    use s3audit::report::Report;

    let healthy = estate(
        kms_bucket(),
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    let report = |e: &Estate| Report::new(e, evaluate(e, &RuleConfig::default()));
    assert_eq!(exit_code(&report(&healthy), Severity::Low), EXIT_OK);

    // Rotation off: KMS-002 fails at medium.
    let medium = estate(
        kms_bucket(),
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(false))),
    );
    assert_eq!(exit_code(&report(&medium), Severity::High), EXIT_OK);
    assert_eq!(exit_code(&report(&medium), Severity::Medium), EXIT_FINDINGS);

    // Rotation unreadable: an error finding and nothing failing means incomplete.
    let unknown = estate(
        kms_bucket(),
        Observed::Present(key_info(
            KeyState::Enabled,
            Observed::Denied {
                reason: "AccessDenied".into(),
            },
        )),
    );
    assert_eq!(exit_code(&report(&unknown), Severity::Low), EXIT_INCOMPLETE);
}

/// Names, policies and messages from a hostile endpoint, as saved in a snapshot: window
/// title (OSC), clear screen (CSI), BEL, CR, a right-to-left override, and formulas.
const TITLE: &str = "\x1b]0;pwned\x07";
const CLEAR: &str = "\x1b[2J";
const HYPERLINK: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";

/// Three buckets whose names start a formula and carry terminal controls; unreadable
/// settings whose reasons (server messages) do the same; a policy that is not JSON.
fn hostile_estate() -> Estate {
    let mut a = kms_bucket();
    a.name = format!("=1+1{TITLE}");
    a.encryption = Observed::Denied {
        reason: format!("+cmd|' /C calc'!A0{CLEAR}\r{HYPERLINK}"),
    };
    let mut b = kms_bucket();
    b.name = "-2+3\r\u{202e}gpj.exe".into();
    b.policy = Observed::Present(format!("@SUM(1){CLEAR} is not JSON"));
    let mut c = kms_bucket();
    c.name = format!("@SUM(1){CLEAR}");
    c.policy = Observed::Denied {
        reason: format!("{HYPERLINK}{TITLE}\u{202e}"),
    };
    c.objects.as_mut().unwrap().listing_error = Some(format!("-2+3{TITLE}"));
    let mut info = key_info(KeyState::Enabled, Observed::Present(true));
    info.aliases = Observed::Present(vec![format!("alias/{CLEAR}@SUM(1)")]);
    let mut e = estate(a, Observed::Present(info));
    e.buckets.extend([b, c]);
    e
}

/// `text` with every run of whitespace, line breaks included, made one space: what a
/// wrapped line says, wherever the width broke it.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s3audit evaluate SNAPSHOT --format FORMAT` on `estate`: the real binary's stdout.
fn evaluate_with_binary(estate: &Estate, format: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("estate.json");
    std::fs::write(&snapshot, serde_json::to_vec(estate).unwrap()).unwrap();
    let out = common::s3audit()
        .args(["evaluate", snapshot.to_str().unwrap(), "--format", format])
        .output()
        .expect("run s3audit");
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{format}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 report")
}

#[test]
fn hostile_names_are_shown_in_the_table_never_obeyed() {
    let out = evaluate_with_binary(&hostile_estate(), "table");
    for raw in ['\x1b', '\x07', '\r', '\u{202e}'] {
        assert!(!out.contains(raw), "raw {raw:?} in the table:\n{out}");
    }
    for shown in [
        r"=1+1\x1b]0;pwned\x07",
        r"-2+3\r\u{202e}gpj.exe",
        r"@SUM(1)\x1b[2J",
        r"calc'!A0\x1b[2J\r=HYPERLINK",
        r#"evil.example","x")\x1b]0;pwned\x07\u{202e}"#,
    ] {
        assert!(
            out.contains(shown),
            "{shown} not shown in the table:\n{out}"
        );
    }
    // The summary is wrapped to the width like the rest of the view.
    assert!(
        one_line(&out).contains("scan INCOMPLETE (see error findings and the gaps below)"),
        "{out}"
    );
    // The gaps name the hostile bucket, escaped like everything else.
    let gaps: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("  not covered: "))
        .collect();
    assert!(!gaps.is_empty(), "{out}");
    assert!(gaps.iter().all(|l| !l.contains('\x1b')), "{gaps:?}");
}

#[test]
fn hostile_names_in_the_csv_start_no_formula_and_carry_no_control() {
    let out = evaluate_with_binary(&hostile_estate(), "csv");
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let header = rdr.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert!(rows.len() > 20, "{out}");
    for row in &rows {
        for (name, cell) in header.iter().zip(row.iter()) {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{name} starts a formula: {cell:?}"
            );
            // Only the remediation keeps line feeds (a policy to paste).
            let raw = |c: char| c.is_control() && !(name == "remediation" && c == '\n');
            assert!(!cell.contains(raw), "{name} carries a control: {cell:?}");
            assert!(!cell.contains('\u{202e}'), "{name}: {cell:?}");
        }
    }
    let buckets: std::collections::BTreeSet<&str> = rows.iter().map(|r| &r[3]).collect();
    assert_eq!(
        buckets,
        [
            r"'-2+3\r\u{202e}gpj.exe",
            r"'=1+1\x1b]0;pwned\x07",
            r"'@SUM(1)\x1b[2J",
        ]
        .into(),
    );
    let messages: Vec<&str> = rows.iter().map(|r| &r[5]).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains(r"calc'!A0\x1b[2J\r=HYPERLINK")),
        "{messages:#?}"
    );
}

#[test]
fn hostile_names_in_the_json_are_exact() {
    let estate = hostile_estate();
    let out = evaluate_with_binary(&estate, "json");
    // serde_json writes control characters as \u escapes: none reaches stdout raw.
    assert!(!out.contains(['\x1b', '\x07', '\r']), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = estate.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, expected);
    let findings = report["findings"].as_array().unwrap();
    for name in expected {
        assert!(
            findings.iter().any(|f| f["bucket"] == name),
            "no finding for {name:?}"
        );
    }
    let reason = format!("+cmd|' /C calc'!A0{CLEAR}\r{HYPERLINK}");
    assert!(
        findings
            .iter()
            .any(|f| f["message"].as_str().unwrap().ends_with(&reason)),
        "the server's message, exactly: {out}"
    );
    let policy_reason = format!("{HYPERLINK}{TITLE}\u{202e}");
    assert!(
        findings
            .iter()
            .any(|f| f["evidence"]["reason"] == policy_reason.as_str()),
        "{out}"
    );
}

#[test]
fn a_hostile_string_in_a_fatal_error_is_shown_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join(format!("{TITLE}\r{CLEAR}\n@estate.json"));
    let out = common::s3audit()
        .arg("evaluate")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains(['\x1b', '\x07', '\r']), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains(r"\x1b]0;pwned\x07\r\x1b[2J\n@estate.json"),
        "{stderr:?}"
    );
}

// The terminal view, filters and what a run says on stderr, on a saved snapshot of two
// demo buckets (`s3audit scan --bucket demo-kms-good --bucket demo-kms-pending-deletion
// --save-snapshot` against scripts/seed_demo.py's estate): 10 fail, 31 pass, 5 n/a.

const README_FIXTURE: &str = "tests/fixtures/readme_estate.json";

fn fixture() -> String {
    common::repo_root()
        .join(README_FIXTURE)
        .to_string_lossy()
        .into_owned()
}

/// `s3audit evaluate FIXTURE ARGS...` with `COLUMNS` as given (none: unset).
fn evaluate_fixture(columns: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = common::s3audit();
    if let Some(columns) = columns {
        cmd.env("COLUMNS", columns);
    }
    let out = cmd
        .arg("evaluate")
        .arg(fixture())
        .args(args)
        .output()
        .expect("run s3audit");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

/// The README's example block: the text between the marker and its closing fence, and
/// the README around it.
fn readme_example(readme: &str) -> (usize, usize) {
    const MARKER: &str = "<!-- example output: checked by tests/rules_offline.rs";
    let marker = readme
        .find(MARKER)
        .expect("README.md has the example marker");
    let open = marker + readme[marker..].find("```text\n").expect("a ```text fence") + 8;
    let close = open + readme[open..].find("\n```\n").expect("a closing fence") + 1;
    (open, close)
}

/// The README's example output cannot drift from what s3audit prints: the block after
/// the marker is the command line and then exactly the table this fixture renders at 80
/// columns. `S3AUDIT_UPDATE_README=1 cargo test --test rules_offline readme` rewrites it.
#[test]
fn the_readme_example_is_what_the_table_prints() {
    let path = common::repo_root().join("README.md");
    let readme = common::read(&path);
    let (open, close) = readme_example(&readme);
    let block = &readme[open..close];
    let (command, shown) = block.split_once('\n').expect("a command line, then output");
    assert!(
        command.starts_with("$ s3audit scan ")
            && command.contains("--bucket demo-kms-good --bucket demo-kms-pending-deletion"),
        "{command}"
    );
    let printed = stdout(&evaluate_fixture(Some("80"), &["--format", "table"]));
    if shown != printed {
        if std::env::var_os("S3AUDIT_UPDATE_README").is_some() {
            let updated = format!(
                "{}{command}\n{printed}{}",
                &readme[..open],
                &readme[close..]
            );
            std::fs::write(&path, updated).expect("rewrite README.md");
        } else {
            panic!(
                "README.md's example differs from what s3audit prints (rerun with S3AUDIT_UPDATE_README=1 to rewrite it):\n{printed}"
            );
        }
    }
    // What the example is there to show.
    assert!(printed.contains("✓ 18 passed: ENC-001"), "{printed}");
    assert!(printed.contains("┆ critical ┆"), "{printed}");
    assert!(!printed.contains("┆ pass "), "{printed}");
}

#[test]
fn the_table_follows_columns_when_piped_and_is_100_wide_without() {
    let widest = |columns: Option<&str>| {
        stdout(&evaluate_fixture(columns, &["--format", "table"]))
            .lines()
            .map(|l| l.chars().count())
            .max()
            .unwrap()
    };
    assert_eq!(widest(Some("60")), 60);
    assert_eq!(widest(Some("80")), 80);
    assert_eq!(widest(Some("140")), 140);
    assert_eq!(
        widest(None),
        100,
        "the default when neither a terminal nor COLUMNS says"
    );
    assert_eq!(widest(Some("not-a-number")), 100);
}

#[test]
fn the_rule_catalog_fits_80_columns() {
    let out = common::s3audit()
        .env("COLUMNS", "80")
        .arg("rules")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "{}: {line}",
            line.chars().count()
        );
    }
    // Every rule is still there, titles wrapped rather than cut.
    for m in s3audit::rules::metadata::catalog() {
        assert!(
            text.contains(&format!("│ {} ┆", m.id)),
            "{} missing:\n{text}",
            m.id
        );
    }
}

#[test]
fn show_passes_and_explain_change_only_the_table() {
    let folded = stdout(&evaluate_fixture(None, &["--format", "table"]));
    let listed = stdout(&evaluate_fixture(
        None,
        &["--format", "table", "--show-passes"],
    ));
    assert_eq!(folded.matches("┆ pass ").count(), 0, "{folded}");
    assert_eq!(listed.matches("┆ pass ").count(), 31, "{listed}");
    assert!(!listed.contains("passed:"), "{listed}");
    let explained = stdout(&evaluate_fixture(
        None,
        &["--format", "table", "--explain", "--rule", "POL-001"],
    ));
    // POL-001 fails on demo-kms-pending-deletion (no policy): the merged policy follows.
    assert!(
        explained.contains("Fix: Add the Deny statement S3AuditDenyInsecureTransport"),
        "{explained}"
    );
    assert!(
        explained.contains("\"aws:SecureTransport\": \"false\""),
        "{explained}"
    );
    assert!(!folded.contains("Fix:"), "{folded}");
    // The JSON carries every remediation whatever the view: only the command line it
    // records (evaluation.command_line) tells the two runs apart.
    let without_command_line = |args: &[&str]| {
        let mut json: serde_json::Value =
            serde_json::from_slice(&evaluate_fixture(None, args).stdout).unwrap();
        let line = json["evaluation"]
            .as_object_mut()
            .unwrap()
            .remove("command_line");
        (json, line.unwrap())
    };
    let (explained_json, explained_line) = without_command_line(&["--format", "json", "--explain"]);
    let (json, line) = without_command_line(&["--format", "json"]);
    assert_eq!(
        explained_json, json,
        "--explain and --show-passes are views of the table"
    );
    assert_eq!(
        explained_line.as_array().unwrap().last().unwrap(),
        "--explain"
    );
    assert_ne!(explained_line, line);
}

#[test]
fn filters_cut_every_format_alike_and_the_json_records_them() {
    let filter = [
        "--status",
        "fail",
        "--severity",
        "medium",
        "--rule",
        "pol-*,ENC-005",
    ];
    let json_out = evaluate_fixture(None, &[&["--format", "json"][..], &filter].concat());
    let report: serde_json::Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let kept: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["status"], "fail", "{f}");
            assert!(
                ["medium", "high", "critical"].contains(&f["severity"].as_str().unwrap()),
                "{f}"
            );
            let rule = f["rule"].as_str().unwrap().to_string();
            assert!(rule.starts_with("POL-") || rule == "ENC-005", "{rule}");
            (f["bucket"].as_str().unwrap().to_string(), rule)
        })
        .collect();
    // ENC-005 on both buckets, POL-001 and POL-003 on demo-kms-pending-deletion.
    assert_eq!(kept.len(), 4, "{kept:?}");
    assert_eq!(
        report["filter"],
        serde_json::json!({
            "status": ["fail"],
            "min_severity": "medium",
            "rules": ["POL-*", "ENC-005"],
            "findings_before": 46,
        })
    );
    let schema: serde_json::Value = serde_json::from_str(&common::read(
        &common::repo_root().join("reports/schema.json"),
    ))
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // Unfiltered, the document says nothing of a filter.
    let whole: serde_json::Value =
        serde_json::from_slice(&evaluate_fixture(None, &["--format", "json"]).stdout).unwrap();
    assert!(whole.get("filter").is_none());
    assert_eq!(whole["findings"].as_array().unwrap().len(), 46);

    let csv_out = stdout(&evaluate_fixture(
        None,
        &[&["--format", "csv"][..], &filter].concat(),
    ));
    let mut rdr = csv::Reader::from_reader(csv_out.as_bytes());
    let mut csv_kept: Vec<(String, String)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[3].to_string(), r[0].to_string())
        })
        .collect();
    csv_kept.sort();
    let mut json_kept = kept.clone();
    json_kept.sort();
    assert_eq!(csv_kept, json_kept);

    let table = stdout(&evaluate_fixture(
        None,
        &[&["--format", "table"][..], &filter].concat(),
    ));
    let mut table_rules: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("│ "))
        .filter_map(|l| l.split(' ').next())
        .filter(|r| !r.is_empty())
        .collect();
    table_rules.sort();
    assert_eq!(
        table_rules,
        ["ENC-005", "ENC-005", "POL-001", "POL-003"],
        "{table}"
    );
    assert!(!table.contains("passed:"), "{table}");
    assert!(
        one_line(&table)
            .contains("filtered by --status fail --severity medium --rule POL-*,ENC-005: 4 of 46"),
        "{table}"
    );
}

#[test]
fn the_exit_code_follows_the_findings_kept() {
    let code = |args: &[&str]| evaluate_fixture(None, args).status.code();
    // KMS-001 fails at critical on demo-kms-pending-deletion.
    assert_eq!(code(&["--format", "json"]), Some(1));
    // Only low failures kept, --fail-on high: nothing kept fails at or above it.
    assert_eq!(
        code(&["--format", "json", "--rule", "POL-002,POL-004"]),
        Some(0)
    );
    assert_eq!(code(&["--format", "json", "--status", "pass"]), Some(0));
    assert_eq!(code(&["--format", "json", "--rule", "KMS-001"]), Some(1));
}

#[test]
fn colour_is_for_terminals_unless_asked() {
    let has_ansi = |args: &[&str], no_color: Option<&str>| {
        let mut cmd = common::s3audit();
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd
            .arg("evaluate")
            .arg(fixture())
            .args(["--format", "table"])
            .args(args)
            .output()
            .unwrap();
        out.stdout.contains(&0x1b)
    };
    // stdout is a pipe here: auto means no colour.
    assert!(!has_ansi(&[], None));
    assert!(!has_ansi(&["--color", "auto"], None));
    assert!(!has_ansi(&["--color", "never"], None));
    assert!(has_ansi(&["--color", "always"], None));
    // An explicit --color always wins over NO_COLOR; --no-color still works.
    assert!(has_ansi(&["--color", "always"], Some("1")));
    assert!(!has_ansi(&["--color", "always", "--no-color"], None));
    // Never in the machine formats.
    let json = evaluate_fixture(None, &["--format", "json", "--color", "always"]);
    assert!(!json.stdout.contains(&0x1b));
}

#[test]
fn a_report_written_to_a_file_ends_with_one_line_on_stderr_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = evaluate_fixture(None, &["--output", report.to_str().unwrap()]);
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "s3audit: wrote {} (json): 2 buckets, 10 fail, 0 error, 31 pass, 5 n/a\n",
            report.display()
        )
    );
    let table = dir.path().join("report.txt");
    let out = evaluate_fixture(
        None,
        &["--output", table.to_str().unwrap(), "--status", "fail"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "s3audit: wrote {} (table): 2 buckets, 10 fail, 0 error, 0 pass, 0 n/a; 10 of 46 findings kept by --status fail\n",
            table.display()
        )
    );
    for quiet in ["-q", "--quiet"] {
        std::fs::remove_file(&report).unwrap();
        let out = evaluate_fixture(None, &[quiet, "--output", report.to_str().unwrap()]);
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(report.is_file(), "{quiet} still writes the report");
    }
    // To stdout there is nothing to announce.
    let out = evaluate_fixture(None, &["--format", "json"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every link of the README that is not a web address or an anchor names a file of this
/// repository, so it works wherever the repository is read.
#[test]
fn the_readme_links_only_files_in_the_repository() {
    let root = common::repo_root().canonicalize().unwrap();
    let readme = common::read(&root.join("README.md"));
    let mut checked = 0;
    for (i, _) in readme.match_indices("](") {
        let rest = &readme[i + 2..];
        let target = &rest[..rest.find(')').expect("a closing parenthesis")];
        if target.starts_with('#') || target.starts_with("https://") {
            continue;
        }
        let path = target.split('#').next().unwrap();
        let file = root.join(path).canonicalize();
        assert!(
            file.as_ref().is_ok_and(|f| f.starts_with(&root)),
            "README links {target:?}, not a file of the repository"
        );
        checked += 1;
    }
    assert!(checked >= 2, "LICENSE and ARCHITECTURE.md are linked");
}

/// Strings an endpoint could send that are markup, script or template syntax, for the HTML
/// report: each must come out as text (and never as an element, a handler or a dialog).
const MARKUP_BUCKET: &str = "<script>alert(1)</script>";
const MARKUP_KEY: &str = "<img src=x onerror=alert(2)>.txt";
const BREAKOUT_KEY: &str = "</script><script>alert(3)</script><!--";
const MARKUP_REASON: &str = "<svg onload=alert(4)> {{ 7*7 }} \u{202e}fdp.exe";
const MARKUP_ALIAS: &str = "alias/<b onmouseover=alert(5)>";

/// An estate for the HTML report: a healthy bucket, a bucket named as a script whose
/// unencrypted objects are named as markup, a bucket whose settings could not be read for
/// a reason that is markup, a terminal-hostile name, mixed and noncurrent objects for the
/// chart, and a key alias that is markup.
fn html_estate() -> Estate {
    let mut e = hostile_estate();
    e.buckets.truncate(1); // `=1+1\x1b]0;pwned\x07`: controls, shown as escapes
    let mut info = key_info(KeyState::Enabled, Observed::Present(false));
    info.aliases = Observed::Present(vec![MARKUP_ALIAS.into()]);
    e.keys.get_mut(KEY).unwrap().info = Observed::Present(info);

    let mut script = kms_bucket();
    script.name = MARKUP_BUCKET.into();
    script.encryption = Observed::Absent;
    script.objects = Some(ObjectSummary {
        current: ModeCounts {
            total: 5,
            none: 2,
            sse_s3: 3,
            ..ModeCounts::default()
        },
        noncurrent: Some(ModeCounts {
            total: 1,
            none: 1,
            ..ModeCounts::default()
        }),
        samples: BTreeMap::from([(
            SseMode::None,
            vec![MARKUP_KEY.to_string(), BREAKOUT_KEY.to_string()],
        )]),
        ..ObjectSummary::default()
    });

    let mut denied = kms_bucket();
    denied.name = "denied-settings".into();
    denied.encryption = Observed::Denied {
        reason: MARKUP_REASON.into(),
    };
    denied.objects.as_mut().unwrap().current = ModeCounts {
        total: 1000,
        sse_kms: 990,
        dsse_kms: 6,
        unknown: 1,
        unreadable: 3,
        ..ModeCounts::default()
    };

    e.buckets.extend([kms_bucket(), script, denied]);
    e
}

/// Where Chromium is: `S3AUDIT_CHROMIUM`, else `chromium` on the PATH (Debian's package).
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("S3AUDIT_CHROMIUM") {
        return Some(path.into());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// The HTML report of a hostile estate, opened in headless Chromium by
/// `scripts/browser_check.py` (the DevTools protocol over a pipe): it loads with no request
/// but its own and no console error; no string from the estate becomes an element, a
/// handler or a dialog, and each is shown as text; every filter shows exactly the findings
/// it names, sorting orders them, details open and print; the exact report is embedded.
/// Writes `reports/out/report.html` with its screenshot (`.png`) and printout (`.pdf`) for
/// a person to look at.
#[test]
fn html_report_is_inert_self_contained_and_works_in_a_browser() {
    use s3audit::report::Report;
    use s3audit::report::escape::terminal;

    let estate = html_estate();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("estate.json");
    std::fs::write(&snapshot, serde_json::to_vec(&estate).unwrap()).unwrap();
    let html_path = dir.path().join("report.html");
    // No --format: the extension picks HTML.
    let out = common::s3audit()
        .args(["evaluate", snapshot.to_str().unwrap(), "--output"])
        .arg(&html_path)
        .output()
        .expect("run s3audit");
    assert!(
        matches!(out.status.code(), Some(1 | 3)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let page = common::read(&html_path);
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..200]);
    // Only the page's own two script elements; the names are there as escaped text.
    assert_eq!(page.matches("<script").count(), 2);
    assert!(!page.contains("<img") && !page.contains("<svg onload") && !page.contains("<b "));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));

    // What each filter must show, from the findings themselves.
    let report = Report::new(&estate, evaluate(&estate, &RuleConfig::default()));
    let count =
        |pred: &dyn Fn(&Finding) -> bool| report.findings.iter().filter(|f| pred(f)).count();
    let shown_bucket =
        |f: &Finding| terminal(f.bucket.as_deref().unwrap_or(&f.resource)).into_owned();

    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed, and CI must run the browser test: apt-get install chromium (scripts/test does)"
        );
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !! SKIPPED the browser half of {}::html_report_is_inert_self_contained_and_works_in_a_browser: chromium not found\n\
             !! (install it: apt-get install chromium, or set S3AUDIT_CHROMIUM; CI fails here)\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
            module_path!()
        );
        return;
    };
    // The page, its screenshot and its PDF, side by side for a person to look at.
    let shots = common::repo_root().join("reports/out");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::copy(&html_path, shots.join("report.html")).unwrap();
    let started = std::time::Instant::now();
    let out = std::process::Command::new(common::python())
        .arg(common::repo_root().join("scripts/browser_check.py"))
        .arg(&html_path)
        .arg("--chromium")
        .arg(&chromium)
        .arg("--screenshot")
        .arg(shots.join("report.png"))
        .arg("--pdf")
        .arg(shots.join("report.pdf"))
        .args(["--search", MARKUP_BUCKET, "--search", "pwned"])
        .output()
        .expect("run scripts/browser_check.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the browser could not be driven: {stderr}"
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("browser_check printed no JSON ({e}): {stderr}"));
    eprintln!(
        "browser check: {:.1} s (page loaded in {} s)",
        started.elapsed().as_secs_f64(),
        seen["load_seconds"]
    );

    // Loaded offline, cleanly, and nothing ran that the page did not bring.
    assert_eq!(
        seen["requests"],
        serde_json::json!([seen["url"]]),
        "network requests"
    );
    for key in ["console", "exceptions", "dialogs"] {
        assert_eq!(seen[key], serde_json::json!([]), "{key}");
    }
    assert_eq!(out.status.code(), Some(0));
    let p = &seen["page"];
    assert_eq!(p["js"], true, "the page's script ran");
    assert_eq!(p["scripts"], 2);
    assert_eq!(p["inline_handlers"], 0, "no on* attribute anywhere");
    assert_eq!(p["foreign_elements"], 0, "no img, iframe, link, base, ...");
    assert_eq!(p["external_urls"], serde_json::json!([]));
    assert_eq!(
        p["sections"],
        serde_json::json!(["summary", "buckets", "findings", "keys", "rules", "scope"])
    );
    assert_eq!(
        p["bars"], 5,
        "one bar per scanned bucket, plus the noncurrent one"
    );
    assert_eq!(p["keys"], 1);
    // The exact names travel in the embedded JSON; the page shows them made visible.
    let names: Vec<&str> = estate.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(p["embedded_buckets"], serde_json::json!(names));
    let visible: Vec<String> = names.iter().map(|n| terminal(n).into_owned()).collect();
    assert_eq!(p["bucket_cells"], serde_json::json!(visible));
    assert!(
        !p["gaps"].as_array().unwrap().is_empty(),
        "the scan is incomplete: gaps listed"
    );

    let text = seen["text"].as_str().unwrap();
    for literal in [
        MARKUP_BUCKET,
        MARKUP_KEY,
        BREAKOUT_KEY,
        r"<svg onload=alert(4)> {{ 7*7 }} \u{202e}fdp.exe",
        r"=1+1\x1b]0;pwned\x07",
        MARKUP_ALIAS,
    ] {
        assert!(text.contains(literal), "{literal:?} is not shown as text");
    }
    assert!(
        !text.contains(['\u{202e}', '\x1b']),
        "hidden characters shown raw"
    );

    // Each filter shows exactly its findings; filters combine; Clear shows all again.
    let f = &seen["filters"];
    let total = report.findings.len();
    assert_eq!(f["total"], total);
    for (key, value_of) in [
        (
            "status",
            &(|f: &Finding| f.status.as_str().to_string()) as &dyn Fn(&Finding) -> String,
        ),
        ("severity", &|f: &Finding| f.severity.as_str().to_string()),
        ("rule", &|f: &Finding| f.rule.to_string()),
        ("bucket", &shown_bucket),
    ] {
        let mut want: BTreeMap<String, usize> = BTreeMap::new();
        for finding in &report.findings {
            *want.entry(value_of(finding)).or_default() += 1;
        }
        let got: BTreeMap<String, usize> = serde_json::from_value(f["counts"][key].clone())
            .unwrap_or_else(|e| panic!("{key}: {e}: {}", f["counts"][key]));
        assert_eq!(got, want, "{key} filter");
    }
    let of_bucket = |name: &str| count(&|x| x.bucket.as_deref() == Some(name));
    let script_findings = of_bucket(MARKUP_BUCKET);
    assert!(script_findings > 10, "{script_findings}");
    assert_eq!(
        f["counts"]["bucket"][terminal(MARKUP_BUCKET).as_ref()],
        script_findings
    );
    for (pair, n) in f["pairs"].as_object().unwrap() {
        let (status, severity) = pair.split_once('/').unwrap();
        let want = count(&|x| x.status.as_str() == status && x.severity.as_str() == severity);
        assert_eq!(n, want, "status {status} and severity {severity}");
    }
    assert!(
        f["print_note"]
            .as_str()
            .unwrap()
            .starts_with("Filtered view: "),
        "a filtered printout says so: {}",
        f["print_note"]
    );
    assert_eq!(f["after_reset"], total);
    let by_name = f["search"][MARKUP_BUCKET].as_u64().unwrap() as usize;
    assert_eq!(by_name, script_findings, "searching for the name");
    assert_eq!(
        f["search"]["pwned"],
        of_bucket(&estate.buckets[0].name),
        "the escaped name is searchable"
    );
    assert_eq!(f["no_match_shown_when_empty"], true);

    // Sorting: each column both ways.
    let s = &seen["sort"];
    let ranks = |key: &str, dir: &str| -> Vec<u8> {
        s[key][dir]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().parse().unwrap())
            .collect()
    };
    assert!(ranks("status", "asc").is_sorted(), "fail first");
    assert!(ranks("status", "desc").iter().rev().is_sorted());
    assert!(
        ranks("severity", "asc").iter().rev().is_sorted(),
        "critical first"
    );
    assert!(ranks("severity", "desc").is_sorted());
    let rules: Vec<&str> = s["rule"]["asc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(rules.is_sorted(), "{rules:?}");
    assert_eq!(s["rule"]["aria"], "descending");
    let mut buckets_asc = s["bucket"]["asc"].as_array().unwrap().clone();
    let buckets_desc = s["bucket"]["desc"].as_array().unwrap();
    assert_ne!(&buckets_asc, buckets_desc);
    buckets_asc.reverse();
    let groups = |v: &[serde_json::Value]| {
        let mut g: Vec<&serde_json::Value> = v.iter().collect();
        g.dedup();
        g.into_iter().cloned().collect::<Vec<_>>()
    };
    assert_eq!(
        groups(&buckets_asc),
        groups(buckets_desc),
        "desc reverses asc"
    );

    // Details open one by one and all at once; printing shows them all and clips nothing.
    let d = &seen["details"];
    assert_eq!(d["closed_at_start"], 0);
    assert_eq!(
        (d["first_opens"].clone(), d["first_closes"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(d["expanded"], total);
    let pr = &seen["print"];
    assert_eq!(
        pr["details_shown"], total,
        "print shows every finding's details"
    );
    assert_eq!(pr["controls_shown"], 0);
    assert_eq!(
        pr["clipped"],
        serde_json::json!([]),
        "nothing is cut off in print"
    );

    let png = std::fs::read(shots.join("report.png")).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(seen["screenshot"]["height"].as_u64().unwrap() > 1500);
    let pdf = std::fs::read(shots.join("report.pdf")).expect("the PDF");
    assert!(pdf.starts_with(b"%PDF-"));
}

/// `s3audit ARGS...` on stdout as text, asserting exit 0.
fn run_ok(args: &[&str]) -> String {
    let out = common::s3audit().args(args).output().expect("run s3audit");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

#[test]
fn frameworks_lists_every_catalogue_with_its_coverage() {
    let listed: serde_json::Value =
        serde_json::from_str(&run_ok(&["frameworks", "--format", "json"])).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "aws-fsbp",
            "cis-aws-foundations-5.0.0",
            "cis-aws-foundations-6.0.0",
            "hipaa-security-rule",
            "nist-800-53-r5",
            "pci-dss-4.0.1"
        ]
    );
    let pci = &listed[5];
    assert_eq!(pci["version"], "4.0.1");
    assert_eq!(
        pci["covered"].as_u64().unwrap() + pci["out_of_scope"].as_u64().unwrap(),
        pci["requirements"].as_u64().unwrap(),
        "{pci}"
    );
    let table = run_ok(&["frameworks"]);
    for id in ids {
        assert!(table.contains(id), "{id} missing from:\n{table}");
    }
}

#[test]
fn coverage_of_pci_lists_every_requirement_with_its_rules() {
    let catalogue = s3audit::rules::frameworks::lookup("pci-dss-4.0.1").unwrap();
    let coverage: serde_json::Value = serde_json::from_str(&run_ok(&[
        "frameworks",
        "coverage",
        "pci-dss-4.0.1",
        "--format",
        "json",
    ]))
    .unwrap();
    let requirements = coverage["requirements"].as_array().unwrap();
    let ids: Vec<&str> = requirements
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = catalogue
        .requirements
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, expected);
    for r in requirements {
        let rules: Vec<&str> = r["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rc| rc["rule"].as_str().unwrap())
            .collect();
        let mapped: Vec<&str> = catalogue
            .rules_for(r["id"].as_str().unwrap())
            .iter()
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(rules, mapped, "{r}");
        if r["out_of_scope"].is_string() {
            assert_eq!(r["status"], "out_of_scope", "{r}");
        } else {
            assert_eq!(r["status"], "mapped", "{r}");
            assert!(!rules.is_empty(), "{r}");
        }
    }
    let by_id = |id: &str| requirements.iter().find(|r| r["id"] == id).unwrap();
    assert!(by_id("4.2.1")["rules"].to_string().contains("POL-001"));
    assert!(by_id("4.2.1.1")["out_of_scope"].is_string());
    let table = run_ok(&["frameworks", "coverage", "PCI-DSS-4.0.1"]);
    for id in expected {
        assert!(table.contains(id), "{id} missing from:\n{table}");
    }
    assert!(table.contains("out of scope"), "{table}");
}

#[test]
fn coverage_against_a_report_takes_each_requirement_status_from_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    evaluate_fixture(
        None,
        &["--format", "json", "--output", report.to_str().unwrap()],
    );
    let args = [
        "frameworks",
        "coverage",
        "pci-dss-4.0.1",
        report.to_str().unwrap(),
    ];
    let coverage: serde_json::Value =
        serde_json::from_str(&run_ok(&[&args[..], &["--format", "json"]].concat())).unwrap();
    let requirement = |id: &str| {
        coverage["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    // POL-001 fails on demo-kms-pending-deletion: 4.2.1 fails, whatever POL-002 says.
    let tls = requirement("4.2.1");
    assert_eq!(tls["status"], "fail", "{tls}");
    let pol001 = tls["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "POL-001")
        .unwrap();
    assert!(pol001["findings"]["fail"].as_u64().unwrap() >= 1, "{tls}");
    assert_eq!(requirement("4.2.1.1")["status"], "out_of_scope");
    // The fixture's key pending deletion fails KMS-001: key retirement (3.7.5) fails too.
    assert_eq!(requirement("3.7.5")["status"], "fail");
    let table = run_ok(&args);
    let line = table.lines().find(|l| l.contains("4.2.1 ")).unwrap();
    assert!(line.contains("FAIL"), "{table}");
    assert!(table.contains("POL-001: "), "{table}");
    assert!(table.contains("Requirements: "), "{table}");

    // A filtered report says so: rules it left out read as not assessed.
    let filtered = dir.path().join("filtered.json");
    evaluate_fixture(
        None,
        &[
            "--format",
            "json",
            "--rule",
            "KMS-*",
            "--output",
            filtered.to_str().unwrap(),
        ],
    );
    let coverage: serde_json::Value = serde_json::from_str(&run_ok(&[
        "frameworks",
        "coverage",
        "pci-dss-4.0.1",
        filtered.to_str().unwrap(),
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(coverage["report_filter"], "--rule KMS-*");
    let tls = coverage["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "4.2.1")
        .unwrap();
    assert_eq!(tls["status"], "not_assessed", "{tls}");
}

#[test]
fn the_framework_filter_keeps_only_rules_mapped_to_the_catalogue_in_every_format() {
    let json_out = evaluate_fixture(None, &["--format", "json", "--framework", "aws-fsbp"]);
    let report: serde_json::Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let fsbp = s3audit::rules::frameworks::lookup("aws-fsbp").unwrap();
    let mut kept = std::collections::BTreeSet::new();
    for f in report["findings"].as_array().unwrap() {
        let rule = f["rule"].as_str().unwrap();
        let meta = s3audit::rules::metadata::lookup(rule).unwrap();
        assert!(
            s3audit::rules::frameworks::rule_maps_to(meta, &fsbp.id),
            "{rule}"
        );
        assert!(f["frameworks"].to_string().contains("AWS FSBP "), "{f}");
        kept.insert(rule.to_string());
    }
    // Both buckets: ENC-002, KMS-001, KMS-002, KMS-004, OBJ-004, POL-001 are mapped.
    assert!(
        kept.contains("POL-001") && kept.contains("KMS-002"),
        "{kept:?}"
    );
    assert!(
        !kept.contains("ENC-001") && !kept.contains("POL-002"),
        "{kept:?}"
    );
    assert_eq!(
        report["filter"],
        serde_json::json!({"framework": "aws-fsbp", "findings_before": 46})
    );
    let findings = report["findings"].as_array().unwrap().len();
    // The CSV keeps the same findings: one record each, starting with its rule id (a
    // remediation may span lines inside its quoted field).
    let csv = stdout(&evaluate_fixture(
        None,
        &["--format", "csv", "--framework", "AWS-FSBP"],
    ));
    let records = csv
        .lines()
        .filter(|l| kept.iter().any(|rule| l.starts_with(&format!("{rule},"))))
        .count();
    assert_eq!(records, findings, "{csv}");
    let table = stdout(&evaluate_fixture(
        Some("100"),
        &["--framework", "aws-fsbp", "--format", "table"],
    ));
    assert!(table.contains("--framework aws-fsbp"), "{table}");
}

#[test]
fn rules_explain_prints_a_rule_whole_with_its_requirements() {
    let text = run_ok(&["rules", "explain", "pol-001"]);
    for needle in [
        "POL-001",
        "Bucket policy denies every request made without TLS",
        "Rationale:",
        "Remediation:",
        "aws:SecureTransport",
        "PCI DSS v4.0.1 4.2.1",
        "CIS AWS Foundations v6.0.0 3.1.1",
        "S3 general purpose buckets should require",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let json: serde_json::Value = serde_json::from_str(&run_ok(&[
        "rules", "explain", "KMS-002", "--format", "json",
    ]))
    .unwrap();
    assert_eq!(json["severity"], "medium");
    let labels: Vec<&str> = json["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    for label in [
        "CIS AWS Foundations v5.0.0 3.6",
        "CIS AWS Foundations v6.0.0 4.6",
        "AWS FSBP KMS.4",
        "PCI DSS v4.0.1 3.7.4",
    ] {
        assert!(labels.contains(&label), "{label} not in {labels:?}");
    }
    let unmapped = run_ok(&["rules", "explain", "ENC-004"]);
    assert!(
        unmapped.contains("none: no shipped catalogue"),
        "{unmapped}"
    );
}

// `s3audit diff OLD NEW` on the README fixture and a regressed copy of it.

/// `s3audit diff OLD NEW ARGS...`.
fn diff_run(old: &std::path::Path, new: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::s3audit()
        .arg("diff")
        .arg(old)
        .arg(new)
        .args(args)
        .output()
        .expect("run s3audit")
}

#[test]
fn diff_identical_snapshots_exit_0() {
    let fixture = std::path::PathBuf::from(fixture());
    let out = diff_run(&fixture, &fixture, &["--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let drift: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(drift["regressed"], false);
    assert_eq!(drift["findings"]["still_failing"], 10);
    assert_eq!(drift["findings"]["new_failures"], serde_json::json!([]));
}

#[test]
fn diff_regressed_snapshot_against_report_exit_1_and_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    // OLD as a JSON report, NEW as a snapshot: the kinds may be mixed.
    let old = dir.path().join("old-report.json");
    let out = common::s3audit()
        .args(["-q", "evaluate"])
        .arg(fixture())
        .args(["--format", "json", "--output"])
        .arg(&old)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the fixture has failures");

    // demo-kms-good loses its default encryption and gains two unencrypted objects.
    let mut estate: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let good = estate["buckets"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|b| b["name"] == "demo-kms-good")
        .unwrap();
    good["encryption"] = serde_json::json!({"status": "absent"});
    let current = &mut good["objects"]["current"];
    current["none"] = serde_json::json!(2);
    current["total"] = serde_json::json!(current["total"].as_u64().unwrap() + 2);
    let new = dir.path().join("new-estate.json");
    std::fs::write(&new, serde_json::to_string(&estate).unwrap()).unwrap();

    let out = diff_run(&old, &new, &["--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let drift: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(drift["regressed"], true);
    assert_eq!(drift["old"]["kind"], "report");
    assert_eq!(drift["new"]["kind"], "snapshot");
    let new_failures = drift["findings"]["new_failures"].as_array().unwrap();
    assert!(
        new_failures
            .iter()
            .any(|f| f["bucket"] == "demo-kms-good" && f["rule"] == "ENC-001"),
        "{new_failures:#?}"
    );
    let none = drift["object_counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bucket"] == "demo-kms-good" && c["mode"] == "none" && c["scope"] == "current")
        .expect("a change of unencrypted objects");
    assert_eq!(
        (none["old"].as_u64(), none["new"].as_u64()),
        (Some(0), Some(2))
    );
    assert!(
        drift["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("2 more unencrypted")),
        "{drift:#}"
    );

    // The table says the same, and the reverse direction is not a regression.
    let out = diff_run(&old, &new, &[]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("REGRESSED"), "{table}");
    assert!(table.contains("New failures"), "{table}");
    let out = diff_run(&new, &old, &["--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn diff_bad_input_exit_2_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let neither = dir.path().join("neither.json");
    std::fs::write(&neither, r#"{"hello": 1}"#).unwrap();
    let fixture = std::path::PathBuf::from(fixture());
    for bad in [dir.path().join("missing.json"), neither] {
        let out = diff_run(&fixture, &bad, &[]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

// ---- The evidence bundle (`--evidence DIR`, `s3audit verify`) ----

/// `s3audit ARGS...` in `cwd`.
fn s3audit_in(cwd: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::s3audit()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run s3audit")
}

/// `evaluate FIXTURE --evidence NAME` in `cwd` (plus `extra`), asserting it wrote.
fn bundle_of_fixture(cwd: &std::path::Path, name: &str, extra: &[&str]) {
    let fixture = fixture();
    let mut args = vec![
        "evaluate",
        fixture.as_str(),
        "--format",
        "json",
        "--evidence",
        name,
    ];
    args.extend_from_slice(extra);
    let out = s3audit_in(cwd, &args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the fixture has failures: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// `s3audit verify DIR ARGS...`: (exit code, stdout lines).
fn verify_bundle(cwd: &std::path::Path, dir: &str, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let mut all = vec!["verify", dir];
    all.extend_from_slice(args);
    let out = s3audit_in(cwd, &all);
    let lines = stdout(&out).lines().map(str::to_string).collect();
    (out.status.code(), lines)
}

fn findings_of(report_json: &[u8]) -> serde_json::Value {
    let report: serde_json::Value = serde_json::from_slice(report_json).unwrap();
    report["findings"].clone()
}

#[test]
fn evidence_bundle_checks_with_sha256sum_and_verify_names_every_tampered_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    bundle_of_fixture(cwd, "ev", &[]);
    let ev = cwd.join("ev");
    let mut names: Vec<String> = std::fs::read_dir(&ev)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "SHA256SUMS",
            "config.toml",
            "findings.csv",
            "report.html",
            "report.json",
            "snapshot.json"
        ]
    );
    // Nothing left beside it.
    let beside: Vec<_> = std::fs::read_dir(cwd).unwrap().collect();
    assert_eq!(beside.len(), 1, "only the bundle: {beside:?}");

    // GNU format: sorted, two spaces, every file but the manifest.
    let manifest = std::fs::read_to_string(ev.join("SHA256SUMS")).unwrap();
    let listed: Vec<&str> = manifest.lines().map(|l| &l[66..]).collect();
    assert_eq!(
        listed,
        names[1..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(manifest.lines().all(|l| l.as_bytes()[64..66] == *b"  "));
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&ev)
        .output()
        .expect("run sha256sum (coreutils)");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert_eq!(stdout(&check).matches(": OK").count(), 5);

    assert_eq!(verify_bundle(cwd, "ev", &[]), (Some(0), vec![]));

    // The snapshot and settings reproduce every verdict of the report.
    let again = s3audit_in(
        cwd,
        &[
            "evaluate",
            "ev/snapshot.json",
            "--config",
            "ev/config.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        findings_of(&again.stdout),
        findings_of(&std::fs::read(ev.join("report.json")).unwrap())
    );
    assert_eq!(
        std::fs::read(ev.join("snapshot.json")).unwrap(),
        std::fs::read(fixture()).unwrap(),
        "evaluate's bundle holds the snapshot's own bytes"
    );

    // One byte flipped in any file: verify names that file, and only it; sha256sum agrees.
    for (i, name) in names[1..].iter().enumerate() {
        let copy = format!("flip{i}");
        copy_dir(&ev, &cwd.join(&copy));
        let path = cwd.join(&copy).join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(
            verify_bundle(cwd, &copy, &[]),
            (Some(1), vec![format!("changed: {name}")]),
            "{name}"
        );
        let check = std::process::Command::new("sha256sum")
            .args(["-c", "--quiet", "SHA256SUMS"])
            .current_dir(cwd.join(&copy))
            .output()
            .unwrap();
        assert!(!check.status.success(), "{name}");
    }

    // An added file (also in a subdirectory) and a deleted one are named.
    copy_dir(&ev, &cwd.join("more"));
    std::fs::write(cwd.join("more/notes.txt"), "x").unwrap();
    std::fs::create_dir(cwd.join("more/sub")).unwrap();
    std::fs::write(cwd.join("more/sub/a.json"), "{}").unwrap();
    std::fs::remove_file(cwd.join("more/findings.csv")).unwrap();
    let (code, mut lines) = verify_bundle(cwd, "more", &[]);
    lines.sort();
    assert_eq!(code, Some(1));
    assert_eq!(
        lines,
        [
            "extra: notes.txt",
            "extra: sub/a.json",
            "missing: findings.csv"
        ]
    );
}

#[test]
fn evidence_bundle_usage_errors_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    // A non-empty DIR is refused before anything is written.
    std::fs::create_dir(cwd.join("full")).unwrap();
    std::fs::write(cwd.join("full/old.txt"), "keep").unwrap();
    let fixture = fixture();
    let out = s3audit_in(cwd, &["evaluate", &fixture, "--evidence", "full"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("full: the directory is not empty"), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_dir(cwd.join("full")).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_dir(cwd).unwrap().count(),
        1,
        "no temporary dir left"
    );
    // An empty DIR is fine: the bundle replaces it.
    std::fs::create_dir(cwd.join("empty")).unwrap();
    bundle_of_fixture(cwd, "empty", &[]);
    assert_eq!(verify_bundle(cwd, "empty", &[]).0, Some(0));
    // --sign-key needs --evidence.
    let out = s3audit_in(cwd, &["evaluate", &fixture, "--sign-key", "k"]);
    assert_eq!(out.status.code(), Some(2));

    // verify: no directory, no manifest, a malformed line (named).
    let out = s3audit_in(cwd, &["verify", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_file(cwd.join("empty/SHA256SUMS")).unwrap();
    let out = s3audit_in(cwd, &["verify", "empty"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SHA256SUMS"));
    std::fs::write(
        cwd.join("empty/SHA256SUMS"),
        format!("{}  report.json\nnot a checksum line\n", "0".repeat(64)),
    )
    .unwrap();
    let out = s3audit_in(cwd, &["verify", "empty"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("not a checksum line"),
        "{err}"
    );
}

/// `ssh-keygen` (openssh-client), or a skip outside CI.
fn ssh_keygen() -> bool {
    let found = std::process::Command::new("ssh-keygen")
        .arg("-?")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "ssh-keygen is not installed, and CI must check the signature with it: apt-get install openssh-client (scripts/test does)"
        );
        eprintln!(
            "!! SKIPPED the evidence signature test: ssh-keygen not found (apt-get install openssh-client)"
        );
    }
    found
}

#[test]
fn evidence_signature_verifies_with_ssh_keygen_and_fails_after_an_edit() {
    if !ssh_keygen() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let keygen = |name: &str| {
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "auditor", "-f", name])
            .current_dir(cwd)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    keygen("k");
    keygen("other");
    let public = std::fs::read_to_string(cwd.join("k.pub")).unwrap();
    std::fs::write(cwd.join("allowed_signers"), format!("auditor {public}")).unwrap();
    bundle_of_fixture(cwd, "ev", &["--sign-key", "k"]);
    let ssh_verify = |dir: &str| {
        let manifest = std::fs::File::open(cwd.join(dir).join("SHA256SUMS")).unwrap();
        std::process::Command::new("ssh-keygen")
            .args([
                "-Y",
                "verify",
                "-f",
                "allowed_signers",
                "-I",
                "auditor",
                "-n",
                "file",
                "-s",
            ])
            .arg(format!("{dir}/SHA256SUMS.sig"))
            .stdin(manifest)
            .current_dir(cwd)
            .output()
            .unwrap()
    };
    let out = ssh_verify("ev");
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        verify_bundle(cwd, "ev", &["--pubkey", "k.pub"]),
        (Some(0), vec![])
    );
    // Another key's public half: the signature is not the auditor's.
    let (code, lines) = verify_bundle(cwd, "ev", &["--pubkey", "other.pub"]);
    assert_eq!(code, Some(1));
    assert!(
        lines[0].starts_with("bad signature: SHA256SUMS.sig"),
        "{lines:?}"
    );

    // One hex digit of the manifest changed (its line still well-formed): ssh-keygen and
    // verify --pubkey both refuse, and verify names the file whose sum no longer matches.
    copy_dir(&cwd.join("ev"), &cwd.join("edited"));
    let path = cwd.join("edited/SHA256SUMS");
    let mut manifest = std::fs::read(&path).unwrap();
    manifest[0] = if manifest[0] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, manifest).unwrap();
    assert!(!ssh_verify("edited").status.success());
    let (code, lines) = verify_bundle(cwd, "edited", &["--pubkey", "k.pub"]);
    assert_eq!(code, Some(1));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "changed: config.toml");
    assert!(
        lines[1].starts_with("bad signature: SHA256SUMS.sig"),
        "{lines:?}"
    );
    // A removed signature, with --pubkey: named.
    std::fs::remove_file(cwd.join("ev/SHA256SUMS.sig")).unwrap();
    let (code, lines) = verify_bundle(cwd, "ev", &["--pubkey", "k.pub"]);
    assert_eq!(code, Some(1));
    assert!(
        lines[0].starts_with("bad signature: SHA256SUMS.sig"),
        "{lines:?}"
    );
}

// OCSF (`--format ocsf`): Compliance Finding events, checked with py-ocsf-models.

/// `scripts/ocsf_check.py FILE` on `events`: its exit code, stdout and stderr.
fn ocsf_check(events: &serde_json::Value) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ocsf");
    std::fs::write(&path, serde_json::to_vec(events).unwrap()).unwrap();
    let out = std::process::Command::new(common::python())
        .arg(common::repo_root().join("scripts/ocsf_check.py"))
        .arg(&path)
        .output()
        .expect("run scripts/ocsf_check.py");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The events are valid for py-ocsf-models' ComplianceFinding (strict, every key known),
/// `n` of them.
fn assert_valid_ocsf(events: &serde_json::Value, n: usize) {
    let (code, stdout, stderr) = ocsf_check(events);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.starts_with(&format!("{n} events valid (OCSF 1.5.0")),
        "{stdout}"
    );
}

/// The OCSF compliance status of each verdict: only a pass is Pass (1), an error is
/// Warning (2), never a pass.
fn ocsf_compliance(status: &str) -> (u64, &'static str) {
    match status {
        "pass" => (1, "Pass"),
        "fail" => (3, "Fail"),
        "error" => (2, "Warning"),
        "not_applicable" => (99, "Not Applicable"),
        other => panic!("status {other}"),
    }
}

/// Each event against the finding it stands for, in order: rule, resource, verdict,
/// severity, frameworks, the scan's account and time.
fn assert_events_are_the_findings(events: &[serde_json::Value], report: &serde_json::Value) {
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(events.len(), findings.len(), "one event per finding");
    let finished = time::OffsetDateTime::parse(
        report["scan"]["finished_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let millis = (finished.unix_timestamp_nanos() / 1_000_000) as i64;
    let mut uids = std::collections::BTreeSet::new();
    for (e, f) in events.iter().zip(findings) {
        let what = format!("{} on {}", f["rule"], f["resource"]);
        assert_eq!(e["class_uid"], 2003, "{what}");
        assert_eq!(e["category_uid"], 2, "{what}");
        assert_eq!(e["type_uid"], 200301, "{what}");
        assert_eq!(e["time"], millis, "{what}");
        assert_eq!(e["compliance"]["control"], f["rule"], "{what}");
        let (id, caption) = ocsf_compliance(f["status"].as_str().unwrap());
        assert_eq!(e["compliance"]["status_id"], id, "{what}");
        assert_eq!(e["compliance"]["status"], caption, "{what}");
        assert_eq!(e["compliance"]["requirements"], f["frameworks"], "{what}");
        let severity = ["info", "low", "medium", "high", "critical"]
            .iter()
            .position(|s| f["severity"] == *s)
            .unwrap()
            + 1;
        assert_eq!(e["severity_id"], severity, "{what}");
        assert_eq!(e["status"], "New", "{what}");
        assert_eq!(e["message"], f["message"], "{what}");
        assert_eq!(e["finding_info"]["desc"], f["message"], "{what}");
        assert_eq!(e["remediation"]["desc"], f["remediation"], "{what}");
        assert_eq!(e["resources"][0]["uid"], f["resource"], "{what}");
        assert_eq!(e["resources"][0]["name"], f["bucket"], "{what}");
        assert_eq!(e["resources"][0]["type"], "AWS::S3::Bucket", "{what}");
        assert_eq!(e["evidences"][0]["data"], f["evidence"], "{what}");
        assert_eq!(e["cloud"]["provider"], "AWS", "{what}");
        match report["scan"]["account"].as_str() {
            Some(account) => assert_eq!(e["cloud"]["account"]["uid"], account, "{what}"),
            None => assert!(e["cloud"].get("account").is_none(), "{what}"),
        }
        assert_eq!(
            e["unmapped"]["scan_complete"], report["scan"]["complete"],
            "{what}"
        );
        assert!(
            uids.insert(e["finding_info"]["uid"].as_str().unwrap().to_string()),
            "{what}: finding_info.uid not unique"
        );
    }
}

#[test]
fn ocsf_is_one_valid_compliance_finding_per_finding_and_follows_the_filter() {
    let report: serde_json::Value =
        serde_json::from_str(&stdout(&evaluate_fixture(None, &["--format", "json"]))).unwrap();
    let ocsf = stdout(&evaluate_fixture(None, &["--format", "ocsf"]));
    let events: serde_json::Value = serde_json::from_str(&ocsf).unwrap();
    // 10 fail, 31 pass, 5 n/a (the fixture's comment above).
    assert_eq!(events.as_array().unwrap().len(), 46);
    assert_valid_ocsf(&events, 46);
    assert_events_are_the_findings(events.as_array().unwrap(), &report);
    let fails = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["compliance"]["status"] == "Fail")
        .count();
    assert_eq!(fails, 10);
    let pol_001 = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["compliance"]["control"] == "POL-001")
        .unwrap();
    assert_eq!(pol_001["resources"][0]["region"], "us-east-1");
    assert!(
        pol_001["compliance"]["standards"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("PCI DSS v4.0.1")),
        "{pol_001}"
    );

    // The filter is applied before rendering, as for every format.
    let failing: serde_json::Value = serde_json::from_str(&stdout(&evaluate_fixture(
        None,
        &["--format", "ocsf", "--status", "fail"],
    )))
    .unwrap();
    let failing = failing.as_array().unwrap();
    assert_eq!(failing.len(), 10);
    assert!(
        failing
            .iter()
            .all(|e| e["compliance"]["status_id"] == 3 && e["compliance"]["status"] == "Fail"),
        "{failing:?}"
    );

    // An --output ending in .ocsf picks the format, and the bytes are the same.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("findings.ocsf");
    evaluate_fixture(None, &["--output", path.to_str().unwrap()]);
    assert_eq!(common::read(&path), ocsf);
}

#[test]
fn ocsf_of_unreadable_settings_is_warning_never_pass_and_names_are_data() {
    let estate = hostile_estate();
    let report: serde_json::Value =
        serde_json::from_str(&evaluate_with_binary(&estate, "json")).unwrap();
    let events: serde_json::Value =
        serde_json::from_str(&evaluate_with_binary(&estate, "ocsf")).unwrap();
    let n = report["findings"].as_array().unwrap().len();
    assert_valid_ocsf(&events, n);
    assert_events_are_the_findings(events.as_array().unwrap(), &report);
    let warnings: Vec<&serde_json::Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["compliance"]["status_id"] == 2)
        .collect();
    assert!(!warnings.is_empty(), "the denied settings are errors");
    assert_eq!(
        warnings.len(),
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == "error")
            .count()
    );
    // The exact names, controls and all, as JSON strings.
    let names: std::collections::BTreeSet<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resources"][0]["name"].as_str().unwrap())
        .collect();
    let want: std::collections::BTreeSet<&str> =
        estate.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, want);
}

#[test]
fn the_ocsf_checker_rejects_a_misspelt_field_a_bad_enum_and_a_missing_one() {
    let events: serde_json::Value = serde_json::from_str(&stdout(&evaluate_fixture(
        None,
        &["--format", "ocsf", "--rule", "ENC-001"],
    )))
    .unwrap();
    assert_valid_ocsf(&events, 2);
    type Mutation = fn(&mut serde_json::Value);
    let mutations: [(&str, Mutation); 4] = [
        ("finding_info.titel", |e| {
            e["finding_info"]["titel"] = "x".into();
        }),
        ("compliance.status_id", |e| {
            e["compliance"]["status_id"] = 7.into();
        }),
        ("missing required attribute time", |e| {
            e.as_object_mut().unwrap().remove("time");
        }),
        ("cloud.region", |e| {
            e["cloud"]["region"] = 1.into();
        }),
    ];
    for (problem, mutate) in mutations {
        let mut bad = events.clone();
        mutate(&mut bad[1]);
        let (code, _, stderr) = ocsf_check(&bad);
        assert_eq!(code, Some(1), "{problem}: {stderr}");
        assert!(
            stderr.starts_with("event 1 (ENC-001 on arn:aws:s3:::") && stderr.contains(problem),
            "{problem}: {stderr}"
        );
    }
}

#[test]
fn ocsf_is_for_scan_and_evaluate_not_check_policy() {
    let policy = common::repo_root().join("tests/fixtures/policies/passing.json");
    for args in [
        vec!["--format", "ocsf"],
        vec!["--output", "never-written.ocsf"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = common::s3audit()
            .current_dir(dir.path())
            .arg("check-policy")
            .arg(&policy)
            .args(["--bucket", "b"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("ocsf"), "{stderr}");
        assert!(!dir.path().join("never-written.ocsf").exists());
    }
}

// Waivers (`[[waiver]]` in --config): a waived failure stays in every format, marked, and
// does not count toward --fail-on; expired and unmatched waivers are reported; errors are
// never waived; a bad waiver is a configuration error.

/// The healthy KMS bucket without a policy: POL-001 fails at high (the only failure
/// `--fail-on high` counts), POL-002..004 fail below it. Scanned on `started` (RFC 3339).
fn unenforced_estate(started: &str) -> Estate {
    let mut b = kms_bucket();
    b.policy = Observed::Absent;
    let mut e = estate(
        b,
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    let at = time::OffsetDateTime::parse(started, &time::format_description::well_known::Rfc3339)
        .unwrap();
    e.scan.started_at = at;
    e.scan.finished_at = at;
    e
}

const WAIVER_REASON: &str = "Legacy uploader cannot send TLS 1.2; replacement tracked in SEC-123";

/// A config file of one waiver per `(rule, resource, expires)`, the first with
/// [`WAIVER_REASON`].
fn waiver_config(waivers: &[(&str, &str, &str)]) -> String {
    waivers
        .iter()
        .enumerate()
        .map(|(i, (rule, resource, expires))| {
            let reason = if i == 0 { WAIVER_REASON } else { "accepted" };
            format!(
                "[[waiver]]\nrule = \"{rule}\"\nresource = \"{resource}\"\nreason = \"{reason}\"\nowner = \"platform-team@example.com\"\nexpires = {expires}\n\n"
            )
        })
        .collect()
}

/// `s3audit evaluate` of `estate` with `config` as --config, and `args`.
fn evaluate_waived(estate: &Estate, config: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("estate.json");
    std::fs::write(&snapshot, serde_json::to_vec(estate).unwrap()).unwrap();
    let toml = dir.path().join("s3audit.toml");
    std::fs::write(&toml, config).unwrap();
    common::s3audit()
        .arg("evaluate")
        .arg(&snapshot)
        .arg("--config")
        .arg(&toml)
        .args(args)
        .output()
        .expect("run s3audit")
}

fn report_schema_errors(report: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(&common::read(
        &common::repo_root().join("reports/schema.json"),
    ))
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    validator
        .iter_errors(report)
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn a_waiver_turns_exit_1_into_0_and_shows_in_every_format() {
    let e = unenforced_estate("2027-03-31T23:59:00Z");
    let unwaived = evaluate_waived(&e, "", &["--format", "json"]);
    assert_eq!(unwaived.status.code(), Some(1), "POL-001 fails at high");
    // A glob on the rule (any case) and one on the bucket name.
    let config = waiver_config(&[("pol-00?", "b*", "2027-03-31")]);

    let json = evaluate_waived(&e, &config, &["--format", "json"]);
    assert_eq!(
        json.status.code(),
        Some(0),
        "waived through its last day: {}",
        String::from_utf8_lossy(&json.stderr)
    );
    // OCSF: the waived failure is still a compliance Fail, its finding Suppressed; the
    // others stay New.
    let ocsf = evaluate_waived(&e, &config, &["--format", "ocsf"]);
    assert_eq!(ocsf.status.code(), Some(0));
    let events: serde_json::Value = serde_json::from_slice(&ocsf.stdout).unwrap();
    let event = |rule: &str| {
        events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["compliance"]["control"] == rule)
            .unwrap()
            .clone()
    };
    let pol1 = event("POL-001");
    assert_eq!(pol1["compliance"]["status_id"], 3, "{pol1:#}");
    assert_eq!(pol1["status"], "Suppressed", "{pol1:#}");
    assert_eq!(event("ENC-001")["status"], "New");
    assert!(json.stderr.is_empty(), "an active waiver warns of nothing");
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let pol1 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "POL-001")
        .unwrap();
    assert_eq!(pol1["status"], "fail", "a waiver never changes the verdict");
    assert_eq!(pol1["waiver"]["reason"], WAIVER_REASON);
    assert_eq!(pol1["waiver"]["owner"], "platform-team@example.com");
    assert_eq!(pol1["waiver"]["expires"], "2027-03-31");
    assert_eq!(pol1["waiver"]["index"], 1);
    let waived = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("waiver").is_some())
        .count();
    assert_eq!(waived, 4, "POL-001..004 fail on b: {report:#}");
    assert_eq!(report["waivers"][0]["state"], "active");
    assert_eq!(report["waivers"][0]["matched"], 4);
    assert_eq!(report_schema_errors(&report), Vec::<String>::new());

    let table = evaluate_waived(&e, &config, &["--format", "table"]);
    assert_eq!(table.status.code(), Some(0));
    let table = one_line(&stdout(&table));
    assert!(table.contains("POL-001 ┆ FAIL (waived) ┆ high"), "{table}");
    assert!(table.contains("4 fail (4 waived)"), "{table}");
    assert!(
        table.contains("Waivers: 1 active (4 failing findings waived)"),
        "{table}"
    );

    let csv_out = evaluate_waived(&e, &config, &["--format", "csv"]);
    let mut rdr = csv::Reader::from_reader(csv_out.stdout.as_slice());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &header[9..],
        [
            "waived",
            "waiver_reason",
            "waiver_owner",
            "waiver_expires",
            "scope",
            "account"
        ],
        "appended after the existing columns"
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let row = rows.iter().find(|r| &r[0] == "POL-001").unwrap();
    assert_eq!(&row[1], "fail");
    assert_eq!(
        (&row[9], &row[10], &row[11], &row[12]),
        (
            "true",
            WAIVER_REASON,
            "platform-team@example.com",
            "2027-03-31"
        )
    );
    let pass = rows.iter().find(|r| &r[0] == "ENC-001").unwrap();
    assert_eq!((&pass[9], &pass[10]), ("false", ""));

    let html = evaluate_waived(&e, &config, &["--format", "html"]);
    assert_eq!(html.status.code(), Some(0));
    let page = String::from_utf8(html.stdout).unwrap();
    assert!(page.contains(r#"<span class="badge st-waived""#), "a badge");
    assert!(page.contains("Legacy uploader cannot send TLS 1.2; replacement tracked in SEC-123"));
    assert!(page.contains(r#"<section id="waivers">"#));
    assert!(page.contains(r#"<span class="badge wv-active">active</span>"#));

    // The closing line counts them too.
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("r.json");
    let out = evaluate_waived(&e, &config, &["--output", out_path.to_str().unwrap()]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(", 4 fail (4 waived), "), "{stderr}");
}

/// Expiry is judged against the day the scan started, not the wall clock: a snapshot
/// evaluated years later reaches the same verdict.
#[test]
fn an_expired_waiver_leaves_exit_1_and_is_reported() {
    let config = waiver_config(&[("POL-001", "arn:aws:s3:::b", "2027-03-31")]);
    let day_after = unenforced_estate("2027-04-01T00:00:00Z");
    let out = evaluate_waived(&day_after, &config, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "expired: POL-001 counts again");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.get("waiver").is_none()),
        "{report:#}"
    );
    assert_eq!(report["waivers"][0]["state"], "expired");
    assert_eq!(report["waivers"][0]["matched"], 1);
    assert_eq!(report_schema_errors(&report), Vec::<String>::new());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("s3audit: warning: waiver #1 (POL-001 on arn:aws:s3:::b, owner platform-team@example.com) expired on 2027-03-31"),
        "{stderr}"
    );
    let table = one_line(&stdout(&evaluate_waived(
        &day_after,
        &config,
        &["--format", "table"],
    )));
    assert!(table.contains("expired: waiver #1"), "{table}");

    // Long past by the wall clock, not by the scan's date.
    let config = waiver_config(&[("POL-001", "b", "2020-01-01")]);
    let old_scan = unenforced_estate("2019-12-31T12:00:00Z");
    let out = evaluate_waived(&old_scan, &config, &["--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unmatched_waiver_is_reported_unless_quiet() {
    // ENC-001 passes on b; POL-001 on another bucket matches nothing either.
    let config = waiver_config(&[
        ("POL-001", "b", "2030-01-01"),
        ("ENC-001", "b", "2030-01-01"),
        ("POL-001", "other-*", "2030-01-01"),
    ]);
    let e = unenforced_estate("2027-01-01T00:00:00Z");
    let out = evaluate_waived(&e, &config, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = report["waivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "unmatched", "unmatched"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].contains("waiver #2 (ENC-001 on b"), "{stderr}");
    assert!(lines[1].contains("matched no failing finding"), "{stderr}");
    let quiet = evaluate_waived(&e, &config, &["-q", "--format", "json"]);
    assert!(quiet.stderr.is_empty(), "-q: in the report only");
    // A filter does not make a waiver unmatched: counted before it.
    let filtered = evaluate_waived(&e, &config, &["--format", "json", "--rule", "ENC-*"]);
    let report: serde_json::Value = serde_json::from_slice(&filtered.stdout).unwrap();
    assert_eq!(report["waivers"][0]["state"], "active");
}

/// An error is a fact that could not be read: no waiver hides it, whatever its patterns.
#[test]
fn error_findings_are_never_waived() {
    let mut e = unenforced_estate("2027-01-01T00:00:00Z");
    e.buckets[0].encryption = Observed::Denied {
        reason: "AccessDenied (HTTP 403)".into(),
    };
    let out = evaluate_waived(
        &e,
        &waiver_config(&[("*", "*", "2030-01-01")]),
        &["--format", "json", "--fail-on", "critical"],
    );
    assert_eq!(out.status.code(), Some(3), "still incomplete");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let errors: Vec<&serde_json::Value> =
        findings.iter().filter(|f| f["status"] == "error").collect();
    assert!(!errors.is_empty());
    assert!(
        errors.iter().all(|f| f.get("waiver").is_none()),
        "{errors:#?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["status"] == "fail" && f.get("waiver").is_some())
    );
    assert_eq!(
        report["waivers"][0]["errors_not_waived"].as_u64(),
        Some(errors.len() as u64)
    );
}

#[test]
fn a_bad_waiver_is_a_config_error_of_one_line_naming_where() {
    let e = unenforced_estate("2027-01-01T00:00:00Z");
    let good = waiver_config(&[("POL-001", "b", "2030-01-01")]);
    for (config, says) in [
        (
            good.replace("owner = \"platform-team@example.com\"\n", ""),
            "(line 1, column 1): missing field `owner`",
        ),
        (
            good.replace(WAIVER_REASON, " "),
            "(line 4, column 10): waiver reason is empty",
        ),
        (
            good.replace("expires = ", "expiry = 2030-01-01\nexpires = "),
            "(line 6, column 1): unknown field `expiry`",
        ),
        (
            good.replace("2030-01-01", "2030-02-30"),
            "(line 6, column 11): invalid date",
        ),
        (
            good.replace("2030-01-01", "\"next year\""),
            "(line 6, column 11): invalid date \"next year\"",
        ),
        (
            good.replace("POL-001", "POL-9*"),
            "(line 2, column 8): waiver rule \"POL-9*\" matches no rule",
        ),
    ] {
        let out = evaluate_waived(&e, &config, &["--format", "json"]);
        assert_eq!(out.status.code(), Some(2), "{config}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{says} not in {stderr}");
    }
}

/// A failure that gains a waiver is still failing: `diff` does not call it resolved.
#[test]
fn diff_of_a_newly_waived_failure_is_not_a_resolution() {
    let e = unenforced_estate("2027-01-01T00:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.json");
    let new = dir.path().join("new.json");
    std::fs::write(&old, evaluate_waived(&e, "", &["--format", "json"]).stdout).unwrap();
    let config = waiver_config(&[("POL-001", "b", "2030-01-01")]);
    std::fs::write(
        &new,
        evaluate_waived(&e, &config, &["--format", "json"]).stdout,
    )
    .unwrap();
    let out = diff_run(&old, &new, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let drift: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(drift["findings"]["resolved"], serde_json::json!([]));
    assert_eq!(drift["findings"]["still_failing"], 4);
}

/// `frameworks coverage` of a report whose only failure under a requirement is waived
/// reads "fail (waived)", never pass.
#[test]
fn coverage_of_a_waived_failure_is_fail_waived() {
    let e = unenforced_estate("2027-01-01T00:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let config = waiver_config(&[("POL-*", "b", "2030-01-01")]);
    std::fs::write(
        &report,
        evaluate_waived(&e, &config, &["--format", "json"]).stdout,
    )
    .unwrap();
    let out = common::s3audit()
        .args(["frameworks", "coverage", "pci-dss-4.0.1"])
        .arg(&report)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let coverage: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let req = coverage["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "4.2.1")
        .unwrap();
    assert_eq!(req["status"], "fail_waived", "{req:#}");
}

// Scope and provenance (issue #10): what was scanned and how, in every format.

/// `s3audit ARGS...` in `cwd`, any exit code but 2 (usage).
fn run_in(cwd: &std::path::Path, args: &[&str]) -> std::process::Output {
    let out = s3audit_in(cwd, args);
    assert_ne!(
        out.status.code(),
        Some(2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The JSON report against reports/schema.json.
fn assert_schema_valid(report: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(&common::read(
        &common::repo_root().join("reports/schema.json"),
    ))
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The `scope` column of every row of a findings CSV (appended after the waiver columns,
/// before `account`).
fn csv_scope_column(csv_text: &str) -> Vec<String> {
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(
        headers.iter().rev().take(2).collect::<Vec<_>>(),
        ["account", "scope"],
        "appended last: {headers:?}"
    );
    let at = headers.len() - 2;
    rdr.records().map(|r| r.unwrap()[at].to_string()).collect()
}

#[test]
fn redaction_drops_secret_values_and_keeps_the_flags() {
    use s3audit::provenance::{REDACTED, redact_command_line};
    let line = redact_command_line([
        "/opt/bin/s3audit",
        "scan",
        "--secret-access-key",
        "wJalrXUtnFEMI",
        "--foo-token=Y-secret",
        "--bucket",
        "b",
        "--sign-key",
        "keys/id_ed25519",
        "AWS_SESSION_TOKEN=abc",
    ]);
    assert_eq!(
        line,
        [
            "s3audit",
            "scan",
            "--secret-access-key",
            REDACTED,
            "--foo-token=<redacted>",
            "--bucket",
            "b",
            "--sign-key",
            "keys/id_ed25519",
            "AWS_SESSION_TOKEN=<redacted>",
        ]
    );
    let joined = line.join(" ");
    for secret in ["wJalrXUtnFEMI", "Y-secret", "abc"] {
        assert!(!joined.contains(secret), "{joined}");
    }
}

/// An estate scanned with `--prefix logs/ --sample 100` (as `scan` records it).
fn scoped_estate() -> Estate {
    let mut e = estate(
        kms_bucket(),
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    e.scan.objects = Some(ObjectScanInfo {
        versions: false,
        prefix: Some("logs/".into()),
        sample: Some(100),
    });
    e.scan.account = Some("111122223333".into());
    e.scan.principal = Some("arn:aws:iam::111122223333:user/auditor".into());
    e.scan.scope = Some(ScanScope {
        buckets: vec!["b".into()],
        exclude: vec!["tmp-*".into()],
        object_source: ScanObjectSource::Head,
        prefix: Some("logs/".into()),
        sample: Some(100),
        versions: false,
        regions: vec!["us-east-1".into()],
        start_region: "us-east-1".into(),
        inferred: false,
        offline: false,
        shard: None,
    });
    e.scan.command_line = Some(
        [
            "s3audit",
            "scan",
            "--bucket",
            "b",
            "--exclude",
            "tmp-*",
            "--prefix",
            "logs/",
            "--sample",
            "100",
        ]
        .map(String::from)
        .to_vec(),
    );
    e.scan.tool_commit = Some("abc1234".into());
    e
}

#[test]
fn a_prefixed_sampled_scan_says_its_scope_in_every_format() {
    const LIMITS: &str = "prefix=logs/; sample=100 per bucket";
    let e = scoped_estate();
    let report: serde_json::Value =
        serde_json::from_str(&evaluate_with_binary(&e, "json")).unwrap();
    let scope = &report["scan"]["scope"];
    assert_eq!(scope["prefix"], "logs/");
    assert_eq!(scope["sample"], 100);
    assert_eq!(scope["buckets"], serde_json::json!(["b"]));
    assert_eq!(scope["exclude"], serde_json::json!(["tmp-*"]));
    assert_eq!(scope["object_source"], "head");
    assert_eq!(scope["regions"], serde_json::json!(["us-east-1"]));
    assert!(scope.get("inferred").is_none(), "{scope}");
    assert_eq!(report["scan"]["command_line"][6], "--prefix");
    assert_eq!(report["scan"]["tool_commit"], "abc1234");
    assert_eq!(report["scan"]["complete"], true);
    assert_schema_valid(&report);

    let table = one_line(&evaluate_with_binary(&e, "table"));
    assert!(
        table.contains(&format!(
            "scan complete for its stated scope only ({LIMITS})"
        )),
        "{table}"
    );
    assert!(
        table.contains("scanned: account 111122223333, caller arn:aws:iam::111122223333:user/auditor, AWS endpoints, regions us-east-1 (started in us-east-1), by s3audit test (abc1234)"),
        "{table}"
    );
    assert!(
        table.contains(
            "command: s3audit scan --bucket b --exclude 'tmp-*' --prefix logs/ --sample 100"
        ),
        "{table}"
    );

    let csv_text = evaluate_with_binary(&e, "csv");
    let scopes = csv_scope_column(&csv_text);
    assert!(scopes.len() > 10, "{csv_text}");
    assert!(scopes.iter().all(|s| s == LIMITS), "{scopes:?}");

    // minijinja escapes `/` and `'` too.
    let html = evaluate_with_binary(&e, "html")
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'");
    assert!(
        html.contains(&format!(
            "Scan complete for its stated scope only ({LIMITS})"
        )),
        "the headline says it"
    );
    assert!(html.contains("s3audit scan --bucket b --exclude 'tmp-*' --prefix logs/"));

    // The closing line on stderr.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.json"), serde_json::to_vec(&e).unwrap()).unwrap();
    let out = run_in(dir.path(), &["evaluate", "e.json", "--output", "r.json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .trim_end()
            .ends_with(&format!("; scope limited to {LIMITS}")),
        "{stderr}"
    );
}

#[test]
fn a_full_scan_has_an_empty_scope_column_and_no_scope_note() {
    let csv_text = stdout(&evaluate_fixture(None, &["--format", "csv"]));
    let scopes = csv_scope_column(&csv_text);
    assert_eq!(scopes.len(), 46);
    assert!(scopes.iter().all(String::is_empty), "{scopes:?}");
    let table = stdout(&evaluate_fixture(None, &["--format", "table"]));
    assert!(!table.contains("stated scope"), "{table}");
    assert!(one_line(&table).contains("; scan complete scanned: account 123456789012"));
    let report: serde_json::Value =
        serde_json::from_slice(&evaluate_fixture(None, &["--format", "json"]).stdout).unwrap();
    assert!(report["scan"]["scope"].get("prefix").is_none());
    assert!(report["scan"]["scope"].get("sample").is_none());
    assert_eq!(
        report["scan"]["scope"]["buckets"],
        serde_json::json!(["demo-kms-good", "demo-kms-pending-deletion"])
    );
    assert_schema_valid(&report);
}

#[test]
fn the_config_sha256_in_the_report_is_the_files() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let config =
        "# pinned\nrequired_object_mode = \"sse_s3\"\nallowed_kms_keys = [\"alias/app\"]\n";
    std::fs::write(dir.path().join("s3audit.toml"), config).unwrap();
    let want: String = sha2::Sha256::digest(config.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let args = ["evaluate", &fixture(), "--config", "s3audit.toml"];
    let json = run_in(dir.path(), &[&args[..], &["--format", "json"]].concat());
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    // Judged by this evaluate run, not by the scan: recorded as the evaluation's.
    let evaluation = &report["evaluation"];
    assert_eq!(
        evaluation["config"],
        serde_json::json!({"path": "s3audit.toml", "sha256": want})
    );
    assert_eq!(
        evaluation["rules"],
        serde_json::json!({"allowed_kms_keys": ["alias/app"], "required_object_mode": "sse_s3"})
    );
    assert_eq!(
        evaluation["command_line"],
        serde_json::json!([
            "s3audit",
            "evaluate",
            fixture(),
            "--config",
            "s3audit.toml",
            "--format",
            "json"
        ])
    );
    assert!(report["scan"].get("config").is_none(), "{}", report["scan"]);
    assert_schema_valid(&report);
    let table = one_line(&stdout(&run_in(
        dir.path(),
        &[&args[..], &["--format", "table"]].concat(),
    )));
    assert!(
        table.contains(&format!("config: s3audit.toml (sha256 {want})")),
        "{table}"
    );
    let html = stdout(&run_in(
        dir.path(),
        &[&args[..], &["--format", "html"]].concat(),
    ));
    assert!(html.contains(&format!("s3audit.toml (sha256 {want})")));

    // When the scan judges its own observations, the settings are the scan's.
    use s3audit::report::{ConfigSource, Report};
    let e = scoped_estate();
    let mut r = Report::new(&e, evaluate(&e, &RuleConfig::default()));
    let source = ConfigSource {
        path: "s3audit.toml".into(),
        sha256: want.clone(),
    };
    r.judged_with(&RuleConfig::default(), Some(source.clone()), None);
    assert_eq!(r.scan.config, Some(source));
    assert!(r.evaluation.is_none());
    assert_eq!(
        r.scan.rules.as_ref().unwrap().required_object_mode,
        SseMode::SseKms
    );
}

#[test]
fn an_old_snapshot_and_an_old_report_without_provenance_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut old: serde_json::Value =
        serde_json::from_str(&common::read(&common::repo_root().join(README_FIXTURE))).unwrap();
    let scan = old["scan"].as_object_mut().unwrap();
    for field in ["scope", "command_line", "tool_commit"] {
        scan.remove(field);
    }
    std::fs::write(dir.path().join("old.json"), old.to_string()).unwrap();
    let json = run_in(dir.path(), &["evaluate", "old.json", "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let whole: serde_json::Value =
        serde_json::from_slice(&evaluate_fixture(None, &["--format", "json"]).stdout).unwrap();
    assert_eq!(report["findings"], whole["findings"]);
    // What can be inferred is, and says so; the bucket selection is not invented.
    let scope = &report["scan"]["scope"];
    assert_eq!(scope["inferred"], true);
    assert_eq!(scope["object_source"], "head");
    assert_eq!(scope["regions"], serde_json::json!(["us-east-1"]));
    assert!(report["scan"].get("command_line").is_none());
    assert_schema_valid(&report);
    let table = one_line(&stdout(&run_in(
        dir.path(),
        &["evaluate", "old.json", "--format", "table"],
    )));
    assert!(
        table.contains("command: not recorded (a snapshot of an older s3audit)"),
        "{table}"
    );
    let html = stdout(&run_in(
        dir.path(),
        &["evaluate", "old.json", "--format", "html"],
    ));
    assert!(html.contains("not recorded (a snapshot of an older s3audit)"));

    // A report of an older s3audit, without any provenance field, still reads (diff).
    let mut old_report = whole.clone();
    old_report.as_object_mut().unwrap().remove("evaluation");
    let tool = old_report["tool"].as_object_mut().unwrap();
    tool.remove("commit");
    tool.remove("catalogue_sha256");
    let scan = old_report["scan"].as_object_mut().unwrap();
    for field in [
        "scope",
        "command_line",
        "tool_version",
        "tool_commit",
        "config",
        "rules",
    ] {
        scan.remove(field);
    }
    std::fs::write(dir.path().join("old-report.json"), old_report.to_string()).unwrap();
    let diff = run_in(dir.path(), &["diff", "old-report.json", "old.json"]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
}

#[test]
fn the_catalogue_hash_is_64_hex_and_changes_with_any_rule_file() {
    use s3audit::provenance::{catalogue_digest, catalogue_sha256};
    let report: serde_json::Value =
        serde_json::from_slice(&evaluate_fixture(None, &["--format", "json"]).stdout).unwrap();
    let hash = report["tool"]["catalogue_sha256"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    assert!(
        hash.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(hash, catalogue_sha256());

    // The same hash from the files on disk: nothing machine-specific goes in.
    let root = common::repo_root();
    let mut files: Vec<(String, String)> = Vec::new();
    for dir in ["rules", "rules/frameworks"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
                files.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    assert!(files.len() > 20, "{}", files.len());
    assert_eq!(catalogue_digest(files.clone()), hash);

    // One character of one rule file changes it.
    let i = files
        .iter()
        .position(|(n, _)| n == "rules/ENC-001.toml")
        .unwrap();
    files[i].1 = files[i].1.replacen("severity = \"", "severity  = \"", 1);
    assert_ne!(catalogue_digest(files), hash);
}

// Partitions: every ARN s3audit writes names the bucket's partition.

/// A bucket in China, one in GovCloud and one whose region could not be read in a scan
/// started in GovCloud: each finding's resource, each POL fix and each counterexample
/// names that bucket's partition, never `arn:aws:`.
#[test]
fn findings_fixes_and_counterexamples_name_the_buckets_partition() {
    let in_region = |name: &str, region: Observed<String>| BucketSnapshot {
        name: name.into(),
        region,
        policy: Observed::Absent,
        ..kms_bucket()
    };
    let mut e = estate(
        in_region("cn-bucket", Observed::Present("cn-north-1".into())),
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    e.buckets.push(in_region(
        "gov-bucket",
        Observed::Present("us-gov-west-1".into()),
    ));
    e.buckets.push(in_region(
        "unknown-region",
        Observed::Denied {
            reason: "AccessDenied".into(),
        },
    ));
    e.scan.region = "us-gov-east-1".into();
    let findings = evaluate(&e, &RuleConfig::default());
    for (bucket, partition) in [
        ("cn-bucket", "aws-cn"),
        ("gov-bucket", "aws-us-gov"),
        ("unknown-region", "aws-us-gov"),
    ] {
        let arn = format!("arn:{partition}:s3:::{bucket}");
        let mine: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.bucket.as_deref() == Some(bucket))
            .collect();
        assert!(!mine.is_empty());
        for f in &mine {
            assert_eq!(f.resource, arn, "{} on {bucket}", f.rule);
        }
        let pol1 = mine.iter().find(|f| f.rule == "POL-001").unwrap();
        assert_eq!(pol1.status, Status::Fail, "no policy: {}", pol1.message);
        assert!(
            pol1.remediation.contains(&format!("\"{arn}/*\"")),
            "{}",
            pol1.remediation
        );
        assert!(
            !pol1.remediation.contains("arn:aws:s3"),
            "{}",
            pol1.remediation
        );
        let resource = pol1.evidence["counterexample"]["resource"]
            .as_str()
            .unwrap();
        assert!(resource.starts_with(&arn), "{resource}");
    }
}

/// A multi-account snapshot (`scan --organization`): one account scanned, one whose role
/// could not be assumed, one suspended. Every finding and bucket names its account, the
/// report lists the three, the unassumable account has one ACC-001 `error` finding (no
/// bucket rule can speak for it) and a gap, so the exit is 3; the suspended account is
/// listed, not judged. The CSV's last column is the account; the table groups by account
/// and ends with the per-account roll-up.
#[test]
fn a_multi_account_snapshot_names_every_account_and_its_unreadable_one() {
    let mut bucket = kms_bucket();
    bucket.account = Some("111122223333".into());
    let mut e = estate(
        bucket,
        Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
    );
    let account = |id: &str, status: AccountStatus, error: Option<&str>| AccountInfo {
        id: Some(id.into()),
        name: Some(format!("acct-{id}")),
        ou_path: Some("Root/Prod".into()),
        status,
        error: error.map(str::to_string),
        rcps: None,
        disabled_regions: None,
    };
    e.scan.accounts = vec![
        account("111122223333", AccountStatus::Scanned, None),
        account(
            "444455556666",
            AccountStatus::Error,
            Some("cannot assume arn:aws:iam::444455556666:role/Audit: AccessDenied"),
        ),
        account(
            "777788889999",
            AccountStatus::Skipped,
            Some("SUSPENDED in the organization"),
        ),
    ];
    let findings = evaluate(&e, &RuleConfig::default());
    let acc: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == RuleId::Acc001)
        .collect();
    assert_eq!(acc.len(), 1, "{acc:#?}");
    assert_eq!(acc[0].status, Status::Error);
    assert_eq!(acc[0].account.as_deref(), Some("444455556666"));
    assert_eq!(acc[0].resource, "arn:aws:iam::444455556666:root");
    assert!(
        acc[0].message.contains("AccessDenied"),
        "{}",
        acc[0].message
    );
    assert!(
        findings
            .iter()
            .filter(|f| f.rule != RuleId::Acc001)
            .all(|f| f.account.as_deref() == Some("111122223333"))
    );
    assert!(
        e.gaps()
            .iter()
            .any(|g| g.starts_with("account 444455556666: not scanned")),
        "{:?}",
        e.gaps()
    );

    let report: serde_json::Value =
        serde_json::from_str(&evaluate_with_binary(&e, "json")).unwrap();
    let accounts = report["accounts"].as_array().unwrap();
    let statuses: Vec<(&str, &str)> = accounts
        .iter()
        .map(|a| (a["id"].as_str().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("111122223333", "scanned"),
            ("444455556666", "error"),
            ("777788889999", "skipped")
        ]
    );
    assert_eq!(report["buckets"][0]["account"], "111122223333");
    assert_eq!(report["scan"]["complete"], false);
    assert_schema_valid(&report);

    let csv_text = evaluate_with_binary(&e, "csv");
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(rdr.headers().unwrap().iter().next_back(), Some("account"));
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let acc_row = rows.iter().find(|r| &r[0] == "ACC-001").unwrap();
    assert_eq!(acc_row.iter().next_back(), Some("444455556666"));

    let table = evaluate_with_binary(&e, "table");
    let first = table.find("Account 111122223333 (acct-111122223333, Root/Prod)");
    let second = table.find("Account 444455556666");
    assert!(first.is_some() && second > first, "{table}");
    let rollup = &table[table.find("by account:").expect("a roll-up")..];
    assert!(
        one_line(rollup).contains("Account 777788889999 (acct-777788889999, Root/Prod): skipped (SUSPENDED in the organization)"),
        "{rollup}"
    );
    assert!(
        one_line(rollup).contains("Account 111122223333 (acct-111122223333, Root/Prod): 1 bucket;"),
        "{rollup}"
    );

    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("estate.json");
    std::fs::write(&snapshot, serde_json::to_vec(&e).unwrap()).unwrap();
    let out = common::s3audit()
        .args(["evaluate", snapshot.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

/// RCPs credit POL-001/002 only when they deny for every principal, action and bucket of
/// the account; otherwise the bucket's own verdict stands and says why the RCPs did not
/// count (not read, not enabled, not a valid policy, only for some actions). The verdicts
/// are the same through `evaluate` of the saved snapshot.
#[test]
fn rcps_credit_tls_rules_only_when_they_cover_the_account_and_say_why_not() {
    const TLS: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"NoHttp","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*",
         "Condition":{"BoolIfExists":{"aws:SecureTransport":"false"}}}]}"#;
    let attached = |id: &str, content: &str, managed: bool| AttachedRcp {
        id: id.into(),
        name: Some(format!("name-{id}")),
        attached_to: "Root/Prod".into(),
        aws_managed: managed,
        content: content.into(),
    };
    let chain = |policies: Vec<AttachedRcp>| {
        Observed::Present(RcpChain {
            enabled: true,
            policies,
        })
    };
    let cases: Vec<(Observed<RcpChain>, Status, &str)> = vec![
        (
            chain(vec![attached("p-tls", TLS, false)]),
            Status::Pass,
            "enforced for every bucket of account 111122223333 by its RCPs (name-p-tls at Root/Prod)",
        ),
        (
            Observed::Denied {
                reason: "ListPoliciesForTarget Root: AccessDenied".into(),
            },
            Status::Fail,
            "the account's RCPs could not be read (ListPoliciesForTarget Root: AccessDenied): the bucket policy alone was judged",
        ),
        (
            Observed::Present(RcpChain {
                enabled: false,
                policies: vec![],
            }),
            Status::Fail,
            "RCPs are not enabled",
        ),
        (
            chain(vec![attached("p-bad", "{", false)]),
            Status::Fail,
            "give no credit: p-bad (Root/Prod)",
        ),
        (
            chain(vec![attached(
                "p-reads",
                &TLS.replace(r#""Action":"s3:*""#, r#""Action":"s3:GetObject""#),
                false,
            )]),
            Status::Fail,
            "(name-p-reads at Root/Prod) give no credit: anonymous s3:PutObject",
        ),
    ];
    for (rcps, status, says) in cases {
        let mut bucket = kms_bucket();
        bucket.policy = Observed::Absent;
        bucket.account = Some("111122223333".into());
        let mut e = estate(
            bucket,
            Observed::Present(key_info(KeyState::Enabled, Observed::Present(true))),
        );
        let mut info = AccountInfo::single(Some("111122223333".into()));
        info.rcps = Some(rcps);
        e.scan.accounts = vec![info];
        let findings = evaluate(&e, &RuleConfig::default());
        let pol = findings.iter().find(|f| f.rule == RuleId::Pol001).unwrap();
        assert_eq!(pol.status, status, "{}", pol.message);
        assert!(pol.message.contains(says), "{says}\n{}", pol.message);
        let report: serde_json::Value =
            serde_json::from_str(&evaluate_with_binary(&e, "json")).unwrap();
        let f = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "POL-001")
            .unwrap();
        assert_eq!(f["message"].as_str().unwrap(), pol.message);
        if status == Status::Pass {
            assert_eq!(f["evidence"]["policies"][0]["id"], "p-tls", "{f}");
            assert_eq!(
                f["evidence"]["analysis"]["denied_by"][0], "\"NoHttp\"",
                "{f}"
            );
        }
    }
}
