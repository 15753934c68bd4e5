//! Condition operators and their evaluation, following AWS's documented semantics
//! ("IAM JSON policy elements: Condition operators" and "Conditions with multiple context
//! keys or values" in the IAM User Guide):
//!
//! * several values for one key are ORed; for a negated operator (`StringNotEquals`,
//!   `NotIpAddress`, ...) they are NORed: the request value must match none of them;
//! * a key absent from the request makes a condition false, except that negated operators
//!   are then true, `...IfExists` operators are then true, `Null` tests presence itself,
//!   and `ForAllValues:` is true on an absent (or empty) key while `ForAnyValue:` is false;
//! * `String*` compares case-sensitively except `...IgnoreCase`; `StringLike` and the
//!   `Arn*` operators take `*`/`?` wildcards (ARNs component by component); `Bool` takes
//!   `true`/`false` in any case, as a JSON boolean or a string.
//!
//! Evaluation is three-valued: [`Tv::Unknown`] stands for anything the analyser cannot
//! decide (a policy variable such as `${aws:username}`, an unparseable date). Callers turn
//! Unknown into the answer that is safe for their question: a Deny whose condition is
//! Unknown is never counted as denying, and a request is never claimed to slip past it.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use time::format_description::well_known::Iso8601;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use super::glob::{Glob, Tok, find_unmatched, match_tokens};

/// A three-valued truth value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tv {
    True,
    False,
    Unknown,
}

impl Tv {
    pub fn from_bool(b: bool) -> Tv {
        if b { Tv::True } else { Tv::False }
    }

    pub fn negate(self) -> Tv {
        match self {
            Tv::True => Tv::False,
            Tv::False => Tv::True,
            Tv::Unknown => Tv::Unknown,
        }
    }

    pub fn and(self, other: Tv) -> Tv {
        match (self, other) {
            (Tv::False, _) | (_, Tv::False) => Tv::False,
            (Tv::True, Tv::True) => Tv::True,
            _ => Tv::Unknown,
        }
    }

    pub fn or(self, other: Tv) -> Tv {
        match (self, other) {
            (Tv::True, _) | (_, Tv::True) => Tv::True,
            (Tv::False, Tv::False) => Tv::False,
            _ => Tv::Unknown,
        }
    }

    /// AND over an iterator (true when empty). Stops at the first false: nothing after it
    /// can change the answer, and the items are often pattern matches over long lists.
    pub fn all(items: impl IntoIterator<Item = Tv>) -> Tv {
        let mut out = Tv::True;
        for t in items {
            out = out.and(t);
            if out == Tv::False {
                break;
            }
        }
        out
    }

    /// OR over an iterator (false when empty). Stops at the first true.
    pub fn any(items: impl IntoIterator<Item = Tv>) -> Tv {
        let mut out = Tv::False;
        for t in items {
            out = out.or(t);
            if out == Tv::True {
                break;
            }
        }
        out
    }
}

/// The set operator prefix of a condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrKind {
    Equals,
    EqualsIgnoreCase,
    Like,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Eq => ord == Equal,
            Cmp::Lt => ord == Less,
            Cmp::Le => ord != Greater,
            Cmp::Gt => ord == Greater,
            Cmp::Ge => ord != Less,
        }
    }
}

/// The operator family, without set prefix or `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Str {
        kind: StrKind,
        negated: bool,
    },
    Num {
        cmp: Cmp,
        negated: bool,
    },
    Date {
        cmp: Cmp,
        negated: bool,
    },
    Bool,
    Binary,
    Ip {
        negated: bool,
    },
    /// `ArnEquals` and `ArnLike` behave identically (both take wildcards per component).
    Arn {
        negated: bool,
    },
    Null,
}

impl Base {
    pub fn negated(self) -> bool {
        match self {
            Base::Str { negated, .. }
            | Base::Num { negated, .. }
            | Base::Date { negated, .. }
            | Base::Ip { negated }
            | Base::Arn { negated } => negated,
            Base::Bool | Base::Binary | Base::Null => false,
        }
    }
}

