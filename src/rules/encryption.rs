//! ENC-*: a bucket's default encryption configuration.

use super::{Rule, RuleContext, Verdict};
use crate::model::evidence::{BlockedTypes, DefaultEncryption, DefaultKey, NoDefaultEncryption};
use crate::model::{EncryptionRule, Observed, RuleId, SseAlgorithm};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: RuleId::Enc001,
        check: default_encryption_configured,
    },
    Rule {
        id: RuleId::Enc002,
        check: default_is_kms,
    },
    Rule {
        id: RuleId::Enc003,
        check: default_key_customer_managed,
    },
    Rule {
        id: RuleId::Enc004,
        check: bucket_key_enabled,
    },
    Rule {
        id: RuleId::Enc005,
        check: sse_c_blocked,
    },
];

/// The rule S3 applies to uploads: `Ok(None)` when there is no configuration, `Err` with
/// an `error` verdict when the configuration could not be read.
pub(super) fn default_rule<'a>(
    ctx: &RuleContext<'a>,
) -> Result<Option<&'a EncryptionRule>, Verdict> {
    match &ctx.bucket.encryption {
        Observed::Present(enc) => Ok(enc.effective()),
        Observed::Absent => Ok(None),
        Observed::Denied { reason } | Observed::Failed { reason } => Err(Verdict::error(format!(
            "default encryption could not be read: {reason}"
        ))),
    }
}

/// The rule S3 applies to uploads, when its algorithm is one s3audit knows; an `error`
/// verdict when the configuration could not be read or names an algorithm S3 does not
/// document (or none): what such a bucket does with uploads is unknown, so no ENC rule
/// about the algorithm or its key can pass or fail on it.
fn known_default_rule<'a>(ctx: &RuleContext<'a>) -> Result<Option<&'a EncryptionRule>, Verdict> {
    match default_rule(ctx)? {
        Some(rule) if matches!(rule.algorithm, SseAlgorithm::Other(_)) => Err(Verdict::error(
            format!(
                "default encryption names an SSEAlgorithm S3 does not document, {:?}: what it does with uploads is unknown",
                rule.algorithm.as_str()
            ),
        )
        .with_evidence(rule_evidence(rule))),
        other => Ok(other),
    }
}

fn rule_evidence(rule: &EncryptionRule) -> DefaultEncryption {
    DefaultEncryption {
        algorithm: rule.algorithm.as_str().to_string(),
        kms_key_id: rule.kms_key_id.clone(),
        bucket_key_enabled: rule.bucket_key_enabled,
    }
}

fn default_encryption_configured(ctx: &RuleContext) -> Verdict {
    match known_default_rule(ctx) {
        Err(v) => v,
        Ok(None) => Verdict::fail("no default encryption configuration: uploads without an SSE header are stored as the server defaults them")
            .with_evidence(NoDefaultEncryption { configuration: () }),
        Ok(Some(rule)) => Verdict::pass(format!("default encryption is {}", rule.algorithm.as_str()))
            .with_evidence(rule_evidence(rule)),
    }
}

fn default_is_kms(ctx: &RuleContext) -> Verdict {
    match known_default_rule(ctx) {
        Err(v) => v,
        Ok(None) => Verdict::fail("no default encryption configuration, so not SSE-KMS")
            .with_evidence(NoDefaultEncryption { configuration: () }),
        Ok(Some(rule)) if rule.algorithm.is_kms() => Verdict::pass(format!(
            "default encryption is {}",
            rule.algorithm.as_str()
        ))
        .with_evidence(rule_evidence(rule)),
        Ok(Some(rule)) => Verdict::fail(format!(
            "default encryption is {}, not SSE-KMS: access to the data is not governed by a KMS key policy and leaves no KMS audit trail",
            rule.algorithm.as_str()
        ))
        .with_evidence(rule_evidence(rule)),
    }
}

fn is_aws_s3_alias(reference: &str) -> bool {
    reference == "alias/aws/s3" || reference.ends_with(":alias/aws/s3")
}

