//! The policy corpus: one JSON file per case under `tests/policy_corpus/`, each a bucket
//! policy with the verdict AWS's documented evaluation logic gives for POL-001..004 and
//! why (citing the rule). The analyser must reproduce every verdict, explain every fail
//! with a concrete request that gets through (unless the case is marked `conservative`:
//! a denial the analyser deliberately does not prove), and offer a remediation that, merged
//! into the policy, turns the fail into a pass.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use s3audit::model::Status;
use s3audit::rules::pol::{DefaultSse, PolicyFacts, evaluate, evaluate_all, merged_policy};
use s3audit_policy::parse_policy;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows and the AWS documentation rule that decides it.
    why: String,
    bucket: String,
    default_sse: String,
    #[serde(default)]
    default_kms_key: Option<String>,
    #[serde(default)]
    blocked_sse_c: bool,
    #[serde(default)]
    allowed_keys: Vec<String>,
    /// The policy as JSON; `null` or missing (with no `policy_text`): the bucket has none.
    #[serde(default)]
    policy: Option<Value>,
    /// The policy as raw text, for documents JSON values cannot express (invalid JSON,
    /// duplicate members).
    #[serde(default)]
    policy_text: Option<String>,
    expect: BTreeMap<String, String>,
    /// Rules whose fail the analyser reports without a witness: the denial may hold
    /// through a combination of statements it does not prove (see `policy::analyze`).
    #[serde(default)]
    conservative: Vec<String>,
    /// Text the fail message must contain (e.g. the counterexample), per rule.
    #[serde(default)]
    message_contains: BTreeMap<String, String>,
}

fn facts(case: &Case) -> PolicyFacts {
    let mut facts = PolicyFacts::new(&case.bucket);
    facts.default_sse = match case.default_sse.as_str() {
        "none" => DefaultSse::None,
        "sse-s3" => DefaultSse::SseS3,
        "sse-kms" => DefaultSse::SseKms,
        "dsse-kms" => DefaultSse::DsseKms,
        "unknown" => DefaultSse::Unknown,
        other => panic!("unknown default_sse {other}"),
    };
    facts.default_key = case.default_kms_key.iter().cloned().collect();
    facts.sse_c_blocked = Some(case.blocked_sse_c);
    facts.allowed_keys = case.allowed_keys.clone();
    facts
}

/// Every case of one corpus directory (`tests/policy_corpus/<sub>`), by file name, in
/// name order.
fn corpus<T: serde::de::DeserializeOwned>(sub: &str) -> Vec<(String, T)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/policy_corpus")
        .join(sub);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(file).unwrap();
            let case = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, case)
        })
        .collect()
}

/// The case's policy as text (`None`: the bucket has none).
fn policy_text(case: &Case) -> Option<String> {
    match (&case.policy_text, &case.policy) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(Value::Null)) | (None, None) => None,
        (None, Some(v)) => Some(v.to_string()),
    }
}