/// A parsed condition operator such as `ForAnyValue:StringNotLikeIfExists`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// As written in the policy.
    pub name: String,
    pub set: SetOp,
    pub base: Base,
    pub if_exists: bool,
}

/// Parses an operator name. Names are matched case-insensitively (the analyser reads what
/// a sloppy policy means rather than rejecting it); an unknown name is an error.
pub fn parse_operator(name: &str) -> Result<Operator, String> {
    let mut rest = name;
    let mut set = SetOp::Single;
    for (prefix, op) in [
        ("foranyvalue:", SetOp::ForAnyValue),
        ("forallvalues:", SetOp::ForAllValues),
    ] {
        if rest.len() >= prefix.len() && rest[..prefix.len()].eq_ignore_ascii_case(prefix) {
            set = op;
            rest = &rest[prefix.len()..];
        }
    }
    let mut if_exists = false;
    const SUFFIX: &str = "ifexists";
    if rest.len() > SUFFIX.len()
        && rest.is_char_boundary(rest.len() - SUFFIX.len())
        && rest[rest.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX)
    {
        if_exists = true;
        rest = &rest[..rest.len() - SUFFIX.len()];
    }
    let str_op = |kind, negated| Base::Str { kind, negated };
    let base = match rest.to_ascii_lowercase().as_str() {
        "stringequals" => str_op(StrKind::Equals, false),
        "stringnotequals" => str_op(StrKind::Equals, true),
        "stringequalsignorecase" => str_op(StrKind::EqualsIgnoreCase, false),
        "stringnotequalsignorecase" => str_op(StrKind::EqualsIgnoreCase, true),
        "stringlike" => str_op(StrKind::Like, false),
        "stringnotlike" => str_op(StrKind::Like, true),
        "numericequals" => Base::Num {
            cmp: Cmp::Eq,
            negated: false,
        },
        "numericnotequals" => Base::Num {
            cmp: Cmp::Eq,
            negated: true,
        },
        "numericlessthan" => Base::Num {
            cmp: Cmp::Lt,
            negated: false,
        },
        "numericlessthanequals" => Base::Num {
            cmp: Cmp::Le,
            negated: false,
        },
        "numericgreaterthan" => Base::Num {
            cmp: Cmp::Gt,
            negated: false,
        },
        "numericgreaterthanequals" => Base::Num {
            cmp: Cmp::Ge,
            negated: false,
        },
        "dateequals" => Base::Date {
            cmp: Cmp::Eq,
            negated: false,
        },
        "datenotequals" => Base::Date {
            cmp: Cmp::Eq,
            negated: true,
        },
        "datelessthan" => Base::Date {
            cmp: Cmp::Lt,
            negated: false,
        },
        "datelessthanequals" => Base::Date {
            cmp: Cmp::Le,
            negated: false,
        },
        "dategreaterthan" => Base::Date {
            cmp: Cmp::Gt,
            negated: false,
        },
        "dategreaterthanequals" => Base::Date {
            cmp: Cmp::Ge,
            negated: false,
        },
        "bool" => Base::Bool,
        "binaryequals" => Base::Binary,
        "ipaddress" => Base::Ip { negated: false },
        "notipaddress" => Base::Ip { negated: true },
        "arnequals" | "arnlike" => Base::Arn { negated: false },
        "arnnotequals" | "arnnotlike" => Base::Arn { negated: true },
        "null" if !if_exists => Base::Null,
        _ => return Err(format!("{name:?} is not a condition operator")),
    };
    if base == Base::Null && set != SetOp::Single {
        return Err(format!(
            "{name:?} is not a condition operator (Null takes no set operator)"
        ));
    }
    Ok(Operator {
        name: name.to_string(),
        set,
        base,
        if_exists,
    })
}

/// One value of a condition, as a template: `None` when it references a policy variable
/// (its value depends on the request, so comparisons against it are Unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondValue {
    pub raw: String,
    pub template: Option<Vec<Tok>>,
}

