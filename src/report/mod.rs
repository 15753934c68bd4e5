//! Rendering: the report contract and one renderer per format. Renderers never decide
//! pass or fail; they only show the findings the rules produced.

mod csv;
pub mod diff;
pub mod escape;
pub mod frameworks;
mod html;
pub mod inventory;
mod json;
pub mod ocsf;
pub mod sarif;
pub mod schema;
#[cfg(test)]
mod snapshot_tests;
mod table;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::config::RuleConfig;
use crate::model::{
    AccountInfo, Estate, Finding, ModeCounts, ObjectSource, Observed, ScanScope, Severity, SseMode,
    Status,
};
use crate::rules::waivers::{WaiverState, WaiverSummary};

pub use self::csv::CsvRenderer;
pub use self::html::HtmlRenderer;
pub use self::json::JsonRenderer;
pub use self::ocsf::OcsfRenderer;
pub use self::sarif::{PolicySource, SarifRenderer};
pub use self::table::{TableRenderer, catalog_table, output_width};

/// Version of the JSON report contract (`reports/schema.json`).
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON report of `s3audit scan` / `s3audit evaluate` (schema_version 1). Fields are
/// only ever added within a schema version. Every listed object is counted in exactly one
/// cell: total = none + sse_s3 + sse_kms + dsse_kms + sse_c + sse_fsx + unknown + unreadable.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(title = "s3audit report")]
pub struct Report {
    #[schemars(extend("const" = 1))]
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub scan: ScanSection,
    /// Present when `--status`, `--severity`, `--rule` or `--framework` kept only some findings: the
    /// document says it is not the whole evaluation. Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterSection>,
    /// Present when the findings were judged by a later run than the scan (`s3audit
    /// evaluate` of a saved snapshot): that run's command line and rule settings. `scan`
    /// then describes the scan that observed the estate, and `tool` the build that
    /// judged it. Absent when the scan judged its own observations. Added within
    /// schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<EvaluationSection>,
    /// Every bucket evaluated, in scan order.
    pub buckets: Vec<BucketSection>,
    /// Every KMS key a bucket or object references.
    pub keys: Vec<KeySection>,
    /// One finding per rule and bucket, passes included (unless filtered).
    pub findings: Vec<Finding>,
    /// Every `[[waiver]]` of the config file and what it did: `active` (with the failing
    /// findings it waived), `expired` (on the day the scan started; the failures it matches
    /// count again) or `unmatched` (no failing finding matches it). Counted before any
    /// filter. Absent when no waiver is configured. Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waivers: Vec<WaiverSummary>,
    /// Every account the scan covered, in scan order: one for a single-account scan (its
    /// credentials' account), one per account of `--organization` or `--accounts`
    /// (scanned, skipped when not active in the organization, or in error with the reason;
    /// an account in error also has an ACC-001 `error` finding). Empty for `check-policy`.
    /// Added within schema_version 1.
    #[serde(default)]
    pub accounts: Vec<AccountInfo>,
}

/// The build of s3audit that judged the findings and wrote this report.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolInfo {
    #[schemars(extend("const" = "s3audit"))]
    pub name: String,
    pub version: String,
    /// The git commit the build was made from ("6e8d0b8", "-dirty" when its tracked
    /// files differed from it); absent for a build outside a git checkout. Added within
    /// schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// SHA-256 of the rule catalogue the build embeds (every `rules/*.toml` and
    /// `rules/frameworks/*.toml`, sorted by path, line endings normalised): the same hash
    /// means the same titles, severities, remediations and framework mappings. Added within
    /// schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue_sha256: Option<String>,
}

impl ToolInfo {
    /// This build of s3audit: the tool that evaluated, which may be newer than the one
    /// that scanned (the snapshot records that).
    pub fn current() -> Self {
        ToolInfo {
            name: "s3audit".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: crate::provenance::tool_commit().map(str::to_string),
            catalogue_sha256: Some(crate::provenance::catalogue_sha256().to_string()),
        }
    }

    /// "s3audit 0.1.0 (6e8d0b8)": name, version and commit, for people.
    pub fn describe(&self) -> String {
        describe_tool(&self.name, &self.version, self.commit.as_deref())
    }
}

