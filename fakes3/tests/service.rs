//! Faults, latency, stats, bucket configuration, KMS and STS.

mod common;

use std::time::{Duration, Instant};

use common::{Client, blocks, encode, first, top};
use fakes3::{
    BucketSpec, Config, DefaultEncryption, Faults, KeyState, KmsKeySpec, Latency, Mode, ModeMix,
    PublicAccessBlock, SseAlgorithm, Stats,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_occur_at_the_configured_rate_and_are_transient() {
    let faults = Faults {
        slowdown_503: 0.10,
        internal_500: 0.05,
        reset: 0.05,
        all_operations: false,
    };
    let cfg = Config::new(77)
        .bucket(BucketSpec::new("flaky", 3000).mix(ModeMix::only(Mode::SseS3)))
        .faults(faults);
    let keys: Vec<String> = cfg.keys("flaky").unwrap().collect();
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    let (mut attempts, mut s503, mut s500, mut resets, mut max_tries) = (0u64, 0u64, 0u64, 0u64, 0);
    for key in &keys {
        let mut tries = 0;
        loop {
            tries += 1;
            attempts += 1;
            assert!(tries <= 20, "{key} never succeeded");
            match c
                .try_request("HEAD", &format!("/flaky/{}", encode(key, true)), &[], b"")
                .await
            {
                Err(_) => resets += 1,
                Ok(r) => {
                    assert!(r.body.is_empty());
                    match r.status {
                        200 => break,
                        503 => s503 += 1,
                        500 => s500 += 1,
                        s => panic!("status {s}"),
                    }
                }
            }
        }
        max_tries = max_tries.max(tries);
    }
    let rate = |n: u64| n as f64 / attempts as f64;
    assert!(
        (0.08..0.12).contains(&rate(s503)),
        "503 rate {}",
        rate(s503)
    );
    assert!(
        (0.035..0.065).contains(&rate(s500)),
        "500 rate {}",
        rate(s500)
    );
    assert!(
        (0.035..0.065).contains(&rate(resets)),
        "reset rate {}",
        rate(resets)
    );
    assert!(max_tries > 1);
    let st = server.stats();
    assert_eq!(st.faults.slowdown_503, s503);
    assert_eq!(st.faults.internal_500, s500);
    assert_eq!(st.faults.reset, resets);
    assert_eq!(st.op("HeadObject"), attempts);
    assert_eq!(st.status(200), keys.len() as u64);

    // listings are faulted too, with S3 XML error bodies; paging through still works
    let mut token = String::new();
    let mut listed = 0;
    let mut saw_xml_error = false;
    loop {
        let t = format!(
            "/flaky?list-type=2&max-keys=100&continuation-token={}",
            encode(&token, false)
        );
        let t = if token.is_empty() {
            "/flaky?list-type=2&max-keys=100".to_owned()
        } else {
            t
        };
        let r = match c.try_request("GET", &t, &[], b"").await {
            Ok(r) => r,
            Err(_) => continue,
        };
        if r.status == 503 {
            assert_eq!(first(&r.text(), "Code").unwrap(), "SlowDown");
            saw_xml_error = true;
            continue;
        }
        if r.status == 500 {
            assert_eq!(first(&r.text(), "Code").unwrap(), "InternalError");
            continue;
        }
        let x = r.text();
        listed += blocks(&x, "Contents").len();
        match top(&x, "NextContinuationToken") {
            Some(t) => token = t,
            None => break,
        }
    }
    assert_eq!(listed, 3000);
    let _ = saw_xml_error;
}

// A current-thread runtime (plain #[tokio::test]) works as well.
#[tokio::test]
async fn faults_spare_configuration_calls_unless_asked() {
    let always = Faults {
        slowdown_503: 1.0,
        ..Faults::default()
    };
    let server = fakes3::start(
        Config::new(1)
            .bucket(BucketSpec::new("b-1", 10))
            .faults(always),
    )
    .await
    .unwrap();
    let mut c = Client::new(&server.endpoint());
    assert_eq!(c.get("/b-1?location").await.status, 200);
    assert_eq!(c.get("/").await.status, 200);
    assert_eq!(c.head("/b-1/data/0000000/0000000000.bin").await.status, 503);
    let r = c.get("/b-1?list-type=2").await;
    assert_eq!(r.status, 503);
    assert!(r.text().contains("<Code>SlowDown</Code>"));

    let everywhere = Faults {
        internal_500: 1.0,
        all_operations: true,
        ..Faults::default()
    };
    let server = fakes3::start(
        Config::new(1)
            .bucket(BucketSpec::new("b-1", 10))
            .faults(everywhere),
    )
    .await
    .unwrap();
    let mut c = Client::new(&server.endpoint());
    assert_eq!(c.get("/b-1?location").await.status, 500);
    let r = c.kms("TrentService.ListAliases", "{}").await;
    assert_eq!(r.status, 500);
    assert!(r.text().contains("KMSInternalException"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_injected_with_jitter_bounds() {
    let cfg = Config::new(2)
        .bucket(BucketSpec::new("slow", 10))
        .latency(Latency {
            base_ms: 40,
            jitter_ms: 10,
        });
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    // Only the floor is asserted: a loaded machine can make any request slower (an upper
    // bound here failed CI once, at 250.09 ms, while other builds shared the two cores).
    for _ in 0..8 {
        let t = Instant::now();
        c.head("/slow/data/0000000/0000000001.bin").await;
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(29), "{e:?}");
    }
    // many concurrent requests overlap: timers, not blocking sleeps
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let ep = server.endpoint();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::new(&ep);
            for _ in 0..3 {
                assert_eq!(
                    c.head("/slow/data/0000000/0000000001.bin").await.status,
                    200
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // 192 requests of at least 30 ms each would take 5.76 s one after another; timers let
    // them overlap (about 150 ms on an idle machine). The bound sits below the sequential
    // floor, so it tells overlap from blocking whatever the load.
    assert!(
        t.elapsed() < Duration::from_millis(5000),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_operations_and_flag_writes() {
    let cfg = Config::new(4).bucket(BucketSpec::new("counted", 20).versions(2));
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    for t in [
        "/",
        "/?x-id=ListBuckets",
        "/counted?location",
        "/counted?encryption",
        "/counted?policy",
        "/counted?versioning",
        "/counted?publicAccessBlock",
        "/counted?list-type=2",
        "/counted?versions",
        "/counted",
    ] {
        c.get(t).await;
    }
    c.head("/counted").await;
    c.head("/counted/data/0000000/0000000003.bin").await;
    c.kms("TrentService.DescribeKey", r#"{"KeyId":"x"}"#).await;
    c.kms("TrentService.GetKeyRotationStatus", r#"{"KeyId":"x"}"#)
        .await;
    c.kms("TrentService.ListAliases", "{}").await;
    let r = c
        .request(
            "POST",
            "/",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"Action=GetCallerIdentity&Version=2011-06-15",
        )
        .await;
    assert_eq!(first(&r.text(), "Account").unwrap(), "123456789012");
    let st = server.stats();
    assert!(st.read_only(), "{st:?}");
    for (op, n) in [
        ("ListBuckets", 2),
        ("GetBucketLocation", 1),
        ("GetBucketEncryption", 1),
        ("GetBucketPolicy", 1),
        ("GetBucketVersioning", 1),
        ("GetPublicAccessBlock", 1),
        ("ListObjectsV2", 1),
        ("ListObjectVersions", 1),
        ("ListObjects", 1),
        ("HeadBucket", 1),
        ("HeadObject", 1),
        ("TrentService.DescribeKey", 1),
        ("TrentService.GetKeyRotationStatus", 1),
        ("TrentService.ListAliases", 1),
        ("GetCallerIdentity", 1),
    ] {
        assert_eq!(st.op(op), n, "{op}");
    }
    assert_eq!(st.requests, 16);

    // writes and unknown calls are counted and named
    assert_eq!(
        c.request("PUT", "/counted/k", &[], b"data").await.status,
        501
    );
    c.request("DELETE", "/counted/data/0000000/0000000003.bin", &[], b"")
        .await;
    c.request("POST", "/counted?delete", &[], b"<Delete/>")
        .await;
    c.request("PUT", "/counted?encryption", &[], b"").await;
    c.get("/counted/data/0000000/0000000003.bin?torrent").await; // GetObjectTorrent: not served
    c.get("/counted?acl").await;
    let r = c
        .kms("TrentService.ScheduleKeyDeletion", r#"{"KeyId":"x"}"#)
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .request(
            "POST",
            "/",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"Action=AssumeRole",
        )
        .await;
    assert_eq!(r.status, 400);
    let st = server.stats();
    assert_eq!(st.mutating, 4);
    assert_eq!(st.unknown, 4);
    assert!(!st.read_only());
    assert!(st.rejected.iter().any(|r| r == "PUT /counted/k"));
    assert!(
        st.rejected
            .iter()
            .any(|r| r.ends_with("[TrentService.ScheduleKeyDeletion]"))
    );
    assert_eq!(st.methods["PUT"], 2);

    // the same numbers as JSON
    let json: Stats = serde_json::from_slice(&c.get("/__fakes3/stats").await.body).unwrap();
    assert_eq!(json, server.stats());
    server.reset_stats();
    assert_eq!(server.stats(), Stats::default());
    c.request("POST", "/__fakes3/stats/reset", &[], b"").await;
    assert_eq!(server.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_configuration_calls() {
    let kms_key = "arn:aws:kms:eu-west-1:123456789012:key/33333333-3333-4333-8333-333333333333";
    let mut configured = BucketSpec::new("configured", 5)
        .region("eu-west-1")
        .versions(2)
        .policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .default_encryption(DefaultEncryption {
            algorithm: SseAlgorithm::AwsKms,
            kms_key: Some(kms_key.into()),
            bucket_key: true,
            block_sse_c: true,
        });
    configured.public_access_block = Some(PublicAccessBlock::all());
    configured.denied_operations = vec!["GetBucketPolicy".into()];
    let cfg = Config::new(8)
        .bucket(configured)
        .bucket(BucketSpec::new("bare", 5))
        .bucket(BucketSpec::new("aes", 5).default_encryption(DefaultEncryption::sse_s3()));
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());

    let x = c.get("/").await.text();
    let names: Vec<String> = blocks(&x, "Bucket")
        .iter()
        .map(|b| first(b, "Name").unwrap())
        .collect();
    assert_eq!(names, ["aes", "bare", "configured"]);
    assert!(x.contains("<BucketRegion>eu-west-1</BucketRegion>"));
    let x = c.get("/?max-buckets=2").await.text();
    assert_eq!(blocks(&x, "Bucket").len(), 2);
    let tok = first(&x, "ContinuationToken").unwrap();
    let x = c
        .get(&format!("/?max-buckets=2&continuation-token={tok}"))
        .await
        .text();
    assert_eq!(first(&x, "Name").unwrap(), "configured");
    assert!(first(&x, "ContinuationToken").is_none());

    let r = c.get("/bare?location").await;
    assert!(
        r.text()
            .ends_with("<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>")
    );
    assert_eq!(
        first(
            &c.get("/configured?location").await.text(),
            "LocationConstraint"
        )
        .as_deref(),
        None
    );
    assert!(
        c.get("/configured?location")
            .await
            .text()
            .contains(">eu-west-1</LocationConstraint>")
    );

    let r = c.get("/bare?encryption").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        first(&r.text(), "Code").unwrap(),
        "ServerSideEncryptionConfigurationNotFoundError"
    );
    let x = c.get("/configured?encryption").await.text();
    assert!(x.contains(
        "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    ));
    assert_eq!(first(&x, "SSEAlgorithm").unwrap(), "aws:kms");
    assert_eq!(first(&x, "KMSMasterKeyID").unwrap(), kms_key);
    assert_eq!(first(&x, "BucketKeyEnabled").unwrap(), "true");
    assert_eq!(first(&x, "EncryptionType").unwrap(), "SSE-C");
    let x = c.get("/aes?encryption").await.text();
    assert_eq!(first(&x, "SSEAlgorithm").unwrap(), "AES256");
    assert!(first(&x, "KMSMasterKeyID").is_none());

    let r = c.get("/bare?policy").await;
    assert_eq!(
        (r.status, first(&r.text(), "Code").unwrap().as_str()),
        (404, "NoSuchBucketPolicy")
    );
    let r = c.get("/configured?policy").await;
    assert_eq!(
        (r.status, first(&r.text(), "Code").unwrap().as_str()),
        (403, "AccessDenied")
    );

    let x = c.get("/configured?versioning").await.text();
    assert!(x.contains("<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status>"));
    let x = c.get("/bare?versioning").await.text();
    assert!(
        x.ends_with("<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>")
    );

    let r = c.get("/bare?publicAccessBlock").await;
    assert_eq!(
        first(&r.text(), "Code").unwrap(),
        "NoSuchPublicAccessBlockConfiguration"
    );
    let x = c.get("/configured?publicAccessBlock").await.text();
    assert_eq!(first(&x, "RestrictPublicBuckets").unwrap(), "true");

    let r = c.head("/configured").await;
    assert_eq!(
        (r.status, r.header("x-amz-bucket-region")),
        (200, Some("eu-west-1"))
    );
    for t in [
        "/nope?location",
        "/nope?encryption",
        "/nope?list-type=2",
        "/nope?versions",
    ] {
        let r = c.get(t).await;
        assert_eq!(r.status, 404);
        assert_eq!(first(&r.text(), "Code").unwrap(), "NoSuchBucket");
    }
    assert_eq!(c.head("/nope").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_describe_rotation_aliases() {
    let pending = "arn:aws:kms:us-east-1:123456789012:key/44444444-4444-4444-8444-444444444444";
    let disabled = "arn:aws:kms:us-west-2:123456789012:key/55555555-5555-4555-8555-555555555555";
    let missing = "arn:aws:kms:us-east-1:123456789012:key/66666666-6666-4666-8666-666666666666";
    let cfg = Config::new(6)
        .bucket(
            BucketSpec::new("kms-bucket", 30)
                .mix(ModeMix::only(Mode::SseKms))
                .kms_keys([pending, disabled, missing, "alias/aws/s3"]),
        )
        .bucket(BucketSpec::new("default-key", 3))
        .kms_key(
            KmsKeySpec::new(pending)
                .state(KeyState::PendingDeletion)
                .alias("alias/retiring"),
        )
        .kms_key(
            KmsKeySpec::new(disabled)
                .state(KeyState::Disabled)
                .rotation(false),
        )
        .kms_key(KmsKeySpec::new(missing).state(KeyState::Missing));
    let default_key = cfg.default_kms_key("default-key").unwrap();
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    let json = |r: common::Resp| -> serde_json::Value { serde_json::from_slice(&r.body).unwrap() };

    // the default key: Enabled, customer managed, symmetric, rotating
    let r = c
        .kms(
            "TrentService.DescribeKey",
            &format!(r#"{{"KeyId":"{default_key}"}}"#),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    let m = &json(r)["KeyMetadata"];
    assert_eq!(m["Arn"], default_key.as_str());
    assert_eq!(m["KeyState"], "Enabled");
    assert_eq!(m["KeyManager"], "CUSTOMER");
    assert_eq!(m["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["Enabled"], true);
    let id = m["KeyId"].as_str().unwrap().to_owned();
    // by bare id, the same ARN
    let m = json(
        c.kms(
            "TrentService.DescribeKey",
            &format!(r#"{{"KeyId":"{id}"}}"#),
        )
        .await,
    );
    assert_eq!(m["KeyMetadata"]["Arn"], default_key.as_str());
    let r = json(
        c.kms(
            "TrentService.GetKeyRotationStatus",
            &format!(r#"{{"KeyId":"{id}"}}"#),
        )
        .await,
    );
    assert_eq!(r["KeyRotationEnabled"], true);

    // by alias and alias ARN
    for k in [
        "alias/retiring",
        "arn:aws:kms:us-east-1:123456789012:alias/retiring",
    ] {
        let m = json(
            c.kms("TrentService.DescribeKey", &format!(r#"{{"KeyId":"{k}"}}"#))
                .await,
        );
        assert_eq!(m["KeyMetadata"]["Arn"], pending);
        assert_eq!(m["KeyMetadata"]["KeyState"], "PendingDeletion");
        assert_eq!(m["KeyMetadata"]["Enabled"], false);
    }
    let r = c
        .kms(
            "TrentService.GetKeyRotationStatus",
            &format!(r#"{{"KeyId":"{pending}"}}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(json(r)["__type"], "KMSInvalidStateException");

    let m = json(
        c.kms(
            "TrentService.DescribeKey",
            &format!(r#"{{"KeyId":"{disabled}"}}"#),
        )
        .await,
    );
    assert_eq!(m["KeyMetadata"]["KeyState"], "Disabled");
    let r = json(
        c.kms(
            "TrentService.GetKeyRotationStatus",
            &format!(r#"{{"KeyId":"{disabled}"}}"#),
        )
        .await,
    );
    assert_eq!(r["KeyRotationEnabled"], false);

    // missing and unknown keys
    for k in [
        missing,
        "alias/nope",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let r = c
            .kms("TrentService.DescribeKey", &format!(r#"{{"KeyId":"{k}"}}"#))
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(json(r)["__type"], "NotFoundException");
    }

    // the AWS managed key
    let m = json(
        c.kms("TrentService.DescribeKey", r#"{"KeyId":"alias/aws/s3"}"#)
            .await,
    );
    assert_eq!(m["KeyMetadata"]["KeyManager"], "AWS");

    // aliases, filtered and paged
    let all = json(c.kms("TrentService.ListAliases", "{}").await);
    let names: Vec<&str> = all["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AliasName"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"alias/retiring") && names.contains(&"alias/aws/s3"),
        "{names:?}"
    );
    assert_eq!(all["Truncated"], false);
    let one = json(
        c.kms(
            "TrentService.ListAliases",
            &format!(r#"{{"KeyId":"{pending}"}}"#),
        )
        .await,
    );
    assert_eq!(
        one["Aliases"][0]["TargetKeyId"],
        "44444444-4444-4444-8444-444444444444"
    );
    assert_eq!(one["Aliases"].as_array().unwrap().len(), 1);
    let p1 = json(c.kms("TrentService.ListAliases", r#"{"Limit":1}"#).await);
    assert_eq!(p1["Truncated"], true);
    let marker = p1["NextMarker"].as_str().unwrap();
    let p2 = json(
        c.kms(
            "TrentService.ListAliases",
            &format!(r#"{{"Limit":1,"Marker":"{marker}"}}"#),
        )
        .await,
    );
    assert_ne!(p1["Aliases"][0], p2["Aliases"][0]);

    // objects report the missing key's ARN all the same
    let keys: Vec<String> = server.config().keys("kms-bucket").unwrap().collect();
    let mut seen = std::collections::BTreeSet::new();
    for k in keys {
        let r = c.head(&format!("/kms-bucket/{}", encode(&k, true))).await;
        seen.insert(
            r.header("x-amz-server-side-encryption-aws-kms-key-id")
                .unwrap()
                .to_owned(),
        );
    }
    assert!(seen.contains(missing));
    assert!(
        seen.contains("alias/aws/s3"),
        "bucket keys are echoed as given: {seen:?}"
    );
}

/// Each first-level prefix has its own HEAD/GET budget: over it, 503 SlowDown (with S3's
/// XML body on GET); another prefix, and listings, are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_reads_are_rate_limited_per_prefix() {
    // One request per second per prefix, a burst of one: two back-to-back reads of the
    // same prefix cannot both pass unless a full second passes between them.
    let cfg = Config::new(3)
        .bucket(BucketSpec::new("limited", 10).keys(["a/1", "a/2", "b/1", "top"]))
        .head_rate_per_prefix(1);
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    assert_eq!(c.head("/limited/a/1").await.status, 200);
    let t = Instant::now();
    let second = c.get("/limited/a/2").await;
    if t.elapsed() < Duration::from_millis(900) {
        assert_eq!(second.status, 503);
        assert!(
            second.text().contains("<Code>SlowDown</Code>"),
            "{}",
            second.text()
        );
        assert_eq!(server.stats().faults.rate_limited, 1);
    }
    assert_eq!(c.head("/limited/b/1").await.status, 200);
    assert_eq!(c.head("/limited/top").await.status, 200);
    assert_eq!(c.get("/limited?list-type=2").await.status, 200);
    assert_eq!(
        server.stats().faults.slowdown_503,
        0,
        "not counted as injected"
    );
}

/// Listing pages take `list_page_ms` instead of the general latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_have_their_own_latency() {
    let cfg = Config::new(2)
        .bucket(BucketSpec::new("paged", 10).prefixes(3))
        .list_page_ms(60);
    let server = fakes3::start(cfg).await.unwrap();
    let mut c = Client::new(&server.endpoint());
    let t = Instant::now();
    let page = c.get("/paged?list-type=2&delimiter=/").await;
    assert!(
        t.elapsed() >= Duration::from_millis(55),
        "{:?}",
        t.elapsed()
    );
    let prefixes = blocks(&page.text(), "CommonPrefixes").len();
    assert!((1..=3).contains(&prefixes), "{}", page.text());
}
