//! KMS key resolution: every key reference (alias, bare id, ARN) is canonicalised through
//! DescribeKey once and cached, so the estate holds one record per real key however many
//! buckets and objects name it, and however each of them spells it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::clients::Clients;
use super::errors::{CallFailure, observe};
use super::listing::{Cursor, Pages};
use crate::model::{KeyInfo, KeyManager, KeyRecord, KeyState, Observed};
use crate::rules::arn_region;

/// KMS answers NotFoundException for keys and aliases that do not exist.
const NOT_FOUND: &[&str] = &["NotFoundException"];

/// Reference as written → the cell holding its record id once resolved.
type ByReference = HashMap<String, Arc<OnceCell<String>>>;

pub struct KeyResolver {
    clients: Arc<Clients>,
    /// region → reference as written → record id, resolved at most once even under
    /// concurrency. Nested so that the per-object lookup borrows instead of allocating.
    resolved: Mutex<HashMap<String, ByReference>>,
    records: Mutex<BTreeMap<String, KeyRecord>>,
}

impl KeyResolver {
    pub fn new(clients: Arc<Clients>) -> Self {
        KeyResolver {
            clients,
            resolved: Mutex::default(),
            records: Mutex::default(),
        }
    }

    /// Resolves `reference` as S3 would for a bucket in `bucket_region` (an ARN names its
    /// own region; aliases and bare ids are looked up in the bucket's) and returns the id
    /// of its record.
    pub async fn resolve(&self, reference: &str, bucket_region: &str) -> String {
        let region = arn_region(reference).unwrap_or(bucket_region);
        let cell = {
            let mut map = self.resolved.lock().expect("key cache lock");
            match map.get(region).and_then(|refs| refs.get(reference)) {
                Some(cell) => cell.clone(),
                None => map
                    .entry(region.to_string())
                    .or_default()
                    .entry(reference.to_string())
                    .or_default()
                    .clone(),
            }
        };
        // Boxed: DescribeKey's future (the SDK's) is ~7 KB and runs once per key, while
        // this future is part of every object's HEAD task; inline, it made each task ~8 KB
        // (malloc and memcpy of those were ~15 % of a scan's CPU).
        cell.get_or_init(|| Box::pin(self.describe(region.to_string(), reference.to_string())))
            .await
            .clone()
    }

    /// Every record resolved so far (the resolver is left empty).
    pub fn take_records(&self) -> BTreeMap<String, KeyRecord> {
        std::mem::take(&mut *self.records.lock().expect("key records lock"))
    }

