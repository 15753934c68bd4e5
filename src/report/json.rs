use std::io::{self, Write};

use super::{Render, Report};

/// The JSON report (schema_version 1), pretty-printed for diffing and reading.
pub struct JsonRenderer;

impl Render for JsonRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)
    }
}
