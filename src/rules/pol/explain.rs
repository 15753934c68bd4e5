//! Turns the engine's answer to "is every request of this class denied?" into a verdict:
//! a pass names the statements that deny, a fail names one concrete request that gets
//! through (or, when the analyser proves no single statement denies it, says so), with the
//! statements that close the gap merged into the current policy.

use s3audit_policy::analyze::ResourceKind;
use s3audit_policy::{Analysis, Json, Policy, RequestClass, Target, remediation};

use crate::model::evidence::{Counterexample, PolicyAnalysis, PolicyPresence};
use crate::rules::Verdict;

/// The question a rule asks, in words, and what a pass says.
pub(super) struct Question<'a> {
    /// "every request without TLS": what must be denied.
    pub denied: &'a str,
    /// The pass message.
    pub pass: &'a str,
}

/// The verdict for `analysis` of `class` under `policy` (`None`: the bucket has none);
/// `statements` are the fix for a fail.
pub(super) fn verdict(
    question: &Question,
    policy: Option<&Policy>,
    target: &Target,
    class: &RequestClass,
    analysis: &Analysis,
    statements: &[Json],
) -> Verdict {
    let mut evidence = PolicyAnalysis {
        question: format!("is {} denied by an explicit Deny?", question.denied),
        policy: if policy.is_some() {
            PolicyPresence::Present
        } else {
            PolicyPresence::Absent
        },
        checked: analysis.checked,
        not_denied: analysis.gaps.len(),
        denied_by: analysis.covered_by.clone(),
        not_denied_requests: None,
        not_denied_actions: None,
        not_denied_actions_more: None,
        why: None,
        counterexample: None,
        allowed_keys: None,
        keys_from: None,
    };
    if analysis.passed() {
        let by = if analysis.covered_by.is_empty() {
            String::new()
        } else {
            format!(" (by {})", analysis.covered_by.join(", "))
        };
        return Verdict::pass(format!("{}{by}", question.pass)).with_evidence(evidence);
    }
    let mut actions: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for g in &analysis.gaps {
        let kind = match g.kind {
            ResourceKind::Bucket => "bucket",
            ResourceKind::Object => "object",
        };
        let a = format!("{} on the {kind}", g.action);
        if !actions.contains(&a) {
            actions.push(a);
        }
        let l = &class.variants[g.variant].label;
        if !labels.contains(l) {
            labels.push(l.clone());
        }
    }
    let gap = analysis
        .gaps
        .iter()
        .find(|g| g.witness.is_some())
        .unwrap_or(&analysis.gaps[0]);
    const SHOWN: usize = 25;
    evidence.not_denied_requests = Some(labels);
    evidence.not_denied_actions = Some(actions.iter().take(SHOWN).cloned().collect());
    evidence.not_denied_actions_more = (actions.len() > SHOWN).then(|| actions.len() - SHOWN);
    evidence.why = Some(gap.reasons.to_vec());
    let scope = format!(
        "{} of {} request kinds not denied",
        analysis.gaps.len(),
        analysis.checked
    );
    let label = &class.variants[gap.variant].label;
    let message = match &gap.witness {
        Some(w) => {
            evidence.counterexample = Some(Some(Counterexample {
                principal: w.principal.describe(),
                action: w.action.clone(),
                resource: w.resource.clone(),
                context: w.context.iter().cloned().collect(),
            }));
            let cause = if policy.is_none() {
                "the bucket has no policy".to_string()
            } else if gap.reasons.is_empty() {
                format!("no Deny statement applies to {}", gap.action)
            } else {
                gap.reasons.join("; ")
            };
            let which = if class.variants.len() > 1 {
                format!(" ({label})")
            } else {
                String::new()
            };
            format!("{} gets through{which}: {cause} ({scope})", w.describe())
        }
        None => {
            evidence.counterexample = Some(None);
            format!(
                "not proven that {} is denied: no single Deny statement covers {label} for {} on the {} ({}); they may deny it together, but s3audit only relies on a Deny it can prove on its own ({scope} for certain)",
                question.denied,
                gap.action,
                match gap.kind {
                    ResourceKind::Bucket => "bucket",
                    ResourceKind::Object => "objects",
                },
                gap.reasons.join("; ")
            )
        }
    };
    let current = policy.map(|p| &p.json);
    Verdict::fail(message)
        .with_evidence(evidence)
        .with_remediation(remediation::remediation_text(target, current, statements))
        .with_fix(statements.to_vec())
}
