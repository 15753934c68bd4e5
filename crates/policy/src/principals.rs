//! Who may act on a resource: which principals, inside or outside its account, a policy
//! lets perform some actions. Asked of KMS key policies: who may use a key to read data,
//! and who may make the data unreadable.
//!
//! A key policy is the primary control over a KMS key: no principal may use the key unless
//! the key policy allows it, directly or, when it allows the account's root principal, by
//! delegating to the account's IAM policies (AWS KMS Developer Guide, "Key policies" and
//! "Allows access to the AWS account and enables IAM policies"). An explicit Deny wins.
//!
//! Each question is answered by evaluating the policy on concrete requests from
//! representative principals: anonymous, a role in an unrelated account outside any
//! organization the policy names, every foreign principal the policy names, members of
//! each organization the policy names (`aws:PrincipalOrgID`), and the key account's own
//! IAM principals. `kms:CallerAccount` is the caller's account; each request is tried both
//! directly and through S3 (`kms:ViaService`). A request a statement's conditions may or
//! may not match (keys the requester controls) counts as possible: a key policy that may
//! let an outsider decrypt is reported, not excused.

use std::collections::{HashMap, HashSet};

use super::analyze::{Prepared, Request, Requester, condition_keys};
use super::condition::Tv;
use super::document::{Effect, Policy, Statement};
use super::partition;

/// `kms:ViaService`, lower-cased as conditions store their keys.
const VIA_SERVICE: &str = "kms:viaservice";

/// Using the key to read data protected by it.
pub const USE_ACTIONS: [&str; 4] = [
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:CreateGrant",
];
/// Making the data unreadable: deleting or disabling the key, or rewriting who may use it.
pub const DESTROY_ACTIONS: [&str; 3] = [
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
];

/// The account of an unrelated principal, outside every account and organization a
/// policy names.
const OUTSIDER_ACCOUNT: &str = "999999999999";
const OUTSIDER_ORG: &str = "o-s3auditoutsider";

/// A kind of principal, as the answers name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grantee {
    Anonymous,
    /// Any account outside the key's account and every organization the policy names.
    AnyAccount,
    /// A principal (ARN or account) the policy names, outside the key's account.
    Foreign(String),
    /// Principals of accounts in an organization the policy names.
    Organization(String),
    /// The key account's IAM principals that its IAM policies allow (root delegation).
    OwnAccountIam,
    /// A principal of the key's own account the policy names.
    Own(String),
}

impl Grantee {
    pub fn describe(&self) -> String {
        match self {
            Grantee::Anonymous => "anonymous callers".to_string(),
            Grantee::AnyAccount => "any AWS account".to_string(),
            Grantee::Foreign(p) => format!("{p} (another account)"),
            Grantee::Organization(o) => format!("accounts of organization {o}"),
            Grantee::OwnAccountIam => {
                "the key account's IAM principals, through IAM policies (root delegation)"
                    .to_string()
            }
            Grantee::Own(p) => p.clone(),
        }
    }

    /// Outside the key's account.
    pub fn external(&self) -> bool {
        !matches!(self, Grantee::OwnAccountIam | Grantee::Own(_))
    }
}

/// One principal that may perform some of the actions asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub grantee: Grantee,
    /// The actions it may perform (of those asked about).
    pub actions: Vec<String>,
    /// `true`: for certain; `false`: depending on conditions the analyser cannot decide.
    pub certain: bool,
    /// A request that shows it.
    pub example: String,
}

