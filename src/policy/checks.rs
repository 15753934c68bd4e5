//! The questions POL-001..004 ask of a bucket policy, as request classes for the analyser,
//! and their answers as verdicts with evidence and a remediation.
//!
//! * POL-001: every request without TLS is denied: all principals, all S3 actions, the
//!   bucket and its objects. On plain HTTP `aws:SecureTransport` is `false` and
//!   `s3:TlsVersion` is absent, so a TLS-version floor alone does not refuse HTTP.
//! * POL-002: every request over TLS older than 1.2 (`s3:TlsVersion` 1.0 or 1.1,
//!   `aws:SecureTransport` true) is denied.
//! * POL-003: no `s3:PutObject` (which also authorizes CopyObject and multipart uploads)
//!   can store an object that is not KMS-encrypted: (a) an explicit
//!   `x-amz-server-side-encryption: AES256`; (b) no encryption header, when the bucket
//!   default is not SSE-KMS/DSSE-KMS (with a KMS default S3 applies it, so (b) needs no
//!   deny); (c) SSE-C, which sends `x-amz-server-side-encryption-customer-algorithm` and
//!   no `x-amz-server-side-encryption` header, unless `BlockedEncryptionTypes` blocks
//!   SSE-C. Each must be denied.
//! * POL-004: KMS uploads are pinned to the allowed keys: the configured list, or else the
//!   bucket's default key. Denied must be (d) every upload with `aws:kms` or
//!   `aws:kms:dsse` naming any key id outside the list, and (e) one naming no key id,
//!   since S3 then uses the AWS managed key `aws/s3` (S3 API reference, PutObject),
//!   unless `aws/s3` is itself allowed. Not applicable when there is neither a list nor a
//!   KMS default key.

use serde_json::{Value, json};

use super::analyze::{Analysis, RequestClass, ResourceKind, Target, Variant, analyze};
use super::condition::{Base, KeyDomain};
use super::document::{Effect, Policy, PolicyError, parse_policy};
use super::json::Json;
use super::remediation;

pub const POL_001: &str = "POL-001";
pub const POL_002: &str = "POL-002";
pub const POL_003: &str = "POL-003";
pub const POL_004: &str = "POL-004";
pub const POL_005: &str = "POL-005";
pub const RULE_IDS: [&str; 5] = [POL_001, POL_002, POL_003, POL_004, POL_005];

pub(crate) const SSE: &str = "s3:x-amz-server-side-encryption";
pub(crate) const SSE_C: &str = "s3:x-amz-server-side-encryption-customer-algorithm";
pub(crate) const KEY_ID: &str = "s3:x-amz-server-side-encryption-aws-kms-key-id";

/// The bucket's default encryption, as far as it matters to uploads without a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultSse {
    None,
    SseS3,
    SseKms,
    DsseKms,
    /// The configuration could not be read.
    Unknown,
}

impl DefaultSse {
    pub fn is_kms(self) -> bool {
        matches!(self, DefaultSse::SseKms | DefaultSse::DsseKms)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DefaultSse::None => "none",
            DefaultSse::SseS3 => "SSE-S3",
            DefaultSse::SseKms => "SSE-KMS",
            DefaultSse::DsseKms => "DSSE-KMS",
            DefaultSse::Unknown => "unknown",
        }
    }
}

/// What the POL rules need to know about the bucket besides its policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFacts {
    pub target: Target,
    pub default_sse: DefaultSse,
    /// Every reference (ARN, key id, alias) of the default KMS key, if one is configured.
    pub default_key: Vec<String>,
    /// Whether `BlockedEncryptionTypes` blocks SSE-C; `None` when unknown.
    pub sse_c_blocked: Option<bool>,
    /// The configured allowed keys (every known reference of each); empty: none configured.
    pub allowed_keys: Vec<String>,
    /// With nothing configured: the keys the policy itself names in negated key-id
    /// conditions, which POL-004 checks it really pins uploads to. Filled by POL-004.
    pub policy_pins: Vec<String>,
}

impl PolicyFacts {
    pub fn new(bucket: &str) -> PolicyFacts {
        PolicyFacts {
            target: Target::new(bucket),
            default_sse: DefaultSse::None,
            default_key: Vec::new(),
            sse_c_blocked: Some(false),
            allowed_keys: Vec::new(),
            policy_pins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Error,
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::NotApplicable => "not_applicable",
        }
    }
}

