//! Every renderer's whole output on one offline estate, as insta snapshots: a change of
//! wording, layout or field is a reviewed diff (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test --lib snapshot_tests` and `git diff`), never a surprise
//! to the people who parse or file these outputs.
//!
//! The estate (`tests/fixtures/snapshot_estate.json`) is five buckets from the demo scan: a
//! well-configured KMS bucket, one whose key is pending deletion, one with no encryption at
//! all, one in another region with a policy, and one the scan could only partly read
//! (policy denied, default encryption throttled, two objects unreadable). The tool version is
//! pinned so a release does not rewrite every snapshot.

use std::path::Path;

use super::{
    CsvRenderer, HtmlRenderer, JsonRenderer, PolicySource, Render, Report, SarifRenderer,
    TableRenderer, diff, frameworks,
};
use crate::config::RuleConfig;
use crate::model::{Estate, KeyState, Observed};
use crate::rules;

const ESTATE: &str = include_str!("../../tests/fixtures/snapshot_estate.json");

fn estate() -> Estate {
    serde_json::from_str(ESTATE).expect("the fixture is a snapshot")
}

/// Three waivers, as a config file has them: one in force that covers a failure, one
/// expired before the scan, one that covers nothing.
fn config() -> RuleConfig {
    let waiver = |rule: &str, resource: &str, expires: &str| rules::waivers::Waiver {
        rule: rule.to_string(),
        resource: resource.to_string(),
        reason: format!("accepted {rule} on {resource} while SEC-123 is open"),
        owner: "platform-team@example.com".to_string(),
        expires: rules::waivers::parse_date(expires).unwrap(),
    };
    RuleConfig {
        waivers: vec![
            waiver("POL-002", "demo-kms-good", "2027-03-31"),
            waiver("ENC-005", "demo-*", "2026-01-31"),
            waiver("OBJ-005", "legacy-*", "2027-03-31"),
        ],
        ..RuleConfig::default()
    }
}

/// The report `s3audit evaluate --config` makes of `estate`, with the evaluating tool
/// pinned.
fn report_of(estate: &Estate) -> Report {
    let mut report = crate::app::judge(estate, &config());
    pin_tool(&mut report);
    report
}

/// The evaluating build, pinned: its version, commit and catalogue hash change with every
/// release, commit and rule edit, none of which is a change of a renderer.
fn pin_tool(report: &mut Report) {
    report.tool.version = "0.0.0-snapshot".to_string();
    report.tool.commit = Some("commit".to_string());
    report.tool.catalogue_sha256 = Some("catalogue-sha256".to_string());
}

/// The output, with this build's version stamp (which names the git commit) pinned.
fn rendered(renderer: &dyn Render, report: &Report) -> String {
    let mut out = Vec::new();
    renderer.render(report, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .replace(env!("S3AUDIT_VERSION"), "0.0.0-snapshot (commit)")
}

fn table(explain: bool) -> TableRenderer {
    TableRenderer {
        color: false,
        width: Some(100),
        show_passes: false,
        explain,
    }
}

#[test]
fn table_view() {
    let out = rendered(&table(false), &report_of(&estate()));
    insta::assert_snapshot!(out);
}

#[test]
fn table_view_explained() {
    let mut report = report_of(&estate());
    report.apply_filter(&super::FindingFilter {
        rules: vec!["POL-*".to_string()],
        ..Default::default()
    });
    insta::assert_snapshot!(rendered(&table(true), &report));
}

#[test]
fn csv() {
    insta::assert_snapshot!(rendered(&CsvRenderer, &report_of(&estate())));
}

#[test]
fn json() {
    insta::assert_snapshot!(rendered(&JsonRenderer, &report_of(&estate())));
}

/// Two of the buckets, for the formats that repeat every finding's evidence at length
/// (HTML also inlines its style and script): the whole estate would make snapshots of
/// several hundred KB that hide their own diffs.
fn two_buckets() -> Estate {
    let mut estate = estate();
    estate
        .buckets
        .retain(|b| ["demo-kms-pending-deletion", "demo-partly-read"].contains(&b.name.as_str()));
    estate
}

#[test]
fn html() {
    insta::assert_snapshot!(rendered(&HtmlRenderer, &report_of(&two_buckets())));
}

#[test]
fn frameworks_coverage() {
    let report = report_of(&estate());
    let catalogue = crate::rules::frameworks::lookup("pci-dss-4.0.1").unwrap();
    let coverage = frameworks::coverage(catalogue, Some(&report));
    insta::assert_snapshot!(
        "frameworks_coverage_table",
        frameworks::coverage_table(&coverage, Some(100), false)
    );
    insta::assert_snapshot!(
        "frameworks_coverage_json",
        serde_json::to_string_pretty(&coverage).unwrap()
    );
}

#[test]
fn frameworks_list_and_rule_explanation() {
    insta::assert_snapshot!(
        "frameworks_list",
        frameworks::catalogues_table(Some(100), false)
    );
    let meta = crate::rules::metadata::get(crate::model::RuleId::Pol001);
    insta::assert_snapshot!(
        "rules_explain_pol_001",
        frameworks::explain_text(meta, Some(100), false)
    );
}

/// The estate as it was before: the pending-deletion key still enabled, the unencrypted
/// bucket not yet created.
fn earlier() -> Estate {
    let mut old = estate();
    old.buckets.retain(|b| b.name != "demo-no-encryption");
    for key in old.keys.values_mut() {
        if let Observed::Present(info) = &mut key.info
            && info.state == KeyState::PendingDeletion
        {
            info.state = KeyState::Enabled;
            info.deletion_date = None;
        }
    }
    old
}

#[test]
fn drift() {
    let drift = diff::diff(
        &report_of(&earlier()),
        &report_of(&estate()),
        "snapshot",
        "old.json",
        "snapshot",
        "new.json",
    );
    insta::assert_snapshot!("drift_table", diff::render_table(&drift));
    insta::assert_snapshot!("drift_json", serde_json::to_string_pretty(&drift).unwrap());
}

#[test]
fn sarif() {
    let text = include_str!("../../tests/fixtures/policies/terraform/logs-bucket-policy.json");
    let path = Path::new("policies/logs-bucket-policy.json");
    let options = rules::CheckPolicyOptions {
        bucket: "b".to_string(),
        default_sse: rules::pol::DefaultSse::SseS3,
        default_kms_key: None,
        sse_c_blocked: false,
    };
    let findings = rules::check_policy(text, &options, &RuleConfig::default()).unwrap();
    let mut report = Report::for_document(Some("b"), findings);
    pin_tool(&mut report);
    let sources = [PolicySource::judged(path, text, "arn:aws:s3:::b")];
    // %SRCROOT% is the working directory, which differs between checkouts.
    let cwd = std::env::current_dir().unwrap();
    let root = format!("file://{}/", cwd.display());
    let out = rendered(&SarifRenderer { sources: &sources }, &report);
    assert!(out.contains(&root), "{out}");
    insta::assert_snapshot!(out.replace(&root, "file:///CHECKOUT/"));
}

#[test]
fn ocsf() {
    insta::assert_snapshot!(rendered(&super::OcsfRenderer, &report_of(&two_buckets())));
}
