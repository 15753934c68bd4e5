//! Lints the rule catalog: metadata is data (rules/*.toml), so these checks are what keep
//! it honest. Every rule has metadata, every metadata file has a rule, ids are unique and
//! stable-looking, and the words an auditor reads are present and short where they must be.

use std::collections::BTreeSet;

use s3audit::model::RuleId;
use s3audit::rules::{ACCOUNT_RULES, frameworks, metadata, registry};

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
    let with_code: BTreeSet<&str> = registry()
        .map(|r| r.id)
        .chain(ACCOUNT_RULES.iter().copied())
        .map(|id| id.as_str())
        .collect();
    let with_meta: BTreeSet<&str> = metadata::catalog().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        with_code, with_meta,
        "rules without metadata or metadata without a rule"
    );
    // The closed set of ids is exactly the registered (bucket) rules, in registry (report)
    // order, then the account rules.
    let ids: Vec<RuleId> = registry()
        .map(|r| r.id)
        .chain(ACCOUNT_RULES.iter().copied())
        .collect();
    assert_eq!(ids, RuleId::ALL, "RuleId::ALL and the registry disagree");
    for id in RuleId::ALL {
        assert_eq!(metadata::get(*id).id, id.as_str());
    }
    assert_eq!(
        registry().count() + ACCOUNT_RULES.len(),
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
        assert!(
            ["ENC", "POL", "KMS", "OBJ", "ACC"].contains(&family),
            "{}",
            m.id
        );
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
        // A rule without a framework reference must say why (UNMAPPED), and a rule listed
        // there must not have gained references meanwhile.
        let unmapped = UNMAPPED.iter().any(|(id, _)| *id == m.id);
        assert_eq!(
            m.frameworks.is_empty(),
            unmapped,
            "{}: no framework reference and not in UNMAPPED, or in UNMAPPED with references",
            m.id
        );
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

/// Rules that evidence no requirement of a shipped catalogue, and why.
const UNMAPPED: &[(&str, &str)] = &[
    (
        "ENC-004",
        "S3 Bucket Keys cut KMS cost and throttling; no shipped standard requires them",
    ),
    (
        "POL-005",
        "a policy that locks everyone out is an availability fault, not an encryption requirement",
    ),
    (
        "ACC-001",
        "an account not read is a gap in the scan's coverage, not a control a standard names",
    ),
];

#[test]
fn unmapped_rules_give_a_reason() {
    for (id, reason) in UNMAPPED {
        assert!(
            metadata::lookup(id).is_some(),
            "UNMAPPED names no rule {id}"
        );
        assert!(reason.len() >= 20, "{id}: say why it maps to nothing");
    }
}

#[test]
fn every_catalogue_file_parses_is_named_for_its_id_and_has_a_source() {
    assert!(
        frameworks::files().len() >= 6,
        "the shipped catalogues are missing"
    );
    for (file, text) in frameworks::files() {
        let catalogue = frameworks::parse(file, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            *file,
            format!("{}.toml", catalogue.id),
            "file name must be the id"
        );
        assert!(
            catalogue.source.contains("https://"),
            "{file}: the source line must name the document and its address"
        );
        assert!(
            text.lines().next().is_some_and(|l| l.starts_with('#')),
            "{file}: starts with a header comment saying what the slice is and where ids come from"
        );
        for field in [
            &catalogue.name,
            &catalogue.title,
            &catalogue.publisher,
            &catalogue.version,
        ] {
            assert!(!field.trim().is_empty(), "{file}: empty field");
        }
        assert!(
            !catalogue.requirements.is_empty(),
            "{file}: no requirements"
        );
    }
}

#[test]
fn catalogue_and_requirement_ids_are_unique() {
    let catalogues = frameworks::catalogues();
    let ids: BTreeSet<&str> = catalogues.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), catalogues.len(), "duplicate catalogue id");
    let names: BTreeSet<&str> = catalogues.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names.len(),
        catalogues.len(),
        "duplicate catalogue name (labels would clash)"
    );
    for c in catalogues {
        assert!(
            !c.id.contains(':') && c.id == c.id.to_ascii_lowercase(),
            "{}: ids are lower case and hold no ':'",
            c.id
        );
        let reqs: BTreeSet<&str> = c.requirements.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            reqs.len(),
            c.requirements.len(),
            "{}: duplicate requirement",
            c.id
        );
        for r in &c.requirements {
            assert!(
                !r.title.trim().is_empty() && !r.title.ends_with('.'),
                "{}: {}",
                c.id,
                r.id
            );
        }
    }
}

#[test]
fn every_framework_reference_resolves() {
    for m in metadata::catalog() {
        let mut seen = BTreeSet::new();
        for reference in &m.frameworks {
            assert!(
                frameworks::resolve(reference).is_some(),
                "{}: {reference:?} names no requirement of a shipped catalogue (\"<catalogue-id>:<requirement-id>\")",
                m.id
            );
            assert!(seen.insert(reference), "{}: {reference} twice", m.id);
        }
    }
}

#[test]
fn every_requirement_is_covered_or_out_of_scope_with_a_reason_not_both() {
    for c in frameworks::catalogues() {
        for r in &c.requirements {
            let rules = c.rules_for(&r.id);
            match &r.out_of_scope {
                None => assert!(
                    !rules.is_empty(),
                    "{}:{} is covered by no rule: map a rule to it or mark it out_of_scope = \"reason\"",
                    c.id,
                    r.id
                ),
                Some(reason) => {
                    assert!(
                        reason.trim().len() >= 20,
                        "{}:{}: out_of_scope needs a reason",
                        c.id,
                        r.id
                    );
                    let ids: Vec<&str> = rules.iter().map(|m| m.id.as_str()).collect();
                    assert!(
                        rules.is_empty(),
                        "{}:{} is out of scope yet mapped by {ids:?}",
                        c.id,
                        r.id
                    );
                }
            }
        }
    }
}

#[test]
fn findings_carry_labels_from_the_catalogues() {
    let meta = metadata::lookup("POL-001").expect("POL-001");
    let labels: Vec<String> = meta
        .frameworks
        .iter()
        .map(|r| frameworks::label(r))
        .collect();
    for expected in [
        "PCI DSS v4.0.1 4.2.1",
        "CIS AWS Foundations v5.0.0 2.1.1",
        "CIS AWS Foundations v6.0.0 3.1.1",
        "AWS FSBP S3.5",
        "NIST SP 800-53 Rev. 5 SC-8(1)",
        "HIPAA 164.312(e)(1)",
    ] {
        assert!(
            labels.iter().any(|l| l == expected),
            "{expected} not in {labels:?}"
        );
    }
    // An unresolvable reference is shown as written, never dropped.
    assert_eq!(frameworks::label("nope:1.2"), "nope:1.2");
}
