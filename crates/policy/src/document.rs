//! Parsing an IAM policy document into statements the analyser can evaluate.
//!
//! The grammar is AWS's ("IAM JSON policy element reference"): `Statement` is one object
//! or an array of them; `Principal`/`NotPrincipal` is `"*"` or an object of `AWS`,
//! `Service`, `Federated`, `CanonicalUser` lists; `Action`/`NotAction` and
//! `Resource`/`NotResource` are a string or a list; `Condition` maps operators to keys to
//! a value or a list of values (strings, numbers or booleans). A bucket policy statement
//! needs an effect, a principal, an action and a resource.
//!
//! Anything else is refused with a [`PolicyError`] that names the problem and where it is,
//! on one line, so that `check-policy` can say exactly what to fix before deployment.

use std::collections::HashSet;

use thiserror::Error;

use super::actions::ActionPattern;
use super::condition::{Clause, CondValue, parse_operator, parse_template};
use super::glob::Glob;
use super::json::Json;

/// Why a document is not a policy the analyser can evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The text is not JSON (the message carries serde_json's line and column).
    #[error("not valid JSON: {0}")]
    Syntax(String),
    /// The JSON is not a valid policy: `path` locates the element, `problem` says what is
    /// wrong with it, e.g. `Statement[2].Effect` / `must be "Allow" or "Deny", found "Permit"`.
    #[error("{path} {problem}")]
    Invalid { path: String, problem: String },
}

fn invalid(path: &str, problem: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        path: path.to_string(),
        problem: problem.into(),
    }
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
    /// The document as written, for merging remediation statements into it.
    pub json: Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// The principals a `Principal` or `NotPrincipal` element lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrincipalSet {
    /// `"Principal": "*"`.
    pub star: bool,
    pub aws: Vec<String>,
    pub service: Vec<String>,
    pub federated: Vec<String>,
    pub canonical: Vec<String>,
    /// `aws`, indexed: a key policy can name thousands of accounts, and "does this set
    /// name the requester?" is asked for every probe, action and statement.
    pub index: AwsIndex,
}

/// The `AWS` principals by what they name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AwsIndex {
    /// Whole accounts: 12-digit ids and `arn:PARTITION:iam::ACCOUNT:root`.
    pub accounts: HashSet<String>,
    /// Other ARNs (users, roles, sessions), exactly.
    pub arns: HashSet<String>,
    /// Some entry is neither (a unique id such as `AROA...`): it could be anyone.
    pub opaque: bool,
}

impl AwsIndex {
    fn new(aws: &[String]) -> AwsIndex {
        let mut index = AwsIndex::default();
        for e in aws {
            if e.len() == 12 && e.chars().all(|c| c.is_ascii_digit()) {
                index.accounts.insert(e.clone());
            } else if let Some(account) = root_account(e) {
                index.accounts.insert(account.to_string());
            } else if e.starts_with("arn:") {
                index.arns.insert(e.clone());
            } else if e != "*" {
                index.opaque = true;
            }
        }
        index
    }
}

