use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::presets::{UTF8_FULL, UTF8_FULL_CONDENSED};
use comfy_table::{
    Attribute, Cell, Color, ColumnConstraint, ContentArrangement, Row, Table, Width,
};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::escape::terminal;
use super::{Render, Report};
use crate::model::{Finding, Severity, Status};
use crate::rules::metadata::RuleMeta;
use crate::rules::waivers::WaiverState;

/// Columns the view is laid out for when neither a terminal nor `COLUMNS` says: a finding
/// takes two or three lines, and a CI log or a pager shows it unwrapped.
pub const DEFAULT_WIDTH: u16 = 100;

/// The narrowest the message column gets, however narrow the terminal: below this a
/// message of a dozen words takes more lines than the screen has, and running wider
/// than the terminal (which then wraps the line itself) reads better.
const MIN_TEXT_WIDTH: usize = 24;

/// The width a table is laid out for: the terminal's, when the table goes to one;
/// otherwise `COLUMNS` (a user who pipes into `less` or a file sets it to say how wide);
/// otherwise [`DEFAULT_WIDTH`]. The terminal wins over `COLUMNS` because a shell that
/// exports `COLUMNS` does not update it in every child when the window is resized.
pub fn output_width(to_terminal: bool) -> u16 {
    let terminal = to_terminal
        .then(|| Table::new().width())
        .flatten()
        .filter(|w| *w > 0);
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| *w > 0);
    terminal.or(columns).unwrap_or(DEFAULT_WIDTH)
}

/// The terminal view: one section per bucket, its failures and errors first (most severe
/// first) in a table, its passes folded into one line of rule ids ("✓ 9 passed: ENC-001
/// …") unless `show_passes`, and a summary of the whole report at the end.
/// Not-applicable findings are counted in each bucket's heading but not listed (unless
/// `--status n/a` asks for them); the JSON and CSV reports carry every finding.
///
/// Lines are wrapped here, not by comfy-table: comfy-table breaks an over-long word at
/// whatever character reaches the edge, which cuts ARNs and condition keys mid-name; this
/// view breaks at spaces, and inside a word only after `/`, `:`, `=` or `,` while one of
/// those is left (see [`wrap`]). Every table of a report has the same column widths, so
/// the sections line up.
///
/// Every string printed goes through [`terminal`], colour on or off: bucket names and
/// messages come from the audited endpoint, and a control sequence in one must neither
/// reach the terminal nor break the table (see [`super::escape`]).
pub struct TableRenderer {
    /// Colour statuses, severities and headings (ANSI SGR sequences).
    pub color: bool,
    /// Lay the view out for this many columns ([`output_width`]); `None`: never wrap.
    pub width: Option<u16>,
    /// List passing findings as rows, after the failures, instead of one folded line.
    pub show_passes: bool,
    /// Show each failing finding's remediation under its message.
    pub explain: bool,
}

/// The cells of one row and the fixed part of the layout: the rule, status and severity
/// columns as wide as their widest value in the whole report, the message column what
/// is left of the width.
struct Layout {
    rule: usize,
    status: usize,
    severity: usize,
    text: usize,
}

/// What a row of four columns costs besides its content, in the condensed UTF-8 style:
/// `│ ` + ` ┆ ` × 3 + ` │`.
const ROW_OVERHEAD: usize = 13;

impl Layout {
    fn new(rows: &[(&Finding, Vec<String>)], width: Option<u16>) -> Self {
        let widest = |w: &mut usize, s: &str| *w = (*w).max(s.width());
        let (mut rule, mut status, mut severity, mut text) = (0, 0, 0, 0);
        for (f, lines) in rows {
            widest(&mut rule, &terminal(f.rule.as_str()));
            widest(&mut status, finding_status_text(f));
            widest(&mut severity, f.severity.as_str());
            for line in lines {
                widest(&mut text, line);
            }
        }
        if let Some(width) = width {
            let room = usize::from(width)
                .saturating_sub(ROW_OVERHEAD + rule + status + severity)
                .max(MIN_TEXT_WIDTH);
            text = text.min(room);
        }
        Layout {
            rule,
            status,
            severity,
            text: text.max(1),
        }
    }
}

/// The status cell of a finding: `FAIL (waived)` for a failure a waiver accepted, which is
/// still a failure (the line under its message says whose waiver and until when).
fn finding_status_text(f: &Finding) -> &'static str {
    if f.waiver.is_some() {
        "FAIL (waived)"
    } else {
        status_text(f.status)
    }
}

fn status_text(status: Status) -> &'static str {
    match status {
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Pass => "pass",
        Status::NotApplicable => "n/a",
    }
}

/// ANSI SGR for text outside the tables (headings, the folded passes); comfy-table
/// styles the cells.
const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

