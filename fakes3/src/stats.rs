//! Lock-free request counters, snapshotted into [`Stats`].

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// The read operations the fake implements. Anything else is counted as mutating
/// (PUT/DELETE/POST/PATCH to S3) or unknown (other S3 reads, other KMS targets, other
/// STS actions, other methods).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    ListBuckets,
    HeadBucket,
    GetBucketLocation,
    GetBucketEncryption,
    GetBucketPolicy,
    GetBucketVersioning,
    GetPublicAccessBlock,
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    HeadObject,
    /// Only the one-byte ranged GET s3audit sends to confirm an SSE-C object.
    GetObject,
    KmsDescribeKey,
    KmsGetKeyRotationStatus,
    KmsListAliases,
    KmsGetKeyPolicy,
    StsGetCallerIdentity,
}

impl Op {
    pub const ALL: [Op; 17] = [
        Op::ListBuckets,
        Op::HeadBucket,
        Op::GetBucketLocation,
        Op::GetBucketEncryption,
        Op::GetBucketPolicy,
        Op::GetBucketVersioning,
        Op::GetPublicAccessBlock,
        Op::ListObjects,
        Op::ListObjectsV2,
        Op::ListObjectVersions,
        Op::HeadObject,
        Op::GetObject,
        Op::KmsDescribeKey,
        Op::KmsGetKeyRotationStatus,
        Op::KmsListAliases,
        Op::KmsGetKeyPolicy,
        Op::StsGetCallerIdentity,
    ];

    /// The name used in [`Stats::operations`]: the S3 operation name, the KMS
    /// `X-Amz-Target` (`TrentService.DescribeKey`), or the STS action.
    pub fn name(self) -> &'static str {
        match self {
            Op::ListBuckets => "ListBuckets",
            Op::HeadBucket => "HeadBucket",
            Op::GetBucketLocation => "GetBucketLocation",
            Op::GetBucketEncryption => "GetBucketEncryption",
            Op::GetBucketPolicy => "GetBucketPolicy",
            Op::GetBucketVersioning => "GetBucketVersioning",
            Op::GetPublicAccessBlock => "GetPublicAccessBlock",
            Op::ListObjects => "ListObjects",
            Op::ListObjectsV2 => "ListObjectsV2",
            Op::ListObjectVersions => "ListObjectVersions",
            Op::HeadObject => "HeadObject",
            Op::GetObject => "GetObject",
            Op::KmsDescribeKey => "TrentService.DescribeKey",
            Op::KmsGetKeyRotationStatus => "TrentService.GetKeyRotationStatus",
            Op::KmsListAliases => "TrentService.ListAliases",
            Op::KmsGetKeyPolicy => "TrentService.GetKeyPolicy",
            Op::StsGetCallerIdentity => "GetCallerIdentity",
        }
    }

    /// Object listings and HEAD: the operations faults apply to by default.
    pub fn is_object_data(self) -> bool {
        matches!(
            self,
            Op::ListObjects
                | Op::ListObjectsV2
                | Op::ListObjectVersions
                | Op::HeadObject
                | Op::GetObject
        )
    }

    fn index(self) -> usize {
        Op::ALL.iter().position(|&o| o == self).unwrap_or(0)
    }
}

/// A snapshot of the counters (also served as JSON at `GET /__fakes3/stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every request except `/__fakes3/...`.
    pub requests: u64,
    /// Requests per implemented operation name (non-zero entries only), faulted ones
    /// included.
    pub operations: BTreeMap<String, u64>,
    /// Requests per HTTP method.
    pub methods: BTreeMap<String, u64>,
    /// Responses per status code (resets not included).
    pub statuses: BTreeMap<String, u64>,
    /// PUT / DELETE / POST / PATCH requests to S3 paths.
    pub mutating: u64,
    /// Requests for anything not implemented: other S3 reads (e.g. GetObject, ?acl),
    /// other KMS targets, other STS actions, other methods.
    pub unknown: u64,
    pub faults: FaultCounts,
    /// The first few mutating or unknown requests, as `METHOD path?query [target]`.
    pub rejected: Vec<String>,
}

impl Stats {
    /// Count for an operation name such as `"HeadObject"` or `"TrentService.DescribeKey"`.
    pub fn op(&self, name: &str) -> u64 {
        self.operations.get(name).copied().unwrap_or(0)
    }

