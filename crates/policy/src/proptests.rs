//! Property tests: parsing and analysis never panic on arbitrary input, and on generated
//! policies the analyser agrees with brute-force evaluation of concrete requests.
//!
//! The soundness property is the one that matters for an auditor: when the analyser says
//! a class is denied, no sampled request of the class may escape (or even be undecided);
//! when it names a request that gets through, that request must belong to the class and
//! escape every Deny statement; and the remediation it proposes must close the gap.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::analyze::{
    Request, RequestClass, Requester, ResourceKind, Target, analyze, denied, exhaustive_witness,
};
use super::classes::{self, Upload, UploadDefaults};
use super::condition::{KeyDomain, Tv};
use super::document::parse_policy;
use super::json::Json;
use super::{principals, questions, remediation};

/// The number of cases: `PROPTEST_CASES` overrides the default, for long runs.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// --- Arbitrary JSON ---------------------------------------------------------------------

const NAMES: &[&str] = &[
    "Version",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "AWS",
    "Service",
    "Bool",
    "StringEquals",
    "ForAllValues:StringLike",
    "NullIfExists",
    "IpAddress",
    "aws:SecureTransport",
    "Id",
    "x",
];

const STRINGS: &[&str] = &[
    "2012-10-17",
    "2008-10-17",
    "Deny",
    "Allow",
    "*",
    "s3:*",
    "s3:GetObject",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "false",
    "true",
    "10.0.0.0/8",
    "${aws:username}",
    "1.2",
    "",
    "arn:",
    "s3:",
    "?*",
    "arn:aws:s3:::b/${*}",
    "not-a-date",
    "::/0",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|n| json!(n)),
        prop::sample::select(STRINGS).prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(NAMES), inner), 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// A policy-shaped document: the top level and statements use the real element names, so
/// the fuzzer reaches the analysis instead of stopping at the first unknown element.
fn arb_policyish() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        prop::collection::vec((prop::sample::select(NAMES), arb_json()), 0..7),
        0..4,
    )
    .prop_map(|stmts| {
        json!({
            "Version": "2012-10-17",
            "Statement": stmts
                .into_iter()
                .map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
                .collect::<Vec<_>>(),
        })
    })
}

/// What the classes depend on: the bucket's defaults and the keys uploads are pinned to.
#[derive(Debug, Clone)]
struct Facts {
    kms_default: bool,
    sse_c_blocked: bool,
    allowed: Vec<String>,
}

fn all_facts() -> Vec<Facts> {
    vec![
        Facts {
            kms_default: false,
            sse_c_blocked: false,
            allowed: Vec::new(),
        },
        Facts {
            kms_default: true,
            sse_c_blocked: false,
            allowed: vec![KEY.to_string()],
        },
    ]
}

