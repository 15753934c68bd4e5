//! Resource control policies: is TLS-only access (and a TLS floor) enforced for every S3
//! bucket of an account by the RCPs attached along root → OU → account?
//!
//! AWS evaluates every RCP that applies to the account, at every level of the path, and
//! an explicit Deny in any of them denies the request (AWS Organizations User Guide,
//! "Resource control policies"; IAM User Guide, "Policy evaluation logic"). So the chain
//! is one set of Deny statements, judged by the same rules as a bucket policy, with
//! one difference: the class spans every bucket of the account, whatever its name
//! ([`Target::every_bucket`]), so a statement only counts when its resources cover every
//! bucket and object ARN. Conditions the analyser cannot decide narrow a Deny and never
//! make a pass, exactly as for POL-001 and POL-002 on a bucket policy.

use s3audit_policy::{Policy, PolicyError, Target, parse_policy};

use super::{POL_001, POL_002, PolicyFacts, evaluate};
use crate::model::evidence::{RcpCredit, RcpRef};
use crate::model::{Evidence, Observed, RcpChain, RuleId, Status};
use crate::rules::{RuleContext, Verdict};

/// The rules an RCP chain is judged on: TLS-only (POL-001) and the TLS floor (POL-002).
pub const RCP_RULES: [RuleId; 2] = [POL_001, POL_002];

/// One document of the chain that is not a valid policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {error}")]
pub struct InvalidRcp {
    pub name: String,
    pub error: PolicyError,
}

/// Judges the RCPs attached along the path to an account (`documents` as
/// `(name, text)`, root first; the order does not change the verdicts, only which
/// document the remediation is merged into: the first). `account` fixes
/// `aws:ResourceAccount` when known.
pub fn evaluate_rcps(
    documents: &[(String, String)],
    account: Option<&str>,
) -> Result<Vec<(RuleId, Verdict)>, InvalidRcp> {
    let mut chain: Option<Policy> = None;
    for (name, text) in documents {
        let policy = parse_policy(text).map_err(|error| InvalidRcp {
            name: name.clone(),
            error,
        })?;
        match &mut chain {
            None => chain = Some(policy),
            Some(c) => c.statements.extend(policy.statements),
        }
    }
    let mut facts = PolicyFacts::new("any-bucket");
    facts.target = Target::every_bucket(account);
    Ok(RCP_RULES
        .iter()
        .map(|&rule| (rule, evaluate(rule, chain.as_ref(), &facts)))
        .collect())
}

/// The verdicts of an account's chain, judged once per account and evaluation.
pub(in crate::rules) type Judged = Result<Vec<(RuleId, Verdict)>, InvalidRcp>;

/// Judges a chain read from Organizations (every policy, AWS-managed ones included: an
/// Allow denies nothing, so `RCPFullAWSAccess` changes no verdict).
pub(in crate::rules) fn judge_chain(chain: &RcpChain, account: &str) -> Judged {
    let documents: Vec<(String, String)> = chain
        .policies
        .iter()
        .map(|p| (format!("{} ({})", p.id, p.attached_to), p.content.clone()))
        .collect();
    evaluate_rcps(&documents, Some(account))
}

