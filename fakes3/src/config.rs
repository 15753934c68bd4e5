//! Public configuration: what the fake serves. Every field is plain data, so a test can
//! build a `Config`, start a server from it and ask the same `Config` what to expect.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::hostile::Hostile;

/// The account every ARN, owner and `GetCallerIdentity` answer uses by default.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// Largest object count a bucket can hold: synthetic keys carry a 10-digit index.
pub const MAX_OBJECTS: u64 = 9_999_999_999;

/// Everything the fake serves, deterministic from `seed`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Seed for every synthetic attribute (modes, keys, sizes, ETags, version ids, faults).
    pub seed: u64,
    pub buckets: Vec<BucketSpec>,
    pub faults: Faults,
    pub latency: Latency,
    /// KMS keys with non-default properties. Any key a bucket references that is not
    /// listed here exists as Enabled, customer-managed, symmetric, rotation on.
    pub kms_keys: Vec<KmsKeySpec>,
    /// Account id for ARNs, owners and STS `GetCallerIdentity`.
    pub account_id: String,
    /// Address to bind; `127.0.0.1:0` (an ephemeral port) by default.
    pub bind: SocketAddr,
    /// How far the fake's clock is ahead of the machine's, in seconds (negative: behind).
    /// Like S3, the fake states its time in `Date` and refuses S3 requests whose
    /// `x-amz-date` is more than 15 minutes away from it (403 `RequestTimeTooSkewed`), so
    /// a client with a wrong clock can be tested.
    #[serde(default)]
    pub clock_offset_secs: i64,
    /// Misbehaviour layered over the honest answers (none by default): see [`Hostile`].
    #[serde(default)]
    pub hostile: Hostile,
    /// Delay of every object listing page (ListObjectsV2, ListObjects, ListObjectVersions)
    /// in milliseconds, in place of `latency` for those calls: S3 takes tens of ms per
    /// page of 1,000 keys, so one listing stream tops out near 10,000 keys/s. 0 (the
    /// library's default, which keeps tests fast): listings wait `latency` like any call.
    #[serde(default)]
    pub list_page_ms: u64,
    /// S3's per-prefix request rate for object reads (HEAD and GET Object), per second:
    /// above it, the prefix answers 503 SlowDown. A prefix is the key up to and including
    /// its first `/` (`""` for keys without one), per bucket; each has a token bucket
    /// refilled at this rate holding at most a twentieth of a second's worth (at least
    /// one). `None`: no limit. Checked after the latency delay, so a refused request
    /// costs its round trip as on S3.
    #[serde(default)]
    pub head_rate_per_prefix: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 0,
            buckets: Vec::new(),
            faults: Faults::default(),
            latency: Latency::default(),
            kms_keys: Vec::new(),
            account_id: DEFAULT_ACCOUNT.to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock_offset_secs: 0,
            hostile: Hostile::default(),
            list_page_ms: 0,
            head_rate_per_prefix: None,
        }
    }
}

impl Config {
    pub fn new(seed: u64) -> Self {
        Config {
            seed,
            ..Config::default()
        }
    }

    pub fn bucket(mut self, spec: BucketSpec) -> Self {
        self.buckets.push(spec);
        self
    }

    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub fn latency(mut self, latency: Latency) -> Self {
        self.latency = latency;
        self
    }

    pub fn kms_key(mut self, key: KmsKeySpec) -> Self {
        self.kms_keys.push(key);
        self
    }

    pub fn hostile(mut self, hostile: Hostile) -> Self {
        self.hostile = hostile;
        self
    }

    pub fn list_page_ms(mut self, ms: u64) -> Self {
        self.list_page_ms = ms;
        self
    }

    pub fn head_rate_per_prefix(mut self, per_second: u32) -> Self {
        self.head_rate_per_prefix = Some(per_second);
        self
    }

    pub fn clock_offset_secs(mut self, secs: i64) -> Self {
        self.clock_offset_secs = secs;
        self
    }
}

