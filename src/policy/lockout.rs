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

use serde_json::json;

use super::analyze::{Analysis, RequestClass, ResourceKind, Variant, analyze};
use super::checks::{KEY_ID, Outcome, POL_005, PolicyFacts, SSE, SSE_C, Status, fixed};
use super::condition::KeyDomain;
use super::document::Policy;

/// Modern TLS: what a well-behaved client sends, so a TLS-only statement is no lockout.
fn tls(version: &str) -> Vec<(String, KeyDomain)> {
    vec![
        fixed("aws:SecureTransport", Some("true")),
        fixed("s3:TlsVersion", Some(version)),
    ]
}

fn upload_class() -> RequestClass {
    let mut variants = Vec::new();
    let mut add = |label: &str, keys: Vec<(String, KeyDomain)>| {
        let mut all = tls("1.2");
        all.extend(keys);
        variants.push(Variant {
            label: label.to_string(),
            keys: all,
        });
    };
    add(
        "an upload without an encryption header",
        vec![fixed(SSE, None), fixed(SSE_C, None), fixed(KEY_ID, None)],
    );
    add(
        "an upload with AES256",
        vec![
            fixed(SSE, Some("AES256")),
            fixed(SSE_C, None),
            fixed(KEY_ID, None),
        ],
    );
    for header in ["aws:kms", "aws:kms:dsse"] {
        add(
            &format!("an upload with {header} naming a key"),
            vec![
                fixed(SSE, Some(header)),
                fixed(SSE_C, None),
                (KEY_ID.to_string(), KeyDomain::AnyExcept(Default::default())),
            ],
        );
        add(
            &format!("an upload with {header} and no key id"),
            vec![
                fixed(SSE, Some(header)),
                fixed(SSE_C, None),
                fixed(KEY_ID, None),
            ],
        );
    }
    add(
        "an SSE-C upload",
        vec![
            fixed(SSE, None),
            fixed(SSE_C, Some("AES256")),
            fixed(KEY_ID, None),
        ],
    );
    RequestClass {
        actions: vec![("s3:PutObject".to_string(), vec![ResourceKind::Object])],
        variants,
    }
}

fn read_class() -> RequestClass {
    RequestClass {
        actions: vec![("s3:GetObject".to_string(), vec![ResourceKind::Object])],
        variants: ["1.2", "1.3"]
            .into_iter()
            .map(|v| Variant {
                label: format!("a read over TLS {v}"),
                keys: tls(v),
            })
            .collect(),
    }
}

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
pub fn lockout(policy: Option<&Policy>, facts: &PolicyFacts) -> Outcome {
    let uploads = possible(&analyze(policy, &facts.target, &upload_class()));
    let reads = possible(&analyze(policy, &facts.target, &read_class()));
    let evidence = |locked: &[String]| {
        json!({
            "question": "can any upload, and any read, over TLS 1.2 or later succeed?",
            "locked_by": locked,
        })
    };
    let locked = match (&uploads, &reads) {
        (Err(by), _) => Some(("upload", "PutObject", by)),
        (_, Err(by)) => Some(("read", "GetObject", by)),
        _ => None,
    };
    if let Some((what, action, by)) = locked {
        let mut o = Outcome::new(
            POL_005,
            Status::Fail,
            format!(
                "the policy locks out every {what}: no s3:{action} over TLS can succeed, whatever its headers ({} deny it between them)",
                by.join(", ")
            ),
            evidence(by),
        );
        o.remediation = Some(format!(
            "Remove or narrow the Deny statements {} so that the {what}s the bucket is for can succeed: they contradict each other (for example one requiring AES256 and one requiring aws:kms). `s3audit check-policy --fix` replaces statements that conflict with s3audit's own.",
            by.join(", ")
        ));
        return o;
    }
    match (uploads, reads) {
        (Ok(Some(upload)), Ok(Some(read))) => Outcome::new(
            POL_005,
            Status::Pass,
            format!("uploads and reads remain possible, e.g. {upload}; {read}"),
            evidence(&[]),
        ),
        _ => Outcome::new(
            POL_005,
            Status::Error,
            "could not decide whether the policy leaves any upload or read possible: no request was proven to get through, nor every request to be denied",
            evidence(&[]),
        ),
    }
}
