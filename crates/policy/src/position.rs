//! Where the parts of a policy document are in its text: each statement, each top-level
//! member (`"Statement"` among them) and a [`PolicyError`]. Annotations (s3audit's
//! `check-policy --format sarif`) point at the statement a finding is about with them.
//!
//! The parser ([`crate::json`], through serde_json) keeps no positions, and giving it some
//! would mean a second deserializer for every document the analyser reads. Positions are
//! only needed for the few documents a user annotates, so they come from a second read of
//! the text, by jsonc-parser (maintained, no dependencies), whose syntax tree carries byte
//! ranges. Every JSONC extension (comments, trailing commas, loose property names, single
//! quotes, hexadecimal numbers) is turned off, so it reads strict JSON; and it is only asked
//! about text serde_json accepted, so the two agree on what the document is. Member names
//! are compared decoded (`"\u0053tatement"` is `Statement`, as serde_json reads it), and
//! only the top level counts: a `"Statement"` key nested in a condition, or the string
//! `"Statement"` as a value, is not the statement list.

use jsonc_parser::ast::{ObjectPropName, Value};
use jsonc_parser::common::{Range, Ranged};
use jsonc_parser::{CollectOptions, ParseOptions, parse_to_ast};

use crate::document::PolicyError;
use crate::json::Json;

/// A place in a document's text. Lines are 1-based and end at `\n` (a `\r` before it is the
/// line's last character, so CRLF and LF files number their lines alike, as serde_json
/// does); columns are 1-based and count Unicode code points, so a non-ASCII character
/// earlier on the line moves a column by one, whatever its UTF-8 length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A stretch of text: from `start` to `end`, the position just after its last character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: Position,
    pub end: Position,
}

/// One member of the document's top-level object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The name, decoded.
    pub name: String,
    /// The name with its quotes.
    pub name_span: Span,
    /// The name through the end of the value.
    pub span: Span,
}

/// Where a document's top-level members and statements are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The whole document's value.
    pub root: Span,
    /// The top-level members, in document order.
    pub members: Vec<Member>,
    /// Each statement of the `Statement` member, indexed like
    /// [`Statement::index`](crate::document::Statement::index): the elements of a list, or
    /// the one object when `Statement` is a single object. Empty without a `Statement`.
    pub statements: Vec<Span>,
}

impl Layout {
    /// The first top-level member called `name` (the parser refuses duplicates).
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }
}

/// Where the top-level members and statements of `text` are; `None` when it is not JSON,
/// or not an object.
pub fn layout(text: &str) -> Option<Layout> {
    let strict = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        ..ParseOptions::default()
    };
    let parsed = parse_to_ast(text, &CollectOptions::default(), &strict).ok()?;
    let Some(Value::Object(root)) = parsed.value else {
        return None;
    };
    let lines = Lines::new(text);
    let span = |range: Range| Span {
        start: lines.position(range.start),
        end: lines.position(range.end),
    };
    let mut members = Vec::new();
    let mut statements = None;
    for prop in &root.properties {
        let (name, name_range) = match &prop.name {
            ObjectPropName::String(s) => (s.value.to_string(), s.range),
            // Unreachable with loose names off; a name is still a name.
            ObjectPropName::Word(w) => (w.value.to_string(), w.range),
        };
        if name == "Statement" && statements.is_none() {
            statements = Some(match &prop.value {
                Value::Array(list) => list.elements.iter().map(|e| span(e.range())).collect(),
                single => vec![span(single.range())],
            });
        }
        members.push(Member {
            name,
            name_span: span(name_range),
            span: span(prop.range),
        });
    }
    Some(Layout {
        root: span(root.range),
        members,
        statements: statements.unwrap_or_default(),
    })
}

/// The position of byte `offset` of `text` (clamped to the text, and back to the start of
/// a character it falls inside).
pub fn position_at(text: &str, offset: usize) -> Position {
    Lines::new(text).position(offset)
}