impl TableRenderer {
    fn status_cell(&self, f: &Finding) -> Cell {
        let cell = Cell::new(finding_status_text(f));
        if !self.color {
            return cell;
        }
        match f.status {
            // Accepted for now: marked, not alarming.
            Status::Fail if f.waiver.is_some() => cell.fg(Color::Magenta),
            Status::Fail => cell.fg(Color::Red).add_attribute(Attribute::Bold),
            Status::Error => cell.fg(Color::Yellow).add_attribute(Attribute::Bold),
            Status::Pass => cell.fg(Color::Green),
            Status::NotApplicable => cell.fg(Color::DarkGrey),
        }
    }

    /// A failing or erroring finding's severity in the colour of its urgency; a pass's
    /// severity says how much it matters, not that anything is wrong, so it stays plain.
    fn severity_cell(&self, f: &Finding) -> Cell {
        let cell = Cell::new(f.severity.as_str());
        if !self.color || !matches!(f.status, Status::Fail | Status::Error) {
            return cell;
        }
        severity_style(cell, f.severity)
    }

    /// Whether rows of this status are listed (fail and error always; passes folded and
    /// n/a counted unless asked for).
    fn listed(&self, report: &Report, status: Status) -> bool {
        let asked = report
            .filter
            .as_ref()
            .is_some_and(|f| f.filter.status.contains(&status));
        match status {
            Status::Fail | Status::Error => true,
            Status::Pass => self.show_passes || asked,
            Status::NotApplicable => asked,
        }
    }

    fn text_width(&self) -> Option<usize> {
        self.width.map(usize::from)
    }

    /// The message, and with `explain` a failure's remediation under it, wrapped to the
    /// message column. Each line of the remediation is escaped on its own: its line
    /// breaks are the rule's (a policy document to paste), not the endpoint's.
    fn text_lines(&self, f: &Finding, width: Option<usize>) -> Vec<String> {
        let mut lines = wrap(&terminal(&f.message), width, 0);
        if let Some(w) = &f.waiver {
            let line = format!(
                "Waived until {} by {} (waiver #{}): {}",
                w.expires, w.owner, w.index, w.reason
            );
            lines.extend(wrap(&terminal(&line), width, 0));
        }
        if self.explain && f.status == Status::Fail && !f.remediation.trim().is_empty() {
            lines.push(String::new());
            for (i, line) in f.remediation.trim_end().split('\n').enumerate() {
                let line = terminal(line);
                let line = if i == 0 {
                    format!("Fix: {line}")
                } else {
                    line.into_owned()
                };
                lines.extend(wrap(&line, width, 0));
            }
        }
        lines
    }

    fn table(&self, layout: &Layout, rows: &[(&Finding, Vec<String>)]) -> Table {
        let mut table = prewrapped_table(self.color);
        // With --explain a row can be a whole policy document: rules between rows tell
        // where one finding ends and the next begins.
        if self.explain {
            table.load_style(UTF8_FULL);
        }
        for (f, lines) in rows {
            table.add_row(Row::from(vec![
                Cell::new(terminal(f.rule.as_str())),
                self.status_cell(f),
                self.severity_cell(f),
                Cell::new(lines.join("\n")),
            ]));
        }
        // Fixed widths, padding included, so every section's table lines up.
        table.set_constraints(
            [layout.rule, layout.status, layout.severity, layout.text].map(|w| {
                ColumnConstraint::Absolute(Width::Fixed(u16::try_from(w + 2).unwrap_or(u16::MAX)))
            }),
        );
        table
    }

    /// "demo-sse-s3 (us-east-1): 4 fail, 13 pass, 1 n/a"
    fn heading(&self, report: &Report, bucket: &str, findings: &[&Finding]) -> Vec<String> {
        let region = report
            .buckets
            .iter()
            .find(|b| b.name == bucket)
            .and_then(|b| b.region.as_deref());
        let counts: Vec<String> = [
            Status::Fail,
            Status::Error,
            Status::Pass,
            Status::NotApplicable,
        ]
        .iter()
        .filter_map(|s| {
            let n = findings.iter().filter(|f| f.status == *s).count();
            let waived = findings.iter().filter(|f| f.waiver.is_some()).count();
            let waived = if *s == Status::Fail && waived > 0 {
                format!(" ({waived} waived)")
            } else {
                String::new()
            };
            (n > 0).then(|| format!("{n} {}{waived}", status_text(*s).to_ascii_lowercase()))
        })
        .collect();
        let name = match region {
            Some(region) => format!("{} ({})", terminal(bucket), terminal(region)),
            None => terminal(bucket).into_owned(),
        };
        let mut lines = wrap(
            &format!("{name}: {}", counts.join(", ")),
            self.text_width(),
            2,
        );
        if self.color
            && let Some(first) = lines.first_mut()
            && let Some(rest) = first.strip_prefix(name.as_str())
        {
            *first = format!("{BOLD}{name}{RESET}{rest}");
        }
        lines
    }

    /// Under the heading of a bucket that was not read on purpose (its region is not enabled
    /// for its account): why, since its findings are all n/a and not listed.
    fn skipped(&self, report: &Report, bucket: &str) -> Vec<String> {
        report
            .buckets
            .iter()
            .find(|b| b.name == bucket)
            .and_then(|b| b.skipped.as_deref())
            .map(|why| {
                wrap(
                    &terminal(&format!("  not read: {why}")),
                    self.text_width(),
                    4,
                )
            })
            .unwrap_or_default()
    }

