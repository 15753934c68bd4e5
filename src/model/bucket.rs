use serde::{Deserialize, Serialize};

use super::{ObjectSummary, Observed};

/// Everything a scan read about one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketSnapshot {
    pub name: String,
    /// The bucket's region. `Absent` never occurs: us-east-1 answers an empty constraint,
    /// which collection maps to `us-east-1`.
    pub region: Observed<String>,
    /// Default encryption (GetBucketEncryption). `Absent`: no configuration.
    pub encryption: Observed<DefaultEncryption>,
    /// The bucket policy as raw JSON text, kept verbatim for the policy analyser.
    pub policy: Observed<String>,
    pub versioning: Observed<Versioning>,
    pub public_access_block: Observed<PublicAccessBlock>,
    /// Object-level counts; `None` when objects were not scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<ObjectSummary>,
    /// The account that owns the bucket (the account whose credentials listed it); `None`
    /// in snapshots of older versions and when the caller identity could not be read
    /// (then [`crate::model::Estate::account_of`] falls back to the scan's account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Why the bucket was listed but deliberately not read, when that is not a gap: its
    /// region is an opt-in region not enabled for its account (`region ap-east-1 is not
    /// enabled for account 111122223333 (DISABLED)`), so no request can reach it, the
    /// auditor's included, until the account enables the region. Its facts are then
    /// `Failed` with this reason, every rule is `not_applicable` with it, and none of it is
    /// a gap. `None` for every bucket that was read (and in older snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl BucketSnapshot {
    /// A bucket none of whose facts could be read, each for `reason`.
    pub fn not_read(name: &str, reason: &str) -> Self {
        fn failed<T>(reason: &str) -> Observed<T> {
            Observed::Failed {
                reason: reason.to_string(),
            }
        }
        BucketSnapshot {
            name: name.to_string(),
            region: failed(reason),
            encryption: failed(reason),
            policy: failed(reason),
            versioning: failed(reason),
            public_access_block: failed(reason),
            objects: None,
            account: None,
            skipped: None,
        }
    }

    /// A bucket in `region` that is not read, for `reason`, and that is no gap (see
    /// [`BucketSnapshot::skipped`]).
    pub fn skipped(name: &str, region: &str, reason: &str) -> Self {
        BucketSnapshot {
            region: Observed::Present(region.to_string()),
            skipped: Some(reason.to_string()),
            ..Self::not_read(name, reason)
        }
    }

    /// The bucket's partition: its region's, or when the region could not be read, the
    /// scan's (`scan_region`: one scan's credentials, and so its buckets, are in one
    /// partition).
    pub fn partition(&self, scan_region: &str) -> &'static str {
        super::partition_of(self.region.present().map_or(scan_region, String::as_str))
    }

    /// The bucket's ARN, in its partition ([`BucketSnapshot::partition`]).
    pub fn arn(&self, scan_region: &str) -> String {
        format!("arn:{}:s3:::{}", self.partition(scan_region), self.name)
    }

    /// The key record id of the SSE-KMS (or DSSE-KMS) default, if the bucket has one.
    pub fn default_kms_key(&self) -> Option<&str> {
        let rule = self.encryption.present()?.effective()?;
        rule.algorithm
            .is_kms()
            .then_some(rule.kms_key.as_deref())
            .flatten()
    }
}

/// A bucket's default encryption configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultEncryption {
    /// S3 returns a list, though today it holds exactly one rule.
    pub rules: Vec<EncryptionRule>,
}

impl DefaultEncryption {
    /// The rule S3 applies to uploads: the first one (S3 accepts only one).
    pub fn effective(&self) -> Option<&EncryptionRule> {
        self.rules.first()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionRule {
    pub algorithm: SseAlgorithm,
    /// The key reference exactly as configured (alias, bare key id or ARN), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// The id of the key's record in [`super::Estate::keys`]: the reference canonicalised
    /// through DescribeKey. For `aws:kms` without a key id this is the bucket region's
    /// `aws/s3` key, which S3 uses implicitly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_key_enabled: Option<bool>,
    /// `BlockedEncryptionTypes` as returned (e.g. `["SSE-C"]`); `None` when the server
    /// did not return the element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_encryption_types: Option<Vec<String>>,
}

/// The `SSEAlgorithm` of a default-encryption rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SseAlgorithm {
    #[serde(rename = "AES256")]
    Aes256,
    #[serde(rename = "aws:kms")]
    AwsKms,
    #[serde(rename = "aws:kms:dsse")]
    AwsKmsDsse,
    /// A value this version does not know; rules treat it as not KMS.
    #[serde(untagged)]
    Other(String),
}

impl SseAlgorithm {
    pub fn parse(value: &str) -> Self {
        match value {
            "AES256" => Self::Aes256,
            "aws:kms" => Self::AwsKms,
            "aws:kms:dsse" => Self::AwsKmsDsse,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Aes256 => "AES256",
            Self::AwsKms => "aws:kms",
            Self::AwsKmsDsse => "aws:kms:dsse",
            Self::Other(s) => s,
        }
    }

    pub fn is_kms(&self) -> bool {
        matches!(self, Self::AwsKms | Self::AwsKmsDsse)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Versioning {
    /// Never enabled: GetBucketVersioning answers without a Status.
    Disabled,
    Enabled,
    Suspended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}
