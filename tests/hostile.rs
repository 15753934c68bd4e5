//! Against a hostile endpoint: fakes3 with [`fakes3::Hostile`] faults, which no honest S3
//! sends. Each test is a case where s3audit used to report "complete", "encrypted" or
//! "pass" for something it did not see, or hang; it must now say what it could not see.

mod common;

use std::time::{Duration, Instant};

use common::{finding, status_of};
use fakes3::{BucketSpec, Config, DefaultEncryption, Hostile, ListingFault, Mode, ModeMix};
use serde_json::Value;

/// Runs the binary on a blocking thread so the in-process fake keeps serving.
async fn scan(endpoint: &str, extra: &[&str]) -> (i32, Value, String) {
    let endpoint = endpoint.to_string();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let (code, report, out) = common::scan_json(&endpoint, &extra);
        (
            code,
            report,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn objects(report: &Value, bucket: &str) -> Value {
    report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == bucket)
        .unwrap_or_else(|| panic!("no bucket {bucket} in {report}"))["objects"]
        .clone()
}

fn gaps(report: &Value) -> Vec<String> {
    report["scan"]["gaps"]
        .as_array()
        .map(|g| g.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// A bucket of SSE-S3 objects big enough for three listing pages, plus an honest one.
fn two_buckets(hostile: Hostile, versions: u32) -> Config {
    Config::new(5)
        .bucket(
            BucketSpec::new("liar", 2_500)
                .versions(versions)
                .mix(ModeMix::only(Mode::SseS3)),
        )
        .bucket(BucketSpec::new("honest", 40).mix(ModeMix::only(Mode::SseS3)))
        .hostile(Hostile {
            listing_buckets: vec!["liar".into()],
            ..hostile
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_lies_is_an_error_never_a_complete_count() {
    let faults = [
        (ListingFault::RepeatToken, "loops"),
        (ListingFault::TruncatedWithoutToken, "names no next page"),
        (ListingFault::CutBody, "stopped after 0 pages"),
        (ListingFault::Cycle, "cannot be trusted"),
        (ListingFault::Malformed, "stopped after 0 pages"),
    ];
    for versions in [1, 2] {
        for (fault, why) in faults {
            let config = two_buckets(
                Hostile {
                    listing: Some(fault),
                    ..Hostile::default()
                },
                versions,
            );
            let server = fakes3::start(config).await.unwrap();
            // One stream: the liar lies from its second page on, and parallel parts of a
            // 2,500-key bucket are one page each (partition.rs proves parts exact).
            let mut args = vec![
                "--fail-on",
                "critical",
                "--max-attempts",
                "2",
                "--list-parallelism",
                "1",
            ];
            if versions > 1 {
                args.push("--versions");
            }
            let started = Instant::now();
            let (code, report, stderr) = scan(&server.endpoint(), &args).await;
            let case = format!("{fault:?}, versions={versions}");
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{case}: took {:?}",
                started.elapsed()
            );
            assert_eq!(code, 3, "{case}: exit 3 for an incomplete scan; {stderr}");
            assert_eq!(report["scan"]["complete"], false, "{case}");
            for rule in ["OBJ-001", "OBJ-005", "OBJ-006"] {
                assert_eq!(status_of(&report, "liar", rule), "error", "{case}: {rule}");
            }
            // The SSE-S3 objects counted before the listing broke already fail OBJ-002
            // (below SSE-KMS); it can never pass.
            assert_ne!(status_of(&report, "liar", "OBJ-002"), "pass", "{case}");
            let message = finding(&report, "liar", "OBJ-006")["message"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(message.contains(why), "{case}: {message}");
            let call = if versions > 1 {
                "ListObjectVersions"
            } else {
                "ListObjectsV2"
            };
            assert!(message.contains(call), "{case}: names the call: {message}");
            assert!(
                gaps(&report)
                    .iter()
                    .any(|g| g.starts_with("bucket liar: object listing incomplete")),
                "{case}: {:?}",
                gaps(&report)
            );
            // The scan went on with the other bucket, which is complete and exact.
            assert_eq!(status_of(&report, "honest", "OBJ-006"), "pass", "{case}");
            assert_eq!(objects(&report, "honest")["sse_s3"], 40, "{case}");
            server.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_listing_stops_at_the_timeout_and_says_so() {
    for versions in [1, 2] {
        let config = two_buckets(
            Hostile {
                listing: Some(ListingFault::Endless),
                ..Hostile::default()
            },
            versions,
        );
        let server = fakes3::start(config).await.unwrap();
        // One stream: the endless pages ignore the delimiter a parallel lister asks with
        // (which it reports as a listing that cannot be trusted).
        let mut args = vec![
            "--fail-on",
            "critical",
            "--timeout",
            "4s",
            "--list-parallelism",
            "1",
        ];
        if versions > 1 {
            args.push("--versions");
        }
        let started = Instant::now();
        let (code, report, stderr) = scan(&server.endpoint(), &args).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(30), "took {took:?}");
        assert_eq!(code, 3, "{stderr}");
        assert_eq!(report["scan"]["complete"], false);
        let f = finding(&report, "liar", "OBJ-006");
        assert_eq!(f["status"], "error");
        assert!(
            f["message"].as_str().unwrap().contains("--timeout of 4s"),
            "{f}"
        );
        // Thousands of endless objects were read and counted before the deadline.
        assert!(objects(&report, "liar")["total"].as_u64().unwrap() > 1_000);
        assert!(
            gaps(&report).iter().any(|g| g.contains("--timeout of 4s")),
            "{:?}",
            gaps(&report)
        );
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_costs_bounded_time_and_is_reported() {
    let config = Config::new(6)
        .bucket(BucketSpec::new("silent", 10).mix(ModeMix::only(Mode::SseKms)))
        .hostile(Hostile {
            hang: vec!["GetBucketPolicy".into(), "HeadObject".into()],
            ..Hostile::default()
        });
    let server = fakes3::start(config).await.unwrap();
    let started = Instant::now();
    let (code, report, stderr) = scan(
        &server.endpoint(),
        &[
            "--request-timeout",
            "1s",
            "--max-attempts",
            "2",
            "--fail-on",
            "critical",
        ],
    )
    .await;
    let took = started.elapsed();
    // Two attempts of one second per request, plus backoff, for the policy and for the
    // ten HEADs in parallel.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(status_of(&report, "silent", "POL-001"), "error");
    let f = finding(&report, "silent", "OBJ-006");
    assert_eq!(f["status"], "fail", "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("no answer within 1s"),
        "{f}"
    );
    assert_eq!(objects(&report, "silent")["unreadable"], 10);
    assert!(
        gaps(&report)
            .iter()
            .any(|g| g.starts_with("bucket silent: bucket policy not read")),
        "{:?}",
        gaps(&report)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_values_s3_does_not_document_are_unknown_not_encrypted() {
    // (Leading and trailing blanks are not tried: HTTP strips them from header values.)
    let values: [&[u8]; 5] = [
        b"aws:fancy",
        b"aes256",
        b"",
        b"\xffAES256",
        b"AES256, AES256",
    ];
    for raw in values {
        let config = Config::new(7)
            .bucket(BucketSpec::new("odd", 30).mix(ModeMix::only(Mode::SseS3)))
            .hostile(Hostile {
                sse_s3_header: Some(raw.to_vec()),
                ..Hostile::default()
            });
        let server = fakes3::start(config).await.unwrap();
        for via in ["direct", "sdk"] {
            let case = format!("{:?} via {via}", String::from_utf8_lossy(raw));
            let (code, report, stderr) = scan(
                &server.endpoint(),
                &["--head-via", via, "--fail-on", "critical"],
            )
            .await;
            let counts = objects(&report, "odd");
            if via == "sdk" && std::str::from_utf8(raw).is_err() {
                // The SDK refuses a header that is not UTF-8: unreadable, which is no
                // pass either.
                assert_eq!(counts["unreadable"], 30, "{case}: {counts}");
            } else {
                assert_eq!(counts["unknown"], 30, "{case}: {counts}");
                assert_eq!(counts["sse_s3"], 0, "{case}: never folded into SSE-S3");
                let f = finding(&report, "odd", "OBJ-001");
                assert_eq!(f["status"], "error", "{case}: {f}");
                assert!(
                    f["message"].as_str().unwrap().contains("does not document"),
                    "{case}: {f}"
                );
                let seen: Vec<&String> = f["evidence"]["unknown_values"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .collect();
                assert_eq!(seen.len(), 1, "{case}: {f}");
                if let Ok(text) = std::str::from_utf8(raw) {
                    assert_eq!(seen[0], text, "{case}: the raw value is kept exactly");
                }
            }
            assert_eq!(status_of(&report, "odd", "OBJ-002"), "error", "{case}");
            assert_eq!(code, 3, "{case}: {stderr}");
            assert_eq!(report["scan"]["complete"], false, "{case}");
        }
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_documented_value_the_fake_never_sends_is_still_recognised() {
    let config = Config::new(7)
        .bucket(BucketSpec::new("fsx", 12).mix(ModeMix::only(Mode::SseS3)))
        .hostile(Hostile {
            sse_s3_header: Some(b"aws:fsx".to_vec()),
            ..Hostile::default()
        });
    let server = fakes3::start(config).await.unwrap();
    let (_, report, _) = scan(&server.endpoint(), &[]).await;
    let counts = objects(&report, "fsx");
    assert_eq!(counts["sse_fsx"], 12, "{counts}");
    assert_eq!(counts["unknown"], 0);
    assert_eq!(status_of(&report, "fsx", "OBJ-001"), "pass");
    // Encrypted, but not under a KMS key: below the default required mode.
    assert_eq!(status_of(&report, "fsx", "OBJ-002"), "fail");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_sse_c_only_when_a_ranged_get_confirms_it() {
    // Honest: SSE-C objects are confirmed, one GET each, no more.
    let config = Config::new(8).bucket(BucketSpec::new("mixed", 50).mix(ModeMix::uniform()));
    let expected = config.expected("mixed");
    let server = fakes3::start(config).await.unwrap();
    for via in ["direct", "sdk"] {
        server.reset_stats();
        let (_, report, stderr) = scan(&server.endpoint(), &["--head-via", via]).await;
        assert_eq!(
            objects(&report, "mixed"),
            serde_json::to_value(expected.current).unwrap(),
            "{via}: {stderr}"
        );
        assert_eq!(
            server.stats().op("GetObject"),
            expected.current.sse_c,
            "{via}: one ranged GET per SSE-C object"
        );
        assert!(server.stats().read_only());
    }
    server.shutdown().await;

    // Hostile: SSE-S3 objects answer HEAD with 400, but a GET returns their data.
    let config = Config::new(8)
        .bucket(BucketSpec::new("mixed", 50).mix(ModeMix::uniform()))
        .hostile(Hostile {
            head_400_for_sse_s3: true,
            ..Hostile::default()
        });
    let server = fakes3::start(config).await.unwrap();
    for via in ["direct", "sdk"] {
        let (code, report, _) = scan(&server.endpoint(), &["--head-via", via]).await;
        let counts = objects(&report, "mixed");
        assert_eq!(counts["sse_c"], expected.current.sse_c, "{via}: {counts}");
        assert_eq!(counts["sse_s3"], 0, "{via}");
        assert_eq!(counts["unreadable"], expected.current.sse_s3, "{via}");
        let f = finding(&report, "mixed", "OBJ-006");
        assert!(
            f["message"].as_str().unwrap().contains("not SSE-C"),
            "{via}: {f}"
        );
        assert_eq!(code, 1, "OBJ-006 fails (high)");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_encryption_s3_does_not_document_never_passes() {
    let bodies = [
        (
            "unknown algorithm",
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES512</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
        ),
        (
            "no algorithm",
            "<ServerSideEncryptionConfiguration><Rule><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>",
        ),
        (
            "cut short",
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlg",
        ),
    ];
    for (case, body) in bodies {
        let config = Config::new(9)
            .bucket(
                BucketSpec::new("enc", 1)
                    .default_encryption(DefaultEncryption::sse_s3())
                    .mix(ModeMix::only(Mode::SseS3)),
            )
            .hostile(Hostile {
                encryption_body: Some(body.to_string()),
                ..Hostile::default()
            });
        let server = fakes3::start(config).await.unwrap();
        let (code, report, stderr) = scan(
            &server.endpoint(),
            &["--no-objects", "--fail-on", "critical"],
        )
        .await;
        for rule in ["ENC-001", "ENC-002"] {
            assert_eq!(
                status_of(&report, "enc", rule),
                "error",
                "{case}: {rule}: {}",
                finding(&report, "enc", rule)
            );
        }
        if case == "cut short" {
            let m = finding(&report, "enc", "ENC-001")["message"].to_string();
            assert!(m.contains("GetBucketEncryption"), "names the call: {m}");
        }
        assert_eq!(code, 3, "{case}: {stderr}");
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_and_alias_listings_that_lie_are_gaps() {
    let config = Config::new(10)
        .bucket(BucketSpec::new("kept", 3).mix(ModeMix::only(Mode::SseKms)))
        .hostile(Hostile {
            list_buckets: Some(ListingFault::RepeatToken),
            list_aliases: Some(ListingFault::RepeatToken),
            extra_bucket_names: vec!["../etc".into(), "has space".into(), "x".repeat(300)],
            ..Hostile::default()
        });
    let server = fakes3::start(config).await.unwrap();
    let (code, report, stderr) = scan(&server.endpoint(), &["--fail-on", "critical"]).await;
    assert_eq!(code, 3, "{stderr}");
    let gaps = gaps(&report);
    assert!(
        gaps.iter()
            .any(|g| g.starts_with("ListBuckets page 2") && g.contains("loops")),
        "{gaps:?}"
    );
    for bad in ["\"../etc\"", "\"has space\""] {
        assert!(
            gaps.iter()
                .any(|g| g.contains("could never have created") && g.contains(bad)),
            "{bad}: {gaps:?}"
        );
    }
    assert!(
        gaps.iter()
            .any(|g| g.starts_with("KMS key ") && g.contains("aliases not read")),
        "{gaps:?}"
    );
    // The bucket the first page named was scanned; the invalid names never were.
    assert_eq!(objects(&report, "kept")["sse_kms"], 3);
    let names: Vec<&str> = report["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kept"]);
    assert_eq!(server.stats().unknown, 0, "{:?}", server.stats().rejected);
    server.shutdown().await;
}

/// Each cause of an incomplete scan on its own gives exit 3 and a named gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cause_of_an_incomplete_scan_has_exit_3_and_a_reason() {
    // A bucket every rule passes on: KMS default with a Bucket Key, SSE-C blocked, a
    // policy that denies plain HTTP, old TLS, non-KMS uploads and other keys.
    let key = "arn:aws:kms:us-east-1:123456789012:key/cccccccc-0000-4000-8000-000000000003";
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::clean","arn:aws:s3:::clean/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}},
        {{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::clean","arn:aws:s3:::clean/*"],"Condition":{{"NumericLessThan":{{"s3:TlsVersion":"1.2"}}}}}},
        {{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::clean/*","Condition":{{"StringNotEqualsIfExists":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{key}"}}}}}},
        {{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::clean/*","Condition":{{"StringNotEqualsIfExists":{{"s3:x-amz-server-side-encryption":"aws:kms"}}}}}}
        ]}}"#
    );
    let clean = || {
        let mut enc = DefaultEncryption::kms(Some(key.to_string()));
        enc.bucket_key = true;
        enc.block_sse_c = true;
        let mut b = BucketSpec::new("clean", 20)
            .mix(ModeMix::only(Mode::SseKms))
            .kms_keys([key])
            .default_encryption(enc)
            .policy(policy.clone());
        b.bucket_key = true;
        b
    };
    // The baseline: nothing fails, nothing is missing.
    let server = fakes3::start(Config::new(12).bucket(clean()))
        .await
        .unwrap();
    let (code, report, _) = scan(&server.endpoint(), &[]).await;
    let failing: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "pass" && f["status"] != "not_applicable")
        .collect();
    assert!(failing.is_empty(), "baseline: {failing:#?}");
    assert_eq!(code, 0);
    assert_eq!(report["scan"]["complete"], true);
    server.shutdown().await;

    let mut unread_fact = clean();
    unread_fact.denied_operations = vec!["GetBucketVersioning".into()];
    let mut bad_policy = clean();
    bad_policy.policy = Some("{not json".into());
    let cases = [
        (
            "a fact no rule uses could not be read",
            unread_fact,
            "bucket clean: versioning not read: GetBucketVersioning: AccessDenied",
        ),
        ("an error finding in a complete listing", bad_policy, ""),
        (
            "unreadable objects",
            clean().denied(2),
            "bucket clean: 2 of 20 objects could not be read",
        ),
    ];
    for (case, bucket, gap) in cases {
        let server = fakes3::start(Config::new(12).bucket(bucket)).await.unwrap();
        let (code, report, stderr) = scan(&server.endpoint(), &["--fail-on", "critical"]).await;
        assert_eq!(code, 3, "{case}: {stderr}");
        if gap.is_empty() {
            // Read in full, but not decidable: an error finding, the scan itself whole.
            assert_eq!(status_of(&report, "clean", "POL-001"), "error", "{case}");
            assert_eq!(report["scan"]["complete"], true, "{case}");
        } else {
            assert_eq!(report["scan"]["complete"], false, "{case}");
            let gaps = gaps(&report);
            assert!(gaps.iter().any(|g| g.starts_with(gap)), "{case}: {gaps:?}");
        }
        server.shutdown().await;
    }
}
