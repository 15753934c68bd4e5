//! Multi-account scans (`scan --organization`, `scan --accounts FILE`): which accounts, the
//! role assumed in each, and one estate from all of them.
//!
//! Accounts come from AWS Organizations (the tree walked from the root, or from `--ou`,
//! with ListAccountsForParent and ListOrganizationalUnitsForParent, so every account gets
//! its OU path) or from a file. Accounts not active in the organization are listed as
//! skipped. Each other account is scanned through a role assumed in it (AssumeRole, with
//! the auditor named in the session name), exactly as a single-account scan of its own
//! credentials, a bounded number of accounts at once. A role that cannot be assumed, or a
//! bucket listing the account refuses, makes the account `error` (an ACC-001 finding and a
//! gap), and the other accounts are still scanned. Only List*, Describe* and AssumeRole
//! are called.

use std::sync::Arc;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use futures::StreamExt;
use time::OffsetDateTime;

use super::errors::{CallFailure, assume_role_failure};
use super::rcps::{Node, RcpReader};
use super::{Clients, ScanError, ScanSettings, scan_with};
use crate::model::{
    AccountInfo, AccountStatus, Estate, ObjectRecord, Observed, RcpChain, partition_of,
};

/// The role assumed in every account when neither `--role-name` nor `--role-arn-template`
/// is given: the one AWS Organizations creates in every account it creates. It is an
/// administrator role; s3audit only reads through it, and a dedicated read-only role
/// (README) is what an auditor should deploy and name with `--role-name`.
pub const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";

/// How to reach the accounts of a multi-account scan.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub source: AccountSource,
    pub role: RoleChoice,
    /// `--external-id`, passed with every AssumeRole.
    pub external_id: Option<String>,
    /// Accounts scanned at once (`--account-concurrency`).
    pub concurrency: usize,
}

/// Where the accounts come from.
#[derive(Debug, Clone)]
pub enum AccountSource {
    /// `--accounts FILE`, already parsed ([`parse_accounts`]).
    Listed(Vec<AccountTarget>),
    /// `--organization`, the whole organization or the OU tree under `--ou`.
    Organization { ou: Option<String> },
}

/// Which role to assume in each account.
#[derive(Debug, Clone)]
pub enum RoleChoice {
    /// `--role-name NAME`: `arn:PARTITION:iam::ACCOUNT:role/NAME`.
    Name(String),
    /// `--role-arn-template`: `{partition}` and `{account}` replaced.
    Template(String),
}

impl RoleChoice {
    pub fn arn(&self, partition: &str, account: &str) -> String {
        match self {
            RoleChoice::Name(name) => format!("arn:{partition}:iam::{account}:role/{name}"),
            RoleChoice::Template(t) => t
                .replace("{partition}", partition)
                .replace("{account}", account),
        }
    }

    /// A template must name `{account}` (one role ARN for every account would scan one
    /// account many times) and no other placeholder than `{partition}`.
    pub fn check_template(template: &str) -> Result<(), String> {
        if !template.contains("{account}") {
            return Err(format!(
                "--role-arn-template {template:?} has no {{account}}: every account would assume the same role"
            ));
        }
        let rest = template.replace("{account}", "").replace("{partition}", "");
        if rest.contains(['{', '}']) {
            return Err(format!(
                "--role-arn-template {template:?}: only {{partition}} and {{account}} are replaced"
            ));
        }
        if !template.starts_with("arn:") {
            return Err(format!(
                "--role-arn-template {template:?} is not an ARN (arn:{{partition}}:iam::{{account}}:role/NAME)"
            ));
        }
        Ok(())
    }
}

/// One account to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTarget {
    pub id: String,
    pub name: Option<String>,
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses an accounts file: one 12-digit id per line, or CSV lines `id,name` (an `id,name`
/// header line is allowed); blank lines and lines starting with `#` are skipped. The first
/// bad line is the error, with its number: a typo must not silently drop an account.
pub fn parse_accounts(text: &str) -> Result<Vec<AccountTarget>, String> {
    let mut out: Vec<AccountTarget> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, name) = match line.split_once(',') {
            Some((id, name)) => (id.trim(), Some(name.trim().trim_matches('"').trim())),
            None => (line, None),
        };
        let id = id.trim_matches('"');
        if out.is_empty() && id.eq_ignore_ascii_case("id") {
            continue;
        }
        if !is_account_id(id) {
            return Err(format!(
                "line {n}: {:?} is not a 12-digit account id (one id per line, or id,name)",
                raw.chars().take(80).collect::<String>()
            ));
        }
        if out.iter().any(|a| a.id == id) {
            return Err(format!("line {n}: account {id} is listed twice"));
        }
        out.push(AccountTarget {
            id: id.to_string(),
            name: name.filter(|n| !n.is_empty()).map(str::to_string),
        });
    }
    if out.is_empty() {
        return Err("no account id in it".to_string());
    }
    Ok(out)
}

