use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table};

use super::{Render, Report};
use crate::model::{Finding, Severity, Status};

/// The terminal view: grouped by bucket, failures first, a one-line summary at the end.
/// Not-applicable findings are counted in the summary but not listed; the JSON and CSV
/// reports carry every finding.
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
                    Cell::new(if i == 0 { bucket } else { "" }),
                    Cell::new(&f.rule),
                    self.status_cell(f.status),
                    self.severity_cell(f),
                    Cell::new(&f.message),
                ]);
            }
        }
        if !report.findings.is_empty() {
            writeln!(out, "{table}")?;
        }
        writeln!(out, "{}", summary(report))
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
            "INCOMPLETE (see error findings)"
        },
    )
}
