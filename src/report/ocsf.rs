//! OCSF for `scan`/`evaluate --format ocsf`: one OCSF 1.5.0 **Compliance Finding** event
//! (class 2003, category 2 "Findings") per finding of the report, as one pretty-printed
//! JSON array, for security data lakes and SIEMs that ingest OCSF (AWS Security Lake and
//! Security Hub take OCSF 1.1.0 and later). Like every renderer, it writes the findings the
//! report holds (after `--status`/`--severity`/`--rule`/`--framework`), passes included:
//! a compliance tool reports what passed too, and a consumer that wants only failures
//! filters on `compliance.status_id` or runs s3audit with `--status fail,error`.
//!
//! Why 1.5.0: it is the version `py-ocsf-models` (Prowler's models, pinned in
//! `scripts/requirements.txt`) implements, and every event is checked against its
//! `ComplianceFinding` model by `scripts/ocsf_check.py` in `tests/rules_offline.rs`.
//!
//! The mapping, field by field:
//!
//! * `activity_id` 1 (Create), `type_uid` = `class_uid` × 100 + `activity_id` = 200301, and
//!   the captions OCSF defines for each id (`activity_name`, `class_name`, ...): every run
//!   reports its findings afresh; s3audit keeps no state between runs to say Update/Close.
//! * `severity_id`/`severity` from the rule's severity: info 1 Informational, low 2,
//!   medium 3, high 4, critical 5.
//! * `status_id`/`status`, the finding's workflow state: 1 New, except a waived finding
//!   (an exception someone accepted), which is 3 Suppressed. [`finding_status`] is that one
//!   decision; today findings carry no waiver, so every event is New.
//! * `compliance`, the verdict: `status_id`/`status` from our status ([`compliance_status`]):
//!   pass → 1 Pass, fail → 3 Fail, error → 2 Warning (OCSF: "did not yield a result due to
//!   missing information", which is what our `error` means: denied, unreadable,
//!   undecidable), not_applicable → 99 Other with status "Not Applicable" (the rule does not
//!   apply: neither a pass nor missing information). Nothing but `pass` is ever Pass.
//!   `control` is the rule id (`ENC-001`), `desc` the rule's title (the control's
//!   criterion), `requirements` the finding's framework labels (`PCI DSS v4.0.1 3.5.1`: a
//!   requirement named with its standard, like OCSF's own example `NIST.800-53.r5 AU-10`),
//!   `standards` the catalogues those labels belong to (`PCI DSS v4.0.1`, `NIST SP 800-53
//!   Rev. 5`), each once. Both are always present, empty for a rule no catalogue maps
//!   (ENC-004, POL-005), so every event has the same shape.
//! * `finding_info`: `uid` the SHA-256 of rule and resource (hex), stable across runs so a
//!   consumer updates one finding per rule and bucket rather than adding one per scan;
//!   `title` the rule's title, `desc` the finding's message; `analytic` the rule (type 1,
//!   Rule: id and kebab-case name); `types` the AWS Security Finding Format type a
//!   configuration check has in Security Hub ("Software and Configuration
//!   Checks/Industry and Regulatory Standards" when the rule maps to a standard, else
//!   "Software and Configuration Checks").
//! * `resources`: one, the finding's resource: `uid` its ARN, `name` the bucket, `type`
//!   `AWS::S3::Bucket` (CloudFormation's and Security Hub's name) for a bucket ARN,
//!   `cloud_partition` from the ARN, `region` the bucket's region when it was read.
//! * `cloud` (the OCSF cloud profile, listed in `metadata.profiles`): `provider` "AWS",
//!   `region` the bucket's region when read, `account` when the scan knew its account:
//!   `uid` the account id, `type_id` 10 (AWS Account), and `name` the id as well, since
//!   s3audit does not read account names and py-ocsf-models requires one.
//! * `metadata`: `product` {name and vendor "s3audit", this build's version}, `version`
//!   "1.5.0".
//! * `time`: when the scan finished, in milliseconds since the epoch (the facts judged are
//!   as of then; `evaluate` of an old snapshot keeps the snapshot's time).
//! * `message`: the finding's message; `remediation.desc`: its remediation.
//! * `evidences`: `[{"data": EVIDENCE}]`, the finding's evidence JSON as the rule wrote it
//!   (OCSF's place for evidence that has no specific attribute); a scalar or array is
//!   wrapped as `{"value": ...}` (`data` is an object), and none is left out.
//! * `unmapped`: `{"scan_complete": bool}`: whether the scan read every fact it tried to.
//!   A finding's own status already says when its facts were missing, but a consumer of
//!   single events would otherwise not know the run had gaps.
//!
//! Strings from the estate (bucket names, messages, evidence) are data in JSON: serde
//! escapes what JSON needs and nothing here interprets them.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Render, Report};
use crate::model::{Finding, Severity, Status};
use crate::rules::{frameworks, metadata};

