use std::io::{self, Write};

use super::{Render, Report};

/// One row per finding, the JSON finding's fields as columns. Lists are joined with "; "
/// and evidence is compact JSON, so a spreadsheet keeps one finding per line.
pub struct CsvRenderer;

pub const HEADER: [&str; 9] = [
    "rule",
    "status",
    "severity",
    "bucket",
    "resource",
    "message",
    "remediation",
    "frameworks",
    "evidence",
];

impl Render for CsvRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let mut w = ::csv::Writer::from_writer(out);
        w.write_record(HEADER)?;
        for f in &report.findings {
            w.write_record([
                f.rule.as_str(),
                f.status.as_str(),
                f.severity.as_str(),
                f.bucket.as_deref().unwrap_or(""),
                f.resource.as_str(),
                f.message.as_str(),
                f.remediation.as_str(),
                f.frameworks.join("; ").as_str(),
                serde_json::to_string(&f.evidence)?.as_str(),
            ])?;
        }
        w.flush()
    }
}
