//! The policy corpus through the real scan path: each case's policy is put on its own
//! bucket in moto, read back by `s3audit scan` through the SDK, and must get the verdict
//! the corpus records (AWS's documented evaluation logic). Also: a policy that is not
//! JSON is an `error`, never a pass.

mod common;

use common::{Moto, finding, repo_root, scan_json, status_of};
use serde_json::Value;

/// Points a policy written for bucket `b` at `bucket`: `arn:aws:s3:::b` followed by `/`,
/// `"`, `*` or `?` (so `arn:aws:s3:::bb` is left alone).
fn retarget(policy: &str, bucket: &str) -> String {
    let needle = "arn:aws:s3:::b";
    let mut out = String::new();
    let mut rest = policy;
    while let Some(i) = rest.find(needle) {
        let after = &rest[i + needle.len()..];
        out.push_str(&rest[..i]);
        if after.starts_with(['/', '"', '*', '?']) {
            out.push_str("arn:aws:s3:::");
            out.push_str(bucket);
        } else {
            out.push_str(needle);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn corpus_verdicts_hold_through_a_real_scan() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    let mut cases = Vec::new();
    let mut dir: Vec<_> = std::fs::read_dir(repo_root().join("tests/policy_corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    dir.sort();
    for path in dir {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // Cases that need facts a scan derives differently (allowed keys, blocked SSE-C,
        // a named default key) are covered by the corpus test itself.
        let default = case["default_sse"].as_str().unwrap_or("none");
        if case["bucket"] != "b"
            || case
                .get("allowed_keys")
                .is_some_and(|v| !v.as_array().unwrap().is_empty())
            || case["blocked_sse_c"] == true
            || case.get("default_kms_key").is_some()
            || !matches!(default, "none" | "sse-kms")
        {
            continue;
        }
        let Some(policy) = case.get("policy").filter(|p| p.is_object()) else {
            continue;
        };
        // `arn:aws:s3:::?` matches one-character bucket names only: tied to the name `b`.
        if policy.to_string().contains(":::?") {
            continue;
        }
        let name = format!("pc-{}", &path.file_stem().unwrap().to_string_lossy()[..3]);
        s3.create_bucket().bucket(&name).send().await.unwrap();
        let text = retarget(&serde_json::to_string(policy).unwrap(), &name);
        if s3
            .put_bucket_policy()
            .bucket(&name)
            .policy(text)
            .send()
            .await
            .is_err()
        {
            continue; // moto refuses some valid documents; the corpus test covers them
        }
        if default == "sse-kms" {
            common::put_kms_default(&s3, &name).await;
        }
        cases.push((
            name,
            path.file_name().unwrap().to_string_lossy().to_string(),
            case,
        ));
    }
    assert!(
        cases.len() >= 40,
        "only {} corpus cases seeded",
        cases.len()
    );

    let (_, report, _) = tokio::task::spawn_blocking({
        let endpoint = moto.endpoint.clone();
        move || scan_json(&endpoint, &["--no-objects"])
    })
    .await
    .unwrap();
    let mut mismatches = Vec::new();
    for (bucket, file, case) in &cases {
        for rule in ["POL-001", "POL-002", "POL-003"] {
            let Some(want) = case["expect"][rule].as_str() else {
                continue;
            };
            let got = status_of(&report, bucket, rule);
            if got != want {
                mismatches.push(format!(
                    "{file} {rule}: scan says {got}, corpus says {want}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unparseable_policy_is_an_error_naming_the_problem() {
    let moto = Moto::start();
    let s3 = moto.s3("us-east-1").await;
    s3.create_bucket().bucket("garbled").send().await.unwrap();
    // moto stores what it is given, as a misbehaving store might.
    s3.put_bucket_policy()
        .bucket("garbled")
        .policy("{\"Version\": \"2012-10-17\", \"Statement\": [")
        .send()
        .await
        .unwrap();
    let (code, report, _) = tokio::task::spawn_blocking({
        let endpoint = moto.endpoint.clone();
        move || scan_json(&endpoint, &["--no-objects"])
    })
    .await
    .unwrap();
    for rule in ["POL-001", "POL-002", "POL-003"] {
        assert_eq!(status_of(&report, "garbled", rule), "error", "{rule}");
    }
    let f = finding(&report, "garbled", "POL-001");
    assert!(
        f["message"].as_str().unwrap().contains("line 1"),
        "names the position: {f}"
    );
    assert_eq!(
        report["scan"]["complete"], true,
        "the policy was read; it is the policy that is broken"
    );
    assert_eq!(
        code, 1,
        "the missing TLS-only policy etc. still fail other rules"
    );
}

/// A whole organization in one run (`scan --organization --role-name Audit`) on moto: the
/// management account, two OUs, four member accounts with buckets created through roles
/// assumed in them, one account without the Audit role (moto_server.py refuses AssumeRole
/// of a role that does not exist, as AWS does) and one closed account. Per account: its
/// status and OU path, its bucket and verdicts; the unassumable account is one ACC-001
/// error and the exit is 3; the closed account is skipped. moto lets any credentials read
/// any bucket by name, so its log of the account behind every S3 request proves that each
/// bucket was read through its own account's role and the refused account's never was.
#[test]
fn an_organization_is_scanned_account_by_account_through_each_accounts_role() {
    let moto = Moto::start_logging_accounts();
    let seeded: Value = serde_json::from_str(&moto.run_fixture("org_estate.py")).unwrap();
    let id = |name: &str| seeded["accounts"][name].as_str().unwrap().to_string();
    let before = moto.s3_accounts().len();
    let (code, report, out) = scan_json(
        &moto.endpoint,
        &[
            "--organization",
            "--role-name",
            "Audit",
            "--no-objects",
            "--fail-on",
            "critical",
        ],
    );
    // No critical failure, so the account in error decides: incomplete (a high failure
    // would make it 1, which comes first).
    assert_eq!(code, 3, "{}", String::from_utf8_lossy(&out.stderr));

    let accounts: Vec<(String, String, String)> = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
                a["ou_path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("management", "scanned", "Root"),
        ("pay-1", "scanned", "Root/Prod"),
        ("pay-2", "scanned", "Root/Prod"),
        ("dev-1", "scanned", "Root/Dev"),
        ("no-audit", "error", "Root/Dev"),
        ("closed", "skipped", "Root/Dev"),
    ];
    let mut want: Vec<(String, String, String)> = expected
        .iter()
        .map(|(n, s, p)| (id(n), s.to_string(), p.to_string()))
        .collect();
    let mut got = accounts.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let no_audit = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id("no-audit").as_str())
        .unwrap();
    assert!(
        no_audit["error"].as_str().unwrap().contains("AccessDenied"),
        "{no_audit}"
    );

    // Each account's bucket, and only those: the refused account's was never listed.
    let owners = [
        ("mgmt-trail", "management"),
        ("pay-1-data", "pay-1"),
        ("pay-2-data", "pay-2"),
        ("dev-1-logs", "dev-1"),
    ];
    let mut buckets: Vec<(String, String)> = report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_string(),
                b["account"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    buckets.sort();
    let mut want: Vec<(String, String)> =
        owners.iter().map(|(b, a)| (b.to_string(), id(a))).collect();
    want.sort();
    assert_eq!(buckets, want);
    for f in report["findings"].as_array().unwrap() {
        match f["bucket"].as_str() {
            Some(bucket) => {
                let owner = owners.iter().find(|(b, _)| *b == bucket).unwrap().1;
                assert_eq!(f["account"], id(owner).as_str(), "{f}");
            }
            None => {
                assert_eq!(f["rule"], "ACC-001", "{f}");
                assert_eq!(f["status"], "error");
                assert_eq!(f["account"], id("no-audit").as_str());
            }
        }
    }
    let acc = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "ACC-001")
        .count();
    assert_eq!(acc, 1);
    // Verdicts per account: only pay-2's bucket lacks default encryption; pay-1's policy
    // refuses plain HTTP, and Prod's RCP refuses it for every bucket of pay-2 (which has no
    // policy); Dev's RCP covers reads only, and the management account has only the
    // AWS-managed Allow.
    for (bucket, enc, tls) in [
        ("mgmt-trail", "pass", "fail"),
        ("pay-1-data", "pass", "pass"),
        ("pay-2-data", "fail", "pass"),
        ("dev-1-logs", "pass", "fail"),
    ] {
        assert_eq!(status_of(&report, bucket, "ENC-001"), enc, "{bucket}");
        assert_eq!(status_of(&report, bucket, "POL-001"), tls, "{bucket}");
    }
    // The RCP credit names the policy and where it is attached; the TLS floor too.
    let enforce = seeded["policies"]["EnforceTls"].as_str().unwrap();
    for rule in ["POL-001", "POL-002"] {
        let f = finding(&report, "pay-2-data", rule);
        assert_eq!(f["status"], "pass", "{f}");
        let policies = f["evidence"]["policies"].as_array().unwrap();
        assert!(
            policies
                .iter()
                .any(|p| p["id"] == enforce && p["attached_to"] == "Root/Prod"),
            "{f}"
        );
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("EnforceTls at Root/Prod"),
            "{f}"
        );
    }
    // No credit, and the finding says why: an RCP for reads only; only an Allow.
    let dev = finding(&report, "dev-1-logs", "POL-001");
    let message = dev["message"].as_str().unwrap();
    assert!(
        message.contains("TlsForReadsOnly at Root/Dev") && message.contains("give no credit"),
        "{dev}"
    );
    let mgmt = finding(&report, "mgmt-trail", "POL-001");
    assert!(
        mgmt["message"]
            .as_str()
            .unwrap()
            .contains("only AWS-managed ones apply, which deny nothing"),
        "{mgmt}"
    );
    assert!(!message.contains("RCPFullAWSAccess"), "{dev}");
    // The accounts array carries each chain, AWS-managed Allow included.
    let pay_2 = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id("pay-2").as_str())
        .unwrap();
    let chain = &pay_2["rcps"]["value"];
    assert_eq!(chain["enabled"], true, "{pay_2}");
    let attached: Vec<&str> = chain["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["attached_to"].as_str().unwrap())
        .collect();
    assert!(
        attached.contains(&"Root") && attached.contains(&"Root/Prod"),
        "{attached:?}"
    );

    // Every S3 request of the scan on a bucket came with its owner's credentials.
    let requests = moto.s3_accounts().split_off(before);
    for (bucket, owner) in owners {
        let on_bucket: Vec<&(String, String, String)> = requests
            .iter()
            .filter(|(_, _, path)| path.trim_start_matches('/').split('/').next() == Some(bucket))
            .collect();
        assert!(!on_bucket.is_empty(), "{bucket} was not read");
        for (account, method, path) in on_bucket {
            assert_eq!(account, &id(owner), "{method} {path}");
        }
    }
    assert!(
        !requests
            .iter()
            .any(|(a, _, p)| a == &id("no-audit") || p.contains("no-audit-secret")),
        "the refused account was read"
    );

    // From an OU down (--ou): its accounts only, their OU path and RCP chain still from the
    // root (ancestors read with ListParents), so Prod's RCP still credits pay-2-data.
    let prod = seeded["ous"]["Prod"].as_str().unwrap();
    let (_, report, _) = scan_json(
        &moto.endpoint,
        &[
            "--organization",
            "--ou",
            prod,
            "--role-name",
            "Audit",
            "--no-objects",
        ],
    );
    let names: Vec<&str> = report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pay-1-data", "pay-2-data"]);
    assert_eq!(status_of(&report, "pay-2-data", "POL-001"), "pass");
    assert_eq!(report["accounts"][0]["ou_path"], "Root/Prod");

    // The same through a list of accounts: the refused one is an error, the other scanned.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.csv");
    std::fs::write(
        &file,
        format!("id,name\n{},payments\n{}\n", id("pay-1"), id("no-audit")),
    )
    .unwrap();
    let (code, report, _) = scan_json(
        &moto.endpoint,
        &[
            "--accounts",
            file.to_str().unwrap(),
            "--role-arn-template",
            "arn:{partition}:iam::{account}:role/Audit",
            "--no-objects",
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(code, 3);
    let statuses: Vec<(&str, &str)> = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or(""),
                a["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses, [("payments", "scanned"), ("", "error")]);
    assert_eq!(report["buckets"].as_array().unwrap().len(), 1);
    assert_eq!(report["buckets"][0]["name"], "pay-1-data");

    // The accounts share one object budget: --max-rps caps the run, not each account. Four
    // scanned buckets of 31 objects, four accounts at once, 30 requests/s: at least 124
    // HEADs, less a burst of 3, take 4 s (with a budget per account, 1 s each and in
    // parallel: 1.5 s for the whole scan before this was shared).
    let started = std::time::Instant::now();
    let (_, report, _) = scan_json(
        &moto.endpoint,
        &[
            "--organization",
            "--role-name",
            "Audit",
            "--account-concurrency",
            "4",
            "--max-rps",
            "30",
        ],
    );
    let took = started.elapsed();
    for bucket in ["mgmt-trail", "pay-1-data", "pay-2-data", "dev-1-logs"] {
        let objects = report["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == bucket)
            .unwrap()["objects"]["total"]
            .clone();
        assert_eq!(objects, 31, "{bucket}");
    }
    assert!(took >= std::time::Duration::from_secs(4), "{took:?}");
}