/// One synthetic bucket. Build with [`BucketSpec::new`] and adjust fields.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BucketSpec {
    pub name: String,
    /// `us-east-1` answers an empty `LocationConstraint`, as AWS does.
    pub region: String,
    /// Number of keys (objects), including the awkward ones when `awkward_keys` is set.
    pub objects: u64,
    /// Versions per object. `> 1` makes the bucket versioned: the newest version is
    /// current, the older ones noncurrent. `1` is an unversioned bucket.
    pub versions: u32,
    /// Weights of the object encryption modes.
    pub mix: ModeMix,
    /// ARNs (or bare key ids / aliases, to mimic servers that echo those) used for
    /// SSE-KMS and DSSE-KMS objects, picked per object version. Empty: one key with an
    /// id derived from the bucket name, in the bucket's region.
    pub kms_keys: Vec<String>,
    /// Include hand-picked hostile keys: spaces, `+`, `%`, unicode (NFC and NFD), XML
    /// metacharacters, `?` and `#`, dot segments, `//`, a leading `/`, trailing-slash
    /// "folders", deep prefixes, a 1,000-byte key. See [`awkward_keys`](crate::awkward_keys).
    pub awkward_keys: bool,
    /// Objects (spread evenly over the key space) whose HEAD always answers 403.
    pub denied_keys: u64,
    /// Objects (spread evenly) whose latest version is a delete marker: absent from
    /// ListObjects(V2), their versions all noncurrent. Only for versioned buckets.
    pub delete_markers: u64,
    /// SSE-KMS objects report `x-amz-server-side-encryption-bucket-key-enabled: true`.
    pub bucket_key: bool,
    /// Some objects are STANDARD_IA / INTELLIGENT_TIERING / GLACIER_IR (else all STANDARD).
    pub storage_classes: bool,
    /// Default encryption (`GetBucketEncryption`); `None` answers 404
    /// `ServerSideEncryptionConfigurationNotFoundError`.
    pub default_encryption: Option<DefaultEncryption>,
    /// Bucket policy JSON (`GetBucketPolicy`); `None` answers 404 `NoSuchBucketPolicy`.
    pub policy: Option<String>,
    /// `None` answers 404 `NoSuchPublicAccessBlockConfiguration`.
    pub public_access_block: Option<PublicAccessBlock>,
    /// Operation names (e.g. `"GetBucketPolicy"`, `"ListObjectsV2"`) that answer 403
    /// AccessDenied on this bucket.
    pub denied_operations: Vec<String>,
    /// Spread the synthetic keys over this many first-level prefixes of uneven size,
    /// `pGGGGG/NNNNNNNNNN.bin` (a seeded Zipf-like share each; some may be empty). 0: the
    /// one-prefix layout `data/GGGGGGG/NNNNNNNNNN.bin`.
    #[serde(default)]
    pub prefixes: u32,
    /// Serve exactly these keys (sorted, deduplicated) instead of synthetic ones; set
    /// with [`BucketSpec::keys`], which also sets `objects`. For tests with hand-made or
    /// random key sets; attributes are derived per key index as for any object.
    #[serde(default)]
    pub keys: Vec<String>,
}

impl BucketSpec {
    /// `objects` unversioned objects in us-east-1 with the default [`ModeMix`].
    pub fn new(name: impl Into<String>, objects: u64) -> Self {
        BucketSpec {
            name: name.into(),
            region: "us-east-1".to_owned(),
            objects,
            versions: 1,
            mix: ModeMix::default(),
            kms_keys: Vec::new(),
            awkward_keys: false,
            denied_keys: 0,
            delete_markers: 0,
            bucket_key: false,
            storage_classes: false,
            default_encryption: None,
            policy: None,
            public_access_block: None,
            denied_operations: Vec::new(),
            prefixes: 0,
            keys: Vec::new(),
        }
    }

    /// Spreads the synthetic keys over `n` first-level prefixes of uneven size.
    pub fn prefixes(mut self, n: u32) -> Self {
        self.prefixes = n;
        self
    }

    /// Serves exactly these keys (duplicates merged); `objects` becomes their count.
    pub fn keys<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        let set: std::collections::BTreeSet<String> = keys.into_iter().map(Into::into).collect();
        self.objects = set.len() as u64;
        self.keys = set.into_iter().collect();
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    pub fn versions(mut self, versions: u32) -> Self {
        self.versions = versions;
        self
    }

    pub fn mix(mut self, mix: ModeMix) -> Self {
        self.mix = mix;
        self
    }

    pub fn kms_keys<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.kms_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    pub fn awkward(mut self, yes: bool) -> Self {
        self.awkward_keys = yes;
        self
    }

    pub fn denied(mut self, n: u64) -> Self {
        self.denied_keys = n;
        self
    }

    pub fn delete_markers(mut self, n: u64) -> Self {
        self.delete_markers = n;
        self
    }

    pub fn default_encryption(mut self, enc: DefaultEncryption) -> Self {
        self.default_encryption = Some(enc);
        self
    }

    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }
}

/// An object's encryption at rest, as HEAD reveals it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    None,
    SseS3,
    SseKms,
    DsseKms,
    SseC,
}

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::None,
        Mode::SseS3,
        Mode::SseKms,
        Mode::DsseKms,
        Mode::SseC,
    ];

    /// The `x-amz-server-side-encryption` header value, if HEAD sends one.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Mode::SseS3 => Some("AES256"),
            Mode::SseKms => Some("aws:kms"),
            Mode::DsseKms => Some("aws:kms:dsse"),
            Mode::None | Mode::SseC => None,
        }
    }

    pub fn uses_kms(self) -> bool {
        matches!(self, Mode::SseKms | Mode::DsseKms)
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::SseS3 => "sse_s3",
            Mode::SseKms => "sse_kms",
            Mode::DsseKms => "dsse_kms",
            Mode::SseC => "sse_c",
        }
    }
}