impl PolicyError {
    /// Where in `text` (the document this error is about) the problem is: serde_json's
    /// line and column for text that is not JSON, the statement or member the error's path
    /// names otherwise (`Statement[2].Effect` is statement 2), the start of the document
    /// for a problem with the whole document. `None` when `text` has nothing to point at.
    pub fn position(&self, text: &str) -> Option<Position> {
        match self {
            PolicyError::Syntax(_) => {
                // The same parse, so the same error; it is only run on a document that
                // failed, so the second parse costs nothing worth keeping positions for.
                let e = Json::parse(text).err()?;
                let lines = Lines::new(text);
                let start = *lines.starts.get(e.line().checked_sub(1)?)?;
                Some(lines.position(start + e.column().saturating_sub(1)))
            }
            PolicyError::Invalid { path, .. } => {
                let layout = layout(text)?;
                let statement = |i: usize| layout.statements.get(i).map(|s| s.start);
                let member = |name: &str| layout.member(name).map(|m| m.name_span.start);
                let found = match path.strip_prefix("Statement") {
                    // `Statement[3]...`: that statement.
                    Some(rest) if rest.starts_with('[') => rest[1..]
                        .split_once(']')
                        .and_then(|(i, _)| i.parse().ok())
                        .and_then(statement),
                    // `Statement.Effect`: the single statement object.
                    Some(rest) if rest.starts_with('.') => statement(0),
                    // `Statement` itself: the single statement object (or whatever else
                    // the value is), or the member when it is an empty list.
                    Some("") => statement(0).or_else(|| member("Statement")),
                    _ => member(path),
                };
                Some(found.unwrap_or(layout.root.start))
            }
        }
    }
}

