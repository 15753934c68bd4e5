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