/// Relative weights of the encryption modes. Modes are assigned in blocks of
/// `total()` consecutive objects, each block holding exactly `weight` objects of each
/// mode in a seeded shuffled order: any bucket of at least `total()` objects contains
/// every mode with a positive weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeMix {
    pub none: u32,
    pub sse_s3: u32,
    pub sse_kms: u32,
    pub dsse_kms: u32,
    pub sse_c: u32,
}

impl Default for ModeMix {
    /// `none=1,sse_s3=1,sse_kms=6,dsse_kms=1,sse_c=1`.
    fn default() -> Self {
        ModeMix {
            none: 1,
            sse_s3: 1,
            sse_kms: 6,
            dsse_kms: 1,
            sse_c: 1,
        }
    }
}

impl ModeMix {
    /// Every object in one mode.
    pub fn only(mode: Mode) -> Self {
        let mut m = ModeMix {
            none: 0,
            sse_s3: 0,
            sse_kms: 0,
            dsse_kms: 0,
            sse_c: 0,
        };
        *m.weight_mut(mode) = 1;
        m
    }

    /// Equal weights for all five modes.
    pub fn uniform() -> Self {
        ModeMix {
            none: 1,
            sse_s3: 1,
            sse_kms: 1,
            dsse_kms: 1,
            sse_c: 1,
        }
    }

    pub fn weight(&self, mode: Mode) -> u32 {
        match mode {
            Mode::None => self.none,
            Mode::SseS3 => self.sse_s3,
            Mode::SseKms => self.sse_kms,
            Mode::DsseKms => self.dsse_kms,
            Mode::SseC => self.sse_c,
        }
    }

    pub fn weight_mut(&mut self, mode: Mode) -> &mut u32 {
        match mode {
            Mode::None => &mut self.none,
            Mode::SseS3 => &mut self.sse_s3,
            Mode::SseKms => &mut self.sse_kms,
            Mode::DsseKms => &mut self.dsse_kms,
            Mode::SseC => &mut self.sse_c,
        }
    }

    pub fn total(&self) -> u64 {
        Mode::ALL.iter().map(|&m| u64::from(self.weight(m))).sum()
    }
}

impl FromStr for ModeMix {
    type Err = String;

    /// `none=1,sse_s3=1,sse_kms=6,dsse_kms=1,sse_c=1`; unnamed modes get weight 0.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut m = ModeMix {
            none: 0,
            sse_s3: 0,
            sse_kms: 0,
            dsse_kms: 0,
            sse_c: 0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, w) = part
                .split_once('=')
                .ok_or_else(|| format!("expected mode=weight, got {part:?}"))?;
            let mode = Mode::ALL
                .into_iter()
                .find(|m| m.name() == name.trim())
                .ok_or_else(|| {
                    format!("unknown mode {name:?} (none, sse_s3, sse_kms, dsse_kms, sse_c)")
                })?;
            *m.weight_mut(mode) = w
                .trim()
                .parse()
                .map_err(|e| format!("bad weight in {part:?}: {e}"))?;
        }
        if m.total() == 0 {
            return Err("the mix needs at least one positive weight".into());
        }
        Ok(m)
    }
}

impl fmt::Display for ModeMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = Mode::ALL
            .iter()
            .map(|&m| format!("{}={}", m.name(), self.weight(m)))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// A bucket's default encryption rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultEncryption {
    pub algorithm: SseAlgorithm,
    /// `KMSMasterKeyID`, for `aws:kms` / `aws:kms:dsse`; `None` means the AWS-managed key.
    pub kms_key: Option<String>,
    pub bucket_key: bool,
    /// Emit `<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType>`.
    pub block_sse_c: bool,
}

impl DefaultEncryption {
    pub fn sse_s3() -> Self {
        DefaultEncryption {
            algorithm: SseAlgorithm::Aes256,
            kms_key: None,
            bucket_key: false,
            block_sse_c: false,
        }
    }

