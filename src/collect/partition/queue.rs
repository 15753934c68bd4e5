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
//! 1. no more listers at work than its share, so listers spread over prefixes;
//! 2. been begun already, or not: every prefix is begun before any is given a second page,
//!    except a prefix the survey has counted more than a page in (it would otherwise wait
//!    for every small prefix's first page: 6 s of a 1M-object scan);
//! 3. the earliest end of its next turn in virtual time (stride scheduling): each turn
//!    moves a group's pass on by one stride, so each group gets the same turns and the big
//!    prefixes are read alongside the small ones instead of after them. Ranked by where a
//!    turn would end rather than begin, a group with 100 pages left, whose turns are a
//!    hundredth of a stride, takes its turns before a group with one page gets its first;
//! 4. the oldest part.
//!
//! As the survey (`collect::survey`) counts each prefix's keys (its partial counts are
//! lower bounds, given every 250 ms, then the whole ones), a group's stride is divided by
//! the pages it has left and its share of listers is its share of what is left of the
//! bucket: the big prefixes are then read faster than the small ones, so all
//! end together rather than the biggest alone at one prefix's rate (1M-object bench, over
//! a day of runs on a 2-core machine that varies by 20 %: a mean of 11,927 objects/s in
//! equal turns, 12,934 with the survey; the last stretch with one or two prefixes left
//! went from 25 s to 10-14 s).
//!
//! Ranks live in a `BTreeSet`, so taking and returning a part costs `O(log groups)`
//! whatever the bucket's width.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use crate::collect::survey::MAX_GROUPS;

/// The group (rate prefix) of a part listing keys under `prefix`.
pub(crate) fn group_of(prefix: &str) -> &str {
    prefix.find('/').map_or(prefix, |i| &prefix[..=i])
}

struct Group<T> {
    parts: VecDeque<(u64, T)>,
    active: usize,
    /// A part of the group has been taken.
    begun: bool,
    /// Virtual time of the group's next turn (stride scheduling, in [`STRIDE`] units).
    pass: u64,
    /// The group's entry in `ranks`, as inserted. A rank depends on what is left of the
    /// whole bucket, which moves with every page, so the entry is removed by this copy,
    /// never by a rank computed again (which could miss it and leave a stale entry).
    ranked: Option<Rank>,
}

/// One turn of a group with one page left (or of any group before sizes are known), in
/// virtual time.
const STRIDE: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    /// Listers at work on the group beyond its share less one: 0 while it has fewer
    /// than it deserves.
    over: usize,
    /// Has had a turn and is not known to hold more than one page. A prefix not begun
    /// yet is begun before such a prefix gets another turn; a prefix the survey has
    /// counted several pages in is not held back by that rule (see [`Self::rank`]).
    begun: bool,
    /// When the group's next turn would end in virtual time: its pass plus one stride.
    finish: u64,
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
    /// Listers in all.
    listers: usize,
    /// Virtual time: the pass of the last turn given; new groups start at it.
    vtime: u64,
    /// Keys listed so far per group.
    listed: HashMap<String, u64>,
    /// What the survey counted, once it has: turns then follow what each group has left.
    sizes: Option<Sizes>,
}

/// Each group's keys as counted by the survey so far, and what is left of them in all.
struct Sizes {
    keys: HashMap<String, u64>,
    left: u64,
    /// Every count is complete (until then each is a lower bound).
    whole: bool,
}

/// Keys in a listing page: what a turn lists.
const PAGE: u64 = 1000;

impl<T> PartQueue<T> {
    /// A queue for `listers` listers.
    pub fn new(listers: usize) -> Self {
        PartQueue {
            groups: HashMap::new(),
            ranks: BTreeSet::new(),
            next_seq: 0,
            len: 0,
            active: 0,
            listers: listers.max(1),
            vtime: 0,
            listed: HashMap::new(),
            sizes: None,
        }
    }