/// An account found in the organization, with where it sits and whether it is active.
struct Found {
    target: AccountTarget,
    ou_path: Option<String>,
    /// Why it is not scanned (not ACTIVE), if so.
    inactive: Option<String>,
    /// The RCPs along its path (`--organization` only).
    rcps: Option<Observed<RcpChain>>,
}

/// Walks the organization from its root (or from `ou`), depth first, accounts of a parent
/// before its OUs, so the order is stable, and reads the RCPs along each account's path.
async fn discover(clients: &Clients, ou: Option<&str>) -> Result<Vec<Found>, ScanError> {
    let org = clients.organizations();
    let fail = |what: &str, f: CallFailure| {
        ScanError::Organization(format!(
            "{what} failed: {f} (--organization needs the management account or a delegated administrator, and organizations:List*/Describe*)"
        ))
    };
    let roots = org
        .list_roots()
        .send()
        .await
        .map_err(|e| fail("ListRoots", CallFailure::from_sdk(e)))?;
    let root = roots
        .roots()
        .first()
        .ok_or_else(|| ScanError::Organization("ListRoots returned no root".to_string()))?;
    let root_node = Node {
        id: root.id().unwrap_or_default().to_string(),
        label: "Root".to_string(),
    };
    let mut rcps = RcpReader::new(&org, root);
    // The path from the root to where the walk starts, the root first.
    let start: Vec<Node> = match ou {
        Some(ou) => ou_path(&org, ou, root_node)
            .await
            .map_err(|f| fail("DescribeOrganizationalUnit", f))?,
        None => vec![root_node],
    };
    let mut found = Vec::new();
    let mut stack = vec![start];
    while let Some(path) = stack.pop() {
        let parent = path.last().expect("a path holds at least the root").clone();
        let mut pages = org
            .list_accounts_for_parent()
            .parent_id(&parent.id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| fail("ListAccountsForParent", CallFailure::from_sdk(e)))?;
            for a in page.accounts() {
                let Some(id) = a.id() else { continue };
                let state = a
                    .state()
                    .map(|s| s.as_str().to_string())
                    .or_else(|| a.status().map(|s| s.as_str().to_string()));
                let inactive = match state.as_deref() {
                    Some("ACTIVE") => None,
                    Some(s) => Some(format!("{s} in the organization: not scanned")),
                    None => Some("no status from Organizations: not scanned".to_string()),
                };
                let chain = match inactive {
                    Some(_) => None,
                    None => {
                        let mut account_path = path.clone();
                        account_path.push(Node {
                            id: id.to_string(),
                            label: id.to_string(),
                        });
                        Some(rcps.chain(&account_path).await)
                    }
                };
                found.push(Found {
                    target: AccountTarget {
                        id: id.to_string(),
                        name: a.name().map(str::to_string),
                    },
                    ou_path: Some(parent.label.clone()),
                    inactive,
                    rcps: chain,
                });
            }
        }
        let mut children = Vec::new();
        let mut pages = org
            .list_organizational_units_for_parent()
            .parent_id(&parent.id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| fail("ListOrganizationalUnitsForParent", CallFailure::from_sdk(e)))?;
            for unit in page.organizational_units() {
                if let Some(id) = unit.id() {
                    let name = unit.name().unwrap_or(id);
                    let mut child = path.clone();
                    child.push(Node {
                        id: id.to_string(),
                        label: format!("{}/{name}", parent.label),
                    });
                    children.push(child);
                }
            }
        }
        // Popped in listing order.
        stack.extend(children.into_iter().rev());
    }
    Ok(found)
}

