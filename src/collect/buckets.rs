//! Bucket-level facts: region, default encryption, policy, versioning, public access block.

use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryptionRule};

use super::clients::Clients;
use super::errors::{CallFailure, observe};
use super::listing::{Cursor, Pages};
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

/// What ListBuckets established.
#[derive(Debug, Default)]
pub struct BucketListing {
    /// Buckets with names S3 could have created, sorted by name, each once.
    pub buckets: Vec<ListedBucket>,
    /// Why the listing may be incomplete or was not trusted in part: pages that failed or
    /// looped after the first, names S3 could never have created.
    pub gaps: Vec<String>,
}

/// Lists every bucket of the account. A failure of the first page is fatal (nothing can
/// be scanned, and it says whether the endpoint, credentials or permissions are wrong); a
/// later page that fails, loops or stops short is a gap in an otherwise usable listing.
pub async fn list_buckets(clients: &Clients) -> Result<BucketListing, CallFailure> {
    let s3 = clients.s3(&clients.home_region);
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
    let mut listing = BucketListing::default();
    let mut pages = Pages::new("ListBuckets");
    let mut token: Option<String> = None;
    loop {
        let page = match s3
            .list_buckets()
            .set_continuation_token(token.take())
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) if pages.count() == 0 => return Err(CallFailure::from_sdk(e)),
            Err(e) => {
                listing.gaps.push(format!(
                    "ListBuckets stopped after {} pages: {}; buckets listed after that were not scanned",
                    pages.count(),
                    CallFailure::from_sdk(e)
                ));
                break;
            }
        };
        let entries = page.buckets().len();
        for b in page.buckets.unwrap_or_default() {
            match b.name {
                Some(name) if valid_bucket_name(&name) => listing.buckets.push(ListedBucket {
                    name,
                    region: b.bucket_region.filter(|r| !r.is_empty()),
                }),
                Some(name) => listing.gaps.push(format!(
                    "ListBuckets named a bucket S3 could never have created, {name:?}: not scanned"
                )),
                None => listing
                    .gaps
                    .push("ListBuckets listed a bucket without a name: not scanned".to_string()),
            }
        }
        // ListBuckets has no IsTruncated: a continuation token is what says there is more.
        let next = page.continuation_token.filter(|t| !t.is_empty());
        match pages.next(Some(next.is_some()), next.map(Cursor::Token), entries) {
            Ok(Some(Cursor::Token(t))) => token = Some(t),
            Ok(_) => break,
            Err(e) => {
                listing
                    .gaps
                    .push(format!("{e}; buckets listed after that were not scanned"));
                break;
            }
        }
    }
    listing.buckets.sort_by(|a, b| a.name.cmp(&b.name));
    listing.buckets.dedup_by(|a, b| a.name == b.name);
    Ok(listing)
}

/// Whether S3 could have created a bucket of this name. Today's rules are stricter (3-63
/// lower-case letters, digits, dots and hyphens), but buckets created in us-east-1 before
/// March 2018 may have up to 255 characters with capitals and underscores, so only what
/// no rule ever allowed is refused: other characters (control characters, `/`, spaces,
/// non-ASCII), a name without a letter or digit (`..` would walk up a path-style URL), or
/// one that does not start with a letter or digit. Such a name is reported, never used in
/// a request.
pub fn valid_bucket_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

/// The bucket's region: from the listing when it carried one, else GetBucketLocation
/// (answered in the start region, whatever the bucket's).
pub async fn region_of(clients: &Clients, listed: &ListedBucket) -> Observed<String> {
    match &listed.region {
        Some(r) => Observed::Present(r.clone()),
        None => bucket_region(clients, &listed.name).await,
    }
}

/// Reads every other bucket-level fact, in the bucket's `region` ([`region_of`]). Never
/// fails: each fact records its own outcome.
pub async fn read_bucket(
    clients: &Clients,
    listed: &ListedBucket,
    region: Observed<String>,
) -> BucketSnapshot {
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
            "GetBucketEncryption",
            encryption,
            &["ServerSideEncryptionConfigurationNotFoundError"],
        )
        .map(|o| DefaultEncryption {
            rules: o
                .server_side_encryption_configuration
                .map(|c| c.rules.into_iter().map(encryption_rule).collect())
                .unwrap_or_default(),
        }),
        policy: match observe("GetBucketPolicy", policy, &["NoSuchBucketPolicy"]) {
            Observed::Present(o) => match o.policy {
                Some(p) => Observed::Present(p),
                None => Observed::Absent,
            },
            other => other.map(|_| String::new()),
        },
        versioning: observe("GetBucketVersioning", versioning, &[]).map(|o| match o.status {
            Some(BucketVersioningStatus::Enabled) => Versioning::Enabled,
            Some(BucketVersioningStatus::Suspended) => Versioning::Suspended,
            _ => Versioning::Disabled,
        }),
        public_access_block: observe(
            "GetPublicAccessBlock",
            pab,
            &["NoSuchPublicAccessBlockConfiguration"],
        )
        .map(|o| {
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
        account: None,
        skipped: None,
    }
}

async fn bucket_region(clients: &Clients, name: &str) -> Observed<String> {
    let s3 = clients.s3(&clients.home_region);
    observe(
        "GetBucketLocation",
        s3.get_bucket_location().bucket(name).send().await,
        &[],
    )
    .map(|o| {
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

#[cfg(test)]
mod tests {
    use super::valid_bucket_name;

    #[test]
    fn bucket_names_no_rule_ever_allowed_are_refused() {
        for ok in [
            "abc",
            "my-bucket.logs",
            "Legacy_Bucket",
            "123",
            &"a".repeat(255),
        ] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "..",
            "...",
            ".hidden",
            "-dash",
            "has space",
            "a/b",
            "esc\u{1b}[2J",
            "bell\u{7}",
            "caf\u{e9}",
            &"a".repeat(256),
        ] {
            assert!(!valid_bucket_name(bad), "{bad:?}");
        }
    }
}
