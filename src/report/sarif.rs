//! SARIF 2.1.0 for `check-policy --format sarif`: policy documents kept in a repository
//! (Terraform-generated JSON, the policy of a CloudFormation template as plain JSON) get
//! code-scanning annotations on the statement each finding is about.
//!
//! One log, one run: the driver names s3audit and describes each rule the report used from
//! its catalog metadata (title, rationale, remediation, frameworks as tags, the severity as
//! GitHub's `security-severity`); each failing or undecidable finding is a result (passes
//! and n/a are not: a result is something to look at), and so is each document that is not
//! a valid policy (rule `INVALID-POLICY`), at the problem's line and column where known.
//!
//! Where a result points is read from the finding's evidence, never decided here: the
//! statements that lock out for POL-005 (`locked_by`), else the Deny statements that apply
//! but fall short (`why`, "Deny LABEL: ..."), else those that deny part of the class
//! (`denied_by`), matched against the labels of the document's own statements; when none
//! applies (the Deny is missing, or KMS-004/005, whose evidence names principals), the
//! `"Statement"` member, else the document's start. Line and column come from the policy
//! engine ([`s3audit_policy::position`]). Each result carries a fingerprint of rule, file
//! and statement, so code scanning keeps one alert per statement across runs.
//!
//! Own `Serialize` types rather than the `serde-sarif` crate: that crate generates the
//! whole SARIF object model in a build script (schemafy, syn, prettyplease, typed-builder,
//! strum), a lot of build for the dozen objects written here; the output is validated
//! against the official schema in `tests/check_policy_cli.rs` instead.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use s3audit_policy::position::{Layout, Position, Span, layout};
use s3audit_policy::{PolicyError, parse_policy};

use super::{Render, Report};
use crate::model::{Finding, Severity, Status};
use crate::rules::metadata::{self, RuleMeta};

/// The schema a log names in `$schema`: OASIS's, SARIF 2.1.0 errata 01.
pub const SARIF_SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The rule id of a result for a document that is not a valid policy (not a catalog rule:
/// nothing was judged).
pub const INVALID_POLICY: &str = "INVALID-POLICY";

/// The base a relative artifact URI is resolved against: the directory s3audit ran in,
/// which GitHub code scanning takes to be the repository's root.
const SRCROOT: &str = "%SRCROOT%";

/// The key of each result's fingerprint; a new version only if what is hashed changes.
const FINGERPRINT: &str = "s3audit/v1";

/// One policy document `check-policy` read, as SARIF locates it: its file, where its
/// statements are and what they are called, and the resource its findings name.
#[derive(Debug, Clone)]
pub struct PolicySource {
    /// The `resource` of this document's findings (the bucket ARN or key ARN for one
    /// document, its file for several, the chain for RCPs): how a finding finds its document.
    resource: String,
    artifact: ArtifactLocation,
    layout: Option<Layout>,
    /// The label of each statement ([`s3audit_policy::document::Statement::label`]), by index.
    labels: Vec<String>,
    /// Why the document is not a valid policy, and where, if it is not.
    invalid: Option<(String, Option<Position>)>,
}

impl PolicySource {
    /// A document that was judged, whose findings name `resource`.
    pub fn judged(path: &Path, text: &str, resource: &str) -> Self {
        let labels = parse_policy(text)
            .map(|p| p.statements.iter().map(|s| s.label()).collect())
            .unwrap_or_default();
        PolicySource {
            resource: resource.to_string(),
            artifact: ArtifactLocation::of(path),
            layout: layout(text),
            labels,
            invalid: None,
        }
    }

    /// A document that is not a valid policy: `problem` says why in one line; `error`,
    /// with the text, says where.
    pub fn invalid(
        path: &Path,
        text: Option<&str>,
        problem: &str,
        error: Option<&PolicyError>,
    ) -> Self {
        let at = text.zip(error).and_then(|(text, e)| e.position(text));
        PolicySource {
            resource: String::new(),
            artifact: ArtifactLocation::of(path),
            layout: None,
            labels: Vec::new(),
            invalid: Some((problem.to_string(), at)),
        }
    }

    /// The file as the log names it (its `uri`).
    pub fn uri(&self) -> &str {
        &self.artifact.uri
    }
}

/// Renders a report of `check-policy` on `sources` (every document read, invalid ones
/// included, in the order given) as a SARIF log.
pub struct SarifRenderer<'a> {
    pub sources: &'a [PolicySource],
}