    async fn describe(&self, region: String, reference: String) -> String {
        let kms = self.clients.kms(&region);
        let described = kms.describe_key().key_id(&reference).send().await;
        let meta = match described {
            Ok(out) => out.key_metadata,
            Err(e) => {
                let info: Observed<KeyInfo> =
                    CallFailure::from_sdk(e).into_observed("DescribeKey", NOT_FOUND);
                return self.insert_unresolved(&region, &reference, info);
            }
        };
        let Some(meta) = meta.filter(|m| m.arn.is_some()) else {
            let info = Observed::Failed {
                reason: "DescribeKey returned no key metadata".to_string(),
            };
            return self.insert_unresolved(&region, &reference, info);
        };
        let arn = meta.arn.clone().unwrap_or_default();
        if let Some(existing) = self.records.lock().expect("key records lock").get_mut(&arn) {
            // Another spelling of a key already described.
            if !existing.references.contains(&reference) {
                existing.references.push(reference);
            }
            return arn;
        }
        let state = meta
            .key_state
            .as_ref()
            .map(|s| KeyState::parse(s.as_str()))
            .unwrap_or(KeyState::Unknown);
        let spec = meta
            .key_spec
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "SYMMETRIC_DEFAULT".to_string());
        let origin = meta
            .origin
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "AWS_KMS".to_string());
        let mut info = KeyInfo {
            arn: arn.clone(),
            key_id: meta.key_id.clone(),
            account: meta.aws_account_id.clone(),
            state,
            manager: match meta.key_manager.as_ref().map(|m| m.as_str()) {
                Some("AWS") => KeyManager::Aws,
                _ => KeyManager::Customer,
            },
            spec,
            origin,
            deletion_date: meta
                .deletion_date
                .and_then(|d| time::OffsetDateTime::from_unix_timestamp(d.secs()).ok()),
            rotation: Observed::Absent,
            aliases: Observed::Absent,
            policy: None,
        };
        // Rotation is only judged for enabled keys that can rotate; other states make KMS
        // answer KMSInvalidStateException, which would read as an incomplete scan.
        if info.state == KeyState::Enabled && info.can_rotate() {
            info.rotation = observe(
                "GetKeyRotationStatus",
                kms.get_key_rotation_status().key_id(&arn).send().await,
                &[],
            )
            .map(|o| o.key_rotation_enabled);
        }
        info.aliases = self.aliases(&kms, &info.key_id).await;
        // The key policy decides who may decrypt with the key and who may destroy it
        // (KMS-004, KMS-005). `default` is the only policy name KMS has.
        info.policy = Some(
            observe(
                "GetKeyPolicy",
                kms.get_key_policy()
                    .key_id(&arn)
                    .policy_name("default")
                    .send()
                    .await,
                &[],
            )
            .map(|o| o.policy.unwrap_or_default()),
        );
        if reference.contains("alias/")
            && let Observed::Present(aliases) = &mut info.aliases
        {
            // DescribeKey just proved the alias points here, even if ListAliases is stale.
            let name = &reference[reference.find("alias/").unwrap_or(0)..];
            if !aliases.iter().any(|a| a == name) {
                aliases.push(name.to_string());
            }
        }
        let record = KeyRecord {
            id: arn.clone(),
            region: arn_region(&arn).unwrap_or(&region).to_string(),
            references: vec![reference],
            info: Observed::Present(info),
        };
        let mut records = self.records.lock().expect("key records lock");
        match records.get_mut(&arn) {
            // Two spellings raced; keep the first record and note this spelling.
            Some(existing) => {
                for r in record.references {
                    if !existing.references.contains(&r) {
                        existing.references.push(r);
                    }
                }
            }
            None => {
                records.insert(arn.clone(), record);
            }
        }
        arn
    }

    /// Every alias of the key, page by page: a page that loops or is truncated without a
    /// marker leaves the aliases unknown (the key record then says why) rather than short.
    async fn aliases(&self, kms: &aws_sdk_kms::Client, key_id: &str) -> Observed<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = Pages::new("ListAliases");
        let mut marker: Option<String> = None;
        loop {
            let page = match kms
                .list_aliases()
                .key_id(key_id)
                .set_marker(marker.take())
                .send()
                .await
            {
                Ok(page) => page,
                Err(e) => return CallFailure::from_sdk(e).into_observed("ListAliases", &[]),
            };
            let entries = page.aliases().len();
            names.extend(
                page.aliases
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|a| a.alias_name),
            );
            let next = page.next_marker.map(Cursor::Token);
            match pages.next(Some(page.truncated), next, entries) {
                Ok(Some(Cursor::Token(m))) => marker = Some(m),
                Ok(_) => return Observed::Present(names),
                Err(reason) => return Observed::Failed { reason },
            }
        }
    }

    fn insert_unresolved(&self, region: &str, reference: &str, info: Observed<KeyInfo>) -> String {
        let id = if reference.starts_with("arn:") {
            reference.to_string()
        } else {
            format!("{region}/{reference}")
        };
        let mut records = self.records.lock().expect("key records lock");
        records.entry(id.clone()).or_insert_with(|| KeyRecord {
            id: id.clone(),
            region: region.to_string(),
            references: vec![reference.to_string()],
            info,
        });
        id
    }
}
