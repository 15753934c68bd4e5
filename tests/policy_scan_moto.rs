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