    /// From now on, a group's turns follow what it has left of `sizes` (keys per group,
    /// as the survey has counted them so far; `whole` once every count is complete).
    /// Called again as the survey's counts grow: a big prefix gets its share as soon as
    /// the survey has seen that much of it, not only once the last prefix is counted
    /// (the survey of the bench's 1M objects takes 15-20 s, while the two big prefixes
    /// were read at 200/s each in equal turns).
    ///
    /// A prefix in `counting` is still being counted: its count is what the survey has
    /// seen so far. Its listers list it faster than the survey's one stream counts it, so
    /// taken as its size, a big prefix whose listers had caught up with its count looked
    /// like a prefix with one page left (and waited for every small prefix's turn). Such
    /// a prefix is guessed to hold twice what has been seen of it, by the survey or by
    /// its listers, until its count is whole; so is a prefix still listed that the survey
    /// has not reached.
    pub fn set_sizes(
        &mut self,
        mut sizes: HashMap<String, u64>,
        counting: &HashSet<String>,
        whole: bool,
    ) {
        for (group, n) in &mut sizes {
            if counting.contains(group) {
                let listed = self.listed.get(group).copied().unwrap_or(0);
                *n = (*n).max(listed).saturating_mul(2);
            }
        }
        // A prefix still being listed that the survey has not reached yet (it counts a
        // few prefixes at a time, in key order) is guessed the same way from its listers'
        // count: the bench's second big prefix, 99th of 100, was otherwise held back with
        // the small ones until the survey reached it.
        if !whole {
            for group in self.groups.keys() {
                if let Some(&listed) = self.listed.get(group)
                    && !sizes.contains_key(group)
                {
                    sizes.insert(group.clone(), listed.saturating_mul(2));
                }
            }
        }
        let names: Vec<String> = self.groups.keys().cloned().collect();
        let before: Vec<u64> = names.iter().map(|n| self.pages_left(n)).collect();
        let left = sizes
            .iter()
            .map(|(g, &n)| n.saturating_sub(self.listed.get(g).copied().unwrap_or(0)))
            .sum();
        self.sizes = Some(Sizes {
            keys: sizes,
            left,
            whole,
        });
        self.ranks.clear();
        let vtime = i128::from(self.vtime);
        for (name, before) in names.iter().zip(before) {
            // A group's stride is one turn over its pages left, which just changed. What
            // it was ahead of (or behind) virtual time is kept in turns of its new
            // stride, as stride scheduling rescales a client whose tickets change: kept
            // as it was, a big prefix that happened to get the last equal turn before
            // the survey ended stood a whole turn ahead, and the other big prefixes, at
            // a hundredth of a turn per page, took every lister until they caught up
            // (the bench's biggest prefix was read at 0/s for 20 s after the survey).
            let after = i128::from(self.pages_left(name));
            if let Some(g) = self.groups.get_mut(name) {
                let lag = i128::from(g.pass) - vtime;
                g.pass = u64::try_from(vtime + lag * i128::from(before) / after).unwrap_or(0);
            }
            self.rerank(name);
        }
    }

    /// The survey's counts have been set whole: they will not change again.
    pub fn has_whole_sizes(&self) -> bool {
        self.sizes.as_ref().is_some_and(|s| s.whole)
    }

    /// `n` keys of `group` were listed.
    pub fn listed(&mut self, group: &str, n: u64) {
        let room = self.listed.len() < MAX_GROUPS;
        let before = match self.listed.get_mut(group) {
            Some(count) => {
                let before = *count;
                *count += n;
                before
            }
            None if room => {
                self.listed.insert(group.to_string(), n);
                0
            }
            // No survey counts this many prefixes (it gives up), so these counts would
            // never be used; keeping them would grow with the bucket's width.
            None => return,
        };
        if let Some(s) = &mut self.sizes
            && let Some(&size) = s.keys.get(group)
        {
            s.left -= size.saturating_sub(before) - size.saturating_sub(before + n);
        }
    }

    /// Pages `group` has left (at least 1): its weight once sizes are known.
    fn pages_left(&self, group: &str) -> u64 {
        let size = self
            .sizes
            .as_ref()
            .and_then(|s| s.keys.get(group))
            .copied()
            .unwrap_or(0);
        let listed = self.listed.get(group).copied().unwrap_or(0);
        size.saturating_sub(listed).div_ceil(PAGE).max(1)
    }

    /// Listers `group` deserves: its share of what is left, at least one.
    fn share(&self, group: &str) -> usize {
        let Some(sizes) = &self.sizes else { return 1 };
        let left_pages = sizes.left.div_ceil(PAGE).max(1);
        let share = (self.listers as u64 * self.pages_left(group)).div_ceil(left_pages);
        (share as usize).clamp(1, self.max_share())
    }

    /// The most listers one group gets while others wait: a quarter of them. A prefix's
    /// window (S3's 5,500/s, or fewer after 503s) caps what its listers can hand on, and
    /// a lister waiting at a full window lists nothing; a quarter of a scan's listers
    /// carry about what S3 serves one prefix, and the rest keep other prefixes going.
    fn max_share(&self) -> usize {
        self.listers.div_ceil(4)
    }