/// One POL rule's verdict on one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub rule: &'static str,
    pub status: Status,
    pub message: String,
    pub evidence: Value,
    /// For a fail: the statements to add, merged into the current policy, explained.
    pub remediation: Option<String>,
    /// For a fail: just the merged policy document (pretty JSON).
    pub merged_policy: Option<String>,
    /// For a fail: the statements the remediation adds (by Sid), for `check-policy --fix`
    /// to combine the fixes of every rule into one document.
    pub fix_statements: Vec<Json>,
}

impl Outcome {
    pub(crate) fn new(
        rule: &'static str,
        status: Status,
        message: impl Into<String>,
        evidence: Value,
    ) -> Outcome {
        Outcome {
            rule,
            status,
            message: message.into(),
            evidence,
            remediation: None,
            merged_policy: None,
            fix_statements: Vec::new(),
        }
    }
}

/// Evaluates every POL rule on a policy text (`None`: the bucket has no policy). A text
/// that is not a valid policy makes every rule an `error` naming the problem.
pub fn evaluate_all(text: Option<&str>, facts: &PolicyFacts) -> Vec<Outcome> {
    let parsed = text.map(parse_policy).transpose();
    RULE_IDS
        .iter()
        .map(|rule| match &parsed {
            Ok(policy) => evaluate(rule, policy.as_ref(), facts),
            Err(e) => invalid_policy(rule, e),
        })
        .collect()
}

/// The `error` verdict for a policy that does not parse.
pub fn invalid_policy(rule: &str, e: &PolicyError) -> Outcome {
    Outcome::new(
        static_id(rule),
        Status::Error,
        format!("the bucket policy is not a valid policy: {e}"),
        json!({"policy_error": e.to_string()}),
    )
}

fn static_id(rule: &str) -> &'static str {
    RULE_IDS
        .iter()
        .copied()
        .find(|r| *r == rule)
        .unwrap_or_else(|| panic!("{rule} is not a POL rule"))
}

/// Evaluates one POL rule.
pub fn evaluate(rule: &str, policy: Option<&Policy>, facts: &PolicyFacts) -> Outcome {
    match static_id(rule) {
        POL_001 => tls_required(policy, facts),
        POL_002 => modern_tls(policy, facts),
        POL_003 => kms_uploads(policy, facts),
        POL_004 => pinned_keys(policy, facts),
        _ => super::lockout::lockout(policy, facts),
    }
}

/// The class of requests a rule wants denied, for these facts (`None`: the rule does not
/// apply, e.g. POL-004 without keys to pin to).
pub fn request_class(rule: &str, facts: &PolicyFacts) -> Option<RequestClass> {
    match static_id(rule) {
        POL_001 => Some(tls_class()),
        POL_002 => Some(old_tls_class()),
        POL_003 => Some(uploads(
            upload_kinds(facts).into_iter().map(|(_, v)| v).collect(),
        )),
        POL_004 => pinning(facts).ok().map(|(_, _, class)| class),
        // POL-005 asks whether requests get through, not whether they are denied.
        _ => None,
    }
}

pub(crate) fn fixed(key: &str, value: Option<&str>) -> (String, KeyDomain) {
    (key.to_string(), KeyDomain::Fixed(value.map(str::to_string)))
}

/// What a TLS verdict covers: one bucket, or every bucket of an account (RCPs).
fn scope(target: &Target) -> &'static str {
    if target.any_bucket {
        "every bucket and object of the account"
    } else {
        "the bucket and its objects"
    }
}

/// POL-001's class: every S3 action on the bucket and its objects, over plain HTTP.
fn tls_class() -> RequestClass {
    RequestClass {
        actions: RequestClass::all_s3_actions(),
        variants: vec![Variant {
            label: "a request without TLS".to_string(),
            keys: vec![
                fixed("aws:SecureTransport", Some("false")),
                fixed("s3:TlsVersion", None),
            ],
        }],
    }
}

