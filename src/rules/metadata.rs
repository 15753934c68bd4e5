//! Rule metadata: the catalog's words (title, rationale, remediation, framework mappings)
//! live in `rules/<ID>.toml` as data, embedded at build time, linted by `tests/rule_metadata.rs`.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::model::{RuleId, Severity};

include!(concat!(env!("OUT_DIR"), "/rule_files.rs"));

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMeta {
    pub id: String,
    /// A short kebab-case name, stable like the id.
    pub name: String,
    pub title: String,
    pub severity: Severity,
    pub rationale: String,
    pub remediation: String,
    /// Requirements this rule evidences, as `"<catalogue-id>:<requirement-id>"` references
    /// into `rules/frameworks/` (e.g. `"pci-dss-4.0.1:4.2.1"`); empty when no shipped
    /// catalogue has a requirement the rule bears on.
    pub frameworks: Vec<String>,
}

/// Parses one metadata file; `file` names it in the error.
pub fn parse(file: &str, text: &str) -> Result<RuleMeta, String> {
    toml::from_str(text).map_err(|e| format!("rules/{file}: {e}"))
}

/// Every embedded metadata file, parsed, sorted by id.
pub fn catalog() -> &'static [RuleMeta] {
    static CATALOG: LazyLock<Vec<RuleMeta>> = LazyLock::new(|| {
        let mut all: Vec<RuleMeta> = RULE_FILES
            .iter()
            .map(|(file, text)| {
                // Embedded at build time and validated by tests/rule_metadata.rs, so a
                // failure here is a build defect, not a user error.
                parse(file, text).unwrap_or_else(|e| panic!("invalid rule metadata: {e}"))
            })
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    });
    &CATALOG
}

/// The embedded files as (file name, text), for the metadata lint test.
pub fn files() -> &'static [(&'static str, &'static str)] {
    RULE_FILES
}

pub fn lookup(id: &str) -> Option<&'static RuleMeta> {
    catalog().iter().find(|m| m.id == id)
}

/// The metadata of a rule of this build. Every [`RuleId`] has exactly one file
/// (`tests/rule_metadata.rs`), so a miss is a build defect.
pub fn get(id: RuleId) -> &'static RuleMeta {
    lookup(id.as_str()).unwrap_or_else(|| panic!("rule {id} has no metadata in rules/"))
}