/// Every class the rules ask about for these facts, each with the remediation statements
/// that must close it: `(name, class, statements)`.
fn classes_for(facts: &Facts) -> Vec<(&'static str, RequestClass, Vec<Json>)> {
    let target = Target::new("b");
    let defaults = UploadDefaults {
        kms_default: facts.kms_default,
        default_label: if facts.kms_default { "SSE-KMS" } else { "none" },
        sse_c_blocked: facts.sse_c_blocked,
    };
    let kinds = classes::non_kms_uploads(defaults);
    let has = |u: Upload| kinds.iter().any(|(k, _)| *k == u);
    let mut upload_fix = vec![remediation::deny_non_kms_uploads(
        &target,
        facts.kms_default,
    )];
    if facts.kms_default && has(Upload::SseC) {
        upload_fix.push(remediation::deny_sse_c_uploads(&target));
    }
    let mut out = vec![
        (
            "insecure transport",
            classes::insecure_transport(),
            vec![remediation::deny_insecure_transport(&target)],
        ),
        (
            "outdated TLS",
            classes::outdated_tls(),
            vec![remediation::deny_outdated_tls(&target)],
        ),
        (
            "non-KMS uploads",
            classes::uploads(kinds.into_iter().map(|(_, v)| v).collect()),
            upload_fix,
        ),
    ];
    if !facts.allowed.is_empty() {
        out.push((
            "unpinned KMS uploads",
            classes::unpinned_kms_uploads(&facts.allowed, "the allowed keys"),
            vec![remediation::deny_unlisted_kms_keys(&target, &facts.allowed)],
        ));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_text_never_panics(text in ".{0,200}") {
        if let Err(e) = parse_policy(&text) {
            // Where the problem is, when known, is a place in the text.
            if let Some(at) = e.position(&text) {
                prop_assert!(at.line >= 1 && at.line <= text.split('\n').count(), "{:?}", at);
                prop_assert!(at.column >= 1);
            }
        }
    }

    #[test]
    fn parsing_and_analysing_arbitrary_json_never_panics(doc in prop_oneof![arb_json(), arb_policyish()]) {
        let text = doc.to_string();
        match parse_policy(&text) {
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains('\n'), "one-line errors: {}", msg);
            }
            Ok(policy) => {
                let target = Target::new("b");
                for facts in all_facts() {
                    for (_, class, _) in classes_for(&facts) {
                        let analysis = analyze(Some(&policy), &target, &class);
                        prop_assert!(analysis.checked > 0);
                    }
                }
                for class in [classes::modern_uploads(), classes::modern_reads(), classes::any_kms_upload()] {
                    analyze(Some(&policy), &target, &class);
                }
                principals::who_may(&policy, KEY, &principals::USE_ACTIONS);
                questions::pinned_values(Some(&policy), classes::KEY_ID);
            }
        }
    }
}

// --- Generated policies ---------------------------------------------------------------------

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

fn arb_principal() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!("*"),
        json!({"AWS": "*"}),
        json!({"AWS": ["*"]}),
        json!({"AWS": "111122223333"}),
        json!({"AWS": "arn:aws:iam::111122223333:root"}),
        json!({"AWS": ["arn:aws:iam::111122223333:role/admin", "arn:aws:iam::111122223333:root"]}),
        json!({"Service": "cloudtrail.amazonaws.com"}),
    ])
}

fn arb_list(items: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::collection::vec(prop::sample::select(items), 1..3)
        .prop_map(|v| if v.len() == 1 { json!(v[0]) } else { json!(v) })
}

const ACTIONS: &[&str] = &[
    "s3:*",
    "*",
    "s3:GetObject",
    "s3:Get*",
    "s3:Put*",
    "s3:PutObject",
    "s3:ListBucket",
    "S3:*",
    "s3:*Object",
    "s3express:*",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b*",
    "arn:aws:s3:::b/logs/*",
    "arn:aws:s3:::other/*",
    "arn:aws:s3:::b/?*",
    "arn:aws:s3:::B/*",
    "arn:aws:s3:::?",
];
const OPERATORS: &[&str] = &[
    "Bool",
    "BoolIfExists",
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIfExists",
    "StringNotEqualsIfExists",
    "StringLike",
    "StringNotLike",
    "StringEqualsIgnoreCase",
    "NumericLessThan",
    "NumericLessThanIfExists",
    "NumericGreaterThanEquals",
    "IpAddress",
    "NotIpAddress",
    "Null",
    "ForAllValues:StringNotEquals",
    "ForAnyValue:StringEquals",
    "ArnLike",
    "ArnNotLike",
    "ArnNotEquals",
];
const KEYS: &[&str] = &[
    "aws:SecureTransport",
    "aws:securetransport",
    "s3:TlsVersion",
    "aws:SourceIp",
    "aws:SourceVpce",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];
const VALUES: &[&str] = &[
    "false",
    "true",
    "FALSE",
    "1.2",
    "1.1",
    "1.0",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "vpce-1",
    "vpce-*",
    "*",
    "arn:aws:iam::111122223333:role/admin",
    "arn:aws:iam::111122223333:*",
    "111122223333",
    "AES256",
    "aws:kms",
    "aws:kms:dsse",
    KEY,
    "arn:aws:kms:us-east-1:111122223333:key/*",
];