/// "s3audit 0.1.0 (6e8d0b8)", or without the parentheses when the commit is unknown.
fn describe_tool(name: &str, version: &str, commit: Option<&str>) -> String {
    match commit {
        Some(commit) => format!("{name} {version} ({commit})"),
        None => format!("{name} {version}"),
    }
}

/// What was scanned, when, by whom, and whether every fact was read.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScanSection {
    #[schemars(extend("format" = "date-time"))]
    pub started_at: String,
    #[schemars(extend("format" = "date-time"))]
    pub finished_at: String,
    /// The AWS account of the credentials (STS GetCallerIdentity).
    pub account: Option<String>,
    /// The caller's ARN.
    pub principal: Option<String>,
    /// The endpoint override, if any (null: AWS's own endpoints).
    pub endpoint: Option<String>,
    /// Every fact the scan tried to read was answered and understood.
    pub complete: bool,
    /// Why the scan is incomplete, one line per gap (empty when complete): facts not read
    /// with the reason, listings cut short, objects unread or with unknown encryption,
    /// names S3 could never have created, the `--timeout` running out. Added in
    /// schema_version 1 after the first release; absent means none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
    /// What the scan covered: bucket selection, object source and settings, regions.
    /// `complete` means complete for this scope; a `--prefix` or `--sample` scan says so in
    /// every format. Absent for `check-policy` (no scan). Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScanScope>,
    /// The scan's command line, with the values of secret-looking options (names with
    /// key, secret, token, password or session, except s3audit's own path and KMS key
    /// options), `NAME=VALUE` arguments and URL passwords replaced by `<redacted>`. Absent
    /// when the snapshot did not record it. Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<Vec<String>>,
    /// The version of the s3audit that scanned (from the snapshot); `tool` is the one that
    /// judged, which differs after `evaluate` with another build. Added within
    /// schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    /// The git commit of the s3audit that scanned, when recorded. Added within
    /// schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_commit: Option<String>,
    /// The config file (`--config`) the scan judged its findings with: path as given and
    /// SHA-256 of its bytes as read. Absent without `--config` and when the findings were
    /// judged later (see `evaluation`). Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigSource>,
    /// The rule settings the scan judged its findings with (defaults, the config file and
    /// `--allowed-kms-key` merged). Absent when the findings were judged later (see
    /// `evaluation`). Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RuleSettings>,
}

impl ScanSection {
    /// "s3audit 0.1.0 (6e8d0b8)": the build that scanned, when the snapshot recorded it.
    pub fn tool(&self) -> Option<String> {
        self.tool_version
            .as_deref()
            .map(|v| describe_tool("s3audit", v, self.tool_commit.as_deref()))
    }

    /// What narrows the scan (`prefix=logs/; sample=100 per bucket`), `None` for a full one.
    pub fn limits(&self) -> Option<String> {
        self.scope.as_ref().and_then(ScanScope::limits)
    }
}

/// A config file as one run read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigSource {
    /// The path as given to `--config`.
    pub path: String,
    /// SHA-256 (lower-case hex) of the file's bytes as s3audit read them, as `sha256sum`
    /// prints it.
    pub sha256: String,
}

/// The rule settings findings were judged with (`s3audit.toml`'s keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RuleSettings {
    /// KMS keys uploads may use (ARNs, key ids or alias names); empty: any customer key.
    pub allowed_kms_keys: Vec<String>,
    /// The weakest object encryption OBJ-002 accepts.
    pub required_object_mode: SseMode,
}

impl From<&RuleConfig> for RuleSettings {
    fn from(c: &RuleConfig) -> Self {
        RuleSettings {
            allowed_kms_keys: c.allowed_kms_keys.clone(),
            required_object_mode: c.required_object_mode,
        }
    }
}

/// The run that judged a saved snapshot (`evaluate`), when it is not the scan itself.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EvaluationSection {
    /// That run's command line, secrets removed as in `scan.command_line`.
    pub command_line: Vec<String>,
    /// Its config file (`--config`), when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigSource>,
    /// The rule settings it judged with.
    pub rules: RuleSettings,
}

