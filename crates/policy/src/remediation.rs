//! The statements that close a failing POL rule, and their merge into the bucket's
//! current policy.
//!
//! Every statement has a stable Sid (`S3AuditDeny...`): running the remediation twice
//! replaces the earlier copy instead of piling up duplicates, and a reviewer can tell which
//! statements came from s3audit. The merged document keeps the user's own statements and
//! their member order untouched.

use super::analyze::Target;
use super::json::{Json, object, string, string_or_list};

pub const SID_INSECURE_TRANSPORT: &str = "S3AuditDenyInsecureTransport";
pub const SID_OUTDATED_TLS: &str = "S3AuditDenyOutdatedTls";
pub const SID_NON_KMS_UPLOADS: &str = "S3AuditDenyNonKmsUploads";
pub const SID_SSE_C_UPLOADS: &str = "S3AuditDenySseCUploads";
pub const SID_UNPINNED_KMS_KEY: &str = "S3AuditDenyUnlistedKmsKeys";

/// The bucket and its objects; for every bucket of an account (an RCP), `*`, as AWS's
/// published resource control policies write it.
fn both_arns(target: &Target) -> Json {
    if target.any_bucket {
        return string("*");
    }
    string_or_list(&[target.bucket_arn(), format!("{}*", target.object_prefix())])
}

/// Every object of the target: the bucket's, or (RCPs) every bucket's, which is `*` as in
/// AWS's RCP examples (the analyser proves coverage of every bucket's objects only for
/// patterns that match every string after `arn:PARTITION:s3:::`).
fn objects(target: &Target) -> Json {
    if target.any_bucket {
        return string("*");
    }
    string(format!("{}*", target.object_prefix()))
}

fn deny(sid: &str, action: &str, resource: Json, condition: Json) -> Json {
    object([
        ("Sid", string(sid)),
        ("Effect", string("Deny")),
        ("Principal", string("*")),
        ("Action", string(action)),
        ("Resource", resource),
        ("Condition", condition),
    ])
}

/// POL-001: deny every request made without TLS (AWS's documented statement, applied to
/// the bucket and its objects).
pub fn deny_insecure_transport(target: &Target) -> Json {
    deny(
        SID_INSECURE_TRANSPORT,
        "s3:*",
        both_arns(target),
        object([("Bool", object([("aws:SecureTransport", string("false"))]))]),
    )
}

/// POL-002: deny TLS older than 1.2. On plain HTTP `s3:TlsVersion` is absent and this
/// statement does not apply, which is why POL-001 needs its own statement.
pub fn deny_outdated_tls(target: &Target) -> Json {
    deny(
        SID_OUTDATED_TLS,
        "s3:*",
        both_arns(target),
        object([(
            "NumericLessThan",
            object([(
                "s3:TlsVersion",
                Json::Number(serde_json::Number::from_f64(1.2).expect("finite")),
            )]),
        )]),
    )
}

fn kms_headers() -> Json {
    string_or_list(&["aws:kms".to_string(), "aws:kms:dsse".to_string()])
}

/// POL-003: deny uploads whose `x-amz-server-side-encryption` header is not KMS.
///
/// `keep_default`: when the bucket default is KMS, uploads without the header are
/// encrypted with it and must stay allowed, so only a header that is present and not KMS
/// is denied (`Null: false` AND `StringNotEquals`; an `...IfExists` operator would be true
/// on the missing header and deny those uploads too). Otherwise a missing header must be
/// denied as well, and the plain `StringNotEquals` (true on an absent key) does both, SSE-C
/// uploads included, since they carry no `x-amz-server-side-encryption` header.
pub fn deny_non_kms_uploads(target: &Target, keep_default: bool) -> Json {
    let not_kms = (
        "StringNotEquals",
        object([("s3:x-amz-server-side-encryption", kms_headers())]),
    );
    let condition = if keep_default {
        object([
            (
                "Null",
                object([("s3:x-amz-server-side-encryption", string("false"))]),
            ),
            not_kms,
        ])
    } else {
        object([not_kms])
    };
    deny(
        SID_NON_KMS_UPLOADS,
        "s3:PutObject",
        objects(target),
        condition,
    )
}

/// POL-003: deny SSE-C uploads (the customer-algorithm header is present). Blocking SSE-C
/// in the bucket's `BlockedEncryptionTypes` is the alternative.
pub fn deny_sse_c_uploads(target: &Target) -> Json {
    deny(
        SID_SSE_C_UPLOADS,
        "s3:PutObject",
        objects(target),
        object([(
            "Null",
            object([(
                "s3:x-amz-server-side-encryption-customer-algorithm",
                string("false"),
            )]),
        )]),
    )
}

/// POL-004: deny KMS uploads that name a key outside `allowed`, or name none (S3 then uses
/// the AWS managed key `aws/s3`). Uploads without an encryption header are left to the
/// bucket default and to POL-003.
pub fn deny_unlisted_kms_keys(target: &Target, allowed: &[String]) -> Json {
    deny(
        SID_UNPINNED_KMS_KEY,
        "s3:PutObject",
        objects(target),
        object([
            (
                "StringEquals",
                object([("s3:x-amz-server-side-encryption", kms_headers())]),
            ),
            (
                "StringNotEquals",
                object([(
                    "s3:x-amz-server-side-encryption-aws-kms-key-id",
                    string_or_list(allowed),
                )]),
            ),
        ]),
    )
}