/// POL-001/002 of a bucket with its account's RCPs taken into account. A bucket whose
/// policy does not pass (fails, or could not be read or parsed) passes when the account's
/// RCPs deny the class for every principal, action and bucket of the account: AWS applies
/// an RCP's Deny whatever the bucket policy says. Anything less (some actions, some
/// buckets, a condition that lets requests without the key through, RCPs not read) gives
/// no credit, and the bucket's verdict says why.
pub(in crate::rules) fn with_rcps(rule: RuleId, bucket: Verdict, ctx: &RuleContext) -> Verdict {
    if !RCP_RULES.contains(&rule) || bucket.status == Status::Pass {
        return bucket;
    }
    let Some(account) = ctx.estate.account_of(ctx.bucket) else {
        return bucket;
    };
    let Some(rcps) = ctx
        .estate
        .scan
        .accounts
        .iter()
        .find(|a| a.id.as_deref() == Some(account.as_str()))
        .and_then(|a| a.rcps.as_ref())
    else {
        return bucket;
    };
    let chain = match rcps {
        Observed::Present(chain) => chain,
        Observed::Absent => return bucket,
        Observed::Denied { reason } | Observed::Failed { reason } => {
            return noted(
                bucket,
                &format!(
                    "the account's RCPs could not be read ({reason}): the bucket policy alone was judged"
                ),
            );
        }
    };
    if !chain.enabled {
        return noted(
            bucket,
            "no RCP applies: RCPs are not enabled in the organization",
        );
    }
    let judged = ctx.rcp_verdicts(&account, chain);
    // Named in the message: the customer's own RCPs (the AWS-managed Allow attached
    // everywhere denies nothing; the evidence lists it with the rest).
    let own: Vec<String> = chain
        .policies
        .iter()
        .filter(|p| !p.aws_managed)
        .map(|p| {
            format!(
                "{} at {}",
                p.name.as_deref().unwrap_or(&p.id),
                p.attached_to
            )
        })
        .collect();
    if own.is_empty() {
        return noted(
            bucket,
            "the account's RCPs give no credit: only AWS-managed ones apply, which deny nothing",
        );
    }
    let names = own.join(", ");
    let verdict = match judged.as_ref() {
        Err(invalid) => {
            return noted(
                bucket,
                &format!("the account's RCPs give no credit: {invalid}"),
            );
        }
        Ok(verdicts) => match verdicts.iter().find(|(r, _)| *r == rule) {
            Some((_, v)) => v,
            None => return bucket,
        },
    };
    if verdict.status != Status::Pass {
        return noted(
            bucket,
            &format!(
                "the account's RCPs ({names}) give no credit: {}",
                verdict.message
            ),
        );
    }
    let Evidence::PolicyAnalysis(analysis) = &*verdict.evidence else {
        return bucket;
    };
    Verdict::pass(format!(
        "enforced for every bucket of account {account} by its RCPs ({names}): {}; the bucket policy alone: {}",
        verdict.message, bucket.message
    ))
    .with_evidence(RcpCredit {
        account: account.clone(),
        policies: chain
            .policies
            .iter()
            .map(|p| RcpRef {
                id: p.id.clone(),
                name: p.name.clone(),
                attached_to: p.attached_to.clone(),
            })
            .collect(),
        analysis: analysis.clone(),
    })
}

/// The bucket's verdict with what the RCPs add to it.
fn noted(mut verdict: Verdict, note: &str) -> Verdict {
    verdict.message = format!("{}; {note}", verdict.message);
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn doc(statement: &str) -> (String, String) {
        (
            "rcp.json".to_string(),
            format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#),
        )
    }

    const TLS: &str = r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"BoolIfExists":{"aws:SecureTransport":"false"}}}"#;

    #[test]
    fn the_published_statement_enforces_tls_for_every_bucket() {
        let out = evaluate_rcps(&[doc(TLS)], None).unwrap();
        assert_eq!(out[0].1.status, Status::Pass, "{}", out[0].1.message);
        assert_eq!(out[1].1.status, Status::Fail);
    }

    #[test]
    fn a_statement_for_some_buckets_does_not_cover_the_account() {
        // Even one whose pattern happens to match the stand-in bucket name.
        for resource in [
            "arn:aws:s3:::prod-*",
            "arn:aws:s3:::any-*",
            "arn:aws:s3:::*/*",
        ] {
            let statement =
                TLS.replace(r#""Resource":"*""#, &format!(r#""Resource":"{resource}""#));
            let out = evaluate_rcps(&[doc(&statement)], None).unwrap();
            assert_eq!(
                out[0].1.status,
                Status::Fail,
                "{resource}: {}",
                out[0].1.message
            );
        }
    }

    #[test]
    fn an_invalid_document_is_named() {
        let e = evaluate_rcps(&[doc(TLS), ("ou.json".into(), "{".into())], None).unwrap_err();
        assert_eq!(e.name, "ou.json");
    }
}
