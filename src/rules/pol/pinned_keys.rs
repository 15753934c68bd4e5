//! POL-004: KMS uploads are pinned to specific keys. The keys are the configured allowed
//! list, else the bucket's default KMS key, else (nothing configured) the keys the policy
//! itself names in negated key-id conditions, which must then really pin every KMS
//! upload. Denied must be every upload with `aws:kms` or `aws:kms:dsse` naming a key
//! outside the list, and one naming no key id, since S3 then uses the AWS managed key
//! `aws/s3` (S3 API reference, PutObject), unless `aws/s3` is itself allowed. A policy
//! that only requires `aws:kms` is satisfied by any key, another account's included: a
//! fail. Not applicable only when no KMS upload can succeed at all.

use std::collections::HashSet;

use s3audit_policy::classes::{self, KEY_ID};
use s3audit_policy::questions::pinned_values;
use s3audit_policy::{Policy, analyze, remediation};

use super::PolicyFacts;
use super::explain::{Question, verdict};
use crate::model::evidence::NothingToPin;
use crate::model::{Evidence, Status};
use crate::rules::Verdict;

/// Stands for the key ARN a POL-004 fix needs when none is known (only an alias or a
/// bare key id was given): the user fills it in. It is in the bucket's partition, since a
/// key of another partition can never encrypt its objects (a China bucket's fix says
/// `arn:aws-cn:kms:REGION:ACCOUNT:key/KEY_ID`).
pub fn key_arn_placeholder(partition: &str) -> String {
    format!("arn:{partition}:kms:REGION:ACCOUNT:key/KEY_ID")
}

/// Every reference a list of keys is known by: each entry, plus the bare key id of a key
/// ARN (the same key, named the short way). In list order, without repeats (checked with a
/// set: the list can be hundreds of keys long).
fn expand_key_refs(keys: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
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

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`: what the key-id condition key is compared with.
fn is_key_arn(k: &str) -> bool {
    k.starts_with("arn:") && k.split(':').nth(2) == Some("kms") && k.contains(":key/")
}

/// Where the keys come from and every reference of each.
struct Pins {
    source: &'static str,
    /// The keys as given (configured, default, or named by the policy).
    keys: Vec<String>,
    /// `keys` with every other name of each.
    references: Vec<String>,
    configured: bool,
}

fn pins(policy: Option<&Policy>, facts: &PolicyFacts) -> Pins {
    let (source, keys, configured) = if !facts.allowed_keys.is_empty() {
        (
            "the configured allowed keys",
            facts.allowed_keys.clone(),
            true,
        )
    } else if facts.default_sse.is_kms() && !facts.default_key.is_empty() {
        (
            "the bucket's default KMS key",
            facts.default_key.clone(),
            true,
        )
    } else {
        (
            "the keys the policy names",
            pinned_values(policy, KEY_ID),
            false,
        )
    };
    Pins {
        source,
        references: expand_key_refs(&keys),
        keys,
        configured,
    }
}

pub(super) fn check(policy: Option<&Policy>, facts: &PolicyFacts) -> Verdict {
    let pins = pins(policy, facts);
    if !pins.configured && analyze(policy, &facts.target, &classes::any_kms_upload()).passed() {
        return Verdict::not_applicable(
            "no KMS upload can succeed under this policy, so there is nothing to pin",
        )
        .with_evidence(NothingToPin {
            allowed_keys: Vec::new(),
            default_sse: facts.default_sse.as_str().to_string(),
        });
    }
    let class = classes::unpinned_kms_uploads(&pins.references, pins.source);
    let analysis = analyze(policy, &facts.target, &class);
    // The key-id condition key carries the key ARN, never an alias: the fix pins by ARN
    // only (an alias in the list is left out, and a list without any ARN gets a
    // placeholder the user must fill in).
    let mut arns: Vec<String> = pins
        .keys
        .iter()
        .filter(|k| is_key_arn(k))
        .cloned()
        .collect();
    if arns.is_empty() {
        arns.push(key_arn_placeholder(&facts.target.partition));
    }
    let fix = [remediation::deny_unlisted_kms_keys(&facts.target, &arns)];
    let denied = format!("every KMS upload naming a key outside {}", pins.source);
    let pass = format!("{denied} is denied");
    let question = Question {
        denied: &denied,
        pass: &pass,
    };
    let mut verdict = verdict(&question, policy, &facts.target, &class, &analysis, &fix);
    if let Evidence::PolicyAnalysis(analysis) = &mut *verdict.evidence {
        analysis.allowed_keys = Some(pins.references.clone());
        analysis.keys_from = Some(pins.source.to_string());
    }
    if !pins.configured && verdict.status == Status::Pass {
        verdict.message = format!(
            "KMS uploads are pinned to the keys the policy names: {}",
            pins.keys.join(", ")
        );
    }
    if !pins.configured && verdict.status == Status::Fail && pins.keys.is_empty() {
        verdict.message = format!(
            "uploads may use any KMS key, including another account's or the AWS managed aws/s3: {}",
            verdict.message
        );
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3audit_policy::condition::KeyDomain;

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
        let pins = pins(None, &facts);
        let allowed = pins.references;
        let class = classes::unpinned_kms_uploads(&allowed, pins.source);
        assert_eq!(allowed, refs);
        let KeyDomain::AnyExcept(except) = &class.variants[0].keys[2].1 else {
            panic!("the key id is any value outside the list")
        };
        assert_eq!(except.len(), 1001);
    }
}
