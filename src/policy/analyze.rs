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
//! Known limits, all on the side of failing: the root user of the bucket owner account can
//! always get, put and delete the bucket policy whatever it says (AWS's lock-out
//! protection), which no policy can change and the analyser does not model; a plain
//! operator on a context key is assumed single-valued (AWS requires set operators for
//! multivalued keys).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::actions;
use super::condition::{Clause, KeyDomain, Tv};
use super::document::{Effect, Policy, PrincipalSet, Resources, Statement};
use super::glob::{find_matched, find_unmatched};

/// The bucket a policy is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: String,
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// The bucket owner's account, when known: fixes `aws:ResourceAccount`.
    pub account: Option<String>,
}

impl Target {
    pub fn new(bucket: &str) -> Target {
        Target {
            bucket: bucket.to_string(),
            partition: "aws".to_string(),
            account: None,
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
            .find(|(k, _)| k.to_lowercase() == key_lc)
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
    /// An account's root user.
    Account(String),
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
            Requester::Account(a) => format!("arn:aws:iam::{a}:root"),
            Requester::Iam { arn, .. } => arn.clone(),
            Requester::Service(s) => format!("service {s}"),
            Requester::Federated(f) => format!("federated {f}"),
            Requester::Canonical(c) => format!("canonical user {c}"),
        }
    }

    /// Whether the principal is an authenticated IAM identity (principal-scoped context
    /// keys such as `aws:PrincipalOrgID` can only be present for those).
    fn is_iam(&self) -> bool {
        matches!(self, Requester::Account(_) | Requester::Iam { .. })
    }

    fn account(&self) -> Option<&str> {
        match self {
            Requester::Account(a) | Requester::Iam { account: a, .. } => Some(a),
            _ => None,
        }
    }

