//! What each rule shows for its verdict: the `evidence` object of a finding, one type per
//! shape. Rules build these, never free-form JSON, so the JSON Schema in
//! `reports/schema.json` (generated from these types, see `s3audit schema`) describes every
//! field a report can carry, and a field renamed in code is a reviewed schema diff.
//!
//! The report keeps the shape itself, not a tag: the JSON has carried these objects since
//! schema_version 1, and a reader tells them apart by the rule id and the fields present.
//! Optional members are omitted rather than null only where earlier reports omitted them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::{KeyManager, ModeCounts, Observed, SseMode, UnreadableObject};

/// One finding's evidence.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Evidence {
    DefaultEncryption(DefaultEncryption),
    NoDefaultEncryption(NoDefaultEncryption),
    DefaultKey(DefaultKey),
    BlockedTypes(BlockedTypes),
    KeysUsable(KeysUsable),
    KeysRotate(KeysRotate),
    KeyRegion(KeyRegion),
    KeyPolicies(KeyPolicies),
    KeyPolicy(KeyPolicy),
    PolicyAnalysis(PolicyAnalysis),
    PolicyNotRead(PolicyNotRead),
    InvalidPolicy(InvalidPolicy),
    NothingToPin(NothingToPin),
    Lockout(Lockout),
    ObjectCounts(ObjectCounts),
    ObjectKeys(ObjectKeys),
    ObjectKeyHealth(ObjectKeyHealth),
    ObjectsRead(ObjectsRead),
    ObjectKeysNotRecorded(ObjectKeysNotRecorded),
    ObjectDataAge(ObjectDataAge),
    InventoryAgreement(InventoryAgreement),
    AccountNotScanned(AccountNotScanned),
    RcpCredit(RcpCredit),
    /// Nothing beyond the message (a rule that does not apply, or an error whose message
    /// is the whole story).
    Empty(Empty),
}

impl Default for Evidence {
    fn default() -> Self {
        Evidence::Empty(Empty {})
    }
}

impl Evidence {
    /// The JSON a finding carries.
    pub fn to_json(&self) -> serde_json::Value {
        // Every member is a string, number, bool, list or map with string keys, which
        // serde_json always represents.
        serde_json::to_value(self).expect("evidence is plain data")
    }
}

/// An object with no members.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Empty {}

/// ENC-001/002/004 (and ENC-003 while its key is not judged): the default encryption rule
/// S3 applies to uploads.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefaultEncryption {
    /// `SSEAlgorithm` as configured (`AES256`, `aws:kms`, `aws:kms:dsse`, or a value S3
    /// does not document, which makes the ENC rules `error`).
    pub algorithm: String,
    /// `KMSMasterKeyID` as configured: a key id, key ARN, alias name or alias ARN.
    pub kms_key_id: Option<String>,
    /// `BucketKeyEnabled` as configured.
    pub bucket_key_enabled: Option<bool>,
}

/// ENC-001/002: the bucket has no default encryption configuration.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NoDefaultEncryption {
    /// Always null: there is none.
    pub configuration: (),
}

/// ENC-003: the default KMS key, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefaultKey {
    pub algorithm: String,
    /// The key as the configuration names it.
    pub kms_key_id: String,
    /// The key's ARN, as KMS describes it.
    pub key_arn: String,
    /// Who manages the key (on a pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<KeyManager>,
    /// The configured allow-list the key is not on (on that fail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_kms_keys: Option<Vec<String>>,
}

/// ENC-005: the encryption types the bucket refuses on upload.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BlockedTypes {
    /// `BlockedEncryptionTypes` as configured; null when not set (or no configuration).
    pub blocked_encryption_types: Option<Vec<String>>,
}

/// How a bucket depends on a KMS key: the members KMS-001, KMS-002 and KMS-004/005 share.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct KeyUse {
    /// The key (its ARN when the scan resolved it).
    pub key: String,
    /// Whether the default encryption configuration names it.
    pub default: bool,
    /// How many scanned objects (current and noncurrent) it encrypts.
    pub objects: u64,
}

/// KMS-001: the state of every key the bucket depends on.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KeysUsable {
    pub keys: Vec<KeyUsable>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KeyUsable {
    #[serde(flatten)]
    pub key_use: KeyUse,
    /// The KMS key state (`Enabled`, `PendingDeletion`, …), `missing` when the key does
    /// not exist, `not yet created` for the aws/s3 key AWS creates on first use, null
    /// when it could not be described.
    pub state: Option<String>,
    /// When a key pending deletion will be deleted (present for described keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<Option<String>>,
    /// Why the key could not be described.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// KMS-002: the rotation status of every rotatable customer-managed key in use.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KeysRotate {
    pub keys: Vec<KeyRotation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KeyRotation {
    #[serde(flatten)]
    pub key_use: KeyUse,
    /// `GetKeyRotationStatus`, or why it could not be read.
    pub rotation: Observed<bool>,
}

/// KMS-003: where the default key lives against where the bucket does.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KeyRegion {
    pub kms_key_id: String,
    pub key_region: String,
    pub bucket_region: String,
}

