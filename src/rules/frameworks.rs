//! Framework catalogues: one `rules/frameworks/<id>.toml` per version of a standard (PCI DSS
//! v4.0.1, CIS AWS Foundations v6.0.0, ...), embedded at build time like rule metadata.
//!
//! A catalogue is the slice of its standard that bears on what s3audit examines (encryption
//! at rest, keys, transmission), not the whole standard. Rule metadata refers to its
//! requirements as `"<catalogue-id>:<requirement-id>"` so that a renumbered standard (CIS
//! v5 → v6) is a new file rather than a silent edit, and `tests/rule_metadata.rs` proves
//! every reference resolves and every requirement is covered by a rule or marked out of
//! scope with a reason.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::metadata::{self, RuleMeta};

include!(concat!(env!("OUT_DIR"), "/framework_files.rs"));

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Stable id, also the file name: `pci-dss-4.0.1`.
    pub id: String,
    /// The short name a requirement's label starts with: `PCI DSS v4.0.1`.
    pub name: String,
    pub title: String,
    pub publisher: String,
    pub version: String,
    /// Where the ids and titles come from (document and address).
    pub source: String,
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub title: String,
    /// Why s3audit cannot evidence this requirement, when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<String>,
}

impl Catalogue {
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// `PCI DSS v4.0.1 4.2.1`: how a requirement reads in a report.
    pub fn label(&self, requirement: &str) -> String {
        format!("{} {requirement}", self.name)
    }

    /// The rules that refer to `requirement`, in catalog order.
    pub fn rules_for(&self, requirement: &str) -> Vec<&'static RuleMeta> {
        metadata::catalog()
            .iter()
            .filter(|m| {
                m.frameworks
                    .iter()
                    .filter_map(|r| split_reference(r))
                    .any(|(c, req)| c == self.id && req == requirement)
            })
            .collect()
    }

    /// In-scope requirements with at least one rule, and how many are in scope.
    pub fn covered(&self) -> (usize, usize) {
        let in_scope: Vec<&Requirement> = self
            .requirements
            .iter()
            .filter(|r| r.out_of_scope.is_none())
            .collect();
        let covered = in_scope
            .iter()
            .filter(|r| !self.rules_for(&r.id).is_empty())
            .count();
        (covered, in_scope.len())
    }
}

/// Parses one catalogue file; `file` names it in the error.
pub fn parse(file: &str, text: &str) -> Result<Catalogue, String> {
    toml::from_str(text).map_err(|e| format!("rules/frameworks/{file}: {e}"))
}

/// Every embedded catalogue, parsed, sorted by id.
pub fn catalogues() -> &'static [Catalogue] {
    static CATALOGUES: LazyLock<Vec<Catalogue>> = LazyLock::new(|| {
        let mut all: Vec<Catalogue> = FRAMEWORK_FILES
            .iter()
            // Embedded at build time and validated by tests/rule_metadata.rs: a failure
            // here is a build defect, not a user error.
            .map(|(file, text)| parse(file, text).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    });
    &CATALOGUES
}

/// The embedded files as (file name, text), for the lint test.
pub fn files() -> &'static [(&'static str, &'static str)] {
    FRAMEWORK_FILES
}

/// The catalogue with this id, ignoring case (ids are lower case; a user may not type them so).
pub fn lookup(id: &str) -> Option<&'static Catalogue> {
    catalogues().iter().find(|c| c.id.eq_ignore_ascii_case(id))
}

/// Every catalogue id, comma-separated: what an error about an unknown id offers instead.
pub fn ids() -> String {
    let ids: Vec<&str> = catalogues().iter().map(|c| c.id.as_str()).collect();
    ids.join(", ")
}

/// `pci-dss-4.0.1:4.2.1` → (`pci-dss-4.0.1`, `4.2.1`). Catalogue ids hold no `:`, so the
/// first one separates (requirement ids could in principle hold one).
pub fn split_reference(reference: &str) -> Option<(&str, &str)> {
    reference
        .split_once(':')
        .filter(|(c, r)| !c.is_empty() && !r.is_empty())
}

/// The catalogue and requirement a reference names, when both exist.
pub fn resolve(reference: &str) -> Option<(&'static Catalogue, &'static Requirement)> {
    let (catalogue, requirement) = split_reference(reference)?;
    let catalogue = catalogues().iter().find(|c| c.id == catalogue)?;
    Some((catalogue, catalogue.requirement(requirement)?))
}

/// The label of a reference (`PCI DSS v4.0.1 4.2.1`), or the reference itself when it does
/// not resolve (which the lint test forbids, so a report never loses a mapping silently).
pub fn label(reference: &str) -> String {
    match resolve(reference) {
        Some((catalogue, requirement)) => catalogue.label(&requirement.id),
        None => reference.to_string(),
    }
}

/// Whether `rule` refers to any requirement of the catalogue `catalogue_id`.
pub fn rule_maps_to(rule: &RuleMeta, catalogue_id: &str) -> bool {
    rule.frameworks
        .iter()
        .filter_map(|r| split_reference(r))
        .any(|(c, _)| c == catalogue_id)
}
