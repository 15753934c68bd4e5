//! Plain snapshot types: what a scan observed, free of any AWS SDK type.
//!
//! `collect` fills these in, `rules` reads them, and the whole [`Estate`] round-trips through
//! JSON so that a saved snapshot can be re-evaluated offline (`s3audit evaluate`).

mod account;
mod bucket;
mod estate;
pub mod evidence;
mod finding;
mod key;
mod objects;
mod observed;
mod partition;
mod rule_id;

pub use account::{AccountInfo, AccountStatus, AttachedRcp, RcpChain};
pub use bucket::{
    BucketSnapshot, DefaultEncryption, EncryptionRule, PublicAccessBlock, SseAlgorithm, Versioning,
};
pub use estate::{
    Estate, SNAPSHOT_VERSION, ScanInfo, ScanObjectSource, ScanScope, ShardScope, bucket_regions,
};
pub use evidence::Evidence;
pub use finding::AppliedWaiver;
pub use finding::{Finding, Severity, Status};
pub use key::{KeyInfo, KeyManager, KeyRecord, KeyState};
pub use objects::{Disagreement, InventoryCheck, MAX_DISAGREEMENTS};
pub use objects::{
    MAX_UNKNOWN_VALUE_LEN, MAX_UNKNOWN_VALUES, ModeCounts, OTHER_UNKNOWN_VALUES, ObjectRecord,
    ObjectScanInfo, ObjectSource, ObjectSummary, SseMode, UnreadableObject,
};
pub use observed::Observed;
pub use partition::partition_of;
pub use rule_id::{RuleId, UnknownRule};
