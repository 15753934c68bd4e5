//! The analyser: is an explicit Deny *guaranteed* for every request in a class?
//!
//! Identity policies may allow anything, so only an explicit Deny in the bucket policy
//! protects a bucket (IAM User Guide, "Policy evaluation logic": an explicit deny in any
//! policy overrides every allow). A class of requests is a finite union of sub-classes:
//! one S3 action × one resource kind (the bucket ARN, or object ARNs with any key) × one
//! variant of the context keys the class fixes (e.g. `aws:SecureTransport=false`). Within
//! a sub-class the principal, the object key and every context key the class does not fix
//! are free: the requester chooses them.
//!
//! A sub-class is **covered** when one Deny statement matches every member: its
//! Principal/NotPrincipal, Action/NotAction and Resource/NotResource match whatever the
//! requester chooses, and every condition is true for every allowed value of its key
//! ([`Clause::always`]). Coverage is decided exactly per statement; a sub-class covered
//! only by a *combination* of statements that split a free dimension between them (one
//! Deny for some principals, another for the rest, or complementary `aws:SourceIp`
//! ranges) is conservatively reported as not covered. Splits across actions, across the
//! bucket and object ARNs, and across the class's fixed variants are handled exactly, since
//! those are separate sub-classes.
//!
//! For an uncovered sub-class the analyser searches for a **witness**: a concrete request
//! that no Deny statement matches, checked by evaluating every statement on it. The search
//! draws candidate values from the policy itself (its principals, its resource patterns
//! and the values in its conditions, plus near misses) and looks for an assignment that
//! falsifies at least one part of every Deny statement. When it finds none (only possible
//! in the conservative case above) the gap is reported without a witness, and the verdict
//! still fails: a condition the analyser cannot decide narrows a Deny, it never makes a pass.
//!
//! How long this takes is bounded by the policy, whatever its shape. Coverage is exact and
//! polynomial: wildcard questions are linear in the patterns ([`super::glob`]) and each
//! statement is judged once per resource kind and variant. The witness search is the one
//! part with no polynomial exact procedure (choosing values that escape every statement is
//! satisfiability), so it runs on a fixed budget of work per analysis; when the budget runs
//! out the gap is reported without a witness, exactly as when none exists. The budget can
//! cost a counterexample, never a verdict.
//!
//! Known limits, all on the side of failing: the root user of the bucket owner account can
//! always get, put and delete the bucket policy whatever it says (AWS's lock-out
//! protection), which no policy can change and the analyser does not model; a plain
//! operator on a context key is assumed single-valued (AWS requires set operators for
//! multivalued keys).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::actions;
use super::condition::{Base, Clause, KeyDomain, StrKind, Tv};
use super::document::{Effect, Policy, PrincipalSet, Resources, Statement};
use super::glob::{Glob, find_matched, find_unmatched};
use super::partition;

/// The bucket a policy is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: String,
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// The bucket owner's account, when known: fixes `aws:ResourceAccount`.
    pub account: Option<String>,
    /// Every bucket of the account, not one (a resource control policy): coverage must
    /// hold for every bucket ARN and every object ARN, whatever the bucket's name, and
    /// `bucket` is only the stand-in name counterexamples use.
    pub any_bucket: bool,
}

impl Target {
    pub fn new(bucket: &str) -> Target {
        Target {
            bucket: bucket.to_string(),
            partition: "aws".to_string(),
            account: None,
            any_bucket: false,
        }
    }

    /// Every bucket of `account` (the target of a resource control policy).
    pub fn every_bucket(account: Option<&str>) -> Target {
        Target {
            bucket: "any-bucket".to_string(),
            partition: "aws".to_string(),
            account: account.map(str::to_string),
            any_bucket: true,
        }
    }

    /// What the coverage proof must span, for messages.
    pub fn describe(&self, kind: ResourceKind) -> String {
        match (self.any_bucket, kind) {
            (true, _) => format!("every bucket and object (arn:{}:s3:::*)", self.partition),
            (false, ResourceKind::Bucket) => self.bucket_arn(),
            (false, ResourceKind::Object) => format!("every object ({}*)", self.object_prefix()),
        }
    }

    pub fn bucket_arn(&self) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.bucket)
    }

    /// Every object ARN is this prefix followed by a non-empty key.
    pub fn object_prefix(&self) -> String {
        format!("{}/", self.bucket_arn())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Bucket,
    Object,
}

/// Values the class fixes for some context keys, e.g. plain HTTP:
/// `aws:SecureTransport=false` and `s3:TlsVersion` absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// What the variant is, for messages ("an explicit AES256 header").
    pub label: String,
    /// Keys as they are displayed, with their domain.
    pub keys: Vec<(String, KeyDomain)>,
}

impl Variant {
    fn domain(&self, key_lc: &str) -> Option<&KeyDomain> {
        self.keys
            .iter()
            .find(|(k, _)| lower_eq(k, key_lc))
            .map(|(_, d)| d)
    }
}

/// A class of requests: each action with the resource kinds it applies to, under each
/// variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestClass {
    pub actions: Vec<(String, Vec<ResourceKind>)>,
    pub variants: Vec<Variant>,
}

impl RequestClass {
    /// Every S3 action a bucket policy governs, on the resource kinds it applies to, with
    /// the actions an auditor recognises first (they make the best counterexamples).
    pub fn all_s3_actions() -> Vec<(String, Vec<ResourceKind>)> {
        const FIRST: [&str; 4] = [
            "s3:GetObject",
            "s3:PutObject",
            "s3:ListBucket",
            "s3:DeleteObject",
        ];
        let mut out: Vec<(String, Vec<ResourceKind>)> = actions::all()
            .iter()
            .filter(|a| a.scope.bucket || a.scope.object)
            .map(|a| {
                let mut kinds = Vec::new();
                if a.scope.object {
                    kinds.push(ResourceKind::Object);
                }
                if a.scope.bucket {
                    kinds.push(ResourceKind::Bucket);
                }
                (a.name.clone(), kinds)
            })
            .collect();
        out.sort_by_key(|(name, _)| FIRST.iter().position(|f| f == name).unwrap_or(FIRST.len()));
        out
    }
}

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Requester {
    Anonymous,
    /// An account's root user, in a partition (its ARN is `arn:PARTITION:iam::ACCOUNT:root`).
    Account {
        account: String,
        partition: String,
    },
    /// An IAM user or role (or a principal named by ARN) of an account.
    Iam {
        arn: String,
        account: String,
    },
    Service(String),
    Federated(String),
    Canonical(String),
}

impl Requester {
    pub fn describe(&self) -> String {
        match self {
            Requester::Anonymous => "anonymous".to_string(),
            Requester::Account { .. } | Requester::Iam { .. } => {
                self.arn().expect("IAM principals have an ARN")
            }
            Requester::Service(s) => format!("service {s}"),
            Requester::Federated(f) => format!("federated {f}"),
            Requester::Canonical(c) => format!("canonical user {c}"),
        }
    }

    /// Whether the principal is an authenticated IAM identity (principal-scoped context
    /// keys such as `aws:PrincipalOrgID` can only be present for those).
    fn is_iam(&self) -> bool {
        matches!(self, Requester::Account { .. } | Requester::Iam { .. })
    }

    fn account(&self) -> Option<&str> {
        match self {
            Requester::Account { account: a, .. } | Requester::Iam { account: a, .. } => Some(a),
            _ => None,
        }
    }

    /// An account's root user in `partition`.
    pub fn root(partition: &str, account: &str) -> Requester {
        Requester::Account {
            account: account.to_string(),
            partition: partition.to_string(),
        }
    }

    fn arn(&self) -> Option<String> {
        match self {
            Requester::Account { account, partition } => {
                Some(partition::iam_arn(partition, account, "root"))
            }
            Requester::Iam { arn, .. } => Some(arn.clone()),
            _ => None,
        }
    }

    /// Context keys the principal determines (`aws:PrincipalArn`, ...), lower-cased.
    fn derived(&self, key_lc: &str) -> Option<Option<String>> {
        Some(match key_lc {
            "aws:principalarn" => self.arn(),
            "aws:principalaccount" => self.account().map(str::to_string),
            "aws:principaltype" => Some(
                match self {
                    Requester::Anonymous => "Anonymous",
                    Requester::Account { .. } => "Account",
                    Requester::Iam { arn, .. } if arn.contains(":user/") => "User",
                    Requester::Iam { .. } => "AssumedRole",
                    Requester::Federated(_) => "FederatedUser",
                    Requester::Service(_) | Requester::Canonical(_) => return Some(None),
                }
                .to_string(),
            ),
            "aws:principalisawsservice" => Some(matches!(self, Requester::Service(_)).to_string()),
            "aws:principalservicename" => match self {
                Requester::Service(s) => Some(s.clone()),
                _ => None,
            },
            _ => return None,
        })
    }
}

/// Whether `key` lower-cased is `lc`; without allocating for an ASCII key, since requests
/// are looked up once per condition of every statement.
fn lower_eq(key: &str, lc: &str) -> bool {
    if key.is_ascii() {
        key.len() == lc.len()
            && key
                .bytes()
                .zip(lc.bytes())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
    } else {
        key.to_lowercase() == lc
    }
}

/// Keys only an authenticated IAM principal can carry: absent on anonymous requests.
fn principal_scoped(key_lc: &str) -> bool {
    key_lc.starts_with("aws:principal")
        || matches!(
            key_lc,
            "aws:multifactorauthpresent"
                | "aws:multifactorauthage"
                | "aws:tokenissuetime"
                | "aws:federatedprovider"
                | "aws:sourceidentity"
        )
}

fn is_derived(key_lc: &str) -> bool {
    Requester::Anonymous.derived(key_lc).is_some()
}