    fn arn(&self) -> Option<String> {
        match self {
            Requester::Account(a) => Some(format!("arn:aws:iam::{a}:root")),
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
                    Requester::Account(_) => "Account",
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
            .find(|(k, _)| k.to_lowercase() == key_lc)
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

/// Whether a Principal/NotPrincipal set names the requester.
fn set_names(set: &PrincipalSet, who: &Requester) -> Tv {
    if set.everyone() {
        return Tv::True;
    }
    let is_account = |e: &str| e.len() == 12 && e.chars().all(|c| c.is_ascii_digit());
    let root_of = |e: &str| -> Option<String> {
        let rest = e.strip_prefix("arn:")?;
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        (parts.len() == 5 && parts[1] == "iam" && parts[4] == "root").then(|| parts[3].to_string())
    };
    match who {
        Requester::Anonymous => Tv::False,
        Requester::Account(a) | Requester::Iam { account: a, .. } => {
            let arn = who.arn().unwrap_or_default();
            Tv::any(set.aws.iter().map(|e| {
                if is_account(e) {
                    Tv::from_bool(e == a)
                } else if let Some(acct) = root_of(e) {
                    Tv::from_bool(&acct == a)
                } else if e.starts_with("arn:") {
                    Tv::from_bool(*e == arn)
                } else {
                    // A unique id (AIDA..., AROA...) could be anyone we cannot name.
                    Tv::Unknown
                }
            }))
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
        Requester::Iam { account, .. } => set_names(&p.set, &Requester::Account(account.clone()))
            .and(if p.set.everyone() {
                Tv::True
            } else {
                Tv::from_bool(p.set.aws.iter().any(|e| Some(e.clone()) == who.arn()))
            }),
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
    Tv::from_bool(stmt.actions.applies_to(&req.action))
        .and(principal_applies(stmt, &req.principal))
        .and(resource_applies(&stmt.resources, &req.resource))
        .and(Tv::all(stmt.conditions.iter().map(|c| {
            let v = req.value(&c.key_lc);
            c.eval(v.as_deref())
        })))
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
fn why_not_covering(
    stmt: &Statement,
    target: &Target,
    kind: ResourceKind,
    variant: &Variant,
) -> Option<String> {
    let p = &stmt.principals;
    if p.negated {
        return Some("its NotPrincipal exempts some principals".to_string());
    }
    if !p.set.everyone() {
        return Some("it names only some principals (Principal is not \"*\")".to_string());
    }
    if !resource_universal(&stmt.resources, target, kind) {
        return Some(match kind {
            ResourceKind::Bucket => format!("its resources do not include {}", target.bucket_arn()),
            ResourceKind::Object => format!(
                "its resources do not include every object ({}*)",
                target.object_prefix()
            ),
        });
    }
    for c in &stmt.conditions {
        let domain = domain_of(&c.key_lc, target, variant);
        if !c.always(&domain) {
            return Some(match domain {
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

/// What the class lets a key be.
fn domain_of(key_lc: &str, target: &Target, variant: &Variant) -> KeyDomain {
    if let Some(d) = variant.domain(key_lc) {
        return d.clone();
    }
    match (key_lc, &target.account) {
        ("aws:resourceaccount" | "s3:resourceaccount", Some(acct)) => {
            KeyDomain::Fixed(Some(acct.clone()))
        }
        // Keys AWS puts in every request (IAM User Guide, "Global condition context keys"):
        // present, with any value.
        ("aws:securetransport" | "aws:currenttime" | "aws:epochtime", _) => {
            KeyDomain::AnyExcept(BTreeSet::new())
        }
        _ => KeyDomain::Free,
    }
}

/// Whether Resource/NotResource matches the bucket ARN, or every object ARN.
fn resource_universal(res: &Resources, target: &Target, kind: ResourceKind) -> bool {
    match kind {
        ResourceKind::Bucket => resource_applies(res, &target.bucket_arn()) == Tv::True,
        ResourceKind::Object => {
            let globs: Vec<_> = res
                .patterns
                .iter()
                .filter_map(|p| p.glob.as_ref())
                .collect();
            let prefix = target.object_prefix();
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
    /// For each Deny statement that applies to the action, why it does not cover.
    pub reasons: Vec<String>,
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
pub fn analyze(policy: Option<&Policy>, target: &Target, class: &RequestClass) -> Analysis {
    let denies: Vec<&Statement> = policy
        .map(|p| {
            p.statements
                .iter()
                .filter(|s| s.effect == Effect::Deny)
                .collect()
        })
        .unwrap_or_default();
    let mut checked = 0;
    let mut covered_by = BTreeSet::new();
    let mut gaps = Vec::new();
    // Sub-classes with the same applicable statements share an answer.
    let mut memo: HashMap<(ResourceKind, usize, Vec<usize>), Answer> = HashMap::new();
    for (vi, variant) in class.variants.iter().enumerate() {
        for (action, kinds) in &class.actions {
            for &kind in kinds {
                checked += 1;
                let applicable: Vec<usize> = denies
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.actions.applies_to(action))
                    .map(|(i, _)| i)
                    .collect();
                let key = (kind, vi, applicable.clone());
                let answer = memo.entry(key).or_insert_with(|| {
                    let stmts: Vec<&Statement> = applicable.iter().map(|&i| denies[i]).collect();
                    decide(&stmts, target, kind, variant, action)
                });
                match answer {
                    Answer::Covered(i) => {
                        covered_by.insert(applicable[*i]);
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
    /// This applicable statement (an index into the statements passed to [`decide`])
    /// covers the sub-class.
    Covered(usize),
    /// Not covered: a witness if one was found, and why each statement falls short.
    Gap {
        witness: Option<Request>,
        reasons: Vec<String>,
    },
}

fn decide(
    stmts: &[&Statement],
    target: &Target,
    kind: ResourceKind,
    variant: &Variant,
    action: &str,
) -> Answer {
    let mut reasons = Vec::new();
    for (i, s) in stmts.iter().enumerate() {
        match why_not_covering(s, target, kind, variant) {
            None => return Answer::Covered(i),
            Some(why) => reasons.push(format!("Deny {}: {why}", s.label())),
        }
    }
    let witness = WitnessSearch::new(stmts, target, kind, variant, action).run();
    Answer::Gap { witness, reasons }
}

// --- The witness search -------------------------------------------------------------------

/// A dimension of the request the requester chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dim {
    Principal,
    Object,
    Key(usize),
}

struct FreeKey {
    display: String,
    lc: String,
    candidates: Vec<Option<String>>,
}

/// Candidate values per dimension, each statement's part evaluated for each candidate, and
/// a depth-first search for an assignment that falsifies a part of every statement.
struct WitnessSearch<'a> {
    stmts: Vec<&'a Statement>,
    target: &'a Target,
    kind: ResourceKind,
    variant: &'a Variant,
    action: String,
    principals: Vec<Requester>,
    objects: Vec<String>,
    keys: Vec<FreeKey>,
    /// `parts[s]`: for statement `s`, each dimension it depends on with the part's value
    /// for every candidate of that dimension.
    parts: Vec<Vec<(Dim, Vec<Tv>)>>,
    budget: usize,
    /// Every key the applicable statements test (lower-cased), for display.
    tested: Vec<String>,
}

/// How many search steps one sub-class may take.
const SEARCH_BUDGET: usize = 50_000;

impl<'a> WitnessSearch<'a> {
    fn new(
        stmts: &[&'a Statement],
        target: &'a Target,
        kind: ResourceKind,
        variant: &'a Variant,
        action: &str,
    ) -> WitnessSearch<'a> {
        let tested: Vec<String> = stmts
            .iter()
            .flat_map(|s| s.conditions.iter().map(|c| c.key_lc.clone()))
            .collect();
        // Statements a fixed part already rules out cannot match any request of the class.
        let stmts: Vec<&Statement> = stmts
            .iter()
            .copied()
            .filter(|s| static_part(s, target, kind, variant) != Tv::False)
            .collect();
        let mut search = WitnessSearch {
            principals: principal_candidates(&stmts),
            objects: match kind {
                ResourceKind::Object => object_candidates(&stmts, target),
                ResourceKind::Bucket => Vec::new(),
            },
            keys: free_keys(&stmts, target, variant),
            stmts,
            target,
            kind,
            variant,
            action: action.to_string(),
            parts: Vec::new(),
            budget: SEARCH_BUDGET,
            tested,
        };
        search.parts = search
            .stmts
            .iter()
            .map(|s| search.statement_parts(s))
            .collect();
        search
    }

    fn statement_parts(&self, s: &Statement) -> Vec<(Dim, Vec<Tv>)> {
        let mut parts = Vec::new();
        let derived: Vec<&Clause> = s
            .conditions
            .iter()
            .filter(|c| is_derived(&c.key_lc))
            .collect();
        parts.push((
            Dim::Principal,
            self.principals
                .iter()
                .map(|p| {
                    principal_applies(s, p).and(Tv::all(derived.iter().map(|c| {
                        let v = p.derived(&c.key_lc).flatten().map(|v| vec![v]);
                        c.eval(v.as_deref())
                    })))
                })
                .collect(),
        ));
        if self.kind == ResourceKind::Object {
            let prefix = self.target.object_prefix();
            parts.push((
                Dim::Object,
                self.objects
                    .iter()
                    .map(|k| resource_applies(&s.resources, &format!("{prefix}{k}")))
                    .collect(),
            ));
        }
        for (ki, key) in self.keys.iter().enumerate() {
            let clauses: Vec<&Clause> =
                s.conditions.iter().filter(|c| c.key_lc == key.lc).collect();
            if clauses.is_empty() {
                continue;
            }
            parts.push((
                Dim::Key(ki),
                key.candidates
                    .iter()
                    .map(|v| {
                        let v = v.clone().map(|v| vec![v]);
                        key_applies(&clauses, v.as_deref())
                    })
                    .collect(),
            ));
        }
        parts
    }

    fn run(mut self) -> Option<Request> {
        let mut asg: HashMap<Dim, usize> = HashMap::new();
        if !self.dfs(&mut asg) {
            return None;
        }
        let request = self.build(&asg);
        // The witness must survive a full evaluation of every Deny statement.
        let escapes = self
            .stmts
            .iter()
            .all(|s| statement_applies(s, &request) == Tv::False);
        escapes.then_some(request)
    }

    fn escaped(&self, s: usize, asg: &HashMap<Dim, usize>) -> bool {
        self.parts[s]
            .iter()
            .any(|(dim, values)| asg.get(dim).is_some_and(|&c| values[c] == Tv::False))
    }

    fn consistent(&self, asg: &HashMap<Dim, usize>, dim: Dim, cand: usize) -> bool {
        let key_present = |ki: usize, c: usize| {
            principal_scoped(&self.keys[ki].lc) && self.keys[ki].candidates[c].is_some()
        };
        match dim {
            Dim::Principal => {
                self.principals[cand].is_iam()
                    || !asg
                        .iter()
                        .any(|(d, &c)| matches!(d, Dim::Key(ki) if key_present(*ki, c)))
            }
            Dim::Key(ki) => {
                !key_present(ki, cand)
                    || asg
                        .get(&Dim::Principal)
                        .is_none_or(|&p| self.principals[p].is_iam())
            }
            Dim::Object => true,
        }
    }

    fn dfs(&mut self, asg: &mut HashMap<Dim, usize>) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        let Some(s) = (0..self.stmts.len()).find(|&s| !self.escaped(s, asg)) else {
            return true;
        };
        for pi in 0..self.parts[s].len() {
            let dim = self.parts[s][pi].0;
            if asg.contains_key(&dim) {
                continue;
            }
            for cand in 0..self.parts[s][pi].1.len() {
                if self.parts[s][pi].1[cand] != Tv::False || !self.consistent(asg, dim, cand) {
                    continue;
                }
                asg.insert(dim, cand);
                if self.dfs(asg) {
                    return true;
                }
                asg.remove(&dim);
            }
        }
        false
    }

    fn build(&self, asg: &HashMap<Dim, usize>) -> Request {
        let scoped_present = asg.iter().any(|(d, &c)| {
            matches!(d, Dim::Key(ki) if principal_scoped(&self.keys[*ki].lc) && self.keys[*ki].candidates[c].is_some())
        });
        let principal = match asg.get(&Dim::Principal) {
            Some(&p) => self.principals[p].clone(),
            None if scoped_present => self
                .principals
                .iter()
                .find(|p| p.is_iam())
                .cloned()
                .unwrap_or_else(foreign_user),
            None => Requester::Anonymous,
        };
        let resource = match self.kind {
            ResourceKind::Bucket => self.target.bucket_arn(),
            ResourceKind::Object => {
                let key = asg
                    .get(&Dim::Object)
                    .map(|&k| self.objects[k].clone())
                    .unwrap_or_else(|| PROBE_KEY.to_string());
                format!("{}{key}", self.target.object_prefix())
            }
        };
        let mut context: Vec<(String, Option<String>)> = self
            .variant
            .keys
            .iter()
            .filter_map(|(k, d)| match d {
                KeyDomain::Fixed(v) => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect();
        for (ki, key) in self.keys.iter().enumerate() {
            if let Some(&c) = asg.get(&Dim::Key(ki)) {
                context.push((key.display.clone(), key.candidates[c].clone()));
            }
        }
        // A key the class constrains but the search left free still gets a value from its
        // domain (e.g. a key id outside the allowed list), so the request is complete.
        for (k, d) in &self.variant.keys {
            if let KeyDomain::AnyExcept(except) = d
                && !context.iter().any(|(c, _)| c.eq_ignore_ascii_case(k))
            {
                let value = self
                    .keys
                    .iter()
                    .find(|f| f.lc == k.to_lowercase())
                    .and_then(|f| f.candidates.first().cloned().flatten())
                    .unwrap_or_else(|| fresh_value(k, except));
                context.push((k.clone(), Some(value)));
            }
        }
        // Keys the target fixes (the owner account) are shown when a statement tests them,
        // and must be in the request for the final check to see them.
        let mut fixed_by_target: Vec<(String, Option<String>)> = Vec::new();
        for s in &self.stmts {
            for c in &s.conditions {
                if self.variant.domain(&c.key_lc).is_some()
                    || fixed_by_target
                        .iter()
                        .any(|(k, _)| k.to_lowercase() == c.key_lc)
                {
                    continue;
                }
                if let KeyDomain::Fixed(v) = domain_of(&c.key_lc, self.target, self.variant) {
                    fixed_by_target.push((c.key.clone(), v));
                }
            }
        }
        context.extend(fixed_by_target);
        let tested = |k: &str| self.tested.contains(&k.to_lowercase());
        let quiet = context
            .iter()
            .filter(|(k, v)| v.is_none() && !tested(k))
            .map(|(k, _)| k.clone())
            .collect();
        Request {
            principal,
            action: self.action.clone(),
            resource,
            context,
            quiet,
        }
    }
}

/// The object key counterexamples use when any key will do.
pub const PROBE_KEY: &str = "s3audit-probe";

/// An account no real policy names, for "someone in another account".
const FOREIGN_ACCOUNT: &str = "999999999999";

fn foreign_user() -> Requester {
    Requester::Iam {
        arn: format!("arn:aws:iam::{FOREIGN_ACCOUNT}:user/s3audit-probe"),
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
        match domain_of(&c.key_lc, target, variant) {
            KeyDomain::Fixed(v) => c.eval(v.map(|v| vec![v]).as_deref()),
            _ => Tv::True,
        }
    })))
}

fn principal_candidates(stmts: &[&Statement]) -> Vec<Requester> {
    let mut out = vec![Requester::Anonymous, foreign_user()];
    let mut push = |r: Requester| {
        if !out.contains(&r) {
            out.push(r);
        }
    };
    let account_of_arn = |arn: &str| -> Option<String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        (parts.len() == 6 && parts[4].len() == 12).then(|| parts[4].to_string())
    };
    for s in stmts {
        let set = &s.principals.set;
        for e in &set.aws {
            if e.len() == 12 && e.chars().all(|c| c.is_ascii_digit()) {
                push(Requester::Account(e.clone()));
                push(Requester::Iam {
                    arn: format!("arn:aws:iam::{e}:user/s3audit-probe"),
                    account: e.clone(),
                });
            } else if let Some(acct) = account_of_arn(e) {
                if e.ends_with(":root") {
                    push(Requester::Account(acct.clone()));
                    push(Requester::Iam {
                        arn: format!("arn:aws:iam::{acct}:user/s3audit-probe"),
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
                        arn: format!("arn:aws:iam::{text}:user/s3audit-probe"),
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
    }
    push(Requester::Service(
        "s3audit-probe.amazonaws.com".to_string(),
    ));
    out
}

fn object_candidates(stmts: &[&Statement], target: &Target) -> Vec<String> {
    let prefix = target.object_prefix();
    let mut out = vec![PROBE_KEY.to_string()];
    let mut push = |k: String| {
        if !k.is_empty() && !out.contains(&k) {
            out.push(k);
        }
    };
    for s in stmts {
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
    }
    out
}

/// A value for a key constrained to "anything but `except`": an unlisted KMS key for the
/// key-id key, a probe string otherwise.
fn fresh_value(key: &str, except: &BTreeSet<String>) -> String {
    let base = if key.to_lowercase().contains("kms-key-id") {
        format!("arn:aws:kms:us-east-1:{FOREIGN_ACCOUNT}:key/s3audit-unlisted-key")
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

fn free_keys(stmts: &[&Statement], target: &Target, variant: &Variant) -> Vec<FreeKey> {
    let mut keys: BTreeMap<String, FreeKey> = BTreeMap::new();
    for s in stmts {
        for c in &s.conditions {
            if is_derived(&c.key_lc) {
                continue;
            }
            let domain = domain_of(&c.key_lc, target, variant);
            if matches!(domain, KeyDomain::Fixed(_)) {
                continue;
            }
            let entry = keys.entry(c.key_lc.clone()).or_insert_with(|| FreeKey {
                display: c.key.clone(),
                lc: c.key_lc.clone(),
                candidates: Vec::new(),
            });
            for v in c.candidates() {
                if !entry.candidates.contains(&Some(v.clone())) {
                    entry.candidates.push(Some(v));
                }
            }
        }
    }
    for key in keys.values_mut() {
        match domain_of(&key.lc, target, variant) {
            KeyDomain::AnyExcept(except) => {
                key.candidates
                    .retain(|v| v.as_ref().is_some_and(|v| !except.contains(v)));
                let fresh = fresh_value(&key.lc, &except);
                if key.lc == "aws:securetransport" {
                    // Present in every request, and only ever true or false.
                    key.candidates = vec![Some("true".to_string()), Some("false".to_string())];
                } else if !except.is_empty() {
                    // A value outside the class's list (an unlisted KMS key) is the most
                    // telling counterexample: try it first.
                    if !key.candidates.contains(&Some(fresh.clone())) {
                        key.candidates.insert(0, Some(fresh));
                    }
                } else if key.candidates.is_empty() {
                    key.candidates.push(Some(fresh));
                }
            }
            _ => key.candidates.push(None),
        }
    }
    keys.into_values().collect()
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
                || w.principal == Requester::Account("111122223333".into()),
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
}
