//! IAM wildcard patterns (`*` any run of characters, `?` one character) and the questions
//! the analyser asks of a set of them.
//!
//! Matching one string is the easy part. The analyser also needs to answer "does this set
//! of patterns match *every* object key?" (a Deny on `arn:aws:s3:::b/*` does; one on
//! `arn:aws:s3:::b/logs/*` does not, and `arn:aws:s3:::b/a*` plus `arn:aws:s3:::b/?*`
//! together do) and, when the answer is no, "which key slips through?". A pattern is a
//! small automaton, so both are answered exactly by exploring the product of the patterns'
//! automata breadth-first: every character that appears in no pattern behaves the same, so
//! one representative of them stands for all the others and the search is finite.

use std::collections::{BTreeSet, HashSet, VecDeque};

/// One element of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tok {
    Lit(char),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A compiled wildcard pattern. Matching is case-sensitive; callers that need
/// case-insensitive matching (actions) lower-case both sides first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Glob {
    toks: Vec<Tok>,
}

impl Glob {
    /// `*` and `?` are wildcards, everything else is literal.
    pub fn new(pattern: &str) -> Glob {
        Glob {
            toks: pattern
                .chars()
                .map(|c| match c {
                    '*' => Tok::Star,
                    '?' => Tok::One,
                    c => Tok::Lit(c),
                })
                .collect(),
        }
    }

    /// A pattern that matches exactly `s` (no wildcards).
    pub fn literal(s: &str) -> Glob {
        Glob {
            toks: s.chars().map(Tok::Lit).collect(),
        }
    }

    pub fn from_tokens(toks: Vec<Tok>) -> Glob {
        Glob { toks }
    }

    pub fn tokens(&self) -> &[Tok] {
        &self.toks
    }

    pub fn has_wildcards(&self) -> bool {
        self.toks.iter().any(|t| !matches!(t, Tok::Lit(_)))
    }

