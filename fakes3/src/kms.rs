//! A sliver of KMS (JSON 1.1 protocol: DescribeKey, GetKeyRotationStatus, ListAliases, GetKeyPolicy)
//! and STS (query protocol: GetCallerIdentity).

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::config::{Config, KeyManager, KeyState, KmsKeySpec};
use crate::fmt::{Xml, parse_query};
use crate::hash::{h2, hash_str, tag};
use crate::model::{BucketModel, uuid_from};
use crate::s3::response;
use crate::server::Resp;
use crate::stats::Op;

const KEY_CREATED: i64 = 1_546_300_800; // 2019-01-01

#[derive(Debug, Clone)]
pub(crate) struct KmsKey {
    pub arn: String,
    pub key_id: String,
    pub region: String,
    pub account: String,
    pub spec: KmsKeySpec,
}

#[derive(Debug, Default)]
pub(crate) struct Kms {
    pub keys: Vec<KmsKey>,
}

/// Splits `arn:aws:kms:REGION:ACCOUNT:key/ID` (or `:alias/NAME`).
fn parse_arn(s: &str) -> Option<(&str, &str, &str)> {
    let rest = s.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let _partition = parts.next()?;
    if parts.next()? != "kms" {
        return None;
    }
    let region = parts.next()?;
    let account = parts.next()?;
    Some((region, account, parts.next()?))
}

impl Kms {
    pub fn new(config: &Config, buckets: &[std::sync::Arc<BucketModel>]) -> Kms {
        let mut kms = Kms::default();
        for spec in &config.kms_keys {
            kms.add_ref(&spec.arn, "us-east-1", &config.account_id, Some(spec));
        }
        for b in buckets {
            let refs = b.kms_keys.iter().chain(
                b.spec
                    .default_encryption
                    .as_ref()
                    .and_then(|e| e.kms_key.as_ref()),
            );
            for r in refs {
                kms.add_ref(r, &b.spec.region, &config.account_id, None);
            }
        }
        kms
    }

    /// Registers the key a reference (ARN, bare id, alias or alias ARN) names.
    fn add_ref(&mut self, r: &str, region: &str, account: &str, spec: Option<&KmsKeySpec>) {
        let (region, account, resource) = match parse_arn(r) {
            Some((reg, acc, res)) => (reg.to_owned(), acc.to_owned(), res.to_owned()),
            None => (region.to_owned(), account.to_owned(), r.to_owned()),
        };
        let alias = resource.starts_with("alias/").then(|| resource.clone());
        if let Some(a) = &alias
            && self.keys.iter().any(|k| k.spec.aliases.contains(a))
        {
            return;
        }
        let key_id = match resource.strip_prefix("key/") {
            Some(id) => id.to_owned(),
            None if alias.is_some() => {
                let h = hash_str(tag::KEY_ID, &resource);
                uuid_from(h, h2(h, tag::KEY_ID))
            }
            None => resource.clone(),
        };
        if let Some(k) = self.keys.iter_mut().find(|k| k.key_id == key_id) {
            if let Some(s) = spec {
                k.spec = s.clone();
            }
            return;
        }
        let arn = format!("arn:aws:kms:{region}:{account}:key/{key_id}");
        let mut spec = spec
            .cloned()
            .unwrap_or_else(|| KmsKeySpec::new(arn.clone()));
        if let Some(a) = alias {
            if a == "alias/aws/s3" {
                spec.manager = KeyManager::Aws;
                spec.description =
                    "Default key that protects my S3 objects when no other key is defined".into();
            }
            if !spec.aliases.contains(&a) {
                spec.aliases.push(a);
            }
        }
        self.keys.push(KmsKey {
            arn,
            key_id,
            region,
            account,
            spec,
        });
    }

    /// Finds a key by id, key ARN, alias name or alias ARN. Missing keys resolve to None.
    pub fn resolve(&self, id: &str) -> Option<&KmsKey> {
        let resource = parse_arn(id).map_or(id, |(_, _, r)| r);
        self.keys
            .iter()
            .find(|k| {
                k.arn == id
                    || k.key_id == resource.strip_prefix("key/").unwrap_or(resource)
                    || k.spec.aliases.iter().any(|a| a == resource)
            })
            .filter(|k| k.spec.state != KeyState::Missing)
    }
}

pub(crate) fn json_response(status: StatusCode, v: &Value) -> Resp {
    response(status, "application/x-amz-json-1.1", v.to_string())
}