#[test]
fn corpus_verdicts_match_aws_evaluation_logic() {
    let cases: Vec<(String, Case)> = corpus("");
    assert!(
        cases.len() >= 60,
        "the corpus has {} cases, at least 60 wanted",
        cases.len()
    );

    let mut problems = Vec::new();
    let mut fails_explained = 0;
    for (name, case) in &cases {
        assert!(
            case.why.len() > 20,
            "{name}: say why, citing AWS's documentation"
        );
        assert!(!case.expect.is_empty(), "{name}: expects nothing");
        let policy_text = policy_text(case);
        let facts = facts(case);
        let outcomes = evaluate_all(policy_text.as_deref(), &facts);
        for (rule, want) in &case.expect {
            let got = outcomes
                .iter()
                .find(|(id, _)| id.as_str() == rule)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("{name}: no rule {rule}"));
            if got.status.as_str() != want {
                problems.push(format!(
                    "{name}: {rule} is {} but AWS's logic gives {want} ({})\n    analyser: {}",
                    got.status.as_str(),
                    case.why,
                    got.message
                ));
                continue;
            }
            if let Some(needle) = case.message_contains.get(rule)
                && !got.message.contains(needle.as_str())
            {
                problems.push(format!(
                    "{name}: {rule} message lacks {needle:?}: {}",
                    got.message
                ));
            }
            if got.status != Status::Fail {
                continue;
            }
            let witness = &got.evidence.to_json()["counterexample"];
            if case.conservative.contains(rule) {
                if !witness.is_null() {
                    problems.push(format!(
                        "{name}: {rule} marked conservative but found {witness}"
                    ));
                }
            } else if witness.is_null() || !got.message.contains("gets through") {
                problems.push(format!(
                    "{name}: {rule} fails without a request that gets through: {}",
                    got.message
                ));
            } else {
                fails_explained += 1;
            }
            match got.fix.is_empty() {
                true => problems.push(format!("{name}: {rule} fails without a remediation")),
                false => {
                    let current = policy_text.as_deref().map(|t| parse_policy(t).unwrap());
                    let merged = merged_policy(current.as_ref(), got);
                    let fixed = parse_policy(&merged).expect("the merged policy parses");
                    let again = evaluate(rule.parse().unwrap(), Some(&fixed), &facts);
                    if again.status != Status::Pass {
                        problems.push(format!(
                            "{name}: {rule} still {} after its remediation: {}",
                            again.status.as_str(),
                            again.message
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} corpus problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        fails_explained > 30,
        "only {fails_explained} fails explained"
    );
    eprintln!(
        "{} corpus cases, {fails_explained} fails explained with a request that gets through",
        cases.len()
    );
}

/// An RCP corpus case: the RCPs attached along root → OU → account, and the verdicts
/// AWS's evaluation logic gives for TLS-only (POL-001) and the TLS floor (POL-002) across
/// every bucket of the account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RcpCase {
    why: String,
    kind: String,
    rcps: Vec<Value>,
    expect: BTreeMap<String, String>,
    #[serde(default)]
    message_contains: BTreeMap<String, String>,
}

/// A case's RCPs as `(name, text)`, root first, as `check-policy --kind rcp` reads them.
fn rcp_documents(rcps: &[Value]) -> Vec<(String, String)> {
    rcps.iter()
        .enumerate()
        .map(|(i, d)| (format!("rcp{i}"), d.to_string()))
        .collect()
}

#[test]
fn rcp_corpus_verdicts_match_aws_evaluation_logic() {
    use s3audit::rules::pol::rcp::evaluate_rcps;

    let cases: Vec<(String, RcpCase)> = corpus("rcp");
    assert!(cases.len() >= 12, "{} RCP cases", cases.len());
    let mut problems = Vec::new();
    for (name, case) in &cases {
        assert_eq!(case.kind, "rcp", "{name}");
        assert!(
            case.why.contains("Resource control policies"),
            "{name}: cite AWS"
        );
        let docs = rcp_documents(&case.rcps);
        let outcomes = evaluate_rcps(&docs, Some("111122223333")).expect("valid RCPs");
        for (rule, want) in &case.expect {
            let got = outcomes
                .iter()
                .find(|(id, _)| id.as_str() == rule)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("{name}: no {rule}"));
            if got.status.as_str() != want {
                problems.push(format!(
                    "{name}: {rule} is {} but AWS's logic gives {want}\n    analyser: {}",
                    got.status.as_str(),
                    got.message
                ));
                continue;
            }
            if let Some(needle) = case.message_contains.get(rule)
                && !got.message.contains(needle.as_str())
            {
                problems.push(format!(
                    "{name}: {rule} message lacks {needle:?}: {}",
                    got.message
                ));
            }
            if got.status != Status::Fail {
                continue;
            }
            if !got.message.contains("gets through") {
                problems.push(format!(
                    "{name}: {rule} fails without a counterexample: {}",
                    got.message
                ));
            }
            // The remediation, merged into the first RCP, closes the gap for the chain.
            assert!(
                !got.fix.is_empty(),
                "{name}: {rule} fails without a remediation"
            );
            let first = parse_policy(&docs[0].1).unwrap();
            let merged = merged_policy(Some(&first), got);
            let mut fixed = docs.clone();
            fixed[0].1 = merged;
            let again = evaluate_rcps(&fixed, Some("111122223333")).unwrap();
            let again = again
                .iter()
                .find(|(id, _)| id.as_str() == rule)
                .map(|(_, v)| v)
                .unwrap();
            if again.status != Status::Pass {
                problems.push(format!(
                    "{name}: {rule} still {} after its remediation: {}",
                    again.status.as_str(),
                    again.message
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A key-policy corpus case: the key policy, the key it is attached to, and the verdicts
/// of KMS-004 (no anonymous caller or arbitrary account may decrypt) and KMS-005 (no one
/// outside the key's account may destroy it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPolicyCase {
    why: String,
    kind: String,
    key_arn: String,
    policy: Value,
    expect: BTreeMap<String, String>,
}

#[test]
fn key_policy_corpus_verdicts_match_aws_evaluation_logic() {
    use s3audit::rules::kms::key_policy::key_policy_verdicts;

    let cases: Vec<(String, KeyPolicyCase)> = corpus("key_policy");
    assert!(cases.len() >= 8, "{} key-policy cases", cases.len());
    let mut problems = Vec::new();
    for (name, case) in &cases {
        assert_eq!(case.kind, "key-policy", "{name}");
        assert!(case.why.contains("Developer Guide"), "{name}: cite AWS");
        let policy = parse_policy(&case.policy.to_string()).expect("valid key policy");
        let outcomes = key_policy_verdicts(&policy, &case.key_arn);
        for (rule, want) in &case.expect {
            let got = outcomes
                .iter()
                .find(|(id, _)| id.as_str() == rule)
                .map(|(_, v)| v)
                .unwrap();
            if got.status.as_str() != want {
                problems.push(format!(
                    "{name}: {rule} is {} but AWS's logic gives {want}: {}",
                    got.status.as_str(),
                    got.message
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What a user is told per rule: status, message and remediation.
fn explained(
    outcomes: &[(s3audit::model::RuleId, s3audit::rules::Verdict)],
) -> BTreeMap<String, Value> {
    outcomes
        .iter()
        .map(|(rule, o)| {
            (
                rule.to_string(),
                serde_json::json!({
                    "status": o.status.as_str(),
                    "message": o.message,
                    "remediation": o.remediation,
                }),
            )
        })
        .collect()
}

/// The same for the RCP and key-policy corpora: what `check-policy --kind rcp` and
/// `--kind key-policy` tell a user, case by case.
#[test]
fn rcp_and_key_policy_explanations_are_snapshotted() {
    use s3audit::rules::kms::key_policy::key_policy_verdicts;
    use s3audit::rules::pol::rcp::evaluate_rcps;
    let mut all = BTreeMap::new();
    for (name, case) in corpus::<RcpCase>("rcp") {
        let docs = rcp_documents(&case.rcps);
        let outcomes = evaluate_rcps(&docs, Some("111122223333")).expect("valid RCPs");
        all.insert(format!("rcp/{name}"), explained(&outcomes));
    }
    for (name, case) in corpus::<KeyPolicyCase>("key_policy") {
        let policy = parse_policy(&case.policy.to_string()).expect("valid key policy");
        let outcomes = key_policy_verdicts(&policy, &case.key_arn);
        all.insert(format!("key_policy/{name}"), explained(&outcomes));
    }
    insta::assert_snapshot!(serde_json::to_string_pretty(&all).unwrap());
}

/// The explanation and the remediation every corpus case gets, as one reviewed snapshot
/// (`tests/snapshots/`): a change to what s3audit tells a user about a policy shows up in
/// review as a diff of that text, case by case (`cargo insta review`).
#[test]
fn corpus_explanations_and_remediations_are_snapshotted() {
    let mut all = BTreeMap::new();
    for (name, case) in corpus::<Case>("") {
        let policy_text = policy_text(&case);
        let outcomes = evaluate_all(policy_text.as_deref(), &facts(&case));
        all.insert(name, explained(&outcomes));
    }
    insta::assert_snapshot!(
        "corpus_explanations",
        serde_json::to_string_pretty(&all).unwrap()
    );
}

// The adversarial shapes are built by the benchmark (its `main` and printing are its own).
#[allow(dead_code)]
#[path = "../benches/policy_bench.rs"]
mod bench;
use bench::shapes;

/// The adversarial shapes (the largest bucket policies of each kind that cost the analyser
/// the most; `cargo bench --bench policy_bench` times them) keep the verdicts AWS's logic
/// gives, with a counterexample for every fail the analyser does not mark conservative,
/// and remediations that pass. Verdicts only: how long they take is the benchmark's
/// business, not a test's.
#[test]
fn adversarial_shapes_keep_their_verdicts() {
    let mut problems = Vec::new();
    for shape in shapes::all() {
        assert!(
            shape.policy.len() <= shapes::MAX_POLICY_BYTES,
            "{}",
            shape.name
        );
        let outcomes = evaluate_all(Some(&shape.policy), &shape.facts);
        for ((rule, got), want) in outcomes.iter().zip(shape.expect) {
            let rule = *rule;
            if got.status.as_str() != want {
                problems.push(format!(
                    "{}: {rule} is {} but should be {want}: {}",
                    shape.name,
                    got.status.as_str(),
                    got.message
                ));
                continue;
            }
            if got.status != Status::Fail {
                continue;
            }
            let witness = !got.evidence.to_json()["counterexample"].is_null();
            if witness == shape.conservative.contains(&rule.as_str()) {
                problems.push(format!(
                    "{}: {rule} {} a counterexample: {}",
                    shape.name,
                    if witness { "has" } else { "lacks" },
                    got.message
                ));
            }
            assert!(!got.fix.is_empty(), "a fail has a remediation");
            let current = parse_policy(&shape.policy).unwrap();
            let merged = merged_policy(Some(&current), got);
            let fixed = parse_policy(&merged).expect("the merged policy parses");
            let again = evaluate(rule, Some(&fixed), &shape.facts);
            if again.status != Status::Pass {
                problems.push(format!(
                    "{}: {rule} still {} after its remediation: {}",
                    shape.name,
                    again.status.as_str(),
                    again.message
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The adversarial key policies and RCPs (the largest of each shape within AWS's 32 KB and
/// 5 KB limits) keep their verdicts: the benchmark times what is tested here.
#[test]
fn adversarial_key_policies_and_rcps_keep_their_verdicts() {
    use bench::other_shapes::{self, Kind};
    use s3audit::rules::kms::key_policy::key_policy_verdicts;
    use s3audit::rules::pol::rcp::evaluate_rcps;
    let shapes = other_shapes::all();
    assert!(shapes.iter().any(|s| matches!(s.kind, Kind::Rcp)));
    for shape in shapes {
        let (limit, verdicts) = match shape.kind {
            Kind::KeyPolicy => (
                other_shapes::MAX_KEY_POLICY_BYTES,
                key_policy_verdicts(&parse_policy(&shape.policy).unwrap(), other_shapes::KEY_ARN),
            ),
            Kind::Rcp => (
                other_shapes::MAX_RCP_BYTES,
                evaluate_rcps(
                    &[("rcp.json".to_string(), shape.policy.clone())],
                    Some("111122223333"),
                )
                .unwrap(),
            ),
        };
        assert!(shape.policy.len() <= limit, "{} is too big", shape.name);
        // Each shape is built to fill its limit: a generator that stopped early would
        // measure nothing.
        assert!(
            shape.policy.len() > limit * 9 / 10,
            "{} is too small",
            shape.name
        );
        let got: Vec<&str> = verdicts.iter().map(|(_, v)| v.status.as_str()).collect();
        assert_eq!(got, shape.expect, "{}", shape.name);
    }
}
