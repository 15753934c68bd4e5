//! The classes of S3 requests that encryption questions are about, in the analyser's terms.
//!
//! A rule asks "is every request of this class denied?"; this module says what the
//! requests are, from S3's documented semantics, so that every rule family (bucket
//! policies, RCPs, the fix, the fuzz target) asks about the same requests:
//!
//! * on plain HTTP `aws:SecureTransport` is `false` and `s3:TlsVersion` is absent, so a
//!   TLS-version floor alone does not refuse HTTP ([`insecure_transport`]);
//! * TLS 1.0 and 1.1 requests carry `aws:SecureTransport=true` and their version
//!   ([`outdated_tls`]);
//! * `s3:PutObject` also authorizes CopyObject and multipart uploads; an upload that would
//!   not be KMS-encrypted sends `AES256`, no header (stored under the bucket default), or
//!   SSE-C, which sends the customer-algorithm header and no
//!   `x-amz-server-side-encryption` ([`non_kms_uploads`]);
//! * a KMS upload naming no key id is stored under the AWS managed key `aws/s3` (S3 API
//!   reference, PutObject), so "pinned to these keys" must also deny that one
//!   ([`unpinned_kms_uploads`]).

use std::collections::BTreeSet;

use super::analyze::{RequestClass, ResourceKind, Variant};
use super::condition::KeyDomain;

/// `x-amz-server-side-encryption`: `AES256`, `aws:kms` or `aws:kms:dsse`.
pub const SSE: &str = "s3:x-amz-server-side-encryption";
/// The SSE-C algorithm header, sent (as `AES256`) only by SSE-C uploads.
pub const SSE_C: &str = "s3:x-amz-server-side-encryption-customer-algorithm";
/// The KMS key an upload names: always a key ARN by the time the policy sees it.
pub const KEY_ID: &str = "s3:x-amz-server-side-encryption-aws-kms-key-id";

/// A context key fixed to one value (`None`: absent from the request).
pub fn fixed(key: &str, value: Option<&str>) -> (String, KeyDomain) {
    (key.to_string(), KeyDomain::Fixed(value.map(str::to_string)))
}

/// Every S3 action on the bucket and its objects, over plain HTTP.
pub fn insecure_transport() -> RequestClass {
    RequestClass {
        actions: RequestClass::all_s3_actions(),
        variants: vec![Variant {
            label: "a request without TLS".to_string(),
            keys: vec![
                fixed("aws:SecureTransport", Some("false")),
                fixed("s3:TlsVersion", None),
            ],
        }],
    }
}

/// Every S3 action on the bucket and its objects, over TLS 1.0 or 1.1.
pub fn outdated_tls() -> RequestClass {
    let variant = |v: &str| Variant {
        label: format!("a request over TLS {v}"),
        keys: vec![
            fixed("aws:SecureTransport", Some("true")),
            fixed("s3:TlsVersion", Some(v)),
        ],
    };
    RequestClass {
        actions: RequestClass::all_s3_actions(),
        variants: vec![variant("1.0"), variant("1.1")],
    }
}

/// `s3:PutObject` on the objects, with these header variants.
pub fn uploads(variants: Vec<Variant>) -> RequestClass {
    RequestClass {
        actions: vec![("s3:PutObject".to_string(), vec![ResourceKind::Object])],
        variants,
    }
}

/// A kind of upload that would not be stored KMS-encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    ExplicitAes256,
    NoHeader,
    SseC,
}

/// What decides which uploads escape KMS: the bucket's default encryption (with a KMS
/// default, S3 applies it to an upload without a header) and whether the bucket blocks
/// SSE-C (`BlockedEncryptionTypes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadDefaults<'a> {
    pub kms_default: bool,
    /// How the default is named in labels ("SSE-S3", "none", ...).
    pub default_label: &'a str,
    pub sse_c_blocked: bool,
}

/// The uploads that would not be KMS-encrypted, by kind, for a bucket with these defaults.
pub fn non_kms_uploads(defaults: UploadDefaults) -> Vec<(Upload, Variant)> {
    let mut kinds = vec![(
        Upload::ExplicitAes256,
        Variant {
            label: "an upload with x-amz-server-side-encryption: AES256".to_string(),
            keys: vec![
                fixed(SSE, Some("AES256")),
                fixed(SSE_C, None),
                fixed(KEY_ID, None),
            ],
        },
    )];
    if !defaults.kms_default {
        kinds.push((
            Upload::NoHeader,
            Variant {
                label: format!(
                    "an upload without an encryption header (the bucket default is {})",
                    defaults.default_label
                ),
                keys: vec![fixed(SSE, None), fixed(SSE_C, None), fixed(KEY_ID, None)],
            },
        ));
    }
    if !defaults.sse_c_blocked {
        kinds.push((
            Upload::SseC,
            Variant {
                label: "an SSE-C upload (customer-provided key, no x-amz-server-side-encryption header)"
                    .to_string(),
                keys: vec![fixed(SSE, None), fixed(SSE_C, Some("AES256")), fixed(KEY_ID, None)],
            },
        ));
    }
    kinds
}