    /// Under the heading of a bucket whose objects were counted from S3 Inventory: what the
    /// counts are and what they lack, so OBJ rules that are n/a there are not taken for
    /// passes. Nothing for HEAD-scanned buckets (the usual case needs no line).
    fn object_source(&self, report: &Report, bucket: &str) -> Vec<String> {
        let source = report
            .buckets
            .iter()
            .find(|b| b.name == bucket)
            .and_then(|b| b.object_source.as_ref());
        let line = match source {
            Some(crate::model::ObjectSource::Inventory {
                manifest, as_of, ..
            }) => format!(
                "  objects counted from the S3 Inventory of {} ({manifest}), not HEADed: no KMS key per object",
                rfc3339(*as_of)
            ),
            Some(crate::model::ObjectSource::MetadataTable { table, as_of, .. }) => format!(
                "  objects counted from the metadata table snapshot of {} ({table}), not HEADed",
                rfc3339(*as_of)
            ),
            Some(crate::model::ObjectSource::NotRead { reason }) => {
                format!("  objects not read: {reason}")
            }
            _ => return Vec::new(),
        };
        wrap(&terminal(&line), self.text_width(), 4)
    }

    /// "✓ 9 passed: ENC-001 ENC-002 …", wrapped with a hanging indent.
    fn folded_passes(&self, rules: &[&str]) -> Vec<String> {
        let lead = format!("✓ {} passed:", rules.len());
        let ids: Vec<String> = rules.iter().map(|r| terminal(r).into_owned()).collect();
        let mut lines = wrap(&format!("{lead} {}", ids.join(" ")), self.text_width(), 2);
        if self.color
            && let Some(first) = lines.first_mut()
            && let Some(rest) = first.strip_prefix(lead.as_str())
        {
            *first = format!("{GREEN}{lead}{RESET}{rest}");
        }
        lines
    }
}

fn severity_style(cell: Cell, severity: Severity) -> Cell {
    match severity {
        Severity::Critical => cell.fg(Color::Red).add_attribute(Attribute::Bold),
        Severity::High => cell.fg(Color::Red),
        Severity::Medium => cell.fg(Color::Yellow),
        Severity::Low => cell.fg(Color::Cyan),
        Severity::Info => cell,
    }
}

impl Render for TableRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        // Grouped by account, then bucket: a single-account scan has one group, so its
        // layout is the bucket sections alone.
        let mut by_bucket: BTreeMap<(Option<&str>, &str), Vec<&Finding>> = BTreeMap::new();
        for f in &report.findings {
            by_bucket
                .entry((
                    f.account.as_deref(),
                    f.bucket.as_deref().unwrap_or(&f.resource),
                ))
                .or_default()
                .push(f);
        }
        let many_accounts = report.accounts.len() > 1;
        let mut current_account = None;
        for findings in by_bucket.values_mut() {
            findings.sort_by(|a, b| {
                a.status
                    .cmp(&b.status)
                    // What needs work first: waived failures after the others.
                    .then(a.waiver.is_some().cmp(&b.waiver.is_some()))
                    .then(b.severity.cmp(&a.severity))
                    .then(a.rule.cmp(&b.rule))
            });
        }
        // The message column's width depends on the other columns, which depend on every
        // listed row; the messages are then wrapped once to it.
        let listed: Vec<(&Finding, Vec<String>)> = by_bucket
            .values()
            .flatten()
            .filter(|f| self.listed(report, f.status))
            .map(|f| (*f, self.text_lines(f, None)))
            .collect();
        let layout = Layout::new(&listed, self.width);
        let wrap_to = self.width.map(|_| layout.text);
        for (&(account, bucket), findings) in &by_bucket {
            if many_accounts && current_account != Some(account) {
                current_account = Some(account);
                let heading = format!("══ {} ══", terminal(&account_label(report, account)));
                for line in wrap(&heading, self.text_width(), 3) {
                    writeln!(out, "{line}")?;
                }
                writeln!(out)?;
            }
            for line in self.heading(report, bucket, findings) {
                writeln!(out, "{line}")?;
            }
            for line in self.skipped(report, bucket) {
                writeln!(out, "{line}")?;
            }
            for line in self.object_source(report, bucket) {
                writeln!(out, "{line}")?;
            }
            let rows: Vec<(&Finding, Vec<String>)> = findings
                .iter()
                .filter(|f| self.listed(report, f.status))
                .map(|f| (*f, self.text_lines(f, wrap_to)))
                .collect();
            if !rows.is_empty() {
                writeln!(out, "{}", self.table(&layout, &rows))?;
            }
            // By id, so the same rule sits in the same place in every bucket's line.
            let mut folded: Vec<&str> = findings
                .iter()
                .filter(|f| f.status == Status::Pass && !self.listed(report, Status::Pass))
                .map(|f| f.rule.as_str())
                .collect();
            folded.sort_unstable();
            if !folded.is_empty() {
                for line in self.folded_passes(&folded) {
                    writeln!(out, "{line}")?;
                }
            }
            writeln!(out)?;
        }
        // Only numbers, fixed words and the filter as typed; escaped so that stays safe
        // whatever is added.
        for line in wrap(&terminal(&summary(report)), self.text_width(), 2) {
            writeln!(out, "{line}")?;
        }
        // "Incomplete" always says why: each gap on its own line, at most a screenful.
        const SHOWN: usize = 20;
        for gap in report.scan.gaps.iter().take(SHOWN) {
            let gap = format!("  not covered: {}", terminal(gap));
            for line in wrap(&gap, self.text_width(), 2) {
                writeln!(out, "{line}")?;
            }
        }
        if report.scan.gaps.len() > SHOWN {
            writeln!(
                out,
                "  … and {} more (all in the JSON report's scan.gaps)",
                report.scan.gaps.len() - SHOWN
            )?;
        }
        // Snapshot strings (the caller, the endpoint, a prefix) can come from anywhere.
        // Indented under the summary (which stays the last line at the margin), as the
        // gaps are.
        // A single-account scan has no roll-up: its opt-in regions are said here.
        let regions = report.accounts.iter().filter_map(|a| {
            let account = a.id.as_deref().unwrap_or("unknown");
            disabled_regions(a).map(|d| format!("account {account}: {d}"))
        });
        for line in regions.filter(|_| !many_accounts) {
            for line in wrap(&format!("  {}", terminal(&line)), self.text_width(), 4) {
                writeln!(out, "{line}")?;
            }
        }
        for line in provenance(report) {
            let line = format!("  {}", terminal(&line));
            for line in wrap(&line, self.text_width(), 2) {
                writeln!(out, "{line}")?;
            }
        }
        for line in waiver_lines(report) {
            for line in wrap(&terminal(&line), self.text_width(), 4) {
                writeln!(out, "{line}")?;
            }
        }
        if many_accounts {
            writeln!(out, "  by account:")?;
            for line in account_rollup(report) {
                for line in wrap(&format!("    {}", terminal(&line)), self.text_width(), 6) {
                    writeln!(out, "{line}")?;
                }
            }
        }
        Ok(())
    }
}