/// The OCSF schema version the events follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.5.0";

/// Compliance Finding.
const CLASS_UID: u32 = 2003;
/// Findings.
const CATEGORY_UID: u32 = 2;
/// Create: a finding was created.
const ACTIVITY_CREATE: u32 = 1;
/// AWS Account (the `account` object's `type_id`).
const ACCOUNT_TYPE_AWS: u32 = 10;
/// Rule (the `analytic` object's `type_id`).
const ANALYTIC_TYPE_RULE: u32 = 1;

/// Security Hub's finding type for a configuration check against a standard, and for one
/// that maps to none.
const TYPE_STANDARDS: &str = "Software and Configuration Checks/Industry and Regulatory Standards";
const TYPE_CHECKS: &str = "Software and Configuration Checks";

/// An OCSF enum value: the id and the caption OCSF gives it (`severity_id` and `severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcsfEnum {
    pub id: u32,
    pub caption: &'static str,
}

const fn value(id: u32, caption: &'static str) -> OcsfEnum {
    OcsfEnum { id, caption }
}

/// `severity_id`: our five severities are OCSF's 1 to 5.
pub fn severity(severity: Severity) -> OcsfEnum {
    match severity {
        Severity::Info => value(1, "Informational"),
        Severity::Low => value(2, "Low"),
        Severity::Medium => value(3, "Medium"),
        Severity::High => value(4, "High"),
        Severity::Critical => value(5, "Critical"),
    }
}

/// `compliance.status_id`: only a pass is Pass. An error (the facts could not be read or
/// judged) is Warning, OCSF's "did not yield a result due to missing information"; n/a is
/// Other, captioned by us, since OCSF has no "does not apply".
pub fn compliance_status(status: Status) -> OcsfEnum {
    match status {
        Status::Pass => value(1, "Pass"),
        Status::Error => value(2, "Warning"),
        Status::Fail => value(3, "Fail"),
        Status::NotApplicable => value(99, "Not Applicable"),
    }
}

/// The event's `status_id`, the finding's place in a reviewer's workflow (not the verdict,
/// which is `compliance.status_id`): New, or Suppressed for a finding someone waived (an
/// accepted exception), so a consumer stops raising it while the verdict stays visible.
pub fn finding_status(waived: bool) -> OcsfEnum {
    if waived {
        value(3, "Suppressed")
    } else {
        value(1, "New")
    }
}

/// The OCSF array of a report: one Compliance Finding per finding.
pub struct OcsfRenderer;

impl Render for OcsfRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, &events(report)?)?;
        writeln!(out)
    }
}

/// Every finding of `report` as an event. Fails only when the report's finish time is not
/// RFC 3339, which `Report::new` never writes.
fn events(report: &Report) -> io::Result<Vec<Event<'_>>> {
    let time = epoch_millis(&report.scan.finished_at)?;
    let regions: BTreeMap<&str, &str> = report
        .buckets
        .iter()
        .filter_map(|b| Some((b.name.as_str(), b.region.as_deref()?)))
        .collect();
    let context = Context {
        time,
        account: report.scan.account.as_deref(),
        scan_complete: report.scan.complete,
        version: &report.tool.version,
        regions,
    };
    Ok(report.findings.iter().map(|f| event(&context, f)).collect())
}

/// What every event of a report shares.
struct Context<'a> {
    time: i64,
    account: Option<&'a str>,
    scan_complete: bool,
    version: &'a str,
    /// Each bucket's region, where it was read.
    regions: BTreeMap<&'a str, &'a str>,
}

/// RFC 3339 → milliseconds since the epoch (OCSF's `timestamp_t`).
fn epoch_millis(rfc3339: &str) -> io::Result<i64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the report's finish time {rfc3339:?} is not RFC 3339: {e}"),
            )
        })?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "scan time out of range"))
}