impl CondValue {
    /// `variables`: whether `${...}` is a policy variable (policy version 2012-10-17);
    /// under 2008-10-17 it is plain text. `${*}`, `${?}` and `${$}` are the documented
    /// escapes for a literal `*`, `?` and `$`.
    pub fn new(raw: &str, variables: bool) -> CondValue {
        CondValue {
            raw: raw.to_string(),
            template: parse_template(raw, variables),
        }
    }

    /// The value as literal text (wildcard characters kept as written), if it has no
    /// policy variable.
    pub fn text(&self) -> Option<String> {
        self.template.as_ref().map(|toks| {
            toks.iter()
                .map(|t| match t {
                    Tok::Lit(c) => *c,
                    Tok::Star => '*',
                    Tok::One => '?',
                })
                .collect()
        })
    }

    /// The value as a wildcard pattern, if it has no policy variable.
    pub fn glob(&self) -> Option<Glob> {
        self.template.clone().map(Glob::from_tokens)
    }
}

/// Tokenises a value or resource; `None` if it contains a policy variable.
pub fn parse_template(raw: &str, variables: bool) -> Option<Vec<Tok>> {
    let mut toks = Vec::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if variables && c == '$' && chars.peek() == Some(&'{') {
            chars.next();
            let mut inner = String::new();
            let mut closed = false;
            for d in chars.by_ref() {
                if d == '}' {
                    closed = true;
                    break;
                }
                inner.push(d);
            }
            match (closed, inner.as_str()) {
                (true, "*") => toks.push(Tok::Lit('*')),
                (true, "?") => toks.push(Tok::Lit('?')),
                (true, "$") => toks.push(Tok::Lit('$')),
                _ => return None,
            }
            continue;
        }
        toks.push(match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        });
    }
    Some(toks)
}

/// One `operator: { key: values }` entry of a Condition block.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub op: Operator,
    /// The key as written.
    pub key: String,
    /// The key lower-cased: keys are case-insensitive.
    pub key_lc: String,
    pub values: Vec<CondValue>,
}

/// What the analyser knows about one context key in a class of requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDomain {
    /// The class fixes the key: present with this value, or absent (`None`).
    Fixed(Option<String>),
    /// Present, single-valued, with any value except these (case-sensitive). A set: the
    /// list can be a thousand key references long and is asked about every candidate.
    AnyExcept(BTreeSet<String>),
    /// Anything: absent, or present with any value(s). Keys the requester controls.
    Free,
}

impl Clause {
    /// Evaluates the clause against the request's values for its key (`None`: absent).
    pub fn eval(&self, request: Option<&[String]>) -> Tv {
        let request = request.filter(|v| !v.is_empty());
        if self.op.base == Base::Null {
            let present = request.is_some();
            return Tv::any(self.values.iter().map(
                |v| match v.raw.to_ascii_lowercase().as_str() {
                    "true" => Tv::from_bool(!present),
                    "false" => Tv::from_bool(present),
                    _ => Tv::Unknown,
                },
            ));
        }
        let Some(values) = request else {
            return if self.op.if_exists || self.op.set == SetOp::ForAllValues {
                Tv::True
            } else if self.op.set == SetOp::ForAnyValue {
                Tv::False
            } else {
                Tv::from_bool(self.op.base.negated())
            };
        };
        match self.op.set {
            SetOp::Single => match values {
                [one] => self.eval_one(one),
                // A multivalued key needs a set operator; AWS does not document what a plain
                // operator does with several values, so the analyser does not guess.
                _ => Tv::Unknown,
            },
            SetOp::ForAnyValue => Tv::any(values.iter().map(|v| self.eval_one(v))),
            SetOp::ForAllValues => Tv::all(values.iter().map(|v| self.eval_one(v))),
        }
    }

    /// One request value against the policy values: OR, or NOR when negated.
    fn eval_one(&self, request: &str) -> Tv {
        let any = Tv::any(
            self.values
                .iter()
                .map(|v| base_match(self.op.base, request, v)),
        );
        if self.op.base.negated() {
            any.negate()
        } else {
            any
        }
    }

