//! What `s3audit frameworks`, `s3audit frameworks coverage` and `s3audit rules explain`
//! print: the framework catalogues, one catalogue's requirements with the rules that
//! evidence them (and, given a report, how those rules fared), and one rule whole. Each as a
//! table laid out for the terminal's width (the report view's [`wrap`]) or as JSON.

use std::collections::BTreeMap;

use comfy_table::{Attribute, Cell, Color};
use serde::Serialize;
use serde_json::{Value, json};
use unicode_width::UnicodeWidthStr;

use super::Report;
use super::escape::terminal;
use super::table::wrap;
use crate::model::Status;
use crate::rules::frameworks::{self, Catalogue};
use crate::rules::metadata::{self, RuleMeta};

/// A flexible column is never squeezed below this (or its content, if narrower): below it a
/// title takes more lines than words.
const MIN_FLEX_WIDTH: usize = 12;

/// How a requirement stands. Without a report only `Mapped` and `OutOfScope` occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageStatus {
    /// A finding of a mapped rule fails, and no waiver accepts it.
    Fail,
    /// A mapped rule could not be evaluated somewhere, and none fails unwaived.
    Error,
    /// Findings of the mapped rules fail, every one of them waived (the config file's
    /// `[[waiver]]`): accepted for now, never a pass.
    FailWaived,
    /// Every finding of the mapped rules passes (not-applicable ones aside).
    Pass,
    /// Every finding seen passes, but the scan did not cover everything (the report's
    /// gaps): what was not read could fail, so this is not a pass.
    Incomplete,
    /// Every finding seen passes, but some rested on objects whose KMS keys the data did
    /// not record (counted from an S3 Inventory): those keys could fail, so this is not a
    /// pass.
    KeysNotRecorded,
    /// The report holds no pass, fail or error finding of any mapped rule.
    NotAssessed,
    /// No report given: the requirement has rules.
    Mapped,
    /// s3audit cannot evidence it (the catalogue says why).
    OutOfScope,
}

impl CoverageStatus {
    fn text(self) -> &'static str {
        match self {
            CoverageStatus::Fail => "FAIL",
            CoverageStatus::Error => "ERROR",
            CoverageStatus::FailWaived => "fail (waived)",
            CoverageStatus::Pass => "pass",
            CoverageStatus::Incomplete => "pass so far (scan incomplete)",
            CoverageStatus::KeysNotRecorded => "pass so far (object keys not recorded)",
            CoverageStatus::NotAssessed => "not assessed",
            CoverageStatus::Mapped => "mapped",
            CoverageStatus::OutOfScope => "out of scope",
        }
    }
}

/// Findings of one rule in a report, by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub fail: usize,
    /// Of the failing findings, those a waiver accepts. Absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub waived: usize,
    pub error: usize,
    pub pass: usize,
    pub not_applicable: usize,
    /// Of the n/a findings, those that left objects unjudged (S3 Inventory records no
    /// KMS key): the requirement cannot pass on them. Absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub unjudged: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleCoverage {
    pub rule: String,
    pub title: String,
    /// Present when coverage is taken against a report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Counts>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequirementCoverage {
    pub id: String,
    pub title: String,
    /// How reports name it: `PCI DSS v4.0.1 4.2.1`.
    pub label: String,
    pub rules: Vec<RuleCoverage>,
    pub status: CoverageStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<String>,
}

/// `s3audit frameworks coverage`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub catalogue: CatalogueSummary,
    /// Whether statuses come from a report (else they only say which rules map).
    pub against_report: bool,
    /// The report's filter, when the findings were cut down (`--rule`, `--status`, ...):
    /// a requirement whose rules were filtered out reads as not assessed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_filter: Option<String>,
    pub requirements: Vec<RequirementCoverage>,
}

/// One catalogue as `s3audit frameworks` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogueSummary {
    pub id: String,
    pub name: String,
    pub title: String,
    pub publisher: String,
    pub version: String,
    pub source: String,
    /// Requirements listed (in scope or not).
    pub requirements: usize,
    /// In-scope requirements at least one rule evidences.
    pub covered: usize,
    pub out_of_scope: usize,
}