impl Render for SarifRenderer<'_> {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let log = sarif_log(report, self.sources);
        serde_json::to_writer_pretty(&mut *out, &log)?;
        writeln!(out)
    }
}

/// What a result points at in its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A statement, by index.
    Statement(usize),
    /// The `"Statement"` member's name.
    Member,
    /// The start of the document.
    Document,
}

fn sarif_log(report: &Report, sources: &[PolicySource]) -> Log {
    let mut results = Vec::new();
    let mut rule_ids: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    for (i, source) in sources.iter().enumerate() {
        if let Some((problem, at)) = &source.invalid {
            rule_ids.push(INVALID_POLICY);
            results.push(invalid_result(source, problem, *at));
            continue;
        }
        // An RCP chain's documents share one resource: its findings are listed once, at
        // its first document, and may point into any of them.
        if sources[..i]
            .iter()
            .any(|s| s.invalid.is_none() && s.resource == source.resource)
        {
            continue;
        }
        let documents: Vec<&PolicySource> = sources
            .iter()
            .filter(|s| s.invalid.is_none() && s.resource == source.resource)
            .collect();
        for f in &report.findings {
            if f.resource == source.resource && matches!(f.status, Status::Fail | Status::Error) {
                results.push(finding_result(f, &documents));
            }
        }
    }
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<ReportingDescriptor> = rule_ids.iter().map(|id| descriptor(id)).collect();
    for r in &mut results {
        r.rule_index = rule_ids.iter().position(|id| *id == r.rule_id);
    }
    let relative = sources.iter().any(|s| s.artifact.uri_base_id.is_some());
    Log {
        schema: SARIF_SCHEMA_URI,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "s3audit",
                    version: env!("S3AUDIT_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    rules,
                },
            },
            original_uri_base_ids: relative
                .then(|| std::env::current_dir().ok().map(|d| directory_uri(&d)))
                .flatten()
                .map(|uri| {
                    BTreeMap::from([(
                        SRCROOT,
                        ArtifactLocation {
                            uri,
                            uri_base_id: None,
                        },
                    )])
                }),
            column_kind: "unicodeCodePoints",
            results,
        }],
    }
}

/// The result of a failing or undecidable finding on `documents` (one, or an RCP chain).
fn finding_result(f: &Finding, documents: &[&PolicySource]) -> SarifResult {
    let mut targets = targets(f, documents);
    if targets.is_empty()
        && let Some(first) = documents.first()
    {
        let target = if first
            .layout
            .as_ref()
            .and_then(|l| l.member("Statement"))
            .is_some()
        {
            Target::Member
        } else {
            Target::Document
        };
        targets.push((*first, target));
    }
    let mut locations: Vec<ResultLocation> = targets
        .iter()
        .enumerate()
        .map(|(i, (doc, target))| {
            let mut location = doc.location(*target);
            if i > 0 {
                location.id = Some(i);
                location.message = Some(Message::new(format!("also {}", doc.describe(*target))));
            }
            location
        })
        .collect();
    let related = locations.split_off(locations.len().min(1));
    let (uri, label) = targets
        .first()
        .map(|(doc, target)| (doc.artifact.uri.as_str(), doc.describe(*target)))
        .unwrap_or(("", "document".to_string()));
    let level = match (f.status, f.severity) {
        (Status::Error, _) => "warning",
        (_, Severity::Critical | Severity::High) => "error",
        (_, Severity::Medium) => "warning",
        (_, Severity::Low | Severity::Info) => "note",
    };
    let counterexample = f
        .evidence
        .get("counterexample")
        .filter(|c| !c.is_null())
        .cloned();
    SarifResult {
        rule_id: f.rule.to_string(),
        rule_index: None,
        level,
        message: Message::new(f.message.clone()),
        locations,
        related_locations: related,
        partial_fingerprints: fingerprint(f.rule.as_str(), uri, &label),
        properties: ResultProperties {
            status: f.status.as_str(),
            severity: f.severity.as_str(),
            resource: f.resource.clone(),
            statement: label,
            counterexample,
            remediation: Some(f.remediation.clone()).filter(|r| !r.is_empty()),
        },
    }
}