pub(crate) fn kms_error(status: StatusCode, kind: &str, message: &str) -> Resp {
    let mut r = json_response(status, &json!({"__type": kind, "message": message}));
    if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// The operation for an `X-Amz-Target`, if implemented.
pub(crate) fn kms_op(target: &str) -> Option<Op> {
    match target {
        "TrentService.DescribeKey" => Some(Op::KmsDescribeKey),
        "TrentService.GetKeyRotationStatus" => Some(Op::KmsGetKeyRotationStatus),
        "TrentService.ListAliases" => Some(Op::KmsListAliases),
        "TrentService.GetKeyPolicy" => Some(Op::KmsGetKeyPolicy),
        _ => None,
    }
}

fn not_found(id: &str) -> Resp {
    kms_error(
        StatusCode::BAD_REQUEST,
        "NotFoundException",
        &format!("Key '{id}' does not exist"),
    )
}

pub(crate) fn dispatch(kms: &Kms, op: Op, body: &[u8]) -> Resp {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => {
                return kms_error(
                    StatusCode::BAD_REQUEST,
                    "SerializationException",
                    "request body is not JSON",
                );
            }
        }
    };
    let key_id = input.get("KeyId").and_then(Value::as_str);
    match op {
        Op::KmsGetKeyPolicy => {
            let Some(k) = key_id.and_then(|id| kms.resolve(id)) else {
                return not_found(key_id.unwrap_or_default());
            };
            let policy = k.spec.policy.clone().unwrap_or_else(|| {
                // KMS's default key policy: the account root may do everything, which
                // delegates to the account's IAM policies.
                json!({
                    "Version": "2012-10-17",
                    "Id": "key-default-1",
                    "Statement": [{
                        "Sid": "Enable IAM User Permissions",
                        "Effect": "Allow",
                        "Principal": {"AWS": format!("arn:aws:iam::{}:root", k.account)},
                        "Action": "kms:*",
                        "Resource": "*"
                    }]
                })
                .to_string()
            });
            json_response(
                StatusCode::OK,
                &json!({"Policy": policy, "PolicyName": "default"}),
            )
        }
        Op::KmsDescribeKey | Op::KmsGetKeyRotationStatus => {
            let Some(id) = key_id else {
                return kms_error(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
                );
            };
            let Some(k) = kms.resolve(id) else {
                return not_found(id);
            };
            if op == Op::KmsDescribeKey {
                json_response(StatusCode::OK, &json!({"KeyMetadata": metadata(k)}))
            } else if k.spec.state == KeyState::PendingDeletion {
                kms_error(
                    StatusCode::BAD_REQUEST,
                    "KMSInvalidStateException",
                    &format!("{} is pending deletion.", k.arn),
                )
            } else {
                let on = k.spec.rotation || k.spec.manager == KeyManager::Aws;
                let mut out = json!({"KeyRotationEnabled": on, "KeyId": k.arn});
                if on {
                    out["RotationPeriodInDays"] = json!(365);
                }
                json_response(StatusCode::OK, &out)
            }
        }
        Op::KmsListAliases => {
            let keys: Vec<&KmsKey> = match key_id {
                Some(id) => match kms.resolve(id) {
                    Some(k) => vec![k],
                    None => return not_found(id),
                },
                None => kms
                    .keys
                    .iter()
                    .filter(|k| k.spec.state != KeyState::Missing)
                    .collect(),
            };
            let mut all: Vec<Value> = Vec::new();
            for k in keys {
                for a in &k.spec.aliases {
                    all.push(json!({
                        "AliasName": a,
                        "AliasArn": format!("arn:aws:kms:{}:{}:{a}", k.region, k.account),
                        "TargetKeyId": k.key_id,
                        "CreationDate": KEY_CREATED,
                        "LastUpdatedDate": KEY_CREATED,
                    }));
                }
            }
            let limit = input
                .get("Limit")
                .and_then(Value::as_u64)
                .unwrap_or(50)
                .clamp(1, 100) as usize;
            let start = input
                .get("Marker")
                .and_then(Value::as_str)
                .and_then(|m| m.parse::<usize>().ok())
                .unwrap_or(0);
            let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
            let truncated = start + page.len() < all.len();
            let mut out = json!({"Aliases": page, "Truncated": truncated});
            if truncated {
                out["NextMarker"] = json!((start + limit).to_string());
            }
            json_response(StatusCode::OK, &out)
        }
        _ => kms_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "unknown operation",
        ),
    }
}

fn metadata(k: &KmsKey) -> Value {
    let s = &k.spec;
    let mut m = json!({
        "AWSAccountId": k.account,
        "KeyId": k.key_id,
        "Arn": k.arn,
        "CreationDate": KEY_CREATED,
        "Enabled": s.state == KeyState::Enabled,
        "Description": s.description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": s.state.as_str(),
        "Origin": "AWS_KMS",
        "KeyManager": s.manager.as_str(),
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    });
    if s.state == KeyState::PendingDeletion {
        m["DeletionDate"] = json!(KEY_CREATED + 5 * 365 * 86_400);
        m["PendingDeletionWindowInDays"] = json!(7);
    }
    m
}

/// STS over the query protocol: the `Action` of a form body.
pub(crate) fn sts_action(body: &[u8]) -> Option<String> {
    let q = parse_query(std::str::from_utf8(body).ok()?)?;
    q.into_iter().find(|(k, _)| k == "Action").map(|(_, v)| v)
}

pub(crate) fn sts_error(status: StatusCode, code: &str, message: &str) -> Resp {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
    );
    response(status, "text/xml", body)
}

pub(crate) fn get_caller_identity(account: &str) -> Resp {
    let mut x = Xml {
        out: String::from(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">",
        ),
    };
    x.open("GetCallerIdentityResult")
        .elem("Arn", &format!("arn:aws:iam::{account}:user/fakes3"))
        .elem("UserId", "AIDAFAKES3FAKES3FAKE")
        .elem("Account", account)
        .close("GetCallerIdentityResult")
        .open("ResponseMetadata")
        .elem("RequestId", "00000000-0000-4000-8000-000000000000")
        .close("ResponseMetadata");
    response(
        StatusCode::OK,
        "text/xml",
        x.finish("GetCallerIdentityResponse"),
    )
}