fn tls_required(policy: Option<&Policy>, facts: &PolicyFacts) -> Outcome {
    let class = tls_class();
    let analysis = analyze(policy, &facts.target, &class);
    let statements = [remediation::deny_insecure_transport(&facts.target)];
    verdict(
        POL_001,
        "every request without TLS",
        &format!(
            "every request without TLS is denied: all principals, all S3 actions, {}",
            scope(&facts.target)
        ),
        policy,
        facts,
        &class,
        &analysis,
        &statements,
    )
}

/// POL-002's class: every S3 action on the bucket and its objects, over TLS 1.0 or 1.1.
fn old_tls_class() -> RequestClass {
    let variant = |v: &str| Variant {
        label: format!("a request over TLS {v}"),
        keys: vec![
            fixed("aws:SecureTransport", Some("true")),
            fixed("s3:TlsVersion", Some(v)),
        ],
    };
    RequestClass {
        actions: RequestClass::all_s3_actions(),
        variants: vec![variant("1.0"), variant("1.1")],
    }
}

fn modern_tls(policy: Option<&Policy>, facts: &PolicyFacts) -> Outcome {
    let class = old_tls_class();
    let analysis = analyze(policy, &facts.target, &class);
    let statements = [remediation::deny_outdated_tls(&facts.target)];
    verdict(
        POL_002,
        "every request over TLS older than 1.2",
        &format!(
            "every request over TLS 1.0 or 1.1 is denied: all principals, all S3 actions, {}",
            scope(&facts.target)
        ),
        policy,
        facts,
        &class,
        &analysis,
        &statements,
    )
}