/// A concrete request: the evidence that a class is not fully denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub principal: Requester,
    pub action: String,
    pub resource: String,
    /// Context keys as displayed, in display order, with their value (`None`: absent).
    pub context: Vec<(String, Option<String>)>,
    /// Keys of `context` left out of [`Request::describe`]: fixed-absent keys no
    /// statement tests (they are in [`Request::to_json`]).
    pub quiet: Vec<String>,
}

impl Request {
    /// The values of a context key (case-insensitive), derived keys included.
    pub fn value(&self, key_lc: &str) -> Option<Vec<String>> {
        if let Some(v) = self.principal.derived(key_lc) {
            return v.map(|v| vec![v]);
        }
        self.context
            .iter()
            .find(|(k, _)| lower_eq(k, key_lc))
            .and_then(|(_, v)| v.clone().map(|v| vec![v]))
    }

    /// `anonymous s3:GetObject arn:aws:s3:::b/s3audit-probe with aws:SecureTransport=false`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} {} {}",
            self.principal.describe(),
            self.action,
            self.resource
        );
        if self.context.iter().any(|(k, _)| !self.quiet.contains(k)) {
            let parts: Vec<String> = self
                .context
                .iter()
                .filter(|(k, _)| !self.quiet.contains(k))
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => format!("{k} absent"),
                })
                .collect();
            s.push_str(" with ");
            s.push_str(&parts.join(", "));
        }
        s
    }

    pub fn to_json(&self) -> serde_json::Value {
        let context: serde_json::Map<String, serde_json::Value> = self
            .context
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.clone().map_or(serde_json::Value::Null, Into::into),
                )
            })
            .collect();
        serde_json::json!({
            "principal": self.principal.describe(),
            "action": self.action,
            "resource": self.resource,
            "context": context,
        })
    }
}

// --- Evaluating one statement --------------------------------------------------------

/// Whether a Principal/NotPrincipal set names the requester (in constant time: see
/// [`AwsIndex`](super::document::AwsIndex)).
fn set_names(set: &PrincipalSet, who: &Requester) -> Tv {
    if set.everyone() {
        return Tv::True;
    }
    let index = &set.index;
    match who {
        Requester::Anonymous => Tv::False,
        Requester::Account { account: a, .. } | Requester::Iam { account: a, .. } => {
            let by_arn = matches!(who, Requester::Iam { arn, .. } if index.arns.contains(arn));
            if index.accounts.contains(a) || by_arn {
                Tv::True
            } else if index.opaque {
                // A unique id (AIDA..., AROA...) could be anyone we cannot name.
                Tv::Unknown
            } else {
                Tv::False
            }
        }
        Requester::Service(s) => {
            Tv::from_bool(set.service.iter().any(|e| e.eq_ignore_ascii_case(s)))
        }
        Requester::Federated(f) => Tv::from_bool(set.federated.contains(f)),
        Requester::Canonical(c) => Tv::from_bool(set.canonical.contains(c)),
    }
}

/// Whether the statement's Principal/NotPrincipal element applies to the requester.
///
/// `NotPrincipal` with Deny exempts an IAM user or role only when both it and its account
/// are listed: AWS checks the account first (IAM User Guide, "NotPrincipal": "you must
/// also specify the account ARN of the not-denied principal").
fn principal_applies(stmt: &Statement, who: &Requester) -> Tv {
    let p = &stmt.principals;
    if !p.negated {
        return set_names(&p.set, who);
    }
    let exempt = match who {
        Requester::Iam { account, arn } => {
            set_names(&p.set, &Requester::root(partition::of_arn(arn), account)).and(
                if p.set.everyone() {
                    Tv::True
                } else {
                    Tv::from_bool(p.set.aws.iter().any(|e| Some(e.clone()) == who.arn()))
                },
            )
        }
        Requester::Anonymous => Tv::from_bool(p.set.everyone()),
        other => set_names(&p.set, other),
    };
    exempt.negate()
}

/// Whether the statement's Resource/NotResource element applies to `arn`.
fn resource_applies(res: &Resources, arn: &str) -> Tv {
    let m = Tv::any(res.patterns.iter().map(|p| match &p.glob {
        Some(g) => Tv::from_bool(g.is_match(arn)),
        None => Tv::Unknown,
    }));
    if res.negated { m.negate() } else { m }
}

/// The clauses on one key, ANDed.
fn key_applies(clauses: &[&Clause], values: Option<&[String]>) -> Tv {
    Tv::all(clauses.iter().map(|c| c.eval(values)))
}

/// Whether a statement matches a concrete request.
pub fn statement_applies(stmt: &Statement, req: &Request) -> Tv {
    applies_with(stmt, req, |key_lc| req.value(key_lc))
}

/// A request prepared for judging many statements: its action lower-cased and the values
/// of the policy's condition keys looked up once, so that each statement costs a few hash
/// lookups and no allocation. Asked of every statement for every probe principal, action
/// and service of a key policy.
pub struct Prepared<'a> {
    req: &'a Request,
    action_lc: String,
    values: HashMap<&'a str, Option<Vec<String>>>,
}

impl<'a> Prepared<'a> {
    /// `keys_lc`: every condition key of the policy, lower-cased ([`condition_keys`]).
    pub fn new(req: &'a Request, keys_lc: &'a [String]) -> Prepared<'a> {
        Prepared {
            req,
            action_lc: req.action.to_lowercase(),
            values: keys_lc.iter().map(|k| (k.as_str(), req.value(k))).collect(),
        }
    }

    /// [`statement_applies`], with conditions on `undecided_lc` (if any) counted as
    /// `Unknown`: `False` then means the statement does not apply whatever that key's
    /// value is, which lets a caller that tries many values of one key set most
    /// statements aside once.
    pub fn applies(&self, stmt: &Statement, undecided_lc: Option<&str>) -> Tv {
        if !stmt.actions.applies_to_lc(&self.action_lc) {
            return Tv::False;
        }
        let who = principal_applies(stmt, &self.req.principal);
        if who == Tv::False {
            return Tv::False;
        }
        let at = resource_applies(&stmt.resources, &self.req.resource);
        if at == Tv::False {
            return Tv::False;
        }
        who.and(at).and(Tv::all(stmt.conditions.iter().map(|c| {
            if undecided_lc == Some(c.key_lc.as_str()) {
                return Tv::Unknown;
            }
            let values = match self.values.get(c.key_lc.as_str()) {
                Some(v) => v.as_deref(),
                None => return c.eval(self.req.value(&c.key_lc).as_deref()),
            };
            c.eval(values)
        })))
    }
}

