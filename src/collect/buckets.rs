//! Bucket-level facts: region, default encryption, policy, versioning, public access block.

use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryptionRule};

use super::clients::Clients;
use super::errors::{CallFailure, observe};
use crate::model::{
    BucketSnapshot, DefaultEncryption, EncryptionRule, Observed, PublicAccessBlock, SseAlgorithm,
    Versioning,
};

/// A bucket as ListBuckets names it, with the region if the listing carried one.
#[derive(Debug, Clone)]
pub struct ListedBucket {
    pub name: String,
    pub region: Option<String>,
}

/// Lists every bucket of the account. Failure here is fatal: nothing else can be scanned.
pub async fn list_buckets(clients: &Clients) -> Result<Vec<ListedBucket>, CallFailure> {
    let s3 = clients.s3(&clients.home_region);
    let mut out = Vec::new();
    // The first call doubles as the connectivity check: a wrong endpoint or region should
    // be reported in a second, not after the full retry budget meant for throttling.
    let s3 = aws_sdk_s3::Client::from_conf(
        s3.config()
            .to_builder()
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(50)),
            )
            .build(),
    );
    let mut pages = s3.list_buckets().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(CallFailure::from_sdk)?;
        for b in page.buckets.unwrap_or_default() {
            if let Some(name) = b.name {
                out.push(ListedBucket {
                    name,
                    region: b.bucket_region.filter(|r| !r.is_empty()),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

/// Reads every bucket-level fact. Never fails: each fact records its own outcome.
pub async fn read_bucket(clients: &Clients, listed: &ListedBucket) -> BucketSnapshot {
    let region = match &listed.region {
        Some(r) => Observed::Present(r.clone()),
        None => bucket_region(clients, &listed.name).await,
    };
    // With the region unknown, the home region's client is the best remaining guess; the
    // facts read through it still record their own outcome.
    let s3 = clients.s3(region.present().map_or(&clients.home_region, |r| r));
    let name = listed.name.as_str();
    let (encryption, policy, versioning, pab) = tokio::join!(
        s3.get_bucket_encryption().bucket(name).send(),
        s3.get_bucket_policy().bucket(name).send(),
        s3.get_bucket_versioning().bucket(name).send(),
        s3.get_public_access_block().bucket(name).send(),
    );
    BucketSnapshot {
        name: listed.name.clone(),
        region,
        encryption: observe(
            encryption,
            &["ServerSideEncryptionConfigurationNotFoundError"],
        )
        .map(|o| DefaultEncryption {
            rules: o
                .server_side_encryption_configuration
                .map(|c| c.rules.into_iter().map(encryption_rule).collect())
                .unwrap_or_default(),
        }),
        policy: match observe(policy, &["NoSuchBucketPolicy"]) {
            Observed::Present(o) => match o.policy {
                Some(p) => Observed::Present(p),
                None => Observed::Absent,
            },
            other => other.map(|_| String::new()),
        },
        versioning: observe(versioning, &[]).map(|o| match o.status {
            Some(BucketVersioningStatus::Enabled) => Versioning::Enabled,
            Some(BucketVersioningStatus::Suspended) => Versioning::Suspended,
            _ => Versioning::Disabled,
        }),
        public_access_block: observe(pab, &["NoSuchPublicAccessBlockConfiguration"]).map(|o| {
            let c = o.public_access_block_configuration.unwrap_or_else(|| {
                aws_sdk_s3::types::PublicAccessBlockConfiguration::builder().build()
            });
            PublicAccessBlock {
                block_public_acls: c.block_public_acls.unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
                block_public_policy: c.block_public_policy.unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
            }
        }),
        objects: None,
    }
}

async fn bucket_region(clients: &Clients, name: &str) -> Observed<String> {
    let s3 = clients.s3(&clients.home_region);
    observe(s3.get_bucket_location().bucket(name).send().await, &[]).map(|o| {
        // us-east-1 answers an empty constraint; "EU" is the legacy name of eu-west-1.
        match o.location_constraint.as_ref().map(|c| c.as_str()) {
            None | Some("") => "us-east-1".to_string(),
            Some("EU") => "eu-west-1".to_string(),
            Some(other) => other.to_string(),
        }
    })
}

fn encryption_rule(rule: ServerSideEncryptionRule) -> EncryptionRule {
    let default = rule.apply_server_side_encryption_by_default;
    EncryptionRule {
        algorithm: default
            .as_ref()
            .map(|d| SseAlgorithm::parse(d.sse_algorithm.as_str()))
            .unwrap_or_else(|| SseAlgorithm::Other(String::new())),
        kms_key_id: default
            .and_then(|d| d.kms_master_key_id)
            .filter(|k| !k.is_empty()),
        kms_key: None,
        bucket_key_enabled: rule.bucket_key_enabled,
        blocked_encryption_types: rule.blocked_encryption_types.map(|b| {
            b.encryption_type
                .unwrap_or_default()
                .iter()
                .map(|t| t.as_str().to_string())
                .collect()
        }),
    }
}