/// Whether a list of keys allows the AWS managed key `aws/s3` (by alias).
fn allows_aws_managed(allowed: &[String]) -> bool {
    allowed
        .iter()
        .any(|k| k == "alias/aws/s3" || k.ends_with(":alias/aws/s3"))
}

/// KMS uploads (`aws:kms` or `aws:kms:dsse`) naming a key outside `allowed`, or naming
/// none (S3 then uses `aws/s3`, unless that is itself allowed). `source` says where the
/// list came from, for the labels.
pub fn unpinned_kms_uploads(allowed: &[String], source: &str) -> RequestClass {
    let aws_managed_allowed = allows_aws_managed(allowed);
    let except: BTreeSet<String> = allowed.iter().cloned().collect();
    let mut variants = Vec::new();
    for header in ["aws:kms", "aws:kms:dsse"] {
        variants.push(Variant {
            label: format!("an upload with {header} naming a key outside {source}"),
            keys: vec![
                fixed(SSE, Some(header)),
                fixed(SSE_C, None),
                (KEY_ID.to_string(), KeyDomain::AnyExcept(except.clone())),
            ],
        });
        if !aws_managed_allowed {
            variants.push(Variant {
                label: format!(
                    "an upload with {header} and no key id (S3 then uses the AWS managed key aws/s3)"
                ),
                keys: vec![
                    fixed(SSE, Some(header)),
                    fixed(SSE_C, None),
                    fixed(KEY_ID, None),
                ],
            });
        }
    }
    uploads(variants)
}

/// Every KMS upload, naming any key or none: denied in full only when no KMS upload can
/// succeed at all.
pub fn any_kms_upload() -> RequestClass {
    let variants = ["aws:kms", "aws:kms:dsse"]
        .into_iter()
        .flat_map(|header| {
            [
                Variant {
                    label: format!("an upload with {header} naming any key"),
                    keys: vec![
                        fixed(SSE, Some(header)),
                        fixed(SSE_C, None),
                        (KEY_ID.to_string(), KeyDomain::AnyExcept(Default::default())),
                    ],
                },
                Variant {
                    label: format!("an upload with {header} and no key id"),
                    keys: vec![
                        fixed(SSE, Some(header)),
                        fixed(SSE_C, None),
                        fixed(KEY_ID, None),
                    ],
                },
            ]
        })
        .collect();
    uploads(variants)
}

/// Modern TLS: what a well-behaved client sends, so a TLS-only statement never makes
/// these classes denied.
fn modern_tls(version: &str) -> Vec<(String, KeyDomain)> {
    vec![
        fixed("aws:SecureTransport", Some("true")),
        fixed("s3:TlsVersion", Some(version)),
    ]
}

/// Every upload over TLS 1.2, one variant per encryption an uploader can ask for (no
/// header, AES256, aws:kms or aws:kms:dsse with any key or none, SSE-C): a policy that
/// denies all of them leaves the bucket unwritable.
pub fn modern_uploads() -> RequestClass {
    let mut variants = Vec::new();
    let mut add = |label: &str, keys: Vec<(String, KeyDomain)>| {
        let mut all = modern_tls("1.2");
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
    uploads(variants)
}

/// Every object read over TLS 1.2 or 1.3.
pub fn modern_reads() -> RequestClass {
    RequestClass {
        actions: vec![("s3:GetObject".to_string(), vec![ResourceKind::Object])],
        variants: ["1.2", "1.3"]
            .into_iter()
            .map(|v| Variant {
                label: format!("a read over TLS {v}"),
                keys: modern_tls(v),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_kinds_follow_the_bucket_defaults() {
        let kinds = |kms_default, sse_c_blocked| -> Vec<Upload> {
            non_kms_uploads(UploadDefaults {
                kms_default,
                default_label: "x",
                sse_c_blocked,
            })
            .into_iter()
            .map(|(u, _)| u)
            .collect()
        };
        use Upload::*;
        assert_eq!(kinds(false, false), [ExplicitAes256, NoHeader, SseC]);
        assert_eq!(kinds(true, false), [ExplicitAes256, SseC]);
        assert_eq!(kinds(true, true), [ExplicitAes256]);
    }

    #[test]
    fn allowing_aws_s3_drops_the_no_key_variants() {
        let k = "arn:aws:kms:us-east-1:111122223333:key/k1".to_string();
        assert_eq!(
            unpinned_kms_uploads(std::slice::from_ref(&k), "s")
                .variants
                .len(),
            4
        );
        let with = [k, "alias/aws/s3".to_string()];
        assert_eq!(unpinned_kms_uploads(&with, "s").variants.len(), 2);
    }
}
