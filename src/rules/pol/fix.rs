//! `check-policy --fix`: one policy document that resolves every failing POL rule at once.
//!
//! Each rule's remediation alone is merged into the *original* policy, so applying them in
//! turn keeps only the last, and adding "deny unless aws:kms" beside an existing "deny
//! unless AES256" refuses every upload. The fix therefore merges every failing rule's
//! statements into one document (replacing earlier s3audit statements by Sid), then drops
//! the user's own Deny statements that test the encryption headers and refuse the upload
//! the fixed policy exists to allow (SSE-KMS under the pinned key, over TLS 1.2, by the
//! bucket owner's account), and judges the result again before it is printed.

use s3audit_policy::analyze::{Request, Requester, statement_applies};
use s3audit_policy::condition::Tv;
use s3audit_policy::document::Effect;
use s3audit_policy::{Json, PolicyError, Target, parse_policy, remediation};

use super::{PolicyFacts, RULE_IDS, evaluate as evaluate_rule, key_arn_placeholder};
use crate::model::{RuleId, Status};
use crate::rules::Verdict;

/// The fixed document and what was done to get it.
pub struct Fixed {
    /// The policy document (pretty JSON), ready for `put-bucket-policy`.
    pub document: String,
    /// One line per change, and why.
    pub changes: Vec<String>,
    /// Every POL rule judged on the fixed document.
    pub after: Vec<(RuleId, Verdict)>,
}

impl Fixed {
    /// Whether every rule passes (or does not apply) on the fixed document.
    pub fn resolved(&self) -> bool {
        self.after
            .iter()
            .all(|(_, o)| matches!(o.status, Status::Pass | Status::NotApplicable))
    }
}

/// Rounds of "add the failing rules' statements, drop what conflicts": removing a
/// conflicting statement can make a rule fail that it used to satisfy by accident (an
/// "AES256 only" statement also refuses uploads under foreign KMS keys), which the next
/// round fixes. Each round only adds s3audit's statements (replaced by Sid) and only
/// removes the user's, so two rounds settle; the bound is a safeguard.
const MAX_ROUNDS: usize = 4;

/// Fixes `text` (`None`: the bucket has no policy) for the bucket `facts` describe.
pub fn fix(text: Option<&str>, facts: &PolicyFacts) -> Result<Fixed, PolicyError> {
    let original = text.map(parse_policy).transpose()?;
    let mut doc: Option<Json> = original.map(|p| p.json);
    let mut changes = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let current = doc
            .as_ref()
            .map(|d| parse_policy(&d.to_compact()))
            .transpose()?;
        let mut statements: Vec<Json> = Vec::new();
        for rule in RULE_IDS {
            let outcome = evaluate_rule(rule, current.as_ref(), facts);
            if outcome.status != Status::Fail {
                continue;
            }
            for st in outcome.fix {
                changes.push(format!(
                    "added {} for {rule}: {}",
                    sid(&st),
                    first_clause(&outcome.message)
                ));
                statements.push(st);
            }
        }
        if statements.is_empty() {
            break;
        }
        let merged = remediation::merge(doc.as_ref(), &statements);
        let (cleaned, removed) = drop_conflicts(merged, facts)?;
        changes.extend(removed);
        doc = Some(cleaned);
    }
    let document = doc
        .unwrap_or_else(|| remediation::merge(None, &[]))
        .to_pretty();
    let after = evaluate(&document, facts)?;
    for (rule, o) in &after {
        if o.status == Status::Fail {
            changes.push(format!("{rule} still fails: {}", first_clause(&o.message)));
        }
    }
    Ok(Fixed {
        document,
        changes,
        after,
    })
}

fn evaluate(document: &str, facts: &PolicyFacts) -> Result<Vec<(RuleId, Verdict)>, PolicyError> {
    let policy = parse_policy(document)?;
    Ok(RULE_IDS
        .iter()
        .map(|&rule| (rule, evaluate_rule(rule, Some(&policy), facts)))
        .collect())
}

fn sid(statement: &Json) -> String {
    match statement.get("Sid") {
        Some(Json::String(s)) => s.clone(),
        _ => "a statement".to_string(),
    }
}

/// "anonymous s3:PutObject … gets through (which kind)" out of a long fail message: up to
/// the first ": " after "gets through", where the reasons start.
fn first_clause(message: &str) -> &str {
    let from = message.find(" gets through").unwrap_or(0);
    match message[from..].find(": ") {
        Some(i) => &message[..from + i],
        None => message,
    }
}

/// The upload the fixed policy must allow: SSE-KMS under the key uploads are pinned to
/// (if one is known), over TLS 1.2, by a role of the bucket owner's account.
fn intended_upload(facts: &PolicyFacts) -> Request {
    let account = facts
        .target
        .account
        .clone()
        .unwrap_or_else(|| "111122223333".to_string());
    let key = facts
        .allowed_keys
        .iter()
        .chain(&facts.default_key)
        .find(|k| k.starts_with("arn:") && k.contains(":key/"))
        .cloned()
        .unwrap_or_else(|| key_arn_placeholder(&facts.target.partition));
    Request {
        principal: Requester::Iam {
            arn: s3audit_policy::partition::iam_arn(
                &facts.target.partition,
                &account,
                "role/s3audit-fix-probe",
            ),
            account,
        },
        action: "s3:PutObject".to_string(),
        resource: format!("{}s3audit-probe", Target::object_prefix(&facts.target)),
        context: vec![
            ("aws:SecureTransport".to_string(), Some("true".to_string())),
            ("s3:TlsVersion".to_string(), Some("1.2".to_string())),
            (
                "s3:x-amz-server-side-encryption".to_string(),
                Some("aws:kms".to_string()),
            ),
            (
                "s3:x-amz-server-side-encryption-aws-kms-key-id".to_string(),
                Some(key),
            ),
        ],
        quiet: Vec::new(),
    }
}

