//! The policy corpus through the real scan path: each case's policy is put on its own
//! bucket in moto, read back by `s3audit scan` through the SDK, and must get the verdict
//! the corpus records (AWS's documented evaluation logic). Also: a policy that is not
//! JSON is an `error`, never a pass.

mod common;

use common::{Moto, bucket as bucket_of, bucket_names, finding, repo_root, scan_json, status_of};
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
    let account_entry = |name: &str| {
        report["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id(name).as_str())
            .unwrap()
            .clone()
    };
    // STS's answer on one line, as every SDK error is rendered: code, message, HTTP status
    // (moto's 400 where AWS answers 403). The SDK's Debug dump of the error metadata
    // (`Error { code: ..., aws_request_id: ... }`) followed it before.
    let role = format!("arn:aws:iam::{}:role/Audit", id("no-audit"));
    let refused = account_entry("no-audit")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        refused,
        format!(
            "cannot assume {role}: AccessDenied: User is not authorized to perform: sts:AssumeRole on resource: {role} (HTTP 400)"
        )
    );
    let acc_001 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "ACC-001")
        .unwrap();
    assert_eq!(
        acc_001["message"],
        format!(
            "account {} was not scanned: {refused}; its buckets are unknown",
            id("no-audit")
        )
        .as_str()
    );
    // Opt-in regions: dev-1 has disabled ap-east-1, so dev-1-hk is skipped (every finding
    // n/a, the account naming the region); pay-2 has too, but its role may not read the
    // regions' status, so the account says so and pay-2-hk is read, and the region's
    // refusals are its errors. Accounts with no bucket in an opt-in region were not asked.
    let why = format!(
        "region ap-east-1 is not enabled for account {} (DISABLED)",
        id("dev-1")
    );
    assert_eq!(bucket_of(&report, "dev-1-hk")["skipped"], why.as_str());
    for f in report["findings"].as_array().unwrap() {
        if f["bucket"] == "dev-1-hk" {
            assert_eq!(f["status"], "not_applicable", "{f}");
            assert!(f["message"].as_str().unwrap().contains(&why), "{f}");
        }
    }
    assert_eq!(
        account_entry("dev-1")["disabled_regions"],
        serde_json::json!({"status": "present", "value": ["ap-east-1"]})
    );
    let pay_2_regions = &account_entry("pay-2")["disabled_regions"];
    assert_eq!(pay_2_regions["status"], "denied", "{pay_2_regions}");
    assert!(
        pay_2_regions["value"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("ListRegions: AccessDeniedException"),
        "{pay_2_regions}"
    );
    assert!(bucket_of(&report, "pay-2-hk").get("skipped").is_none());
    assert_eq!(status_of(&report, "pay-2-hk", "ENC-001"), "error");
    assert!(
        finding(&report, "pay-2-hk", "ENC-001")["message"]
            .as_str()
            .unwrap()
            .contains("InvalidAccessKeyId"),
        "{}",
        finding(&report, "pay-2-hk", "ENC-001")
    );
    let gaps = report["scan"]["gaps"].as_array().unwrap();
    assert!(
        gaps.iter().any(|g| g
            .as_str()
            .unwrap()
            .contains("bucket pay-2-hk: default encryption not read")),
        "{gaps:?}"
    );
    assert!(
        !gaps
            .iter()
            .any(|g| g.as_str().unwrap().contains("dev-1-hk")),
        "{gaps:?}"
    );
    for name in ["management", "pay-1"] {
        assert!(
            account_entry(name).get("disabled_regions").is_none(),
            "{}",
            account_entry(name)
        );
    }

    // Each account's bucket, and only those: the refused account's was never listed.
    let owners = [
        ("mgmt-trail", "management"),
        ("pay-1-data", "pay-1"),
        ("pay-2-data", "pay-2"),
        ("pay-2-hk", "pay-2"),
        ("dev-1-logs", "dev-1"),
        ("dev-1-hk", "dev-1"),
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
    let names = bucket_names(&report);
    assert_eq!(names, ["pay-1-data", "pay-2-data", "pay-2-hk"]);
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
        assert_eq!(
            bucket_of(&report, bucket)["objects"]["total"],
            31,
            "{bucket}"
        );
    }
    assert!(took >= std::time::Duration::from_secs(4), "{took:?}");
}

