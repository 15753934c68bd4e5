//! POL-003: no `s3:PutObject` (which also authorizes CopyObject and multipart uploads) can
//! store an object that is not KMS-encrypted: (a) an explicit
//! `x-amz-server-side-encryption: AES256`; (b) no encryption header, when the bucket
//! default is not SSE-KMS/DSSE-KMS (with a KMS default S3 applies it, so (b) needs no
//! deny); (c) SSE-C, unless `BlockedEncryptionTypes` blocks it. Each must be denied.

use s3audit_policy::classes::{self, Upload, UploadDefaults};
use s3audit_policy::{Policy, analyze, remediation};

use super::explain::{Question, verdict};
use super::{DefaultSse, PolicyFacts};
use crate::model::Status;
use crate::rules::Verdict;

pub(super) fn check(policy: Option<&Policy>, facts: &PolicyFacts) -> Verdict {
    // Unknown facts are assumed unfavourable (no KMS default, SSE-C not blocked).
    let kinds = classes::non_kms_uploads(UploadDefaults {
        kms_default: facts.default_sse.is_kms(),
        default_label: facts.default_sse.as_str(),
        sse_c_blocked: facts.sse_c_blocked == Some(true),
    });
    let class = classes::uploads(kinds.iter().map(|(_, v)| v.clone()).collect());
    let analysis = analyze(policy, &facts.target, &class);
    let failing = |u: Upload| analysis.gaps.iter().any(|g| kinds[g.variant].0 == u);
    // The fix: deny every non-KMS header. When the default is not KMS the same statement
    // also denies a missing header and SSE-C (no SSE header either); with a KMS default a
    // missing header must stay allowed, so only a present one is denied and SSE-C needs
    // its own statement.
    let mut fix = Vec::new();
    if facts.default_sse.is_kms() {
        if failing(Upload::ExplicitAes256) {
            fix.push(remediation::deny_non_kms_uploads(&facts.target, true));
        }
        if failing(Upload::SseC) {
            fix.push(remediation::deny_sse_c_uploads(&facts.target));
        }
    } else if failing(Upload::ExplicitAes256) || failing(Upload::NoHeader) {
        fix.push(remediation::deny_non_kms_uploads(&facts.target, false));
    } else if failing(Upload::SseC) {
        fix.push(remediation::deny_sse_c_uploads(&facts.target));
    }
    let question = Question {
        denied: "every upload that would not be stored with SSE-KMS",
        pass: "every upload that would not be KMS-encrypted is denied",
    };
    let verdict = verdict(&question, policy, &facts.target, &class, &analysis, &fix);
    // A fail that rests only on facts that could not be read is not a fact about the
    // policy.
    let only_unknown = analysis.gaps.iter().all(|g| match kinds[g.variant].0 {
        Upload::NoHeader => facts.default_sse == DefaultSse::Unknown,
        Upload::SseC => facts.sse_c_blocked.is_none(),
        Upload::ExplicitAes256 => false,
    });
    if verdict.status == Status::Fail && only_unknown {
        return Verdict::error(format!(
            "the verdict depends on the bucket's default encryption, which could not be read: {}",
            verdict.message
        ))
        .with_evidence(*verdict.evidence);
    }
    verdict
}