/// Removes the user's Deny statements that test the encryption headers and refuse the
/// intended upload: they conflict with the fix (an "AES256 only" statement beside "aws:kms
/// only"). Statements about anything else are the user's business and stay.
fn drop_conflicts(doc: Json, facts: &PolicyFacts) -> Result<(Json, Vec<String>), PolicyError> {
    let policy = parse_policy(&doc.to_compact())?;
    let probe = intended_upload(facts);
    let mut drop: Vec<usize> = Vec::new();
    let mut changes = Vec::new();
    for s in &policy.statements {
        let ours = s
            .sid
            .as_deref()
            .is_some_and(|sid| sid.starts_with("S3Audit"));
        let about_encryption = s
            .conditions
            .iter()
            .any(|c| c.key_lc.starts_with("s3:x-amz-server-side-encryption"));
        if s.effect == Effect::Deny
            && !ours
            && about_encryption
            && statement_applies(s, &probe) == Tv::True
        {
            drop.push(s.index);
            changes.push(format!(
                "removed {}: it denies {}, which the fixed policy must allow",
                s.label(),
                probe.describe()
            ));
        }
    }
    if drop.is_empty() {
        return Ok((doc, changes));
    }
    let Json::Object(mut members) = doc else {
        return Ok((doc, changes));
    };
    for (name, value) in members.iter_mut() {
        if name == "Statement"
            && let Json::Array(items) = value
        {
            let kept: Vec<Json> = items
                .drain(..)
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, s)| s)
                .collect();
            *items = kept;
        }
    }
    Ok((Json::Object(members), changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSIC_AES256: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"DenyIncorrectEncryptionHeader","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
        {"Sid":"DenyUnEncryptedObjectUploads","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}},
        {"Sid":"AllowRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;

    #[test]
    fn the_classic_aes256_policy_is_fixed_without_a_lockout() {
        let mut facts = PolicyFacts::new("b");
        facts.allowed_keys = vec!["arn:aws:kms:us-east-1:111122223333:key/k1".into()];
        let fixed = fix(Some(CLASSIC_AES256), &facts).unwrap();
        assert!(fixed.resolved(), "{:#?}\n{}", fixed.after, fixed.document);
        assert!(
            fixed
                .changes
                .iter()
                .any(|c| c.starts_with("removed \"DenyIncorrectEncryptionHeader\"")),
            "{:?}",
            fixed.changes
        );
        // The user's unrelated statements stay.
        assert!(fixed.document.contains("AllowRead"));
        assert!(fixed.document.contains("DenyUnEncryptedObjectUploads"));
        // Pinned by ARN.
        assert!(
            fixed
                .document
                .contains("arn:aws:kms:us-east-1:111122223333:key/k1")
        );
        // Merging each rule's remediation alone into the original is what locked out.
        let policy = parse_policy(CLASSIC_AES256).unwrap();
        let pol3 = evaluate_rule(super::super::POL_003, Some(&policy), &facts);
        let alone = super::super::merged_policy(Some(&policy), &pol3);
        let alone = parse_policy(&alone).unwrap();
        assert_eq!(
            evaluate_rule(super::super::POL_005, Some(&alone), &facts).status,
            Status::Fail
        );
    }

    #[test]
    fn every_rule_is_fixed_at_once_and_a_passing_policy_is_left_alone() {
        let mut facts = PolicyFacts::new("b");
        facts.allowed_keys = vec!["arn:aws:kms:us-east-1:111122223333:key/k1".into()];
        let fixed = fix(None, &facts).unwrap();
        assert!(fixed.resolved(), "{:#?}", fixed.after);
        for sid in [
            "S3AuditDenyInsecureTransport",
            "S3AuditDenyOutdatedTls",
            "S3AuditDenyNonKmsUploads",
            "S3AuditDenyUnlistedKmsKeys",
        ] {
            assert!(fixed.document.contains(sid), "{sid}");
        }
        let again = fix(Some(&fixed.document), &facts).unwrap();
        assert!(again.changes.is_empty(), "{:?}", again.changes);
        assert_eq!(again.document, fixed.document);
    }

    #[test]
    fn without_a_key_arn_the_fix_says_what_is_missing() {
        let mut facts = PolicyFacts::new("b");
        facts.allowed_keys = vec!["alias/my-key".into()];
        let fixed = fix(None, &facts).unwrap();
        assert!(
            fixed.document.contains(&key_arn_placeholder("aws")),
            "{}",
            fixed.document
        );
        assert!(
            !fixed.document.contains("alias/my-key"),
            "{}",
            fixed.document
        );
        // A China bucket's placeholder is a China key ARN, and nothing names `arn:aws:`.
        facts.target.partition = "aws-cn".into();
        let fixed = fix(None, &facts).unwrap();
        assert!(
            fixed
                .document
                .contains("arn:aws-cn:kms:REGION:ACCOUNT:key/KEY_ID"),
            "{}",
            fixed.document
        );
        assert!(!fixed.document.contains("arn:aws:"), "{}", fixed.document);
    }
}
