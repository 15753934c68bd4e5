//! The HTML report: one self-contained file an auditor can open offline, file as evidence
//! and print to PDF.
//!
//! The page is laid out by a template kept beside the JSON schema
//! (`reports/templates/report.html.j2`, with its stylesheet and script) and filled in by
//! minijinja. All three are embedded with `include_str!`, so the binary needs no file at
//! run time and the report needs nothing from the network: no CDN, no font, no image URL.
//!
//! Everything this module passes to the template is plain data, computed here: counts,
//! labels, chart geometry. The template only lays it out and never decides anything, and
//! neither does this module: statuses and severities are the rules' (see [`super`]).
//!
//! Bucket names, object keys, key aliases, policies and server messages are untrusted (see
//! [`super::escape`]). They reach the page in three layers:
//!
//! * every string is first made *visible* as for the terminal ([`terminal`]): control
//!   characters, bidi overrides and invisible characters become escapes like `\u{202e}`,
//!   so a name cannot read differently in the browser from what it is;
//! * the template auto-escapes every value for HTML (`<`, `>`, `&`, quotes), so
//!   `<script>` in a bucket name or object key is shown as text, never parsed as markup;
//! * a Content-Security-Policy allows only the page's own inline script and style (by
//!   SHA-256) and no fetch of any kind, so even a string that slipped through both could
//!   neither run nor call out.
//!
//! The exact report, as the JSON renderer writes it, is embedded too (a
//! `<script type="application/json">` block, never executed) with `<`, `>` and `&` written
//! as `\u003c`, `\u003e`, `\u0026`: no string in it can close the block.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};

use base64::Engine as _;
use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, context};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::escape::{is_hidden, terminal};
use super::{Render, Report};
use crate::model::{Finding, ModeCounts, Severity, Status};

const TEMPLATE_NAME: &str = "report.html.j2";
const TEMPLATE: &str = include_str!("../../reports/templates/report.html.j2");
const STYLE: &str = include_str!("../../reports/templates/report.css");
const SCRIPT: &str = include_str!("../../reports/templates/report.js");

/// Renders the report as one HTML document.
pub struct HtmlRenderer;

impl Render for HtmlRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        // Rendered whole before the first byte is written, so a template error (a defect,
        // caught by the tests) never leaves half a page, and a write error keeps its kind
        // (a closed pipe stays a closed pipe for the caller).
        let page = render_page(report).map_err(|e| io::Error::other(format!("{e:#}")))?;
        out.write_all(page.as_bytes())
    }
}

fn render_page(report: &Report) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    // Whatever the template's name: every value is escaped for HTML unless marked safe
    // here (the stylesheet, the script, the pre-escaped JSON, the policy header).
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    // A misspelt field is an error in the tests, not a silently empty cell.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    env.add_template(TEMPLATE_NAME, TEMPLATE)?;
    let data = embedded_json(report).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string())
    })?;
    let ctx = context! {
        r => Value::from(Serde(View::new(report))),
        // Ours alone (fixed words and base64 hashes: no quote, `<` or `&`), written as is.
        csp => Value::from_safe_string(content_security_policy()),
        style => Value::from_safe_string(STYLE.to_string()),
        script => Value::from_safe_string(SCRIPT.to_string()),
        data => Value::from_safe_string(data),
    };
    env.get_template(TEMPLATE_NAME)?.render(ctx)
}

/// The page may run its own script and style (pinned by hash, so an injected `<script>`
/// or `onerror=` would be refused even if escaping failed) and load nothing: no request
/// to any origin, no form submission, no `<base>` redirecting links.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; img-src data:; \
         base-uri 'none'; form-action 'none'",
        sha256_source(SCRIPT),
        sha256_source(STYLE)
    )
}

/// A CSP hash source: `sha256-<base64 of the digest>` of exactly the text between the tags.
fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The report as JSON, safe inside a `<script type="application/json">` element: `<`,
/// `>` and `&` (which can only occur inside JSON strings) become `\u` escapes, so neither
/// `</script>` nor `<!--` can appear. So do [hidden](is_hidden) characters (DEL, C1, bidi
/// overrides, U+2028/U+2029, ...), which serde_json writes raw: the page's source then
/// reads as it is in an editor too. `JSON.parse` gives back the exact strings.
fn embedded_json(report: &Report) -> serde_json::Result<String> {
    let json = serde_json::to_string(report)?;
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        if matches!(c, '<' | '>' | '&') || is_hidden(c) {
            // JSON's \u escapes are UTF-16 code units: a surrogate pair beyond the BMP.
            for unit in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Untrusted text of several lines (a remediation carrying a policy, pretty-printed
/// evidence): each line made visible as for the terminal, the line feeds kept.
fn visible_lines(s: &str) -> String {
    s.split('\n').map(terminal).collect::<Vec<_>>().join("\n")
}

/// Prose hard-wrapped in the rule files (`… (aws kms\nenable-key) …`) joined back into
/// lines the page wraps itself; a line break is kept where the next line starts with
/// anything but a letter, a digit, `(` or a backquote (a JSON document, a list, an
/// indented block) or where the line ends with `:` or is itself part of such a block.
fn reflow(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<&str> = None;
    for line in text.split('\n') {
        let continues = |p: &str| {
            !p.is_empty()
                && !p.starts_with(|c: char| c.is_whitespace() || "{}[]\"".contains(c))
                && !p.trim_end().ends_with(':')
                && line.starts_with(|c: char| c.is_alphanumeric() || c == '(' || c == '`')
        };
        match prev {
            None => {}
            Some(p) if continues(p) => out.push(' '),
            Some(_) => out.push('\n'),
        }
        out.push_str(line);
        prev = Some(line);
    }
    out
}

fn visible(s: &str) -> String {
    terminal(s).into_owned()
}

/// `1234567` → `1,234,567`: object counts an auditor reads at a glance.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

const STATUSES: [Status; 4] = [
    Status::Fail,
    Status::Error,
    Status::Pass,
    Status::NotApplicable,
];

fn status_label(s: Status) -> &'static str {
    match s {
        Status::Fail => "Fail",
        Status::Error => "Error",
        Status::Pass => "Pass",
        Status::NotApplicable => "N/A",
    }
}

/// The order the table starts in and its Status column sorts by: what needs work first.
fn status_rank(s: Status) -> u8 {
    match s {
        Status::Fail => 0,
        Status::Error => 1,
        Status::Pass => 2,
        Status::NotApplicable => 3,
    }
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Critical => 4,
        Severity::High => 3,
        Severity::Medium => 2,
        Severity::Low => 1,
        Severity::Info => 0,
    }
}

/// Findings per status.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Tally {
    fail: usize,
    error: usize,
    pass: usize,
    na: usize,
    total: usize,
}

