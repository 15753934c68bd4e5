//! Which part a free lister takes next.
//!
//! S3 limits each prefix's reads (about 5,500 HEAD/s per prefix), so a scan is as fast as
//! its HEADs are spread over prefixes, and it ends with the prefix it reaches last. Taken
//! in key order, a bucket whose biggest prefix sorts late ends on that prefix alone, at one
//! prefix's rate: fakes3's bench bucket holds 17.5 % of its objects in the 99th of its 100
//! prefixes, which was read at 5,000/s for the last 20 s of a 70 s scan.
//!
//! Sizes are not known before listing, so listers share prefixes in turn, as a processor
//! is shared: parts are grouped by prefix (up to its first `/`, as the pacer's windows
//! are), a part hands the rest of its range back after each page while other prefixes
//! wait (`partition::run`), and a free lister takes a part of the group that has, in
//! this order:
//!
//! 1. the fewest listers at work on it, so listers spread over prefixes;
//! 2. the fewest parts taken so far ("least attained service"), so every prefix is begun
//!    before any is given a second page, and each then gets the same turns: the big
//!    prefixes are read alongside the small ones instead of after them;
//! 3. the oldest part.
//!
//! Ranks live in a `BTreeSet`, so taking and returning a part costs `O(log groups)`
//! whatever the bucket's width.

use std::collections::{BTreeSet, HashMap, VecDeque};

/// The group (rate prefix) of a part listing keys under `prefix`.
pub(super) fn group_of(prefix: &str) -> &str {
    prefix.find('/').map_or(prefix, |i| &prefix[..=i])
}

struct Group<T> {
    parts: VecDeque<(u64, T)>,
    active: usize,
    taken: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    active: usize,
    taken: u64,
    oldest: u64,
    group: String,
}

/// Parts waiting for a lister, grouped by prefix (see the module's doc).
pub(super) struct PartQueue<T> {
    groups: HashMap<String, Group<T>>,
    ranks: BTreeSet<Rank>,
    next_seq: u64,
    len: usize,
    /// Parts taken and not yet done, over all groups.
    active: usize,
}