    /// Whether the clause is true for every request the domain allows. `false` means
    /// "not guaranteed", which includes "could not decide".
    pub fn always(&self, domain: &KeyDomain) -> bool {
        match domain {
            KeyDomain::Fixed(v) => self.eval(v.as_ref().map(std::slice::from_ref)) == Tv::True,
            KeyDomain::Free => self.eval(None) == Tv::True && self.always_present(&BTreeSet::new()),
            KeyDomain::AnyExcept(except) => self.always_present(except),
        }
    }

    /// True for every present value outside `except`. Assumes the key is single-valued
    /// for a plain operator (AWS requires set operators for multivalued keys); with a set
    /// operator, a non-empty set satisfies it whenever every single value does.
    fn always_present(&self, except: &BTreeSet<String>) -> bool {
        if self.op.base == Base::Null {
            return self
                .values
                .iter()
                .any(|v| v.raw.eq_ignore_ascii_case("false"));
        }
        if self.values.iter().any(|v| v.template.is_none()) {
            return false;
        }
        let texts: Vec<String> = self.values.iter().filter_map(CondValue::text).collect();
        match self.op.base {
            Base::Str {
                kind: StrKind::Like,
                negated: false,
            } => {
                // Exact and linear in the patterns' length, however many there are.
                let globs: Vec<Glob> = self.values.iter().filter_map(CondValue::glob).collect();
                let refs: Vec<&Glob> = globs.iter().collect();
                find_unmatched(&refs, "", 0).is_none()
            }
            // Only the keys that always hold an address: for any other key a non-address
            // value would make IpAddress false.
            Base::Ip { negated: false }
                if matches!(self.key_lc.as_str(), "aws:sourceip" | "aws:vpcsourceip") =>
            {
                let nets: Vec<IpNet> = texts.iter().filter_map(|t| parse_cidr(t)).collect();
                nets.iter()
                    .any(|n| matches!(n, IpNet::V4(_)) && n.prefix_len() == 0)
                    && nets
                        .iter()
                        .any(|n| matches!(n, IpNet::V6(_)) && n.prefix_len() == 0)
            }
            Base::Str {
                kind: StrKind::Equals,
                negated: true,
            } => texts.iter().all(|t| except.contains(t)),
            Base::Str {
                kind: StrKind::EqualsIgnoreCase,
                negated: true,
            } => texts
                .iter()
                .all(|t| t.to_lowercase() == t.to_uppercase() && except.contains(t)),
            Base::Str {
                kind: StrKind::Like,
                negated: true,
            }
            | Base::Arn { negated: true } => self.values.iter().all(|v| {
                v.glob()
                    .and_then(|g| g.as_literal())
                    .is_some_and(|lit| except.contains(&lit))
            }),
            _ => false,
        }
    }

    /// Request values worth trying when searching for a request that makes this clause
    /// false: the policy's own values, near misses and instances of its patterns; the probe
    /// ARN is a principal of `partition` (the resource's).
    pub fn candidates(&self, partition: &str) -> Vec<String> {
        let mut out = Vec::new();
        // A StringLike list can hold a thousand patterns: no quadratic scan for repeats.
        let mut seen = HashSet::new();
        let mut push = |s: String| {
            if seen.insert(s.clone()) {
                out.push(s);
            }
        };
        for v in &self.values {
            let Some(toks) = &v.template else { continue };
            let glob = Glob::from_tokens(toks.clone());
            let text = v.text().unwrap_or_default();
            match self.op.base {
                Base::Str { kind, .. } => {
                    if kind == StrKind::Like && glob.has_wildcards() {
                        push(glob.example("s3audit"));
                        push(glob.example(""));
                    } else {
                        push(text.clone());
                    }
                    if kind == StrKind::EqualsIgnoreCase {
                        push(text.to_uppercase());
                    }
                    push(format!("{text}-s3audit"));
                }
                Base::Arn { .. } => {
                    push(glob.example("s3audit"));
                    push(glob.example(""));
                }
                Base::Num { .. } => {
                    if let Some(n) = parse_number(&text) {
                        for d in [0.0, 1.0, -1.0, 0.1, -0.1] {
                            push(format_number(n + d));
                        }
                    }
                }
                Base::Date { .. } => {
                    if let Some(t) = parse_date(&text) {
                        for d in [0.0, 86_400.0, -86_400.0] {
                            if let Some(date) = format_date(t + d) {
                                push(date);
                            }
                        }
                    }
                }
                Base::Bool => {}
                Base::Binary => {
                    push(text.clone());
                    push(format!("{text}AA=="));
                }
                Base::Ip { .. } => {
                    if let Some(net) = parse_cidr(&text) {
                        push(net.network().to_string());
                        if let Some(outside) = outside_of(net) {
                            push(outside.to_string());
                        }
                    }
                }
                Base::Null => {}
            }
        }
        match self.op.base {
            Base::Bool => {
                push("true".into());
                push("false".into());
            }
            Base::Ip { .. } => {
                push("203.0.113.7".into());
                push("2001:db8::7".into());
            }
            Base::Arn { .. } => push(super::partition::iam_arn(
                partition,
                "999999999999",
                "role/s3audit-probe",
            )),
            _ => push("s3audit-probe".into()),
        }
        out
    }
}