/// "Account 111122223333 (payments, Root/Prod)" for a section heading.
fn account_label(report: &Report, account: Option<&str>) -> String {
    let info = report.accounts.iter().find(|a| a.id.as_deref() == account);
    let mut label = format!("Account {}", account.unwrap_or("unknown"));
    let details: Vec<&str> = info
        .into_iter()
        .flat_map(|a| [a.name.as_deref(), a.ou_path.as_deref()])
        .flatten()
        .collect();
    if !details.is_empty() {
        label.push_str(&format!(" ({})", details.join(", ")));
    }
    label
}

/// The organisation roll-up under the summary, one line per account in scan order: its
/// status, failures by severity (waived ones not counted), errors, and current objects by
/// encryption mode across its buckets.
fn account_rollup(report: &Report) -> Vec<String> {
    report
        .accounts
        .iter()
        .map(|a| {
            let id = a.id.as_deref();
            let label = account_label(report, id);
            let findings: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|f| f.account.as_deref() == id)
                .collect();
            if a.status != crate::model::AccountStatus::Scanned {
                return format!(
                    "{label}: {} ({})",
                    a.status.as_str(),
                    a.error.as_deref().unwrap_or("no reason recorded")
                );
            }
            let fails: Vec<String> = [
                Severity::Critical,
                Severity::High,
                Severity::Medium,
                Severity::Low,
                Severity::Info,
            ]
            .into_iter()
            .filter_map(|s| {
                let n = findings
                    .iter()
                    .filter(|f| f.status == Status::Fail && f.waiver.is_none() && f.severity == s)
                    .count();
                (n > 0).then(|| format!("{n} {}", s.as_str()))
            })
            .collect();
            let errors = findings
                .iter()
                .filter(|f| f.status == Status::Error)
                .count();
            let mut objects = crate::model::ModeCounts::default();
            let buckets: Vec<_> = report
                .buckets
                .iter()
                .filter(|b| b.account.as_deref() == id)
                .collect();
            for b in &buckets {
                if let Some(o) = &b.objects {
                    objects.merge(o);
                }
            }
            let modes: Vec<String> = crate::model::SseMode::ALL
                .iter()
                .filter(|m| objects.get(**m) > 0)
                .map(|m| format!("{} {}", m.as_str(), objects.get(*m)))
                .collect();
            format!(
                "{label}: {}; fail: {}; errors: {errors}; objects: {}{}{}",
                crate::rules::plural(buckets.len(), "bucket"),
                if fails.is_empty() {
                    "none".to_string()
                } else {
                    fails.join(", ")
                },
                objects.total,
                if modes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", modes.join(", "))
                },
                disabled_regions(a)
                    .map(|d| format!("; {d}"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// "regions not enabled: ap-east-1" (its buckets there were skipped), or why the opt-in
/// regions' status is unknown; `None` when the account met no opt-in region, or only
/// enabled ones.
fn disabled_regions(account: &crate::model::AccountInfo) -> Option<String> {
    match account.disabled_regions.as_ref()? {
        crate::model::Observed::Present(regions) if !regions.is_empty() => Some(format!(
            "regions not enabled: {} (its buckets there not read)",
            regions.join(", ")
        )),
        other => other
            .unknown_reason()
            .map(|why| format!("opt-in regions' status not read: {why}")),
    }
}

/// The waivers footer: how many of the config file's waivers are active, and each expired
/// or unmatched one on its own line (an active one shows under every finding it waives).
/// Nothing when no waiver is configured.
fn waiver_lines(report: &Report) -> Vec<String> {
    if report.waivers.is_empty() {
        return Vec::new();
    }
    let counts: Vec<String> = [
        WaiverState::Active,
        WaiverState::Expired,
        WaiverState::Unmatched,
    ]
    .into_iter()
    .filter_map(|state| match report.waivers_in(state) {
        0 => None,
        n => Some(format!("{n} {}", state.as_str())),
    })
    .collect();
    let mut lines = vec![format!(
        "Waivers: {} ({} failing finding{} waived)",
        counts.join(", "),
        report.waived(),
        if report.waived() == 1 { "" } else { "s" }
    )];
    for w in &report.waivers {
        let what = format!(
            "waiver #{} ({} on {}, owner {})",
            w.index, w.rule, w.resource, w.owner
        );
        match w.state {
            WaiverState::Active => {}
            WaiverState::Expired => lines.push(format!(
                "  expired: {what} ended {}; the {} failure{} it matches count{} again",
                w.expires,
                w.matched,
                if w.matched == 1 { "" } else { "s" },
                if w.matched == 1 { "s" } else { "" },
            )),
            WaiverState::Unmatched => lines.push(format!(
                "  unmatched: {what} matches no failing finding{}",
                match w.errors_not_waived {
                    0 => String::new(),
                    n => format!(
                        " ({n} error finding{} not waived)",
                        if n == 1 { "" } else { "s" }
                    ),
                }
            )),
        }
    }
    lines
}

/// Where the findings come from, briefly, under the summary of a scan's report: who
/// scanned what where (account, caller, endpoint, regions, the scanning build), the
/// command line, and the config file the findings were judged with. The JSON report's
/// `tool`, `scan` and `evaluation` have all of it, the rule catalogue's hash and the
/// judging build too. Nothing for a report without a scan (`check-policy`).
fn provenance(report: &Report) -> Vec<String> {
    let scan = &report.scan;
    let Some(scope) = &scan.scope else {
        return Vec::new();
    };
    let mut scanned = vec![
        match &scan.account {
            Some(a) => format!("account {a}"),
            None => "account not recorded".to_string(),
        },
        match &scan.principal {
            Some(p) => format!("caller {p}"),
            None => "caller not recorded".to_string(),
        },
        match &scan.endpoint {
            Some(e) => format!("endpoint {e}"),
            None => "AWS endpoints".to_string(),
        },
    ];
    let regions = if scope.regions.is_empty() {
        "none read".to_string()
    } else {
        scope.regions.join(", ")
    };
    scanned.push(format!(
        "regions {regions} (started in {})",
        scope.start_region
    ));
    if let Some(tool) = scan.tool() {
        scanned.push(format!("by {tool}"));
    }
    let mut lines = vec![format!("scanned: {}", scanned.join(", "))];
    lines.push(match &scan.command_line {
        Some(args) => format!("command: {}", crate::provenance::shell_words(args)),
        None => "command: not recorded (a snapshot of an older s3audit)".to_string(),
    });
    if let Some(config) = report.config_source() {
        lines.push(format!(
            "config: {} (sha256 {})",
            config.path, config.sha256
        ));
    }
    lines
}

/// "14 buckets, 112 findings: 40 fail (3 critical, 20 high, …), 0 error, 50 pass, 22 n/a;
/// scan complete", "for its stated scope only (prefix=logs/)" when the object scan was
/// partial, and when the report was filtered, which findings it kept.
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
    let mut fail_detail = by_severity.join(", ");
    let waived = report.waived();
    if waived > 0 {
        fail_detail.push_str(&format!("; {waived} waived"));
    }
    let fail_detail = if fail_detail.is_empty() {
        String::new()
    } else {
        format!(" ({fail_detail})")
    };
    let mut line = format!(
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
    );
    // "Complete" is for the stated scope: a prefixed or sampled scan says which.
    if let Some(limits) = report.scan.limits() {
        line.push_str(&format!(" for its stated scope only ({limits})"));
    }
    if let Some(filter) = &report.filter {
        line.push_str(&format!(
            "; filtered by {}: {} of {} findings",
            filter.filter.describe(),
            report.findings.len(),
            filter.findings_before
        ));
    }
    line
}

/// `s3audit rules`: id, severity and title of every rule, the titles wrapped so the
/// table fits `width`.
pub fn catalog_table(catalog: &[RuleMeta], width: Option<u16>, color: bool) -> String {
    const OVERHEAD: usize = 10; // `│ ` + ` ┆ ` × 2 + ` │`
    let id_width = catalog.iter().map(|m| m.id.width()).max().unwrap_or(0);
    let severity_width = catalog
        .iter()
        .map(|m| m.severity.as_str().width())
        .max()
        .unwrap_or(0)
        .max("Severity".len());
    let title_width = width.map(|w| {
        usize::from(w)
            .saturating_sub(OVERHEAD + id_width.max("Rule".len()) + severity_width)
            .max(MIN_TEXT_WIDTH)
    });
    let mut table = prewrapped_table(color);
    table.set_header(["Rule", "Severity", "Title"]);
    for m in catalog {
        let severity = Cell::new(m.severity.as_str());
        table.add_row(vec![
            Cell::new(&m.id),
            if color {
                severity_style(severity, m.severity)
            } else {
                severity
            },
            Cell::new(wrap(&m.title, title_width, 0).join("\n")),
        ]);
    }
    table.to_string()
}

/// Characters a word may be broken after when it is longer than a line: the separators
/// of ARNs (`arn:aws:kms:…:key/…`), paths, condition keys and `key=value` lists.
const BREAK_AFTER: [char; 4] = ['/', ':', '=', ','];

/// Wraps `text` to `width` display columns (`None`: unchanged). Each line of the text is
/// wrapped on its own and keeps its indentation; continuation lines get `hang` more.
/// Lines break at spaces; a word longer than a whole line is broken after a
/// [`BREAK_AFTER`] character, and only a piece between two of those that is itself
/// longer than a line is cut at the edge. Runs of spaces inside a line become one.
pub fn wrap(text: &str, width: Option<usize>, hang: usize) -> Vec<String> {
    let Some(width) = width else {
        return text.split('\n').map(str::to_string).collect();
    };
    let width = width.max(1);
    let mut out = Vec::new();
    for line in text.split('\n') {
        wrap_line(line, width, hang, &mut out);
    }
    out
}

fn wrap_line(line: &str, width: usize, hang: usize, out: &mut Vec<String>) {
    if line.width() <= width {
        out.push(line.to_string());
        return;
    }
    let indent = (line.len() - line.trim_start_matches(' ').len()).min(width / 2);
    let next_indent = (indent + hang).min(width / 2);
    // What a piece may take so that it always fits a line of its own.
    let room = width - next_indent;
    let mut current = " ".repeat(indent);
    let mut current_width = indent;
    let mut empty = true;
    for word in line.split(' ').filter(|w| !w.is_empty()) {
        let pieces = pieces(word, room);
        // A broken word starts on a new line rather than leave a stub such as `s3:` at
        // the end of this one.
        let head: usize = pieces
            .iter()
            .scan(current_width + 1, |taken, p| {
                *taken += p.width();
                (*taken <= width).then(|| p.width())
            })
            .sum();
        let fresh = !empty && pieces.len() > 1 && head < MIN_HEAD;
        for (i, piece) in pieces.into_iter().enumerate() {
            // A piece after the first continues its word: no space before it.
            let gap = usize::from(!empty && i == 0);
            let piece_width = piece.width();
            if ((fresh && i == 0) || current_width + gap + piece_width > width) && !empty {
                out.push(std::mem::replace(&mut current, " ".repeat(next_indent)));
                current_width = next_indent;
            } else if gap == 1 {
                current.push(' ');
                current_width += 1;
            }
            current.push_str(piece);
            current_width += piece_width;
            empty = false;
        }
    }
    out.push(current);
}

/// The least of a broken word worth leaving at the end of a line.
const MIN_HEAD: usize = 8;

/// Where a piece between two [`BREAK_AFTER`] characters that is itself wider than a line
/// is cut, if one is in its second half: a key id or a bucket name keeps its words.
const CUT_AFTER: [char; 3] = ['-', '.', '_'];

/// `word` whole when it fits in `room` columns, else cut after every [`BREAK_AFTER`]
/// character, and any piece still wider than `room` cut after its last [`CUT_AFTER`]
/// character that fits, or at `room`.
fn pieces(word: &str, room: usize) -> Vec<&str> {
    if word.width() <= room {
        return vec![word];
    }
    let mut out = Vec::new();
    for piece in word.split_inclusive(BREAK_AFTER) {
        let mut rest = piece;
        while rest.width() > room {
            let mut end = 0;
            let mut taken = 0;
            let mut soft = None;
            for (i, c) in rest.char_indices() {
                let w = c.width().unwrap_or(0);
                if taken + w > room {
                    break;
                }
                taken += w;
                end = i + c.len_utf8();
                if CUT_AFTER.contains(&c) && taken * 2 >= room {
                    soft = Some(end);
                }
            }
            let end = soft.unwrap_or(end);
            // A character wider than the room still has to go somewhere.
            let end = end.max(rest.chars().next().map_or(0, char::len_utf8));
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

/// A comfy-table for text s3audit has wrapped itself (at spaces, then after separators):
/// comfy-table only pads it. `color` is the caller's decision (--color); comfy-table would
/// otherwise ask stdout again.
pub(crate) fn prewrapped_table(color: bool) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    if color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table.set_content_arrangement(ContentArrangement::Disabled);
    table
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FindingFilter;

    const HOSTILE_BUCKET: &str = "=cmd\x1b]0;pwned\x07\u{202e}";
    const HOSTILE_MESSAGE: &str = "AccessDenied\x1b[2J\rFAKE\n| pass |\x08\u{9b}31m";

    fn finding(bucket: &str, rule: &str, status: Status, severity: Severity) -> Finding {
        Finding {
            severity,
            message: format!("{rule} says {}", status.as_str()),
            remediation: format!("Fix {rule} like this:\n{{\n  \"Effect\": \"Deny\"\n}}"),
            ..Finding::on_bucket(rule, bucket, status)
        }
    }

    fn report(bucket: &str, message: &str) -> Report {
        // The rule id is a closed set (`RuleId`): a report naming any other rule does not
        // load, so it cannot carry hostile text.
        let finding = Finding {
            message: message.into(),
            remediation: String::new(),
            ..finding(bucket, "ENC-001", Status::Error, Severity::High)
        };
        Report::for_document(Some(bucket), vec![finding])
    }

    /// Two buckets: `b1` fails three rules and passes nine, `b2` passes everything.
    fn estate_report() -> Report {
        let mut findings = Vec::new();
        for (rule, status, severity) in [
            ("ENC-005", Status::Fail, Severity::Medium),
            ("KMS-001", Status::Fail, Severity::Critical),
            ("POL-002", Status::Fail, Severity::Low),
            ("ENC-003", Status::NotApplicable, Severity::Medium),
        ] {
            findings.push(finding("b1", rule, status, severity));
        }
        // Nine passing rules, none of them the four above.
        let passing = crate::model::RuleId::ALL
            .iter()
            .filter(|r| !["ENC-005", "KMS-001", "POL-002", "ENC-003"].contains(&r.as_str()))
            .take(9);
        for rule in passing {
            findings.push(finding("b1", rule.as_str(), Status::Pass, Severity::High));
            findings.push(finding("b2", rule.as_str(), Status::Pass, Severity::High));
        }
        let mut report = Report::for_document(None, findings);
        for name in ["b1", "b2"] {
            report.buckets.push(super::super::BucketSection {
                name: name.into(),
                region: Some("us-east-1".into()),
                objects: None,
                noncurrent: None,
                kms_keys: BTreeMap::new(),
                ..Default::default()
            });
        }
        report
    }

    fn renderer(color: bool, width: Option<u16>) -> TableRenderer {
        TableRenderer {
            color,
            width,
            show_passes: false,
            explain: false,
        }
    }

    fn render_with(renderer: &TableRenderer, report: &Report) -> String {
        let mut out = Vec::new();
        renderer.render(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn render(report: &Report, color: bool, width: Option<u16>) -> String {
        render_with(&renderer(color, width), report)
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

    #[test]
    fn passes_fold_into_one_line_per_bucket_after_the_failures() {
        let out = render(&estate_report(), false, Some(100));
        insta::assert_snapshot!(out);
        assert!(!out.contains(" pass "), "no pass row:\n{out}");
        let folded =
            "✓ 9 passed: ENC-001 ENC-002 ENC-004 KMS-002 KMS-003 POL-001 POL-003 POL-004 POL-005";
        assert_eq!(out.matches(folded).count(), 2, "{out}");
        // Most severe failure first; the n/a finding only counted.
        let kms = out.find("KMS-001").unwrap();
        assert!(kms < out.find("ENC-005").unwrap() && kms < out.find("POL-002").unwrap());
        assert!(!out.contains("ENC-003"), "{out}");
        assert!(
            out.contains("b1 (us-east-1): 3 fail, 9 pass, 1 n/a"),
            "{out}"
        );
        assert!(out.contains("b2 (us-east-1): 9 pass"), "{out}");
    }

    #[test]
    fn show_passes_lists_them_as_rows_instead() {
        let out = render_with(
            &TableRenderer {
                show_passes: true,
                ..renderer(false, Some(100))
            },
            &estate_report(),
        );
        assert!(!out.contains("passed:"), "{out}");
        assert_eq!(out.matches("┆ pass ").count(), 18, "{out}");
        let last_fail = out.rfind("FAIL").unwrap();
        assert!(last_fail < out.find("┆ pass ").unwrap(), "{out}");
    }

    #[test]
    fn a_status_filter_that_asks_for_passes_or_na_lists_them() {
        let mut report = estate_report();
        report.apply_filter(&FindingFilter {
            status: vec![Status::Pass, Status::NotApplicable],
            ..FindingFilter::default()
        });
        let out = render(&report, false, Some(100));
        assert!(out.contains("ENC-003 ┆ n/a"), "{out}");
        assert_eq!(out.matches("┆ pass ").count(), 18, "{out}");
        assert!(!out.contains("FAIL"), "{out}");
        assert!(
            summary(&report).ends_with("; filtered by --status pass,n/a: 19 of 22 findings"),
            "{}",
            summary(&report)
        );
    }

    #[test]
    fn explain_puts_each_remediation_under_its_failure() {
        let out = render_with(
            &TableRenderer {
                explain: true,
                ..renderer(false, Some(80))
            },
            &estate_report(),
        );
        insta::assert_snapshot!(out);
        assert_eq!(out.matches("Fix: Fix ").count(), 3, "{out}");
        // The remediation's own lines and indentation survive.
        assert!(out.contains("┆ {  "), "{out}");
        assert!(out.contains("┆   \"Effect\": \"Deny\" "), "{out}");
        let plain = render(&estate_report(), false, Some(80));
        assert!(!plain.contains("Fix:"), "{plain}");
    }

    #[test]
    fn every_line_fits_the_width_and_arns_break_at_separators() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let mut report = estate_report();
        report.findings[0].message = format!(
            "data depends on unusable KMS keys: {arn} is pending deletion, s3:x-amz-server-side-encryption-aws-kms-key-id={arn}"
        );
        for width in [60u16, 80, 100, 120] {
            let out = render(&report, false, Some(width));
            for line in out.lines() {
                assert!(
                    line.width() <= usize::from(width),
                    "{} > {width}: {line}",
                    line.width()
                );
            }
            // Every line break inside the ARN comes after a separator.
            let text: Vec<String> = out
                .lines()
                .filter(|l| l.contains("┆"))
                .map(|l| {
                    l.rsplit('┆')
                        .next()
                        .unwrap()
                        .trim_end_matches([' ', '│'])
                        .trim()
                        .to_string()
                })
                .collect();
            for pair in text.windows(2) {
                let (end, next) = (&pair[0], &pair[1]);
                if next.starts_with("1234abcd")
                    || next.starts_with("key/")
                    || next.starts_with("us-east")
                {
                    assert!(
                        end.ends_with([':', '/', '=']),
                        "broken mid-name:\n{end}\n{next}"
                    );
                }
            }
            if width >= 80 {
                assert!(
                    out.contains("1234abcd-12ab-34cd-56ef-1234567890ab"),
                    "key id cut at {width}:\n{out}"
                );
            } else {
                // Wider than the message column: cut after a hyphen, not mid-group.
                assert!(out.contains("┆ 1234abcd-12ab-34cd-56ef- "), "{out}");
            }
        }
    }

    #[test]
    fn colour_marks_statuses_severities_and_headings_only_when_on() {
        let plain = render(&estate_report(), false, Some(100));
        assert!(!plain.contains('\x1b'), "{plain}");
        let coloured = render(&estate_report(), true, Some(100));
        assert!(
            coloured.contains("\x1b[1mb1 (us-east-1)\x1b[0m"),
            "{coloured}"
        );
        assert!(
            coloured.contains(&format!("{GREEN}✓ 9 passed:{RESET}")),
            "{coloured}"
        );
        // FAIL in bold red (comfy-table's crossterm sequences: 38;5;9 is red).
        assert!(coloured.contains("\x1b[38;5;9m"), "{coloured:?}");
        assert_eq!(without_sgr(&coloured), plain);
    }

    #[test]
    fn wrap_breaks_at_spaces_then_separators_then_the_edge() {
        assert_eq!(wrap("a bb ccc", Some(4), 0), ["a bb", "ccc"]);
        assert_eq!(
            wrap("see arn:aws:s3:::bucket/key", Some(12), 0),
            ["see arn:aws:", "s3:::bucket/", "key"]
        );
        assert_eq!(wrap("abcdefghij", Some(4), 0), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("abc-defghij", Some(8), 0), ["abc-", "defghij"]);
        assert_eq!(wrap("a-bcdefghij", Some(8), 0), ["a-bcdefg", "hij"]);
        // No stub of a broken word at the end of a line.
        assert_eq!(
            wrap(
                "a list, s3:x-amz-server-side-encryption=aws:kms",
                Some(34),
                0
            ),
            ["a list,", "s3:x-amz-server-side-encryption=", "aws:kms"]
        );
        assert_eq!(
            wrap("  indented text here", Some(10), 2),
            ["  indented", "    text", "    here"]
        );
        assert_eq!(wrap("one\ntwo", None, 0), ["one", "two"]);
        assert_eq!(wrap("", Some(5), 0), [""]);
    }

    #[test]
    fn catalog_fits_eighty_columns() {
        let text = catalog_table(crate::rules::metadata::catalog(), Some(80), false);
        for line in text.lines() {
            assert!(line.width() <= 80, "{} > 80: {line}", line.width());
        }
        assert!(text.contains("POL-005"), "{text}");
    }
}
