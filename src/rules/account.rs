//! ACC-001: every account a multi-account scan was asked to cover could be scanned. An
//! account whose role could not be assumed, or whose bucket listing was refused, has no
//! buckets in the snapshot, so no bucket rule can speak for it: this is its one finding,
//! an `error` (unknown, never a pass), and the scan is incomplete (exit 3).

use crate::model::evidence::AccountNotScanned;
use crate::model::{AccountStatus, Estate, Finding, RuleId, partition_of};

use super::{Verdict, finding_on};

/// One `error` finding per account in error, on the account's root ARN in the scan's
/// partition. Scanned and skipped accounts have none (a skipped account is listed in the
/// report's `accounts`, not judged).
pub fn findings(estate: &Estate) -> Vec<Finding> {
    let partition = partition_of(&estate.scan.region);
    estate
        .scan
        .accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Error)
        .map(|a| {
            let id = a.id.clone().unwrap_or_default();
            let reason = a
                .error
                .clone()
                .unwrap_or_else(|| "no reason recorded".into());
            let verdict = Verdict::error(format!(
                "account {id} was not scanned: {reason}; its buckets are unknown"
            ))
            .with_evidence(AccountNotScanned {
                account: id.clone(),
                name: a.name.clone(),
                ou_path: a.ou_path.clone(),
                reason,
            });
            Finding {
                account: Some(id.clone()),
                ..finding_on(
                    RuleId::Acc001,
                    format!("arn:{partition}:iam::{id}:root"),
                    None,
                    verdict,
                )
            }
        })
        .collect()
}