/// Whether a single request value matches a single policy value under `base` (before
/// negation).
fn base_match(base: Base, request: &str, value: &CondValue) -> Tv {
    let Some(text) = value.text() else {
        return Tv::Unknown;
    };
    match base {
        Base::Str { kind, .. } => match kind {
            StrKind::Equals => Tv::from_bool(request == text),
            StrKind::EqualsIgnoreCase => {
                Tv::from_bool(request.to_lowercase() == text.to_lowercase())
            }
            StrKind::Like => Tv::from_bool(value.glob().is_some_and(|g| g.is_match(request))),
        },
        Base::Num { cmp, .. } => match (parse_number(request), parse_number(&text)) {
            (Some(a), Some(b)) => Tv::from_bool(cmp.holds(a.total_cmp(&b))),
            _ => Tv::Unknown,
        },
        Base::Date { cmp, .. } => match (parse_date(request), parse_date(&text)) {
            (Some(a), Some(b)) => Tv::from_bool(cmp.holds(a.total_cmp(&b))),
            _ => Tv::Unknown,
        },
        Base::Bool => match (parse_bool(request), parse_bool(&text)) {
            (Some(a), Some(b)) => Tv::from_bool(a == b),
            _ => Tv::Unknown,
        },
        Base::Binary => Tv::from_bool(request == text),
        Base::Ip { .. } => match (request.parse::<IpAddr>().ok(), parse_cidr(&text)) {
            (Some(addr), Some(net)) => Tv::from_bool(net.contains(&addr)),
            (None, Some(_)) => Tv::False,
            _ => Tv::Unknown,
        },
        Base::Arn { .. } => arn_match(request, value),
        Base::Null => Tv::Unknown,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// ARN matching: the six colon-separated components are compared separately, each with
/// wildcards. A policy value that is not a six-part ARN cannot be interpreted: Unknown.
fn arn_match(request: &str, value: &CondValue) -> Tv {
    let Some(toks) = &value.template else {
        return Tv::Unknown;
    };
    // Where each component's tokens start: after each of the first five colons.
    let mut starts = [0usize; 6];
    let mut found = 1;
    for (i, t) in toks.iter().enumerate() {
        if found == 6 {
            break;
        }
        if *t == Tok::Lit(':') {
            starts[found] = i + 1;
            found += 1;
        }
    }
    if found != 6 {
        return Tv::Unknown;
    }
    let mut req = [""; 6];
    let mut parts = request.splitn(6, ':');
    for r in &mut req {
        match parts.next() {
            Some(part) => *r = part,
            None => return Tv::False,
        }
    }
    Tv::from_bool((0..6).all(|k| {
        let end = if k == 5 {
            toks.len()
        } else {
            starts[k + 1] - 1
        };
        match_tokens(&toks[starts[k]..end], req[k])
    }))
}

pub fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Parses a network as the IP operators take it: `a.b.c.d/n`, IPv6 `/n`, or a bare
/// address (a network of one). Host bits may be set, as AWS allows (`10.1.2.3/8` is
/// `10.0.0.0/8`).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    match s.parse::<IpNet>() {
        Ok(net) => Some(net.trunc()),
        Err(_) => s.parse::<IpAddr>().ok().map(IpNet::from),
    }
}