impl CatalogueSummary {
    pub fn of(c: &Catalogue) -> Self {
        let (covered, in_scope) = c.covered();
        CatalogueSummary {
            id: c.id.clone(),
            name: c.name.clone(),
            title: c.title.clone(),
            publisher: c.publisher.clone(),
            version: c.version.clone(),
            source: c.source.clone(),
            requirements: c.requirements.len(),
            covered,
            out_of_scope: c.requirements.len() - in_scope,
        }
    }
}

/// Each requirement of `catalogue` with its rules; with a report, each rule's findings by
/// status and the requirement's status (fail if any finding fails unwaived, error if any
/// errors and none fails unwaived, fail (waived) if findings fail and a waiver accepts each,
/// pass if some pass and none fails or errors, not assessed if none of these).
pub fn coverage(catalogue: &Catalogue, report: Option<&Report>) -> Coverage {
    let counts: Option<BTreeMap<&str, Counts>> = report.map(|r| {
        let mut by_rule: BTreeMap<&str, Counts> = BTreeMap::new();
        for f in &r.findings {
            let c = by_rule.entry(f.rule.as_str()).or_default();
            match f.status {
                Status::Fail => {
                    c.fail += 1;
                    c.waived += usize::from(f.waiver.is_some());
                }
                Status::Error => c.error += 1,
                Status::Pass => c.pass += 1,
                Status::NotApplicable => {
                    c.not_applicable += 1;
                    c.unjudged += usize::from(f.leaves_unjudged());
                }
            }
        }
        by_rule
    });
    let complete = report.is_none_or(|r| r.scan.complete);
    let requirements = catalogue
        .requirements
        .iter()
        .map(|req| {
            let rules: Vec<RuleCoverage> = catalogue
                .rules_for(&req.id)
                .into_iter()
                .map(|m| RuleCoverage {
                    rule: m.id.clone(),
                    title: m.title.clone(),
                    findings: counts
                        .as_ref()
                        .map(|c| c.get(m.id.as_str()).copied().unwrap_or_default()),
                })
                .collect();
            let status = if req.out_of_scope.is_some() {
                CoverageStatus::OutOfScope
            } else if counts.is_none() {
                CoverageStatus::Mapped
            } else {
                let total =
                    rules
                        .iter()
                        .filter_map(|r| r.findings)
                        .fold(Counts::default(), |a, c| Counts {
                            fail: a.fail + c.fail,
                            waived: a.waived + c.waived,
                            error: a.error + c.error,
                            pass: a.pass + c.pass,
                            not_applicable: a.not_applicable + c.not_applicable,
                            unjudged: a.unjudged + c.unjudged,
                        });
                if total.fail > total.waived {
                    CoverageStatus::Fail
                } else if total.error > 0 {
                    CoverageStatus::Error
                } else if total.fail > 0 {
                    CoverageStatus::FailWaived
                } else if total.pass > 0 && !complete {
                    CoverageStatus::Incomplete
                } else if total.pass > 0 && total.unjudged > 0 {
                    CoverageStatus::KeysNotRecorded
                } else if total.pass > 0 {
                    CoverageStatus::Pass
                } else {
                    CoverageStatus::NotAssessed
                }
            };
            RequirementCoverage {
                id: req.id.clone(),
                title: req.title.clone(),
                label: catalogue.label(&req.id),
                rules,
                status,
                out_of_scope: req.out_of_scope.clone(),
            }
        })
        .collect();
    Coverage {
        catalogue: CatalogueSummary::of(catalogue),
        against_report: report.is_some(),
        report_filter: report.and_then(|r| r.filter.as_ref().map(|f| f.filter.describe())),
        requirements,
    }
}

