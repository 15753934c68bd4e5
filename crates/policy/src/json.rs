//! An order-preserving JSON tree for policy documents.
//!
//! `serde_json::Value` forgets the order of object members and keeps only the last of two
//! members with the same name. Both matter here: a duplicated `"Condition"` is ambiguous
//! (which one would AWS apply?) so the parser must refuse it rather than silently pick one,
//! and a remediation merged into a user's policy should read like their policy, members in
//! the order they wrote them.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value whose objects keep their members in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses a document, refusing duplicate member names (the error names the member and
    /// the line and column where the duplicate appears).
    pub fn parse(text: &str) -> Result<Json, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON type's name, for error messages ("found a number").
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// A member of an object, by exact (case-sensitive) name.
    pub fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short rendering of a scalar for error messages: strings quoted, others as JSON.
    pub fn describe(&self) -> String {
        match self {
            Json::String(s) => format!("{s:?}"),
            Json::Array(_) | Json::Object(_) => self.kind().to_string(),
            other => other.to_compact(),
        }
    }

    /// Compact single-line JSON.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None, 0);
        out
    }

    /// Pretty JSON, two-space indentation, members in their original order.
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(2), 0);
        out
    }

    fn write(&self, out: &mut String, indent: Option<usize>, depth: usize) {
        let newline = |out: &mut String, depth: usize| {
            if let Some(step) = indent {
                out.push('\n');
                out.push_str(&" ".repeat(step * depth));
            }
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(&n.to_string()),
            Json::String(s) => out.push_str(&quote(s)),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Object(members) if members.is_empty() => out.push_str("{}"),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write(out, indent, depth + 1);
                }
                newline(out, depth);
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    out.push_str(&quote(name));
                    out.push(':');
                    if indent.is_some() {
                        out.push(' ');
                    }
                    value.write(out, indent, depth + 1);
                }
                newline(out, depth);
                out.push('}');
            }
        }
    }

    /// The same tree as a `serde_json::Value` (member order then depends on serde_json's
    /// features; use it for evidence, not for text a person reads as a policy).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::Value::Number(n.clone()),
            Json::String(s) => serde_json::Value::String(s.clone()),
            Json::Array(items) => {
                serde_json::Value::Array(items.iter().map(Json::to_value).collect())
            }
            Json::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Builds an object from `(name, value)` pairs, in order.
pub fn object<const N: usize>(members: [(&str, Json); N]) -> Json {
    Json::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A JSON string value.
pub fn string(s: impl Into<String>) -> Json {
    Json::String(s.into())
}

/// A string, or an array of strings when there is more than one.
pub fn string_or_list(items: &[String]) -> Json {
    match items {
        [one] => string(one.clone()),
        many => Json::Array(many.iter().cloned().map(Json::String).collect()),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        // Names seen so far: a set, since an object (a Condition block) may have thousands
        // of members and scanning the list for each would be quadratic.
        let mut names: HashSet<String> = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !names.insert(name.clone()) {
                return Err(de::Error::custom(format!("duplicate member {name:?}")));
            }
            let value = map.next_value()?;
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_member_order_and_round_trips() {
        let text = r#"{"b":1,"a":[true,null,"x",1.5],"c":{}}"#;
        let json = Json::parse(text).unwrap();
        assert_eq!(json.to_compact(), text);
        let pretty = json.to_pretty();
        assert_eq!(Json::parse(&pretty).unwrap(), json);
        assert!(pretty.starts_with("{\n  \"b\": 1,"));
    }

    #[test]
    fn refuses_duplicate_members() {
        let err = Json::parse("{\"Effect\":\"Deny\",\n \"Effect\":\"Allow\"}").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("duplicate member \"Effect\""), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn refuses_duplicates_among_thousands_of_members() {
        let members: Vec<String> = (0..5000).map(|i| format!("\"k{i}\":{i}")).collect();
        let unique = format!("{{{}}}", members.join(","));
        let Json::Object(parsed) = Json::parse(&unique).unwrap() else {
            panic!("an object")
        };
        assert_eq!(parsed.len(), 5000);
        assert_eq!(parsed[4999].0, "k4999", "order kept");
        let duplicated = format!("{{{},\"k17\":0}}", members.join(","));
        let msg = Json::parse(&duplicated).unwrap_err().to_string();
        assert!(msg.contains("duplicate member \"k17\""), "{msg}");
    }

    #[test]
    fn escapes_strings() {
        let json = Json::String("a\"b\\c\n".into());
        assert_eq!(json.to_compact(), r#""a\"b\\c\n""#);
    }
}