/// An address just outside a network (after its last address, or before its first);
/// `None` for a network that spans every address.
fn outside_of(net: IpNet) -> Option<IpAddr> {
    if net.prefix_len() == 0 {
        return None;
    }
    match net {
        IpNet::V4(n) => {
            let after = u32::from(n.broadcast()).checked_add(1);
            let out = after.or_else(|| u32::from(n.network()).checked_sub(1))?;
            Some(IpAddr::V4(out.into()))
        }
        IpNet::V6(n) => {
            let after = u128::from(n.broadcast()).checked_add(1);
            let out = after.or_else(|| u128::from(n.network()).checked_sub(1))?;
            Some(IpAddr::V6(out.into()))
        }
    }
}

/// Seconds since the epoch of a date as the Date operators take it: an epoch number, an
/// ISO 8601 date (`2024-01-31`, midnight UTC) or date-time (`2024-01-31T12:00:00Z`, with
/// fractional seconds or a `+02:00` offset; without an offset, UTC). Anything else is
/// `None`, which leaves the condition undecided.
pub fn parse_date(s: &str) -> Option<f64> {
    let s = s.trim();
    if !s.is_empty()
        && s.trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit())
    {
        return s.parse::<i64>().ok().map(|n| n as f64);
    }
    let at = OffsetDateTime::parse(s, &Iso8601::DEFAULT)
        .or_else(|_| PrimitiveDateTime::parse(s, &Iso8601::DEFAULT).map(|t| t.assume_utc()))
        .or_else(|_| Date::parse(s, &Iso8601::DEFAULT).map(|d| d.midnight().assume_utc()))
        .ok()?;
    Some(at.unix_timestamp_nanos() as f64 / 1e9)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds (`None` outside the years `time` represents).