impl Tally {
    fn add(&mut self, s: Status) {
        self.total += 1;
        match s {
            Status::Fail => self.fail += 1,
            Status::Error => self.error += 1,
            Status::Pass => self.pass += 1,
            Status::NotApplicable => self.na += 1,
        }
    }

    fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        let mut t = Tally::default();
        for f in findings {
            t.add(f.status);
        }
        t
    }
}

/// Everything the template shows, already counted and made visible.
#[derive(Serialize)]
struct View {
    title: String,
    tool: String,
    /// SHA-256 of the rule catalogue of the build that judged.
    catalogue_sha256: Option<String>,
    schema_version: u32,
    scan: ScanView,
    judged: JudgedView,
    totals: Tally,
    /// Failing findings per severity, for the headline.
    fails_by_severity: Vec<Count>,
    severities: Vec<SeverityRow>,
    frameworks: Vec<FrameworkRow>,
    accounts: Vec<AccountRow>,
    /// Each rule with findings in the report, once: what it checks and why (the findings
    /// link here rather than repeat it).
    rules: Vec<RuleRow>,
    buckets: Vec<BucketView>,
    /// Some bucket's objects were scanned (otherwise the chart says why it is empty).
    objects_scanned: bool,
    legend: Vec<LegendItem>,
    keys: Vec<KeyView>,
    findings: Vec<FindingView>,
    filters: Filters,
    /// Failing findings a waiver accepted (counted among the failing ones).
    waived: usize,
    /// The config file's waivers and what each did; empty when none is configured.
    waivers: Vec<WaiverRow>,
}

/// A waiver as a finding shows it.
#[derive(Serialize)]
struct WaiverView {
    index: usize,
    reason: String,
    owner: String,
    expires: String,
}

/// One row of the waivers section.
#[derive(Serialize)]
struct WaiverRow {
    index: usize,
    rule: String,
    resource: String,
    reason: String,
    owner: String,
    expires: String,
    /// `active`, `expired` or `unmatched`: the badge's colour and text.
    state: &'static str,
    matched: usize,
    errors_not_waived: usize,
}

#[derive(Serialize)]
struct Count {
    name: &'static str,
    n: usize,
}

#[derive(Serialize)]
struct ScanView {
    /// When the scan started, to the second, for the headline (the exact times are in the
    /// provenance section).
    when: String,
    started_at: String,
    finished_at: String,
    duration: Option<String>,
    account: Option<String>,
    principal: Option<String>,
    endpoint: Option<String>,
    complete: bool,
    gaps: Vec<String>,
    /// What narrows the object scan (`prefix=logs/; sample=100 per bucket`): "complete" is
    /// then complete for that scope only, and the headline says so.
    limits: Option<String>,
    /// Absent for a report without a scan (`check-policy`).
    scope: Option<ScopeView>,
    /// The scan's command line, secrets removed, as one shell line.
    command_line: Option<String>,
    /// The build that scanned ("s3audit 0.1.0 (6e8d0b8)"), when the snapshot recorded it.
    scanned_by: Option<String>,
}

/// The scan's scope, in words.
#[derive(Serialize)]
struct ScopeView {
    buckets: String,
    exclude: Option<String>,
    objects: String,
    regions: String,
    start_region: String,
    /// Inferred from a snapshot of an older s3audit (the bucket selection is unknown).
    inferred: bool,
}

impl ScopeView {
    fn new(scope: &crate::model::ScanScope) -> Self {
        let list = |v: &[String]| v.iter().map(|s| visible(s)).collect::<Vec<_>>().join(", ");
        let mut objects = match scope.object_source {
            crate::model::ScanObjectSource::Head => "listed, then read with HEAD".to_string(),
            crate::model::ScanObjectSource::Inventory => {
                "counted from S3 Inventory reports or metadata tables (--inventory, --metadata-table)".to_string()
            }
            crate::model::ScanObjectSource::Mixed => {
                "from S3 Inventory reports or metadata tables where given, else listed and read with HEAD".to_string()
            }
            crate::model::ScanObjectSource::None => "not read (--no-objects)".to_string(),
        };
        if scope.versions {
            objects.push_str("; noncurrent versions too");
        }
        if let Some(prefix) = &scope.prefix {
            objects.push_str(&format!("; only keys starting with {}", visible(prefix)));
        }
        if let Some(n) = scope.sample {
            objects.push_str(&format!("; at most {} per bucket (--sample)", grouped(n)));
        }
        ScopeView {
            buckets: if scope.inferred {
                "not recorded (a snapshot of an older s3audit)".to_string()
            } else if scope.buckets.is_empty() {
                "every bucket the account lists".to_string()
            } else {
                list(&scope.buckets)
            },
            exclude: (!scope.exclude.is_empty()).then(|| list(&scope.exclude)),
            objects,
            regions: if scope.regions.is_empty() {
                "none read".to_string()
            } else {
                list(&scope.regions)
            },
            start_region: visible(&scope.start_region),
            inferred: scope.inferred,
        }
    }
}

/// The rule settings and config file the findings were judged with, and by which run.
#[derive(Serialize)]
struct JudgedView {
    /// The command line of a later `evaluate` run, when it judged a saved snapshot.
    evaluation_command_line: Option<String>,
    config_path: Option<String>,
    config_sha256: Option<String>,
    allowed_kms_keys: Option<String>,
    required_object_mode: Option<String>,
}

