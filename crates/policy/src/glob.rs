//! IAM wildcard patterns (`*` any run of characters, `?` one character) and the questions
//! the analyser asks of a set of them.
//!
//! Matching one string is the easy part. The analyser also needs to answer "does this set
//! of patterns match *every* object key?" (a Deny on `arn:aws:s3:::b/*` does; one on
//! `arn:aws:s3:::b/logs/*` does not, and `arn:aws:s3:::b/?` plus `arn:aws:s3:::b/??*`
//! together do) and, when the answer is no, "which key slips through?"; and, for
//! `NotResource` and for witness candidates, "which key does some pattern match?".
//!
//! Both have exact answers in time linear in the total size of the patterns, which
//! matters because a policy may hold hundreds of patterns and exploring the product of
//! their automata (one state set per pattern, jointly) grows exponentially with their
//! number:
//!
//! * After a fixed prefix, a pattern's automaton is in a set of positions, and what it can
//!   still match is the union of the pattern's remainders from those positions. Pick a
//!   character that no pattern names (a *fresh* one: the patterns are finite, Unicode is
//!   not). A remainder with a literal can never match a run of fresh characters, and a
//!   remainder without one (only `*` and `?`) matches a string by its length alone. So
//!   the patterns match every suffix of a length exactly when their literal-free
//!   remainders allow that length, and otherwise a run of fresh characters of that length
//!   is matched by none of them ([`find_unmatched`]).
//! * Whether some pattern matches some suffix needs no product at all: the union of the
//!   automata does, and its states are single positions ([`find_matched`]).
//!
//! Both return the shortest such suffix, and among those the first in the order where the
//! fresh character comes before every character the patterns name (which come in code
//! point order): a key like `x` or `logs/x` reads better than one made of punctuation.

use std::collections::{BTreeSet, HashMap};

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
        match_tokens(&self.toks, s)
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

    /// The positions the automaton can be in after reading `prefix` (a position is an
    /// index into the tokens; the length means "matched"). Sorted, and closed under the
    /// empty moves a `*` allows. Empty when no string starting with `prefix` matches.
    /// Only the live positions are carried from character to character, usually one or
    /// two, so a pattern for another bucket costs a few steps.
    fn positions_after(&self, prefix: &str) -> Vec<usize> {
        let mut cur = Vec::new();
        self.push_closed(&mut cur, 0);
        let mut next = Vec::new();
        for c in prefix.chars() {
            next.clear();
            for &i in &cur {
                match self.toks.get(i) {
                    Some(Tok::Star) => self.push_closed(&mut next, i),
                    Some(Tok::One) => self.push_closed(&mut next, i + 1),
                    Some(Tok::Lit(l)) if *l == c => self.push_closed(&mut next, i + 1),
                    _ => {}
                }
            }
            if next.is_empty() {
                return next;
            }
            next.sort_unstable();
            next.dedup();
            std::mem::swap(&mut cur, &mut next);
        }
        cur
    }

    /// Adds position `i` and those the stars from it may skip to (a star matching nothing).
    fn push_closed(&self, set: &mut Vec<usize>, mut i: usize) {
        loop {
            set.push(i);
            if self.toks.get(i) != Some(&Tok::Star) {
                return;
            }
            i += 1;
        }
    }

    /// For every position, what its remainder (the tokens from there on) can match:
    /// whether it has a `*`, a literal, and how many characters it needs at least (its
    /// `?` and literals).
    fn remainders(&self) -> Vec<Remainder> {
        let mut out = vec![Remainder::default(); self.toks.len() + 1];
        for i in (0..self.toks.len()).rev() {
            let mut r = out[i + 1];
            match self.toks[i] {
                Tok::Star => r.star = true,
                Tok::One => r.min += 1,
                Tok::Lit(_) => {
                    r.min += 1;
                    r.literal = true;
                }
            }
            out[i] = r;
        }
        out
    }

    fn literal_chars(&self, into: &mut BTreeSet<char>) {
        for t in &self.toks {
            if let Tok::Lit(c) = t {
                into.insert(*c);
            }
        }
    }
}

/// Whether a pattern, given as tokens, matches `s`. Patterns of up to [`SHORT_PATTERN`]
/// tokens (nearly all) are matched by backtracking, which is fastest for them; longer ones
/// by simulating the automaton, whose cost does not depend on how the pattern is built.
pub fn match_tokens(toks: &[Tok], s: &str) -> bool {
    if toks.len() <= SHORT_PATTERN {
        match_backtracking(toks, s)
    } else {
        match_bits(toks, s)
    }
}

