//! Any bytes as a policy document: parsing never panics, and a document that parses is
//! analysed on every request class the rules ask about, for one bucket and for every
//! bucket of an account (RCPs), without panicking; every counterexample the analyser
//! names must really get through (no Deny matches it), and every remediation, merged in,
//! must parse and close its class. The principal and pinned-value questions run too.
//!
//! Built in CI (`cargo build -p s3audit-policy-fuzz`); run with cargo-fuzz:
//! `cargo fuzz run policy -- -max_total_time=60` (see the README).

#![no_main]

use libfuzzer_sys::fuzz_target;
use s3audit_policy::analyze::denied;
use s3audit_policy::classes::{self, UploadDefaults};
use s3audit_policy::condition::Tv;
use s3audit_policy::{Target, analyze, parse_policy, principals, questions, remediation};

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = parse_policy(text) else {
        return;
    };
    for target in [Target::new("b"), Target::every_bucket(Some("111122223333"))] {
        let uploads = classes::non_kms_uploads(UploadDefaults {
            kms_default: false,
            default_label: "none",
            sse_c_blocked: false,
        });
        let checked = [
            (
                classes::insecure_transport(),
                vec![remediation::deny_insecure_transport(&target)],
            ),
            (
                classes::outdated_tls(),
                vec![remediation::deny_outdated_tls(&target)],
            ),
            (
                classes::uploads(uploads.into_iter().map(|(_, v)| v).collect()),
                vec![remediation::deny_non_kms_uploads(&target, false)],
            ),
            (
                classes::unpinned_kms_uploads(&[KEY.to_string()], "the allowed keys"),
                vec![remediation::deny_unlisted_kms_keys(
                    &target,
                    &[KEY.to_string()],
                )],
            ),
        ];
        for (class, fix) in &checked {
            let analysis = analyze(Some(&policy), &target, class);
            for gap in &analysis.gaps {
                if let Some(w) = &gap.witness {
                    assert_eq!(denied(Some(&policy), w), Tv::False, "{}", w.describe());
                }
            }
            if !analysis.passed() {
                let merged = remediation::merge(Some(&policy.json), fix).to_compact();
                let fixed = parse_policy(&merged).expect("a merged remediation parses");
                assert!(analyze(Some(&fixed), &target, class).passed(), "{merged}");
            }
        }
        for class in [
            classes::modern_uploads(),
            classes::modern_reads(),
            classes::any_kms_upload(),
        ] {
            analyze(Some(&policy), &target, &class);
        }
    }
    principals::who_may(&policy, KEY, &principals::USE_ACTIONS);
    principals::who_may(&policy, KEY, &principals::DESTROY_ACTIONS);
    questions::pinned_values(Some(&policy), classes::KEY_ID);
});