/// Every condition key a policy tests, lower-cased, once each.
pub fn condition_keys(policy: &Policy) -> Vec<String> {
    let mut keys: Vec<String> = policy
        .statements
        .iter()
        .flat_map(|s| s.conditions.iter().map(|c| c.key_lc.clone()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// [`statement_applies`] with the request's context keys looked up by `value`.
fn applies_with(
    stmt: &Statement,
    req: &Request,
    value: impl Fn(&str) -> Option<Vec<String>>,
) -> Tv {
    Tv::from_bool(stmt.actions.applies_to(&req.action))
        .and(principal_applies(stmt, &req.principal))
        .and(resource_applies(&stmt.resources, &req.resource))
        .and(Tv::all(stmt.conditions.iter().map(|c| {
            let v = value(&c.key_lc);
            c.eval(v.as_deref())
        })))
}

/// Whether no statement of `stmts` matches the request, for certain. The request's context
/// is indexed once: a witness can carry hundreds of keys, and [`Request::value`] scans them
/// for every condition of every statement.
fn escapes_all(denies: &[&Statement], stmts: &[usize], req: &Request) -> bool {
    let mut context: HashMap<String, Option<&String>> = HashMap::new();
    for (k, v) in &req.context {
        context.entry(k.to_lowercase()).or_insert(v.as_ref());
    }
    let value = |key_lc: &str| match req.principal.derived(key_lc) {
        Some(v) => v.map(|v| vec![v]),
        None => context
            .get(key_lc)
            .copied()
            .flatten()
            .map(|v| vec![v.clone()]),
    };
    stmts
        .iter()
        .all(|&i| applies_with(denies[i], req, value) == Tv::False)
}

/// The policy's Deny statements, in document order (none without a policy): the only ones
/// that can deny a request.
fn deny_statements(policy: Option<&Policy>) -> Vec<&Statement> {
    policy
        .map(|p| {
            p.statements
                .iter()
                .filter(|s| s.effect == Effect::Deny)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether some Deny statement of the policy matches the request (`True`: denied for
/// certain; `Unknown`: the analyser cannot tell).
pub fn denied(policy: Option<&Policy>, req: &Request) -> Tv {
    let Some(policy) = policy else {
        return Tv::False;
    };
    Tv::any(
        policy
            .statements
            .iter()
            .filter(|s| s.effect == Effect::Deny)
            .map(|s| statement_applies(s, req)),
    )
}

// --- Coverage ---------------------------------------------------------------------------

/// Why one Deny statement does not cover a sub-class (its first failing element).
/// `resources_universal`: whether its Resource/NotResource covers the kind
/// ([`resource_universal`], which the caller caches).
fn why_not_covering(
    stmt: &Statement,
    target: &Target,
    kind: ResourceKind,
    variant: &Variant,
    resources_universal: bool,
) -> Option<String> {
    let p = &stmt.principals;
    if p.negated {
        return Some("its NotPrincipal exempts some principals".to_string());
    }
    if !p.set.everyone() {
        return Some("it names only some principals (Principal is not \"*\")".to_string());
    }
    if !resources_universal {
        return Some(format!(
            "its resources do not include {}",
            target.describe(kind)
        ));
    }
    for c in &stmt.conditions {
        let domain = domain_of(&c.key_lc, target, variant);
        if !c.always(&domain) {
            return Some(match domain.as_ref() {
                KeyDomain::Fixed(Some(v)) => format!(
                    "its condition {} on {} is not true when {}={}",
                    c.op.name, c.key, c.key, v
                ),
                KeyDomain::Fixed(None) => format!(
                    "its condition {} on {} is not true when {} is absent",
                    c.op.name, c.key, c.key
                ),
                KeyDomain::AnyExcept(except) if !except.is_empty() => format!(
                    "its condition {} on {} is not true for every value outside the allowed list",
                    c.op.name, c.key
                ),
                _ => format!(
                    "its condition {} on {} depends on a value the requester controls",
                    c.op.name, c.key
                ),
            });
        }
    }
    None
}

/// What the class lets a key be. Borrowed when the variant names the key: an allowed-key
/// list may hold a thousand references, and this is asked for every condition.
fn domain_of<'v>(key_lc: &str, target: &Target, variant: &'v Variant) -> Cow<'v, KeyDomain> {
    if let Some(d) = variant.domain(key_lc) {
        return Cow::Borrowed(d);
    }
    Cow::Owned(match (key_lc, &target.account) {
        ("aws:resourceaccount" | "s3:resourceaccount", Some(acct)) => {
            KeyDomain::Fixed(Some(acct.clone()))
        }
        // Keys AWS puts in every request (IAM User Guide, "Global condition context keys"):
        // present, with any value.
        ("aws:securetransport" | "aws:currenttime" | "aws:epochtime", _) => {
            KeyDomain::AnyExcept(BTreeSet::new())
        }
        _ => KeyDomain::Free,
    })
}

/// Whether Resource/NotResource matches the bucket ARN, or every object ARN. For every
/// bucket of an account ([`Target::any_bucket`]) both kinds must match every string after
/// `arn:PARTITION:s3:::`: a superset of the bucket and object ARNs, so the proof is at
/// worst stricter than needed, never looser.
fn resource_universal(res: &Resources, target: &Target, kind: ResourceKind) -> bool {
    match kind {
        ResourceKind::Bucket if !target.any_bucket => {
            resource_applies(res, &target.bucket_arn()) == Tv::True
        }
        _ => {
            let globs: Vec<_> = res
                .patterns
                .iter()
                .filter_map(|p| p.glob.as_ref())
                .collect();
            let prefix = if target.any_bucket {
                format!("arn:{}:s3:::", target.partition)
            } else {
                target.object_prefix()
            };
            if res.negated {
                // No excluded pattern may match any object (an unknown one might).
                globs.len() == res.patterns.len() && find_matched(&globs, &prefix, 1).is_none()
            } else {
                find_unmatched(&globs, &prefix, 1).is_none()
            }
        }
    }
}

// --- The analysis -------------------------------------------------------------------------

/// One sub-class that is not guaranteed to be denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub action: String,
    pub kind: ResourceKind,
    /// Index into [`RequestClass::variants`].
    pub variant: usize,
    /// A request no Deny statement matches, verified by evaluation; `None` when the search
    /// found none (the conservative case: see the module documentation).
    pub witness: Option<Request>,
    /// For each Deny statement that applies to the action, why it does not cover. Shared
    /// by every gap with the same applicable statements: with hundreds of statements, a
    /// copy for each of the catalog's actions adds up.
    pub reasons: Arc<[String]>,
}

/// The outcome of [`analyze`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// How many (action, resource kind, variant) sub-classes were checked.
    pub checked: usize,
    /// Labels of the Deny statements that cover at least one sub-class.
    pub covered_by: Vec<String>,
    /// Every sub-class not guaranteed to be denied, in class order.
    pub gaps: Vec<Gap>,
}

impl Analysis {
    pub fn passed(&self) -> bool {
        self.gaps.is_empty()
    }
}

/// Decides, for each sub-class of `class`, whether the policy's Deny statements guarantee
/// a denial; `policy: None` is a bucket without a policy.
///
/// Work is shared wherever the answers allow, so that it grows with the size of the policy
/// and not with the number of sub-classes times that size: which statements apply to an
/// action is computed once per action; whether a statement covers, and whether a fixed
/// part rules it out, once per statement, resource kind and variant (neither depends on
/// the action); sub-classes with the same applicable statements share their answer; and
/// the witness searches of a resource kind and variant share their candidates and
/// evaluate each statement on each candidate at most once.
pub fn analyze(policy: Option<&Policy>, target: &Target, class: &RequestClass) -> Analysis {
    let denies = deny_statements(policy);
    let applicable: Vec<Vec<usize>> = class
        .actions
        .iter()
        .map(|(action, _)| {
            let action_lc = action.to_lowercase();
            denies
                .iter()
                .enumerate()
                .filter(|(_, s)| s.actions.applies_to_lc(&action_lc))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let union: Vec<usize> = applicable
        .iter()
        .flatten()
        .copied()
        .collect::<BTreeSet<usize>>()
        .into_iter()
        .collect();
    let mut shared = Shared::new(&denies, target, ANALYSIS_BUDGET);
    let mut scopes: HashMap<(ResourceKind, usize), Scope> = HashMap::new();
    let mut checked = 0;
    let mut covered_by = BTreeSet::new();
    let mut gaps = Vec::new();
    // Sub-classes with the same applicable statements share an answer.
    let mut memo: HashMap<(ResourceKind, usize, &[usize]), Answer> = HashMap::new();
    for (vi, variant) in class.variants.iter().enumerate() {
        for ((action, kinds), applicable) in class.actions.iter().zip(&applicable) {
            for &kind in kinds {
                checked += 1;
                let scope = scopes
                    .entry((kind, vi))
                    .or_insert_with(|| Scope::new(denies.len(), kind, variant, &union));
                let answer = memo
                    .entry((kind, vi, applicable.as_slice()))
                    .or_insert_with(|| scope.decide(&mut shared, applicable, action));
                match answer {
                    Answer::Covered(i) => {
                        covered_by.insert(*i);
                    }
                    Answer::Gap { witness, reasons } => gaps.push(Gap {
                        action: action.clone(),
                        kind,
                        variant: vi,
                        witness: witness.clone().map(|mut w| {
                            w.action = action.clone();
                            w
                        }),
                        reasons: reasons.clone(),
                    }),
                }
            }
        }
    }
    Analysis {
        checked,
        covered_by: covered_by.into_iter().map(|i| denies[i].label()).collect(),
        gaps,
    }
}

/// The answer for one sub-class.
enum Answer {
    /// This Deny statement (an index into the policy's Deny statements) covers it.
    Covered(usize),
    /// Not covered: a witness if one was found, and why each statement falls short.
    Gap {
        witness: Option<Request>,
        reasons: Arc<[String]>,
    },
}

/// How much work the witness searches of one [`analyze`] call may do, in units of about
/// one statement part looked up, or one pattern, value or principal compared.
///
/// A witness falsifies some part of every applicable statement, and choosing the values
/// that do is a satisfiability problem (statements are clauses, request dimensions are
/// variables): no exact procedure is polynomial in general, so the searches are bounded.
/// The bound only ever costs evidence, never a verdict: a sub-class is a gap because no
/// single statement covers it, which is decided exactly before any search, and a gap whose
/// search ran out is reported without a counterexample, like one where no request escapes.
/// Real policies spend at most a few hundred units per search (under 250 on the corpus and
/// on thousands of generated policies); 200 000 units are about 15 ms of searching, which
/// keeps adversarial policies (dozens of statements that split the same keys between them,
/// the `search-exhaust` shapes of `benches/policy_bench.rs`) well within the time an
/// analysis may take.
const ANALYSIS_BUDGET: u64 = 200_000;

/// The budget of the first search of a sub-class, in the statements' own order (see
/// [`Scope::witness`]): four times the most any first pass needed on the corpus and on
/// generated policies, so that their counterexamples stay the ones shown before.
const FIRST_PASS_BUDGET: u64 = 1_000;

/// How many witnesses of earlier sub-classes are tried on a new one before searching.
const RECENT_WITNESSES: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Budget(u64);

impl Budget {
    /// Spends `units`; false (and nothing left) when they were not all there.
    fn spend(&mut self, units: u64) -> bool {
        match self.0.checked_sub(units) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => {
                self.0 = 0;
                false
            }
        }
    }

    fn is_spent(&self) -> bool {
        self.0 == 0
    }
}

/// What one [`analyze`] call shares between resource kinds and variants.
struct Shared<'a> {
    denies: &'a [&'a Statement],
    target: &'a Target,
    /// Per Deny statement: the candidate values it suggests, computed on first use.
    suggestions: Vec<Option<Suggestions>>,
    /// Per Deny statement: whether its resources cover the bucket, and every object.
    universal: Vec<[Option<bool>; 2]>,
    budget: Budget,
}

/// The values a statement suggests for a witness: the principals it names, object keys its
/// resource patterns match and miss, and the values of each of its conditions.
#[derive(Clone)]
struct Suggestions {
    principals: Vec<Requester>,
    objects: Vec<String>,
    /// Per condition (in order): its candidate values.
    values: Vec<Vec<String>>,
    /// Per condition: a value that makes it false, if [`escape_hint`] names one.
    hints: Vec<Option<String>>,
}

impl<'a> Shared<'a> {
    fn new(denies: &'a [&'a Statement], target: &'a Target, budget: u64) -> Shared<'a> {
        Shared {
            denies,
            target,
            suggestions: vec![None; denies.len()],
            universal: vec![[None; 2]; denies.len()],
            budget: Budget(budget),
        }
    }

    fn universal(&mut self, i: usize, kind: ResourceKind) -> bool {
        let (s, target) = (self.denies[i], self.target);
        *self.universal[i][kind as usize]
            .get_or_insert_with(|| resource_universal(&s.resources, target, kind))
    }

    fn suggestions(&mut self, i: usize) -> &Suggestions {
        let (s, target) = (self.denies[i], self.target);
        self.suggestions[i].get_or_insert_with(|| Suggestions {
            principals: principal_candidates(s, &target.partition),
            objects: object_candidates(s, target),
            values: s
                .conditions
                .iter()
                .map(|c| {
                    let mut values = c.candidates(&target.partition);
                    values.retain(|v| v.len() <= MAX_VALUE_BYTES);
                    values
                })
                .collect(),
            hints: s
                .conditions
                .iter()
                .map(|c| escape_hint(c, &target.partition))
                .collect(),
        })
    }
}

/// Everything about one resource kind and variant that does not depend on the action,
/// computed on first use: whether each Deny statement covers, whether a fixed part rules
/// it out, and the candidates and statement parts of the witness search.
struct Scope<'v> {
    kind: ResourceKind,
    variant: &'v Variant,
    /// Per Deny statement: `Some(reason)` when it does not cover, `None` when it does.
    why: Vec<Option<Option<String>>>,
    /// Per Deny statement: whether a part fixed for the sub-class rules it out.
    excluded: Vec<Option<bool>>,
    universe: Option<Universe>,
    /// Witnesses found for earlier sub-classes, most recent last.
    recent: Vec<Request>,
    /// Every Deny statement that applies to some action of the class (in policy order).
    union: &'v [usize],
    /// A request that escapes all of `union`, once searched for (see [`Scope::witness`]).
    everywhere: Option<Option<Request>>,
    /// Whether a search has been made for a sub-class of the scope.
    searched: bool,
}

impl<'v> Scope<'v> {
    fn new(
        statements: usize,
        kind: ResourceKind,
        variant: &'v Variant,
        union: &'v [usize],
    ) -> Scope<'v> {
        Scope {
            kind,
            variant,
            why: vec![None; statements],
            excluded: vec![None; statements],
            universe: None,
            recent: Vec::new(),
            union,
            everywhere: None,
            searched: false,
        }
    }

    fn why(&mut self, shared: &mut Shared, i: usize) -> Option<&str> {
        let s = shared.denies[i];
        let (kind, variant) = (self.kind, self.variant);
        if self.why[i].is_none() {
            let universal = shared.universal(i, kind);
            self.why[i] = Some(
                why_not_covering(s, shared.target, kind, variant, universal)
                    .map(|why| format!("Deny {}: {why}", s.label())),
            );
        }
        self.why[i].as_ref().expect("set above").as_deref()
    }

    fn excluded(&mut self, shared: &Shared, i: usize) -> bool {
        let s = shared.denies[i];
        let (kind, variant) = (self.kind, self.variant);
        *self.excluded[i]
            .get_or_insert_with(|| static_part(s, shared.target, kind, variant) == Tv::False)
    }

    fn decide(&mut self, shared: &mut Shared, applicable: &[usize], action: &str) -> Answer {
        let mut reasons = Vec::new();
        for &i in applicable {
            match self.why(shared, i) {
                None => return Answer::Covered(i),
                Some(why) => reasons.push(why.to_string()),
            }
        }
        let witness = self.witness(shared, applicable, action);
        Answer::Gap {
            witness,
            reasons: reasons.into(),
        }
    }

    /// A request of the sub-class that no applicable statement matches, if one is found.
    ///
    /// Before searching, requests found for other sub-classes of the scope are tried (a
    /// check is one evaluation per statement): the most recent witnesses, and, from the
    /// second search on, one request that escapes *every* statement applicable to some
    /// action of the class, searched for once. Whatever escapes all of them escapes the
    /// statements of any one action, so when statements differ by action only in which
    /// actions they name (a NotAction each), one search serves every sub-class. The first
    /// search of a scope is for the sub-class itself, so that the counterexample a verdict
    /// shows is the one the analyser has always shown.
    fn witness(
        &mut self,
        shared: &mut Shared,
        applicable: &[usize],
        action: &str,
    ) -> Option<Request> {
        let stmts: Vec<usize> = applicable
            .iter()
            .copied()
            .filter(|&i| !self.excluded(shared, i))
            .collect();
        let escapes =
            |shared: &Shared, request: &Request| escapes_all(shared.denies, &stmts, request);
        let known = self
            .everywhere
            .iter()
            .flatten()
            .chain(self.recent.iter().rev());
        for w in known {
            if !shared.budget.spend(stmts.len() as u64 + 1) {
                return None;
            }
            let mut w = w.clone();
            w.action = action.to_string();
            if escapes(shared, &w) {
                return Some(w);
            }
        }
        if self.searched && self.everywhere.is_none() {
            let union: Vec<usize> = self
                .union
                .iter()
                .copied()
                .filter(|&i| !self.excluded(shared, i))
                .collect();
            let found = self.search(shared, &union, self.union);
            self.everywhere = Some(found.clone());
            if let Some(mut w) = found {
                w.action = action.to_string();
                if escapes(shared, &w) {
                    return Some(w);
                }
            }
        }
        self.searched = true;
        let mut request = self.search(shared, &stmts, applicable)?;
        request.action = action.to_string();
        // The witness must survive a full evaluation of every Deny statement.
        if !escapes(shared, &request) {
            return None;
        }
        if self.recent.len() == RECENT_WITNESSES {
            self.recent.remove(0);
        }
        self.recent.push(request.clone());
        Some(request)
    }

    /// Searches for an assignment of candidates that falsifies a part of each of `stmts`
    /// (`applicable`: the same before leaving out the excluded ones), and builds the request
    /// (with no action: the caller sets it and checks the request).
    ///
    /// First a depth-first search in the statements' own order, with a small budget: it
    /// finds what the analyser has always shown for real policies. If that runs out, the
    /// search starts over with the statements that have the fewest ways out first, which
    /// settles the usual hard case (a few statements that split a key's values between
    /// them, after many that are easy to escape one by one) at once.
    fn search(
        &mut self,
        shared: &mut Shared,
        stmts: &[usize],
        applicable: &[usize],
    ) -> Option<Request> {
        if shared.budget.is_spent() {
            return None;
        }
        if self.universe.is_none() {
            let excluded: Vec<bool> = (0..shared.denies.len())
                .map(|i| self.excluded(shared, i))
                .collect();
            self.universe = Some(Universe::new(shared, &excluded, self.kind, self.variant));
        }
        let universe = self.universe.as_mut().expect("built above");
        let mut search = Search::new(universe, shared.denies, stmts, self.kind);
        // Setting up costs as much as the candidates it lists.
        let setup = stmts.len() + search.dims.iter().map(|d| d.cands.len()).sum::<usize>();
        if !shared.budget.spend(setup as u64) {
            return None;
        }
        let found = match search.run(universe, shared, FIRST_PASS_BUDGET) {
            Flow::Found => true,
            Flow::Exhausted => false,
            Flow::OutOfBudget => {
                search.reorder_for_second_pass(universe);
                search.run(universe, shared, u64::MAX) == Flow::Found
            }
        };
        found.then(|| search.build(universe, shared, applicable, self.kind, self.variant))
    }
}

