//! KMS-004 and KMS-005 on one key policy, from the engine's answer to "who may use or
//! destroy this key?" ([`s3audit_policy::principals::who_may`]): a key anonymous callers
//! or any account may decrypt with fails KMS-004 (a key shared with principals the policy
//! names passes, naming them); a key someone outside its account may delete, disable or
//! re-policy fails KMS-005.

use s3audit_policy::Policy;
use s3audit_policy::principals::{Access, DESTROY_ACTIONS, Grantee, USE_ACTIONS, who_may};

use crate::model::RuleId;
use crate::model::evidence::{self, KeyPolicy};
use crate::rules::Verdict;

/// KMS-004 and KMS-005 on a key policy's text, or why it could not be judged (not a valid
/// policy).
pub type Judged = Result<Vec<(RuleId, Verdict)>, String>;

/// Parses and judges a key policy: what [`crate::rules::RuleContext::key_policy`] keeps
/// per key.
pub fn judge(text: &str, key_arn: &str) -> Judged {
    let policy = s3audit_policy::parse_policy(text)
        .map_err(|e| format!("the key policy is not a valid policy: {e}"))?;
    Ok(key_policy_verdicts(&policy, key_arn))
}

pub const KMS_004: RuleId = RuleId::Kms004;
pub const KMS_005: RuleId = RuleId::Kms005;

/// The verdicts of KMS-004 (no use of the key by anonymous callers or any account) and
/// KMS-005 (no one outside the key's account can make its data unreadable) on one key
/// policy.
pub fn key_policy_verdicts(policy: &Policy, key_arn: &str) -> Vec<(RuleId, Verdict)> {
    let listing = |accesses: &[Access]| -> Vec<evidence::Access> {
        accesses
            .iter()
            .map(|a| evidence::Access {
                who: a.grantee.describe(),
                external: a.grantee.external(),
                actions: a.actions.clone(),
                certain: a.certain,
                example: a.example.clone(),
            })
            .collect()
    };
    let key_evidence = |may_use, may_destroy| KeyPolicy {
        key: key_arn.to_string(),
        default: None,
        objects: None,
        may_use,
        may_destroy,
    };
    let names = |accesses: &[&Access]| -> String {
        accesses
            .iter()
            .map(|a| {
                let may = if a.certain {
                    ""
                } else {
                    " (depending on conditions)"
                };
                format!("{} may {}{may}", a.grantee.describe(), a.actions.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };

    let users = who_may(policy, key_arn, &USE_ACTIONS);
    let open: Vec<&Access> = users
        .iter()
        .filter(|a| matches!(a.grantee, Grantee::Anonymous | Grantee::AnyAccount))
        .collect();
    let shared: Vec<&Access> = users.iter().filter(|a| a.grantee.external()).collect();
    let evidence = key_evidence(Some(listing(&users)), None);
    let use_outcome = if !open.is_empty() {
        Verdict::fail(format!(
            "the key policy lets principals outside the key's account decrypt with it: {} (e.g. {})",
            names(&open),
            open[0].example
        ))
        .with_evidence(evidence)
    } else if shared.is_empty() {
        Verdict::pass("no principal outside the key's account may use the key to decrypt")
            .with_evidence(evidence)
    } else {
        Verdict::pass(format!(
            "the key is shared only with principals the policy names: {}",
            names(&shared)
        ))
        .with_evidence(evidence)
    };

    let destroyers = who_may(policy, key_arn, &DESTROY_ACTIONS);
    let outside: Vec<&Access> = destroyers.iter().filter(|a| a.grantee.external()).collect();
    let inside: Vec<&Access> = destroyers
        .iter()
        .filter(|a| !a.grantee.external())
        .collect();
    let evidence = key_evidence(None, Some(listing(&destroyers)));
    let destroy_outcome = if !outside.is_empty() {
        Verdict::fail(format!(
            "principals outside the key's account can make the data unreadable: {} (e.g. {})",
            names(&outside),
            outside[0].example
        ))
        .with_evidence(evidence)
    } else {
        Verdict::pass(if inside.is_empty() {
            "no principal may delete, disable or re-policy the key".to_string()
        } else {
            format!(
                "only the key's account can delete, disable or re-policy the key: {}",
                names(&inside)
            )
        })
        .with_evidence(evidence)
    };
    vec![(KMS_004, use_outcome), (KMS_005, destroy_outcome)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use s3audit_policy::parse_policy;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn outcomes(statements: &str) -> Vec<Verdict> {
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
        key_policy_verdicts(&parse_policy(&text).unwrap(), KEY)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// KMS's default key policy: the account root may do everything, which delegates to
    /// the account's IAM policies (KMS Developer Guide, "Default key policy").
    const DEFAULT: &str = r#"{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;

    #[test]
    fn the_default_key_policy_keeps_the_key_in_its_account() {
        let o = outcomes(DEFAULT);
        assert_eq!(o[0].status, Status::Pass, "{}", o[0].message);
        assert_eq!(o[1].status, Status::Pass, "{}", o[1].message);
        assert!(o[1].message.contains("root delegation"), "{}", o[1].message);
    }

    #[test]
    fn a_public_key_policy_fails_both() {
        let public = r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}"#;
        let o = outcomes(&format!("{DEFAULT},{public}"));
        assert_eq!(o[0].status, Status::Fail, "{}", o[0].message);
        assert!(o[0].message.contains("anonymous"), "{}", o[0].message);
        assert_eq!(o[1].status, Status::Fail, "{}", o[1].message);
    }

    #[test]
    fn caller_account_and_organization_conditions_are_honoured() {
        // Principal "*" but only callers of the key's own account: no outsider.
        let own = r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}"#;
        let o = outcomes(&format!("{DEFAULT},{own}"));
        assert_eq!(o[0].status, Status::Pass, "{}", o[0].message);
        // Principal "*" within an organization: shared with the organization, named.
        let org = r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}"#;
        let o = outcomes(&format!("{DEFAULT},{org}"));
        assert_eq!(o[0].status, Status::Pass, "{}", o[0].message);
        assert!(
            o[0].message.contains("organization o-abc123"),
            "{}",
            o[0].message
        );
        // Through S3 only, but from any account: still an outsider's decrypt.
        let via = r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"s3.amazonaws.com"}}}"#;
        let o = outcomes(&format!("{DEFAULT},{via}"));
        assert_eq!(o[0].status, Status::Fail, "{}", o[0].message);
    }

    #[test]
    fn a_cross_account_grant_is_named_and_a_foreign_admin_fails() {
        let grant = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/reader"},"Action":["kms:Decrypt","kms:CreateGrant"],"Resource":"*"}"#;
        let o = outcomes(&format!("{DEFAULT},{grant}"));
        assert_eq!(o[0].status, Status::Pass, "{}", o[0].message);
        assert!(
            o[0].message.contains("444455556666:role/reader"),
            "{}",
            o[0].message
        );
        let admin = r#"{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}"#;
        let o = outcomes(&format!("{DEFAULT},{admin}"));
        assert_eq!(o[1].status, Status::Fail, "{}", o[1].message);
        // A Deny for everyone outside the account wins over the Allow.
        let deny = r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}}"#;
        let o = outcomes(&format!("{DEFAULT},{admin},{deny}"));
        assert_eq!(o[1].status, Status::Pass, "{}", o[1].message);
    }
}