/// `s3audit frameworks`: one row per catalogue.
pub fn catalogues_table(width: Option<u16>, color: bool) -> String {
    let rows = frameworks::catalogues()
        .iter()
        .map(|c| {
            let s = CatalogueSummary::of(c);
            vec![
                plain(s.id),
                plain(s.title),
                plain(s.version),
                plain(s.requirements.to_string()),
                plain(format!(
                    "{} of {}",
                    s.covered,
                    s.requirements - s.out_of_scope
                )),
            ]
        })
        .collect();
    let mut out = fitted(
        &["Catalogue", "Title", "Version", "Requirements", "Covered"],
        rows,
        &[1],
        width,
        color,
    );
    let note = "Covered: of the requirements in scope (those s3audit can evidence), how many \
at least one rule evidences. `s3audit frameworks coverage CATALOGUE` lists them all with \
their rules, and the out-of-scope ones with the reason.";
    out.push('\n');
    for line in wrap(note, width.map(usize::from), 0) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

pub fn catalogues_json() -> Value {
    let all: Vec<CatalogueSummary> = frameworks::catalogues()
        .iter()
        .map(CatalogueSummary::of)
        .collect();
    json!(all)
}

/// `s3audit frameworks coverage`: the catalogue's heading, a row per requirement, and with a
/// report a closing count of requirements by status.
pub fn coverage_table(coverage: &Coverage, width: Option<u16>, color: bool) -> String {
    let c = &coverage.catalogue;
    let heading = format!(
        "{} ({}, {}): {} requirements, {} out of scope",
        c.name, c.title, c.publisher, c.requirements, c.out_of_scope
    );
    let mut out = String::new();
    for line in wrap(&heading, width.map(usize::from), 2) {
        out.push_str(&line);
        out.push('\n');
    }
    let rows = coverage
        .requirements
        .iter()
        .map(|r| {
            let rules = match &r.out_of_scope {
                Some(reason) => reason.clone(),
                None if r.rules.is_empty() => "no rule".to_string(),
                // Ids alone wrap as a list; with counts, one rule a line.
                None if !coverage.against_report => r
                    .rules
                    .iter()
                    .map(|rc| rc.rule.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                None => r
                    .rules
                    .iter()
                    .map(|rc| {
                        format!(
                            "{}: {}",
                            rc.rule,
                            counts_text(rc.findings.unwrap_or_default())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            vec![
                plain(r.id.clone()),
                plain(r.title.clone()),
                plain(rules),
                status_cell(r.status),
            ]
        })
        .collect();
    out.push_str(&fitted(
        &["Requirement", "Title", "Rules", "Status"],
        rows,
        &[1, 2],
        width,
        color,
    ));
    out.push('\n');
    if coverage.against_report {
        let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &coverage.requirements {
            *by_status.entry(r.status.text()).or_default() += 1;
        }
        let order = [
            "FAIL",
            "ERROR",
            CoverageStatus::FailWaived.text(),
            CoverageStatus::Incomplete.text(),
            CoverageStatus::KeysNotRecorded.text(),
            "pass",
            "not assessed",
            "out of scope",
        ];
        let parts: Vec<String> = order
            .iter()
            .filter_map(|s| by_status.get(s).map(|n| format!("{n} {s}")))
            .collect();
        out.push_str(&format!("Requirements: {}\n", parts.join(", ")));
    }
    if let Some(filter) = &coverage.report_filter {
        let note = format!(
            "The report was filtered ({}): requirements whose rules were filtered out read as not assessed.",
            terminal(filter)
        );
        for line in wrap(&note, width.map(usize::from), 0) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn counts_text(n: Counts) -> String {
    let fail = if n.waived > 0 {
        format!("fail ({} waived)", n.waived)
    } else {
        "fail".to_string()
    };
    let parts: Vec<String> = [
        (n.fail, fail.as_str()),
        (n.error, "error"),
        (n.pass, "pass"),
        (n.not_applicable, "n/a"),
    ]
    .iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, what)| format!("{count} {what}"))
    .collect();
    if parts.is_empty() {
        "no findings".to_string()
    } else {
        parts.join(", ")
    }
}

/// A rule's references resolved: what `rules explain` lists.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedReference {
    pub reference: String,
    pub catalogue: String,
    pub requirement: String,
    pub label: String,
    pub title: String,
}

fn resolved(meta: &RuleMeta) -> Vec<ResolvedReference> {
    meta.frameworks
        .iter()
        .filter_map(|r| {
            let (c, req) = frameworks::resolve(r)?;
            Some(ResolvedReference {
                reference: r.clone(),
                catalogue: c.id.clone(),
                requirement: req.id.clone(),
                label: c.label(&req.id),
                title: req.title.clone(),
            })
        })
        .collect()
}

/// `s3audit rules explain ID --format json`: the metadata with each reference resolved.
pub fn explain_json(meta: &RuleMeta) -> Value {
    json!({
        "id": meta.id,
        "name": meta.name,
        "title": meta.title,
        "severity": meta.severity,
        "rationale": meta.rationale.trim(),
        "remediation": meta.remediation.trim(),
        "frameworks": resolved(meta),
    })
}

/// `s3audit rules explain ID`: the rule whole, its prose wrapped to the width, its
/// framework requirements as a table.
pub fn explain_text(meta: &RuleMeta, width: Option<u16>, color: bool) -> String {
    let text_width = width.map(|w| usize::from(w).saturating_sub(2).max(MIN_FLEX_WIDTH));
    let mut out = format!(
        "{} {} ({} severity)\n{}\n",
        meta.id,
        meta.name,
        meta.severity.as_str(),
        meta.title
    );
    // The rationale is prose broken at ~95 columns in its file: rewrap it as one paragraph.
    // The remediation keeps its lines (commands and policy statements stand on their own).
    let rationale = meta
        .rationale
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for (heading, text) in [
        ("Rationale", rationale.as_str()),
        ("Remediation", meta.remediation.trim()),
    ] {
        out.push_str(&format!("\n{heading}:\n"));
        for line in wrap(text, text_width, 0) {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str("\nFramework requirements:\n");
    let refs = resolved(meta);
    if refs.is_empty() {
        out.push_str("  none: no shipped catalogue has a requirement this rule bears on\n");
    } else {
        let rows = refs
            .into_iter()
            .map(|r| vec![plain(r.label), plain(r.title)])
            .collect();
        out.push_str(&fitted(&["Requirement", "Title"], rows, &[1], width, color));
        out.push('\n');
    }
    out
}

/// Valid rule ids, for an error about an unknown one.
pub fn rule_ids() -> String {
    let ids: Vec<&str> = metadata::catalog().iter().map(|m| m.id.as_str()).collect();
    ids.join(", ")
}

fn plain(text: impl Into<String>) -> (String, Option<CoverageStatus>) {
    (text.into(), None)
}

fn status_cell(status: CoverageStatus) -> (String, Option<CoverageStatus>) {
    (status.text().to_string(), Some(status))
}

/// A table whose `flexible` columns are wrapped so the whole fits `width`: the other
/// columns keep their content's width, and the room left is shared between the flexible
/// ones in proportion to their content (each at least [`MIN_FLEX_WIDTH`]). A cell paired
/// with a status is coloured as the status when `color`.
fn fitted(
    header: &[&str],
    rows: Vec<Vec<(String, Option<CoverageStatus>)>>,
    flexible: &[usize],
    width: Option<u16>,
    color: bool,
) -> String {
    let natural: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .flat_map(|r| r[i].0.lines())
                .chain([header[i]])
                .map(UnicodeWidthStr::width)
                .max()
                .unwrap_or(0)
        })
        .collect();
    // `│ ` + ` ┆ ` between columns + ` │`.
    let overhead = 3 * header.len() + 1;
    let fixed: usize = (0..header.len())
        .filter(|i| !flexible.contains(i))
        .map(|i| natural[i])
        .sum();
    let flex_total: usize = flexible.iter().map(|i| natural[*i]).sum();
    let widths: Vec<Option<usize>> = (0..header.len())
        .map(|i| {
            let room = usize::from(width?).saturating_sub(overhead + fixed);
            if !flexible.contains(&i) || flex_total <= room {
                return None;
            }
            let share = room * natural[i] / flex_total.max(1);
            Some(share.max(MIN_FLEX_WIDTH.min(natural[i])))
        })
        .collect();
    let mut table = super::table::prewrapped_table(color);
    table.set_header(header.iter().copied());
    for row in rows {
        let cells: Vec<Cell> = row
            .into_iter()
            .enumerate()
            .map(|(i, (text, status))| {
                // Escaped line by line: the escape would show a line feed as `\n`.
                let escaped: Vec<String> =
                    text.split('\n').map(|l| terminal(l).into_owned()).collect();
                // Continuation lines are indented, unless the column is too narrow to spare it.
                let hang = if widths[i].is_some_and(|w| w < 20) {
                    0
                } else {
                    2
                };
                let text = wrap(&escaped.join("\n"), widths[i], hang).join("\n");
                let cell = Cell::new(text);
                match status.filter(|_| color) {
                    Some(CoverageStatus::Fail) => {
                        cell.fg(Color::Red).add_attribute(Attribute::Bold)
                    }
                    Some(CoverageStatus::Error) => {
                        cell.fg(Color::Yellow).add_attribute(Attribute::Bold)
                    }
                    Some(CoverageStatus::FailWaived) => cell.fg(Color::Magenta),
                    Some(CoverageStatus::Pass) => cell.fg(Color::Green),
                    Some(CoverageStatus::NotAssessed | CoverageStatus::OutOfScope) => {
                        cell.fg(Color::DarkGrey)
                    }
                    _ => cell,
                }
            })
            .collect();
        table.add_row(cells);
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Finding;

    fn finding(rule: &str, status: Status) -> Finding {
        Finding::on_bucket(rule, "b", status)
    }

    fn status_of(c: &Coverage, id: &str) -> CoverageStatus {
        c.requirements.iter().find(|r| r.id == id).unwrap().status
    }

    #[test]
    fn a_requirement_fails_with_any_failing_finding_errors_without_and_passes_when_all_pass() {
        let pci = frameworks::lookup("pci-dss-4.0.1").unwrap();
        let report = Report::for_document(
            None,
            vec![
                finding("POL-001", Status::Pass),
                finding("POL-002", Status::Fail),
                finding("KMS-002", Status::Error),
                finding("ENC-001", Status::Pass),
                finding("OBJ-001", Status::NotApplicable),
            ],
        );
        let c = coverage(pci, Some(&report));
        assert_eq!(status_of(&c, "4.2.1"), CoverageStatus::Fail);
        assert_eq!(status_of(&c, "3.7.4"), CoverageStatus::Error);
        assert_eq!(status_of(&c, "3.5.1"), CoverageStatus::Pass);
        assert_eq!(status_of(&c, "3.7.5"), CoverageStatus::NotAssessed);
        assert_eq!(status_of(&c, "4.2.1.1"), CoverageStatus::OutOfScope);
        let without = coverage(pci, None);
        assert_eq!(status_of(&without, "4.2.1"), CoverageStatus::Mapped);
    }

    /// Objects counted from an S3 Inventory carry no KMS key: OBJ-004 is n/a for them,
    /// not judged. A requirement that rests on it (3.7.5, with KMS-001 passing) must not
    /// read "pass": the keys of those objects were never seen.
    #[test]
    fn objects_whose_keys_were_not_recorded_pass_no_requirement() {
        let pci = frameworks::lookup("pci-dss-4.0.1").unwrap();
        let unjudged = Finding {
            evidence: serde_json::json!({"kms_objects_unjudged": 3, "manifest": "m.json"}),
            ..finding("OBJ-004", Status::NotApplicable)
        };
        let report = Report::for_document(
            None,
            vec![finding("KMS-001", Status::Pass), unjudged.clone()],
        );
        let c = coverage(pci, Some(&report));
        assert_eq!(status_of(&c, "3.7.5"), CoverageStatus::KeysNotRecorded);
        // An n/a with nothing left unjudged (no KMS objects at all) is still a pass.
        let none_left = Finding {
            evidence: serde_json::json!({"kms_objects_unjudged": 0, "manifest": "m.json"}),
            ..unjudged
        };
        let report = Report::for_document(None, vec![finding("KMS-001", Status::Pass), none_left]);
        assert_eq!(
            status_of(&coverage(pci, Some(&report)), "3.7.5"),
            CoverageStatus::Pass
        );
    }

    /// A scan that did not cover everything (e.g. a listing cut short) cannot make a
    /// requirement pass: what was not read could fail.
    #[test]
    fn an_incomplete_scan_passes_no_requirement() {
        let pci = frameworks::lookup("pci-dss-4.0.1").unwrap();
        let mut report = Report::for_document(
            None,
            vec![
                finding("ENC-001", Status::Pass),
                finding("POL-002", Status::Fail),
            ],
        );
        report.scan.complete = false;
        report.scan.gaps = vec!["bucket b: ListObjectsV2 repeated a continuation token".into()];
        let c = coverage(pci, Some(&report));
        assert_eq!(status_of(&c, "3.5.1"), CoverageStatus::Incomplete);
        assert_eq!(status_of(&c, "4.2.1"), CoverageStatus::Fail);
        let table = coverage_table(&c, Some(100), false);
        assert!(table.contains("scan incomplete"), "{table}");
    }

    /// A requirement whose failures are all waived is accepted for now, never a pass; one
    /// unwaived failure among them makes it fail.
    #[test]
    fn a_requirement_whose_only_failures_are_waived_reads_fail_waived() {
        let pci = frameworks::lookup("pci-dss-4.0.1").unwrap();
        let waived = |rule: &str| Finding {
            waiver: Some(crate::model::AppliedWaiver {
                index: 1,
                rule: rule.into(),
                resource: "b".into(),
                reason: "accepted".into(),
                owner: "o".into(),
                expires: "2027-03-31".into(),
            }),
            ..finding(rule, Status::Fail)
        };
        let report = Report::for_document(
            None,
            vec![
                waived("POL-001"),
                finding("ENC-001", Status::Pass),
                waived("POL-002"),
                finding("POL-002", Status::Fail),
            ],
        );
        let c = coverage(pci, Some(&report));
        assert_eq!(
            status_of(&c, "4.2.1"),
            CoverageStatus::Fail,
            "POL-002 fails unwaived"
        );
        let only_waived = Report::for_document(
            None,
            vec![waived("POL-001"), finding("ENC-001", Status::Pass)],
        );
        let c = coverage(pci, Some(&only_waived));
        let req = c.requirements.iter().find(|r| r.id == "4.2.1").unwrap();
        assert_eq!(req.status, CoverageStatus::FailWaived);
        let pol = req.rules.iter().find(|r| r.rule == "POL-001").unwrap();
        assert_eq!(pol.findings.unwrap().waived, 1);
        let table = coverage_table(&c, Some(100), false);
        assert!(table.contains("fail (waived)"), "{table}");
        assert!(table.contains("POL-001: 1 fail (1 waived)"), "{table}");
        let json = serde_json::to_value(&c).unwrap();
        assert!(
            json.to_string().contains(r#""status":"fail_waived""#),
            "{json}"
        );
    }

    #[test]
    fn tables_fit_eighty_columns() {
        let pci = frameworks::lookup("pci-dss-4.0.1").unwrap();
        let report = Report::for_document(None, vec![finding("POL-001", Status::Fail)]);
        for text in [
            catalogues_table(Some(80), false),
            coverage_table(&coverage(pci, Some(&report)), Some(80), false),
            explain_text(metadata::lookup("POL-001").unwrap(), Some(80), false),
        ] {
            for line in text.lines() {
                assert!(line.width() <= 80, "{}: {line}", line.width());
            }
        }
    }
}