/// The policy with `statements` added: into a copy of `current` (a statement with the
/// same Sid is replaced in place; a single `Statement` object becomes a list), or into a
/// fresh document when the bucket has no policy.
pub fn merge(current: Option<&Json>, statements: &[Json]) -> Json {
    let fresh = || {
        object([
            ("Version", string("2012-10-17")),
            ("Statement", Json::Array(Vec::new())),
        ])
    };
    let mut doc = match current {
        Some(Json::Object(members)) => Json::Object(members.clone()),
        _ => fresh(),
    };
    let Json::Object(members) = &mut doc else {
        unreachable!("built as an object")
    };
    let existing = members.iter().position(|(k, _)| k == "Statement");
    let list = match existing {
        Some(i) => {
            let slot = &mut members[i].1;
            if let Json::Object(_) = slot {
                *slot = Json::Array(vec![slot.clone()]);
            }
            if !matches!(slot, Json::Array(_)) {
                *slot = Json::Array(Vec::new());
            }
            slot
        }
        None => {
            members.push(("Statement".to_string(), Json::Array(Vec::new())));
            &mut members.last_mut().expect("just pushed").1
        }
    };
    let Json::Array(items) = list else {
        unreachable!("made a list above")
    };
    for stmt in statements {
        let sid = stmt.get("Sid");
        match items
            .iter()
            .position(|s| sid.is_some() && s.get("Sid") == sid)
        {
            Some(i) => items[i] = stmt.clone(),
            None => items.push(stmt.clone()),
        }
    }
    doc
}

/// The remediation text: which statements to add, and the merged policy to apply.
pub fn remediation_text(target: &Target, current: Option<&Json>, statements: &[Json]) -> String {
    let sids: Vec<String> = statements
        .iter()
        .filter_map(|s| match s.get("Sid") {
            Some(Json::String(sid)) => Some(sid.clone()),
            _ => None,
        })
        .collect();
    let merged = merge(current, statements);
    if target.any_bucket {
        return format!(
            "Add the Deny statement{} {} to a resource control policy attached to the organization root (or to every OU above the account). The first policy with {} merged, to apply with `aws organizations update-policy --policy-id POLICY_ID --content file://rcp.json`:\n{}",
            if sids.len() == 1 { "" } else { "s" },
            sids.join(", "),
            if sids.len() == 1 { "it" } else { "them" },
            merged.to_pretty()
        );
    }
    format!(
        "Add the Deny statement{} {} to the bucket policy{}. The merged policy, to apply with `aws s3api put-bucket-policy --bucket {} --policy file://policy.json`:\n{}",
        if sids.len() == 1 { "" } else { "s" },
        sids.join(", "),
        if current.is_some() {
            ""
        } else {
            " (the bucket has none)"
        },
        target.bucket,
        merged.to_pretty()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze, classes, classes::UploadDefaults, parse_policy};

    /// Found by the fuzz target: for every bucket of an account (RCPs) the upload
    /// statements named the stand-in bucket's objects, so merged in they closed nothing.
    #[test]
    fn fixes_for_every_bucket_cover_every_bucket() {
        let target = Target::every_bucket(Some("111122223333"));
        let uploads = classes::non_kms_uploads(UploadDefaults {
            kms_default: false,
            default_label: "none",
            sse_c_blocked: false,
        });
        let key = "arn:aws:kms:us-east-1:111122223333:key/k1".to_string();
        for (class, fix) in [
            (
                classes::uploads(uploads.into_iter().map(|(_, v)| v).collect()),
                deny_non_kms_uploads(&target, false),
            ),
            (
                classes::insecure_transport(),
                deny_insecure_transport(&target),
            ),
            (
                classes::unpinned_kms_uploads(std::slice::from_ref(&key), "the keys"),
                deny_unlisted_kms_keys(&target, std::slice::from_ref(&key)),
            ),
        ] {
            let merged = parse_policy(&merge(None, &[fix]).to_compact()).unwrap();
            assert!(analyze(Some(&merged), &target, &class).passed());
        }
    }

    #[test]
    fn merges_into_a_single_statement_policy_and_replaces_by_sid() {
        let target = Target::new("b");
        let current = Json::parse(
            r#"{"Version":"2012-10-17","Id":"mine","Statement":{"Sid":"S3AuditDenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#,
        )
        .unwrap();
        let merged = merge(Some(&current), &[deny_insecure_transport(&target)]);
        let Some(Json::Array(items)) = merged.get("Statement") else {
            panic!()
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].get("Action"), Some(&string("s3:*")));
        assert_eq!(merged.get("Id"), Some(&string("mine")));
        let fresh = merge(None, &[deny_outdated_tls(&target)]);
        assert!(
            fresh
                .to_compact()
                .contains(r#""NumericLessThan":{"s3:TlsVersion":1.2}"#)
        );
    }
}
