//! Rendering: the report contract and one renderer per format. Renderers never decide
//! pass or fail; they only show the findings the rules produced.

mod csv;
pub mod escape;
mod html;
pub mod inventory;
mod json;
mod table;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::model::{Estate, Finding, ModeCounts, Observed, Status};

pub use self::csv::CsvRenderer;
pub use self::html::HtmlRenderer;
pub use self::json::JsonRenderer;
pub use self::table::TableRenderer;

/// Version of the JSON report contract (`reports/schema.json`).
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON report, exactly as DESIGN.md's output contract lays it out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub scan: ScanSection,
    pub buckets: Vec<BucketSection>,
    pub keys: Vec<KeySection>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

impl ToolInfo {
    /// This build of s3audit: the tool that evaluated, which may be newer than the one
    /// that scanned (the snapshot records that).
    pub fn current() -> Self {
        ToolInfo {
            name: "s3audit".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanSection {
    pub started_at: String,
    pub finished_at: String,
    pub account: Option<String>,
    pub principal: Option<String>,
    pub endpoint: Option<String>,
    /// Every fact the scan tried to read was answered.
    pub complete: bool,
    /// Why the scan is incomplete, one line per gap (empty when complete): facts not read
    /// with the reason, listings cut short, objects unread or with unknown encryption,
    /// names S3 could never have created, the `--timeout` running out. Added in
    /// schema_version 1 after the first release; absent means none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketSection {
    pub name: String,
    /// `None` when the region could not be read.
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<ModeCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent: Option<ModeCounts>,
    /// SSE-KMS and DSSE-KMS objects (current and noncurrent) per KMS key ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kms_keys: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySection {
    /// The key ARN, or the reference as configured when it could not be resolved.
    pub arn: String,
    /// The KMS key state, `NotFound` when the key does not exist, `Unknown` when it
    /// could not be described.
    pub state: String,
    pub manager: Option<String>,
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
            },
            buckets: estate
                .buckets
                .iter()
                .map(|b| BucketSection {
                    name: b.name.clone(),
                    region: b.region.present().cloned(),
                    objects: b.objects.as_ref().map(|o| o.current),
                    noncurrent: b.objects.as_ref().and_then(|o| o.noncurrent),
                    kms_keys: b
                        .objects
                        .as_ref()
                        .map(|o| o.by_key.clone())
                        .unwrap_or_default(),
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
            },
            buckets: bucket
                .map(|name| BucketSection {
                    name: name.to_string(),
                    region: None,
                    objects: None,
                    noncurrent: None,
                    kms_keys: BTreeMap::new(),
                })
                .into_iter()
                .collect(),
            keys: Vec::new(),
            findings,
        }
    }

    pub fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }
}

/// One output format.
pub trait Render {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()>;
}
