//! `s3audit check-policy`: a policy document judged before it is deployed, with the same
//! finding shape as `scan`, a concrete request for every fail, and a remediation that
//! actually fixes it.

mod common;

use std::path::Path;

use common::s3audit;
use serde_json::Value;

const HALF_TLS_POLICY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*",
 "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}"#;

fn check(dir: &Path, policy: &str, extra: &[&str]) -> (i32, Value, String) {
    let file = dir.join("policy.json");
    std::fs::write(&file, policy).unwrap();
    let out = s3audit()
        .args([
            "check-policy",
            file.to_str().unwrap(),
            "--bucket",
            "b",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), report, stderr)
}

fn pol<'a>(report: &'a Value, rule: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {report}"))
}

/// The merged policy a failing finding's remediation carries.
fn merged_policy(finding: &Value) -> String {
    let text = finding["remediation"].as_str().unwrap();
    text[text.find('{').expect("a JSON policy in the remediation")..].to_string()
}

#[test]
fn a_get_only_tls_deny_fails_with_a_request_that_gets_through() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report, _) = check(dir.path(), HALF_TLS_POLICY, &[]);
    assert_eq!(code, 1, "POL-001 is high");
    let f = pol(&report, "POL-001");
    assert_eq!(f["status"], "fail");
    assert_eq!(f["resource"], "arn:aws:s3:::b");
    let cx = &f["evidence"]["counterexample"];
    assert_ne!(
        cx["action"], "s3:GetObject",
        "GetObject is denied: the witness must be another action"
    );
    assert_eq!(cx["context"]["aws:SecureTransport"], "false");
    assert!(
        f["message"].as_str().unwrap().contains("gets through"),
        "{f}"
    );
    // Every rule of the family reports, passes and n/a included.
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["POL-001", "POL-002", "POL-003", "POL-004", "POL-005"]
    );
}

/// A GovCloud bucket's policy is judged in aws-us-gov, the partition its ARNs name (before,
/// in the commercial one: its TLS Deny covered no request and POL-001 failed); `--fix`
/// writes its statements there too; and `--help` says how the partition is chosen.
#[test]
fn a_policy_is_judged_in_the_partition_its_arns_name() {
    let dir = tempfile::tempdir().unwrap();
    let gov = HALF_TLS_POLICY
        .replace("arn:aws:", "arn:aws-us-gov:")
        .replace("\"s3:GetObject\"", "\"s3:*\"")
        .replace(
            "\"arn:aws-us-gov:s3:::b/*\"",
            "[\"arn:aws-us-gov:s3:::b\",\"arn:aws-us-gov:s3:::b/*\"]",
        );
    let (_, report, stderr) = check(dir.path(), &gov, &[]);
    let f = pol(&report, "POL-001");
    assert_eq!(f["status"], "pass", "{f} {stderr}");
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["resource"], "arn:aws-us-gov:s3:::b", "{f}");
    }
    let out = s3audit()
        .args([
            "check-policy",
            dir.path().join("policy.json").to_str().unwrap(),
        ])
        .args(["--bucket", "b", "--fix"])
        .output()
        .unwrap();
    let fixed = String::from_utf8_lossy(&out.stdout);
    assert!(fixed.contains("arn:aws-us-gov:s3:::b/*"), "{fixed}");
    assert!(!fixed.contains("arn:aws:"), "{fixed}");
    let help = s3audit()
        .args(["check-policy", "--help"])
        .env("COLUMNS", "2000")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Partition: every ARN written")
            && help.contains("write yours in your partition"),
        "{help}"
    );
}

#[test]
fn applying_the_remediations_makes_every_rule_pass() {
    let dir = tempfile::tempdir().unwrap();
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let flags = ["--default-sse", "sse-kms", "--default-kms-key", key];
    let mut policy = HALF_TLS_POLICY.to_string();
    // Apply each failing finding's merged policy in turn, as a user would.
    for _ in 0..4 {
        let (_, report, stderr) = check(dir.path(), &policy, &flags);
        let failing: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap_or_else(|| panic!("no report: {stderr}"))
            .iter()
            .filter(|f| f["status"] == "fail")
            .collect();
        match failing.first() {
            Some(f) => policy = merged_policy(f),
            None => break,
        }
    }
    let (code, report, _) = check(dir.path(), &policy, &flags);
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["status"], "pass", "{f}");
    }
    assert_eq!(code, 0);
    // The original statement is kept.
    assert!(policy.contains("s3:GetObject"), "{policy}");
}

