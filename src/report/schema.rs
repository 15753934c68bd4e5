//! The JSON Schema of the report, generated from the report's own types (schemars), so the
//! contract cannot drift from what `s3audit` writes: `reports/schema.json` is this output,
//! and a test fails when the committed file is stale (`S3AUDIT_UPDATE_SCHEMA=1` rewrites
//! it). `s3audit schema` prints it for validators.

use schemars::generate::SchemaSettings;

use super::Report;

/// Where the schemas are published; outputs do not reference them, validators may.
const REPORT_ID: &str = "https://s3audit.dev/schema/report-v1.json";
const DRIFT_ID: &str = "https://s3audit.dev/schema/drift-v1.json";

/// The report's JSON Schema (draft 2020-12), pretty-printed, ending with a newline.
pub fn report_schema() -> String {
    schema_of::<Report>(REPORT_ID)
}

/// The JSON Schema of `s3audit diff --format json` (`reports/drift-schema.json`).
pub fn drift_schema() -> String {
    schema_of::<super::diff::Drift>(DRIFT_ID)
}

fn schema_of<T: schemars::JsonSchema>(id: &str) -> String {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<T>();
    schema.insert("$id".into(), id.into());
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed file `name` is what the types generate.
    fn check_committed(name: &str, generated: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("reports")
            .join(name);
        if std::env::var_os("S3AUDIT_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "reports/{name} is stale: run S3AUDIT_UPDATE_SCHEMA=1 cargo test --lib schema \
             and commit the result"
        );
    }

    /// The committed schemas are what the types generate. After changing a report or
    /// drift type, run `S3AUDIT_UPDATE_SCHEMA=1 cargo test --lib schema` and review the
    /// diff.
    #[test]
    fn committed_schemas_are_generated_from_the_types() {
        check_committed("schema.json", &report_schema());
        check_committed("drift-schema.json", &drift_schema());
    }

    #[test]
    fn the_schema_names_every_rule_and_evidence_shape() {
        let schema: serde_json::Value = serde_json::from_str(&report_schema()).unwrap();
        let defs = schema["$defs"].as_object().unwrap();
        let rules: Vec<&str> = defs["RuleId"]["oneOf"]
            .as_array()
            .map(|v| v.iter().filter_map(|r| r["const"].as_str()).collect())
            .or_else(|| {
                defs["RuleId"]["enum"]
                    .as_array()
                    .map(|v| v.iter().filter_map(|r| r.as_str()).collect())
            })
            .unwrap();
        let codes: Vec<&str> = crate::model::RuleId::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        assert_eq!(rules, codes);
        for shape in ["PolicyAnalysis", "ObjectCounts", "KeysUsable", "Empty"] {
            assert!(defs.contains_key(shape), "{shape} missing");
        }
        // Evidence shapes are closed: a misspelt member is a validation error.
        assert_eq!(defs["KeyRegion"]["additionalProperties"], false);
    }
}