pub fn format_date(secs: f64) -> Option<String> {
    let at = OffsetDateTime::from_unix_timestamp(secs.floor() as i64).ok()?;
    at.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(op: &str, key: &str, values: &[&str]) -> Clause {
        Clause {
            op: parse_operator(op).unwrap(),
            key: key.into(),
            key_lc: key.to_lowercase(),
            values: values.iter().map(|v| CondValue::new(v, true)).collect(),
        }
    }

    fn eval(c: &Clause, v: Option<&str>) -> Tv {
        let owned = v.map(|s| vec![s.to_string()]);
        c.eval(owned.as_deref())
    }

    #[test]
    fn parses_operator_names() {
        let op = parse_operator("ForAnyValue:StringNotLikeIfExists").unwrap();
        assert_eq!(op.set, SetOp::ForAnyValue);
        assert!(op.if_exists);
        assert_eq!(
            op.base,
            Base::Str {
                kind: StrKind::Like,
                negated: true
            }
        );
        assert_eq!(parse_operator("bool").unwrap().base, Base::Bool);
        assert!(parse_operator("StringEqualz").is_err());
        assert!(parse_operator("NullIfExists").is_err());
        assert!(parse_operator("ForAllValues:Null").is_err());
        assert!(parse_operator("IfExists").is_err());
    }

    #[test]
    fn absent_keys_follow_the_documented_rules() {
        assert_eq!(eval(&clause("StringEquals", "k", &["a"]), None), Tv::False);
        assert_eq!(
            eval(&clause("StringNotEquals", "k", &["a"]), None),
            Tv::True
        );
        assert_eq!(
            eval(&clause("NotIpAddress", "k", &["10.0.0.0/8"]), None),
            Tv::True
        );
        assert_eq!(
            eval(&clause("StringEqualsIfExists", "k", &["a"]), None),
            Tv::True
        );
        assert_eq!(eval(&clause("Bool", "k", &["false"]), None), Tv::False);
        assert_eq!(
            eval(&clause("BoolIfExists", "k", &["false"]), None),
            Tv::True
        );
        assert_eq!(
            eval(&clause("ForAllValues:StringEquals", "k", &["a"]), None),
            Tv::True
        );
        assert_eq!(
            eval(&clause("ForAnyValue:StringEquals", "k", &["a"]), None),
            Tv::False
        );
        assert_eq!(eval(&clause("Null", "k", &["true"]), None), Tv::True);
        assert_eq!(eval(&clause("Null", "k", &["false"]), None), Tv::False);
        assert_eq!(eval(&clause("Null", "k", &["false"]), Some("x")), Tv::True);
    }

    #[test]
    fn values_are_ored_and_negations_nored() {
        let c = clause("StringEquals", "k", &["a", "b"]);
        assert_eq!(eval(&c, Some("b")), Tv::True);
        assert_eq!(eval(&c, Some("B")), Tv::False);
        let c = clause("StringNotEquals", "k", &["a", "b"]);
        assert_eq!(eval(&c, Some("b")), Tv::False);
        assert_eq!(eval(&c, Some("c")), Tv::True);
        let c = clause("StringEqualsIgnoreCase", "k", &["AbC"]);
        assert_eq!(eval(&c, Some("aBc")), Tv::True);
    }

    #[test]
    fn bool_numeric_date_ip_arn() {
        let c = clause("Bool", "aws:SecureTransport", &["FALSE"]);
        assert_eq!(eval(&c, Some("false")), Tv::True);
        assert_eq!(eval(&c, Some("true")), Tv::False);
        let c = clause("NumericLessThan", "s3:TlsVersion", &["1.2"]);
        assert_eq!(eval(&c, Some("1.1")), Tv::True);
        assert_eq!(eval(&c, Some("1.2")), Tv::False);
        assert_eq!(eval(&c, Some("1.3")), Tv::False);
        let c = clause(
            "DateGreaterThan",
            "aws:CurrentTime",
            &["2024-01-01T00:00:00Z"],
        );
        assert_eq!(eval(&c, Some("2024-01-02")), Tv::True);
        assert_eq!(eval(&c, Some("1704067200")), Tv::False);
        let c = clause(
            "IpAddress",
            "aws:SourceIp",
            &["10.1.0.0/16", "2001:db8::/32"],
        );
        assert_eq!(eval(&c, Some("10.1.255.3")), Tv::True);
        assert_eq!(eval(&c, Some("10.2.0.1")), Tv::False);
        assert_eq!(eval(&c, Some("2001:db8:1::1")), Tv::True);
        let c = clause(
            "ArnLike",
            "aws:PrincipalArn",
            &["arn:aws:iam::111122223333:role/*"],
        );
        assert_eq!(eval(&c, Some("arn:aws:iam::111122223333:role/x")), Tv::True);
        assert_eq!(
            eval(&c, Some("arn:aws:iam::111122223333:user/x")),
            Tv::False
        );
        let c = clause("ArnLike", "aws:PrincipalArn", &["*"]);
        assert_eq!(eval(&c, Some("arn:aws:iam::1:role/x")), Tv::Unknown);
    }

    #[test]
    fn policy_variables_are_unknown_and_escapes_literal() {
        let c = clause("StringEquals", "k", &["${aws:username}"]);
        assert_eq!(eval(&c, Some("bob")), Tv::Unknown);
        let c = clause("StringLike", "k", &["a${*}"]);
        assert_eq!(eval(&c, Some("a*")), Tv::True);
        assert_eq!(eval(&c, Some("ab")), Tv::False);
        let legacy = Clause {
            values: vec![CondValue::new("${aws:username}", false)],
            ..clause("StringEquals", "k", &["x"])
        };
        assert_eq!(eval(&legacy, Some("${aws:username}")), Tv::True);
    }

    #[test]
    fn universality() {
        let free = KeyDomain::Free;
        assert!(clause("StringLikeIfExists", "k", &["*"]).always(&free));
        assert!(
            !clause("StringLike", "k", &["*"]).always(&free),
            "absent is false"
        );
        assert!(clause("Null", "k", &["true", "false"]).always(&free));
        assert!(!clause("StringNotEquals", "k", &["a"]).always(&free));
        let except = KeyDomain::AnyExcept(["a".to_string(), "b".to_string()].into());
        assert!(clause("StringNotEquals", "k", &["a", "b"]).always(&except));
        assert!(clause("StringNotEquals", "k", &["a"]).always(&except));
        assert!(!clause("StringNotEquals", "k", &["a", "c"]).always(&except));
        assert!(!clause("StringNotLike", "k", &["a*"]).always(&except));
        assert!(clause("StringNotLike", "k", &["a"]).always(&except));
        assert!(!clause("StringNotEqualsIgnoreCase", "k", &["a"]).always(&except));
        assert!(clause("IpAddressIfExists", "aws:SourceIp", &["0.0.0.0/0", "::/0"]).always(&free));
        assert!(!clause("IpAddressIfExists", "aws:SourceIp", &["0.0.0.0/0"]).always(&free));
        let fixed = KeyDomain::Fixed(Some("false".into()));
        assert!(clause("Bool", "k", &["false"]).always(&fixed));
        assert!(!clause("Bool", "k", &["true"]).always(&fixed));
    }

    /// The component-wise ARN match as it was first written (splitting into six patterns),
    /// the reference for the allocation-free one.
    fn arn_match_reference(request: &str, value: &CondValue) -> Tv {
        let Some(toks) = &value.template else {
            return Tv::Unknown;
        };
        let mut parts: Vec<Vec<Tok>> = vec![Vec::new()];
        for t in toks {
            if *t == Tok::Lit(':') && parts.len() < 6 {
                parts.push(Vec::new());
            } else {
                parts.last_mut().expect("never empty").push(*t);
            }
        }
        if parts.len() != 6 {
            return Tv::Unknown;
        }
        let req: Vec<&str> = request.splitn(6, ':').collect();
        if req.len() != 6 {
            return Tv::False;
        }
        Tv::from_bool(
            parts
                .into_iter()
                .zip(req)
                .all(|(p, r)| Glob::from_tokens(p).is_match(r)),
        )
    }

    proptest::proptest! {
        #[test]
        fn arn_matching_agrees_with_the_reference(
            value in "[a:*?/]{0,14}",
            request in "[ab:/]{0,14}",
        ) {
            let v = CondValue::new(&value, true);
            proptest::prop_assert_eq!(arn_match(&request, &v), arn_match_reference(&request, &v));
        }
    }

    #[test]
    fn dates_round_trip() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "1900-03-01T00:00:00Z",
        ] {
            assert_eq!(format_date(parse_date(s).unwrap()).unwrap(), s);
        }
        assert_eq!(
            parse_date("2024-01-01T02:00:00+02:00"),
            parse_date("2024-01-01")
        );
        assert_eq!(
            parse_date("2024-01-01T00:00:00.500Z"),
            Some(1_704_067_200.5)
        );
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn ip_helpers() {
        let net = parse_cidr("10.0.0.0/8").unwrap();
        let out = outside_of(net).unwrap();
        assert_eq!(out.to_string(), "11.0.0.0");
        assert!(!net.contains(&out));
        let net = parse_cidr("255.255.255.0/24").unwrap();
        assert_eq!(outside_of(net).unwrap().to_string(), "255.255.254.255");
        assert!(parse_cidr("10.0.0.0/33").is_none());
        // Host bits set: the network they belong to; a bare address: a network of one.
        assert_eq!(parse_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_cidr("2001:db8::1").unwrap().prefix_len(), 128);
        let all = parse_cidr("0.0.0.0/0").unwrap();
        assert!(all.contains(&"1.2.3.4".parse::<IpAddr>().unwrap()));
        assert_eq!(outside_of(all), None);
    }
}