/// The path from the root to an OU, the root first, each node labelled `Root/A/B`
/// (ListParents, DescribeOrganizationalUnit).
async fn ou_path(
    org: &aws_sdk_organizations::Client,
    ou: &str,
    root: Node,
) -> Result<Vec<Node>, CallFailure> {
    let mut units = Vec::new();
    let mut current = ou.to_string();
    // An organization is at most five OUs deep; the bound only stops a looping answer.
    for _ in 0..10 {
        let unit = org
            .describe_organizational_unit()
            .organizational_unit_id(&current)
            .send()
            .await
            .map_err(CallFailure::from_sdk)?;
        let name = unit
            .organizational_unit()
            .and_then(|u| u.name())
            .unwrap_or(&current)
            .to_string();
        units.push((current.clone(), name));
        let parents = org
            .list_parents()
            .child_id(&current)
            .send()
            .await
            .map_err(CallFailure::from_sdk)?;
        match parents.parents().first() {
            Some(p) if p.r#type().map(|t| t.as_str()) == Some("ORGANIZATIONAL_UNIT") => {
                current = p.id().unwrap_or_default().to_string();
            }
            _ => break,
        }
    }
    let mut path = vec![root];
    for (id, name) in units.into_iter().rev() {
        let label = format!("{}/{name}", path.last().expect("the root").label);
        path.push(Node { id, label });
    }
    Ok(path)
}

/// `s3audit-NAME`, NAME the auditor's user or role session name, in the characters and
/// length AssumeRole accepts, so CloudTrail in every account says who audited.
fn session_name(caller_arn: Option<&str>) -> String {
    let who = caller_arn
        .and_then(|arn| arn.rsplit(['/', ':']).next())
        .unwrap_or("auditor");
    let clean: String = who
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
        .collect();
    let mut name = format!("s3audit-{clean}");
    name.truncate(64);
    name
}

