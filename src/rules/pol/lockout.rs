//! POL-005: a policy under which no upload, or no read, can ever succeed is a lockout.
//!
//! Fixing one rule by adding a Deny beside an older one can leave statements that refuse
//! everything between them: "deny unless AES256" next to "deny unless aws:kms" denies
//! every upload, and POL-003 ("every non-KMS upload is denied") still passes. So the
//! other question is asked too: is there any upload, and any read, over modern TLS that
//! no Deny matches?
//!
//! The upload class is split into the encryption variants an uploader can send (no
//! header, AES256, aws:kms or aws:kms:dsse with any key or none, SSE-C), so that a lockout
//! made of statements that each refuse some of them is proven one variant at a time. A
//! lockout is reported only when proven; uploads and reads count as possible only with a
//! concrete request that gets through, checked by evaluation; anything in between is an
//! `error`, never a pass.

use s3audit_policy::{Analysis, Policy, analyze, classes};

use super::PolicyFacts;
use crate::model::evidence::Lockout;
use crate::rules::Verdict;

/// What one class says: `Err(statements)` when every request of it is proven denied,
/// `Ok(Some(request))` with one that gets through, `Ok(None)` when neither is known.
fn possible(analysis: &Analysis) -> Result<Option<String>, Vec<String>> {
    if analysis.passed() {
        return Err(analysis.covered_by.clone());
    }
    Ok(analysis
        .gaps
        .iter()
        .find_map(|g| g.witness.as_ref().map(|w| w.describe())))
}

/// POL-005: uploads and reads over modern TLS remain possible.
pub(super) fn check(policy: Option<&Policy>, facts: &PolicyFacts) -> Verdict {
    let uploads = possible(&analyze(policy, &facts.target, &classes::modern_uploads()));
    let reads = possible(&analyze(policy, &facts.target, &classes::modern_reads()));
    let evidence = |locked: &[String]| Lockout {
        question: "can any upload, and any read, over TLS 1.2 or later succeed?".to_string(),
        locked_by: locked.to_vec(),
    };
    let locked = match (&uploads, &reads) {
        (Err(by), _) => Some(("upload", "PutObject", by)),
        (_, Err(by)) => Some(("read", "GetObject", by)),
        _ => None,
    };
    if let Some((what, action, by)) = locked {
        return Verdict::fail(format!(
            "the policy locks out every {what}: no s3:{action} over TLS can succeed, whatever its headers ({} deny it between them)",
            by.join(", ")
        ))
        .with_evidence(evidence(by))
        .with_remediation(format!(
            "Remove or narrow the Deny statements {} so that the {what}s the bucket is for can succeed: they contradict each other (for example one requiring AES256 and one requiring aws:kms). `s3audit check-policy --fix` replaces statements that conflict with s3audit's own.",
            by.join(", ")
        ));
    }
    match (uploads, reads) {
        (Ok(Some(upload)), Ok(Some(read))) => {
            Verdict::pass(format!("uploads and reads remain possible, e.g. {upload}; {read}"))
                .with_evidence(evidence(&[]))
        }
        _ => Verdict::error(
            "could not decide whether the policy leaves any upload or read possible: no request was proven to get through, nor every request to be denied",
        )
        .with_evidence(evidence(&[])),
    }
}