    /// `group` deserves more listers than it has parts to list: its rest should be cut.
    pub fn wants_more(&self, prefix: &str) -> bool {
        let group = group_of(prefix);
        self.sizes.is_some()
            && self
                .groups
                .get(group)
                .is_some_and(|g| g.parts.len() + g.active < self.share(group))
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
        let pages = self.pages_left(name);
        Some(Rank {
            over: (g.active + 1).saturating_sub(self.share(name)),
            begun: g.begun && pages == 1,
            finish: g.pass.saturating_add(STRIDE / pages),
            oldest,
            group: name.to_string(),
        })
    }

    /// Changes group `name` through `f`, keeping its rank (and its entry: a group with
    /// nothing queued and nothing listing is forgotten) in step.
    fn update<R>(&mut self, name: &str, f: impl FnOnce(&mut Group<T>) -> R) -> R {
        let vtime = self.vtime;
        let g = self
            .groups
            .entry(name.to_string())
            .or_insert_with(|| Group {
                parts: VecDeque::new(),
                active: 0,
                begun: false,
                pass: vtime,
                ranked: None,
            });
        if let Some(old) = g.ranked.take() {
            self.ranks.remove(&old);
        }
        let out = f(g);
        if g.parts.is_empty() && g.active == 0 {
            self.groups.remove(name);
        } else {
            self.rerank(name);
        }
        out
    }