/// One bucket's object counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BucketSection {
    pub name: String,
    /// The account that owns the bucket; null when the scan could not learn it. Added
    /// within schema_version 1.
    #[serde(default)]
    pub account: Option<String>,
    /// `None` when the region could not be read.
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<ModeCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent: Option<ModeCounts>,
    /// SSE-KMS and DSSE-KMS objects (current and noncurrent) per KMS key ARN; present
    /// when objects were scanned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("additionalProperties" = {"type": "integer", "minimum": 1}))]
    pub kms_keys: BTreeMap<String, u64>,
    /// Where the object counts come from: `head` (this scan HEADed every object) or
    /// `inventory` (an S3 Inventory report: its manifest, its date, which the counts are as
    /// of, and no KMS key per object) or `not_read` (`--objects-from inventory` and no
    /// inventory for this bucket: nothing known, its OBJ rules are errors); absent when
    /// objects were not scanned. Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_source: Option<ObjectSource>,
    /// Bytes of current objects per mode (the `objects` cells, summing sizes), when the
    /// source states sizes (S3 Inventory's `Size`). Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<ModeCounts>,
    /// Bytes of noncurrent versions per mode, like `bytes`. Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_bytes: Option<ModeCounts>,
    /// Why the bucket was listed but not read, when that is no gap: its region is an opt-in
    /// region not enabled for its account (`region ap-east-1 is not enabled for account
    /// 111122223333 (DISABLED)`), which no request can reach. Every finding on it is
    /// `not_applicable` with this reason; its account's `disabled_regions` names the region.
    /// Absent for every bucket that was read. Added within schema_version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// A KMS key the estate references.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeySection {
    /// The key ARN, or the reference as configured when it could not be resolved.
    pub arn: String,
    /// The KMS key state, `NotFound` when the key does not exist, `Unknown` when it
    /// could not be described.
    #[schemars(extend("enum" = ["Enabled", "Disabled", "PendingDeletion", "PendingImport",
        "PendingReplicaDeletion", "Unavailable", "Creating", "Updating", "Unknown", "NotFound"]))]
    pub state: String,
    /// Who manages the key; null when it could not be described.
    #[schemars(extend("enum" = ["AWS", "CUSTOMER", null]))]
    pub manager: Option<String>,
    /// Whether automatic rotation is on; null when unknown or not applicable.
    pub rotation: Option<bool>,
    pub region: String,
}

