//! IAM policy evaluation for s3audit: bucket policies, resource control policies and KMS
//! key policies, decided by *evaluating* them the way AWS documents it, never by matching
//! their text.
//!
//! Tools that decide "does this bucket refuse plain HTTP?" by matching policy text get it
//! wrong both ways: a Deny on `s3:GetObject` alone looks like a pass, a boolean `false` or
//! a lower-case condition key looks like a fail, a Deny for one principal passes, and a
//! `s3:TlsVersion` floor is taken to refuse HTTP (on plain HTTP the key is absent). This
//! crate answers general questions that rules are then built on:
//!
//! * "is every request in this class denied, and if not, which concrete request gets
//!   through?" ([`analyze::analyze`], on the classes of [`classes`]);
//! * "which principals, inside or outside an account, may perform these actions on this
//!   resource?" ([`principals::who_may`]);
//! * "what set of values do the Deny statements pin this condition key to?"
//!   ([`questions::pinned_values`]);
//! * "which statements close this gap, merged into the current document?"
//!   ([`remediation`]).
//!
//! Underneath, [`document`] parses a policy fully and refuses anything else with a
//! one-line [`PolicyError`] that says what is wrong and where; [`condition`] implements
//! every condition operator family (with `IfExists`, set operators and `Null`),
//! three-valued so that what cannot be decided stays undecided; [`actions`] is the catalog
//! of S3 actions, so "all actions" is enumerated, not guessed; [`glob`] is the one `*`/`?`
//! matcher (also behind s3audit's `--exclude`), with pattern-set questions linear in the
//! patterns. [`position`] says where each statement is in the text, for annotations that
//! point at the statement a finding is about.
//!
//! Everything here is pure (no I/O, no clock, no AWS SDK types): the same document always
//! gets the same answer, and the crate builds on its own for the fuzz target and the
//! benchmarks. Rule verdicts (pass/fail wording, severities) live in s3audit's rules.

pub mod actions;
pub mod analyze;
pub mod classes;
pub mod condition;
pub mod document;
pub mod glob;
pub mod json;
pub mod partition;
pub mod position;
pub mod principals;
pub mod questions;
pub mod remediation;

#[cfg(test)]
mod proptests;

pub use analyze::{Analysis, RequestClass, Target, analyze};
pub use document::{Policy, PolicyError, parse_policy};
pub use json::Json;