    pub fn kms(key: Option<String>) -> Self {
        DefaultEncryption {
            algorithm: SseAlgorithm::AwsKms,
            kms_key: key,
            bucket_key: false,
            block_sse_c: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseAlgorithm {
    Aes256,
    AwsKms,
    AwsKmsDsse,
}

impl SseAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            SseAlgorithm::Aes256 => "AES256",
            SseAlgorithm::AwsKms => "aws:kms",
            SseAlgorithm::AwsKmsDsse => "aws:kms:dsse",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub fn all() -> Self {
        PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }
}

/// Per-request fault probabilities. Each request draws independently (seeded by the
/// request's sequence number), so a retry can succeed: faults are transient unless a
/// probability is 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// 503 `SlowDown` (HEAD: status only).
    pub slowdown_503: f64,
    /// 500 `InternalError`.
    pub internal_500: f64,
    /// Close the connection with a TCP RST and no response.
    pub reset: f64,
    /// Apply faults to every operation (bucket configuration, ListBuckets, KMS, STS),
    /// not only to object listings and HEAD.
    pub all_operations: bool,
}

/// Delay before each answer: uniform in `[base_ms - jitter_ms, base_ms + jitter_ms]`
/// (clamped at 0), on tokio timers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub base_ms: u64,
    pub jitter_ms: u64,
}

/// A KMS key with explicit properties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKeySpec {
    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`. The same string a bucket lists in `kms_keys`.
    pub arn: String,
    pub state: KeyState,
    pub manager: KeyManager,
    pub rotation: bool,
    /// Alias names, `alias/...`.
    pub aliases: Vec<String>,
    pub description: String,
    /// The key policy JSON GetKeyPolicy answers; `None`: KMS's default key policy (the
    /// account root may do everything).
    #[serde(default)]
    pub policy: Option<String>,
}

impl KmsKeySpec {
    /// Enabled, customer-managed, rotation on, no alias.
    pub fn new(arn: impl Into<String>) -> Self {
        KmsKeySpec {
            arn: arn.into(),
            state: KeyState::Enabled,
            manager: KeyManager::Customer,
            rotation: true,
            aliases: Vec::new(),
            description: String::new(),
            policy: None,
        }
    }

    pub fn state(mut self, state: KeyState) -> Self {
        self.state = state;
        self
    }

    pub fn rotation(mut self, on: bool) -> Self {
        self.rotation = on;
        self
    }

    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    pub fn aws_managed(mut self) -> Self {
        self.manager = KeyManager::Aws;
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    /// Referenced by objects but unknown to KMS: every KMS call answers NotFoundException.
    Missing,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::Missing => "Missing",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    Customer,
    Aws,
}

impl KeyManager {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyManager::Customer => "CUSTOMER",
            KeyManager::Aws => "AWS",
        }
    }
}

/// Object tallies by encryption mode, the shape of the report's `objects` block.
/// `unreadable` counts versions whose HEAD answers 403 (their mode is not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeCounts {
    pub total: u64,
    pub none: u64,
    pub sse_s3: u64,
    pub sse_kms: u64,
    pub dsse_kms: u64,
    pub sse_c: u64,
    /// `aws:fsx` objects: the fake serves none.
    #[serde(default)]
    pub sse_fsx: u64,
    /// Objects whose encryption value is not one S3 documents: an honest fake serves none
    /// (see [`crate::Hostile`] for one that does).
    #[serde(default)]
    pub unknown: u64,
    pub unreadable: u64,
}

impl ModeCounts {
    pub fn get(&self, mode: Mode) -> u64 {
        match mode {
            Mode::None => self.none,
            Mode::SseS3 => self.sse_s3,
            Mode::SseKms => self.sse_kms,
            Mode::DsseKms => self.dsse_kms,
            Mode::SseC => self.sse_c,
        }
    }

    pub(crate) fn add(&mut self, mode: Option<Mode>) {
        self.total += 1;
        match mode {
            None => self.unreadable += 1,
            Some(Mode::None) => self.none += 1,
            Some(Mode::SseS3) => self.sse_s3 += 1,
            Some(Mode::SseKms) => self.sse_kms += 1,
            Some(Mode::DsseKms) => self.dsse_kms += 1,
            Some(Mode::SseC) => self.sse_c += 1,
        }
    }
}

/// What a complete, correct scan of one bucket must observe.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub bucket: String,
    /// Current versions: exactly the keys ListObjectsV2 returns, by mode as HEAD shows
    /// it (SSE-C = HEAD answered 400), denied ones under `unreadable`.
    pub current: ModeCounts,
    /// Noncurrent versions (ListObjectVersions `Version` entries with IsLatest=false).
    pub noncurrent: ModeCounts,
    /// Readable current SSE-KMS + DSSE-KMS objects per key string as HEAD reports it.
    pub current_kms_keys: BTreeMap<String, u64>,
    pub noncurrent_kms_keys: BTreeMap<String, u64>,
    /// Objects (keys) whose HEAD answers 403, current or not.
    pub denied_objects: u64,
    /// `DeleteMarker` entries in ListObjectVersions.
    pub delete_markers: u64,
    /// Keys in the bucket including those whose latest version is a delete marker.
    pub keys: u64,
}