// --- The witness search -------------------------------------------------------------------

/// A dimension of the request the requester chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dim {
    Principal,
    Object,
    /// An index into [`Universe::keys`].
    Key(usize),
}

/// A context key the requester controls, with every value any statement of the scope
/// suggests for it and the values the class adds.
struct UKey {
    lc: String,
    domain: KeyDomain,
    values: Vec<Option<String>>,
    index: HashMap<Option<String>, usize>,
    /// The values the class adds: a value outside `AnyExcept`'s list, or absence.
    fresh: usize,
    /// Per value: whether the class allows it (for `AnyExcept`: present and not listed).
    allowed: Vec<bool>,
}

impl UKey {
    fn add(&mut self, v: Option<String>) -> usize {
        if let Some(&i) = self.index.get(&v) {
            return i;
        }
        self.values.push(v.clone());
        self.index.insert(v, self.values.len() - 1);
        self.values.len() - 1
    }
}

/// One part of a statement that the requester's choice in one dimension decides, with its
/// value for each candidate of the dimension, evaluated on first use.
struct Part {
    dim: Dim,
    /// For a key: the statement's clauses on it (indices into its conditions).
    clauses: Vec<usize>,
    /// Per candidate: 0 not evaluated yet, 1 false, 2 true or unknown.
    cells: Vec<u8>,
}

const UNKNOWN_YET: u8 = 0;
const FALSE: u8 = 1;
const NOT_FALSE: u8 = 2;

/// What a statement contributes to the candidates, as indices into the universe's lists.
#[derive(Default)]
struct Contribution {
    principals: Vec<usize>,
    objects: Vec<usize>,
    /// Per condition on a requester-controlled key: the key, the key as written, and the
    /// values.
    keys: Vec<(usize, String, Vec<usize>)>,
    /// (key, value) pairs that make one of its conditions false ([`escape_hint`]), for the
    /// second pass of the search.
    hints: Vec<(usize, usize)>,
}

/// One condition's candidate values, before its key has an index (see `Universe::new`).
struct ClauseValues {
    lc: String,
    display: String,
    values: Vec<usize>,
    hint: Option<usize>,
}

/// The candidates every statement of a scope suggests, and each statement's parts. A search
/// for one sub-class uses the candidates of its own statements, in the order they suggest
/// them (as the analyser always has); the parts' values are shared by every search.
struct Universe {
    principals: Vec<Requester>,
    objects: Vec<String>,
    /// The full ARN of each object candidate.
    object_arns: Vec<String>,
    /// Sorted by lower-cased name: the order searches try them in.
    keys: Vec<UKey>,
    /// Per Deny statement (empty for excluded ones).
    contributions: Vec<Contribution>,
    parts: Vec<Vec<Part>>,
    /// Per Deny statement: its conditions on principal-derived keys.
    derived: Vec<Vec<usize>>,
}

/// Principals every search tries first: anonymous, then someone in another account.
const FIRST_PRINCIPALS: usize = 2;

/// The principal every search tries last.
fn probe_service() -> Requester {
    Requester::Service("s3audit-probe.amazonaws.com".to_string())
}

