//! POL-002: every request over TLS older than 1.2 (`s3:TlsVersion` 1.0 or 1.1, with
//! `aws:SecureTransport` true) is denied, for all principals and all S3 actions.

use s3audit_policy::{Policy, analyze, classes, remediation};

use super::explain::{Question, verdict};
use super::{PolicyFacts, scope};
use crate::rules::Verdict;

pub(super) fn check(policy: Option<&Policy>, facts: &PolicyFacts) -> Verdict {
    let class = classes::outdated_tls();
    let analysis = analyze(policy, &facts.target, &class);
    let fix = [remediation::deny_outdated_tls(&facts.target)];
    let pass = format!(
        "every request over TLS 1.0 or 1.1 is denied: all principals, all S3 actions, {}",
        scope(&facts.target)
    );
    let question = Question {
        denied: "every request over TLS older than 1.2",
        pass: &pass,
    };
    verdict(&question, policy, &facts.target, &class, &analysis, &fix)
}
