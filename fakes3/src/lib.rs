//! # fakes3
//!
//! A fast, deterministic fake of the read-only slice of S3 that s3audit uses (plus
//! `DescribeKey` / `GetKeyRotationStatus` / `ListAliases` from KMS and STS
//! `GetCallerIdentity`), for tests and benchmarks.
//!
//! * Buckets hold millions of synthetic objects computed from `(seed, index)`: memory
//!   does not grow with the object count, and [`Config::expected`] says exactly what a
//!   correct scan must count without listing anything.
//! * The wire format follows what `aws-sdk-s3` sends and parses: path-style addressing,
//!   ListObjectsV2 / ListObjects / ListObjectVersions pagination in UTF-8 byte order,
//!   HEAD with the SSE headers, 400 with no body for an SSE-C object HEADed without
//!   the customer key.
//! * Faults (503 SlowDown, 500 InternalError, TCP reset) and latency are injected per
//!   request, seeded; counters are available from [`Handle::stats`] and
//!   `GET /__fakes3/stats`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fakes3::{BucketSpec, Config, Faults, ModeMix};
//! let config = Config::new(42)
//!     .bucket(BucketSpec::new("audit-me", 10_000).versions(2).awkward(true).denied(3))
//!     .faults(Faults { slowdown_503: 0.01, ..Faults::default() });
//! let expected = config.expected("audit-me");
//! let server = fakes3::start(config).await?;
//! // point the SDK at server.endpoint() with force_path_style(true) ...
//! assert_eq!(server.stats().mutating, 0);
//! # let _ = expected; Ok(()) }
//! ```

mod config;
mod fmt;
mod hash;
mod hostile;
mod kms;
mod model;
mod s3;
mod server;
mod stats;

use std::sync::Arc;

pub use config::{
    BucketSpec, Config, DEFAULT_ACCOUNT, DefaultEncryption, Expected, Faults, KeyManager, KeyState,
    KmsKeySpec, Latency, MAX_OBJECTS, Mode, ModeCounts, ModeMix, PublicAccessBlock, SseAlgorithm,
};
pub use hostile::{ENDLESS_PREFIX, Hostile, ListingFault};
pub use model::{KeyIter, ObjectInfo, VersionInfo, awkward_keys};
pub use server::{Handle, start};
pub use stats::{FaultCounts, Op, Stats};

use model::{BucketModel, Cursor};

impl Config {
    fn model(&self, bucket: &str) -> Option<BucketModel> {
        let spec = self.buckets.iter().find(|b| b.name == bucket)?;
        BucketModel::new(spec, self.seed, &self.account_id).ok()
    }

    /// Exact counts a complete scan of `bucket` must observe (listing every key and
    /// version, HEADing each). Costs a few nanoseconds per object version.
    ///
    /// # Panics
    /// If the bucket is not in the config or its spec is invalid; see [`Config::try_expected`].
    pub fn expected(&self, bucket: &str) -> Expected {
        self.try_expected(bucket)
            .unwrap_or_else(|| panic!("fakes3: no valid bucket named {bucket:?} in the config"))
    }

    pub fn try_expected(&self, bucket: &str) -> Option<Expected> {
        Some(self.model(bucket)?.expected())
    }

    /// The keys ListObjectsV2 returns for `bucket`, in order (lazily computed).
    pub fn keys(&self, bucket: &str) -> Option<KeyIter> {
        let m = Arc::new(self.model(bucket)?);
        let cur = Cursor::seek(&m, b"");
        Some(KeyIter { model: m, cur })
    }

    /// Everything the fake will answer about one key (all versions, newest first).
    pub fn object(&self, bucket: &str, key: &str) -> Option<ObjectInfo> {
        self.model(bucket)?.object_info(key)
    }

    /// The KMS key string objects of `bucket` report when `kms_keys` is empty.
    pub fn default_kms_key(&self, bucket: &str) -> Option<String> {
        let spec = self.buckets.iter().find(|b| b.name == bucket)?;
        Some(model::default_key_arn(
            &spec.region,
            &self.account_id,
            &spec.name,
        ))
    }

    /// Checks the config the way [`start`] does.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for b in &self.buckets {
            BucketModel::new(b, self.seed, &self.account_id)?;
            if !seen.insert(&b.name) {
                return Err(format!("duplicate bucket {}", b.name));
            }
        }
        for p in [
            self.faults.slowdown_503,
            self.faults.internal_500,
            self.faults.reset,
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("fault probability {p} is not in [0, 1]"));
            }
        }
        Ok(())
    }
}
