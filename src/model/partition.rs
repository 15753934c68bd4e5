//! The AWS partition of a region, derived in one place (the policy engine's
//! `s3audit_policy::partition`, which also builds its probe principals with it): every ARN
//! s3audit writes (a finding's resource, the resources of remediation statements and
//! counterexamples, the principals of counterexamples) names the partition of the bucket it
//! is about, so a GovCloud or China estate's findings point at ARNs that exist there.

pub use s3audit_policy::partition::partition_of;
