//! Opt-in regions: whether the region a bucket is in is enabled for its account.
//!
//! Every commercial region launched since 20 March 2019 is opt-in: an account reaches it only
//! once it has enabled it. An account that disables such a region again keeps its buckets
//! there (ListBuckets, answered from us-east-1, still lists them, and GetBucketLocation names
//! the region), but every request to the region fails, since its endpoints no longer know the
//! account's credentials. Nobody, the auditor included, can read or use such a bucket until
//! the account enables the region: it is reported as skipped with the reason, neither failed
//! nor an error (the "reported, not failed").
//!
//! Whether a region is enabled is read from the Account Management API (ListRegions, for the
//! credentials' own account: the role assumed in it, in a multi-account scan) rather than
//! guessed from the errors a disabled region answers with, which look like bad credentials.
//! It is asked once per account, and only when one of its buckets is in an opt-in region, so
//! a scan of the regions every account has needs no new permission. When ListRegions is
//! refused or fails, that is recorded on the account and the bucket is read as any other: a
//! disabled region's refusals are then its errors, as they were before.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use aws_sdk_account::types::RegionOptStatus;
use tokio::sync::OnceCell;

use super::clients::Clients;
use super::errors::CallFailure;
use crate::model::{Observed, partition_of};

/// The commercial regions launched before 20 March 2019, which every account has and cannot
/// disable (ListRegions: `ENABLED_BY_DEFAULT`); every later region is opt-in. This list only
/// decides when ListRegions is asked, never its answer: a region missing from it costs one
/// call, whose answer then says the region is enabled.
const ENABLED_BY_DEFAULT: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
];

/// Whether `region` may be an opt-in region: a commercial one launched since March 2019
/// (China, GovCloud and the isolated partitions have none).
pub(crate) fn is_opt_in(region: &str) -> bool {
    partition_of(region) == "aws" && !ENABLED_BY_DEFAULT.contains(&region)
}

/// The opt-in regions of one account: read on first need, shared by all its buckets.
pub(crate) struct OptInRegions<'a> {
    clients: &'a Clients,
    /// The account the credentials belong to, for the reason a skipped bucket gives.
    account: Option<String>,
    /// Each region that is not enabled, with its status (`DISABLED`, `DISABLING`,
    /// `ENABLING`), or why that could not be read.
    statuses: OnceCell<Observed<BTreeMap<String, String>>>,
    /// The regions not enabled that buckets were found in.
    met: Mutex<BTreeSet<String>>,
}

impl<'a> OptInRegions<'a> {
    pub fn new(clients: &'a Clients, account: Option<String>) -> Self {
        OptInRegions {
            clients,
            account,
            statuses: OnceCell::new(),
            met: Mutex::default(),
        }
    }

    /// Why a bucket in `region` cannot be read, when the region is an opt-in region not
    /// enabled for the account (`region ap-east-1 is not enabled for account 111122223333
    /// (DISABLED)`); `None` when it is enabled, not opt-in, or its status is unknown.
    pub async fn not_enabled(&self, region: &str) -> Option<String> {
        if !is_opt_in(region) {
            return None;
        }
        let statuses = self
            .statuses
            .get_or_init(|| read_statuses(self.clients))
            .await;
        let status = statuses.present()?.get(region)?;
        self.met
            .lock()
            .expect("opt-in regions lock")
            .insert(region.to_string());
        let account = self
            .account
            .as_deref()
            .map_or_else(|| "this account".to_string(), |a| format!("account {a}"));
        Some(format!(
            "region {region} is not enabled for {account} ({status})"
        ))
    }

    /// What the account's entry records (`AccountInfo::disabled_regions`): the regions not
    /// enabled that its buckets are in, or why their status is unknown; `None` when no
    /// bucket was in an opt-in region (nothing was asked).
    pub fn outcome(&self) -> Option<Observed<Vec<String>>> {
        let met = || {
            let met = self.met.lock().expect("opt-in regions lock");
            met.iter().cloned().collect()
        };
        Some(self.statuses.get()?.clone().map(|_| met()))
    }
}

/// The account's regions that are not enabled (ListRegions, filtered to those statuses
/// by the service and checked again here).
async fn read_statuses(clients: &Clients) -> Observed<BTreeMap<String, String>> {
    let not_enabled = [
        RegionOptStatus::Disabled,
        RegionOptStatus::Disabling,
        RegionOptStatus::Enabling,
    ];
    let mut pages = clients
        .account()
        .list_regions()
        .set_region_opt_status_contains(Some(not_enabled.to_vec()))
        .into_paginator()
        .send();
    let mut statuses = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                let unknown = CallFailure::from_sdk(e).into_observed("ListRegions", &[]);
                if let Some(why) = unknown.unknown_reason() {
                    tracing::warn!(
                        "opt-in regions' status not read ({why}): buckets there are read as any other"
                    );
                }
                return unknown;
            }
        };
        for region in page.regions() {
            if let (Some(name), Some(status)) = (region.region_name(), region.region_opt_status())
                && not_enabled.contains(status)
            {
                statuses.insert(name.to_string(), status.as_str().to_string());
            }
        }
    }
    Observed::Present(statuses)
}

#[cfg(test)]
mod tests {
    use super::is_opt_in;

    #[test]
    fn only_commercial_regions_launched_since_march_2019_are_opt_in() {
        for opt_in in [
            "ap-east-1",
            "me-south-1",
            "af-south-1",
            "eu-south-2",
            "il-central-1",
        ] {
            assert!(is_opt_in(opt_in), "{opt_in}");
        }
        for default in ["us-east-1", "eu-north-1", "ap-northeast-3", "sa-east-1"] {
            assert!(!is_opt_in(default), "{default}");
        }
        for other in [
            "cn-north-1",
            "cn-northwest-1",
            "us-gov-west-1",
            "us-iso-east-1",
        ] {
            assert!(!is_opt_in(other), "{other}");
        }
    }
}