    pub fn status(&self, code: u16) -> u64 {
        self.statuses.get(&code.to_string()).copied().unwrap_or(0)
    }

    /// No mutating and no unknown request reached the server.
    pub fn read_only(&self) -> bool {
        self.mutating == 0 && self.unknown == 0
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    pub slowdown_503: u64,
    pub internal_500: u64,
    pub reset: u64,
    /// 503 SlowDown answers to object reads above `Config::head_rate_per_prefix` (also
    /// counted in `statuses`, not in `slowdown_503`, which counts injected faults).
    #[serde(default)]
    pub rate_limited: u64,
}

const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OTHER"];
const STATUSES: [u16; 11] = [200, 204, 301, 400, 403, 404, 405, 409, 500, 501, 503];
const MAX_SAMPLES: usize = 32;

#[derive(Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    ops: [AtomicU64; Op::ALL.len()],
    methods: [AtomicU64; METHODS.len()],
    statuses: [AtomicU64; STATUSES.len() + 1],
    mutating: AtomicU64,
    unknown: AtomicU64,
    slowdown: AtomicU64,
    internal: AtomicU64,
    reset: AtomicU64,
    rate_limited: AtomicU64,
    samples: Mutex<Vec<String>>,
}

pub(crate) enum FaultKind {
    SlowDown,
    Internal,
    Reset,
}

impl Counters {
    pub fn request(&self, method: &str) {
        self.requests.fetch_add(1, Relaxed);
        let i = METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(METHODS.len() - 1);
        self.methods[i].fetch_add(1, Relaxed);
    }

    pub fn op(&self, op: Op) {
        self.ops[op.index()].fetch_add(1, Relaxed);
    }

    pub fn status(&self, code: u16) {
        let i = STATUSES
            .iter()
            .position(|&s| s == code)
            .unwrap_or(STATUSES.len());
        self.statuses[i].fetch_add(1, Relaxed);
    }

    pub fn fault(&self, kind: &FaultKind) {
        match kind {
            FaultKind::SlowDown => &self.slowdown,
            FaultKind::Internal => &self.internal,
            FaultKind::Reset => &self.reset,
        }
        .fetch_add(1, Relaxed);
    }

    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Relaxed);
    }

    pub fn rejected(&self, mutating: bool, what: String) {
        if mutating {
            self.mutating.fetch_add(1, Relaxed);
        } else {
            self.unknown.fetch_add(1, Relaxed);
        }
        let mut s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() < MAX_SAMPLES {
            s.push(what);
        }
    }

    pub fn snapshot(&self) -> Stats {
        let get = |a: &AtomicU64| a.load(Relaxed);
        let nonzero = |pairs: Vec<(String, u64)>| -> BTreeMap<String, u64> {
            pairs.into_iter().filter(|(_, v)| *v > 0).collect()
        };
        Stats {
            requests: get(&self.requests),
            operations: nonzero(
                Op::ALL
                    .iter()
                    .map(|o| (o.name().to_owned(), get(&self.ops[o.index()])))
                    .collect(),
            ),
            methods: nonzero(
                METHODS
                    .iter()
                    .zip(&self.methods)
                    .map(|(m, a)| ((*m).to_owned(), get(a)))
                    .collect(),
            ),
            statuses: nonzero(
                STATUSES
                    .iter()
                    .map(|s| s.to_string())
                    .chain(std::iter::once("other".to_owned()))
                    .zip(&self.statuses)
                    .map(|(s, a)| (s, get(a)))
                    .collect(),
            ),
            mutating: get(&self.mutating),
            unknown: get(&self.unknown),
            faults: FaultCounts {
                slowdown_503: get(&self.slowdown),
                internal_500: get(&self.internal),
                reset: get(&self.reset),
                rate_limited: get(&self.rate_limited),
            },
            rejected: self
                .samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    pub fn reset(&self) {
        let all = [
            &self.requests,
            &self.mutating,
            &self.unknown,
            &self.slowdown,
            &self.internal,
            &self.reset,
            &self.rate_limited,
        ];
        for a in all
            .into_iter()
            .chain(&self.ops)
            .chain(&self.methods)
            .chain(&self.statuses)
        {
            a.store(0, Relaxed);
        }
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