/// Backtracking matches a pattern of `n` tokens in at most `n` × string length steps, and
/// for `n` up to this, that is cheaper than setting up [`match_bits`].
const SHORT_PATTERN: usize = 64;

/// Greedy matching that, on a mismatch, lets the last `*` seen swallow one more character
/// and retries from there. Going back to the *last* star is enough: any match that gives
/// an earlier star more characters can give them to the last one instead, since the
/// stars in between match anything. No allocation; worst case pattern length × string
/// length steps (`*aaa…ab` against `aaa…a`), which is why long patterns go to
/// [`match_bits`].
fn match_backtracking(p: &[Tok], s: &str) -> bool {
    let (mut pi, mut si) = (0, 0);
    // After the last star: the token after it, and where its match would end.
    let mut star: Option<(usize, usize)> = None;
    loop {
        let next = s[si..].chars().next();
        match (p.get(pi), next) {
            (Some(Tok::Star), _) => {
                star = Some((pi + 1, si));
                pi += 1;
                continue;
            }
            (Some(Tok::One), Some(c)) => {
                pi += 1;
                si += c.len_utf8();
                continue;
            }
            (Some(Tok::Lit(l)), Some(c)) if *l == c => {
                pi += 1;
                si += c.len_utf8();
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        match star {
            Some((after, end)) => match s[end..].chars().next() {
                Some(c) => {
                    star = Some((after, end + c.len_utf8()));
                    pi = after;
                    si = end + c.len_utf8();
                }
                None => return false,
            },
            None => return false,
        }
    }
}

/// The automaton's positions as bits, 64 to a word, all advanced at once for each
/// character (the shift-and technique): string length × pattern length / 64 word
/// operations, whatever the pattern. Runs of stars are one star (they match the same), so
/// a star's empty move is a single shift.
fn match_bits(toks: &[Tok], s: &str) -> bool {
    let mut p: Vec<Tok> = Vec::with_capacity(toks.len());
    for t in toks {
        if !(*t == Tok::Star && p.last() == Some(&Tok::Star)) {
            p.push(*t);
        }
    }
    let n = p.len();
    // Bit i: the first i tokens match what has been read. Position n accepts.
    let words = (n + 1).div_ceil(64);
    let set = |v: &mut [u64], i: usize| v[i / 64] |= 1 << (i % 64);
    let mut stars = vec![0u64; words];
    let mut ones = vec![0u64; words];
    let mut literals: HashMap<char, Vec<u64>> = HashMap::new();
    for (i, t) in p.iter().enumerate() {
        match t {
            Tok::Star => set(&mut stars, i),
            Tok::One => set(&mut ones, i),
            Tok::Lit(c) => set(literals.entry(*c).or_insert_with(|| vec![0; words]), i),
        }
    }
    // A star at i lets position i + 1 be reached without a character.
    let close = |d: &mut [u64]| {
        let mut carry = 0;
        for w in 0..words {
            let skip = d[w] & stars[w];
            d[w] |= (skip << 1) | carry;
            carry = skip >> 63;
        }
    };
    let mut d = vec![0u64; words];
    set(&mut d, 0);
    close(&mut d);
    let mut next = vec![0u64; words];
    for c in s.chars() {
        let lit = literals.get(&c);
        let mut carry = 0;
        for w in 0..words {
            let moves = d[w] & (ones[w] | lit.map_or(0, |l| l[w]));
            next[w] = (moves << 1) | carry | (d[w] & stars[w]);
            carry = moves >> 63;
        }
        close(&mut next);
        if next.iter().all(|w| *w == 0) {
            return false;
        }
        std::mem::swap(&mut d, &mut next);
    }
    d[n / 64] >> (n % 64) & 1 == 1
}

/// What the rest of a pattern, from one position, can match.
#[derive(Debug, Clone, Copy, Default)]
struct Remainder {
    star: bool,
    literal: bool,
    /// Characters it needs: exactly this many without a star, at least this many with one.
    min: usize,
}

impl Remainder {
    /// Whether the remainder matches some string of exactly `len` characters.
    fn allows(&self, len: usize) -> bool {
        if self.star {
            len >= self.min
        } else {
            len == self.min
        }
    }
}

/// A character no pattern names. The usual candidates read well in a key; the search
/// beyond them always ends, since the patterns name finitely many characters.
fn fresh_char(globs: &[&Glob]) -> char {
    const PREFERRED: [char; 9] = ['x', 'q', 'z', 'k', '0', '_', '~', 'é', '\u{2603}'];
    let mut taken = [false; PREFERRED.len()];
    for g in globs {
        for t in &g.toks {
            if let Tok::Lit(c) = t
                && let Some(k) = PREFERRED.iter().position(|p| p == c)
            {
                taken[k] = true;
            }
        }
    }
    if let Some(k) = taken.iter().position(|t| !t) {
        return PREFERRED[k];
    }
    let mut literals = BTreeSet::new();
    for g in globs {
        g.literal_chars(&mut literals);
    }
    (0..=0x10FFFFu32)
        .rev()
        .filter_map(char::from_u32)
        .find(|c| !literals.contains(c))
        .expect("finitely many literals")
}

/// The shortest suffix `s`, with at least `min_len` characters, such that none of `globs`
/// matches `prefix + s`; `None` when every such string is matched.
///
/// Exact, in time linear in the patterns' total length (see the module documentation):
/// the answer is a run of a fresh character, of the first length the literal-free
/// remainders of the patterns do not allow.
pub fn find_unmatched(globs: &[&Glob], prefix: &str, min_len: usize) -> Option<String> {
    // Lengths matched whatever the characters: exactly these, and all from `from` on.
    let mut exact: BTreeSet<usize> = BTreeSet::new();
    let mut from: Option<usize> = None;
    for g in globs {
        let positions = g.positions_after(prefix);
        if positions.is_empty() {
            continue;
        }
        let rem = g.remainders();
        for i in positions {
            let r = rem[i];
            if r.literal {
                continue;
            }
            if r.star {
                from = Some(from.map_or(r.min, |f| f.min(r.min)));
            } else {
                exact.insert(r.min);
            }
        }
    }
    let len = (min_len..)
        .find(|len| !exact.contains(len) || from.is_some_and(|f| *len >= f))
        .expect("exact is finite");
    if from.is_some_and(|f| len >= f) {
        return None;
    }
    Some(std::iter::repeat_n(fresh_char(globs), len).collect())
}

/// The shortest suffix `s`, with at least `min_len` characters, such that some of `globs`
/// matches `prefix + s` (the first in the order of the module documentation); `None` when
/// none matches any.
///
/// The automata's union is walked one character at a time, keeping only positions from
/// which the chosen length can still be reached, so each step is linear in the number of
/// positions and there are as many steps as characters in the answer.
pub fn find_matched(globs: &[&Glob], prefix: &str, min_len: usize) -> Option<String> {
    let fresh = fresh_char(globs);
    let rems: &Vec<Vec<Remainder>> = &globs.iter().map(|g| g.remainders()).collect();
    let starts: Vec<(usize, Vec<usize>)> = globs
        .iter()
        .enumerate()
        .map(|(gi, g)| (gi, g.positions_after(prefix)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    // The shortest length some remainder matches, at least `min_len`.
    let len = starts
        .iter()
        .flat_map(|(gi, ps)| ps.iter().map(move |&i| rems[*gi][i]))
        .filter_map(|r| {
            if r.star {
                Some(r.min.max(min_len))
            } else {
                (r.min >= min_len).then_some(r.min)
            }
        })
        .min()?;
    // (pattern, position) pairs from which a string of the remaining length is matched.
    let mut states: Vec<(usize, usize)> = starts
        .iter()
        .flat_map(|(gi, ps)| ps.iter().map(move |&i| (*gi, i)))
        .filter(|&(gi, i)| rems[gi][i].allows(len))
        .collect();
    let mut out = String::with_capacity(len);
    for remaining in (0..len).rev() {
        // Where a state goes on a character, before the closure.
        let viable = |gi: usize, to: usize| {
            // `to` and the positions the stars from it may skip to: the first viable one
            // (later ones need no more characters than it).
            let toks = globs[gi].tokens();
            let mut j = to;
            loop {
                if rems[gi][j].allows(remaining) {
                    return true;
                }
                if toks.get(j) == Some(&Tok::Star) {
                    j += 1;
                } else {
                    return false;
                }
            }
        };
        let toks = |gi: usize| globs[gi].tokens();
        let wild_ok = states.iter().any(|&(gi, i)| match toks(gi)[i] {
            Tok::Star => viable(gi, i),
            Tok::One => viable(gi, i + 1),
            Tok::Lit(_) => false,
        });
        let c = if wild_ok {
            fresh
        } else {
            states
                .iter()
                .filter_map(|&(gi, i)| match toks(gi)[i] {
                    Tok::Lit(l) if viable(gi, i + 1) => Some(l),
                    _ => None,
                })
                .min()
                .expect("some state leads to a match of the chosen length")
        };
        out.push(c);
        let mut next: Vec<(usize, usize)> = Vec::new();
        for &(gi, i) in &states {
            let to = match toks(gi)[i] {
                Tok::Star => i,
                Tok::One => i + 1,
                Tok::Lit(l) if l == c => i + 1,
                Tok::Lit(_) => continue,
            };
            let mut j = to;
            loop {
                if rems[gi][j].allows(remaining) {
                    next.push((gi, j));
                }
                if toks(gi).get(j) == Some(&Tok::Star) {
                    j += 1;
                } else {
                    break;
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        states = next;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        assert!(
            Glob::new("?").is_match("é"),
            "? is one character, not one byte"
        );
        assert!(!Glob::new("??").is_match("é"));
        assert!(Glob::new("*ab*ab?").is_match("xabyabab!"));
    }

    fn universal(patterns: &[&str], prefix: &str) -> Option<String> {
        let globs: Vec<Glob> = patterns.iter().map(|p| Glob::new(p)).collect();
        let refs: Vec<&Glob> = globs.iter().collect();
        find_unmatched(&refs, prefix, 1)
    }

    #[test]
    fn decides_coverage_of_every_object_key() {
        let p = "arn:aws:s3:::b/";
        assert_eq!(universal(&["arn:aws:s3:::b/*"], p), None);
        assert_eq!(universal(&["arn:aws:s3:::*"], p), None);
        assert_eq!(universal(&["*"], p), None);
        assert_eq!(universal(&["arn:aws:s3:::b/?*"], p), None);
        assert_eq!(
            universal(&["arn:aws:s3:::b/a*", "arn:aws:s3:::b/?*"], p),
            None
        );
        assert_eq!(
            universal(&["arn:aws:s3:::b/?", "arn:aws:s3:::b/??*"], p),
            None,
            "together, not alone"
        );
        assert_eq!(universal(&["arn:aws:s3:::b/?"], p), Some("xx".into()));
        assert_eq!(universal(&["arn:aws:s3:::b/??*"], p), Some("x".into()));
        let Some(key) = universal(&["arn:aws:s3:::b/logs/*"], p) else {
            panic!("logs/* does not cover every key");
        };
        assert!(!Glob::new("arn:aws:s3:::b/logs/*").is_match(&format!("{p}{key}")));
        assert!(universal(&["arn:aws:s3:::b"], p).is_some());
        assert!(universal(&["arn:aws:s3:::B/*"], p).is_some());
        // The fresh character avoids every literal of the patterns.
        assert_eq!(
            universal(&["arn:aws:s3:::b/x*", "arn:aws:s3:::b/q*"], p),
            Some("z".into())
        );
    }

    #[test]
    fn finds_keys_a_pattern_matches() {
        let g = Glob::new("arn:aws:s3:::b/private/*");
        assert_eq!(
            find_matched(&[&g], "arn:aws:s3:::b/", 1),
            Some("private/".into())
        );
        let g = Glob::new("arn:aws:s3:::other/*");
        assert_eq!(find_matched(&[&g], "arn:aws:s3:::b/", 1), None);
        // The shortest match, fresh characters first, then literals in code point order.
        let (a, b) = (
            Glob::new("arn:aws:s3:::b/zz*"),
            Glob::new("arn:aws:s3:::b/?y"),
        );
        assert_eq!(
            find_matched(&[&a, &b], "arn:aws:s3:::b/", 1),
            Some("xy".into())
        );
        let (a, b) = (Glob::new("arn:aws:s3:::b/c"), Glob::new("arn:aws:s3:::b/a"));
        assert_eq!(
            find_matched(&[&a, &b], "arn:aws:s3:::b/", 1),
            Some("a".into())
        );
    }

    /// Hundreds of wildcard patterns (the shape that made the old product search give up
    /// or run for minutes) are decided exactly.
    #[test]
    fn many_wildcard_patterns_are_decided_exactly() {
        let p = "arn:aws:s3:::b/";
        let mut patterns: Vec<String> = (0..600)
            .map(|i| {
                let l = |n: usize| (b'a' + (n % 8) as u8) as char;
                format!("{p}{}*{}*{}?{}*", l(i), l(i / 8), l(i / 64), l(i + 3))
            })
            .collect();
        let globs = |ps: &[String]| ps.iter().map(|s| Glob::new(s)).collect::<Vec<_>>();
        let g = globs(&patterns);
        let refs: Vec<&Glob> = g.iter().collect();
        let key = find_unmatched(&refs, p, 1).expect("every pattern starts with a literal");
        assert!(refs.iter().all(|g| !g.is_match(&format!("{p}{key}"))));
        let hit = find_matched(&refs, p, 1).expect("they match something");
        assert!(refs.iter().any(|g| g.is_match(&format!("{p}{hit}"))));
        patterns.push(format!("{p}?"));
        patterns.push(format!("{p}??*"));
        let g = globs(&patterns);
        let refs: Vec<&Glob> = g.iter().collect();
        assert_eq!(find_unmatched(&refs, p, 1), None);
    }

    /// The algorithm the analyser used before: a breadth-first search over the product of
    /// the patterns' state sets, exact but exponential in the number of patterns. Kept as
    /// the reference the linear algorithms must agree with on small inputs.
    mod reference {
        use std::collections::{BTreeSet, HashSet, VecDeque};

        use super::super::{Glob, Tok};

        fn closure(g: &Glob, states: &mut BTreeSet<usize>) {
            let mut todo: Vec<usize> = states.iter().copied().collect();
            while let Some(i) = todo.pop() {
                if g.toks.get(i) == Some(&Tok::Star) && states.insert(i + 1) {
                    todo.push(i + 1);
                }
            }
        }

        fn step(g: &Glob, states: &BTreeSet<usize>, c: char) -> BTreeSet<usize> {
            let mut next = BTreeSet::new();
            for &i in states {
                match g.toks.get(i) {
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
            closure(g, &mut next);
            next
        }

        fn start(g: &Glob) -> BTreeSet<usize> {
            let mut s = BTreeSet::from([0]);
            closure(g, &mut s);
            s
        }

        pub fn is_match(g: &Glob, s: &str) -> bool {
            let mut states = start(g);
            for c in s.chars() {
                states = step(g, &states, c);
            }
            states.contains(&g.toks.len())
        }

        /// `None`: gave up (too many states).
        pub fn find_suffix(
            globs: &[&Glob],
            prefix: &str,
            min_len: usize,
            want: impl Fn(&[bool]) -> bool,
        ) -> Option<Option<String>> {
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
            let first: Vec<BTreeSet<usize>> = globs
                .iter()
                .map(|g| {
                    let mut s = start(g);
                    for c in prefix.chars() {
                        s = step(g, &s, c);
                    }
                    s
                })
                .collect();
            type State = (Vec<BTreeSet<usize>>, usize);
            let mut seen: HashSet<State> = HashSet::new();
            let mut queue: VecDeque<(Vec<BTreeSet<usize>>, usize, String)> = VecDeque::new();
            seen.insert((first.clone(), 0));
            queue.push_back((first, 0, String::new()));
            while let Some((states, depth, path)) = queue.pop_front() {
                if depth >= min_len {
                    let matches: Vec<bool> = globs
                        .iter()
                        .zip(&states)
                        .map(|(g, s)| s.contains(&g.toks.len()))
                        .collect();
                    if want(&matches) {
                        return Some(Some(path));
                    }
                }
                for &c in &alphabet {
                    let next: Vec<BTreeSet<usize>> = globs
                        .iter()
                        .zip(&states)
                        .map(|(g, s)| step(g, s, c))
                        .collect();
                    let next_depth = (depth + 1).min(min_len);
                    if seen.insert((next.clone(), next_depth)) {
                        if seen.len() > 20_000 {
                            return None;
                        }
                        let mut p = path.clone();
                        p.push(c);
                        queue.push_back((next, next_depth, p));
                    }
                }
            }
            Some(None)
        }
    }

    fn arb_pattern() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec!['a', 'b', 'x', '/', 'é', '*', '*', '?']),
            0..7,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec!['a', 'b', 'x', '/', 'é', 'q']),
            0..9,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    /// Every string over `alphabet` of at most `max` characters, shortest first.
    fn all_strings(alphabet: &[char], max: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut layer = vec![String::new()];
        for _ in 0..max {
            layer = layer
                .iter()
                .flat_map(|s| {
                    alphabet.iter().map(move |c| {
                        let mut t = s.clone();
                        t.push(*c);
                        t
                    })
                })
                .collect();
            out.extend(layer.iter().cloned());
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn matching_agrees_with_the_automaton(p in arb_pattern(), s in arb_text()) {
            let g = Glob::new(&p);
            prop_assert_eq!(g.is_match(&s), reference::is_match(&g, &s), "{:?} on {:?}", p, s);
            prop_assert_eq!(match_bits(&g.toks, &s), reference::is_match(&g, &s), "bits: {:?} on {:?}", p, s);
        }

        /// Patterns longer than a word, which take the bit-parallel path.
        #[test]
        fn long_patterns_agree_with_the_automaton(
            parts in prop::collection::vec(arb_pattern(), 10..30),
            s in prop::collection::vec(prop::sample::select(vec!['a', 'b', 'x', '/', 'é']), 0..120),
        ) {
            let p: String = parts.concat();
            let s: String = s.into_iter().collect();
            let g = Glob::new(&p);
            prop_assert_eq!(g.is_match(&s), reference::is_match(&g, &s), "{:?} on {:?}", p, s);
            // And on a string it matches, so that the answer is not always no.
            let hit = g.example("ab");
            prop_assert!(g.is_match(&hit), "{:?} on its own example {:?}", p, hit);
        }

        #[test]
        fn linear_answers_agree_with_the_product_search(
            patterns in prop::collection::vec(arb_pattern(), 0..5),
            prefix in prop::sample::select(vec!["", "a", "ab/", "x", "é/"]),
            min_len in 0usize..3,
        ) {
            let globs: Vec<Glob> = patterns.iter().map(|p| Glob::new(p)).collect();
            let refs: Vec<&Glob> = globs.iter().collect();
            if let Some(expected) = reference::find_suffix(&refs, prefix, min_len, |m| !m.iter().any(|x| *x)) {
                prop_assert_eq!(find_unmatched(&refs, prefix, min_len), expected, "unmatched {:?} after {:?}", patterns, prefix);
            }
            if let Some(expected) = reference::find_suffix(&refs, prefix, min_len, |m| m.iter().any(|x| *x)) {
                prop_assert_eq!(find_matched(&refs, prefix, min_len), expected, "matched {:?} after {:?}", patterns, prefix);
            }
        }

        /// Independent of both algorithms: every string up to four characters over the
        /// patterns' characters and one other.
        #[test]
        fn answers_agree_with_enumeration(
            patterns in prop::collection::vec(arb_pattern(), 1..4),
            prefix in prop::sample::select(vec!["", "a", "x/"]),
            min_len in 0usize..2,
        ) {
            let globs: Vec<Glob> = patterns.iter().map(|p| Glob::new(p)).collect();
            let refs: Vec<&Glob> = globs.iter().collect();
            let matched = |s: &str| refs.iter().any(|g| g.is_match(&format!("{prefix}{s}")));
            let strings: Vec<String> = all_strings(&['a', 'b', 'x', '/', 'é', 'q'], 4)
                .into_iter()
                .filter(|s| s.chars().count() >= min_len)
                .collect();
            match find_unmatched(&refs, prefix, min_len) {
                Some(s) => {
                    prop_assert!(s.chars().count() >= min_len);
                    prop_assert!(!matched(&s), "{:?} is matched", s);
                    // Nothing shorter is unmatched.
                    let n = s.chars().count();
                    prop_assert!(strings.iter().filter(|t| t.chars().count() < n).all(|t| matched(t)));
                }
                None => prop_assert!(strings.iter().all(|t| matched(t))),
            }
            match find_matched(&refs, prefix, min_len) {
                Some(s) => {
                    prop_assert!(s.chars().count() >= min_len);
                    prop_assert!(matched(&s), "{:?} is not matched", s);
                    let n = s.chars().count();
                    prop_assert!(strings.iter().filter(|t| t.chars().count() < n).all(|t| !matched(t)));
                }
                // Patterns of at most six tokens match something of at most six characters
                // if anything: none of the short strings may match.
                None => prop_assert!(strings.iter().all(|t| !matched(t))),
            }
        }
    }
}