/// A bucket in an opt-in region its account has disabled is reported, not failed (#13).
/// moto_server.py stands in for AWS (moto has no ListRegions): DisableRegion turns ap-east-1
/// off for moto's default account, ListRegions then says DISABLED, and S3 refuses every
/// request signed for ap-east-1 (403 InvalidAccessKeyId), as a disabled region's endpoint
/// does; GetBucketLocation from us-east-1 still names the region. Before, the bucket's facts
/// were the refusals: five `error` facts, a gap each, exit 3.
#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_in_an_opt_in_region_the_account_disabled_is_reported_not_failed() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let moto = Moto::start();
    let home = moto.s3("us-east-1").await;
    home.create_bucket()
        .bucket("home-data")
        .send()
        .await
        .unwrap();
    let hk = moto.s3("ap-east-1").await;
    hk.create_bucket()
        .bucket("hk-archive")
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from("ap-east-1"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (s3, bucket) in [(&home, "home-data"), (&hk, "hk-archive")] {
        for i in 0..3 {
            s3.put_object()
                .bucket(bucket)
                .key(format!("o/{i}"))
                .body(ByteStream::from_static(b"a"))
                .send()
                .await
                .unwrap();
        }
    }
    let account = aws_sdk_account::Client::new(&moto.sdk("us-east-1").await);
    account
        .disable_region()
        .region_name("ap-east-1")
        .send()
        .await
        .unwrap();

    let (code, report, out) = tokio::task::spawn_blocking({
        let endpoint = moto.endpoint.clone();
        move || scan_json(&endpoint, &["--fail-on", "critical"])
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Nothing critical fails and nothing is unknown: the skipped bucket is no gap.
    assert_eq!(code, 0, "{stderr}\n{}", report["scan"]);
    assert_eq!(report["scan"]["complete"], true, "{}", report["scan"]);
    let why = "region ap-east-1 is not enabled for account 123456789012 (DISABLED)";
    let hk_entry = bucket_of(&report, "hk-archive");
    assert_eq!(hk_entry["skipped"], why, "{hk_entry}");
    assert_eq!(hk_entry["region"], "ap-east-1");
    assert!(hk_entry.get("objects").is_none(), "not HEADed: {hk_entry}");
    let on_hk: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["bucket"] == "hk-archive")
        .collect();
    assert!(on_hk.len() >= 20, "one finding per rule: {}", on_hk.len());
    for f in on_hk {
        assert_eq!(f["status"], "not_applicable", "{f}");
        assert!(f["message"].as_str().unwrap().contains(why), "{f}");
    }
    // The other bucket is scanned as usual.
    let home_entry = bucket_of(&report, "home-data");
    assert!(home_entry.get("skipped").is_none(), "{home_entry}");
    assert_eq!(home_entry["objects"]["total"], 3, "{home_entry}");
    // Judged as usual: no default encryption, and moto's objects carry no SSE header (both
    // high, so below --fail-on critical).
    assert_eq!(status_of(&report, "home-data", "ENC-001"), "fail");
    assert_eq!(status_of(&report, "home-data", "OBJ-001"), "fail");
    assert_eq!(
        report["scan"]["scope"]["regions"],
        serde_json::json!(["us-east-1"])
    );
    // The account says which disabled region it met.
    let accounts = report["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(
        accounts[0]["disabled_regions"],
        serde_json::json!({"status": "present", "value": ["ap-east-1"]}),
        "{accounts:?}"
    );
    // Nothing but GetBucketLocation (from us-east-1) was asked of the skipped bucket.
    let asked: Vec<String> = moto
        .requests()
        .into_iter()
        .filter(|r| r.contains(" /hk-archive"))
        .filter(|r| !r.starts_with("PUT "))
        .collect();
    assert!(
        asked
            .iter()
            .all(|r| r.starts_with("GET /hk-archive/?location ")),
        "{asked:?}"
    );

    // The table says why under the bucket's heading and names the region for the account.
    let out = common::scan_at(&moto.endpoint)
        .args(["--format", "table", "--no-objects", "--fail-on", "critical"])
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(&format!("  not read: {why}")), "{table}");
    assert!(
        table.contains(
            "account 123456789012: regions not enabled: ap-east-1 (its buckets there not read)"
        ),
        "{table}"
    );
}