/// Who may perform any of `actions` on the key `key_arn` under `policy`.
///
/// Every probe principal is asked every action through every service the policy names in
/// `kms:ViaService`; a policy can name hundreds of each. So each (principal, action) is
/// first judged with the service left undecided, which sets aside every statement that
/// cannot apply whatever the service (and settles those that do not test it); only the
/// statements that test the service are judged again per service. The work is then about
/// principals × actions × (statements + services × statements that name a service and
/// could apply), not their product.
pub fn who_may(policy: &Policy, key_arn: &str, actions: &[&str]) -> Vec<Access> {
    let key_account = key_arn.split(':').nth(4).unwrap_or_default().to_string();
    // Directly, and through every service the policy names in kms:ViaService (and S3's
    // regional endpoint, the one that matters here).
    let partition = partition::of_arn(key_arn);
    let region = key_arn
        .split(':')
        .nth(3)
        .unwrap_or_else(|| partition::home_region(partition));
    let dns = partition::dns_suffix(partition);
    let mut vias: Vec<Option<String>> = vec![None, Some(format!("s3.{region}.{dns}"))];
    let mut seen: HashSet<Option<String>> = vias.iter().cloned().collect();
    for s in &policy.statements {
        for c in s.conditions.iter().filter(|c| c.key_lc == VIA_SERVICE) {
            for v in c.values.iter().filter_map(|v| v.text()) {
                if !v.contains(['*', '?']) && seen.insert(Some(v.clone())) {
                    vias.push(Some(v));
                }
            }
        }
    }
    let tests_via: Vec<bool> = policy
        .statements
        .iter()
        .map(|s| s.conditions.iter().any(|c| c.key_lc == VIA_SERVICE))
        .collect();
    let by_principal = ByPrincipal::new(policy);
    let keys = condition_keys(policy);
    let mut out = Vec::new();
    for (grantee, principal, org) in probes(policy, &key_account, partition) {
        let candidates = by_principal.candidates(&principal);
        let mut allowed = Vec::new();
        let mut certain = true;
        let mut example = None;
        for action in actions {
            let base = request(&principal, org.as_deref(), action, key_arn, None);
            let undecided = Prepared::new(&base, &keys);
            // (statement, its verdict with the service undecided, whether it tests it)
            let mut allows = Vec::new();
            let mut denies = Vec::new();
            for &i in &candidates {
                let s = &policy.statements[i];
                let pre = undecided.applies(s, Some(VIA_SERVICE));
                if pre == Tv::False {
                    continue;
                }
                let entry = (s, pre, tests_via[i]);
                match s.effect {
                    Effect::Allow => allows.push(entry),
                    Effect::Deny => denies.push(entry),
                }
            }
            // No Allow can apply, or a Deny that does not test the service surely does.
            if allows.is_empty() || denies.iter().any(|(_, pre, via)| !via && *pre == Tv::True) {
                continue;
            }
            for via in &vias {
                let req = request(&principal, org.as_deref(), action, key_arn, via.as_deref());
                let prepared = Prepared::new(&req, &keys);
                let matching = |list: &[(&Statement, Tv, bool)]| {
                    Tv::any(list.iter().map(|(s, pre, tests)| {
                        if *tests {
                            prepared.applies(s, None)
                        } else {
                            *pre
                        }
                    }))
                };
                match matching(&allows).and(matching(&denies).negate()) {
                    Tv::False => continue,
                    tv => {
                        if !allowed.iter().any(|a| a == action) {
                            allowed.push(action.to_string());
                        }
                        if tv == Tv::Unknown {
                            certain = false;
                        }
                        example.get_or_insert_with(|| req.describe());
                        break;
                    }
                }
            }
        }
        if !allowed.is_empty() {
            out.push(Access {
                grantee,
                actions: allowed,
                certain,
                example: example.unwrap_or_default(),
            });
        }
    }
    out
}

/// The statements whose Principal element could name a probe, by what it names: a key
/// policy with a statement per foreign account would otherwise judge every statement for
/// every account's probe.
struct ByPrincipal<'a> {
    /// `*`, `NotPrincipal`, or an id we cannot resolve: may apply to anyone.
    broad: Vec<usize>,
    by_account: HashMap<&'a str, Vec<usize>>,
    by_arn: HashMap<&'a str, Vec<usize>>,
}

