//! Lints the rule catalog: metadata is data (rules/*.toml), so these checks are what keep
//! it honest. Every rule has metadata, every metadata file has a rule, ids are unique and
//! stable-looking, and the words an auditor reads are present and short where they must be.

use std::collections::BTreeSet;

use s3audit::rules::{metadata, registry};

#[test]
fn every_metadata_file_parses_and_is_named_for_its_id() {
    for (file, text) in metadata::files() {
        let meta = metadata::parse(file, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            *file,
            format!("{}.toml", meta.id),
            "file name must be the rule id"
        );
    }
}

#[test]
fn metadata_and_rules_are_the_same_set() {
    let with_code: BTreeSet<&str> = registry().map(|r| r.id).collect();
    let with_meta: BTreeSet<&str> = metadata::catalog().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        with_code, with_meta,
        "rules without metadata or metadata without a rule"
    );
    assert_eq!(
        registry().count(),
        with_code.len(),
        "a rule id is registered twice"
    );
}

#[test]
fn ids_and_names_are_unique_and_well_formed() {
    let catalog = metadata::catalog();
    let ids: BTreeSet<&str> = catalog.iter().map(|m| m.id.as_str()).collect();
    let names: BTreeSet<&str> = catalog.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(ids.len(), catalog.len(), "duplicate id");
    assert_eq!(names.len(), catalog.len(), "duplicate name");
    for m in catalog {
        let (family, number) = m.id.split_once('-').expect("FAMILY-NNN");
        assert!(["ENC", "POL", "KMS", "OBJ"].contains(&family), "{}", m.id);
        assert!(
            number.len() == 3 && number.bytes().all(|b| b.is_ascii_digit()),
            "{}",
            m.id
        );
        assert!(
            m.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{}: name must be kebab-case",
            m.id
        );
    }
}

#[test]
fn auditor_facing_text_is_present_and_titles_are_short() {
    for m in metadata::catalog() {
        assert!(
            !m.title.is_empty() && m.title.len() <= 70,
            "{}: title length",
            m.id
        );
        assert!(
            !m.title.ends_with('.'),
            "{}: titles take no full stop",
            m.id
        );
        assert!(
            m.rationale.trim().len() >= 80,
            "{}: rationale too thin",
            m.id
        );
        assert!(
            m.remediation.trim().len() >= 30,
            "{}: remediation too thin",
            m.id
        );
        assert!(!m.frameworks.is_empty(), "{}: no framework mapping", m.id);
    }
}

#[test]
fn catalog_ids_from_the_design_are_all_present() {
    // The ids are a public contract (DESIGN.md); a rule may not silently disappear.
    let ids: BTreeSet<&str> = metadata::catalog().iter().map(|m| m.id.as_str()).collect();
    for id in [
        "ENC-001", "ENC-002", "ENC-003", "ENC-004", "ENC-005", "KMS-001", "KMS-002", "KMS-003",
    ] {
        assert!(ids.contains(id), "{id} missing");
    }
}
