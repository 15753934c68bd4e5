//! IAM bucket-policy parsing and the questions the POL rules ask of it.
//!
//! Tools that decide "does this bucket refuse plain HTTP?" by matching policy text get it
//! wrong both ways: a Deny on `s3:GetObject` alone looks like a pass, a boolean `false` or
//! a lower-case condition key looks like a fail, a Deny for one principal passes, and a
//! `s3:TlsVersion` floor is taken to refuse HTTP (on plain HTTP the key is absent). This
//! module decides by *evaluating* the policy the way AWS documents it:
//!
//! * [`document`] parses a policy fully and refuses anything else with a one-line
//!   [`PolicyError`] that says what is wrong and where;
//! * [`condition`] implements every condition operator family (with `IfExists`, set
//!   operators and `Null`), three-valued so that what cannot be decided stays undecided;
//! * [`actions`] is the catalog of S3 actions, so "all actions" is enumerated, not guessed;
//! * [`analyze`] answers whether an explicit Deny is *guaranteed* for every request in a
//!   class and, when it is not, names a concrete request that gets through;
//! * [`checks`] asks POL-001..004's questions and [`remediation`] writes the statements
//!   that close a gap, merged into the current policy.
//!
//! Everything here is pure (no I/O, no clock) and depends only on serde/serde_json and
//! thiserror, so it is also built by the fuzz target on its own.

pub mod actions;
pub mod analyze;
pub mod checks;
pub mod condition;
pub mod document;
pub mod fix;
pub mod glob;
pub mod json;
pub mod key_policy;
pub mod lockout;
pub mod rcp;
pub mod remediation;

#[cfg(test)]
mod proptests;

pub use checks::{DefaultSse, Outcome, PolicyFacts, Status, evaluate, evaluate_all};
pub use document::{Policy, PolicyError, parse_policy};