impl Report {
    /// Assembles the report of `findings` evaluated on `estate`.
    pub fn new(estate: &Estate, findings: Vec<Finding>) -> Self {
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        let gaps = estate.gaps();
        Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::current(),
            scan: ScanSection {
                started_at: fmt(estate.scan.started_at),
                finished_at: fmt(estate.scan.finished_at),
                account: estate.scan.account.clone(),
                principal: estate.scan.principal.clone(),
                endpoint: estate.scan.endpoint.clone(),
                complete: gaps.is_empty(),
                gaps,
                scope: Some(estate.scope()),
                command_line: estate.scan.command_line.clone(),
                tool_version: Some(estate.scan.tool_version.clone()),
                tool_commit: estate.scan.tool_commit.clone(),
                config: None,
                rules: None,
            },
            filter: None,
            evaluation: None,
            buckets: estate
                .buckets
                .iter()
                .map(|b| BucketSection {
                    name: b.name.clone(),
                    account: estate.account_of(b),
                    region: b.region.present().cloned(),
                    objects: b.objects.as_ref().map(|o| o.current),
                    noncurrent: b.objects.as_ref().and_then(|o| o.noncurrent),
                    kms_keys: b
                        .objects
                        .as_ref()
                        .map(|o| o.by_key.clone())
                        .unwrap_or_default(),
                    object_source: b
                        .objects
                        .as_ref()
                        .map(|o| o.source.clone().unwrap_or(ObjectSource::Head)),
                    bytes: b.objects.as_ref().and_then(|o| o.current_bytes),
                    noncurrent_bytes: b.objects.as_ref().and_then(|o| o.noncurrent_bytes),
                    skipped: b.skipped.clone(),
                })
                .collect(),
            keys: estate
                .keys
                .values()
                .map(|k| {
                    let (state, manager, rotation) = match &k.info {
                        Observed::Present(i) => (
                            format!("{:?}", i.state),
                            Some(
                                if i.is_aws_managed() {
                                    "AWS"
                                } else {
                                    "CUSTOMER"
                                }
                                .to_string(),
                            ),
                            i.rotation.present().copied(),
                        ),
                        Observed::Absent => ("NotFound".to_string(), None, None),
                        _ => ("Unknown".to_string(), None, None),
                    };
                    KeySection {
                        arn: k.id.clone(),
                        state,
                        manager,
                        rotation,
                        region: k.region.clone(),
                    }
                })
                .collect(),
            findings,
            waivers: Vec::new(),
            accounts: estate.accounts(),
        }
    }

    /// The report of policy documents checked before deployment (`check-policy`): no
    /// scan, the bucket a bucket policy is for (none for RCPs), the findings.
    pub fn for_document(bucket: Option<&str>, findings: Vec<Finding>) -> Self {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::current(),
            scan: ScanSection {
                started_at: now.clone(),
                finished_at: now,
                account: None,
                principal: None,
                endpoint: None,
                complete: true,
                gaps: Vec::new(),
                scope: None,
                command_line: None,
                tool_version: None,
                tool_commit: None,
                config: None,
                rules: None,
            },
            filter: None,
            evaluation: None,
            buckets: bucket
                .map(|name| BucketSection {
                    name: name.to_string(),
                    region: None,
                    objects: None,
                    noncurrent: None,
                    kms_keys: BTreeMap::new(),
                    ..BucketSection::default()
                })
                .into_iter()
                .collect(),
            keys: Vec::new(),
            findings,
            waivers: Vec::new(),
            accounts: Vec::new(),
        }
    }

    /// Records the rule settings the findings were judged with. `evaluation`: the
    /// command line of a run that judged a saved snapshot (`evaluate`), recorded in its own
    /// section so `scan` keeps describing the scan; `None` when the scan judged its own
    /// observations, whose settings then go into `scan`.
    pub fn judged_with(
        &mut self,
        rules: &RuleConfig,
        config: Option<ConfigSource>,
        evaluation: Option<Vec<String>>,
    ) {
        match evaluation {
            None => {
                self.scan.rules = Some(rules.into());
                self.scan.config = config;
            }
            Some(command_line) => {
                self.evaluation = Some(EvaluationSection {
                    command_line,
                    config,
                    rules: rules.into(),
                });
            }
        }
    }

    /// The config file the findings were judged with, wherever it is recorded.
    pub fn config_source(&self) -> Option<&ConfigSource> {
        match &self.evaluation {
            Some(e) => e.config.as_ref(),
            None => self.scan.config.as_ref(),
        }
    }

    pub fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    /// Keeps only the findings `filter` selects and records the filter in the report.
    /// This is the one place findings are filtered: every renderer, and the exit code,
    /// see the same findings. An empty filter changes nothing and records nothing.
    pub fn apply_filter(&mut self, filter: &FindingFilter) {
        if filter.is_empty() {
            return;
        }
        let findings_before = self.findings.len();
        self.findings.retain(|f| filter.keeps(f));
        self.filter = Some(FilterSection {
            filter: filter.clone(),
            findings_before,
        });
    }

    /// Failing findings a waiver accepted (they still count as `fail`).
    pub fn waived(&self) -> usize {
        self.findings.iter().filter(|f| f.waiver.is_some()).count()
    }

    /// How many of the config file's waivers ended this evaluation in `state`.
    pub fn waivers_in(&self, state: WaiverState) -> usize {
        self.waivers.iter().filter(|w| w.state == state).count()
    }

    /// "14 buckets, 37 fail (2 waived), 3 error, 250 pass, 22 n/a", then whether the scan
    /// was incomplete, whether waivers expired or matched nothing, whether its scope was
    /// partial (`--prefix`, `--sample`: complete then means complete for that scope) and
    /// whether findings were filtered out: the verdict in one line, for the line on stderr
    /// after a report is written to a file.
    pub fn verdict_counts(&self) -> String {
        let buckets = self.buckets.len();
        let waived = match self.waived() {
            0 => String::new(),
            n => format!(" ({n} waived)"),
        };
        let mut line = format!(
            "{buckets} bucket{}, {} fail{waived}, {} error, {} pass, {} n/a",
            if buckets == 1 { "" } else { "s" },
            self.count(Status::Fail),
            self.count(Status::Error),
            self.count(Status::Pass),
            self.count(Status::NotApplicable),
        );
        if !self.scan.complete {
            line.push_str("; scan INCOMPLETE");
        }
        let stale: Vec<String> = [WaiverState::Expired, WaiverState::Unmatched]
            .into_iter()
            .filter_map(|state| match self.waivers_in(state) {
                0 => None,
                n => Some(format!(
                    "{n} waiver{} {}",
                    if n == 1 { "" } else { "s" },
                    state.as_str()
                )),
            })
            .collect();
        if !stale.is_empty() {
            line.push_str(&format!("; {}", stale.join(", ")));
        }
        if let Some(limits) = self.scan.limits() {
            // The prefix comes from the snapshot, which can come from anywhere.
            line.push_str(&format!("; scope limited to {}", escape::terminal(&limits)));
        }
        if let Some(filter) = &self.filter {
            line.push_str(&format!(
                "; {} of {} findings kept by {}",
                self.findings.len(),
                filter.findings_before,
                filter.filter.describe()
            ));
        }
        line
    }
}