/// Scans every account of `accounts` and merges them into one estate: buckets and keys of
/// all accounts, each bucket naming its account, and `scan.accounts` listing every account
/// with what became of it.
pub(crate) async fn scan_accounts(
    clients: Arc<Clients>,
    settings: &ScanSettings,
    accounts: &AccountSettings,
    inventory: Option<tokio::sync::mpsc::Sender<ObjectRecord>>,
    budget: &super::Budget,
) -> Result<Estate, ScanError> {
    let started_at = OffsetDateTime::now_utc();
    let partition = partition_of(&clients.home_region);
    let (caller_account, caller_arn) = match clients.sts().get_caller_identity().send().await {
        Ok(id) => (id.account, id.arn),
        Err(e) => {
            return Err(ScanError::Credentials(format!(
                "cannot read the caller identity to assume roles from: {}",
                CallFailure::from_sdk(e)
            )));
        }
    };
    let found = match &accounts.source {
        AccountSource::Listed(list) => list
            .iter()
            .map(|t| Found {
                target: t.clone(),
                ou_path: None,
                inactive: None,
                rcps: None,
            })
            .collect(),
        AccountSource::Organization { ou } => discover(&clients, ou.as_deref()).await?,
    };
    let session = session_name(caller_arn.as_deref());
    tracing::info!(accounts = found.len(), session, "scanning accounts");
    let results: Vec<(AccountInfo, Option<Estate>)> = futures::stream::iter(found)
        .map(|f| {
            let clients = clients.clone();
            let inventory = inventory.clone();
            let session = session.clone();
            async move {
                let info = |status, error| AccountInfo {
                    id: Some(f.target.id.clone()),
                    name: f.target.name.clone(),
                    ou_path: f.ou_path.clone(),
                    status,
                    error,
                    rcps: f.rcps.clone(),
                    disabled_regions: None,
                };
                if let Some(why) = &f.inactive {
                    return Ok((info(AccountStatus::Skipped, Some(why.clone())), None));
                }
                let role = accounts.role.arn(partition, &f.target.id);
                let mut builder = aws_config::sts::AssumeRoleProvider::builder(&role)
                    .session_name(&session)
                    .configure(clients.sdk());
                if let Some(id) = &accounts.external_id {
                    builder = builder.external_id(id);
                }
                let provider = builder.build().await;
                // Assumed once now, so a refusal is this account's error before any read.
                if let Err(e) = provider.provide_credentials().await {
                    let why = format!("cannot assume {role}: {}", assume_role_failure(&e));
                    tracing::warn!("account {}: {why}", f.target.id);
                    return Ok((info(AccountStatus::Error, Some(why)), None));
                }
                let account_clients =
                    Arc::new(clients.with_credentials(SharedCredentialsProvider::new(provider)));
                match scan_with(account_clients, settings, inventory, budget).await {
                    Ok(mut estate) => {
                        for b in &mut estate.buckets {
                            b.account = Some(f.target.id.clone());
                        }
                        // What the account's own scan learnt of its opt-in regions.
                        let disabled_regions = estate
                            .scan
                            .accounts
                            .first()
                            .and_then(|a| a.disabled_regions.clone());
                        let scanned = AccountInfo {
                            disabled_regions,
                            ..info(AccountStatus::Scanned, None)
                        };
                        Ok((scanned, Some(estate)))
                    }
                    Err(
                        e @ (ScanError::ListDenied(_)
                        | ScanError::ListFailed(_)
                        | ScanError::Credentials(_)
                        | ScanError::Unreachable { .. }),
                    ) => {
                        let why = format!("through {role}: {e}");
                        tracing::warn!("account {}: {why}", f.target.id);
                        Ok((info(AccountStatus::Error, Some(why)), None))
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .buffered(accounts.concurrency.max(1))
        .collect::<Vec<Result<_, ScanError>>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(merge(
        results,
        started_at,
        caller_account,
        caller_arn,
        &clients,
        settings,
    ))
}

/// One estate of every account's: buckets in account order, keys merged (key records are
/// by ARN, which names the account), each account's own gaps prefixed with its id.
fn merge(
    results: Vec<(AccountInfo, Option<Estate>)>,
    started_at: OffsetDateTime,
    account: Option<String>,
    principal: Option<String>,
    clients: &Clients,
    settings: &ScanSettings,
) -> Estate {
    let mut buckets = Vec::new();
    let mut keys = std::collections::BTreeMap::new();
    let mut gaps = Vec::new();
    let mut infos = Vec::new();
    for (info, estate) in results {
        if let Some(estate) = estate {
            let id = info.id.clone().unwrap_or_default();
            gaps.extend(
                estate
                    .scan
                    .gaps
                    .into_iter()
                    .map(|g| format!("account {id}: {g}")),
            );
            buckets.extend(estate.buckets);
            keys.extend(estate.keys);
        }
        infos.push(info);
    }
    Estate {
        snapshot_version: crate::model::SNAPSHOT_VERSION,
        scan: crate::model::ScanInfo {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at,
            finished_at: OffsetDateTime::now_utc(),
            account,
            principal,
            endpoint: clients.endpoint_url().map(str::to_string),
            region: clients.home_region.clone(),
            objects: super::object_scan_info(settings),
            gaps,
            // Every account's scope is this one (the same settings and start region); its
            // object source and regions are the merged buckets'.
            scope: Some(super::scan_scope(settings, &buckets, &clients.home_region)),
            command_line: Some(settings.command_line.clone()),
            tool_commit: crate::provenance::tool_commit().map(str::to_string),
            accounts: infos,
        },
        buckets,
        keys,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_files_take_ids_or_id_name_and_name_the_bad_line() {
        let text = "# audit scope\nid,name\n111122223333, payments \n\n444455556666\n\"777788889999\",\"dev, sandbox\"\n";
        let got = parse_accounts(text).unwrap();
        assert_eq!(
            got.iter()
                .map(|a| (a.id.as_str(), a.name.as_deref()))
                .collect::<Vec<_>>(),
            [
                ("111122223333", Some("payments")),
                ("444455556666", None),
                ("777788889999", Some("dev, sandbox")),
            ]
        );
        let err = parse_accounts("111122223333\n12345\n").unwrap_err();
        assert!(
            err.starts_with("line 2: \"12345\" is not a 12-digit"),
            "{err}"
        );
        let err = parse_accounts("111122223333\n111122223333,again\n").unwrap_err();
        assert_eq!(err, "line 2: account 111122223333 is listed twice");
        assert!(parse_accounts("# nothing\n\n").is_err());
    }

    #[test]
    fn role_arns_follow_the_partition_and_templates_are_checked() {
        assert_eq!(
            RoleChoice::Name("Audit".into()).arn("aws-cn", "111122223333"),
            "arn:aws-cn:iam::111122223333:role/Audit"
        );
        let t = "arn:{partition}:iam::{account}:role/s3/Audit";
        assert_eq!(
            RoleChoice::Template(t.into()).arn("aws-us-gov", "111122223333"),
            "arn:aws-us-gov:iam::111122223333:role/s3/Audit"
        );
        assert!(RoleChoice::check_template(t).is_ok());
        assert!(RoleChoice::check_template("arn:aws:iam::1:role/Audit").is_err());
        assert!(RoleChoice::check_template("arn:aws:iam::{account}:role/{name}").is_err());
        assert!(RoleChoice::check_template("{account}").is_err());
    }

    #[test]
    fn the_session_name_names_the_auditor() {
        assert_eq!(
            session_name(Some("arn:aws:iam::111122223333:user/alice")),
            "s3audit-alice"
        );
        assert_eq!(
            session_name(Some(
                "arn:aws:sts::111122223333:assumed-role/Admin/bob@example.com"
            )),
            "s3audit-bob@example.com"
        );
        assert_eq!(session_name(None), "s3audit-auditor");
        assert!(session_name(Some(&"x".repeat(200))).len() <= 64);
    }
}