impl<T> PartQueue<T> {
    pub fn new() -> Self {
        PartQueue {
            groups: HashMap::new(),
            ranks: BTreeSet::new(),
            next_seq: 0,
            len: 0,
            active: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Parts taken with [`Self::pop`] and not yet [`Self::done`].
    pub fn active(&self) -> usize {
        self.active
    }

    /// Parts of other groups than `prefix`'s are queued.
    pub fn others_waiting(&self, prefix: &str) -> bool {
        let own = self
            .groups
            .get(group_of(prefix))
            .map_or(0, |g| g.parts.len());
        self.len > own
    }

    fn rank(&self, name: &str) -> Option<Rank> {
        let g = self.groups.get(name)?;
        let &(oldest, _) = g.parts.front()?;
        Some(Rank {
            active: g.active,
            taken: g.taken,
            oldest,
            group: name.to_string(),
        })
    }

    /// Changes group `name` through `f`, keeping its rank (and its entry: a group with
    /// nothing queued and nothing listing is forgotten) in step.
    fn update<R>(&mut self, name: &str, f: impl FnOnce(&mut Group<T>) -> R) -> R {
        if let Some(old) = self.rank(name) {
            self.ranks.remove(&old);
        }
        let g = self
            .groups
            .entry(name.to_string())
            .or_insert_with(|| Group {
                parts: VecDeque::new(),
                active: 0,
                taken: 0,
            });
        let out = f(g);
        if g.parts.is_empty() && g.active == 0 {
            self.groups.remove(name);
        } else if let Some(new) = self.rank(name) {
            self.ranks.insert(new);
        }
        out
    }

    /// Queues `part`, which lists keys under `prefix`.
    pub fn push(&mut self, prefix: &str, part: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        self.update(group_of(prefix), |g| g.parts.push_back((seq, part)));
    }

    /// The next part to list, with its group, counted as listing until [`Self::done`]
    /// with that group.
    pub fn pop(&mut self) -> Option<(String, T)> {
        let name = self.ranks.first()?.group.clone();
        let part = self.update(&name, |g| {
            g.active += 1;
            g.taken += 1;
            g.parts.pop_front().map(|(_, p)| p)
        })?;
        self.len -= 1;
        self.active += 1;
        Some((name, part))
    }

    /// A part taken with [`Self::pop`] from `group` has ended.
    pub fn done(&mut self, group: &str) {
        if self.groups.get(group).is_some_and(|g| g.active > 0) {
            self.active -= 1;
            self.update(group, |g| g.active -= 1);
        }
    }

    /// Drops every queued part (listers still running are still counted).
    pub fn clear(&mut self) {
        self.ranks.clear();
        self.groups.retain(|_, g| {
            g.parts.clear();
            g.active > 0
        });
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop(q: &mut PartQueue<(String, u32)>) -> (String, u32) {
        q.pop().expect("a part is queued").1
    }

    fn push(q: &mut PartQueue<(String, u32)>, prefix: &str, n: u32) {
        q.push(prefix, (prefix.to_string(), n));
    }

    #[test]
    fn groups_are_first_level_prefixes() {
        assert_eq!(group_of("a/b/c/"), "a/");
        assert_eq!(group_of("a/"), "a/");
        assert_eq!(group_of("abc"), "abc");
        assert_eq!(group_of(""), "");
    }

    #[test]
    fn every_prefix_is_begun_before_any_gets_a_second_turn() {
        let mut q = PartQueue::new();
        for p in ["a/", "b/", "c/"] {
            push(&mut q, p, 0);
        }
        // "a/" is begun, hands back the rest of a big prefix, and its lister is free.
        assert_eq!(pop(&mut q).0, "a/");
        for n in 1..=10 {
            push(&mut q, "a/", n);
        }
        q.done("a/");
        // The prefixes not begun yet come first, though "a/" has more queued and older.
        assert_eq!(pop(&mut q).0, "b/");
        assert_eq!(pop(&mut q).0, "c/");
        assert_eq!(pop(&mut q), ("a/".to_string(), 1));
        assert_eq!(q.len(), 9);
    }

    #[test]
    fn listers_spread_over_prefixes_and_prefixes_take_turns() {
        let mut q = PartQueue::new();
        for p in ["x/", "y/"] {
            for n in 0..3 {
                push(&mut q, p, n);
            }
        }
        // Each lister done before the next takes a part: the prefixes alternate.
        let turns: Vec<(String, u32)> = (0..6)
            .map(|_| {
                let part = pop(&mut q);
                q.done(&part.0);
                part
            })
            .collect();
        let expected: Vec<(String, u32)> = [
            ("x/", 0),
            ("y/", 0),
            ("x/", 1),
            ("y/", 1),
            ("x/", 2),
            ("y/", 2),
        ]
        .iter()
        .map(|&(p, n)| (p.to_string(), n))
        .collect();
        assert_eq!(turns, expected);

        // Listers still at work: a prefix gets a second lister only when every prefix
        // with parts queued has one.
        for p in ["x/", "y/"] {
            for n in 0..3 {
                push(&mut q, p, n);
            }
        }
        let order: Vec<String> = (0..4).map(|_| pop(&mut q).0).collect();
        assert_eq!(order, ["x/", "y/", "x/", "y/"]);
    }

    #[test]
    fn others_wait_only_when_another_prefix_has_parts_queued() {
        let mut q = PartQueue::new();
        push(&mut q, "a/b/", 0);
        push(&mut q, "a/c/", 1);
        assert!(!q.others_waiting("a/"), "the same first-level prefix");
        assert!(q.others_waiting("z/"));
        push(&mut q, "b/", 0);
        assert!(q.others_waiting("a/x/"));
    }

    #[test]
    fn parts_of_a_group_come_in_order_and_the_queue_empties_and_forgets() {
        let mut q = PartQueue::new();
        for n in 0..5 {
            push(&mut q, "x/y/", n);
        }
        let order: Vec<u32> = (0..5)
            .map(|_| {
                let (group, (_, n)) = q.pop().expect("a part is queued");
                assert_eq!(group, "x/");
                q.done(&group);
                n
            })
            .collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
        assert!(q.pop().is_none());
        assert_eq!(q.len(), 0);
        assert!(q.groups.is_empty() && q.ranks.is_empty());
    }

    #[test]
    fn clear_drops_queued_parts_but_remembers_listers_running() {
        let mut q = PartQueue::new();
        push(&mut q, "a/", 0);
        push(&mut q, "a/", 1);
        push(&mut q, "b/", 0);
        let _ = pop(&mut q);
        q.clear();
        assert_eq!(q.len(), 0);
        assert!(q.pop().is_none());
        assert_eq!(q.active(), 1);
        q.done("a/");
        assert_eq!(q.active(), 0);
        assert!(q.groups.is_empty());
    }
}