/// Which findings a report keeps (`--status`, `--severity`, `--rule`, `--framework`). Each part that is
/// set must hold; an empty filter keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FindingFilter {
    /// Only these statuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<Status>,
    /// Only findings of this severity or above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Only rules whose id matches one of these ids or globs (`POL-*`), ignoring case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Only rules mapped to a requirement of this framework catalogue (`pci-dss-4.0.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
}

impl FindingFilter {
    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
            && self.min_severity.is_none()
            && self.rules.is_empty()
            && self.framework.is_none()
    }

    pub fn keeps(&self, f: &Finding) -> bool {
        (self.status.is_empty() || self.status.contains(&f.status))
            && self.min_severity.is_none_or(|min| f.severity >= min)
            && (self.rules.is_empty()
                || self.rules.iter().any(|p| rule_matches(p, f.rule.as_str())))
            && self.framework.as_deref().is_none_or(|catalogue| {
                // By the rule's catalog metadata, not the finding's labels: the labels are
                // for people, the references are what the catalogues are checked against.
                crate::rules::metadata::lookup(f.rule.as_str())
                    .is_some_and(|m| crate::rules::frameworks::rule_maps_to(m, catalogue))
            })
    }

    /// `--status fail,error --severity high --rule POL-*`, as given.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.status.is_empty() {
            let names: Vec<&str> = self.status.iter().map(|s| status_arg(*s)).collect();
            parts.push(format!("--status {}", names.join(",")));
        }
        if let Some(min) = self.min_severity {
            parts.push(format!("--severity {}", min.as_str()));
        }
        if !self.rules.is_empty() {
            parts.push(format!("--rule {}", self.rules.join(",")));
        }
        if let Some(framework) = &self.framework {
            parts.push(format!("--framework {framework}"));
        }
        parts.join(" ")
    }
}

/// A `--status` value as the user types it (`n/a` rather than `not_applicable`).
fn status_arg(status: Status) -> &'static str {
    match status {
        Status::NotApplicable => "n/a",
        other => other.as_str(),
    }
}

/// Whether `rule` (an id such as `POL-001`) matches a `--rule` id or glob, ignoring case.
pub fn rule_matches(pattern: &str, rule: &str) -> bool {
    // The one `*`/`?` matcher of the project (the policy engine's, also behind --exclude).
    s3audit_policy::glob::Glob::new(&pattern.to_ascii_uppercase())
        .is_match(&rule.to_ascii_uppercase())
}

/// Present when --status, --severity, --rule or --framework kept only some findings:
/// `findings` holds only those, and this says which. Absent when every finding is
/// reported. Added within schema_version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FilterSection {
    #[serde(flatten)]
    pub filter: FindingFilter,
    /// How many findings the evaluation produced before the filter.
    pub findings_before: usize,
}

/// One output format.
pub trait Render {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()>;
}
