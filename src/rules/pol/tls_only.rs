//! POL-001: every request without TLS is denied, for all principals, all S3 actions, the
//! bucket and its objects. On plain HTTP `aws:SecureTransport` is `false` and
//! `s3:TlsVersion` is absent, so a TLS-version floor alone does not refuse HTTP.

use s3audit_policy::{Policy, analyze, classes, remediation};

use super::explain::{Question, verdict};
use super::{PolicyFacts, scope};
use crate::rules::Verdict;

pub(super) fn check(policy: Option<&Policy>, facts: &PolicyFacts) -> Verdict {
    let class = classes::insecure_transport();
    let analysis = analyze(policy, &facts.target, &class);
    let fix = [remediation::deny_insecure_transport(&facts.target)];
    let pass = format!(
        "every request without TLS is denied: all principals, all S3 actions, {}",
        scope(&facts.target)
    );
    let question = Question {
        denied: "every request without TLS",
        pass: &pass,
    };
    verdict(&question, policy, &facts.target, &class, &analysis, &fix)
}