fn arb_condition() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop::sample::select(OPERATORS),
            prop::sample::select(KEYS),
            prop::collection::vec(prop::sample::select(VALUES), 1..3),
        ),
        0..3,
    )
    .prop_map(|clauses| {
        let mut cond = serde_json::Map::new();
        for (op, key, values) in clauses {
            let entry = cond.entry(op.to_string()).or_insert_with(|| json!({}));
            entry[key] = if values.len() == 1 {
                json!(values[0])
            } else {
                json!(values)
            };
        }
        Value::Object(cond)
    })
}

/// Clauses that matter to the POL questions, so that generated policies often come close
/// to (or reach) a pass and the soundness property is exercised on both sides.
const MEANINGFUL: &[(&str, &str, &str)] = &[
    ("Bool", "aws:SecureTransport", "false"),
    ("BoolIfExists", "aws:SecureTransport", "false"),
    ("NumericLessThan", "s3:TlsVersion", "1.2"),
    ("NumericLessThanIfExists", "s3:TlsVersion", "1.2"),
    (
        "StringNotEquals",
        "s3:x-amz-server-side-encryption",
        "aws:kms",
    ),
    (
        "StringNotEqualsIfExists",
        "s3:x-amz-server-side-encryption",
        "aws:kms",
    ),
    ("Null", "s3:x-amz-server-side-encryption", "true"),
    (
        "Null",
        "s3:x-amz-server-side-encryption-customer-algorithm",
        "false",
    ),
    ("StringEquals", "s3:x-amz-server-side-encryption", "AES256"),
    (
        "StringNotEquals",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        KEY,
    ),
    (
        "StringNotEqualsIfExists",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        KEY,
    ),
    (
        "StringNotLike",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "arn:aws:kms:*",
    ),
];

/// A statement of the shape POL rules look for (everyone, every action, bucket and
/// objects), with one meaningful clause and maybe a random one.
fn arb_broad_statement() -> impl Strategy<Value = Value> {
    (prop::sample::select(MEANINGFUL), arb_condition(), any::<bool>(), any::<bool>()).prop_map(
        |((op, key, value), extra, with_extra, uploads)| {
            let mut cond = if with_extra { extra } else { json!({}) };
            cond[op][key] = json!(value);
            let (action, resource) = if uploads {
                (json!("s3:PutObject"), json!("arn:aws:s3:::b/*"))
            } else {
                (json!("s3:*"), json!(["arn:aws:s3:::b", "arn:aws:s3:::b/*"]))
            };
            json!({"Effect": "Deny", "Principal": "*", "Action": action, "Resource": resource, "Condition": cond})
        },
    )
}

fn arb_statement() -> impl Strategy<Value = Value> {
    (
        prop::bool::weighted(0.85),
        arb_principal(),
        prop::bool::weighted(0.15),
        arb_list(ACTIONS),
        prop::bool::weighted(0.15),
        arb_list(RESOURCES),
        prop::bool::weighted(0.15),
        arb_condition(),
    )
        .prop_map(
            |(deny, principal, not_p, action, not_a, resource, not_r, condition)| {
                let mut s = serde_json::Map::new();
                s.insert("Effect".into(), json!(if deny { "Deny" } else { "Allow" }));
                s.insert(
                    if not_p && deny {
                        "NotPrincipal"
                    } else {
                        "Principal"
                    }
                    .into(),
                    principal,
                );
                s.insert(if not_a { "NotAction" } else { "Action" }.into(), action);
                s.insert(
                    if not_r { "NotResource" } else { "Resource" }.into(),
                    resource,
                );
                if condition.as_object().is_some_and(|c| !c.is_empty()) {
                    s.insert("Condition".into(), condition);
                }
                Value::Object(s)
            },
        )
}

fn arb_policy() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        prop_oneof![2 => arb_statement(), 1 => arb_broad_statement()],
        1..4,
    )
    .prop_map(|stmts| json!({"Version": "2012-10-17", "Statement": stmts}))
}