/// The account of `arn:PARTITION:iam::ACCOUNT:root`.
fn root_account(e: &str) -> Option<&str> {
    let mut parts = e.strip_prefix("arn:")?.splitn(5, ':');
    let (_, service, _, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (service == "iam" && resource == "root").then_some(account)
}

impl PrincipalSet {
    /// `"*"`, `{"AWS": "*"}` and `{"AWS": ["*"]}` all mean every principal, anonymous
    /// included (IAM User Guide, "Principal element": "All principals").
    pub fn everyone(&self) -> bool {
        self.star || self.aws.iter().any(|a| a == "*")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals {
    /// `NotPrincipal`: the statement applies to everyone except these.
    pub negated: bool,
    pub set: PrincipalSet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actions {
    /// `NotAction`.
    pub negated: bool,
    pub patterns: Vec<ActionPattern>,
}

impl Actions {
    /// Whether the statement applies to `action`.
    pub fn applies_to(&self, action: &str) -> bool {
        self.applies_to_lc(&action.to_lowercase())
    }

    /// [`Actions::applies_to`] for an action already lower-cased.
    pub fn applies_to_lc(&self, action_lc: &str) -> bool {
        self.patterns.iter().any(|p| p.matches_lc(action_lc)) != self.negated
    }
}

/// One `Resource`/`NotResource` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePattern {
    pub raw: String,
    /// `None` when the entry contains a policy variable: what it matches depends on the
    /// request, so the analyser never relies on it.
    pub glob: Option<Glob>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// `NotResource`.
    pub negated: bool,
    pub patterns: Vec<ResourcePattern>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Position in the `Statement` list.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub principals: Principals,
    pub actions: Actions,
    pub resources: Resources,
    /// Every `operator: {key: values}` pair, ANDed.
    pub conditions: Vec<Clause>,
}

impl Statement {
    /// How a person finds the statement: its Sid, else its position.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) if !sid.is_empty() => format!("{sid:?}"),
            _ => format!("Statement[{}]", self.index),
        }
    }
}

/// Parses a policy document, validating it first.
pub fn parse_policy(text: &str) -> Result<Policy, PolicyError> {
    let json = Json::parse(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
    from_json(json)
}

/// Parses an already-decoded document.
pub fn from_json(json: Json) -> Result<Policy, PolicyError> {
    let Json::Object(members) = &json else {
        return Err(invalid(
            "policy",
            format!("must be a JSON object, found {}", json.kind()),
        ));
    };
    let mut version = None;
    let mut statement = None;
    for (name, value) in members {
        match name.as_str() {
            "Version" => match value {
                Json::String(v) if v == "2012-10-17" || v == "2008-10-17" => {
                    version = Some(v.clone())
                }
                other => {
                    return Err(invalid(
                        "Version",
                        format!(
                            "must be \"2012-10-17\" or \"2008-10-17\", found {}",
                            other.describe()
                        ),
                    ));
                }
            },
            "Id" => {
                if !matches!(value, Json::String(_)) {
                    return Err(invalid(
                        "Id",
                        format!("must be a string, found {}", value.kind()),
                    ));
                }
            }
            "Statement" => statement = Some(value),
            other => {
                return Err(invalid(
                    "policy",
                    format!("has an unknown element {other:?}"),
                ));
            }
        }
    }
    // Policy variables (`${aws:username}`) exist only in version 2012-10-17; in older
    // documents the text is literal.
    let variables = version.as_deref() == Some("2012-10-17");
    let statements = match statement {
        None => return Err(invalid("policy", "has no Statement")),
        Some(single @ Json::Object(_)) => vec![parse_statement(single, 0, "Statement", variables)?],
        Some(Json::Array(items)) if items.is_empty() => {
            return Err(invalid("Statement", "is an empty list"));
        }
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| parse_statement(s, i, &format!("Statement[{i}]"), variables))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(invalid(
                "Statement",
                format!(
                    "must be an object or a list of objects, found {}",
                    other.kind()
                ),
            ));
        }
    };
    Ok(Policy {
        version,
        statements,
        json,
    })
}

fn parse_statement(
    json: &Json,
    index: usize,
    path: &str,
    variables: bool,
) -> Result<Statement, PolicyError> {
    let Json::Object(members) = json else {
        return Err(invalid(
            path,
            format!("must be an object, found {}", json.kind()),
        ));
    };
    let mut sid = None;
    let mut effect = None;
    let mut principals = None;
    let mut actions = None;
    let mut resources = None;
    let mut conditions = Vec::new();
    for (name, value) in members {
        let at = format!("{path}.{name}");
        match name.as_str() {
            "Sid" => match value {
                Json::String(s) => sid = Some(s.clone()),
                other => {
                    return Err(invalid(
                        &at,
                        format!("must be a string, found {}", other.kind()),
                    ));
                }
            },
            "Effect" => match value {
                Json::String(s) if s == "Allow" => effect = Some(Effect::Allow),
                Json::String(s) if s == "Deny" => effect = Some(Effect::Deny),
                other => {
                    return Err(invalid(
                        &at,
                        format!("must be \"Allow\" or \"Deny\", found {}", other.describe()),
                    ));
                }
            },
            "Principal" | "NotPrincipal" => {
                exclusive(&principals, path, name, "Principal")?;
                principals = Some(Principals {
                    negated: name == "NotPrincipal",
                    set: parse_principal(value, &at)?,
                });
            }
            "Action" | "NotAction" => {
                exclusive(&actions, path, name, "Action")?;
                let list = string_list(value, &at)?;
                for (i, a) in list.iter().enumerate() {
                    let ok = a == "*"
                        || a.split_once(':').is_some_and(|(svc, act)| {
                            !svc.is_empty() && !act.is_empty() && !svc.contains(['*', '?'])
                        });
                    if !ok {
                        return Err(invalid(
                            &indexed(&at, value, i),
                            format!("must be \"*\" or \"service:action\", found {a:?}"),
                        ));
                    }
                }
                actions = Some(Actions {
                    negated: name == "NotAction",
                    patterns: list.iter().map(|a| ActionPattern::new(a)).collect(),
                });
            }
            "Resource" | "NotResource" => {
                exclusive(&resources, path, name, "Resource")?;
                let list = string_list(value, &at)?;
                let mut patterns = Vec::new();
                for (i, r) in list.iter().enumerate() {
                    if r != "*" && !r.starts_with("arn:") {
                        return Err(invalid(
                            &indexed(&at, value, i),
                            format!("must be \"*\" or an ARN, found {r:?}"),
                        ));
                    }
                    patterns.push(ResourcePattern {
                        raw: r.clone(),
                        glob: parse_template(r, variables).map(Glob::from_tokens),
                    });
                }
                resources = Some(Resources {
                    negated: name == "NotResource",
                    patterns,
                });
            }
            "Condition" => conditions = parse_condition(value, &at, variables)?,
            other => return Err(invalid(path, format!("has an unknown element {other:?}"))),
        }
    }
    let missing = |what: &str| invalid(path, format!("has no {what}"));
    Ok(Statement {
        index,
        sid,
        effect: effect.ok_or_else(|| missing("Effect"))?,
        principals: principals
            .ok_or_else(|| missing("Principal or NotPrincipal (a bucket policy needs one)"))?,
        actions: actions.ok_or_else(|| missing("Action or NotAction"))?,
        resources: resources.ok_or_else(|| missing("Resource or NotResource"))?,
        conditions,
    })
}