fn event<'a>(cx: &Context<'a>, f: &'a Finding) -> Event<'a> {
    let meta = metadata::get(f.rule);
    let title = meta.title.as_str();
    let region = f.bucket.as_deref().and_then(|b| cx.regions.get(b).copied());
    let (standards, requirements) = standards_and_requirements(&f.frameworks);
    let compliance = compliance_status(f.status);
    let severity = severity(f.severity);
    // A waived failure is still a failure (compliance Fail), accepted for now: Suppressed.
    let status = finding_status(f.waiver.is_some());
    Event {
        activity_id: ACTIVITY_CREATE,
        activity_name: "Create",
        category_uid: CATEGORY_UID,
        category_name: "Findings",
        class_uid: CLASS_UID,
        class_name: "Compliance Finding",
        type_uid: CLASS_UID * 100 + ACTIVITY_CREATE,
        type_name: "Compliance Finding: Create",
        severity_id: severity.id,
        severity: severity.caption,
        status_id: status.id,
        status: status.caption,
        time: cx.time,
        message: &f.message,
        metadata: Metadata {
            product: Product {
                name: "s3audit",
                vendor_name: "s3audit",
                version: cx.version,
            },
            profiles: vec!["cloud"],
            version: OCSF_VERSION,
        },
        cloud: Cloud {
            provider: "AWS",
            region,
            account: cx.account.map(|uid| Account {
                uid,
                name: uid,
                type_id: ACCOUNT_TYPE_AWS,
                r#type: "AWS Account",
            }),
        },
        finding_info: FindingInfo {
            uid: finding_uid(f.rule.as_str(), &f.resource),
            title,
            desc: &f.message,
            types: vec![if requirements.is_empty() {
                TYPE_CHECKS
            } else {
                TYPE_STANDARDS
            }],
            analytic: Analytic {
                uid: f.rule.as_str(),
                name: meta.name.as_str(),
                type_id: ANALYTIC_TYPE_RULE,
                r#type: "Rule",
            },
        },
        compliance: Compliance {
            control: f.rule.as_str(),
            desc: title,
            standards,
            requirements,
            status_id: compliance.id,
            status: compliance.caption,
        },
        resources: vec![Resource {
            uid: &f.resource,
            name: f.bucket.as_deref(),
            r#type: resource_type(f),
            cloud_partition: arn_partition(&f.resource),
            region,
        }],
        remediation: Remediation {
            desc: &f.remediation,
        },
        evidences: evidence(&f.evidence),
        unmapped: Unmapped {
            scan_complete: cx.scan_complete,
        },
    }
}

/// The catalogues the labels belong to (each once, in order) and the labels themselves.
/// A label is `<catalogue name> <requirement>`; the longest name that prefixes it wins.
fn standards_and_requirements(labels: &[String]) -> (Vec<&'static str>, Vec<&str>) {
    let mut standards: Vec<&'static str> = Vec::new();
    for label in labels {
        let standard = frameworks::catalogues()
            .iter()
            .map(|c| c.name.as_str())
            .filter(|name| {
                label
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' '))
            })
            .max_by_key(|name| name.len());
        if let Some(standard) = standard
            && !standards.contains(&standard)
        {
            standards.push(standard);
        }
    }
    (standards, labels.iter().map(String::as_str).collect())
}

/// SHA-256 of rule and resource, hex: one finding per rule and resource, the same id on
/// every run and machine. The prefix makes it this format's own (a SARIF fingerprint of the
/// same strings differs).
fn finding_uid(rule: &str, resource: &str) -> String {
    let digest = Sha256::digest(format!("s3audit/ocsf/v1\0{rule}\0{resource}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `arn:PARTITION:...` → PARTITION.
fn arn_partition(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(3, ':');
    (parts.next()? == "arn").then_some(())?;
    parts.next().filter(|p| !p.is_empty())
}

/// `AWS::S3::Bucket` for a bucket's ARN (`arn:aws:s3:::NAME`, no object key), else none:
/// a type is only given when it is certain.
fn resource_type(f: &Finding) -> Option<&'static str> {
    let name = f.bucket.as_deref()?;
    let mut parts = f.resource.splitn(6, ':');
    let is_bucket = parts.next() == Some("arn")
        && parts.next().is_some()
        && parts.next() == Some("s3")
        && parts.next() == Some("")
        && parts.next() == Some("")
        && parts.next() == Some(name);
    is_bucket.then_some("AWS::S3::Bucket")
}

/// The finding's evidence as OCSF `evidences[].data` (an object): an object as is, any
/// other value under `value`, nothing for null.
fn evidence(evidence: &Value) -> Option<Vec<Evidence>> {
    let data = match evidence {
        Value::Null => return None,
        Value::Object(map) => Value::Object(map.clone()),
        other => serde_json::json!({ "value": other }),
    };
    Some(vec![Evidence { data }])
}

// The OCSF objects written, with only the attributes s3audit fills. Field names are OCSF's
// (`scripts/ocsf_check.py` rejects any name py-ocsf-models does not know).

#[derive(Serialize)]
struct Event<'a> {
    activity_id: u32,
    activity_name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    class_uid: u32,
    class_name: &'static str,
    type_uid: u32,
    type_name: &'static str,
    severity_id: u32,
    severity: &'static str,
    status_id: u32,
    status: &'static str,
    time: i64,
    message: &'a str,
    metadata: Metadata<'a>,
    cloud: Cloud<'a>,
    finding_info: FindingInfo<'a>,
    compliance: Compliance<'a>,
    resources: Vec<Resource<'a>>,
    remediation: Remediation<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidences: Option<Vec<Evidence>>,
    unmapped: Unmapped,
}

#[derive(Serialize)]
struct Metadata<'a> {
    product: Product<'a>,
    profiles: Vec<&'static str>,
    version: &'static str,
}