/// Where each line of a text starts, for turning byte offsets into positions.
struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        // The last line starting at or before the offset.
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = self.text[self.starts[line]..offset].chars().count() + 1;
        Position {
            line: line + 1,
            column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_policy;

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    /// The position of the first occurrence of `needle`, found by counting by hand.
    fn find(text: &str, needle: &str) -> Position {
        let offset = text.find(needle).expect("needle in text");
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
        at(line, column)
    }

    const DENY: &str = r#""Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*""#;

    #[test]
    fn each_statement_of_a_pretty_printed_document() {
        let text = format!(
            "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\n      \"Sid\": \"A\",\n      {DENY}\n    }},\n    {{\"Sid\": \"B\", {DENY}}}\n  ]\n}}\n"
        );
        let l = layout(&text).unwrap();
        assert_eq!(l.statements.len(), 2);
        assert_eq!(l.statements[0].start, at(4, 5));
        assert_eq!(l.statements[0].end, at(7, 6));
        assert_eq!(l.statements[1].start, find(&text, "{\"Sid\": \"B\""));
        let member = l.member("Statement").unwrap();
        assert_eq!(member.name_span.start, at(3, 3));
        assert_eq!(member.name_span.end, at(3, 14));
        assert_eq!(member.span.end, at(9, 4));
        assert_eq!(l.member("Version").unwrap().name_span.start, at(2, 3));
        assert_eq!(l.root.start, at(1, 1));
        // The spans index like Statement::index.
        let policy = parse_policy(&text).unwrap();
        assert_eq!(policy.statements[1].label(), "\"B\"");
        assert_eq!(policy.statements[1].index, 1);
    }

    #[test]
    fn escaped_quotes_and_brackets_inside_strings_are_text() {
        // Brackets, braces, commas and escaped quotes inside strings, and an escaped
        // backslash just before a closing quote.
        let text = format!(
            r#"{{"Id":"a \"[{{,\" ]","Statement":[{{"Sid":"x\\","Condition":{{"StringLike":{{"s3:prefix":"}}]\"["}}}},{DENY}}},
 {{"Sid":"y\"}}",{DENY}}}]}}"#
        );
        assert!(parse_policy(&text).is_ok(), "the test document is a policy");
        let l = layout(&text).unwrap();
        assert_eq!(l.statements.len(), 2);
        assert_eq!(l.statements[0].start, find(&text, r#"{"Sid":"x\\""#));
        assert_eq!(l.statements[1].start, at(2, 2));
        assert_eq!(l.members.len(), 2);
    }

    #[test]
    fn only_the_top_level_statement_member_counts() {
        // "Statement" as a value, as a nested key, and as an escaped top-level name.
        let text = "{\"Id\": \"Statement\",\n \"Other\": {\"Statement\": [1, 2, 3]},\n \"\\u0053tatement\": [\n  {\"Sid\": \"real\"}]}";
        let l = layout(text).unwrap();
        assert_eq!(l.statements.len(), 1);
        assert_eq!(l.statements[0].start, at(4, 3));
        assert_eq!(l.member("Statement").unwrap().name_span.start, at(3, 2));
        // No Statement at all: nothing to point at but the document.
        let l = layout("{\"Version\": \"2012-10-17\"}").unwrap();
        assert!(l.statements.is_empty());
        assert!(l.member("Statement").is_none());
        // Not an object, not JSON.
        assert!(layout("[{\"Statement\": []}]").is_none());
        assert!(layout("{\"Statement\": [").is_none());
    }

    #[test]
    fn a_single_statement_object_is_statement_zero() {
        let text = format!("{{\"Version\":\"2012-10-17\",\n\"Statement\":\n  {{{DENY}}}\n}}");
        let l = layout(&text).unwrap();
        assert_eq!(l.statements.len(), 1);
        assert_eq!(l.statements[0].start, at(3, 3));
        assert_eq!(parse_policy(&text).unwrap().statements[0].index, 0);
    }

    #[test]
    fn crlf_and_wide_characters_number_lines_and_columns_as_a_reader_sees_them() {
        let text = format!(
            "{{\r\n  \"Statement\": [\r\n    {{\"Sid\": \"é\", {DENY}}}, {{\"Sid\": \"ü✓\", {DENY}}}\r\n  ]\r\n}}\r\n"
        );
        let l = layout(&text).unwrap();
        assert_eq!(l.member("Statement").unwrap().name_span.start, at(2, 3));
        assert_eq!(l.statements[0].start, at(3, 5));
        // Counted in characters: "é" is one column, two bytes.
        assert_eq!(l.statements[1].start, find(&text, "{\"Sid\": \"ü✓\""));
        assert_eq!(l.statements[1].start.line, 3);
        assert_eq!(
            position_at(&text, text.find("ü✓").unwrap() + 1),
            find(&text, "ü✓"),
            "an offset inside a character is that character"
        );
        assert_eq!(position_at("ab", 99), at(1, 3));
    }

    #[test]
    fn errors_point_at_what_they_name() {
        // Not JSON: serde_json's line and column, in characters.
        let text = "{\n  \"Statement\": [\n    {\"Sid\": \"ü\" \"Effect\": \"Deny\"}\n";
        let e = parse_policy(text).unwrap_err();
        assert_eq!(e.position(text), Some(find(text, "\"Effect\"")));
        // A duplicate member: where the duplicate is.
        let text = "{\"Statement\": [{\"Effect\": \"Deny\",\n \"Effect\": \"Allow\"}]}";
        let e = parse_policy(text).unwrap_err();
        assert!(matches!(e, PolicyError::Syntax(_)), "{e}");
        assert_eq!(e.position(text).unwrap().line, 2);
        // A statement's problem: that statement.
        let text = format!("{{\"Statement\": [\n {{{DENY}}},\n {{\"Effect\": \"Permit\"}}]}}");
        let e = parse_policy(&text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Statement[1].Effect must be \"Allow\" or \"Deny\", found \"Permit\""
        );
        assert_eq!(e.position(&text), Some(at(3, 2)));
        // The single statement object, the Statement member, another member, the document.
        for (text, expected) in [
            ("{\"Statement\":\n {\"Effect\": \"Deny\"}}", at(2, 2)),
            (
                "{\"Version\": \"2012-10-17\",\n \"Statement\": []}",
                at(2, 2),
            ),
            ("{\n \"Version\": \"1999\", \"Statement\": []}", at(2, 2)),
            ("\n {\"Statement\": [], \"Foo\": 1}", at(2, 2)),
        ] {
            let e = parse_policy(text).unwrap_err();
            assert_eq!(e.position(text), Some(expected), "{text:?}: {e}");
        }
        // An empty document: serde_json's end of input.
        let e = parse_policy("").unwrap_err();
        assert_eq!(e.position(""), Some(at(1, 1)));
        // Not an object: nothing to lay out.
        let e = parse_policy("[1]").unwrap_err();
        assert_eq!(e.position("[1]"), None);
    }
}