/// KMS-004/005 on a bucket: one entry per customer-managed key whose policy was judged.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KeyPolicies {
    pub keys: Vec<KeyPolicy>,
}

/// KMS-004/005 on one key policy: who may use (KMS-004) or destroy (KMS-005) the key.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KeyPolicy {
    /// The key ARN.
    pub key: String,
    /// Whether the bucket's default configuration names the key (in a scan, not in
    /// `check-policy --kind key-policy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// Objects under the key (in a scan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
    /// KMS-004: every principal that may use the key to decrypt or grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub may_use: Option<Vec<Access>>,
    /// KMS-005: every principal that may delete, disable or re-policy the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub may_destroy: Option<Vec<Access>>,
}

/// One principal's access to a key, as the policy engine found it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Access {
    /// The principal, in words ("account 444455556666", "anonymous callers", …).
    pub who: String,
    /// Whether it is outside the key's account.
    pub external: bool,
    /// The actions it may perform, of those asked about.
    pub actions: Vec<String>,
    /// `true`: for certain; `false`: depending on conditions the analyser cannot decide.
    pub certain: bool,
    /// A request that shows it.
    pub example: String,
}

/// Whether the bucket had a policy when a POL rule judged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyPresence {
    Present,
    Absent,
    Unreadable,
}

/// POL-001 to POL-004 (and RCPs): the analyser's answer to "is every request of this class
/// denied?".
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PolicyAnalysis {
    /// The question, in words.
    pub question: String,
    pub policy: PolicyPresence,
    /// How many request kinds (action × resource × variant) were checked.
    pub checked: usize,
    /// How many of them no Deny statement is proven to refuse.
    pub not_denied: usize,
    /// The statements (Sid, or position) that deny the class.
    pub denied_by: Vec<String>,
    /// On a fail: the request variants that get through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_denied_requests: Option<Vec<String>>,
    /// On a fail: the actions not denied (the first 25).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_denied_actions: Option<Vec<String>>,
    /// How many more actions are not denied than listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_denied_actions_more: Option<usize>,
    /// On a fail: why the first gap's statements do not deny it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<Vec<String>>,
    /// On a fail: one concrete request that gets through (principal, action, resource,
    /// request context), or null when the analyser proves only that no single statement
    /// denies the class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Option<Counterexample>>,
    /// POL-004: every name of the keys uploads must be pinned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_keys: Option<Vec<String>>,
    /// POL-004: where those keys come from (configuration, bucket default, policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_from: Option<String>,
}

/// A request the policy lets through.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Counterexample {
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// The request's condition keys; null for a key the request does not carry.
    pub context: BTreeMap<String, Option<String>>,
}

/// A POL rule on a bucket whose policy could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PolicyNotRead {
    /// Always `unreadable`.
    pub policy: PolicyPresence,
    pub reason: String,
}

/// A POL rule on a policy that does not parse.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct InvalidPolicy {
    pub policy_error: String,
}

/// POL-004 when no KMS upload can succeed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NothingToPin {
    /// Always empty.
    pub allowed_keys: Vec<String>,
    /// The bucket's default encryption as the rule saw it.
    pub default_sse: String,
}

/// POL-005: whether the policy leaves any upload and read possible.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Lockout {
    pub question: String,
    /// The Deny statements that between them refuse every upload or every read.
    pub locked_by: Vec<String>,
}

/// OBJ-001, OBJ-002, OBJ-005: how many objects are in the modes the rule forbids.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ObjectCounts {
    /// Objects (current and noncurrent) in a forbidden mode.
    pub count: u64,
    /// Up to 10 of their keys.
    pub examples: Vec<String>,
    /// Encryption values S3 does not document, with how many objects reported each.
    pub unknown_values: BTreeMap<String, u64>,
    /// Every scanned object, current and noncurrent together, by mode.
    pub counts: ModeCounts,
    pub noncurrent_scanned: bool,
    /// Whether the counts come from `--sample`.
    pub sampled: bool,
    /// The rule's setting (OBJ-002: the required mode), null when it has none.
    pub criteria: Option<RequiredMode>,
}

/// OBJ-002's setting.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RequiredMode {
    pub required_mode: SseMode,
}

/// OBJ-003: the KMS keys objects use, against the default and the allowed list.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ObjectKeys {
    pub default_key: Option<String>,
    pub allowed_kms_keys: Vec<String>,
    pub keys: Vec<ObjectKey>,
    /// True when the keys come from `--verify-sample`'s HEADs of a random sample of an S3
    /// Inventory's objects, not from every object: a failure stands, a clean sample proves
    /// nothing about the objects outside it. Added within schema_version 1.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schemars(default)]
    pub sampled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ObjectKey {
    pub key: String,
    pub objects: u64,
    /// The default or an allowed key.
    pub expected: bool,
    /// Up to 3 object keys under it.
    pub examples: Option<Vec<String>>,
}