/// Every `arn:` in `value`'s strings (members' names too), with the JSON path it was found
/// at: whole strings (`resource`), and ARNs inside text (remediation statements, messages,
/// counterexample principals). An ARN starts where `arn:` follows a character that cannot
/// be part of a word, so "learn:" is not one.
fn arns_in(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => arns_in_text(s, path, out),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                arns_in(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(members) => {
            for (name, member) in members {
                let at = format!("{path}.{name}");
                arns_in_text(name, &at, out);
                arns_in(member, &at, out);
            }
        }
        _ => {}
    }
}

/// The ARNs inside one string (see [`arns_in`]), each up to the first space, quote or
/// comma.
fn arns_in_text(text: &str, at: &str, out: &mut Vec<(String, String)>) {
    for (i, _) in text.match_indices("arn:") {
        let boundary = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
        if boundary {
            let end = text[i..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '`'))
                .map_or(text.len(), |n| i + n);
            out.push((at.to_string(), text[i..end].to_string()));
        }
    }
}

/// Issue #13: a scan in China and one in GovCloud, through moto and the real SDK, write
/// every ARN (finding resources, key ARNs in object counts and key findings, remediation
/// statements, counterexamples, the snapshot's facts) in the bucket's partition, never
/// `arn:aws:`. Per partition: a bucket with an SSE-KMS default under a customer managed
/// key of that region (named by bare key id, so s3audit canonicalises it), a policy that
/// fails POL-001 (an Allow, no TLS deny: a counterexample and a fix), objects under the
/// key (by ARN, and by the default) and one under SSE-KMS with no key named (the AWS
/// managed key, resolved as `alias/aws/s3` in the bucket's region); and a bucket with no
/// encryption configuration whose policy refuses plain HTTP and old TLS (passes that carry
/// the catalogue's generic fix, and a POL-004 fix with no key known). moto keeps one S3 store per partition (ListBuckets from
/// cn-north-1 sees only the China buckets, as in AWS) and builds its KMS ARNs and default
/// key policies with the region's partition, so every ARN here is one s3audit wrote or
/// read back from a partition-correct server.
#[tokio::test(flavor = "multi_thread")]
async fn every_arn_of_a_china_and_a_govcloud_scan_names_its_partition() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption,
    };
    let moto = Moto::start();
    for (region, partition, prefix) in [
        ("cn-north-1", "aws-cn", "cn"),
        ("us-gov-west-1", "aws-us-gov", "gov"),
    ] {
        let s3 = moto.s3(region).await;
        let kms = moto.kms(region).await;
        let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
        let key_arn = key.arn.clone().unwrap();
        assert!(
            key_arn.starts_with(&format!("arn:{partition}:kms:{region}:")),
            "moto's key ARN: {key_arn}"
        );
        kms.create_alias()
            .alias_name(format!("alias/{prefix}-data"))
            .target_key_id(&key.key_id)
            .send()
            .await
            .unwrap();
        let (kms_bucket, plain_bucket) = (format!("{prefix}-kms-data"), format!("{prefix}-plain"));
        for bucket in [&kms_bucket, &plain_bucket] {
            s3.create_bucket()
                .bucket(bucket)
                .create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region))
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("create {bucket} in {region}: {e:?}"));
        }
        common::put_kms_default_key(&s3, &kms_bucket, Some(&key.key_id)).await;
        let bucket_arns = |bucket: &str| {
            [
                format!("arn:{partition}:s3:::{bucket}"),
                format!("arn:{partition}:s3:::{bucket}/*"),
            ]
        };
        let deny_all_when = |condition: Value| {
            serde_json::json!({
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": bucket_arns(&plain_bucket),
                "Condition": condition,
            })
        };
        // The KMS bucket's policy only allows a reader (POL-001 fails: a counterexample and
        // a fix). The plain bucket's refuses plain HTTP and TLS < 1.2: its POL-001/002
        // pass, and a pass carries the catalogue's generic fix, which must name the
        // partition too.
        let policies = [
            (
                &kms_bucket,
                serde_json::json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "Readers",
                        "Effect": "Allow",
                        "Principal": {"AWS": format!("arn:{partition}:iam::123456789012:root")},
                        "Action": "s3:GetObject",
                        "Resource": bucket_arns(&kms_bucket)[1],
                    }],
                }),
            ),
            (
                &plain_bucket,
                serde_json::json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        deny_all_when(serde_json::json!({"Bool": {"aws:SecureTransport": "false"}})),
                        deny_all_when(serde_json::json!({"NumericLessThan": {"s3:TlsVersion": "1.2"}})),
                    ],
                }),
            ),
        ];
        for (bucket, policy) in policies {
            s3.put_bucket_policy()
                .bucket(bucket)
                .policy(policy.to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("put the policy of {bucket}: {e:?}"));
        }
        for (bucket, object, sse, key_id) in [
            (
                &kms_bucket,
                "by-arn",
                Some(ServerSideEncryption::AwsKms),
                Some(key_arn.as_str()),
            ),
            (&kms_bucket, "by-default", None, None),
            (
                &plain_bucket,
                "aws-managed",
                Some(ServerSideEncryption::AwsKms),
                None,
            ),
            (&plain_bucket, "plain", None, None),
        ] {
            s3.put_object()
                .bucket(bucket)
                .key(object)
                .body(ByteStream::from_static(b"x"))
                .set_server_side_encryption(sse)
                .set_ssekms_key_id(key_id.map(str::to_string))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {bucket}/{object}: {e:?}"));
        }

        let dir = tempfile::tempdir().unwrap();
        let snapshot = dir.path().join("estate.json");
        let (code, report, out) = tokio::task::spawn_blocking({
            let endpoint = moto.endpoint.clone();
            let args = [
                "--region".to_string(),
                region.to_string(),
                "--save-snapshot".to_string(),
                snapshot.to_str().unwrap().to_string(),
            ];
            move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                scan_json(&endpoint, &args)
            }
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code, 1, "{region}: {stderr}");
        assert_eq!(report["scan"]["complete"], true, "{region}: {stderr}");
        let mut names = bucket_names(&report);
        names.sort();
        assert_eq!(
            names,
            [kms_bucket.as_str(), plain_bucket.as_str()],
            "{region}"
        );
        // What the ARNs below come from is there: the failing policy's counterexample and
        // fix, the plain bucket's failure, both keys in the object counts.
        let pol1 = finding(&report, &kms_bucket, "POL-001");
        assert_eq!(pol1["status"], "fail", "{pol1}");
        assert!(!pol1["evidence"]["counterexample"].is_null(), "{pol1}");
        assert!(
            pol1["remediation"].as_str().unwrap().contains("arn:"),
            "{pol1}"
        );
        assert_eq!(status_of(&report, &plain_bucket, "ENC-001"), "fail");
        for rule in ["POL-001", "POL-002"] {
            assert_eq!(status_of(&report, &plain_bucket, rule), "pass", "{rule}");
        }

        let snapshot: Value = serde_json::from_str(&common::read(&snapshot)).unwrap();
        let mut arns = Vec::new();
        arns_in(&report, "report", &mut arns);
        let in_report = arns.len();
        arns_in(&snapshot, "snapshot", &mut arns);
        let wrong: Vec<String> = arns
            .iter()
            .filter(|(_, arn)| !arn.starts_with(&format!("arn:{partition}:")))
            .map(|(at, arn)| format!("{at}: {arn}"))
            .collect();
        assert!(
            wrong.is_empty(),
            "{region}: ARNs outside {partition}:\n{}",
            wrong.join("\n")
        );
        // Not vacuous: every kind of ARN the report writes was there to be checked.
        assert!(
            in_report >= 50,
            "{region}: only {in_report} ARNs in the report"
        );
        for (what, needle) in [
            (
                "bucket resources",
                format!("arn:{partition}:s3:::{plain_bucket}"),
            ),
            ("the customer managed key", key_arn.clone()),
            (
                "the AWS managed key",
                format!("arn:{partition}:kms:{region}:"),
            ),
            ("principals", format!("arn:{partition}:iam::")),
            (
                "object resources",
                format!("arn:{partition}:s3:::{kms_bucket}/"),
            ),
        ] {
            assert!(
                arns[..in_report]
                    .iter()
                    .any(|(_, a)| a.starts_with(&needle)),
                "{region}: no {what} ({needle}) among {:#?}",
                &arns[..in_report]
            );
        }
        let managed = arns[..in_report]
            .iter()
            .filter(|(_, a)| {
                a.starts_with(&format!("arn:{partition}:kms:")) && !a.starts_with(&key_arn)
            })
            .count();
        assert!(managed > 0, "{region}: the AWS managed key is not named");
    }
}