impl<'a> ByPrincipal<'a> {
    fn new(policy: &'a Policy) -> Self {
        let mut index = ByPrincipal {
            broad: Vec::new(),
            by_account: HashMap::new(),
            by_arn: HashMap::new(),
        };
        for (i, s) in policy.statements.iter().enumerate() {
            let p = &s.principals;
            if p.negated || p.set.everyone() || p.set.index.opaque {
                index.broad.push(i);
                continue;
            }
            for account in &p.set.index.accounts {
                index.by_account.entry(account).or_default().push(i);
            }
            for arn in &p.set.index.arns {
                index.by_arn.entry(arn).or_default().push(i);
            }
        }
        index
    }

    /// Every statement that may apply to `who`, in policy order (a superset of those
    /// whose Principal element names it: the rest of the statement is judged after).
    fn candidates(&self, who: &Requester) -> Vec<usize> {
        let mut out = self.broad.clone();
        let (account, arn) = match who {
            Requester::Account { account, .. } => (Some(account.as_str()), None),
            Requester::Iam { account, arn } => (Some(account.as_str()), Some(arn.as_str())),
            _ => (None, None),
        };
        if let Some(list) = account.and_then(|a| self.by_account.get(a)) {
            out.extend(list);
        }
        if let Some(list) = arn.and_then(|a| self.by_arn.get(a)) {
            out.extend(list);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn request(
    principal: &Requester,
    org: Option<&str>,
    action: &str,
    key_arn: &str,
    via: Option<&str>,
) -> Request {
    let caller_account = match principal {
        Requester::Account { account: a, .. } | Requester::Iam { account: a, .. } => {
            Some(a.clone())
        }
        _ => None,
    };
    Request {
        principal: principal.clone(),
        action: action.to_string(),
        resource: key_arn.to_string(),
        context: vec![
            ("kms:CallerAccount".to_string(), caller_account),
            ("kms:ViaService".to_string(), via.map(str::to_string)),
            ("aws:PrincipalOrgID".to_string(), org.map(str::to_string)),
            ("aws:SecureTransport".to_string(), Some("true".to_string())),
        ],
        quiet: Vec::new(),
    }
}

/// The principals every question is asked for, with the organization each belongs to; the
/// probe roles are in the key's partition.
fn probes(
    policy: &Policy,
    key_account: &str,
    partition: &str,
) -> Vec<(Grantee, Requester, Option<String>)> {
    let role = |account: &str, name: &str| Requester::Iam {
        arn: partition::iam_arn(partition, account, &format!("role/{name}")),
        account: account.to_string(),
    };
    let mut probes = vec![
        (Grantee::Anonymous, Requester::Anonymous, None),
        (
            Grantee::AnyAccount,
            role(OUTSIDER_ACCOUNT, "s3audit-outsider"),
            Some(OUTSIDER_ORG.to_string()),
        ),
        (
            Grantee::OwnAccountIam,
            role(key_account, "s3audit-insider"),
            None,
        ),
    ];
    // Each probe once (a set: a key policy can name thousands of principals).
    let mut named_already: HashSet<Grantee> = HashSet::new();
    // Organizations the policy names, as a member account outside the key's account.
    for s in &policy.statements {
        for c in s
            .conditions
            .iter()
            .filter(|c| c.key_lc == "aws:principalorgid")
        {
            for org in c.values.iter().filter_map(|v| v.text()) {
                if !org.contains(['*', '?'])
                    && named_already.insert(Grantee::Organization(org.clone()))
                {
                    probes.push((
                        Grantee::Organization(org.clone()),
                        role("888888888888", "s3audit-org-member"),
                        Some(org),
                    ));
                }
            }
        }
    }
    // Principals the policy names.
    for s in &policy.statements {
        for p in &s.principals.set.aws {
            let Some((account, who)) = named(p, partition) else {
                continue;
            };
            let grantee = if account == key_account {
                // The account itself (root delegation) is the OwnAccountIam probe.
                if matches!(who, Requester::Account { .. }) {
                    continue;
                }
                Grantee::Own(p.clone())
            } else {
                Grantee::Foreign(p.clone())
            };
            if named_already.insert(grantee.clone()) {
                probes.push((grantee, who, Some(OUTSIDER_ORG.to_string())));
            }
        }
    }
    probes
}

/// `(account, requester)` for a principal named as an account id (a root user in
/// `partition`, the key's) or an IAM ARN.
fn named(p: &str, partition: &str) -> Option<(String, Requester)> {
    if p.len() == 12 && p.chars().all(|c| c.is_ascii_digit()) {
        return Some((p.to_string(), Requester::root(partition, p)));
    }
    let account = p.strip_prefix("arn:")?.split(':').nth(3)?.to_string();
    if account.len() != 12 {
        return None;
    }
    if p.ends_with(":root") {
        let root = Requester::root(partition::of_arn(p), &account);
        return Some((account, root));
    }
    Some((
        account.clone(),
        Requester::Iam {
            arn: p.to_string(),
            account,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_policy;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    /// KMS's default key policy: the account root may do everything, which delegates to
    /// the account's IAM policies (KMS Developer Guide, "Default key policy").
    const DEFAULT: &str = r#"{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;

    fn grantees(statements: &str, actions: &[&str]) -> Vec<(Grantee, bool)> {
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
        who_may(&parse_policy(&text).unwrap(), KEY, actions)
            .into_iter()
            .map(|a| (a.grantee, a.certain))
            .collect()
    }

    /// A China key: the probe principals are China principals, so a grant to every role of
    /// the partition (by `aws:PrincipalArn`) is a grant to anyone; with `arn:aws:` probes
    /// no one matched it and the key read as private.
    #[test]
    fn probes_are_principals_of_the_keys_partition() {
        let key = "arn:aws-cn:kms:cn-north-1:111122223333:key/k";
        let any_role = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws-cn:iam::*:role/*"}}}]}"#;
        let got = who_may(&parse_policy(any_role).unwrap(), key, &["kms:Decrypt"]);
        let outsider = got.iter().find(|a| a.grantee == Grantee::AnyAccount);
        let Some(outsider) = outsider else {
            panic!("no outside account: {got:?}")
        };
        assert!(
            outsider.example.contains("arn:aws-cn:iam::"),
            "{}",
            outsider.example
        );
    }

    #[test]
    fn root_delegation_is_the_own_account_only() {
        assert_eq!(
            grantees(DEFAULT, &USE_ACTIONS),
            [(Grantee::OwnAccountIam, true)]
        );
    }

    #[test]
    fn organization_caller_account_and_deny_are_honoured() {
        let org = r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}"#;
        let got = grantees(&format!("{DEFAULT},{org}"), &["kms:Decrypt"]);
        assert!(
            got.contains(&(Grantee::Organization("o-abc123".into()), true)),
            "{got:?}"
        );
        assert!(
            !got.iter().any(|(g, _)| *g == Grantee::AnyAccount),
            "{got:?}"
        );

        let own = r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}"#;
        let got = grantees(&format!("{DEFAULT},{own}"), &["kms:Decrypt"]);
        assert!(got.iter().all(|(g, _)| !g.external()), "{got:?}");

        let admin = r#"{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}"#;
        let got = grantees(&format!("{DEFAULT},{admin}"), &DESTROY_ACTIONS);
        assert!(
            got.contains(&(Grantee::Foreign("444455556666".into()), true)),
            "{got:?}"
        );
        let deny = r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}}"#;
        let got = grantees(&format!("{DEFAULT},{admin},{deny}"), &DESTROY_ACTIONS);
        assert!(got.iter().all(|(g, _)| !g.external()), "{got:?}");
    }
}