/// `Action` and `NotAction` (and the other pairs) exclude each other.
fn exclusive<T>(slot: &Option<T>, path: &str, name: &str, other: &str) -> Result<(), PolicyError> {
    match slot {
        Some(_) => Err(invalid(path, format!("has both {other} and {name}"))),
        None => Ok(()),
    }
}

/// `path[i]` when the element is a list, `path` when it is a single string.
fn indexed(path: &str, value: &Json, i: usize) -> String {
    match value {
        Json::Array(_) => format!("{path}[{i}]"),
        _ => path.to_string(),
    }
}

/// A string or a non-empty list of strings.
fn string_list(value: &Json, path: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(items) if items.is_empty() => Err(invalid(path, "is an empty list")),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Json::String(s) => Ok(s.clone()),
                other => Err(invalid(
                    &format!("{path}[{i}]"),
                    format!("must be a string, found {}", other.kind()),
                )),
            })
            .collect(),
        other => Err(invalid(
            path,
            format!(
                "must be a string or a list of strings, found {}",
                other.kind()
            ),
        )),
    }
}

fn parse_principal(value: &Json, path: &str) -> Result<PrincipalSet, PolicyError> {
    match value {
        Json::String(s) if s == "*" => Ok(PrincipalSet {
            star: true,
            ..Default::default()
        }),
        Json::String(s) => Err(invalid(
            path,
            format!("must be \"*\" or an object such as {{\"AWS\": ...}}, found {s:?}"),
        )),
        Json::Object(members) if members.is_empty() => Err(invalid(path, "is an empty object")),
        Json::Object(members) => {
            let mut set = PrincipalSet::default();
            for (kind, ids) in members {
                let at = format!("{path}.{kind}");
                let list = string_list(ids, &at)?;
                match kind.as_str() {
                    "AWS" => {
                        set.index = AwsIndex::new(&list);
                        set.aws = list;
                    }
                    "Service" => set.service = list,
                    "Federated" => set.federated = list,
                    "CanonicalUser" => set.canonical = list,
                    other => {
                        return Err(invalid(
                            path,
                            format!(
                                "has an unknown principal type {other:?} (expected AWS, Service, Federated or CanonicalUser)"
                            ),
                        ));
                    }
                }
            }
            Ok(set)
        }
        other => Err(invalid(
            path,
            format!("must be \"*\" or an object, found {}", other.kind()),
        )),
    }
}

