//! The catalog of S3 actions, kept as data (`s3_actions.txt`, embedded at compile time) so
//! that "every S3 action" is an enumerable fact, not a guess: `s3:Get*` or a `NotAction`
//! list is checked against each action by name.

use std::sync::OnceLock;

use super::glob::Glob;

/// Which ARNs a bucket policy can name for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub bucket: bool,
    pub object: bool,
}

/// One S3 action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Action {
    /// With prefix, e.g. `s3:GetObject`.
    pub name: String,
    pub scope: Scope,
}

const DATA: &str = include_str!("s3_actions.txt");

/// Every S3 action, in the data file's (alphabetical) order.
pub fn all() -> &'static [S3Action] {
    static ACTIONS: OnceLock<Vec<S3Action>> = OnceLock::new();
    ACTIONS.get_or_init(|| parse(DATA).expect("s3_actions.txt is valid (tested)"))
}

/// Looks an action up by name, case-insensitively (`s3:getobject` finds `s3:GetObject`).
pub fn find(name: &str) -> Option<&'static S3Action> {
    all().iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn parse(data: &str) -> Result<Vec<S3Action>, String> {
    let mut out: Vec<S3Action> = Vec::new();
    for (n, line) in data.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, scopes) = line
            .split_once('\t')
            .ok_or_else(|| format!("line {}: expected NAME<TAB>SCOPES", n + 1))?;
        let mut scope = Scope {
            bucket: false,
            object: false,
        };
        for s in scopes.split(',') {
            match s.trim() {
                "bucket" => scope.bucket = true,
                "object" => scope.object = true,
                "other" => {}
                other => return Err(format!("line {}: unknown scope {other:?}", n + 1)),
            }
        }
        let name = format!("s3:{name}");
        if out.iter().any(|a| a.name.eq_ignore_ascii_case(&name)) {
            return Err(format!("line {}: duplicate action {name}", n + 1));
        }
        out.push(S3Action { name, scope });
    }
    Ok(out)
}

/// An `Action`/`NotAction` pattern, compiled for case-insensitive matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPattern {
    pub raw: String,
    glob: Glob,
}

impl ActionPattern {
    pub fn new(raw: &str) -> ActionPattern {
        ActionPattern {
            raw: raw.to_string(),
            glob: Glob::new(&raw.to_lowercase()),
        }
    }

    /// Whether the pattern names `action` (`s3:GetObject`): action names and patterns are
    /// case-insensitive.
    pub fn matches(&self, action: &str) -> bool {
        self.matches_lc(&action.to_lowercase())
    }

    /// [`ActionPattern::matches`] for an action already lower-cased: the analyser asks
    /// every pattern of every statement about each action, and lower-cases it once.
    pub fn matches_lc(&self, action_lc: &str) -> bool {
        self.glob.is_match(action_lc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_and_knows_the_common_actions() {
        let all = all();
        assert!(all.len() >= 150, "{} actions", all.len());
        let get = find("s3:getobject").unwrap();
        assert_eq!(get.name, "s3:GetObject");
        assert!(get.scope.object && !get.scope.bucket);
        let list = find("s3:ListBucket").unwrap();
        assert!(list.scope.bucket && !list.scope.object);
        let lamb = find("s3:ListAllMyBuckets").unwrap();
        assert!(!lamb.scope.bucket && !lamb.scope.object);
        for a in [
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
        ] {
            assert!(find(a).is_some(), "{a}");
        }
    }

    #[test]
    fn rejects_malformed_data() {
        assert!(parse("GetObject object").is_err());
        assert!(parse("GetObject\tfile").is_err());
        assert!(parse("GetObject\tobject\ngetobject\tobject").is_err());
    }

    #[test]
    fn patterns_are_case_insensitive_wildcards() {
        assert!(ActionPattern::new("S3:get*").matches("s3:GetObject"));
        assert!(ActionPattern::new("*").matches("s3:GetObject"));
        assert!(ActionPattern::new("s3:*").matches("s3:ListBucket"));
        assert!(ActionPattern::new("s3:?etObject").matches("s3:GetObject"));
        assert!(!ActionPattern::new("s3:GetObject").matches("s3:GetObjectAcl"));
        assert!(!ActionPattern::new("s3express:*").matches("s3:GetObject"));
    }
}
