use std::io::{self, Write};

use super::escape::{spreadsheet_cell, spreadsheet_text};
use super::{Render, Report};

/// One row per finding, the JSON finding's fields as columns, then the scan's `scope`. Lists are joined with "; "
/// and evidence is compact JSON, so a spreadsheet keeps one finding per line.
///
/// Every cell is text and goes through the spreadsheet neutraliser ([`super::escape`]):
/// bucket names, messages and evidence carry strings from the audited endpoint, and a
/// spreadsheet must show them, not run them. A cell that would start with `=`, `+`, `-` or
/// `@` gets a leading `'`; control and invisible characters become visible escapes. There
/// is no numeric column, so quoting a leading `-` costs no number. The remediation keeps
/// its line feeds (it can carry a merged policy to paste; the cell is quoted); every other
/// cell is one line. The JSON report has the exact strings.
///
/// The waiver columns come last, so a consumer that reads the first nine by position keeps
/// working: `waived` is `true` for a failing finding a waiver accepted (its status stays
/// `fail`), `false` otherwise, and the waiver's reason, owner and expiry day follow (empty
/// when not waived).
pub struct CsvRenderer;

pub const HEADER: [&str; 15] = [
    "rule",
    "status",
    "severity",
    "bucket",
    "resource",
    "message",
    "remediation",
    "frameworks",
    "evidence",
    "waived",
    "waiver_reason",
    "waiver_owner",
    "waiver_expires",
    // Appended (columns are only ever added at the end): what narrows the scan the finding
    // comes from, `prefix=logs/; sample=100 per bucket`; empty for a full object scan. The
    // same on every row, so a row read alone still says it.
    "scope",
    // Appended: the account the finding's resource belongs to (empty when unknown).
    "account",
];

impl Render for CsvRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let mut w = ::csv::Writer::from_writer(out);
        w.write_record(HEADER)?;
        let scope = report.scan.limits().unwrap_or_default();
        for f in &report.findings {
            let frameworks = f.frameworks.join("; ");
            let evidence = serde_json::to_string(&f.evidence)?;
            let cells = [
                spreadsheet_cell(f.rule.as_str()),
                spreadsheet_cell(f.status.as_str()),
                spreadsheet_cell(f.severity.as_str()),
                spreadsheet_cell(f.bucket.as_deref().unwrap_or("")),
                spreadsheet_cell(&f.resource),
                spreadsheet_cell(&f.message),
                spreadsheet_text(&f.remediation),
                spreadsheet_cell(&frameworks),
                spreadsheet_cell(&evidence),
                spreadsheet_cell(if f.waiver.is_some() { "true" } else { "false" }),
                spreadsheet_cell(f.waiver.as_ref().map_or("", |w| w.reason.as_str())),
                spreadsheet_cell(f.waiver.as_ref().map_or("", |w| w.owner.as_str())),
                spreadsheet_cell(f.waiver.as_ref().map_or("", |w| w.expires.as_str())),
                spreadsheet_cell(&scope),
                spreadsheet_cell(f.account.as_deref().unwrap_or("")),
            ];
            w.write_record(cells.iter().map(|c| c.as_bytes()))?;
        }
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, Status};
    use crate::report::escape::{is_hidden, terminal};

    fn finding(bucket: &str, message: &str, remediation: &str) -> Finding {
        Finding {
            message: message.into(),
            evidence: serde_json::json!({"bucket": bucket, "reason": "\u{9b}\u{202e}"}),
            remediation: remediation.into(),
            frameworks: vec!["+frame".into()],
            ..Finding::on_bucket("ENC-001", bucket, Status::Fail)
        }
    }

    fn rows(findings: Vec<Finding>) -> Vec<csv::StringRecord> {
        let report = Report::for_document(Some("b"), findings);
        let mut out = Vec::new();
        CsvRenderer.render(&report, &mut out).unwrap();
        csv::Reader::from_reader(out.as_slice())
            .records()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn no_cell_starts_a_formula_or_carries_a_control_character() {
        let hostile = [
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(1)",
            "\t=1+1",
            "\r=1+1",
            "x\x1b]0;pwned\x07\x1b[2J\r\u{202e}",
        ];
        let findings = hostile
            .iter()
            .map(|h| finding(h, h, &format!("{h}\nline two")))
            .collect();
        let rows = rows(findings);
        assert_eq!(rows.len(), hostile.len());
        for (row, h) in rows.iter().zip(hostile) {
            for (i, cell) in row.iter().enumerate() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']),
                    "column {} starts a formula: {cell:?}",
                    HEADER[i]
                );
                let allowed = |c: char| HEADER[i] == "remediation" && c == '\n';
                assert!(
                    !cell.chars().any(|c| is_hidden(c) && !allowed(c)),
                    "column {} carries a control: {cell:?}",
                    HEADER[i]
                );
            }
            // The text is all there, shown.
            assert_eq!(&row[3], &*spreadsheet_cell(h));
            assert!(row[5].ends_with(&*terminal(h)), "{row:?}");
            assert!(row[6].ends_with("\nline two"), "{row:?}");
            assert_eq!(&row[7], "'+frame");
        }
        assert_eq!(&rows[0][3], "'=HYPERLINK(\"http://evil.example\",\"x\")");
        assert_eq!(&rows[6][3], r"x\x1b]0;pwned\x07\x1b[2J\r\u{202e}");
        assert_eq!(
            &rows[6][8],
            r#"{"bucket":"x\u001b]0;pwned\u0007\u001b[2J\r\u{202e}","reason":"\u{9b}\u{202e}"}"#
        );
    }
}