#[test]
fn a_tls_version_floor_alone_does_not_refuse_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let floor = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*",
      "Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"NumericLessThan":{"s3:TlsVersion":"1.2"}}}]}"#;
    let (_, report, _) = check(dir.path(), floor, &[]);
    assert_eq!(pol(&report, "POL-002")["status"], "pass");
    assert_eq!(
        pol(&report, "POL-001")["status"],
        "fail",
        "s3:TlsVersion is absent on plain HTTP"
    );
}

#[test]
fn invalid_documents_are_one_line_errors_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (doc, needle) in [
        (
            "{\"Statement\": [{\"Effect\": \"Permit\"}]}",
            "Statement[0].Effect must be \"Allow\" or \"Deny\", found \"Permit\"",
        ),
        ("{\"Statement\": [", "invalid policy"),
        ("", "invalid policy"),
        ("[1, 2]", "invalid policy"),
    ] {
        let (code, report, stderr) = check(dir.path(), doc, &[]);
        assert_eq!(code, 2, "{doc:?}: {stderr}");
        assert!(report.is_null(), "nothing on stdout");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(needle), "{doc:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
    let out = s3audit()
        .args(["check-policy", "/nonexistent/p.json", "--bucket", "b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read policy /nonexistent/p.json")
    );
}

/// `--kind rcp`: the RCPs on an account's path, judged for every bucket of the account.
#[test]
fn resource_control_policies_are_judged_for_every_bucket_of_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let tls = r#"{"Version":"2012-10-17","Statement":[{"Sid":"EnforceSecureTransport","Effect":"Deny","Principal":"*","Action":["sts:*","s3:*","sqs:*","secretsmanager:*","kms:*"],"Resource":"*","Condition":{"BoolIfExists":{"aws:SecureTransport":"false"}}}]}"#;
    let floor = r#"{"Version":"2012-10-17","Statement":[{"Sid":"EnforceS3TlsVersion","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"NumericLessThan":{"s3:TlsVersion":"1.2"}}}]}"#;
    let root = dir.path().join("root.json");
    let ou = dir.path().join("ou.json");
    std::fs::write(&root, tls).unwrap();
    std::fs::write(&ou, floor).unwrap();
    let run = |files: &[&Path], extra: &[&str]| {
        let out = s3audit()
            .args(["check-policy", "--kind", "rcp", "--format", "json"])
            .args(files)
            .args(extra)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code().unwrap(),
            report,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // The floor alone: plain HTTP gets through (s3:TlsVersion is absent on HTTP).
    let (code, report, stderr) = run(&[&ou], &[]);
    assert_eq!(code, 1, "{stderr}");
    let f = pol(&report, "POL-001");
    assert_eq!(f["status"], "fail");
    assert!(f["bucket"].is_null(), "{f}");
    assert!(f["resource"].as_str().unwrap().starts_with("RCPs ("), "{f}");
    assert_eq!(
        f["evidence"]["counterexample"]["context"]["aws:SecureTransport"],
        "false"
    );
    assert!(
        f["remediation"]
            .as_str()
            .unwrap()
            .contains("aws organizations update-policy"),
        "{f}"
    );
    assert_eq!(pol(&report, "POL-002")["status"], "pass");
    assert_eq!(report["buckets"].as_array().unwrap().len(), 0);
    // Root and OU together enforce both, across every bucket.
    let (code, report, stderr) = run(&[&root, &ou], &[]);
    assert_eq!(code, 0, "{stderr}");
    for rule in ["POL-001", "POL-002"] {
        let f = pol(&report, rule);
        assert_eq!(f["status"], "pass", "{f}");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("every bucket and object of the account"),
            "{f}"
        );
    }
    assert_eq!(report["findings"].as_array().unwrap().len(), 2);
    // An RCP for some buckets only does not enforce anything account-wide.
    let some = dir.path().join("some.json");
    std::fs::write(
        &some,
        tls.replace(
            r#""Resource":"*""#,
            r#""Resource":["arn:aws:s3:::prod-*","arn:aws:s3:::prod-*/*"]"#,
        ),
    )
    .unwrap();
    let (code, report, _) = run(&[&some, &ou], &[]);
    assert_eq!(code, 1);
    assert_eq!(pol(&report, "POL-001")["status"], "fail");
    // --bucket makes no sense for an RCP; a broken RCP is named.
    let (code, _, stderr) = run(&[&root], &["--bucket", "b"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--bucket does not apply to --kind rcp"),
        "{stderr}"
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{").unwrap();
    let (code, _, stderr) = run(&[&root, &broken], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("broken.json"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// `--fix`: AWS's classic "AES256 only" policy, fixed for SSE-KMS in one document: the
/// conflicting statement replaced (merging the POL-003 fix beside it would deny every
/// upload), every rule passing on the result, which is the policy document alone.
#[test]
fn fix_prints_one_policy_that_resolves_every_rule_without_a_lockout() {
    let dir = tempfile::tempdir().unwrap();
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let classic = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"DenyIncorrectEncryptionHeader","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
 {"Sid":"DenyUnEncryptedObjectUploads","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}]}"#;
    let file = dir.path().join("policy.json");
    std::fs::write(&file, classic).unwrap();
    let out = s3audit()
        .args([
            "check-policy",
            file.to_str().unwrap(),
            "--bucket",
            "b",
            "--fix",
        ])
        .args(["--allowed-kms-key", key])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // stdout is the policy alone, ready for put-bucket-policy.
    let fixed: Value = serde_json::from_slice(&out.stdout).expect("stdout is the policy");
    let text = fixed.to_string();
    assert!(!text.contains("DenyIncorrectEncryptionHeader"), "{text}");
    assert!(text.contains("DenyUnEncryptedObjectUploads"), "{text}");
    assert!(text.contains(key), "pinned by ARN: {text}");
    assert!(
        stderr.contains("removed \"DenyIncorrectEncryptionHeader\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("every POL rule passes on the fixed policy"),
        "{stderr}"
    );
    // Re-checked independently: every rule, the lockout rule included, passes.
    let fixed_file = dir.path().join("fixed.json");
    std::fs::write(&fixed_file, &out.stdout).unwrap();
    let again = s3audit()
        .args([
            "check-policy",
            fixed_file.to_str().unwrap(),
            "--bucket",
            "b",
            "--format",
            "json",
        ])
        .args(["--allowed-kms-key", key])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["status"], "pass", "{f}");
    }
    // The one-rule remediation merged alone into the original is the lockout POL-005 names.
    let (_, report, _) = check(dir.path(), classic, &["--allowed-kms-key", key]);
    let merged = merged_policy(pol(&report, "POL-003"));
    let (_, report, _) = check(dir.path(), &merged, &["--allowed-kms-key", key]);
    assert_eq!(pol(&report, "POL-003")["status"], "pass");
    assert_eq!(pol(&report, "POL-005")["status"], "fail");
    // Fixing a fixed policy changes nothing.
    let out = s3audit()
        .args([
            "check-policy",
            fixed_file.to_str().unwrap(),
            "--bucket",
            "b",
            "--fix",
        ])
        .args(["--allowed-kms-key", key])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, std::fs::read(&fixed_file).unwrap());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to change"));
    // The fixed policy is a document, not a report: written to any path, whatever its
    // extension (a report to `*.iam` would be refused).
    let target = dir.path().join("bucket-policy.iam");
    let out = s3audit()
        .args([
            "check-policy",
            fixed_file.to_str().unwrap(),
            "--bucket",
            "b",
            "--fix",
        ])
        .args([
            "--allowed-kms-key",
            key,
            "--output",
            target.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(common::read(&target), common::read(&fixed_file));
}

/// `--kind key-policy`: a key policy judged on KMS-004 and KMS-005 for the key it protects.
#[test]
fn a_key_policy_is_judged_for_outside_use_and_destruction() {
    let dir = tempfile::tempdir().unwrap();
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let public = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
      {"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}"#;
    let file = dir.path().join("key-policy.json");
    std::fs::write(&file, public).unwrap();
    let out = s3audit()
        .args([
            "check-policy",
            "--kind",
            "key-policy",
            file.to_str().unwrap(),
        ])
        .args(["--key-arn", key, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "KMS-004 is high");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = pol(&report, "KMS-004");
    assert_eq!(f["status"], "fail");
    assert_eq!(f["resource"], key);
    assert!(f["message"].as_str().unwrap().contains("anonymous"), "{f}");
    assert_eq!(pol(&report, "KMS-005")["status"], "pass");
    // The key ARN is required, and must be one.
    let out = s3audit()
        .args([
            "check-policy",
            "--kind",
            "key-policy",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key-arn"));
    let out = s3audit()
        .args([
            "check-policy",
            "--kind",
            "key-policy",
            file.to_str().unwrap(),
        ])
        .args(["--key-arn", "alias/mine"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// --- Several documents, directories and SARIF -----------------------------------------------

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// `check-policy` run from the repository's root (so SARIF URIs are relative to it) on
/// `paths` for bucket `b` with SSE-KMS by default, as the policy fixtures are written for.
fn check_in_repo(paths: &[&str], extra: &[&str]) -> std::process::Output {
    s3audit()
        .current_dir(common::repo_root())
        .arg("check-policy")
        .args(paths)
        .args([
            "--bucket",
            "b",
            "--default-sse",
            "sse-kms",
            "--default-kms-key",
            KEY,
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// The 1-based line of `needle` in a fixture, found by reading the file line by line.
fn line_of(file: &str, needle: &str) -> u64 {
    let text = common::read(&common::repo_root().join(file));
    let i = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in {file}"));
    i as u64 + 1
}

/// The line of the statement with this Sid: its opening brace, the line before the Sid in
/// these pretty-printed fixtures (checked).
fn statement_line(file: &str, sid: &str) -> u64 {
    let line = line_of(file, &format!("\"Sid\": \"{sid}\"")) - 1;
    let text = common::read(&common::repo_root().join(file));
    assert_eq!(
        text.lines().nth(line as usize - 1).unwrap().trim(),
        "{",
        "{file}: the statement {sid} opens on the line before its Sid"
    );
    line
}

const POLICIES: &str = "tests/fixtures/policies";
const TERRAFORM: &str = "tests/fixtures/policies/terraform/logs-bucket-policy.json";
const CLOUDFORMATION: &str = "tests/fixtures/policies/cloudformation/bucket-policy.json";
const PASSING: &str = "tests/fixtures/policies/passing.json";
const INVALID: &str = "tests/fixtures/policies/invalid.json";

/// The SARIF log of a directory of policies, as code scanning receives it: valid against
/// the OASIS schema, one result per failing finding at the line of the statement it is
/// about, the invalid document reported where its problem is, nothing for the passing one,
/// and the same fingerprints on every run.
#[test]
fn a_sarif_log_of_a_policy_directory_points_at_each_statement() {
    let out = check_in_repo(&[POLICIES], &["--format", "sarif"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "an invalid document: {stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "s3audit: invalid policy {INVALID}: Statement[1].Effect must be \"Allow\" or \"Deny\", found \"Permit\""
        )
    );
    let log: Value = serde_json::from_slice(&out.stdout).expect("the log is written");

    // The schema as published, but for one character: its pattern for a language tag
    // (run.language, toolComponent.language), `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`,
    // has a stray `]`, which the meta-schema's "regex" format refuses (ECMA-262 in Unicode
    // mode has no lone `]`), so the schema would not compile. Escaped, it means what regex
    // engines already read it as, a literal `]`; a log of ours names no language anyway.
    // Formats are asserted (draft-07), so URIs are checked too.
    let published =
        common::read(&common::repo_root().join("tests/fixtures/sarif-schema-2.1.0.json"));
    let stray = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    assert_eq!(published.matches(stray).count(), 2, "the published pattern");
    let schema: Value = serde_json::from_str(
        &published.replace(stray, r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$""#),
    )
    .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // The validator does look: a log without results' required message is refused.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(!validator.is_valid(&broken));
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        "my policy.json".into();
    assert!(!validator.is_valid(&broken), "a URI is checked");

    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["name"], "s3audit");
    let results = run["results"].as_array().unwrap();
    let found: Vec<(String, String, String, u64)> = results
        .iter()
        .map(|r| {
            let location = &r["locations"][0]["physicalLocation"];
            assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
            // A relative reference of RFC 3986: unreserved, sub-delims, `/`, `%XX` only.
            let uri = location["artifactLocation"]["uri"].as_str().unwrap();
            assert!(
                uri.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=/%@".contains(c)),
                "{uri}"
            );
            (
                location["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["ruleId"].as_str().unwrap().to_string(),
                r["level"].as_str().unwrap().to_string(),
                location["region"]["startLine"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = |file: &str, rule: &str, level: &str, line: u64| {
        (file.to_string(), rule.to_string(), level.to_string(), line)
    };
    let member_tf = line_of(TERRAFORM, "\"Statement\"");
    assert_eq!(
        found,
        [
            // POL-002: the TLS Deny whose condition does not cover TLS 1.0.
            expected(
                CLOUDFORMATION,
                "POL-002",
                "note",
                statement_line(CLOUDFORMATION, "DenyInsecureTransport")
            ),
            // POL-005: the first of the two statements that lock out every upload.
            expected(
                CLOUDFORMATION,
                "POL-005",
                "error",
                statement_line(CLOUDFORMATION, "DenyIncorrectEncryptionHeader")
            ),
            // Where the problem is: the statement whose Effect is wrong.
            expected(
                INVALID,
                "INVALID-POLICY",
                "error",
                statement_line(INVALID, "Typo")
            ),
            // POL-001, POL-002: the Deny that refuses plain HTTP for GetObject only.
            expected(
                TERRAFORM,
                "POL-001",
                "error",
                statement_line(TERRAFORM, "DenyInsecureGets")
            ),
            expected(
                TERRAFORM,
                "POL-002",
                "note",
                statement_line(TERRAFORM, "DenyInsecureGets")
            ),
            // No Deny applies to uploads at all: the "Statement" member.
            expected(TERRAFORM, "POL-003", "warning", member_tf),
            expected(TERRAFORM, "POL-004", "note", member_tf),
        ]
    );
    assert!(
        !found.iter().any(|(uri, ..)| uri == PASSING),
        "a passing document has no result"
    );
    // The other locking statement is a related location.
    let lockout = &results[1];
    assert_eq!(
        lockout["relatedLocations"][0]["physicalLocation"]["region"]["startLine"],
        statement_line(CLOUDFORMATION, "DenyUploadsWithoutKms")
    );
    assert!(
        lockout["message"]["text"]
            .as_str()
            .unwrap()
            .contains("locks out every upload")
    );
    // A fail carries the request that gets through and the merged policy.
    let pol1 = &results[3];
    assert_eq!(
        pol1["properties"]["counterexample"]["context"]["aws:SecureTransport"],
        "false"
    );
    assert!(
        pol1["properties"]["remediation"]
            .as_str()
            .unwrap()
            .contains("S3AuditDenyInsecureTransport")
    );
    // One descriptor per rule used, with the catalog's words; results index them.
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        assert!(!rule["help"]["text"].as_str().unwrap().is_empty(), "{rule}");
    }
    let pol5 = rules.iter().find(|r| r["id"] == "POL-005").unwrap();
    assert_eq!(pol5["properties"]["security-severity"], "8.0");
    assert_eq!(
        pol5["shortDescription"]["text"],
        "Bucket policy does not lock out every upload or read"
    );
    let pol3 = rules.iter().find(|r| r["id"] == "POL-003").unwrap();
    assert_eq!(pol3["properties"]["security-severity"], "5.5");
    assert!(
        pol3["properties"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().starts_with("NIST")),
        "{pol3}"
    );

    // Fingerprints: one per result, the same on the next run.
    let fingerprints = |log: &Value| -> Vec<String> {
        log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["partialFingerprints"]["s3audit/v1"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let first = fingerprints(&log);
    let mut unique = first.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), first.len(), "{first:?}");
    let again = check_in_repo(&[POLICIES], &["--format", "sarif"]);
    assert_eq!(
        fingerprints(&serde_json::from_slice(&again.stdout).unwrap()),
        first
    );

    // Valid documents only: exit 1 for the failures; the passing one alone: exit 0, no results.
    let out = check_in_repo(
        &[TERRAFORM, CLOUDFORMATION, PASSING],
        &["--format", "sarif"],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = check_in_repo(&[PASSING], &["--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

/// `--output x.sarif` chooses SARIF for check-policy (scan and evaluate refuse it:
/// tests/cli_errors.rs), written whole, or not at all when the input is refused.
#[test]
fn a_sarif_output_file_is_chosen_by_its_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policies.sarif");
    let out = check_in_repo(&[TERRAFORM], &["--output", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let log: Value = serde_json::from_str(&common::read(&path)).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 4);
    // The table and JSON refuse an invalid document before writing anything.
    let json = dir.path().join("report.json");
    let out = check_in_repo(&[TERRAFORM, INVALID], &["--output", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!json.exists());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("invalid policy {INVALID}: Statement[1].Effect")),
        "{stderr}"
    );
}

/// Several documents in the other formats: each judged on its own, its findings naming its
/// file; a directory is every *.json under it, in path order, hidden ones not walked.
#[test]
fn several_documents_each_get_their_own_findings_in_every_format() {
    let out = check_in_repo(&[TERRAFORM, PASSING], &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 10, "five POL rules per document");
    for (i, f) in findings.iter().enumerate() {
        let file = if i < 5 { TERRAFORM } else { PASSING };
        assert_eq!(f["resource"], file, "{f}");
        assert!(f["bucket"].is_null());
    }
    assert!(findings[5..].iter().all(|f| f["status"] == "pass"));
    assert_eq!(report["buckets"][0]["name"], "b");
    // CSV: the same, one row per finding.
    let out = check_in_repo(&[TERRAFORM, PASSING], &["--format", "csv"]);
    let csv = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        csv.lines().filter(|l| l.contains(PASSING)).count(),
        5,
        "{csv}"
    );
    // One FILE keeps today's shape: the resource is the bucket.
    let out = check_in_repo(&[PASSING], &["--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["resource"], "arn:aws:s3:::b");

    // A directory, walked.
    let dir = tempfile::tempdir().unwrap();
    let passing = common::read(&common::repo_root().join(PASSING));
    for name in [
        "b.json",
        "a/c.JSON",
        "a/z/d.json",
        ".terraform/x.json",
        "notes.txt",
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &passing).unwrap();
    }
    std::fs::write(
        dir.path().join(".terraform/x.json"),
        "{\"not\": \"a policy\"}",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not JSON").unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let run = |args: &[&Path]| {
        let out = s3audit()
            .arg("check-policy")
            .args(args)
            .args([
                "--bucket",
                "b",
                "--default-sse",
                "sse-kms",
                "--default-kms-key",
                KEY,
            ])
            .args(["--format", "json"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code().unwrap(),
            report,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // `b.json` named again through the directory is read once.
    let (code, report, stderr) = run(&[dir.path(), &dir.path().join("b.json")]);
    assert_eq!(code, 0, "{stderr}");
    let mut files: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource"].as_str().unwrap().to_string())
        .collect();
    files.dedup();
    let d = dir.path().display();
    assert_eq!(
        files,
        [
            format!("{d}/a/c.JSON"),
            format!("{d}/a/z/d.json"),
            format!("{d}/b.json")
        ]
    );
    // A directory with nothing to check is a usage error, not a silent pass.
    let (code, _, stderr) = run(&[&dir.path().join("empty")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no *.json file in directory"), "{stderr}");
    // A file that is not even text: exit 2 naming it; in SARIF, a result at its start.
    std::fs::create_dir(dir.path().join("binary")).unwrap();
    std::fs::write(dir.path().join("binary/x.json"), [0xff, 0xfe, b'{']).unwrap();
    let (code, report, stderr) = run(&[&dir.path().join("binary")]);
    assert_eq!((code, report), (2, Value::Null));
    assert!(stderr.contains("x.json: not UTF-8 text"), "{stderr}");
    let out = s3audit()
        .arg("check-policy")
        .arg(dir.path().join("binary"))
        .args(["--bucket", "b", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "INVALID-POLICY");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    // --fix takes one document.
    let out = s3audit()
        .arg("check-policy")
        .arg(dir.path())
        .args(["--bucket", "b", "--fix"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fix takes one policy file"));
}

/// RCPs in SARIF: the documents of a directory are one chain, and a finding points at the
/// statement in whichever document holds it.
#[test]
fn an_rcp_chain_in_sarif_points_into_the_document_that_falls_short() {
    let dir = tempfile::tempdir().unwrap();
    let floor = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"EnforceS3TlsVersion\", \"Effect\": \"Deny\", \"Principal\": \"*\", \"Action\": \"s3:*\", \"Resource\": \"*\",\n      \"Condition\": {\"NumericLessThan\": {\"s3:TlsVersion\": \"1.2\"}}\n    }\n  ]\n}\n";
    let other = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"DenyDeletes\", \"Effect\": \"Deny\", \"Principal\": \"*\", \"Action\": \"s3:DeleteBucket\", \"Resource\": \"*\"}]}";
    std::fs::create_dir(dir.path().join("rcps")).unwrap();
    std::fs::write(dir.path().join("rcps/ou.json"), floor).unwrap();
    std::fs::write(dir.path().join("rcps/root.json"), other).unwrap();
    let out = s3audit()
        .current_dir(dir.path())
        .args(["check-policy", "--kind", "rcp", "rcps", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "POL-001 fails, POL-002 passes");
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "rcps/ou.json");
    assert_eq!(location["region"]["startLine"], 4);
    // Either document broken: the chain has no verdict, the broken one is the result.
    std::fs::write(dir.path().join("rcps/root.json"), "{\"Statement\": [}").unwrap();
    let out = s3audit()
        .current_dir(dir.path())
        .args(["check-policy", "--kind", "rcp", "rcps", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "INVALID-POLICY");
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "rcps/root.json");
    assert_eq!(location["region"]["startColumn"], 16);
}