impl Universe {
    fn new(
        shared: &mut Shared,
        excluded: &[bool],
        kind: ResourceKind,
        variant: &Variant,
    ) -> Universe {
        let target = shared.target;
        let mut principals = vec![
            Requester::Anonymous,
            foreign_user(&target.partition),
            probe_service(),
        ];
        let mut principal_at: HashMap<Requester, usize> = principals
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, p)| (p, i))
            .collect();
        let mut objects = vec![PROBE_KEY.to_string()];
        let mut object_at: HashMap<String, usize> = HashMap::from([(PROBE_KEY.to_string(), 0)]);
        let mut keys: BTreeMap<String, UKey> = BTreeMap::new();
        let mut contributions = Vec::with_capacity(excluded.len());
        // Per statement, its conditions' keys and values, indexed once the key order is known.
        let mut key_values: Vec<Vec<ClauseValues>> = Vec::new();
        for (i, &excluded) in excluded.iter().enumerate() {
            let mut c = Contribution::default();
            let mut kv = Vec::new();
            if !excluded {
                let s = shared.denies[i];
                let suggested = shared.suggestions(i).clone();
                for p in suggested.principals {
                    let next = principals.len();
                    let at = *principal_at.entry(p.clone()).or_insert(next);
                    if at == next {
                        principals.push(p);
                    }
                    c.principals.push(at);
                }
                if kind == ResourceKind::Object {
                    for k in suggested.objects {
                        let next = objects.len();
                        let at = *object_at.entry(k.clone()).or_insert(next);
                        if at == next {
                            objects.push(k);
                        }
                        c.objects.push(at);
                    }
                }
                for ((cl, values), hint) in s
                    .conditions
                    .iter()
                    .zip(suggested.values)
                    .zip(suggested.hints)
                {
                    if is_derived(&cl.key_lc) {
                        continue;
                    }
                    let domain = domain_of(&cl.key_lc, target, variant);
                    if matches!(domain.as_ref(), KeyDomain::Fixed(_)) {
                        continue;
                    }
                    let key = keys.entry(cl.key_lc.clone()).or_insert_with(|| UKey {
                        lc: cl.key_lc.clone(),
                        domain: domain.into_owned(),
                        values: Vec::new(),
                        index: HashMap::new(),
                        fresh: 0,
                        allowed: Vec::new(),
                    });
                    let values = values.into_iter().map(|v| key.add(Some(v))).collect();
                    let hint = hint.map(|h| key.add(Some(h)));
                    kv.push(ClauseValues {
                        lc: cl.key_lc.clone(),
                        display: cl.key.clone(),
                        values,
                        hint,
                    });
                }
            }
            contributions.push(c);
            key_values.push(kv);
        }
        let names: Vec<String> = keys.keys().cloned().collect();
        let mut keys: Vec<UKey> = keys.into_values().collect();
        for (c, kv) in contributions.iter_mut().zip(key_values) {
            for cv in kv {
                let ki = names.binary_search(&cv.lc).expect("collected above");
                c.keys.push((ki, cv.display, cv.values));
                c.hints.extend(cv.hint.map(|h| (ki, h)));
            }
        }
        // The values a search adds to the statements' own (see `Search::new`).
        for key in &mut keys {
            key.fresh = match &key.domain {
                KeyDomain::AnyExcept(except) => {
                    let fresh = key.add(Some(fresh_value(&key.lc, except, &target.partition)));
                    if key.lc == "aws:securetransport" {
                        key.add(Some("true".to_string()));
                        key.add(Some("false".to_string()));
                    }
                    fresh
                }
                _ => key.add(None),
            };
            key.allowed = match &key.domain {
                KeyDomain::AnyExcept(except) => key
                    .values
                    .iter()
                    .map(|v| v.as_ref().is_some_and(|v| !except.contains(v)))
                    .collect(),
                _ => vec![true; key.values.len()],
            };
        }
        let prefix = target.object_prefix();
        let object_arns = objects.iter().map(|k| format!("{prefix}{k}")).collect();
        let mut parts = Vec::with_capacity(excluded.len());
        let mut derived = Vec::with_capacity(excluded.len());
        for (i, &excluded) in excluded.iter().enumerate() {
            let s = shared.denies[i];
            let d: Vec<usize> = (0..s.conditions.len())
                .filter(|&c| is_derived(&s.conditions[c].key_lc))
                .collect();
            let mut ps = Vec::new();
            if !excluded {
                // A part no candidate can make false offers no way out: leaving it out
                // changes nothing but the time spent trying.
                let everyone = !s.principals.negated && s.principals.set.everyone();
                if !(everyone && d.is_empty()) {
                    ps.push(Part {
                        dim: Dim::Principal,
                        clauses: Vec::new(),
                        cells: vec![UNKNOWN_YET; principals.len()],
                    });
                }
                if kind == ResourceKind::Object && !shared.universal(i, kind) {
                    ps.push(Part {
                        dim: Dim::Object,
                        clauses: Vec::new(),
                        cells: vec![UNKNOWN_YET; objects.len()],
                    });
                }
                // The clauses on each key, in key order (a statement may test hundreds).
                let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
                for (c, clause) in s.conditions.iter().enumerate() {
                    by_key.entry(clause.key_lc.as_str()).or_default().push(c);
                }
                for (lc, clauses) in by_key {
                    if let Ok(ki) = names.binary_search_by(|n| n.as_str().cmp(lc)) {
                        ps.push(Part {
                            dim: Dim::Key(ki),
                            clauses,
                            cells: vec![UNKNOWN_YET; keys[ki].values.len()],
                        });
                    }
                }
            }
            parts.push(ps);
            derived.push(d);
        }
        Universe {
            principals,
            objects,
            object_arns,
            keys,
            contributions,
            parts,
            derived,
        }
    }

    /// Whether part `p` of Deny statement `si` is false for candidate `cand`, evaluated
    /// (and the work charged) the first time it is asked.
    fn is_false(
        &mut self,
        s: &Statement,
        si: usize,
        p: usize,
        cand: usize,
        budget: &mut Budget,
    ) -> bool {
        let cell = self.parts[si][p].cells[cand];
        if cell != UNKNOWN_YET {
            return cell == FALSE;
        }
        let part = &self.parts[si][p];
        let (value, cost) = match part.dim {
            Dim::Principal => {
                let who = &self.principals[cand];
                let derived = &self.derived[si];
                let value = principal_applies(s, who).and(Tv::all(derived.iter().map(|&c| {
                    let c = &s.conditions[c];
                    let v = who.derived(&c.key_lc).flatten().map(|v| vec![v]);
                    c.eval(v.as_deref())
                })));
                let set = &s.principals.set;
                let named =
                    set.aws.len() + set.service.len() + set.federated.len() + set.canonical.len();
                (value, named + derived.len())
            }
            Dim::Object => (
                resource_applies(&s.resources, &self.object_arns[cand]),
                s.resources.patterns.len(),
            ),
            Dim::Key(ki) => {
                let v = self.keys[ki].values[cand].clone().map(|v| vec![v]);
                let clauses: Vec<&Clause> =
                    part.clauses.iter().map(|&c| &s.conditions[c]).collect();
                let cost = clauses.iter().map(|c| c.values.len()).sum();
                (key_applies(&clauses, v.as_deref()), cost)
            }
        };
        budget.spend(1 + cost as u64);
        let cell = if value == Tv::False { FALSE } else { NOT_FALSE };
        self.parts[si][p].cells[cand] = cell;
        cell == FALSE
    }
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Found,
    /// Every assignment of the candidates was tried: none escapes every statement.
    Exhausted,
    OutOfBudget,
}

/// One dimension of a search: its candidates (indices into the universe's list), in the
/// order the sub-class's statements suggest them.
struct SearchDim {
    dim: Dim,
    cands: Vec<usize>,
    /// For a key: where the first statement that tests it writes it (the statement, and
    /// the entry of its [`Contribution::keys`]).
    display: (usize, usize),
}

/// The witness search of one sub-class: a depth-first search for an assignment of
/// candidates that falsifies a part of every statement.
struct Search {
    /// Deny statement indices, in the order the search takes them.
    order: Vec<usize>,
    /// The same, in policy order.
    stmts: Vec<usize>,
    /// The principal first, then the object key (for objects), then the keys by name.
    dims: Vec<SearchDim>,
    /// Per Deny statement (empty for others): (the part's index in the universe, the
    /// search dimension it depends on).
    parts: Vec<Vec<(usize, usize)>>,
    /// Per dimension: the position of the chosen candidate in `cands`.
    asg: Vec<Option<usize>>,
    /// Per key of the universe: its dimension (`usize::MAX` when no statement tests it).
    key_dim: Vec<usize>,
    /// How many chosen keys are principal-scoped and present: such a key needs an IAM
    /// principal.
    scoped_present: usize,
}