    /// The literal text, if the pattern has no wildcards.
    pub fn as_literal(&self) -> Option<String> {
        self.toks
            .iter()
            .map(|t| match t {
                Tok::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Whether the pattern matches every string (it is made of `*` only).
    pub fn matches_everything(&self) -> bool {
        self.toks.iter().all(|t| *t == Tok::Star)
    }

    pub fn is_match(&self, s: &str) -> bool {
        let mut states = self.start();
        for c in s.chars() {
            states = self.step(&states, c);
            if states.is_empty() {
                return false;
            }
        }
        self.accepts(&states)
    }

    /// A string the pattern matches: `*` as `fill`, `?` as `x`.
    pub fn example(&self, fill: &str) -> String {
        let mut out = String::new();
        for t in &self.toks {
            match t {
                Tok::Lit(c) => out.push(*c),
                Tok::Star => out.push_str(fill),
                Tok::One => out.push('x'),
            }
        }
        out
    }

    /// The automaton's states are positions in the token list; `closure` follows the
    /// empty moves a `*` allows.
    fn closure(&self, states: &mut BTreeSet<usize>) {
        let mut todo: Vec<usize> = states.iter().copied().collect();
        while let Some(i) = todo.pop() {
            if self.toks.get(i) == Some(&Tok::Star) && states.insert(i + 1) {
                todo.push(i + 1);
            }
        }
    }

    fn start(&self) -> BTreeSet<usize> {
        let mut s = BTreeSet::from([0]);
        self.closure(&mut s);
        s
    }

    fn step(&self, states: &BTreeSet<usize>, c: char) -> BTreeSet<usize> {
        let mut next = BTreeSet::new();
        for &i in states {
            match self.toks.get(i) {
                Some(Tok::Lit(l)) if *l == c => {
                    next.insert(i + 1);
                }
                Some(Tok::One) => {
                    next.insert(i + 1);
                }
                Some(Tok::Star) => {
                    next.insert(i);
                }
                _ => {}
            }
        }
        self.closure(&mut next);
        next
    }

    fn accepts(&self, states: &BTreeSet<usize>) -> bool {
        states.contains(&self.toks.len())
    }

    fn literal_chars(&self, into: &mut BTreeSet<char>) {
        for t in &self.toks {
            if let Tok::Lit(c) = t {
                into.insert(*c);
            }
        }
    }
}

/// The answer of a bounded search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// A suffix with the property.
    Found(String),
    /// The search space was exhausted: no suffix has the property.
    NoneExists,
    /// The search gave up before deciding (too many states); callers treat it as unknown.
    GaveUp,
}

/// How many product states a search may visit before giving up. Real policies stay far
/// below it; it bounds the work adversarial input can cause.
const STATE_LIMIT: usize = 20_000;

/// Searches for a suffix `s` with at least `min_len` characters such that
/// `want(matches)` holds, where `matches[i]` says whether `globs[i]` matches `prefix + s`.
///
/// Exact (not a sample): characters that appear in no pattern behave identically, so one
/// representative of them (preferring a letter) stands for all.
pub fn find_suffix(
    globs: &[&Glob],
    prefix: &str,
    min_len: usize,
    want: impl Fn(&[bool]) -> bool,
) -> Search {
    let mut literals = BTreeSet::new();
    for g in globs {
        g.literal_chars(&mut literals);
    }
    let other = ['x', 'q', 'z', 'k', '0', '_', '~', 'é', '\u{2603}']
        .into_iter()
        .find(|c| !literals.contains(c))
        .unwrap_or('\u{10FFFF}');
    let mut alphabet: Vec<char> = vec![other];
    alphabet.extend(literals.iter().copied().filter(|c| *c != other));

    let start: Vec<BTreeSet<usize>> = globs
        .iter()
        .map(|g| {
            let mut s = g.start();
            for c in prefix.chars() {
                s = g.step(&s, c);
            }
            s
        })
        .collect();

    type State = (Vec<BTreeSet<usize>>, usize);
    let mut seen: HashSet<State> = HashSet::new();
    let mut queue: VecDeque<(Vec<BTreeSet<usize>>, usize, String)> = VecDeque::new();
    seen.insert((start.clone(), 0));
    queue.push_back((start, 0, String::new()));
    while let Some((states, depth, path)) = queue.pop_front() {
        if depth >= min_len {
            let matches: Vec<bool> = globs
                .iter()
                .zip(&states)
                .map(|(g, s)| g.accepts(s))
                .collect();
            if want(&matches) {
                return Search::Found(path);
            }
        }
        for &c in &alphabet {
            let next: Vec<BTreeSet<usize>> = globs
                .iter()
                .zip(&states)
                .map(|(g, s)| g.step(s, c))
                .collect();
            let next_depth = (depth + 1).min(min_len);
            if seen.insert((next.clone(), next_depth)) {
                if seen.len() > STATE_LIMIT {
                    return Search::GaveUp;
                }
                let mut p = path.clone();
                p.push(c);
                queue.push_back((next, next_depth, p));
            }
        }
    }
    Search::NoneExists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_wildcards() {
        assert!(Glob::new("arn:aws:s3:::b/*").is_match("arn:aws:s3:::b/x/y"));
        assert!(Glob::new("arn:aws:s3:::b/*").is_match("arn:aws:s3:::b/"));
        assert!(!Glob::new("arn:aws:s3:::b/*").is_match("arn:aws:s3:::b"));
        assert!(Glob::new("arn:aws:s3:::b*").is_match("arn:aws:s3:::b"));
        assert!(Glob::new("a?c").is_match("abc"));
        assert!(!Glob::new("a?c").is_match("ac"));
        assert!(Glob::new("*a*b*").is_match("xxaxxbxx"));
        assert!(!Glob::new("ABC").is_match("abc"), "case-sensitive");
        assert!(Glob::new("").is_match(""));
        assert!(Glob::new("**").is_match(""));
    }

    fn universal(patterns: &[&str], prefix: &str) -> Search {
        let globs: Vec<Glob> = patterns.iter().map(|p| Glob::new(p)).collect();
        let refs: Vec<&Glob> = globs.iter().collect();
        find_suffix(&refs, prefix, 1, |m| !m.iter().any(|x| *x))
    }

    #[test]
    fn decides_coverage_of_every_object_key() {
        let p = "arn:aws:s3:::b/";
        assert_eq!(universal(&["arn:aws:s3:::b/*"], p), Search::NoneExists);
        assert_eq!(universal(&["arn:aws:s3:::*"], p), Search::NoneExists);
        assert_eq!(universal(&["*"], p), Search::NoneExists);
        assert_eq!(universal(&["arn:aws:s3:::b/?*"], p), Search::NoneExists);
        assert_eq!(
            universal(&["arn:aws:s3:::b/a*", "arn:aws:s3:::b/?*"], p),
            Search::NoneExists
        );
        let Search::Found(key) = universal(&["arn:aws:s3:::b/logs/*"], p) else {
            panic!("logs/* does not cover every key");
        };
        assert!(!Glob::new("arn:aws:s3:::b/logs/*").is_match(&format!("{p}{key}")));
        assert!(matches!(
            universal(&["arn:aws:s3:::b"], p),
            Search::Found(_)
        ));
        assert!(matches!(
            universal(&["arn:aws:s3:::B/*"], p),
            Search::Found(_)
        ));
        assert!(
            matches!(universal(&["arn:aws:s3:::b/??*"], p), Search::Found(k) if k.chars().count() == 1)
        );
    }

    #[test]
    fn finds_keys_a_pattern_matches() {
        let g = Glob::new("arn:aws:s3:::b/private/*");
        let found = find_suffix(&[&g], "arn:aws:s3:::b/", 1, |m| m[0]);
        let Search::Found(key) = found else { panic!() };
        assert!(key.starts_with("private/"));
        let g = Glob::new("arn:aws:s3:::other/*");
        assert_eq!(
            find_suffix(&[&g], "arn:aws:s3:::b/", 1, |m| m[0]),
            Search::NoneExists
        );
    }
}