fn invalid_result(source: &PolicySource, problem: &str, at: Option<Position>) -> SarifResult {
    let at = at.unwrap_or(Position { line: 1, column: 1 });
    SarifResult {
        rule_id: INVALID_POLICY.to_string(),
        rule_index: None,
        level: "error",
        message: Message::new(format!("not a valid policy: {problem}")),
        locations: vec![ResultLocation::at(&source.artifact, Region::point(at))],
        related_locations: Vec::new(),
        partial_fingerprints: fingerprint(INVALID_POLICY, &source.artifact.uri, "document"),
        properties: ResultProperties {
            status: "invalid",
            severity: Severity::High.as_str(),
            resource: source.artifact.uri.clone(),
            statement: "document".to_string(),
            counterexample: None,
            remediation: None,
        },
    }
}

/// The statements a finding's evidence names, resolved in its documents, in the order the
/// evidence lists them: `locked_by`, else `why`, else `denied_by` (see the module doc).
fn targets<'s>(f: &Finding, documents: &[&'s PolicySource]) -> Vec<(&'s PolicySource, Target)> {
    let list = |key: &str| -> Vec<&str> {
        f.evidence
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let exact = |entry: &str, label: &str| entry == label;
    let reason = |entry: &str, label: &str| {
        entry
            .strip_prefix("Deny ")
            .and_then(|rest| rest.strip_prefix(label))
            .is_some_and(|rest| rest.starts_with(": "))
    };
    let resolve = |entries: Vec<&str>, matches: &dyn Fn(&str, &str) -> bool| {
        let mut found: Vec<(&'s PolicySource, Target)> = Vec::new();
        for entry in entries {
            let hits: Vec<(&'s PolicySource, Target)> = documents
                .iter()
                .flat_map(|doc| {
                    doc.labels
                        .iter()
                        .enumerate()
                        .filter(|(_, label)| matches(entry, label))
                        .map(|(i, _)| (*doc, Target::Statement(i)))
                })
                .collect();
            // A label two documents of a chain share (`Statement[0]`) names neither for sure.
            if let [hit] = hits.as_slice()
                && !found
                    .iter()
                    .any(|(d, t)| std::ptr::eq(*d, hit.0) && *t == hit.1)
            {
                found.push(*hit);
            }
        }
        found
    };
    for (key, matches) in [
        ("locked_by", &exact as &dyn Fn(&str, &str) -> bool),
        ("why", &reason),
        ("denied_by", &exact),
    ] {
        let found = resolve(list(key), matches);
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

impl PolicySource {
    fn location(&self, target: Target) -> ResultLocation {
        let span = |s: &Span| Region::span(*s);
        let layout = self.layout.as_ref();
        let region = match target {
            Target::Statement(i) => layout.and_then(|l| l.statements.get(i)).map(span),
            Target::Member => layout
                .and_then(|l| l.member("Statement"))
                .map(|m| span(&m.name_span)),
            Target::Document => layout.map(|l| Region::point(l.root.start)),
        };
        ResultLocation::at(
            &self.artifact,
            region.unwrap_or(Region::point(Position { line: 1, column: 1 })),
        )
    }

    /// What a target is called in a message and in the fingerprint: a statement's label,
    /// `Statement` for the member, `document`.
    fn describe(&self, target: Target) -> String {
        match target {
            Target::Statement(i) => self
                .labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("Statement[{i}]")),
            Target::Member => "Statement".to_string(),
            Target::Document => "document".to_string(),
        }
    }
}

/// Stable across runs and machines for the same rule, file (relative URI) and statement,
/// so code scanning matches a result to its alert; the statement's label, not its line, so
/// editing other statements moves no alert.
fn fingerprint(rule: &str, uri: &str, statement: &str) -> BTreeMap<&'static str, String> {
    let digest = Sha256::digest(format!("{rule}\0{uri}\0{statement}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    BTreeMap::from([(FINGERPRINT, hex)])
}

fn descriptor(id: &str) -> ReportingDescriptor {
    let Some(meta) = metadata::lookup(id) else {
        return ReportingDescriptor {
            id: INVALID_POLICY.to_string(),
            name: "invalid-policy-document".to_string(),
            short_description: Message::new("Policy document is not a valid policy"),
            full_description: Message::new(
                "The file is not JSON, or not an IAM policy document s3audit can evaluate: nothing in it was judged, so none of its statements can be trusted to enforce anything.",
            ),
            help: Message::new(
                "Fix the problem the result names (at its line and column), then run check-policy again.",
            ),
            default_configuration: Configuration { level: "error" },
            properties: DescriptorProperties {
                tags: vec!["security".to_string()],
                security_severity: security_severity(Severity::High),
            },
        };
    };
    descriptor_of(meta)
}

fn descriptor_of(meta: &RuleMeta) -> ReportingDescriptor {
    let level = match meta.severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    };
    ReportingDescriptor {
        id: meta.id.clone(),
        name: meta.name.clone(),
        short_description: Message::new(meta.title.clone()),
        full_description: Message::new(one_paragraph(&meta.rationale)),
        help: Message::new(one_paragraph(&meta.remediation)),
        default_configuration: Configuration { level },
        properties: DescriptorProperties {
            // The requirements as reports name them (`NIST SP 800-53 Rev. 5 SC-28`).
            tags: std::iter::once("security".to_string())
                .chain(
                    meta.frameworks
                        .iter()
                        .map(|r| crate::rules::frameworks::label(r)),
                )
                .collect(),
            security_severity: security_severity(meta.severity),
        },
    }
}

/// GitHub's `security-severity` (a CVSS-like score as a string): critical 9.5, high 8.0,
/// medium 5.5, low 3.0, info 1.0, each inside the band GitHub shows under that name.
fn security_severity(severity: Severity) -> String {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
    .to_string()
}

/// The catalog's wrapped TOML text as one paragraph.
fn one_paragraph(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a URI path segment must escape (RFC 3986): everything but unreserved characters
/// and sub-delimiters; `:` too, so that a first segment cannot read as a scheme.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

impl ArtifactLocation {
    /// `path` relative to the current directory, with forward slashes and against
    /// `%SRCROOT%`; a file outside it by its absolute `file://` URI.
    fn of(path: &Path) -> Self {
        let cwd = std::env::current_dir().ok();
        let absolute = normalize(&match &cwd {
            Some(cwd) => cwd.join(path),
            None => path.to_path_buf(),
        });
        if let Some(relative) = cwd.as_deref().and_then(|c| absolute.strip_prefix(c).ok()) {
            return ArtifactLocation {
                uri: encode_segments(relative),
                uri_base_id: Some(SRCROOT),
            };
        }
        ArtifactLocation {
            uri: format!("file:///{}", encode_segments(&absolute)),
            uri_base_id: None,
        }
    }
}

/// `dir` as the absolute `file://` URI of a directory (with its trailing slash).
fn directory_uri(dir: &Path) -> String {
    let path = encode_segments(&normalize(dir));
    if path.is_empty() {
        "file:///".to_string()
    } else {
        format!("file:///{path}/")
    }
}

/// The normal components of `path`, each percent-encoded, joined by `/`.
fn encode_segments(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => {
                Some(utf8_percent_encode(&s.to_string_lossy(), SEGMENT).to_string())
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `a/./b/../c` as `a/c`, without touching the file system (a symlink stays as named).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

// --- The SARIF objects written (SARIF 2.1.0, section numbers of the OASIS standard) ----------

#[derive(Debug, Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<BTreeMap<&'static str, ArtifactLocation>>,
    /// Columns count code points ([`s3audit_policy::position::Position`]).
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Debug, Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    name: String,
    short_description: Message,
    full_description: Message,
    help: Message,
    default_configuration: Configuration,
    properties: DescriptorProperties,
}

#[derive(Debug, Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Debug, Serialize)]
struct DescriptorProperties {
    tags: Vec<String>,
    #[serde(rename = "security-severity")]
    security_severity: String,
}

#[derive(Debug, Clone, Serialize)]
struct Message {
    text: String,
}

impl Message {
    fn new(text: impl Into<String>) -> Self {
        Message { text: text.into() }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Message,
    locations: Vec<ResultLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<ResultLocation>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: ResultProperties,
}

/// s3audit's own words on a result, in its property bag.
#[derive(Debug, Serialize)]
struct ResultProperties {
    /// `fail`, `error` (undecidable) or `invalid` (the document is not a policy).
    status: &'static str,
    severity: &'static str,
    /// The finding's resource, as in the other formats.
    resource: String,
    /// The statement the result points at (its label), `Statement` or `document`.
    statement: String,
    /// The request that gets through, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    counterexample: Option<Value>,
    /// The finding's remediation: for a fail, the statements to add merged into the
    /// document.
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
}

impl ResultLocation {
    fn at(artifact: &ArtifactLocation, region: Region) -> Self {
        ResultLocation {
            id: None,
            physical_location: PhysicalLocation {
                artifact_location: artifact.clone(),
                region,
            },
            message: None,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<usize>,
    /// The column after the region's last character.
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<usize>,
}

impl Region {
    fn point(at: Position) -> Self {
        Region {
            start_line: at.line,
            start_column: at.column,
            end_line: None,
            end_column: None,
        }
    }

    fn span(span: Span) -> Self {
        Region {
            start_line: span.start.line,
            start_column: span.start.column,
            end_line: Some(span.end.line),
            end_column: Some(span.end.column),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Report;
    use crate::rules::Verdict;
    use crate::rules::finding_on;

    const DOC: &str = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"A\", \"Effect\": \"Deny\", \"Principal\": \"*\", \"Action\": \"s3:PutObject\", \"Resource\": \"*\"},\n    {\"Effect\": \"Deny\", \"Principal\": \"*\", \"Action\": \"s3:PutObject\", \"Resource\": \"*\"}\n  ]\n}\n";

    fn log_of(findings: Vec<Finding>, sources: &[PolicySource]) -> Value {
        let report = Report::for_document(None, findings);
        let mut out = Vec::new();
        SarifRenderer { sources }.render(&report, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    /// A verdict, and the evidence JSON its finding carries instead of the verdict's own
    /// (SARIF reads the finding's JSON, whatever rule built it).
    struct Case(Verdict, Option<serde_json::Value>);

    impl From<Verdict> for Case {
        fn from(verdict: Verdict) -> Self {
            Case(verdict, None)
        }
    }

    fn evidence(verdict: Verdict, json: serde_json::Value) -> Case {
        Case(verdict, Some(json))
    }

    fn finding(rule: &str, case: impl Into<Case>) -> Finding {
        let Case(verdict, json) = case.into();
        let mut f = finding_on(
            rule.parse().unwrap(),
            "arn:aws:s3:::b".to_string(),
            Some("b".into()),
            verdict,
        );
        if let Some(json) = json {
            f.evidence = json;
        }
        f
    }

    #[test]
    fn results_point_at_the_statements_the_evidence_names() {
        let source = PolicySource::judged(Path::new("p.json"), DOC, "arn:aws:s3:::b");
        let findings = vec![
            finding(
                "POL-005",
                evidence(
                    Verdict::fail("locked"),
                    serde_json::json!({"locked_by": ["\"A\"", "Statement[1]"]}),
                ),
            ),
            finding(
                "POL-001",
                evidence(
                    Verdict::fail("gets through"),
                    serde_json::json!({
                    "why": ["Deny Statement[1]: its action does not apply"], "denied_by": ["\"A\""]}),
                ),
            ),
            finding(
                "POL-002",
                evidence(
                    Verdict::fail("gets through"),
                    serde_json::json!({"why": [], "denied_by": ["\"A\""]}),
                ),
            ),
            finding(
                "POL-003",
                evidence(Verdict::fail("no Deny"), serde_json::json!({"why": []})),
            ),
            finding("POL-004", Verdict::pass("fine")),
            finding("KMS-004", Verdict::error("undecided")),
        ];
        let log = log_of(findings, std::slice::from_ref(&source));
        let results = log["runs"][0]["results"].as_array().unwrap();
        let where_ = |i: usize| {
            let r = &results[i]["locations"][0]["physicalLocation"]["region"];
            (
                r["startLine"].as_u64().unwrap(),
                r["startColumn"].as_u64().unwrap(),
            )
        };
        // Passes are not results; errors are warnings.
        let ids: Vec<&str> = results
            .iter()
            .map(|r| r["ruleId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["POL-005", "POL-001", "POL-002", "POL-003", "KMS-004"]);
        assert_eq!(where_(0), (4, 5), "the first locking statement");
        assert_eq!(
            results[0]["relatedLocations"][0]["physicalLocation"]["region"]["startLine"],
            5
        );
        assert_eq!(results[0]["properties"]["statement"], "\"A\"");
        assert_eq!(
            where_(1),
            (5, 5),
            "the Deny that falls short, before the ones that deny part"
        );
        assert_eq!(where_(2), (4, 5), "the Deny that denies part of the class");
        assert_eq!(where_(3), (3, 3), "no Deny applies: the Statement member");
        assert_eq!(results[4]["level"], "warning");
        assert_eq!(results[0]["level"], "error");
        // The rules used, passes included, each with its metadata; results index them.
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(
            rule_ids,
            [
                "KMS-004", "POL-001", "POL-002", "POL-003", "POL-004", "POL-005"
            ]
        );
        assert_eq!(results[0]["ruleIndex"], 5);
        assert_eq!(rules[5]["properties"]["security-severity"], "8.0");
        // POL-001 maps to framework requirements: they are tags beside "security".
        let tags = rules[1]["properties"]["tags"].as_array().unwrap();
        assert!(tags.len() > 1, "{tags:?}");
        // Different statements, different fingerprints; the same inputs, the same.
        let fp = |i: usize| {
            results[i]["partialFingerprints"][FINGERPRINT]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_ne!(fp(0), fp(2), "another rule on the same statement");
        assert_eq!(
            fp(0),
            fingerprint("POL-005", "p.json", "\"A\"")[FINGERPRINT]
        );
        assert_ne!(
            fingerprint("POL-005", "p.json", "\"A\""),
            fingerprint("POL-005", "p.json", "Statement[1]")
        );
        assert_ne!(
            fingerprint("POL-005", "p.json", "\"A\""),
            fingerprint("POL-005", "q.json", "\"A\"")
        );
    }

    #[test]
    fn an_invalid_document_is_an_error_result_where_the_problem_is() {
        let text = "{\"Statement\": [\n  {\"Effect\": \"Permit\"}]}";
        let e = parse_policy(text).unwrap_err();
        let source =
            PolicySource::invalid(Path::new("bad.json"), Some(text), &e.to_string(), Some(&e));
        let log = log_of(Vec::new(), &[source]);
        let r = &log["runs"][0]["results"][0];
        assert_eq!(r["ruleId"], INVALID_POLICY);
        assert_eq!(r["level"], "error");
        assert_eq!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            2
        );
        assert!(r["message"]["text"].as_str().unwrap().contains("Permit"));
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"][0]["id"],
            INVALID_POLICY
        );
    }

    #[test]
    fn file_uris_are_relative_with_forward_slashes_and_escaped() {
        let cwd = std::env::current_dir().unwrap();
        let a = ArtifactLocation::of(Path::new("./policies/../policies/my bucket#1.json"));
        assert_eq!(a.uri, "policies/my%20bucket%231.json");
        assert_eq!(a.uri_base_id, Some(SRCROOT));
        let a = ArtifactLocation::of(&cwd.join("x:y.json"));
        assert_eq!(a.uri, "x%3Ay.json");
        let outside = cwd.ancestors().last().unwrap().join("elsewhere/p.json");
        let a = ArtifactLocation::of(&outside);
        if !cwd.starts_with("/elsewhere") {
            assert_eq!(a.uri, "file:///elsewhere/p.json");
            assert_eq!(a.uri_base_id, None);
        }
        assert!(directory_uri(&cwd).ends_with('/'));
    }
}