    /// Ranks group `name` afresh (its entry must be out of `ranks`).
    fn rerank(&mut self, name: &str) {
        let rank = self.rank(name);
        if let Some(r) = &rank {
            self.ranks.insert(r.clone());
        }
        if let Some(g) = self.groups.get_mut(name) {
            g.ranked = rank;
        }
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
        let first = self.ranks.first()?;
        let name = first.group.clone();
        let pass = self.groups.get(&name).map_or(0, |g| g.pass);
        self.vtime = self.vtime.max(pass);
        // Before the survey every group has one page left: equal turns.
        let stride = STRIDE / self.pages_left(&name);
        let part = self.update(&name, |g| {
            g.pass += stride;
            g.active += 1;
            g.begun = true;
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
            g.ranked = None;
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

    /// One turn by a lister done before the next takes a part: the group it went to.
    fn turn(q: &mut PartQueue<(String, u32)>) -> String {
        let (g, _) = pop(q);
        q.done(&g);
        g
    }

    /// A queue for one lister with `big` parts of big/ and one part of each of `small`
    /// small prefixes, big/ queued first.
    fn big_and_small(big: u32, small: usize) -> PartQueue<(String, u32)> {
        let mut q = PartQueue::new(1);
        for n in 0..big {
            push(&mut q, "big/", n);
        }
        for i in 0..small {
            push(&mut q, &format!("s{i}/"), 0);
        }
        q
    }

    /// Survey counts from `(group, keys)` pairs.
    fn counts(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
        pairs.iter().map(|&(g, n)| (g.to_string(), n)).collect()
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
        let mut q = PartQueue::new(1);
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

    /// The bench's biggest prefixes got their first page with the others, then nothing
    /// until each of the 100 prefixes had had its first (6 s at the start of a 1M-object
    /// scan), though the survey had already counted them at dozens of pages each.
    #[test]
    fn a_prefix_counted_big_is_not_held_back_until_every_prefix_is_begun() {
        let mut q = big_and_small(6, 10);
        assert_eq!(turn(&mut q), "big/");
        // The survey has seen 50 pages of big/ so far and nothing of the others yet.
        q.set_sizes(counts(&[("big/", 50_000)]), &HashSet::new(), false);
        let order: Vec<String> = (0..5).map(|_| turn(&mut q)).collect();
        assert_eq!(order, ["big/"; 5], "big/ waited for the prefixes not begun");
        assert_eq!(turn(&mut q), "s0/");
    }

    /// The survey counts a prefix with one stream while up to a quarter of the listers
    /// list it: they soon list more of it than the survey has counted.
    #[test]
    fn a_prefix_still_counted_is_not_taken_for_one_page_once_its_listers_catch_up() {
        let mut q = big_and_small(6, 3);
        assert_eq!(turn(&mut q), "big/");
        q.listed("big/", 20_000);
        let counting = HashSet::from(["big/".to_string()]);
        q.set_sizes(counts(&[("big/", 10_000)]), &counting, false);
        // Guessed at twice the 20,000 keys listed: 20 pages left, not 1.
        assert_eq!(q.pages_left("big/"), 20);
        let order: Vec<String> = (0..5).map(|_| turn(&mut q)).collect();
        assert_eq!(order, ["big/"; 5]);
        // Once whole, the count is taken as it is.
        q.set_sizes(counts(&[("big/", 30_000)]), &HashSet::new(), false);
        assert_eq!(q.pages_left("big/"), 10);
    }

    /// The survey counts a few prefixes at a time in key order, so a big prefix that sorts
    /// late is listed for a while before the survey reaches it.
    #[test]
    fn a_prefix_the_survey_has_not_reached_is_guessed_from_what_its_listers_listed() {
        let mut q = big_and_small(6, 3);
        assert_eq!(turn(&mut q), "big/");
        q.listed("big/", 5_000);
        q.set_sizes(counts(&[("s0/", 1000)]), &HashSet::new(), false);
        assert_eq!(q.pages_left("big/"), 5, "twice the 5,000 keys listed");
        // Turns of a fifth of a stride: four more before s0/'s first ends.
        let order: Vec<String> = (0..5).map(|_| turn(&mut q)).collect();
        assert_eq!(order, ["big/", "big/", "big/", "big/", "s0/"]);
        // Whole counts leave nothing to guess: a prefix missing from them holds nothing
        // more than listed.
        let mut q = big_and_small(2, 0);
        q.listed("big/", 5_000);
        q.set_sizes(counts(&[]), &HashSet::new(), true);
        assert_eq!(q.pages_left("big/"), 1);
    }

    #[test]
    fn listers_spread_over_prefixes_and_prefixes_take_turns() {
        let mut q = PartQueue::new(1);
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
    fn once_sizes_are_known_prefixes_get_listers_and_turns_by_what_they_have_left() {
        let mut q = PartQueue::new(16);
        for n in 0..6 {
            push(&mut q, "big/", n);
            push(&mut q, "s1/", n);
            push(&mut q, "s2/", n);
        }
        // Before the survey: equal turns, one lister each while others wait.
        let before: Vec<String> = (0..3).map(|_| pop(&mut q).0).collect();
        assert_eq!(before, ["big/", "s1/", "s2/"]);
        assert!(!q.wants_more("big/"), "no sizes, no cuts");
        for g in ["big/", "s1/", "s2/"] {
            q.done(g);
        }

        q.listed("big/", 1000);
        q.set_sizes(
            counts(&[("big/", 101_000), ("s1/", 1000), ("s2/", 1000)]),
            &HashSet::new(),
            true,
        );
        // 100 of the 102 pages left are big/'s: it deserves all 16 listers, and gets a
        // quarter of them, the most one prefix gets while others wait.
        assert_eq!(q.share("big/"), 4);
        assert_eq!(q.share("s1/"), 1);
        // Each prefix has had one equal turn, which now costs big/ 1/100 of what it
        // costs the others: big/ takes its 4 listers first, then the others their turns.
        let six: Vec<String> = (0..6).map(|_| pop(&mut q).0).collect();
        assert_eq!(six, ["big/", "big/", "big/", "big/", "s1/", "s2/"]);
        assert_eq!(q.groups["big/"].active, 4);
        // Fewer parts than its share: its rest should be cut.
        let mut lone = PartQueue::new(16);
        push(&mut lone, "big/", 0);
        lone.set_sizes(counts(&[("big/", 50_000)]), &HashSet::new(), true);
        assert!(lone.wants_more("big/"));
        assert!(!lone.wants_more("other/"));

        // What is listed comes off what is left: big/ down to its last page.
        q.listed("big/", 99_000);
        assert_eq!(q.pages_left("big/"), 1);
        assert_eq!(q.share("s1/"), 4, "a third of what is left");
    }

    /// The survey ends at an arbitrary point of the equal turns: a big prefix that had
    /// just had its turn must not wait for the other big prefixes to use up, at their
    /// new small strides, the whole turn it stood ahead of them.
    #[test]
    fn sizes_rescale_how_far_each_prefix_stood_ahead_in_equal_turns() {
        let mut q = PartQueue::new(4);
        for n in 0..4 {
            for g in ["a/", "b/", "c/", "d/"] {
                push(&mut q, g, n);
            }
        }
        // Equal turns: a/ has had two, the others one.
        for g in ["a/", "b/", "c/", "d/", "a/"] {
            assert_eq!(pop(&mut q).0, g);
            q.done(g);
        }
        q.set_sizes(
            counts(&[
                ("a/", 200_000),
                ("b/", 200_000),
                ("c/", 2_000),
                ("d/", 2_000),
            ]),
            &HashSet::new(),
            true,
        );
        // a/ stands one of its own small turns ahead, not a whole equal turn: it comes
        // back after one turn of b/, not after b/ has had a hundred. The two big prefixes
        // then alternate: each of their turns ends long before a small prefix's would.
        let order: Vec<String> = (0..4)
            .map(|_| {
                let (g, _) = pop(&mut q);
                q.done(&g);
                g
            })
            .collect();
        assert_eq!(order, ["b/", "a/", "b/", "a/"]);
    }

    /// While the survey counts, its partial counts already weigh the turns: a prefix seen
    /// to hold many pages gets its listers before the last prefix is counted, and a
    /// count that grows again rescales its lead, as the first counts did.
    #[test]
    fn partial_counts_weigh_turns_until_the_whole_counts_arrive() {
        let mut q = PartQueue::new(4);
        for n in 0..8 {
            for g in ["big/", "s1/", "s2/"] {
                push(&mut q, g, n);
            }
        }
        for g in ["big/", "s1/", "s2/"] {
            assert_eq!(turn(&mut q), g);
        }
        // So far the survey has seen 50 pages of big/ and nothing of the others.
        q.set_sizes(counts(&[("big/", 50_000)]), &HashSet::new(), false);
        assert!(!q.has_whole_sizes());
        let order: Vec<String> = (0..4).map(|_| turn(&mut q)).collect();
        assert_eq!(order, ["big/", "big/", "big/", "big/"]);
        // The whole counts: big/ has 200 pages, the others one each. Its lead, a few of
        // its 1/50 turns, is now a few 1/200 turns: still first.
        q.set_sizes(
            counts(&[("big/", 200_000), ("s1/", 1000), ("s2/", 1000)]),
            &HashSet::new(),
            true,
        );
        assert!(q.has_whole_sizes());
        assert_eq!(turn(&mut q), "big/");
    }

    /// A rank depends on what is left of the whole bucket, which moves with every page:
    /// ranks taken out by a rank computed again missed their entry, and the stale entry
    /// later made `pop` find nothing while parts were queued (a listing that ended early,
    /// "complete", 0 of 600 objects, seen with the survey on).
    #[test]
    fn every_part_comes_out_while_what_is_left_moves_under_the_ranks() {
        let mut q = PartQueue::new(8);
        q.set_sizes(
            counts(&[("a/", 2000), ("b/", 100_000)]),
            &HashSet::new(),
            true,
        );
        for n in 0..3 {
            push(&mut q, "a/", n);
            push(&mut q, "b/", n);
        }
        // b/, fifty times a/'s size, has the earlier turn.
        let (group, _) = q.pop().expect("a part");
        assert_eq!(group, "b/");
        assert_eq!(q.share("a/"), 1);
        // b/ is listed: a/ is now most of what is left, and its share grows.
        q.listed("b/", 99_000);
        assert!(q.share("a/") > 1);
        q.done("b/");
        let mut taken = 1;
        while let Some((group, _)) = q.pop() {
            q.listed(&group, 500);
            q.done(&group);
            taken += 1;
        }
        assert_eq!(taken, 6, "every part was taken");
        assert_eq!(q.len(), 0);
        assert!(q.ranks.is_empty() && q.groups.is_empty());
    }

    #[test]
    fn what_is_listed_is_kept_for_no_more_prefixes_than_a_survey_counts() {
        let mut q: PartQueue<(String, u32)> = PartQueue::new(8);
        for i in 0..MAX_GROUPS + 100 {
            q.listed(&format!("p{i}/"), 1);
        }
        q.listed("p0/", 1);
        assert_eq!(q.listed.len(), MAX_GROUPS);
        assert_eq!(q.listed["p0/"], 2);
    }

    #[test]
    fn others_wait_only_when_another_prefix_has_parts_queued() {
        let mut q = PartQueue::new(1);
        push(&mut q, "a/b/", 0);
        push(&mut q, "a/c/", 1);
        assert!(!q.others_waiting("a/"), "the same first-level prefix");
        assert!(q.others_waiting("z/"));
        push(&mut q, "b/", 0);
        assert!(q.others_waiting("a/x/"));
    }

    #[test]
    fn parts_of_a_group_come_in_order_and_the_queue_empties_and_forgets() {
        let mut q = PartQueue::new(1);
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
        let mut q = PartQueue::new(1);
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