impl JudgedView {
    fn new(report: &Report) -> Self {
        let rules = match &report.evaluation {
            Some(e) => Some(&e.rules),
            None => report.scan.rules.as_ref(),
        };
        let config = report.config_source();
        JudgedView {
            evaluation_command_line: report
                .evaluation
                .as_ref()
                .map(|e| visible(&crate::provenance::shell_words(&e.command_line))),
            config_path: config.map(|c| visible(&c.path)),
            config_sha256: config.map(|c| visible(&c.sha256)),
            allowed_kms_keys: rules.map(|r| {
                if r.allowed_kms_keys.is_empty() {
                    "any customer-managed key".to_string()
                } else {
                    r.allowed_kms_keys
                        .iter()
                        .map(|k| visible(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            }),
            required_object_mode: rules.map(|r| r.required_object_mode.as_str().to_string()),
        }
    }
}

#[derive(Serialize)]
struct SeverityRow {
    severity: &'static str,
    tally: Tally,
}

#[derive(Serialize)]
struct FrameworkRow {
    framework: String,
    tally: Tally,
    /// Controls with failing findings, most failures first: `3.6.1 (4)`.
    failing: Vec<String>,
}

#[derive(Serialize)]
struct RuleRow {
    id: String,
    title: String,
    severity: &'static str,
    rationale: String,
    tally: Tally,
}

#[derive(Serialize)]
struct AccountRow {
    account: String,
    tally: Tally,
}

#[derive(Serialize)]
struct BucketView {
    name: String,
    region: String,
    tally: Tally,
    /// The most severe failing finding's severity, if any fails.
    worst: Option<&'static str>,
    current: Option<Bar>,
    noncurrent: Option<Bar>,
}

/// One stacked bar: a bucket's objects by encryption mode, as shares of its total.
#[derive(Serialize)]
struct Bar {
    total: String,
    empty: bool,
    segments: Vec<Segment>,
}

#[derive(Serialize)]
struct Segment {
    mode: &'static str,
    label: &'static str,
    count: String,
    percent: String,
    /// Position and width in the SVG's 0..100 coordinate space.
    x: String,
    width: String,
}

#[derive(Serialize)]
struct LegendItem {
    mode: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct KeyView {
    arn: String,
    region: String,
    state: String,
    /// `ok`, `bad`, `warn` or `unknown`: the badge's colour.
    health: &'static str,
    manager: String,
    rotation: &'static str,
    objects: String,
    buckets: usize,
}

#[derive(Serialize)]
struct FindingView {
    id: usize,
    rule: String,
    rule_title: String,
    status: &'static str,
    status_label: &'static str,
    status_rank: u8,
    severity: &'static str,
    severity_rank: u8,
    /// The bucket, or the resource for a finding about no bucket.
    bucket: String,
    resource: String,
    message: String,
    evidence: Option<String>,
    counterexample: Option<String>,
    remediation: String,
    frameworks: Vec<String>,
    /// The waiver that accepts this failure, if one does.
    waiver: Option<WaiverView>,
}

#[derive(Serialize)]
struct Filters {
    statuses: Vec<Opt>,
    severities: Vec<Opt>,
    rules: Vec<Opt>,
    buckets: Vec<String>,
}

#[derive(Serialize)]
struct Opt {
    value: String,
    label: String,
}

/// The encryption modes in the order the chart stacks them: unencrypted first (the eye
/// goes left), then from weakest to strongest, then what could not be told.
const MODES: [(&str, &str); 8] = [
    ("none", "Unencrypted"),
    ("sse_s3", "SSE-S3"),
    ("sse_c", "SSE-C"),
    ("sse_fsx", "FSx"),
    ("sse_kms", "SSE-KMS"),
    ("dsse_kms", "DSSE-KMS"),
    ("unknown", "Unknown mode"),
    ("unreadable", "Unreadable"),
];

fn mode_count(c: &ModeCounts, mode: &str) -> u64 {
    match mode {
        "none" => c.none,
        "sse_s3" => c.sse_s3,
        "sse_c" => c.sse_c,
        "sse_fsx" => c.sse_fsx,
        "sse_kms" => c.sse_kms,
        "dsse_kms" => c.dsse_kms,
        "unknown" => c.unknown,
        _ => c.unreadable,
    }
}

/// The narrowest a non-empty segment is drawn (in % of the bar), so one unencrypted object
/// among a million still shows.
const MIN_SEGMENT: f64 = 0.8;

impl Bar {
    fn new(c: &ModeCounts) -> Self {
        // Cells, not `total`, decide the shares: they are what is drawn.
        let cells: Vec<(&'static str, &'static str, u64)> = MODES
            .iter()
            .map(|&(mode, label)| (mode, label, mode_count(c, mode)))
            .filter(|&(_, _, n)| n > 0)
            .collect();
        let sum: u64 = cells.iter().map(|&(_, _, n)| n).sum();
        let widths: Vec<f64> = cells
            .iter()
            .map(|&(_, _, n)| (n as f64 / sum as f64 * 100.0).max(MIN_SEGMENT))
            .collect();
        let scale = 100.0 / widths.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let mut x = 0.0;
        let segments = cells
            .iter()
            .zip(&widths)
            .map(|(&(mode, label, n), w)| {
                let width = w * scale;
                let s = Segment {
                    mode,
                    label,
                    count: grouped(n),
                    percent: format!("{:.1}", n as f64 / sum as f64 * 100.0),
                    x: format!("{x:.3}"),
                    width: format!("{width:.3}"),
                };
                x += width;
                s
            })
            .collect();
        Bar {
            total: grouped(c.total),
            empty: sum == 0,
            segments,
        }
    }
}

/// The account in an ARN (`arn:aws:kms:us-east-1:111122223333:key/…`), if it names one.
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next()? == "arn").then_some(())?;
    parts.nth(3).filter(|a| !a.is_empty())
}

/// `HIPAA 164.312(e)(1)` → (`HIPAA`, `164.312(e)(1)`): the framework is all but the last
/// word, or the last two when the word before ends with a dot (`NIST SP 800-52 Rev. 2`).
fn split_framework(s: &str) -> (&str, &str) {
    let Some((head, control)) = s.rsplit_once(' ') else {
        return (s, "");
    };
    if head.ends_with('.')
        && let Some((framework, _)) = head.rsplit_once(' ')
    {
        return (framework, &s[framework.len() + 1..]);
    }
    (head, control)
}

impl View {
    fn new(report: &Report) -> Self {
        let catalog: BTreeMap<&str, &crate::rules::metadata::RuleMeta> =
            crate::rules::metadata::catalog()
                .iter()
                .map(|m| (m.id.as_str(), m))
                .collect();
        let mut findings: Vec<&Finding> = report.findings.iter().collect();
        // Failures first, the most severe first; then bucket and rule, as a reader scans.
        findings.sort_by(|a, b| {
            status_rank(a.status)
                .cmp(&status_rank(b.status))
                .then(severity_rank(b.severity).cmp(&severity_rank(a.severity)))
                .then(a.bucket.cmp(&b.bucket))
                .then(a.rule.cmp(&b.rule))
                .then(a.resource.cmp(&b.resource))
        });
        let finding_views: Vec<FindingView> = findings
            .iter()
            .enumerate()
            .map(|(id, f)| {
                let meta = catalog.get(f.rule.as_str());
                let (evidence, counterexample) = split_evidence(&f.evidence);
                FindingView {
                    id,
                    rule: visible(f.rule.as_str()),
                    rule_title: meta.map(|m| m.title.clone()).unwrap_or_default(),
                    status: f.status.as_str(),
                    status_label: status_label(f.status),
                    status_rank: status_rank(f.status),
                    severity: f.severity.as_str(),
                    severity_rank: severity_rank(f.severity),
                    bucket: visible(f.bucket.as_deref().unwrap_or(&f.resource)),
                    resource: visible(&f.resource),
                    message: visible(&f.message),
                    evidence,
                    counterexample,
                    remediation: visible_lines(&reflow(f.remediation.trim_end())),
                    frameworks: f.frameworks.iter().map(|s| visible(s)).collect(),
                    waiver: f.waiver.as_ref().map(|w| WaiverView {
                        index: w.index,
                        reason: visible(&w.reason),
                        owner: visible(&w.owner),
                        expires: visible(&w.expires),
                    }),
                }
            })
            .collect();

        let severities = SEVERITIES
            .iter()
            .map(|&s| SeverityRow {
                severity: s.as_str(),
                tally: Tally::of(report.findings.iter().filter(|f| f.severity == s)),
            })
            .collect();
        let fails_by_severity = SEVERITIES
            .iter()
            .map(|&s| Count {
                name: s.as_str(),
                n: report
                    .findings
                    .iter()
                    .filter(|f| f.severity == s && f.status == Status::Fail)
                    .count(),
            })
            .filter(|c| c.n > 0)
            .collect();

        let frameworks = framework_rows(&report.findings);

        // A bucket's findings belong to the scanned account; a key's to the account in
        // its ARN (a key may live in another account).
        let mut accounts: BTreeMap<String, Tally> = BTreeMap::new();
        for f in &report.findings {
            let account = match (&f.bucket, arn_account(&f.resource)) {
                (None, Some(a)) => Some(a.to_string()),
                _ => report.scan.account.clone(),
            };
            if let Some(a) = account {
                accounts.entry(visible(&a)).or_default().add(f.status);
            }
        }

        // Grouped once: a large estate has buckets × rules findings.
        let mut by_bucket: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for f in &report.findings {
            if let Some(b) = &f.bucket {
                by_bucket.entry(b).or_default().push(f);
            }
        }
        let buckets = report
            .buckets
            .iter()
            .map(|b| {
                let mine = by_bucket
                    .get(b.name.as_str())
                    .map_or(&[][..], Vec::as_slice);
                BucketView {
                    name: visible(&b.name),
                    region: b.region.as_deref().map(visible).unwrap_or_default(),
                    tally: Tally::of(mine.iter().copied()),
                    worst: mine
                        .iter()
                        .filter(|f| f.status == Status::Fail)
                        .map(|f| f.severity)
                        .max()
                        .map(Severity::as_str),
                    current: b.objects.as_ref().map(Bar::new),
                    noncurrent: b.noncurrent.as_ref().map(Bar::new),
                }
            })
            .collect::<Vec<_>>();
        let objects_scanned = report.buckets.iter().any(|b| b.objects.is_some());

        let keys = report
            .keys
            .iter()
            .map(|k| {
                let mut objects = 0;
                let mut buckets = 0;
                for b in &report.buckets {
                    if let Some(n) = b.kms_keys.get(&k.arn) {
                        objects += n;
                        buckets += 1;
                    }
                }
                KeyView {
                    arn: visible(&k.arn),
                    region: visible(&k.region),
                    state: visible(&k.state),
                    health: match k.state.as_str() {
                        "Enabled" => "ok",
                        "Unknown" => "unknown",
                        "PendingDeletion"
                        | "Disabled"
                        | "NotFound"
                        | "Unavailable"
                        | "PendingReplicaDeletion" => "bad",
                        _ => "warn",
                    },
                    manager: k.manager.as_deref().map(visible).unwrap_or_default(),
                    rotation: match k.rotation {
                        Some(true) => "on",
                        Some(false) => "off",
                        None => "unknown",
                    },
                    objects: grouped(objects),
                    buckets,
                }
            })
            .collect();

        let present_rules: BTreeSet<&str> =
            report.findings.iter().map(|f| f.rule.as_str()).collect();
        let rules = present_rules
            .iter()
            .map(|&id| {
                let mine = report.findings.iter().filter(|f| f.rule == id);
                let meta = catalog.get(id);
                RuleRow {
                    id: visible(id),
                    title: meta.map(|m| m.title.clone()).unwrap_or_default(),
                    // The severity the catalog gives the rule (findings carry the same).
                    severity: meta.map_or_else(
                        || {
                            mine.clone()
                                .map(|f| f.severity)
                                .max()
                                .map_or("", Severity::as_str)
                        },
                        |m| m.severity.as_str(),
                    ),
                    rationale: meta
                        .map(|m| m.rationale.split_whitespace().collect::<Vec<_>>().join(" "))
                        .unwrap_or_default(),
                    tally: Tally::of(mine),
                }
            })
            .collect();
        let present_buckets: BTreeSet<String> =
            finding_views.iter().map(|f| f.bucket.clone()).collect();
        let filters = Filters {
            statuses: STATUSES
                .iter()
                .filter(|&&s| report.findings.iter().any(|f| f.status == s))
                .map(|&s| Opt {
                    value: s.as_str().to_string(),
                    label: status_label(s).to_string(),
                })
                .collect(),
            severities: SEVERITIES
                .iter()
                .filter(|&&s| report.findings.iter().any(|f| f.severity == s))
                .map(|&s| Opt {
                    value: s.as_str().to_string(),
                    label: s.as_str().to_string(),
                })
                .collect(),
            rules: present_rules
                .iter()
                .map(|r| {
                    let title = catalog.get(r).map(|m| m.title.as_str()).unwrap_or("");
                    let shown = visible(r);
                    Opt {
                        label: if title.is_empty() {
                            shown.clone()
                        } else {
                            format!("{shown} · {title}")
                        },
                        value: shown,
                    }
                })
                .collect(),
            buckets: present_buckets.into_iter().collect(),
        };

        let account = report.scan.account.as_deref().map(visible);
        View {
            title: match &account {
                Some(a) => format!("S3 encryption audit · account {a}"),
                None => "S3 encryption audit".to_string(),
            },
            tool: visible(&report.tool.describe()),
            catalogue_sha256: report.tool.catalogue_sha256.as_deref().map(visible),
            schema_version: report.schema_version,
            judged: JudgedView::new(report),
            scan: ScanView {
                when: to_the_second(&report.scan.started_at)
                    .unwrap_or_else(|| visible(&report.scan.started_at)),
                started_at: visible(&report.scan.started_at),
                finished_at: visible(&report.scan.finished_at),
                duration: duration(&report.scan.started_at, &report.scan.finished_at),
                account,
                principal: report.scan.principal.as_deref().map(visible),
                endpoint: report.scan.endpoint.as_deref().map(visible),
                complete: report.scan.complete,
                gaps: report.scan.gaps.iter().map(|g| visible(g)).collect(),
                limits: report.scan.limits().map(|l| visible(&l)),
                scope: report.scan.scope.as_ref().map(ScopeView::new),
                command_line: report
                    .scan
                    .command_line
                    .as_ref()
                    .map(|a| visible(&crate::provenance::shell_words(a))),
                scanned_by: report.scan.tool().map(|t| visible(&t)),
            },
            totals: Tally::of(&report.findings),
            fails_by_severity,
            severities,
            frameworks,
            rules,
            accounts: accounts
                .into_iter()
                .map(|(account, tally)| AccountRow { account, tally })
                .collect(),
            buckets,
            objects_scanned,
            legend: MODES
                .iter()
                .map(|&(mode, label)| LegendItem { mode, label })
                .collect(),
            keys,
            findings: finding_views,
            filters,
            waived: report.waived(),
            waivers: report
                .waivers
                .iter()
                .map(|w| WaiverRow {
                    index: w.index,
                    rule: visible(&w.rule),
                    resource: visible(&w.resource),
                    reason: visible(&w.reason),
                    owner: visible(&w.owner),
                    expires: visible(&w.expires),
                    state: w.state.as_str(),
                    matched: w.matched,
                    errors_not_waived: w.errors_not_waived,
                })
                .collect(),
        }
    }
}

/// Findings per framework, and which of its controls fail how often.
fn framework_rows(findings: &[Finding]) -> Vec<FrameworkRow> {
    let mut by: BTreeMap<String, (Tally, BTreeMap<String, usize>)> = BTreeMap::new();
    for f in findings {
        // A finding mapped to two controls of one framework counts once for it.
        let mut seen = BTreeSet::new();
        for fw in &f.frameworks {
            let (framework, control) = split_framework(fw);
            let entry = by.entry(visible(framework)).or_default();
            if seen.insert(framework) {
                entry.0.add(f.status);
            }
            if f.status == Status::Fail {
                *entry.1.entry(visible(control)).or_default() += 1;
            }
        }
    }
    by.into_iter()
        .map(|(framework, (tally, controls))| {
            let mut failing: Vec<(String, usize)> = controls.into_iter().collect();
            failing.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            FrameworkRow {
                framework,
                tally,
                failing: failing
                    .into_iter()
                    .map(|(c, n)| format!("{c} ({n})"))
                    .collect(),
            }
        })
        .collect()
}

/// The evidence, laid out for reading, and the policy analyser's counterexample apart from
/// it (the request that gets through is what a reader of a POL failure needs first).
fn split_evidence(evidence: &serde_json::Value) -> (Option<String>, Option<String>) {
    let pretty = |v: &serde_json::Value| {
        let mut out = String::new();
        readable_json(v, 0, &mut out);
        Some(visible_lines(&out))
    };
    match evidence {
        serde_json::Value::Null => (None, None),
        serde_json::Value::Object(map) => {
            let mut rest = map.clone();
            let counterexample = rest
                .remove("counterexample")
                .filter(|c| !c.is_null())
                .and_then(|c| pretty(&c));
            let evidence = if rest.is_empty() {
                None
            } else {
                pretty(&serde_json::Value::Object(rest))
            };
            (evidence, counterexample)
        }
        other => (pretty(other), None),
    }
}

/// JSON laid out for a reader: one member of an object per line, but a list of plain
/// values on one line (the page wraps it), and a small object of plain values too, so a
/// list of 110 S3 actions takes a few lines rather than 110. Still JSON, with the same
/// values; the exact report is embedded in the page anyway.
fn readable_json(v: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value as J;
    let plain = |v: &J| !matches!(v, J::Array(_) | J::Object(_));
    let scalar = |v: &J| serde_json::to_string(v).unwrap_or_default();
    match v {
        J::Array(items) if items.iter().all(plain) => {
            let items: Vec<String> = items.iter().map(scalar).collect();
            let _ = write!(out, "[{}]", items.join(", "));
        }
        J::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&" ".repeat(indent + 2));
                readable_json(item, indent + 2, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            let _ = write!(out, "{}]", " ".repeat(indent));
        }
        J::Object(map) if map.is_empty() => out.push_str("{}"),
        J::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .filter(|(_, v)| plain(v))
                .map(|(k, v)| format!("{}: {}", scalar(&J::String(k.clone())), scalar(v)))
                .collect();
            let inline = format!("{{{}}}", members.join(", "));
            if members.len() == map.len() && inline.chars().count() <= 80 {
                out.push_str(&inline);
                return;
            }
            out.push_str("{\n");
            for (i, (k, v)) in map.iter().enumerate() {
                let _ = write!(
                    out,
                    "{}{}: ",
                    " ".repeat(indent + 2),
                    scalar(&J::String(k.clone()))
                );
                readable_json(v, indent + 2, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            let _ = write!(out, "{}}}", " ".repeat(indent));
        }
        other => out.push_str(&scalar(other)),
    }
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// `2026-11-30T18:27:34.875852348Z` → `2026-11-30 18:27:34 UTC`.
fn to_the_second(s: &str) -> Option<String> {
    let t = parse_time(s)?.to_offset(time::UtcOffset::UTC);
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    .ok()
}

/// `2m 5s` between two RFC 3339 times; `None` when either does not parse.
fn duration(started: &str, finished: &str) -> Option<String> {
    let d = parse_time(finished)? - parse_time(started)?;
    let secs = u64::try_from(d.whole_seconds()).ok()?;
    if secs == 0 {
        return Some("under a second".to_string());
    }
    Some(humantime::format_duration(std::time::Duration::from_secs(secs)).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, Severity, Status};
    use crate::report::{BucketSection, KeySection};

    const SCRIPT_TAG: &str = "<script>alert(1)</script>";
    const BREAKOUT: &str = "</script><script>alert(2)</script><!--";

    fn finding(rule: &str, status: Status, severity: Severity, bucket: &str) -> Finding {
        Finding {
            severity,
            message: format!("message about {bucket}"),
            evidence: serde_json::json!({"bucket": bucket}),
            remediation: "Apply this:\n{\n  \"Effect\": \"Deny\"\n}".into(),
            frameworks: vec!["PCI DSS v4.0 3.5.1".into(), "NIST SP 800-53 SC-28".into()],
            ..Finding::on_bucket(rule, bucket, status)
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        let mut r = Report::for_document(Some("b"), findings);
        r.scan.account = Some("111122223333".into());
        r
    }

    fn html(report: &Report) -> String {
        let mut out = Vec::new();
        HtmlRenderer.render(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The page with the embedded JSON block cut out, for assertions about the markup.
    fn markup(page: &str) -> String {
        let start = page
            .find(r#"<script type="application/json" id="report-data">"#)
            .expect("the JSON block");
        let end = start + page[start..].find("</script>").expect("its end") + "</script>".len();
        format!("{}{}", &page[..start], &page[end..])
    }

    fn hostile_report() -> Report {
        let name = format!("{SCRIPT_TAG}\u{202e}\x1b]0;x\x07");
        let mut f = finding("OBJ-001", Status::Fail, Severity::High, &name);
        f.message = format!(
            "objects {BREAKOUT} \"><img src=x onerror=alert(3)>\u{7f}\u{9b}\u{2028}\u{e0041}"
        );
        f.evidence = serde_json::json!({
            "examples": [format!("key/{SCRIPT_TAG}"), "<img src=x onerror=alert(4)>"],
            "counterexample": {"principal": BREAKOUT},
        });
        f.remediation = format!("{{{{ 7*7 }}}}\n{BREAKOUT}");
        f.frameworks = vec![format!("HIPAA {SCRIPT_TAG}")];
        let mut r = report(vec![f]);
        r.buckets[0].name = name.clone();
        r.buckets[0].region = Some(format!("us-east-1{SCRIPT_TAG}"));
        r.keys.push(KeySection {
            arn: format!("arn:aws:kms:us-east-1:111122223333:key/{SCRIPT_TAG}"),
            state: "Enabled".into(),
            manager: Some("CUSTOMER".into()),
            rotation: Some(true),
            region: "us-east-1".into(),
        });
        r.scan.gaps = vec![format!("bucket {name}: listing cut short")];
        r.scan.complete = false;
        r
    }

    #[test]
    fn hostile_strings_are_text_never_markup() {
        let page = html(&hostile_report());
        let markup = markup(&page);
        // Exactly the page's own two script elements.
        assert_eq!(page.matches("<script").count(), 2, "{page}");
        assert_eq!(markup.matches("<script").count(), 1);
        // (`onerror=` as text is inert; as an attribute it would need a raw `<img`.)
        for raw in ["<img", "<svg onload", "<!--", "\u{202e}", "\x1b", "\x07"] {
            assert!(!page.contains(raw), "{raw:?} reached the page raw");
        }
        // Shown, escaped: the tags as text, the hidden characters as visible escapes.
        assert!(markup.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
        assert!(markup.contains(r"\u{202e}\x1b]0;x\x07"));
        assert!(markup.contains("&lt;img src=x onerror=alert(4)&gt;"));
        // Data is never evaluated as a template.
        assert!(markup.contains("{{ 7*7 }}"), "{markup}");
        assert!(!markup.contains(">49<"));
    }

    #[test]
    fn embedded_json_cannot_close_its_block_and_parses_back_exactly() {
        let report = hostile_report();
        let page = html(&report);
        let start = page.find(r#"id="report-data">"#).unwrap() + r#"id="report-data">"#.len();
        let end = start + page[start..].find("</script>").unwrap();
        let block = &page[start..end];
        assert!(!block.contains(['<', '>', '&']), "{block}");
        assert!(!block.contains(is_hidden), "{block}");
        assert!(block.contains(r"\u007f\u009b\u2028\udb40\udc41"), "{block}");
        // The block ends where the renderer ended it: the next tag is the page's script.
        assert!(
            page[end..].starts_with("</script>\n<script>"),
            "{}",
            &page[end..]
        );
        let back: Report = serde_json::from_str(block).unwrap();
        assert_eq!(back.buckets[0].name, report.buckets[0].name);
        assert_eq!(back.findings[0].message, report.findings[0].message);
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&report).unwrap()
        );
    }

    #[test]
    fn the_page_is_self_contained() {
        let mut f = finding("POL-001", Status::Fail, Severity::High, "b");
        // A URL in the data is text, not a link or a source.
        f.message = "see https://evil.example/x.js and http://evil.example/".into();
        let page = html(&report(vec![f]));
        let markup = markup(&page).to_ascii_lowercase();
        for attr in [
            "src=",
            "href=\"http",
            "href='http",
            "url(",
            "@import",
            "srcset",
        ] {
            assert!(!markup.contains(attr), "{attr} in the page");
        }
        // The only hrefs are in-page anchors.
        for (i, _) in markup.match_indices("href=\"") {
            assert!(markup[i + 6..].starts_with('#'), "{}", &markup[i..i + 40]);
        }
        assert!(!markup.contains("<link"), "no stylesheet or icon is linked");
        assert!(!markup.contains("<iframe") && !markup.contains("<img"));
        assert!(
            markup.contains("https:&#x2f;&#x2f;evil.example&#x2f;x.js"),
            "the text is shown"
        );
    }

    #[test]
    fn the_policy_pins_the_inline_script_and_style_and_allows_no_fetch() {
        let page = html(&report(vec![finding(
            "ENC-001",
            Status::Pass,
            Severity::High,
            "b",
        )]));
        let csp = content_security_policy();
        assert!(page.contains(&format!(
            r#"<meta http-equiv="Content-Security-Policy" content="{csp}">"#
        )));
        assert!(!csp.contains(['"', '<', '&']), "{csp}");
        assert!(csp.starts_with("default-src 'none'; "));
        assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
        // The hashes are of exactly what is between the tags.
        assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
        assert!(csp.contains(&format!("script-src '{}'", sha256_source(SCRIPT))));
        assert!(csp.contains(&format!("style-src '{}'", sha256_source(STYLE))));
        // sha256("") is well known: the encoding is the one browsers compare against.
        assert_eq!(
            sha256_source(""),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn every_finding_is_a_row_with_its_filter_keys_and_details() {
        let findings = vec![
            finding("ENC-001", Status::Pass, Severity::High, "b"),
            finding("OBJ-001", Status::Fail, Severity::Critical, "b"),
            finding("KMS-002", Status::Error, Severity::Medium, "c"),
            finding("POL-001", Status::NotApplicable, Severity::Low, "c"),
        ];
        let page = html(&report(findings));
        assert_eq!(page.matches(r#"<tbody class="finding""#).count(), 4);
        // Failures first, then errors, passes, n/a.
        let table = &page[page.find(r#"id="findings-table""#).unwrap()..];
        let order: Vec<usize> = ["fail", "error", "pass", "not_applicable"]
            .iter()
            .map(|s| table.find(&format!(r#"data-status="{s}""#)).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(
            page.contains(r#"data-rule="OBJ-001" data-bucket="b""#),
            "{page}"
        );
        // Every detail row is in the page (print shows them all).
        assert_eq!(page.matches(r#"<tr class="detail""#).count(), 4);
        // A document in the remediation keeps its lines.
        assert!(page.contains("Apply this:\n{\n  &quot;Effect&quot;: &quot;Deny&quot;\n}"));
        // The rule's title comes from the catalog.
        assert!(page.contains("Bucket has a default encryption configuration"));
        // Filters offer what is there and nothing else.
        assert!(page.contains(r#"<option value="c">c</option>"#));
        assert!(!page.contains(r#"<option value="info">"#));
    }

    #[test]
    fn each_rule_is_explained_once_and_its_findings_link_there() {
        let page = html(&report(vec![
            finding("ENC-001", Status::Fail, Severity::High, "a"),
            finding("ENC-001", Status::Pass, Severity::High, "b"),
        ]));
        let rationale = &crate::rules::metadata::catalog()
            .iter()
            .find(|m| m.id == "ENC-001")
            .unwrap()
            .rationale;
        let first_words: String = rationale
            .split_whitespace()
            .take(4)
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(page.matches(&first_words).count(), 1, "{first_words}");
        assert_eq!(page.matches(r##"<a href="#rule-ENC-001">"##).count(), 2);
        assert_eq!(page.matches(r#"<tr id="rule-ENC-001">"#).count(), 1);
    }

    #[test]
    fn summary_counts_by_severity_framework_and_account() {
        let mut key = finding("KMS-002", Status::Fail, Severity::Medium, "b");
        key.bucket = None;
        key.resource = "arn:aws:kms:us-east-1:444455556666:key/k".into();
        let r = report(vec![
            finding("OBJ-001", Status::Fail, Severity::Critical, "b"),
            finding("ENC-001", Status::Pass, Severity::High, "b"),
            key,
        ]);
        let v = View::new(&r);
        assert_eq!((v.totals.fail, v.totals.pass, v.totals.total), (2, 1, 3));
        let critical = &v.severities[0];
        assert_eq!((critical.severity, critical.tally.fail), ("critical", 1));
        let pci = v
            .frameworks
            .iter()
            .find(|f| f.framework == "PCI DSS v4.0")
            .unwrap();
        assert_eq!((pci.tally.fail, pci.tally.pass), (2, 1));
        assert_eq!(pci.failing, ["3.5.1 (2)"]);
        let accounts: Vec<(&str, usize)> = v
            .accounts
            .iter()
            .map(|a| (a.account.as_str(), a.tally.total))
            .collect();
        assert_eq!(accounts, [("111122223333", 2), ("444455556666", 1)]);
    }

    #[test]
    fn framework_names_split_before_the_control() {
        assert_eq!(
            split_framework("HIPAA 164.312(e)(1)"),
            ("HIPAA", "164.312(e)(1)")
        );
        assert_eq!(
            split_framework("PCI DSS v4.0 3.6.1"),
            ("PCI DSS v4.0", "3.6.1")
        );
        assert_eq!(
            split_framework("NIST SP 800-52 Rev. 2"),
            ("NIST SP 800-52", "Rev. 2")
        );
        assert_eq!(split_framework("standalone"), ("standalone", ""));
    }

    #[test]
    fn the_chart_stacks_every_cell_and_shows_a_lone_object() {
        let counts = ModeCounts {
            total: 1_000_001,
            none: 1,
            sse_kms: 1_000_000,
            ..ModeCounts::default()
        };
        let bar = Bar::new(&counts);
        assert_eq!(bar.total, "1,000,001");
        let modes: Vec<&str> = bar.segments.iter().map(|s| s.mode).collect();
        assert_eq!(modes, ["none", "sse_kms"]);
        let width = |s: &Segment| s.width.parse::<f64>().unwrap();
        assert!(
            width(&bar.segments[0]) >= MIN_SEGMENT * 0.99,
            "still visible"
        );
        let sum: f64 = bar.segments.iter().map(width).sum();
        assert!((sum - 100.0).abs() < 0.01, "{sum}");
        assert_eq!(bar.segments[1].x, bar.segments[0].width);
        assert!(Bar::new(&ModeCounts::default()).empty);

        let mut r = report(vec![]);
        r.buckets = vec![BucketSection {
            name: "b".into(),
            region: Some("eu-west-1".into()),
            objects: Some(counts),
            noncurrent: None,
            kms_keys: BTreeMap::new(),
            ..BucketSection::default()
        }];
        let page = html(&r);
        assert!(page.contains("<svg"), "inline SVG");
        assert!(page.contains("<title>Unencrypted: 1 object"), "{page}");
    }

    #[test]
    fn evidence_reads_compactly_and_stays_the_same_json() {
        let v = serde_json::json!({
            "actions": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            "counterexample": {"principal": "anonymous", "context": {"aws:SecureTransport": "false"}},
            "keys": [{"key": "k1", "objects": 3}, {"key": "k2", "objects": 0}],
            "empty": [], "none": {}, "n": null,
        });
        let (evidence, counterexample) = split_evidence(&v);
        let evidence = evidence.unwrap();
        assert!(
            evidence.contains(r#""actions": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],"#),
            "{evidence}"
        );
        assert!(
            evidence.contains(r#"    {"key": "k1", "objects": 3},"#),
            "{evidence}"
        );
        assert!(!evidence.contains("counterexample"));
        let mut back: serde_json::Value = serde_json::from_str(&evidence).unwrap();
        let c: serde_json::Value = serde_json::from_str(&counterexample.unwrap()).unwrap();
        back.as_object_mut()
            .unwrap()
            .insert("counterexample".into(), c);
        assert_eq!(back, v);
        assert_eq!(split_evidence(&serde_json::Value::Null), (None, None));
    }

    #[test]
    fn times_read_to_the_second() {
        assert_eq!(
            to_the_second("2026-11-30T18:27:34.875852348Z").as_deref(),
            Some("2026-11-30 18:27:34 UTC")
        );
        assert_eq!(
            to_the_second("2026-11-30T20:27:34+02:00").as_deref(),
            Some("2026-11-30 18:27:34 UTC")
        );
        assert_eq!(to_the_second("yesterday"), None);
        assert_eq!(
            duration("2026-11-30T18:00:00Z", "2026-11-30T18:02:05.5Z").as_deref(),
            Some("2m 5s")
        );
        assert_eq!(
            duration("2026-11-30T18:00:00Z", "2026-11-30T18:00:00.5Z").as_deref(),
            Some("under a second")
        );
    }

    #[test]
    fn hard_wrapped_prose_is_joined_and_documents_keep_their_lines() {
        assert_eq!(
            reflow("Cancel it (aws kms\nenable-key) now, then\nre-encrypt."),
            "Cancel it (aws kms enable-key) now, then re-encrypt."
        );
        let policy = "Apply the merged policy:\n{\n  \"Version\": \"2012-10-17\"\n}";
        assert_eq!(reflow(policy), policy);
        assert_eq!(reflow("a:\nb\n\nc"), "a:\nb\n\nc");
        assert_eq!(
            reflow("x {\"Sid\":1,\n\"Effect\":2}"),
            "x {\"Sid\":1,\n\"Effect\":2}"
        );
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1234567, "1,234,567"),
        ] {
            assert_eq!(grouped(n), s);
        }
    }

    /// A waived failure keeps its Fail badge and gains a waived one with the reason; the
    /// config file's text is escaped like any other (no `|safe` for it).
    #[test]
    fn a_waived_failure_is_marked_and_its_waiver_listed() {
        let mut r = report(vec![finding("POL-001", Status::Fail, Severity::High, "b")]);
        r.waivers = crate::rules::waivers::apply(
            &mut r.findings,
            &[crate::rules::waivers::Waiver {
                rule: "POL-*".into(),
                resource: "b".into(),
                reason: format!("SEC-123 {SCRIPT_TAG}"),
                owner: "team@example.com".into(),
                expires: time::macros::date!(2027 - 03 - 31),
            }],
            time::macros::date!(2027 - 01 - 01),
        );
        let page = html(&r);
        let markup = markup(&page);
        assert!(
            markup.contains(
                r#"<span class="badge st-fail">Fail</span> <span class="badge st-waived""#
            )
        );
        assert!(markup.contains("Waived until 2027-03-31 by team@example.com"));
        assert!(markup.contains("SEC-123 &lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
        assert_eq!(page.matches("<script").count(), 2, "only the page's own");
        assert!(markup.contains(r#"<tr id="waiver-1">"#));
        assert!(markup.contains(r#"<span class="badge wv-active">active</span>"#));
        assert!(markup.contains(r#"<span class="badge st-waived">1 waived</span>"#));
        // The findings filter offers waived / not waived, on each row's data-waived.
        assert!(markup.contains(r#"<select id="f-waived" data-key="waived">"#));
        assert!(markup.contains(r#"data-bucket="b" data-waived="yes">"#));
        // Without waivers there is no section, no badge and no waiver filter.
        let plain = markup_of(&report(vec![finding(
            "POL-001",
            Status::Fail,
            Severity::High,
            "b",
        )]));
        assert!(
            !plain.contains(r#"class="badge st-waived""#) && !plain.contains(r#"id="waivers""#)
        );
        assert!(!plain.contains(r#"id="f-waived""#));
    }

    fn markup_of(r: &Report) -> String {
        markup(&html(r))
    }

    #[test]
    fn an_empty_report_renders() {
        let page = html(&Report::for_document(None, vec![]));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
    }
}