fn default_key_customer_managed(ctx: &RuleContext) -> Verdict {
    let rule = match known_default_rule(ctx) {
        Err(v) => return v,
        Ok(Some(rule)) if rule.algorithm.is_kms() => rule,
        Ok(_) => return Verdict::not_applicable("default encryption is not SSE-KMS"),
    };
    let evidence = rule_evidence(rule);
    let Some(reference) = &rule.kms_key_id else {
        return Verdict::fail(
            "SSE-KMS default names no key, so S3 uses the AWS managed key aws/s3, whose key policy no one can restrict",
        )
        .with_evidence(evidence);
    };
    if is_aws_s3_alias(reference) {
        return Verdict::fail(format!(
            "default key {reference} is the AWS managed key aws/s3, whose key policy no one can restrict"
        ))
        .with_evidence(evidence);
    }
    let Some(record) = rule.kms_key.as_deref().and_then(|id| ctx.key(id)) else {
        return Verdict::error(format!(
            "default key {reference} was not resolved by the scan"
        ))
        .with_evidence(evidence);
    };
    match &record.info {
        Observed::Absent => {
            Verdict::fail(format!("default key {reference} does not exist")).with_evidence(evidence)
        }
        Observed::Denied { reason } | Observed::Failed { reason } => Verdict::error(format!(
            "default key {reference} could not be described: {reason}"
        ))
        .with_evidence(evidence),
        Observed::Present(key) if key.is_aws_managed() => Verdict::fail(format!(
            "default key {} is AWS managed, whose key policy no one can restrict",
            key.arn
        ))
        .with_evidence(evidence),
        Observed::Present(key)
            if !ctx.config.allowed_kms_keys.is_empty() && !ctx.config.key_allowed(key) =>
        {
            Verdict::fail(format!(
                "default key {} is customer managed but not in the allowed key list",
                key.arn
            ))
            .with_evidence(DefaultKey {
                algorithm: rule.algorithm.as_str().to_string(),
                kms_key_id: reference.clone(),
                key_arn: key.arn.clone(),
                manager: None,
                allowed_kms_keys: Some(ctx.config.allowed_kms_keys.clone()),
            })
        }
        Observed::Present(key) => {
            Verdict::pass(format!("default key {} is customer managed", key.arn)).with_evidence(
                DefaultKey {
                    algorithm: rule.algorithm.as_str().to_string(),
                    kms_key_id: reference.clone(),
                    key_arn: key.arn.clone(),
                    manager: Some(key.manager),
                    allowed_kms_keys: None,
                },
            )
        }
    }
}

fn bucket_key_enabled(ctx: &RuleContext) -> Verdict {
    let rule = match known_default_rule(ctx) {
        Err(v) => return v,
        Ok(Some(rule)) if rule.algorithm == SseAlgorithm::AwsKms => rule,
        Ok(Some(rule)) if rule.algorithm == SseAlgorithm::AwsKmsDsse => {
            return Verdict::not_applicable("S3 Bucket Keys do not apply to DSSE-KMS");
        }
        Ok(_) => return Verdict::not_applicable("default encryption is not SSE-KMS"),
    };
    if rule.bucket_key_enabled == Some(true) {
        Verdict::pass("S3 Bucket Key is enabled").with_evidence(rule_evidence(rule))
    } else {
        Verdict::fail(
            "S3 Bucket Key is not enabled: every object operation calls KMS, raising cost and the risk of KMS throttling",
        )
        .with_evidence(rule_evidence(rule))
    }
}

fn sse_c_blocked(ctx: &RuleContext) -> Verdict {
    let rule = match default_rule(ctx) {
        Err(v) => return v,
        Ok(None) => {
            return Verdict::fail(
                "no default encryption configuration, so SSE-C uploads are not blocked",
            )
            .with_evidence(BlockedTypes {
                blocked_encryption_types: None,
            });
        }
        Ok(Some(rule)) => rule,
    };
    let blocked = rule.blocked_encryption_types.as_deref().unwrap_or(&[]);
    let evidence = BlockedTypes {
        blocked_encryption_types: rule.blocked_encryption_types.clone(),
    };
    if blocked.iter().any(|t| t.eq_ignore_ascii_case("SSE-C")) {
        Verdict::pass("SSE-C uploads are blocked by BlockedEncryptionTypes").with_evidence(evidence)
    } else if rule.blocked_encryption_types.is_none() {
        Verdict::fail("BlockedEncryptionTypes is not set, so uploads with customer-provided keys (SSE-C) are accepted")
            .with_evidence(evidence)
    } else {
        Verdict::fail("BlockedEncryptionTypes does not list SSE-C, so uploads with customer-provided keys are accepted")
            .with_evidence(evidence)
    }
}
