//! Questions about a policy's conditions that do not need a request class.

use super::condition::Base;
use super::document::{Effect, Policy};

/// The values the Deny statements pin a condition key to: every literal value of a
/// negated string or ARN operator on `key` (`StringNotEquals key [a, b]` denies every
/// request whose value is not `a` or `b`). Candidates only: whether the policy really
/// refuses everything else for a class of requests is for [`crate::analyze`] to prove.
/// Values with wildcards pin to no specific value and are left out, so a pattern-wide pin
/// is judged as no pin. In policy order, without repeats.
pub fn pinned_values(policy: Option<&Policy>, key: &str) -> Vec<String> {
    let mut pins: Vec<String> = Vec::new();
    let Some(policy) = policy else {
        return pins;
    };
    let key_lc = key.to_lowercase();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_policy;

    #[test]
    fn only_literal_values_of_negated_operators_in_denies_pin() {
        let p = parse_policy(
            r#"{"Statement":[
            {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"StringNotEquals":{"S3:X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id":["k1","k2*"]}}},
            {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"StringEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"k3"}}},
            {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"k4"}}},
            {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"ArnNotLike":{"s3:x-amz-server-side-encryption-aws-kms-key-id":["k5","k1"]}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            pinned_values(Some(&p), crate::classes::KEY_ID),
            ["k1", "k5"]
        );
        assert!(pinned_values(None, crate::classes::KEY_ID).is_empty());
    }
}