fn uploads(variants: Vec<Variant>) -> RequestClass {
    RequestClass {
        actions: vec![("s3:PutObject".to_string(), vec![ResourceKind::Object])],
        variants,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upload {
    ExplicitAes256,
    NoHeader,
    SseC,
}

/// POL-003's class: uploads that would not be KMS-encrypted, by kind.
fn upload_kinds(facts: &PolicyFacts) -> Vec<(Upload, Variant)> {
    let mut kinds = vec![(
        Upload::ExplicitAes256,
        Variant {
            label: "an upload with x-amz-server-side-encryption: AES256".to_string(),
            keys: vec![
                fixed(SSE, Some("AES256")),
                fixed(SSE_C, None),
                fixed(KEY_ID, None),
            ],
        },
    )];
    if !facts.default_sse.is_kms() {
        kinds.push((
            Upload::NoHeader,
            Variant {
                label: format!(
                    "an upload without an encryption header (the bucket default is {})",
                    facts.default_sse.as_str()
                ),
                keys: vec![fixed(SSE, None), fixed(SSE_C, None), fixed(KEY_ID, None)],
            },
        ));
    }
    if facts.sse_c_blocked != Some(true) {
        kinds.push((
            Upload::SseC,
            Variant {
                label: "an SSE-C upload (customer-provided key, no x-amz-server-side-encryption header)"
                    .to_string(),
                keys: vec![fixed(SSE, None), fixed(SSE_C, Some("AES256")), fixed(KEY_ID, None)],
            },
        ));
    }
    kinds
}

fn kms_uploads(policy: Option<&Policy>, facts: &PolicyFacts) -> Outcome {
    let kinds = upload_kinds(facts);
    let class = uploads(kinds.iter().map(|(_, v)| v.clone()).collect());
    let analysis = analyze(policy, &facts.target, &class);
    let failing = |u: Upload| analysis.gaps.iter().any(|g| kinds[g.variant].0 == u);
    // The fix: deny every non-KMS header. When the default is not KMS the same statement
    // also denies a missing header and SSE-C (no SSE header either); with a KMS default a
    // missing header must stay allowed, so only a present one is denied and SSE-C needs
    // its own statement.
    let kms_default = facts.default_sse.is_kms();
    let mut statements = Vec::new();
    if kms_default {
        if failing(Upload::ExplicitAes256) {
            statements.push(remediation::deny_non_kms_uploads(&facts.target, true));
        }
        if failing(Upload::SseC) {
            statements.push(remediation::deny_sse_c_uploads(&facts.target));
        }
    } else if failing(Upload::ExplicitAes256) || failing(Upload::NoHeader) {
        statements.push(remediation::deny_non_kms_uploads(&facts.target, false));
    } else if failing(Upload::SseC) {
        statements.push(remediation::deny_sse_c_uploads(&facts.target));
    }
    let mut outcome = verdict(
        POL_003,
        "every upload that would not be stored with SSE-KMS",
        "every upload that would not be KMS-encrypted is denied",
        policy,
        facts,
        &class,
        &analysis,
        &statements,
    );
    // Unknown facts were assumed unfavourable (no KMS default, SSE-C not blocked); a fail
    // that rests only on them is not a fact about the policy.
    if outcome.status == Status::Fail {
        let only_unknown = analysis.gaps.iter().all(|g| match kinds[g.variant].0 {
            Upload::NoHeader => facts.default_sse == DefaultSse::Unknown,
            Upload::SseC => facts.sse_c_blocked.is_none(),
            Upload::ExplicitAes256 => false,
        });
        if only_unknown {
            outcome.status = Status::Error;
            outcome.message = format!(
                "the verdict depends on the bucket's default encryption, which could not be read: {}",
                outcome.message
            );
            outcome.remediation = None;
            outcome.merged_policy = None;
            outcome.fix_statements.clear();
        }
    }
    outcome
}

/// Every reference a list of keys is known by: each entry, plus the bare key id of a key
/// ARN (the same key, named the short way). In list order, without repeats (checked with a
/// set: the list can be hundreds of keys long).
fn expand_key_refs(keys: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for k in keys {
        let mut push = |s: String| {
            if !s.is_empty() && seen.insert(s.clone()) {
                out.push(s);
            }
        };
        push(k.clone());
        if k.starts_with("arn:")
            && let Some((_, id)) = k.rsplit_once(":key/")
        {
            push(id.to_string());
        }
    }
    out
}

/// POL-004's class: KMS uploads naming a key outside the allowed list, or none; `Err`
/// with the verdict when there is no list to pin to.
fn pinning(facts: &PolicyFacts) -> Result<(&'static str, Vec<String>, RequestClass), Box<Outcome>> {
    let (source, allowed) = if !facts.allowed_keys.is_empty() {
        (
            "the configured allowed keys",
            expand_key_refs(&facts.allowed_keys),
        )
    } else if facts.default_sse.is_kms() && !facts.default_key.is_empty() {
        (
            "the bucket's default KMS key",
            expand_key_refs(&facts.default_key),
        )
    } else {
        // Nothing configured: the keys the policy itself pins uploads to, if any (see
        // `pinned_by_policy`).
        (
            "the keys the policy names",
            expand_key_refs(&facts.policy_pins),
        )
    };
    let aws_managed_allowed = allowed
        .iter()
        .any(|k| k == "alias/aws/s3" || k.ends_with(":alias/aws/s3"));
    let mut variants = Vec::new();
    for header in ["aws:kms", "aws:kms:dsse"] {
        variants.push(Variant {
            label: format!("an upload with {header} naming a key outside {source}"),
            keys: vec![
                fixed(SSE, Some(header)),
                fixed(SSE_C, None),
                (
                    KEY_ID.to_string(),
                    KeyDomain::AnyExcept(allowed.iter().cloned().collect()),
                ),
            ],
        });
        if !aws_managed_allowed {
            variants.push(Variant {
                label: format!("an upload with {header} and no key id (S3 then uses the AWS managed key aws/s3)"),
                keys: vec![fixed(SSE, Some(header)), fixed(SSE_C, None), fixed(KEY_ID, None)],
            });
        }
    }
    Ok((source, allowed, uploads(variants)))
}

/// Stands for the key ARN a POL-004 fix needs when none is known (only an alias or a
/// bare key id was given): the user fills it in.
pub const KEY_ARN_PLACEHOLDER: &str = "arn:aws:kms:REGION:ACCOUNT:key/KEY_ID";

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`: what the key-id condition key is compared with.
fn is_key_arn(k: &str) -> bool {
    k.starts_with("arn:") && k.split(':').nth(2) == Some("kms") && k.contains(":key/")
}

/// The key ids a policy's Deny statements test uploads against with a negated string or
/// ARN operator (`StringNotEquals s3:x-amz-server-side-encryption-aws-kms-key-id [...]`):
/// the candidates it may pin uploads to. Whether it really does is then proven by the
/// analyser like any configured list; values with wildcards pin to no specific key and are
/// left out, so a pattern-wide pin is judged as not pinned.
pub fn policy_key_pins(policy: Option<&Policy>) -> Vec<String> {
    let mut pins: Vec<String> = Vec::new();
    let Some(policy) = policy else {
        return pins;
    };
    let key_lc = KEY_ID.to_lowercase();
    for s in policy
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Deny)
    {
        for c in s.conditions.iter().filter(|c| c.key_lc == key_lc) {
            let negated = matches!(
                c.op.base,
                Base::Str { negated: true, .. } | Base::Arn { negated: true }
            );
            if !negated {
                continue;
            }
            for text in c.values.iter().filter_map(|v| v.text()) {
                if !text.is_empty() && !text.contains(['*', '?']) && !pins.contains(&text) {
                    pins.push(text);
                }
            }
        }
    }
    pins
}

/// Whether any KMS upload can succeed at all: `false` when every upload with `aws:kms` or
/// `aws:kms:dsse`, naming any key or none, is denied (POL-004 then has nothing to pin).
fn kms_uploads_possible(policy: Option<&Policy>, facts: &PolicyFacts) -> bool {
    let variants = ["aws:kms", "aws:kms:dsse"]
        .into_iter()
        .flat_map(|header| {
            [
                Variant {
                    label: format!("an upload with {header} naming any key"),
                    keys: vec![
                        fixed(SSE, Some(header)),
                        fixed(SSE_C, None),
                        (KEY_ID.to_string(), KeyDomain::AnyExcept(Default::default())),
                    ],
                },
                Variant {
                    label: format!("an upload with {header} and no key id"),
                    keys: vec![
                        fixed(SSE, Some(header)),
                        fixed(SSE_C, None),
                        fixed(KEY_ID, None),
                    ],
                },
            ]
        })
        .collect();
    !analyze(policy, &facts.target, &uploads(variants)).passed()
}

fn pinned_keys(policy: Option<&Policy>, facts: &PolicyFacts) -> Outcome {
    let configured = !facts.allowed_keys.is_empty()
        || (facts.default_sse.is_kms() && !facts.default_key.is_empty());
    let mut facts = facts.clone();
    if !configured {
        if !kms_uploads_possible(policy, &facts) {
            return Outcome::new(
                POL_004,
                Status::NotApplicable,
                "no KMS upload can succeed under this policy, so there is nothing to pin",
                json!({"allowed_keys": [], "default_sse": facts.default_sse.as_str()}),
            );
        }
        facts.policy_pins = policy_key_pins(policy);
    }
    let facts = &facts;
    let (source, allowed, class) = match pinning(facts) {
        Ok(p) => p,
        Err(outcome) => return *outcome,
    };
    let analysis = analyze(policy, &facts.target, &class);
    // The key-id condition key carries the key ARN, never an alias: the fix pins by ARN
    // only (an alias in the list is left out, and a list without any ARN gets a
    // placeholder the user must fill in).
    let arns: Vec<String> = {
        let primary: Vec<String> = if !facts.allowed_keys.is_empty() {
            facts.allowed_keys.clone()
        } else if configured {
            facts.default_key.clone()
        } else {
            // Nothing to pin to but what the policy names: the fix pins to those keys,
            // or, when it names none, to a placeholder the user must fill in.
            facts.policy_pins.clone()
        };
        let arns: Vec<String> = primary.into_iter().filter(|k| is_key_arn(k)).collect();
        if arns.is_empty() {
            vec![KEY_ARN_PLACEHOLDER.to_string()]
        } else {
            arns
        }
    };
    let statements = [remediation::deny_unlisted_kms_keys(&facts.target, &arns)];
    let mut outcome = verdict(
        POL_004,
        &format!("every KMS upload naming a key outside {source}"),
        &format!("every KMS upload naming a key outside {source} is denied"),
        policy,
        facts,
        &class,
        &analysis,
        &statements,
    );
    if let Value::Object(map) = &mut outcome.evidence {
        map.insert("allowed_keys".to_string(), json!(allowed));
        map.insert("keys_from".to_string(), json!(source));
    }
    if !configured && outcome.status == Status::Pass {
        outcome.message = format!(
            "KMS uploads are pinned to the keys the policy names: {}",
            facts.policy_pins.join(", ")
        );
    }
    if !configured && outcome.status == Status::Fail && facts.policy_pins.is_empty() {
        outcome.message = format!(
            "uploads may use any KMS key, including another account's or the AWS managed aws/s3: {}",
            outcome.message
        );
    }
    outcome
}

/// Turns an analysis into a verdict: pass with the statements that deny, or fail with the
/// first request that gets through and the remediation.
#[allow(clippy::too_many_arguments)]
fn verdict(
    rule: &'static str,
    question: &str,
    pass_message: &str,
    policy: Option<&Policy>,
    facts: &PolicyFacts,
    class: &RequestClass,
    analysis: &Analysis,
    statements: &[Json],
) -> Outcome {
    let mut evidence = json!({
        "question": format!("is {question} denied by an explicit Deny?"),
        "policy": if policy.is_some() { "present" } else { "absent" },
        "checked": analysis.checked,
        "not_denied": analysis.gaps.len(),
        "denied_by": analysis.covered_by,
    });
    if analysis.passed() {
        let by = if analysis.covered_by.is_empty() {
            String::new()
        } else {
            format!(" (by {})", analysis.covered_by.join(", "))
        };
        return Outcome::new(rule, Status::Pass, format!("{pass_message}{by}"), evidence);
    }
    let mut actions: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for g in &analysis.gaps {
        let kind = match g.kind {
            ResourceKind::Bucket => "bucket",
            ResourceKind::Object => "object",
        };
        let a = format!("{} on the {kind}", g.action);
        if !actions.contains(&a) {
            actions.push(a);
        }
        let l = &class.variants[g.variant].label;
        if !labels.contains(l) {
            labels.push(l.clone());
        }
    }
    let gap = analysis
        .gaps
        .iter()
        .find(|g| g.witness.is_some())
        .unwrap_or(&analysis.gaps[0]);
    let map = evidence.as_object_mut().expect("built as an object");
    map.insert("not_denied_requests".into(), json!(labels));
    const SHOWN: usize = 25;
    map.insert(
        "not_denied_actions".into(),
        json!(actions.iter().take(SHOWN).collect::<Vec<_>>()),
    );
    if actions.len() > SHOWN {
        map.insert(
            "not_denied_actions_more".into(),
            json!(actions.len() - SHOWN),
        );
    }
    map.insert("why".into(), json!(&*gap.reasons));
    let scope = format!(
        "{} of {} request kinds not denied",
        analysis.gaps.len(),
        analysis.checked
    );
    let label = &class.variants[gap.variant].label;
    let message = match &gap.witness {
        Some(w) => {
            map.insert("counterexample".into(), w.to_json());
            let cause = if policy.is_none() {
                "the bucket has no policy".to_string()
            } else if gap.reasons.is_empty() {
                format!("no Deny statement applies to {}", gap.action)
            } else {
                gap.reasons.join("; ")
            };
            let which = if class.variants.len() > 1 {
                format!(" ({label})")
            } else {
                String::new()
            };
            format!("{} gets through{which}: {cause} ({scope})", w.describe())
        }
        None => {
            map.insert("counterexample".into(), Value::Null);
            format!(
                "not proven that {question} is denied: no single Deny statement covers {label} for {} on the {} ({}); they may deny it together, but s3audit only relies on a Deny it can prove on its own ({scope} for certain)",
                gap.action,
                match gap.kind {
                    ResourceKind::Bucket => "bucket",
                    ResourceKind::Object => "objects",
                },
                gap.reasons.join("; ")
            )
        }
    };
    let mut outcome = Outcome::new(rule, Status::Fail, message, evidence);
    let current = policy.map(|p| &p.json);
    outcome.remediation = Some(remediation::remediation_text(
        &facts.target,
        current,
        statements,
    ));
    outcome.merged_policy = Some(remediation::merge(current, statements).to_pretty());
    outcome.fix_statements = statements.to_vec();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rule: &str, policy: Option<&str>, facts: &PolicyFacts) -> Outcome {
        let p = policy.map(|t| parse_policy(t).unwrap());
        evaluate(rule, p.as_ref(), facts)
    }

    #[test]
    fn no_policy_fails_with_a_counterexample_and_a_fresh_policy() {
        let facts = PolicyFacts::new("b");
        let o = run(POL_001, None, &facts);
        assert_eq!(o.status, Status::Fail);
        assert!(o.message.contains("anonymous s3:GetObject arn:aws:s3:::b/s3audit-probe with aws:SecureTransport=false gets through"), "{}", o.message);
        assert!(
            o.message.contains("the bucket has no policy"),
            "{}",
            o.message
        );
        let rem = o.remediation.unwrap();
        assert!(
            rem.contains("S3AuditDenyInsecureTransport") && rem.contains("(the bucket has none)"),
            "{rem}"
        );
    }

    #[test]
    fn remediations_make_every_rule_pass() {
        for default_sse in [DefaultSse::None, DefaultSse::SseS3, DefaultSse::SseKms] {
            for blocked in [Some(false), Some(true)] {
                let mut facts = PolicyFacts::new("b");
                facts.default_sse = default_sse;
                facts.sse_c_blocked = blocked;
                facts.allowed_keys = vec!["arn:aws:kms:us-east-1:111122223333:key/abc".into()];
                let mut policy: Option<String> = Some(
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#.into(),
                );
                for rule in [POL_001, POL_002, POL_003, POL_004] {
                    let o = run(rule, policy.as_deref(), &facts);
                    assert_eq!(o.status, Status::Fail, "{rule}: {}", o.message);
                    assert!(o.remediation.is_some());
                    let merged = o.merged_policy.unwrap();
                    let merged = merged.as_str();
                    let again = run(rule, Some(merged), &facts);
                    assert_eq!(
                        again.status,
                        Status::Pass,
                        "{rule} {default_sse:?} {blocked:?}: {}\n{merged}",
                        again.message
                    );
                    policy = Some(merged.to_string());
                }
                // Every fix applied in turn: everything holds, and uploads with the
                // allowed key and reads over TLS still get through.
                for rule in RULE_IDS {
                    let o = run(rule, policy.as_deref(), &facts);
                    assert_eq!(o.status, Status::Pass, "{rule}: {}", o.message);
                }
            }
        }
    }

    #[test]
    fn contradicting_upload_statements_are_a_lockout() {
        let facts = PolicyFacts::new("b");
        let aes_only = r#"{"Sid":"AesOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}}"#;
        let header_required = r#"{"Sid":"HeaderRequired","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}"#;
        let kms_only = r#"{"Sid":"KmsOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}"#;
        let doc = |stmts: &[&str]| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
                stmts.join(",")
            )
        };
        // The classic AES256 policy alone leaves AES256 uploads possible.
        let o = run(POL_005, Some(&doc(&[aes_only, header_required])), &facts);
        assert_eq!(o.status, Status::Pass, "{}", o.message);
        // Adding "aws:kms only" beside it refuses every upload: POL-003 passes, POL-005
        // names the lockout.
        let locked = doc(&[aes_only, header_required, kms_only]);
        assert_eq!(run(POL_003, Some(&locked), &facts).status, Status::Pass);
        let o = run(POL_005, Some(&locked), &facts);
        assert_eq!(o.status, Status::Fail, "{}", o.message);
        assert!(o.message.contains("every upload"), "{}", o.message);
        assert!(
            o.message.contains("\"AesOnly\"") && o.message.contains("\"KmsOnly\""),
            "{}",
            o.message
        );
        // A policy that refuses every read.
        let no_reads = r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
        let o = run(POL_005, Some(&doc(&[no_reads])), &facts);
        assert_eq!(o.status, Status::Fail, "{}", o.message);
        assert!(o.message.contains("every read"), "{}", o.message);
        // TLS-only is no lockout.
        let tls_only = r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#;
        assert_eq!(
            run(POL_005, Some(&doc(&[tls_only])), &facts).status,
            Status::Pass
        );
    }

    #[test]
    fn with_a_kms_default_the_remediation_keeps_uploads_without_a_header() {
        use super::super::analyze::{Request, Requester};
        let mut facts = PolicyFacts::new("b");
        facts.default_sse = DefaultSse::SseKms;
        facts.default_key = vec!["arn:aws:kms:us-east-1:111122223333:key/k1".into()];
        let o = run(POL_003, None, &facts);
        let merged = parse_policy(&o.merged_policy.unwrap()).unwrap();
        let upload = |sse: Option<&str>, ssec: Option<&str>| Request {
            principal: Requester::Anonymous,
            action: "s3:PutObject".into(),
            resource: "arn:aws:s3:::b/k".into(),
            context: vec![
                (
                    "s3:x-amz-server-side-encryption".into(),
                    sse.map(str::to_string),
                ),
                (
                    "s3:x-amz-server-side-encryption-customer-algorithm".into(),
                    ssec.map(str::to_string),
                ),
            ],
            quiet: Vec::new(),
        };
        use super::super::analyze::denied;
        use super::super::condition::Tv;
        assert_eq!(denied(Some(&merged), &upload(None, None)), Tv::False);
        assert_eq!(
            denied(Some(&merged), &upload(Some("aws:kms"), None)),
            Tv::False
        );
        assert_eq!(
            denied(Some(&merged), &upload(Some("AES256"), None)),
            Tv::True
        );
        assert_eq!(
            denied(Some(&merged), &upload(None, Some("AES256"))),
            Tv::True
        );
    }

    #[test]
    fn key_references_keep_order_and_drop_repeats() {
        let keys: Vec<String> = (0..600)
            .map(|i| format!("arn:aws:kms:us-east-1:111122223333:key/k{}", i % 500))
            .chain(["k7".to_string(), "alias/x".to_string(), String::new()])
            .collect();
        let refs = expand_key_refs(&keys);
        // Each of the 500 distinct ARNs, each followed by its key id; then the alias.
        assert_eq!(refs.len(), 1001);
        assert_eq!(refs[0], "arn:aws:kms:us-east-1:111122223333:key/k0");
        assert_eq!(refs[1], "k0");
        assert_eq!(refs[999], "k499");
        assert_eq!(refs[1000], "alias/x");
        let mut facts = PolicyFacts::new("b");
        facts.allowed_keys = keys;
        let (_, allowed, class) = pinning(&facts).unwrap();
        assert_eq!(allowed, refs);
        let KeyDomain::AnyExcept(except) = &class.variants[0].keys[2].1 else {
            panic!("the key id is any value outside the list")
        };
        assert_eq!(except.len(), 1001);
    }

    #[test]
    fn pol_004_without_configured_keys_asks_whether_the_policy_pins_uploads() {
        const K: &str =
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let mut unknown_default = PolicyFacts::new("b");
        unknown_default.default_sse = DefaultSse::Unknown;
        for facts in [PolicyFacts::new("b"), unknown_default] {
            // No policy: any key, a foreign one or aws/s3, is accepted.
            let o = run(POL_004, None, &facts);
            assert_eq!(o.status, Status::Fail, "{}", o.message);
            assert!(o.message.contains("may use any KMS key"), "{}", o.message);
            // Pinned to one key by ARN: pass, naming it.
            let pinned = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{{"StringEquals":{{"s3:x-amz-server-side-encryption":["aws:kms","aws:kms:dsse"]}},"StringNotEquals":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{K}"}}}}}}]}}"#
            );
            let o = run(POL_004, Some(&pinned), &facts);
            assert_eq!(o.status, Status::Pass, "{}", o.message);
            assert!(o.message.contains(K), "{}", o.message);
            // Only "some KMS key" required: any key still passes the policy.
            let any_kms = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]}"#;
            let o = run(POL_004, Some(any_kms), &facts);
            assert_eq!(o.status, Status::Fail, "{}", o.message);
            // No KMS upload can succeed at all: nothing to pin.
            let no_kms = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"s3:x-amz-server-side-encryption":"aws:kms*"}}}]}"#;
            assert_eq!(
                run(POL_004, Some(no_kms), &facts).status,
                Status::NotApplicable
            );
        }
    }

    #[test]
    fn invalid_policies_are_errors_for_every_rule() {
        let outcomes = evaluate_all(Some("{not json"), &PolicyFacts::new("b"));
        assert_eq!(outcomes.len(), RULE_IDS.len());
        assert!(
            outcomes
                .iter()
                .all(|o| o.status == Status::Error && o.message.contains("not valid JSON"))
        );
    }
}