/// The byte offset of a position (the inverse of `position::position_at`).
fn offset_of(text: &str, at: super::position::Position) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(at.line - 1)
        .map(str::len)
        .sum();
    line_start
        + text[line_start..]
            .chars()
            .take(at.column - 1)
            .map(char::len_utf8)
            .sum::<usize>()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(200), ..ProptestConfig::default() })]

    /// Each statement's span, compact or pretty-printed, with LF or CRLF, is exactly that
    /// statement's text.
    #[test]
    fn statement_spans_cover_exactly_each_statement(doc in arb_policy(), pretty in any::<bool>(), crlf in any::<bool>()) {
        let mut text = if pretty { serde_json::to_string_pretty(&doc).unwrap() } else { doc.to_string() };
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let policy = parse_policy(&text).unwrap();
        let layout = super::position::layout(&text).unwrap();
        prop_assert_eq!(layout.statements.len(), policy.statements.len());
        for (statement, span) in policy.statements.iter().zip(&layout.statements) {
            let slice = &text[offset_of(&text, span.start)..offset_of(&text, span.end)];
            let parsed: Value = serde_json::from_str(slice).unwrap();
            prop_assert_eq!(&parsed, &doc["Statement"][statement.index]);
        }
    }
}

fn arb_facts() -> impl Strategy<Value = Facts> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(kms_default, sse_c_blocked, listed)| Facts {
            kms_default,
            sse_c_blocked,
            allowed: if listed || kms_default {
                vec![KEY.to_string()]
            } else {
                Vec::new()
            },
        },
    )
}

/// Values a sampled request may give a free context key (`None`: absent).
const SAMPLE_VALUES: &[Option<&str>] = &[
    None,
    Some("true"),
    Some("false"),
    Some("1.2"),
    Some("1.0"),
    Some("10.1.2.3"),
    Some("192.0.2.1"),
    Some("2001:db8::1"),
    Some("vpce-1"),
    Some("vpce-2"),
    Some("AES256"),
    Some("aws:kms"),
    Some(KEY),
    Some("arn:aws:kms:us-east-1:111122223333:key/k2"),
    Some("arn:aws:iam::111122223333:role/admin"),
    Some("s3audit"),
];

const SAMPLE_OBJECTS: &[&str] = &["s3audit-probe", "logs/app.log", "a", "logs/", "x/y"];

fn sample_principals() -> Vec<Requester> {
    vec![
        Requester::Anonymous,
        Requester::root("aws", "111122223333"),
        Requester::Iam {
            arn: "arn:aws:iam::111122223333:role/admin".into(),
            account: "111122223333".into(),
        },
        Requester::Iam {
            arn: "arn:aws:iam::444455556666:user/alice".into(),
            account: "444455556666".into(),
        },
        Requester::Service("cloudtrail.amazonaws.com".into()),
    ]
}

/// A deterministic pseudo-random stream from a seed (the sample must be reproducible from
/// proptest's seed alone).
struct Lcg(u64);