#[derive(Serialize)]
struct Product<'a> {
    name: &'static str,
    vendor_name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct Cloud<'a> {
    provider: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<Account<'a>>,
}

#[derive(Serialize)]
struct Account<'a> {
    uid: &'a str,
    name: &'a str,
    type_id: u32,
    #[serde(rename = "type")]
    r#type: &'static str,
}

#[derive(Serialize)]
struct FindingInfo<'a> {
    uid: String,
    title: &'a str,
    desc: &'a str,
    types: Vec<&'static str>,
    analytic: Analytic<'a>,
}

#[derive(Serialize)]
struct Analytic<'a> {
    uid: &'a str,
    name: &'a str,
    type_id: u32,
    #[serde(rename = "type")]
    r#type: &'static str,
}

#[derive(Serialize)]
struct Compliance<'a> {
    control: &'a str,
    desc: &'a str,
    standards: Vec<&'static str>,
    requirements: Vec<&'a str>,
    status_id: u32,
    status: &'static str,
}

#[derive(Serialize)]
struct Resource<'a> {
    uid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    r#type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud_partition: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
}

#[derive(Serialize)]
struct Remediation<'a> {
    desc: &'a str,
}

#[derive(Serialize)]
struct Evidence {
    data: Value,
}

#[derive(Serialize)]
struct Unmapped {
    scan_complete: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_STATUSES: [Status; 4] = [
        Status::Pass,
        Status::Fail,
        Status::Error,
        Status::NotApplicable,
    ];