/// OBJ-004: the health of every KMS key objects use.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ObjectKeyHealth {
    pub keys: Vec<ObjectKeyProblem>,
    /// True when the keys come from `--verify-sample`'s HEADs of a random sample of an S3
    /// Inventory's objects, not from every object: a failure stands, a clean sample proves
    /// nothing about the objects outside it. Added within schema_version 1.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schemars(default)]
    pub sampled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ObjectKeyProblem {
    pub key: String,
    pub objects: u64,
    /// Why objects under the key are unreadable or about to be; null when it is enabled
    /// or its state is unknown.
    pub problem: Option<String>,
    /// Up to 3 object keys under it.
    pub examples: Option<Vec<String>>,
}

/// OBJ-006: whether every listed object was read.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ObjectsRead {
    pub listed: u64,
    pub unreadable: u64,
    /// Up to 10 objects that could not be read, with why.
    pub examples: Vec<UnreadableObject>,
    /// Why the listing stopped early, if it did.
    pub listing_error: Option<String>,
}

/// OBJ-003/004 on a bucket whose objects come from S3 Inventory, which records each
/// object's encryption mode but not its KMS key: the rule is `not_applicable`, and this
/// says how many objects it could not judge.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ObjectKeysNotRecorded {
    /// SSE-KMS and DSSE-KMS objects (current and noncurrent) whose key is unknown.
    pub kms_objects_unjudged: u64,
    /// The `manifest.json` the counts come from.
    pub manifest: String,
    /// SSE-KMS and DSSE-KMS objects `--verify-sample` HEADed whose keys raised nothing (the
    /// rule judged those); absent without a sample. Added within schema_version 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    pub sampled_kms_objects: Option<u64>,
}

/// OBJ-008: `--verify-sample`'s HEADs of random objects of an S3 Inventory, against what
/// the inventory says of them.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct InventoryAgreement {
    /// The `manifest.json` the counts come from.
    pub manifest: String,
    /// The sample and what its HEADs found.
    pub sample: super::InventoryCheck,
}

/// POL-001/002 passed by the account's resource control policies: the Deny the rule asks
/// of a bucket policy is guaranteed for every bucket of the account by the RCPs attached
/// along root → OU → account, whatever the bucket policy says.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RcpCredit {
    /// The account whose RCPs were judged.
    pub account: String,
    /// Every RCP that applies to the account, root first (`denied_by` in `analysis` names
    /// the statements that deny).
    pub policies: Vec<RcpRef>,
    /// The analyser's answer on the chain, judged for every bucket of the account.
    pub analysis: PolicyAnalysis,
}

/// One RCP, by id and where it is attached.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RcpRef {
    pub id: String,
    pub name: Option<String>,
    /// `Root`, an OU path (`Root/Prod`) or the account id.
    pub attached_to: String,
}

/// ACC-001: an account a multi-account scan could not scan, and why.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AccountNotScanned {
    /// The 12-digit account id.
    pub account: String,
    /// Its name, when Organizations or the accounts file gave one.
    pub name: Option<String>,
    /// Where it sits in the organization (`Root/Prod`), under `--organization`.
    pub ou_path: Option<String>,
    /// What refused: the AssumeRole error, or the ListBuckets refusal.
    pub reason: String,
}

/// OBJ-007: how old the inventory a bucket's object counts come from was when the scan
/// started.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ObjectDataAge {
    /// The `manifest.json` (S3 Inventory) or metadata file (metadata table) the counts
    /// come from.
    pub manifest: String,
    /// Its `creationTimestamp`, or the table snapshot's commit time (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub as_of: String,
    /// When the scan started (RFC 3339): the age is judged against it, so a saved
    /// snapshot is judged the same way later.
    #[schemars(extend("format" = "date-time"))]
    pub judged_at: String,
    /// `judged_at - as_of`, in whole seconds.
    pub age_seconds: i64,
    /// The accepted age (`--max-age`), in seconds.
    pub max_age_seconds: u64,
}

/// `From<Shape> for Evidence` for every shape, so a rule writes
/// `.with_evidence(KeyRegion { .. })`.
macro_rules! into_evidence {
    ($($shape:ident),+ $(,)?) => {
        $(impl From<$shape> for Evidence {
            fn from(shape: $shape) -> Self {
                Evidence::$shape(shape)
            }
        })+
    };
}

into_evidence!(
    DefaultEncryption,
    NoDefaultEncryption,
    DefaultKey,
    BlockedTypes,
    KeysUsable,
    KeysRotate,
    KeyRegion,
    KeyPolicies,
    KeyPolicy,
    PolicyAnalysis,
    PolicyNotRead,
    InvalidPolicy,
    NothingToPin,
    Lockout,
    ObjectCounts,
    ObjectKeys,
    ObjectKeyHealth,
    ObjectsRead,
    ObjectKeysNotRecorded,
    ObjectDataAge,
    InventoryAgreement,
    AccountNotScanned,
    RcpCredit,
    Empty,
);
