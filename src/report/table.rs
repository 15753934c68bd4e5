use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table};

use super::escape::terminal;
use super::{Render, Report};
use crate::model::{Finding, Severity, Status};

/// The terminal view: grouped by bucket, failures first, a one-line summary at the end.
/// Not-applicable findings are counted in the summary but not listed; the JSON and CSV
/// reports carry every finding.
///
/// Every string printed goes through [`terminal`], colour on or off: bucket names and
/// messages come from the audited endpoint, and a control sequence in one must neither
/// reach the terminal nor break the table (see [`super::escape`]).
pub struct TableRenderer {
    pub color: bool,
    /// Wrap to this many columns (a terminal's width); `None` leaves rows unwrapped.
    pub width: Option<u16>,
}

impl TableRenderer {
    fn status_cell(&self, status: Status) -> Cell {
        let (text, color) = match status {
            Status::Fail => ("FAIL", Color::Red),
            Status::Error => ("ERROR", Color::Yellow),
            Status::Pass => ("pass", Color::Green),
            Status::NotApplicable => ("n/a", Color::DarkGrey),
        };
        let cell = Cell::new(text);
        if self.color {
            let cell = cell.fg(color);
            if matches!(status, Status::Fail | Status::Error) {
                cell.add_attribute(Attribute::Bold)
            } else {
                cell
            }
        } else {
            cell
        }
    }

    fn severity_cell(&self, f: &Finding) -> Cell {
        let cell = Cell::new(f.severity.as_str());
        if self.color && f.status == Status::Fail && f.severity >= Severity::High {
            cell.fg(Color::Red)
        } else {
            cell
        }
    }
}

impl Render for TableRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let mut by_bucket: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for f in report
            .findings
            .iter()
            .filter(|f| f.status != Status::NotApplicable)
        {
            by_bucket
                .entry(f.bucket.as_deref().unwrap_or(&f.resource))
                .or_default()
                .push(f);
        }
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        if self.color {
            // The caller decided (a terminal, no NO_COLOR); comfy-table would otherwise ask
            // stdout again, which is the same answer in the binary but not in a test.
            table.enforce_styling();
        }
        match self.width {
            Some(w) => {
                table.set_content_arrangement(ContentArrangement::Dynamic);
                table.set_width(w);
            }
            None => {
                table.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        table.set_header(["Bucket", "Rule", "Status", "Severity", "Finding"]);
        for (bucket, mut findings) in by_bucket {
            findings.sort_by(|a, b| {
                a.status
                    .cmp(&b.status)
                    .then(b.severity.cmp(&a.severity))
                    .then(a.rule.cmp(&b.rule))
            });
            for (i, f) in findings.iter().enumerate() {
                table.add_row(vec![
                    Cell::new(if i == 0 { terminal(bucket) } else { "".into() }),
                    Cell::new(terminal(&f.rule)),
                    self.status_cell(f.status),
                    self.severity_cell(f),
                    Cell::new(terminal(&f.message)),
                ]);
            }
        }
        if !report.findings.is_empty() {
            writeln!(out, "{table}")?;
        }
        // Only numbers and fixed words today; escaped so that stays true whatever is added.
        writeln!(out, "{}", terminal(&summary(report)))?;
        // "Incomplete" always says why: each gap on its own line, at most a screenful.
        const SHOWN: usize = 20;
        for gap in report.scan.gaps.iter().take(SHOWN) {
            writeln!(out, "  not covered: {}", terminal(gap))?;
        }
        if report.scan.gaps.len() > SHOWN {
            writeln!(
                out,
                "  … and {} more (all in the JSON report's scan.gaps)",
                report.scan.gaps.len() - SHOWN
            )?;
        }
        Ok(())
    }
}

/// "14 buckets, 112 findings: 40 fail (3 critical, 20 high, …), 0 error, 50 pass, 22 n/a; scan complete"
pub fn summary(report: &Report) -> String {
    let fails: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .collect();
    let by_severity: Vec<String> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .iter()
    .filter_map(|s| {
        let n = fails.iter().filter(|f| f.severity == *s).count();
        (n > 0).then(|| format!("{n} {}", s.as_str()))
    })
    .collect();
    let fail_detail = if by_severity.is_empty() {
        String::new()
    } else {
        format!(" ({})", by_severity.join(", "))
    };
    format!(
        "{} bucket{}, {} findings: {} fail{}, {} error, {} pass, {} n/a; scan {}",
        report.buckets.len(),
        if report.buckets.len() == 1 { "" } else { "s" },
        report.findings.len(),
        fails.len(),
        fail_detail,
        report.count(Status::Error),
        report.count(Status::Pass),
        report.count(Status::NotApplicable),
        if report.scan.complete {
            "complete"
        } else {
            "INCOMPLETE (see error findings and the gaps below)"
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE_BUCKET: &str = "=cmd\x1b]0;pwned\x07\u{202e}";
    const HOSTILE_MESSAGE: &str = "AccessDenied\x1b[2J\rFAKE\n| pass |\x08\u{9b}31m";

    fn report(bucket: &str, message: &str) -> Report {
        let finding = Finding {
            rule: "ENC-001\x1b[8m".into(),
            status: Status::Error,
            severity: Severity::High,
            resource: format!("arn:aws:s3:::{bucket}"),
            bucket: Some(bucket.into()),
            message: message.into(),
            evidence: serde_json::Value::Null,
            remediation: String::new(),
            frameworks: Vec::new(),
        };
        Report::for_document(Some(bucket), vec![finding])
    }

    fn render(report: &Report, color: bool, width: Option<u16>) -> String {
        let mut out = Vec::new();
        TableRenderer { color, width }
            .render(report, &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The output without the colour sequences comfy-table itself writes (`ESC [ … m`).
    fn without_sgr(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("\x1b[") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            match after.find(|c: char| !(c.is_ascii_digit() || c == ';')) {
                Some(end) if after[end..].starts_with('m') => rest = &after[end + 1..],
                // Not a colour sequence: keep it, so the assertion below sees it.
                _ => {
                    out.push_str("\x1b[");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn hostile_names_and_messages_reach_the_terminal_as_visible_escapes() {
        let report = report(HOSTILE_BUCKET, HOSTILE_MESSAGE);
        for color in [false, true] {
            for width in [None, Some(400)] {
                let out = render(&report, color, width);
                let plain = without_sgr(&out);
                for raw in ['\x1b', '\x07', '\r', '\x08', '\u{9b}', '\u{202e}'] {
                    assert!(!plain.contains(raw), "{raw:?} raw in {plain:?}");
                }
                for shown in [
                    r"=cmd\x1b]0;pwned\x07\u{202e}",
                    r"AccessDenied\x1b[2J\rFAKE\n| pass |\x08\u{9b}31m",
                    r"ENC-001\x1b[8m",
                ] {
                    assert!(plain.contains(shown), "{shown} not in {plain}");
                }
                assert_eq!(color, out.contains('\x1b'), "colour is still applied");
            }
        }
    }

    #[test]
    fn a_line_feed_in_a_message_does_not_add_a_table_line() {
        let clean = render(&report("b", "one two"), false, None);
        let fed = render(&report("b", "one\ntwo"), false, None);
        assert_eq!(clean.lines().count(), fed.lines().count(), "{fed}");
        assert!(fed.contains(r"one\ntwo"), "{fed}");
    }
}