    #[test]
    fn compliance_status_follows_the_ocsf_enum_and_only_pass_is_pass() {
        assert_eq!(compliance_status(Status::Pass), value(1, "Pass"));
        assert_eq!(compliance_status(Status::Fail), value(3, "Fail"));
        assert_eq!(compliance_status(Status::Error), value(2, "Warning"));
        assert_eq!(
            compliance_status(Status::NotApplicable),
            value(99, "Not Applicable")
        );
        for status in ALL_STATUSES {
            let mapped = compliance_status(status);
            assert_eq!(
                mapped.id == 1 || mapped.caption == "Pass",
                status == Status::Pass,
                "{status:?} → {mapped:?}"
            );
        }
        // Distinct ids: a consumer can tell every verdict apart.
        let mut ids: Vec<u32> = ALL_STATUSES
            .iter()
            .map(|s| compliance_status(*s).id)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ALL_STATUSES.len());
    }

    #[test]
    fn severities_are_ocsf_one_to_five_in_order() {
        let all = [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ];
        let mapped: Vec<OcsfEnum> = all.iter().map(|s| severity(*s)).collect();
        assert_eq!(
            mapped,
            [
                value(1, "Informational"),
                value(2, "Low"),
                value(3, "Medium"),
                value(4, "High"),
                value(5, "Critical"),
            ]
        );
    }

    #[test]
    fn a_waived_finding_is_suppressed_and_any_other_new() {
        assert_eq!(finding_status(false), value(1, "New"));
        assert_eq!(finding_status(true), value(3, "Suppressed"));
    }

    fn finding(status: Status, evidence: Value) -> Finding {
        Finding {
            account: None,
            rule: crate::model::RuleId::Pol001,
            status,
            severity: Severity::High,
            resource: "arn:aws-us-gov:s3:::b\u{1b}]0;x\u{7}".into(),
            bucket: Some("b\u{1b}]0;x\u{7}".into()),
            message: "no \"Deny\" for aws:SecureTransport".into(),
            evidence,
            waiver: None,
            remediation: "add the statement".into(),
            frameworks: vec![
                "PCI DSS v4.0.1 4.2.1".into(),
                "PCI DSS v4.0.1 4.2.1.1".into(),
                "NIST SP 800-53 Rev. 5 SC-8".into(),
                "not a catalogue 1.2".into(),
            ],
        }
    }

    fn report(findings: Vec<Finding>, finished_at: &str) -> Report {
        let estate = crate::model::Estate {
            snapshot_version: crate::model::SNAPSHOT_VERSION,
            scan: crate::model::ScanInfo {
                accounts: Vec::new(),
                tool_version: "test".into(),
                started_at: time::OffsetDateTime::UNIX_EPOCH,
                finished_at: time::OffsetDateTime::UNIX_EPOCH,
                account: Some("111122223333".into()),
                principal: None,
                endpoint: None,
                region: "us-east-1".into(),
                objects: None,
                gaps: Vec::new(),
                scope: None,
                command_line: None,
                tool_commit: None,
            },
            buckets: Vec::new(),
            keys: BTreeMap::new(),
        };
        let mut report = Report::new(&estate, findings);
        report.scan.finished_at = finished_at.into();
        report
    }

    #[test]
    fn an_event_carries_the_finding_its_ids_and_its_time() {
        let report = report(
            vec![finding(Status::Error, serde_json::json!(["a", 1]))],
            "2026-03-01T12:00:00.250Z",
        );
        let events = serde_json::to_value(events(&report).unwrap()).unwrap();
        let events = events.as_array().unwrap();
        let [e] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(e["class_uid"], 2003);
        assert_eq!(e["category_uid"], 2);
        assert_eq!(e["type_uid"], 200301);
        assert_eq!(e["time"], 1_772_366_400_250_i64);
        assert_eq!(e["compliance"]["status_id"], 2);
        assert_eq!(e["compliance"]["control"], "POL-001");
        assert_eq!(
            e["compliance"]["standards"],
            serde_json::json!(["PCI DSS v4.0.1", "NIST SP 800-53 Rev. 5"])
        );
        assert_eq!(e["compliance"]["requirements"].as_array().unwrap().len(), 4);
        assert_eq!(e["resources"][0]["type"], "AWS::S3::Bucket");
        assert_eq!(e["resources"][0]["cloud_partition"], "aws-us-gov");
        assert_eq!(e["resources"][0]["name"], "b\u{1b}]0;x\u{7}");
        assert_eq!(e["cloud"]["account"]["uid"], "111122223333");
        assert_eq!(e["cloud"]["account"]["type_id"], 10);
        assert_eq!(
            e["evidences"],
            serde_json::json!([{"data": {"value": ["a", 1]}}])
        );
        assert_eq!(e["metadata"]["version"], OCSF_VERSION);
        assert_eq!(e["unmapped"]["scan_complete"], true);
        let uid = e["finding_info"]["uid"].as_str().unwrap();
        assert_eq!(uid.len(), 64);
        assert_eq!(
            uid,
            finding_uid("POL-001", "arn:aws-us-gov:s3:::b\u{1b}]0;x\u{7}")
        );
        assert_ne!(
            uid,
            finding_uid("POL-002", "arn:aws-us-gov:s3:::b\u{1b}]0;x\u{7}")
        );
    }

    #[test]
    fn no_evidence_no_evidences_and_a_bad_time_is_an_error_not_a_panic() {
        let report_ = report(
            vec![finding(Status::Pass, Value::Null)],
            "2026-03-01T12:00:00Z",
        );
        let events = serde_json::to_value(events(&report_).unwrap()).unwrap();
        assert!(events[0].get("evidences").is_none());
        let mut out = Vec::new();
        let err = OcsfRenderer
            .render(&report(Vec::new(), "yesterday"), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("\"yesterday\""), "{err}");
    }

    #[test]
    fn only_a_bucket_arn_is_typed_a_bucket() {
        let mut f = finding(Status::Fail, Value::Null);
        f.resource = "arn:aws:s3:::b/key".into();
        f.bucket = Some("b".into());
        assert_eq!(resource_type(&f), None);
        f.resource = "arn:aws:s3:::b".into();
        assert_eq!(resource_type(&f), Some("AWS::S3::Bucket"));
        f.bucket = None;
        assert_eq!(resource_type(&f), None);
        assert_eq!(arn_partition("policy.json"), None);
    }
}