impl Search {
    fn new(
        universe: &Universe,
        denies: &[&Statement],
        stmts: &[usize],
        kind: ResourceKind,
    ) -> Search {
        // Candidates in first-suggested order, without repeats (`of`: how many there are;
        // a key usually has a handful, checked without a table).
        fn merge<'l>(of: usize, lists: impl IntoIterator<Item = &'l [usize]>) -> Vec<usize> {
            let mut out = Vec::new();
            if of <= 16 {
                for list in lists {
                    for &c in list {
                        if !out.contains(&c) {
                            out.push(c);
                        }
                    }
                }
                return out;
            }
            let mut seen = vec![false; of];
            for list in lists {
                for &c in list {
                    if !std::mem::replace(&mut seen[c], true) {
                        out.push(c);
                    }
                }
            }
            out
        }
        let first: Vec<usize> = (0..FIRST_PRINCIPALS).collect();
        let probe = [universe
            .principals
            .iter()
            .position(|p| *p == probe_service())
            .expect("added first")];
        let principals = merge(
            universe.principals.len(),
            std::iter::once(first.as_slice())
                .chain(
                    stmts
                        .iter()
                        .map(|&i| universe.contributions[i].principals.as_slice()),
                )
                .chain(std::iter::once(probe.as_slice())),
        );
        let mut dims = vec![SearchDim {
            dim: Dim::Principal,
            cands: principals,
            display: (0, 0),
        }];
        if kind == ResourceKind::Object {
            dims.push(SearchDim {
                dim: Dim::Object,
                cands: merge(
                    universe.objects.len(),
                    std::iter::once([0].as_slice()).chain(
                        stmts
                            .iter()
                            .map(|&i| universe.contributions[i].objects.as_slice()),
                    ),
                ),
                display: (0, 0),
            });
        }
        // Keys by name: the statements' values, then what the class allows. Per key, where
        // it is first written, and the value lists of the conditions on it.
        type ValueLists<'l> = ((usize, usize), Vec<&'l [usize]>);
        let mut by_key: BTreeMap<usize, ValueLists> = BTreeMap::new();
        for &i in stmts {
            for (e, (ki, _, values)) in universe.contributions[i].keys.iter().enumerate() {
                by_key
                    .entry(*ki)
                    .or_insert_with(|| ((i, e), Vec::new()))
                    .1
                    .push(values);
            }
        }
        for (ki, (display, lists)) in by_key {
            let key = &universe.keys[ki];
            let at = |v: Option<String>| key.index[&v];
            let mut cands = merge(key.values.len(), lists);
            let fresh = key.fresh;
            match &key.domain {
                KeyDomain::AnyExcept(except) => {
                    cands.retain(|&v| key.allowed[v]);
                    if key.lc == "aws:securetransport" {
                        // Present in every request, and only ever true or false.
                        cands = vec![at(Some("true".into())), at(Some("false".into()))];
                    } else if !except.is_empty() {
                        // A value outside the class's list (an unlisted KMS key) is the
                        // most telling counterexample: try it first.
                        if !cands.contains(&fresh) {
                            cands.insert(0, fresh);
                        }
                    } else if cands.is_empty() {
                        cands.push(fresh);
                    }
                }
                _ => cands.push(fresh),
            }
            dims.push(SearchDim {
                dim: Dim::Key(ki),
                cands,
                display,
            });
        }
        let mut key_dim = vec![usize::MAX; universe.keys.len()];
        for (d, dim) in dims.iter().enumerate() {
            if let Dim::Key(ki) = dim.dim {
                key_dim[ki] = d;
            }
        }
        let dim_at = |dim: Dim| match dim {
            Dim::Principal => 0,
            Dim::Object => 1,
            Dim::Key(ki) => key_dim[ki],
        };
        let mut parts = vec![Vec::new(); denies.len()];
        for &i in stmts {
            parts[i] = universe.parts[i]
                .iter()
                .enumerate()
                .map(|(p, part)| (p, dim_at(part.dim)))
                .collect();
        }
        Search {
            order: stmts.to_vec(),
            stmts: stmts.to_vec(),
            asg: vec![None; dims.len()],
            key_dim,
            dims,
            parts,
            scoped_present: 0,
        }
    }

    /// Searches from scratch with at most `limit` of the shared budget.
    fn run(&mut self, universe: &mut Universe, shared: &mut Shared, limit: u64) -> Flow {
        self.asg.iter_mut().for_each(|a| *a = None);
        self.scoped_present = 0;
        let granted = limit.min(shared.budget.0);
        let mut budget = Budget(granted);
        let flow = self.dfs(universe, shared.denies, &mut budget, 0);
        shared.budget.spend(granted - budget.0);
        flow
    }

    /// Prepares the second pass: statements with the fewest potential ways out (parts ×
    /// candidates, counted without evaluating anything) first, and in each key the values
    /// known to falsify one of the statements' conditions ([`escape_hint`]) first. Both
    /// are guesses about where a witness, or the proof that there is none, lies; the
    /// search stays complete whatever the order.
    fn reorder_for_second_pass(&mut self, universe: &Universe) {
        let ways = |s: usize| -> usize {
            self.parts[s]
                .iter()
                .map(|&(_, d)| self.dims[d].cands.len())
                .sum()
        };
        let mut order: Vec<(usize, usize)> = self.stmts.iter().map(|&s| (ways(s), s)).collect();
        order.sort_by_key(|&(w, _)| w);
        self.order = order.into_iter().map(|(_, s)| s).collect();
        for &s in &self.stmts {
            for &(ki, v) in &universe.contributions[s].hints {
                let Some(dim) = self.dims.get_mut(self.key_dim[ki]) else {
                    continue;
                };
                if !universe.keys[ki].allowed[v] {
                    continue;
                }
                dim.cands.retain(|&c| c != v);
                dim.cands.insert(0, v);
            }
        }
    }

    fn key_present(&self, universe: &Universe, d: usize, cand: usize) -> bool {
        match self.dims[d].dim {
            Dim::Key(ki) => {
                principal_scoped(&universe.keys[ki].lc) && universe.keys[ki].values[cand].is_some()
            }
            _ => false,
        }
    }

    fn consistent(&self, universe: &Universe, d: usize, cand: usize) -> bool {
        match self.dims[d].dim {
            Dim::Principal => universe.principals[cand].is_iam() || self.scoped_present == 0,
            Dim::Key(_) => {
                !self.key_present(universe, d, cand)
                    || self.asg[0]
                        .is_none_or(|p| universe.principals[self.dims[0].cands[p]].is_iam())
            }
            Dim::Object => true,
        }
    }

    fn escaped(
        &self,
        universe: &mut Universe,
        denies: &[&Statement],
        s: usize,
        budget: &mut Budget,
    ) -> bool {
        self.parts[s].iter().any(|&(p, d)| {
            self.asg[d].is_some_and(|pos| {
                universe.is_false(denies[s], s, p, self.dims[d].cands[pos], budget)
            })
        })
    }

    /// Takes the first statement (in `order`, from `from` on) that no choice so far
    /// falsifies, and tries each way of falsifying it. Every earlier statement is already
    /// falsified, so a witness, if the candidates hold one, is reached through one of
    /// these ways: the search is complete until the budget runs out.
    fn dfs(
        &mut self,
        universe: &mut Universe,
        denies: &[&Statement],
        budget: &mut Budget,
        from: usize,
    ) -> Flow {
        let mut at = from;
        loop {
            if !budget.spend(1) {
                return Flow::OutOfBudget;
            }
            match self.order.get(at) {
                None => return Flow::Found,
                Some(&s) if self.escaped(universe, denies, s, budget) => at += 1,
                Some(_) => break,
            }
        }
        let s = self.order[at];
        for k in 0..self.parts[s].len() {
            let (p, d) = self.parts[s][k];
            if self.asg[d].is_some() {
                continue;
            }
            for pos in 0..self.dims[d].cands.len() {
                let cand = self.dims[d].cands[pos];
                if budget.is_spent() {
                    return Flow::OutOfBudget;
                }
                if !universe.is_false(denies[s], s, p, cand, budget)
                    || !self.consistent(universe, d, cand)
                {
                    continue;
                }
                let present = self.key_present(universe, d, cand);
                self.asg[d] = Some(pos);
                self.scoped_present += usize::from(present);
                match self.dfs(universe, denies, budget, at + 1) {
                    Flow::Exhausted => {}
                    done => return done,
                }
                self.asg[d] = None;
                self.scoped_present -= usize::from(present);
            }
        }
        Flow::Exhausted
    }

    fn chosen(&self, d: usize) -> Option<usize> {
        self.asg[d].map(|pos| self.dims[d].cands[pos])
    }

    /// The request the current choices describe. `applicable`: every statement that
    /// applies to the action (keys none of them tests are left out of its description).
    fn build(
        &self,
        universe: &Universe,
        shared: &Shared,
        applicable: &[usize],
        kind: ResourceKind,
        variant: &Variant,
    ) -> Request {
        let target = shared.target;
        let principal = match self.chosen(0) {
            Some(p) => universe.principals[p].clone(),
            None if self.scoped_present > 0 => self.dims[0]
                .cands
                .iter()
                .map(|&p| &universe.principals[p])
                .find(|p| p.is_iam())
                .cloned()
                .unwrap_or_else(|| foreign_user(&target.partition)),
            None => Requester::Anonymous,
        };
        let resource = match kind {
            ResourceKind::Bucket => target.bucket_arn(),
            ResourceKind::Object => {
                let key = self
                    .dims
                    .iter()
                    .position(|d| d.dim == Dim::Object)
                    .and_then(|d| self.chosen(d))
                    .map_or(PROBE_KEY, |k| universe.objects[k].as_str());
                format!("{}{key}", target.object_prefix())
            }
        };
        let mut context: Vec<(String, Option<String>)> = variant
            .keys
            .iter()
            .filter_map(|(k, d)| match d {
                KeyDomain::Fixed(v) => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect();
        for (d, dim) in self.dims.iter().enumerate() {
            if let (Dim::Key(ki), Some(c)) = (dim.dim, self.chosen(d)) {
                let (i, e) = dim.display;
                let display = universe.contributions[i].keys[e].1.clone();
                context.push((display, universe.keys[ki].values[c].clone()));
            }
        }
        // A key the class constrains but the search left free still gets a value from its
        // domain (e.g. a key id outside the allowed list), so the request is complete.
        for (k, d) in &variant.keys {
            if let KeyDomain::AnyExcept(except) = d
                && !context.iter().any(|(c, _)| c.eq_ignore_ascii_case(k))
            {
                let k_lc = k.to_lowercase();
                let value = self
                    .dims
                    .iter()
                    .find(|dim| matches!(dim.dim, Dim::Key(ki) if universe.keys[ki].lc == k_lc))
                    .and_then(|dim| match dim.dim {
                        Dim::Key(ki) => dim
                            .cands
                            .first()
                            .and_then(|&c| universe.keys[ki].values[c].clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| fresh_value(k, except, &target.partition));
                context.push((k.clone(), Some(value)));
            }
        }
        // Keys the target fixes (the owner account) are shown when a statement tests them,
        // and must be in the request for the final check to see them.
        let mut fixed_by_target: Vec<(String, Option<String>)> = Vec::new();
        for &i in &self.stmts {
            for c in &shared.denies[i].conditions {
                if variant.domain(&c.key_lc).is_some()
                    || fixed_by_target
                        .iter()
                        .any(|(k, _)| k.to_lowercase() == c.key_lc)
                {
                    continue;
                }
                if let KeyDomain::Fixed(v) = domain_of(&c.key_lc, target, variant).into_owned() {
                    fixed_by_target.push((c.key.clone(), v));
                }
            }
        }
        context.extend(fixed_by_target);
        let tested = |k: &str| {
            applicable.iter().any(|&i| {
                shared.denies[i]
                    .conditions
                    .iter()
                    .any(|c| lower_eq(k, &c.key_lc))
            })
        };
        let quiet = context
            .iter()
            .filter(|(k, v)| v.is_none() && !tested(k))
            .map(|(k, _)| k.clone())
            .collect();
        Request {
            principal,
            action: String::new(),
            resource,
            context,
            quiet,
        }
    }
}

/// A present value that makes the clause false, when one is easy to name: the probe value
/// of its operator's kind if that will do, else, for a string match (`StringEquals`,
/// `StringLike`, with or without a set operator or `IfExists`), a value none of its values
/// matches. The clause's own candidates are mostly instances of its values, which make it
/// true: with hundreds of values, reaching one that does not is the whole cost of a search.
fn escape_hint(c: &Clause, partition: &str) -> Option<String> {
    let probe = match c.op.base {
        Base::Arn { .. } => partition::iam_arn(partition, FOREIGN_ACCOUNT, "role/s3audit-probe"),
        Base::Ip { .. } => "203.0.113.7".to_string(),
        _ => PROBE_KEY.to_string(),
    };
    if c.eval(Some(std::slice::from_ref(&probe))) == Tv::False {
        return Some(probe);
    }
    let Base::Str {
        kind,
        negated: false,
    } = c.op.base
    else {
        return None;
    };
    let globs: Vec<Glob> = c
        .values
        .iter()
        .map(|v| match kind {
            StrKind::Like => v.glob(),
            StrKind::Equals => v.text().map(|t| Glob::literal(&t)),
            StrKind::EqualsIgnoreCase => None,
        })
        .collect::<Option<_>>()?;
    let refs: Vec<&Glob> = globs.iter().collect();
    find_unmatched(&refs, "", 1)
}

/// The object key counterexamples use when any key will do.
pub const PROBE_KEY: &str = "s3audit-probe";

/// S3's limit on the length of an object key (UTF-8 bytes).
const MAX_KEY_BYTES: usize = 1024;

/// The longest condition value a witness search tries. Candidates are instances of the
/// policy's own values, and one with thousands of wildcards would make a value as long as
/// the policy, slow to compare with everything else. Leaving it out can only cost a
/// counterexample: whether a Deny covers is decided without candidates.
const MAX_VALUE_BYTES: usize = 4096;

/// An account no real policy names, for "someone in another account".
const FOREIGN_ACCOUNT: &str = "999999999999";

/// Someone in another account of the same partition.
fn foreign_user(partition: &str) -> Requester {
    Requester::Iam {
        arn: partition::iam_arn(partition, FOREIGN_ACCOUNT, "user/s3audit-probe"),
        account: FOREIGN_ACCOUNT.to_string(),
    }
}

/// The part of a statement fixed for the whole sub-class: the bucket resource and the
/// conditions on keys the class fixes.
fn static_part(s: &Statement, target: &Target, kind: ResourceKind, variant: &Variant) -> Tv {
    let resource = match kind {
        ResourceKind::Bucket => resource_applies(&s.resources, &target.bucket_arn()),
        ResourceKind::Object => Tv::True,
    };
    resource.and(Tv::all(s.conditions.iter().map(|c| {
        match domain_of(&c.key_lc, target, variant).as_ref() {
            KeyDomain::Fixed(v) => c.eval(v.clone().map(|v| vec![v]).as_deref()),
            _ => Tv::True,
        }
    })))
}

/// The principals a statement suggests for a witness: those it names (an account as its
/// root user and as a user in it), and those its principal conditions name. Accounts named
/// by id become principals of `partition` (the resource's: requests never cross partitions).
fn principal_candidates(s: &Statement, partition: &str) -> Vec<Requester> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |r: Requester| {
        if seen.insert(r.clone()) {
            out.push(r);
        }
    };
    let account_of_arn = |arn: &str| -> Option<String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        (parts.len() == 6 && parts[4].len() == 12).then(|| parts[4].to_string())
    };
    let set = &s.principals.set;
    for e in &set.aws {
        if e.len() == 12 && e.chars().all(|c| c.is_ascii_digit()) {
            push(Requester::root(partition, e));
            push(Requester::Iam {
                arn: partition::iam_arn(partition, e, "user/s3audit-probe"),
                account: e.clone(),
            });
        } else if let Some(acct) = account_of_arn(e) {
            if e.ends_with(":root") {
                let named_partition = partition::of_arn(e);
                push(Requester::root(named_partition, &acct));
                push(Requester::Iam {
                    arn: partition::iam_arn(named_partition, &acct, "user/s3audit-probe"),
                    account: acct,
                });
            } else {
                push(Requester::Iam {
                    arn: e.clone(),
                    account: acct,
                });
            }
        }
    }
    for svc in &set.service {
        push(Requester::Service(svc.clone()));
    }
    for f in &set.federated {
        push(Requester::Federated(f.clone()));
    }
    for c in &set.canonical {
        push(Requester::Canonical(c.clone()));
    }
    for c in &s.conditions {
        if !matches!(
            c.key_lc.as_str(),
            "aws:principalarn" | "aws:principalaccount"
        ) {
            continue;
        }
        for v in &c.values {
            let Some(text) = v.text() else { continue };
            let text = text.replace('*', "s3audit").replace('?', "x");
            if text.len() == 12 && text.chars().all(|c| c.is_ascii_digit()) {
                push(Requester::Iam {
                    arn: partition::iam_arn(partition, &text, "user/s3audit-probe"),
                    account: text,
                });
            } else if let Some(acct) = account_of_arn(&text) {
                push(Requester::Iam {
                    arn: text,
                    account: acct,
                });
            }
        }
    }
    out
}

/// The object keys a statement suggests for a witness: for each resource pattern, an
/// instance of it and the first key it matches, then the first key none of them matches.
/// Only keys S3 accepts (1 to [`MAX_KEY_BYTES`] bytes): a longer one is no request anyone
/// can make, and would only make every match against it slower.
fn object_candidates(s: &Statement, target: &Target) -> Vec<String> {
    let prefix = target.object_prefix();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |k: String| {
        if !k.is_empty() && k.len() <= MAX_KEY_BYTES && seen.insert(k.clone()) {
            out.push(k);
        }
    };
    let globs: Vec<_> = s
        .resources
        .patterns
        .iter()
        .filter_map(|p| p.glob.as_ref())
        .collect();
    for g in &globs {
        if let Some(key) = g.example(PROBE_KEY).strip_prefix(&prefix) {
            push(key.to_string());
        }
        if let Some(k) = find_matched(&[g], &prefix, 1) {
            push(k);
        }
    }
    if let Some(k) = find_unmatched(&globs, &prefix, 1) {
        push(k);
    }
    out
}

/// A value for a key constrained to "anything but `except`": an unlisted KMS key for the
/// key-id key (in `partition`), a probe string otherwise.
fn fresh_value(key: &str, except: &BTreeSet<String>, partition: &str) -> String {
    let base = if key.to_lowercase().contains("kms-key-id") {
        let region = partition::home_region(partition);
        format!("arn:{partition}:kms:{region}:{FOREIGN_ACCOUNT}:key/s3audit-unlisted-key")
    } else {
        PROBE_KEY.to_string()
    };
    let mut value = base.clone();
    let mut n = 1;
    while except.contains(&value) {
        n += 1;
        value = format!("{base}-{n}");
    }
    value
}

/// Test reference for the witness search: whether some combination of the sub-class's
/// candidates, tried exhaustively and checked by evaluating every applicable statement,
/// gets through. `None` when there are too many combinations to try.
#[cfg(test)]
pub(super) fn exhaustive_witness(
    policy: Option<&Policy>,
    target: &Target,
    class: &RequestClass,
    gap: &Gap,
) -> Option<bool> {
    let denies = deny_statements(policy);
    let action_lc = gap.action.to_lowercase();
    let applicable: Vec<usize> = (0..denies.len())
        .filter(|&i| denies[i].actions.applies_to_lc(&action_lc))
        .collect();
    let variant = &class.variants[gap.variant];
    let mut shared = Shared::new(&denies, target, u64::MAX);
    let mut scope = Scope::new(denies.len(), gap.kind, variant, &[]);
    let excluded: Vec<bool> = (0..denies.len())
        .map(|i| scope.excluded(&shared, i))
        .collect();
    let stmts: Vec<usize> = applicable
        .iter()
        .copied()
        .filter(|&i| !excluded[i])
        .collect();
    let universe = Universe::new(&mut shared, &excluded, gap.kind, variant);
    let mut search = Search::new(&universe, &denies, &stmts, gap.kind);
    // Every dimension some statement depends on (the others are left to `build`).
    let used: Vec<usize> = (0..search.dims.len())
        .filter(|&d| {
            stmts
                .iter()
                .any(|&s| search.parts[s].iter().any(|p| p.1 == d))
        })
        .collect();
    let total = used
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(search.dims[d].cands.len()))?;
    if total > 20_000 {
        return None;
    }
    for combination in 0..total {
        let mut n = combination;
        for &d in &used {
            let len = search.dims[d].cands.len();
            search.asg[d] = Some(n % len);
            n /= len;
        }
        search.scoped_present = used
            .iter()
            .filter(|&&d| search.key_present(&universe, d, search.chosen(d).expect("assigned")))
            .count();
        if search.scoped_present > 0
            && search
                .chosen(0)
                .is_some_and(|p| !universe.principals[p].is_iam())
        {
            continue;
        }
        let mut request = search.build(&universe, &shared, &applicable, gap.kind, variant);
        request.action = gap.action.clone();
        if stmts
            .iter()
            .all(|&i| statement_applies(denies[i], &request) == Tv::False)
        {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::super::document::parse_policy;
    use super::*;

    fn plain_http() -> RequestClass {
        RequestClass {
            actions: RequestClass::all_s3_actions(),
            variants: vec![Variant {
                label: "plain HTTP".into(),
                keys: vec![
                    (
                        "aws:SecureTransport".into(),
                        KeyDomain::Fixed(Some("false".into())),
                    ),
                    ("s3:TlsVersion".into(), KeyDomain::Fixed(None)),
                ],
            }],
        }
    }

    fn run(policy: &str) -> Analysis {
        let p = parse_policy(policy).unwrap();
        analyze(Some(&p), &Target::new("b"), &plain_http())
    }

    fn deny(extra: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{extra}]}}"#)
    }

    const TLS: &str = r#"{"Sid":"TLS","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#;

    /// China: the probe principals and values of counterexamples are of the bucket's
    /// partition (they read `arn:aws:`, principals and keys that cannot reach the bucket).
    #[test]
    fn probes_are_principals_of_the_buckets_partition() {
        // Callers without an ARN and one account are denied, so the counterexample is someone else,
        // named in aws-cn; and an upload naming an unlisted key names a China key.
        let mut target = Target::new("b");
        target.partition = "aws-cn".into();
        let only_one = deny(concat!(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"},"Null":{"aws:PrincipalArn":"true"}}},"#,
            r#"{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#
        ));
        let witnesses = |doc: &str, class: &RequestClass| -> Vec<String> {
            analyze(Some(&parse_policy(doc).unwrap()), &target, class)
                .gaps
                .iter()
                .filter_map(|g| g.witness.as_ref().map(Request::describe))
                .collect()
        };
        let described = witnesses(&only_one, &plain_http());
        assert!(
            described.iter().any(|d| d.contains("arn:aws-cn:iam::")),
            "{described:?}"
        );
        let pinned = deny(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"Null":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"true"}}}"#,
        );
        let class = super::super::classes::unpinned_kms_uploads(
            &["arn:aws-cn:kms:cn-north-1:111122223333:key/k1".into()],
            "the allowed list",
        );
        let described = witnesses(&pinned, &class);
        assert!(
            described
                .iter()
                .any(|d| d.contains("arn:aws-cn:kms:cn-north-1:999999999999:key/")),
            "{described:?}"
        );
        for d in &described {
            assert!(!d.contains("arn:aws:"), "{d}");
        }
    }

    #[test]
    fn the_standard_tls_statement_covers_everything() {
        let a = run(&deny(TLS));
        assert!(a.passed(), "{:?}", a.gaps.first());
        assert_eq!(a.covered_by, vec!["\"TLS\"".to_string()]);
        assert!(a.checked > 100, "{} sub-classes", a.checked);
    }

    #[test]
    fn a_get_object_only_deny_leaves_a_witness() {
        let a = run(&deny(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        ));
        assert!(!a.passed());
        let w = a.gaps[0].witness.as_ref().unwrap();
        assert_eq!(w.action, "s3:PutObject");
        assert_eq!(
            w.describe(),
            "anonymous s3:PutObject arn:aws:s3:::b/s3audit-probe with aws:SecureTransport=false"
        );
    }

    #[test]
    fn a_deny_for_one_principal_fails_with_someone_else() {
        let a = run(&deny(
            r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        ));
        let w = a.gaps[0].witness.as_ref().unwrap();
        assert_eq!(w.principal, Requester::Anonymous);
        assert_eq!(w.action, "s3:GetObject");
    }

    #[test]
    fn a_source_ip_condition_yields_an_address_outside() {
        let a = run(&deny(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"},"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#,
        ));
        let w = a.gaps[0].witness.as_ref().unwrap();
        assert!(
            w.describe().contains("aws:SourceIp=10.0.0.0"),
            "{}",
            w.describe()
        );
    }

    #[test]
    fn complementary_statements_are_a_conservative_fail_without_witness() {
        let a = run(&deny(&format!(
            "{},{}",
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#,
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"},"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#
        )));
        assert!(!a.passed());
        assert!(a.gaps.iter().all(|g| g.witness.is_none()));
    }

    #[test]
    fn not_principal_exempts_only_listed_user_and_account() {
        let a = run(&deny(
            r#"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/admin","arn:aws:iam::111122223333:root"]},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        ));
        let w = a.gaps[0].witness.as_ref().unwrap();
        assert!(
            matches!(&w.principal, Requester::Iam { arn, .. } if arn == "arn:aws:iam::111122223333:user/admin")
                || w.principal == Requester::root("aws", "111122223333"),
            "{w:?}"
        );
    }

    #[test]
    fn no_policy_fails_everything_with_anonymous() {
        let a = analyze(None, &Target::new("b"), &plain_http());
        assert_eq!(a.gaps.len(), a.checked);
        assert_eq!(
            a.gaps[0].witness.as_ref().unwrap().describe(),
            "anonymous s3:GetObject arn:aws:s3:::b/s3audit-probe with aws:SecureTransport=false"
        );
    }

    /// `n` statements each on three condition keys of their own, then four that split two
    /// keys' values between them: no request escapes all, and searching in policy order
    /// has 9^n ways to escape the first `n` to reject.
    fn split_keys(n: usize, not_action: bool) -> String {
        let mut stmts: Vec<String> = (0..n)
            .map(|i| {
                let action = if not_action {
                    format!(r#""NotAction":"{}""#, RequestClass::all_s3_actions()[i].0)
                } else {
                    r#""Action":"s3:*""#.to_string()
                };
                format!(
                    r#"{{"Effect":"Deny","Principal":"*",{action},"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}},"StringEquals":{{"t:a{i}":"x","t:b{i}":"y","t:c{i}":"z"}}}}}}"#
                )
            })
            .collect();
        for (k, m) in [
            ("StringEquals", "StringNotEquals"),
            ("StringNotEquals", "StringEquals"),
            ("StringEquals", "StringEquals"),
            ("StringNotEquals", "StringNotEquals"),
        ] {
            let cond = if k == m {
                format!(r#""{k}":{{"t:k":"a","t:m":"b"}}"#)
            } else {
                format!(r#""{k}":{{"t:k":"a"}},"{m}":{{"t:m":"b"}}"#)
            };
            stmts.push(format!(
                r#"{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}},{cond}}}}}"#
            ));
        }
        deny(&stmts.join(","))
    }

    #[test]
    fn statements_splitting_keys_fail_without_witness_however_many_come_first() {
        for (n, not_action) in [(0, false), (3, false), (40, false), (40, true)] {
            let a = run(&split_keys(n, not_action));
            assert!(!a.passed(), "{n}");
            assert_eq!(
                a.gaps.len(),
                a.checked,
                "{n}: no statement covers on its own"
            );
            assert!(
                a.gaps.iter().all(|g| g.witness.is_none()),
                "{n}: nothing gets through all of them"
            );
        }
    }

    #[test]
    fn once_the_budget_is_spent_gaps_lose_their_witness_not_their_verdict() {
        let p = parse_policy(&split_keys(40, true)).unwrap();
        let target = Target::new("b");
        let class = plain_http();
        let denies: Vec<&Statement> = p.statements.iter().collect();
        let mut shared = Shared::new(&denies, &target, 0);
        let mut scope = Scope::new(denies.len(), ResourceKind::Object, &class.variants[0], &[]);
        let all: Vec<usize> = (0..denies.len()).collect();
        match scope.decide(&mut shared, &all, "s3:GetObject") {
            Answer::Gap { witness, reasons } => {
                assert!(witness.is_none());
                assert_eq!(reasons.len(), denies.len());
            }
            Answer::Covered(_) => panic!("no statement covers"),
        }
        // The same sub-class with budget left, for a statement with a way out.
        let one = parse_policy(&deny(
            r#"{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        ))
        .unwrap();
        let denies: Vec<&Statement> = one.statements.iter().collect();
        let mut shared = Shared::new(&denies, &target, ANALYSIS_BUDGET);
        let mut scope = Scope::new(1, ResourceKind::Object, &class.variants[0], &[]);
        match scope.decide(&mut shared, &[0], "s3:GetObject") {
            Answer::Gap {
                witness: Some(w), ..
            } => assert_eq!(w.principal, Requester::Anonymous),
            _ => panic!("anonymous gets through"),
        }
    }

    #[test]
    fn hundreds_of_principals_and_wildcards_still_yield_a_witness() {
        let accounts: Vec<String> = (0..1500)
            .map(|i| format!("\"{:012}\"", 100_000_000_000u64 + i))
            .collect();
        let a = run(&deny(&format!(
            r#"{{"Effect":"Deny","Principal":{{"AWS":[{}]}},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}"#,
            accounts.join(",")
        )));
        assert_eq!(
            a.gaps[0].witness.as_ref().unwrap().principal,
            Requester::Anonymous
        );
        let patterns: Vec<String> = (0..500)
            .map(|i| format!("\"arn:aws:s3:::b/{}*{}?*\"", i % 7, i % 11))
            .collect();
        let a = run(&deny(&format!(
            r#"{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b",{}],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}"#,
            patterns.join(",")
        )));
        let w = a.gaps[0]
            .witness
            .as_ref()
            .expect("a key no pattern matches");
        assert_eq!(w.resource, "arn:aws:s3:::b/s3audit-probe");
        assert!(a.gaps.iter().all(|g| g.kind == ResourceKind::Object));
    }
}