impl Lcg {
    fn pick(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// A random request of the rule's class.
fn sample_request(class: &RequestClass, rng: &mut Lcg) -> Request {
    let (action, kinds) = &class.actions[rng.pick(class.actions.len())];
    let kind = kinds[rng.pick(kinds.len())];
    let variant = &class.variants[rng.pick(class.variants.len())];
    let target = Target::new("b");
    let resource = match kind {
        ResourceKind::Bucket => target.bucket_arn(),
        ResourceKind::Object => format!(
            "{}{}",
            target.object_prefix(),
            SAMPLE_OBJECTS[rng.pick(SAMPLE_OBJECTS.len())]
        ),
    };
    let mut context = Vec::new();
    for key in KEYS.iter().filter(|k| **k != "aws:securetransport") {
        let domain = variant
            .keys
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, d)| d.clone());
        let value = match domain {
            Some(KeyDomain::Fixed(v)) => v,
            Some(KeyDomain::AnyExcept(except)) => {
                let choices: Vec<&str> = SAMPLE_VALUES
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|v| !except.iter().any(|e| e == v))
                    .collect();
                Some(choices[rng.pick(choices.len())].to_string())
            }
            // Always present in real requests.
            _ if *key == "aws:SecureTransport" => Some(["true", "false"][rng.pick(2)].to_string()),
            // Derived from the principal, not sampled.
            _ if key.starts_with("aws:Principal") => continue,
            _ => SAMPLE_VALUES[rng.pick(SAMPLE_VALUES.len())].map(str::to_string),
        };
        context.push((key.to_string(), value));
    }
    let principals = sample_principals();
    Request {
        principal: principals[rng.pick(principals.len())].clone(),
        action: action.clone(),
        resource,
        context,
        quiet: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(200), ..ProptestConfig::default() })]

    #[test]
    fn verdicts_agree_with_concrete_evaluation(doc in arb_policy(), facts in arb_facts(), seed in any::<u64>()) {
        let text = doc.to_string();
        let policy = parse_policy(&text).expect("generated policies are valid");
        let mut rng = Lcg(seed);
        let target = Target::new("b");
        for (rule, class, _) in classes_for(&facts) {
            let analysis = analyze(Some(&policy), &target, &class);
            if analysis.passed() {
                // Sound: every request of the class is denied, for certain.
                for _ in 0..60 {
                    let req = sample_request(&class, &mut rng);
                    prop_assert_eq!(
                        denied(Some(&policy), &req), Tv::True,
                        "{} passed but {} is not denied by {}", rule, req.describe(), text
                    );
                }
            }
            for gap in &analysis.gaps {
                if let Some(w) = &gap.witness {
                    prop_assert_eq!(denied(Some(&policy), w), Tv::False, "{} witness {} is denied", rule, w.describe());
                    prop_assert_eq!(&w.action, &gap.action);
                    let in_class = class.actions.iter().any(|(a, kinds)| a == &w.action && kinds.contains(&gap.kind));
                    prop_assert!(in_class);
                    for (key, domain) in &class.variants[gap.variant].keys {
                        let value = w.context.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                        match domain {
                            KeyDomain::Fixed(v) => prop_assert_eq!(value, Some(v.clone())),
                            KeyDomain::AnyExcept(except) => {
                                if let Some(Some(v)) = value {
                                    prop_assert!(!except.contains(&v));
                                }
                            }
                            KeyDomain::Free => {}
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn remediation_closes_every_gap(doc in arb_policy(), facts in arb_facts()) {
        let text = doc.to_string();
        let policy = parse_policy(&text).expect("generated policies are valid");
        let target = Target::new("b");
        for (name, class, statements) in classes_for(&facts) {
            if analyze(Some(&policy), &target, &class).passed() {
                continue;
            }
            let merged = remediation::merge(Some(&policy.json), &statements).to_pretty();
            let fixed = parse_policy(&merged).expect("the merged policy parses");
            let again = analyze(Some(&fixed), &target, &class);
            prop_assert!(again.passed(), "{} after remediation: {:?}\n{}", name, again.gaps.first().map(|g| &g.reasons), merged);
        }
    }

    /// The search is complete: when a gap has no witness, no combination of the
    /// sub-class's candidates gets through either (checked exhaustively where that is
    /// affordable). A fail without a witness then really is the conservative case.
    #[test]
    fn no_witness_means_none_among_the_candidates(doc in arb_policy(), facts in arb_facts()) {
        let text = doc.to_string();
        let policy = parse_policy(&text).expect("generated policies are valid");
        let target = Target::new("b");
        for (rule, class, _) in classes_for(&facts) {
            let analysis = analyze(Some(&policy), &target, &class);
            let mut asked = std::collections::HashSet::new();
            for gap in analysis.gaps.iter().filter(|g| g.witness.is_none()) {
                let applicable: Vec<usize> = policy
                    .statements
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.actions.applies_to(&gap.action))
                    .map(|(i, _)| i)
                    .collect();
                if !asked.insert((gap.kind, gap.variant, applicable)) {
                    continue;
                }
                prop_assert_ne!(
                    exhaustive_witness(Some(&policy), &target, &class, gap),
                    Some(true),
                    "{} {} on the {:?}: a request gets through but none was found in {}",
                    rule, gap.action, gap.kind, text
                );
            }
        }
    }
}