fn parse_condition(value: &Json, path: &str, variables: bool) -> Result<Vec<Clause>, PolicyError> {
    let Json::Object(operators) = value else {
        return Err(invalid(
            path,
            format!("must be an object, found {}", value.kind()),
        ));
    };
    let mut clauses = Vec::new();
    for (op_name, keys) in operators {
        let at = format!("{path}.{op_name}");
        let op = parse_operator(op_name)
            .map_err(|e| invalid(path, format!("has an unknown operator: {e}")))?;
        let Json::Object(keys) = keys else {
            return Err(invalid(
                &at,
                format!("must be an object of keys, found {}", keys.kind()),
            ));
        };
        if keys.is_empty() {
            return Err(invalid(&at, "has no condition keys"));
        }
        for (key, values) in keys {
            let at = format!("{at}.{key}");
            if key.is_empty() {
                return Err(invalid(&at, "has an empty condition key"));
            }
            let scalar = |v: &Json, at: &str| -> Result<String, PolicyError> {
                match v {
                    Json::String(s) => Ok(s.clone()),
                    Json::Number(n) => Ok(n.to_string()),
                    Json::Bool(b) => Ok(b.to_string()),
                    other => Err(invalid(
                        at,
                        format!(
                            "must be a string, number or boolean, found {}",
                            other.kind()
                        ),
                    )),
                }
            };
            let raw: Vec<String> = match values {
                Json::Array(items) if items.is_empty() => {
                    return Err(invalid(&at, "has no values"));
                }
                Json::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| scalar(v, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
                single => vec![scalar(single, &at)?],
            };
            clauses.push(Clause {
                op: op.clone(),
                key: key.clone(),
                key_lc: key.to_lowercase(),
                values: raw.iter().map(|r| CondValue::new(r, variables)).collect(),
            });
        }
    }
    Ok(clauses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_policy(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_shape() {
        let p = parse_policy(
            r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"A","Effect":"Deny",
            "Principal":{"AWS":["*"]},"NotAction":"s3:GetObject","NotResource":["arn:aws:s3:::b/*"],
            "Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"s3:TlsVersion":1.2},
            "StringEquals":{"aws:SourceVpce":["vpce-1","vpce-2"]}}}}"#,
        )
        .unwrap();
        let s = &p.statements[0];
        assert_eq!(s.effect, Effect::Deny);
        assert!(s.principals.set.everyone());
        assert!(s.actions.negated && s.resources.negated);
        assert!(!s.actions.applies_to("s3:getobject"));
        assert!(s.actions.applies_to("s3:PutObject"));
        assert_eq!(s.conditions.len(), 3);
        assert_eq!(s.conditions[0].values[0].raw, "false");
        assert_eq!(s.conditions[1].values[0].raw, "1.2");
        assert_eq!(s.conditions[0].key_lc, "aws:securetransport");
        assert_eq!(s.label(), "\"A\"");
    }

    #[test]
    fn errors_name_the_problem_and_where() {
        let base = |stmt: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}},{stmt}]}}"#
            )
        };
        assert_eq!(
            err(&base(
                r#"{"Effect":"Permit","Principal":"*","Action":"s3:*","Resource":"*"}"#
            )),
            r#"Statement[1].Effect must be "Allow" or "Deny", found "Permit""#
        );
        assert_eq!(
            err(&base(
                r#"{"Effect":"Deny","Principal":"*","Action":["s3:*","GetObject"],"Resource":"*"}"#
            )),
            r#"Statement[1].Action[1] must be "*" or "service:action", found "GetObject""#
        );
        assert_eq!(
            err(&base(r#"{"Effect":"Deny","Action":"s3:*","Resource":"*"}"#)),
            "Statement[1] has no Principal or NotPrincipal (a bucket policy needs one)"
        );
        assert_eq!(
            err(&base(
                r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}"#
            )),
            r#"Statement[1].Condition has an unknown operator: "StringEqualz" is not a condition operator"#
        );
        assert_eq!(
            err(&base(
                r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":null}}}"#
            )),
            "Statement[1].Condition.Bool.aws:SecureTransport must be a string, number or boolean, found null"
        );
        assert_eq!(
            err(&base(
                r#"{"Effect":"Deny","Principal":"bob","Action":"s3:*","Resource":"*"}"#
            )),
            r#"Statement[1].Principal must be "*" or an object such as {"AWS": ...}, found "bob""#
        );
        assert_eq!(
            err(&base(
                r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"bucket"}"#
            )),
            r#"Statement[1].Resource must be "*" or an ARN, found "bucket""#
        );
        assert_eq!(
            err(&base(
                r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","NotAction":"s3:x","Resource":"*"}"#
            )),
            "Statement[1] has both Action and NotAction"
        );
        assert!(err("{").starts_with("not valid JSON: EOF while parsing"));
        assert_eq!(err("[]"), "policy must be a JSON object, found an array");
        assert_eq!(
            err(r#"{"Version":"2012-10-17"}"#),
            "policy has no Statement"
        );
        assert_eq!(
            err(r#"{"Version":"2020-01-01","Statement":[]}"#),
            r#"Version must be "2012-10-17" or "2008-10-17", found "2020-01-01""#
        );
        assert!(
            err(r#"{"Statement":[],"Statement":[]}"#).contains("duplicate member \"Statement\"")
        );
    }

    #[test]
    fn variables_only_in_2012_documents() {
        let doc = |v: &str| {
            format!(
                r#"{{"Version":"{v}","Statement":{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/${{aws:username}}/*"}}}}"#
            )
        };
        let p = parse_policy(&doc("2012-10-17")).unwrap();
        assert!(p.statements[0].resources.patterns[0].glob.is_none());
        let p = parse_policy(&doc("2008-10-17")).unwrap();
        assert!(p.statements[0].resources.patterns[0].glob.is_some());
    }
}
