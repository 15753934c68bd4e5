//! Paginated listings that end, and say when they were cut short.
//!
//! A listing is complete only when its last page says so. Everything else a server can
//! send — a page that names as its successor a page already read, a truncated page with no
//! successor, keys that go backwards or repeat, a run of empty pages, a body that does not
//! parse — makes the listing an error with the reason, never a shorter "complete" result.
//! (The SDK's paginators stop silently on a repeated token or a missing one, which is why
//! every listing here is driven by hand through [`Pages`].)
//!
//! What no client can detect is a server that silently leaves keys out while keeping its
//! order: a listing is trusted to be the server's listing, and the guarantee is that every
//! key it listed is counted exactly once or the listing is reported incomplete.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

/// Consecutive empty truncated pages accepted before a listing counts as stuck. S3 can
/// return an empty page that is still truncated (keys deleted mid-listing); a thousand in
/// a row is a server going nowhere.
pub const MAX_EMPTY_RUN: u32 = 1000;

/// Where the next page of a listing starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cursor {
    /// `ContinuationToken` (ListObjectsV2, ListBuckets) or `Marker` (KMS ListAliases).
    Token(String),
    /// `KeyMarker` and `VersionIdMarker` (ListObjectVersions).
    Markers {
        key: String,
        version: Option<String>,
    },
}

/// Tracks the pages of one listing: decides from each page whether there is a next one,
/// and refuses a listing that loops or stops without saying where to go on.
pub struct Pages {
    call: &'static str,
    pages: u64,
    empty_run: u32,
    /// Hashes of every cursor followed so far: a listing that comes back to one loops.
    /// Hashed with a per-process random key, so a server cannot aim for a collision;
    /// eight bytes a page keeps a billion-object listing under 10 MB.
    seen: HashSet<u64>,
    hasher: RandomState,
}

impl Pages {
    pub fn new(call: &'static str) -> Self {
        Pages {
            call,
            pages: 0,
            empty_run: 0,
            seen: HashSet::new(),
            hasher: RandomState::new(),
        }
    }

    /// Pages accepted so far.
    pub fn count(&self) -> u64 {
        self.pages
    }

    /// Judges a page of `entries` entries that says `truncated` and names `next`.
    /// `Ok(None)`: the listing is complete; `Ok(Some(cursor))`: fetch from `cursor`.
    pub fn next(
        &mut self,
        truncated: Option<bool>,
        next: Option<Cursor>,
        entries: usize,
    ) -> Result<Option<Cursor>, String> {
        self.pages += 1;
        let n = self.pages;
        let call = self.call;
        match truncated {
            Some(false) => return Ok(None),
            Some(true) => {}
            None => {
                return Err(format!(
                    "{call} page {n} does not say whether the listing is complete (no IsTruncated)"
                ));
            }
        }
        let next = next.filter(|c| match c {
            Cursor::Token(t) => !t.is_empty(),
            Cursor::Markers { key, .. } => !key.is_empty(),
        });
        let Some(next) = next else {
            return Err(format!(
                "{call} page {n} is truncated but names no next page: the listing was cut short"
            ));
        };
        if !self.seen.insert(self.hasher.hash_one(&next)) {
            return Err(format!(
                "{call} page {n} names as the next page one already read: the listing loops"
            ));
        }
        if entries == 0 {
            self.empty_run += 1;
            if self.empty_run >= MAX_EMPTY_RUN {
                return Err(format!(
                    "{call} returned {MAX_EMPTY_RUN} empty truncated pages in a row (page {n}): the listing is going nowhere"
                ));
            }
        } else {
            self.empty_run = 0;
        }
        Ok(Some(next))
    }
}

/// Checks that a current-object listing (ListObjectsV2) goes forward: S3 lists keys in
/// strictly increasing UTF-8 byte order, under the requested prefix. A key that repeats,
/// goes backwards or lies outside the prefix means the server is not listing what it says,
/// and counting on would count some objects twice or count objects never asked for.
pub struct KeyOrder {
    call: &'static str,
    prefix: Option<String>,
    last: Option<String>,
}

impl KeyOrder {
    pub fn new(call: &'static str, prefix: Option<&str>) -> Self {
        KeyOrder {
            call,
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_string),
            last: None,
        }
    }

    /// Checks every key of one page, in order, before any of it is counted.
    pub fn check_page<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), String> {
        for key in keys {
            self.check(key)?;
        }
        Ok(())
    }

    fn check(&mut self, key: &str) -> Result<(), String> {
        let call = self.call;
        if let Some(p) = &self.prefix
            && !key.starts_with(p.as_str())
        {
            return Err(format!(
                "{call} listed key {key:?} outside the requested prefix {p:?}"
            ));
        }
        if let Some(last) = &self.last
            && key <= last.as_str()
        {
            let how = if key == last { "twice" } else { "out of order" };
            return Err(format!(
                "{call} listed key {key:?} {how} (after {last:?}): the listing cannot be trusted"
            ));
        }
        self.last = Some(key.to_string());
        Ok(())
    }
}

/// Checks that a version listing (ListObjectVersions) goes forward: keys never decrease,
/// and within one key no version id comes twice. `Version` and `DeleteMarker` entries are
/// separate lists in the response, so each list gets its own `VersionOrder`.
pub struct VersionOrder {
    call: &'static str,
    prefix: Option<String>,
    last_key: Option<String>,
    /// Version ids already listed for `last_key`.
    versions: HashSet<String>,
}

impl VersionOrder {
    pub fn new(call: &'static str, prefix: Option<&str>) -> Self {
        VersionOrder {
            call,
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_string),
            last_key: None,
            versions: HashSet::new(),
        }
    }

    pub fn check_page<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<(), String> {
        for (key, version) in entries {
            self.check(key, version)?;
        }
        Ok(())
    }

    fn check(&mut self, key: &str, version: Option<&str>) -> Result<(), String> {
        let call = self.call;
        if let Some(p) = &self.prefix
            && !key.starts_with(p.as_str())
        {
            return Err(format!(
                "{call} listed key {key:?} outside the requested prefix {p:?}"
            ));
        }
        let version = version.unwrap_or("null");
        match self.last_key.as_deref() {
            Some(last) if key < last => {
                return Err(format!(
                    "{call} listed key {key:?} out of order (after {last:?}): the listing cannot be trusted"
                ));
            }
            Some(last) if key == last => {
                if !self.versions.insert(version.to_string()) {
                    return Err(format!(
                        "{call} listed version {version:?} of key {key:?} twice: the listing cannot be trusted"
                    ));
                }
            }
            _ => {
                self.last_key = Some(key.to_string());
                self.versions.clear();
                self.versions.insert(version.to_string());
            }
        }
        Ok(())
    }
}

/// The order checks of one listing stream: keys for a current-object listing, versions
/// and delete markers (each list its own order) for a version listing. Every page is
/// checked whole before any of it is counted.
pub struct PageOrder {
    versioned: bool,
    keys: KeyOrder,
    versions: VersionOrder,
    markers: VersionOrder,
}

impl PageOrder {
    pub fn new(call: &'static str, prefix: Option<&str>, versioned: bool) -> Self {
        PageOrder {
            versioned,
            keys: KeyOrder::new(call, prefix),
            versions: VersionOrder::new(call, prefix),
            markers: VersionOrder::new(call, prefix),
        }
    }

    pub fn check_page<E: Entry>(
        &mut self,
        entries: &[E],
        delete_markers: &[(String, Option<String>)],
    ) -> Result<(), String> {
        if self.versioned {
            self.versions
                .check_page(entries.iter().map(|e| (e.key(), e.version_id())))?;
            self.markers.check_page(
                delete_markers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_deref())),
            )
        } else {
            self.keys.check_page(entries.iter().map(Entry::key))
        }
    }
}

/// One page of an object listing, as the service described it.
pub struct ObjectPage<E> {
    /// Objects (or versions) to scan, in listed order.
    pub entries: Vec<E>,
    /// Delete markers (version listings): key and version id. Not scanned (they hold no
    /// data), but checked for order like the versions.
    pub delete_markers: Vec<(String, Option<String>)>,
    pub truncated: Option<bool>,
    pub next: Option<Cursor>,
}

/// An entry of an object listing.
pub trait Entry {
    fn key(&self) -> &str;
    fn version_id(&self) -> Option<&str>;
}

/// Where pages come from: the SDK in a scan, an in-memory liar in the property tests.
pub trait PageSource {
    type Entry: Entry + Send;
    /// The operation, for messages (`ListObjectsV2`).
    fn call(&self) -> &'static str;
    /// Whether this lists versions (entries may share a key) or current objects.
    fn versions(&self) -> bool;
    /// The page starting at `from` (`None`: the first page). Errors are one line.
    fn fetch(
        &mut self,
        from: Option<&Cursor>,
    ) -> impl std::future::Future<Output = Result<ObjectPage<Self::Entry>, String>> + Send;
}

/// Lists every entry of `source` into `tx`, at most `limit` of them. `Ok(true)` when the
/// limit cut the listing short (`--sample`), `Ok(false)` when the listing completed (or
/// the receiver went away); `Err` when it cannot be trusted to be complete. Each page is
/// checked before any of its entries is sent, so a page that repeats earlier keys is
/// never counted.
pub async fn drive<S: PageSource, F: super::partition::Feed<S::Entry>>(
    source: &mut S,
    prefix: Option<&str>,
    limit: u64,
    tx: &mut F,
) -> Result<bool, String> {
    let call = source.call();
    let mut pages = Pages::new(call);
    let mut order = PageOrder::new(call, prefix, source.versions());
    let mut cursor: Option<Cursor> = None;
    let mut listed: u64 = 0;
    loop {
        let page = source.fetch(cursor.as_ref()).await.map_err(|e| {
            format!(
                "{call} stopped after {} page{}: {e}",
                pages.count(),
                if pages.count() == 1 { "" } else { "s" }
            )
        })?;
        order.check_page(&page.entries, &page.delete_markers)?;
        let count = page.entries.len() + page.delete_markers.len();
        for entry in page.entries {
            if listed >= limit {
                return Ok(true);
            }
            listed += 1;
            if !tx.send(entry).await {
                return Ok(false);
            }
        }
        match pages.next(page.truncated, page.next, count)? {
            None => return Ok(false),
            Some(next) => cursor = Some(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> Option<Cursor> {
        Some(Cursor::Token(s.to_string()))
    }

    #[test]
    fn a_listing_ends_only_when_a_page_says_so() {
        let mut p = Pages::new("ListObjectsV2");
        assert_eq!(p.next(Some(true), token("a"), 10).unwrap(), token("a"));
        assert_eq!(p.next(Some(false), None, 10).unwrap(), None);
        // A last page may still carry a token; it is ignored.
        let mut p = Pages::new("ListObjectsV2");
        assert_eq!(p.next(Some(false), token("x"), 1).unwrap(), None);
    }

    #[test]
    fn a_truncated_page_without_a_next_page_is_an_error() {
        for next in [None, token("")] {
            let mut p = Pages::new("ListObjectsV2");
            let e = p.next(Some(true), next, 5).unwrap_err();
            assert!(e.contains("names no next page"), "{e}");
        }
        let mut p = Pages::new("ListObjectVersions");
        let e = p
            .next(
                Some(true),
                Some(Cursor::Markers {
                    key: String::new(),
                    version: Some("v".into()),
                }),
                5,
            )
            .unwrap_err();
        assert!(e.contains("names no next page"), "{e}");
    }

    #[test]
    fn a_page_that_does_not_say_whether_it_is_the_last_is_an_error() {
        let mut p = Pages::new("ListObjectsV2");
        let e = p.next(None, None, 3).unwrap_err();
        assert!(e.contains("no IsTruncated"), "{e}");
    }

    #[test]
    fn a_repeated_cursor_is_a_loop_even_when_not_consecutive() {
        let mut p = Pages::new("ListObjectsV2");
        p.next(Some(true), token("a"), 1).unwrap();
        p.next(Some(true), token("b"), 1).unwrap();
        let e = p.next(Some(true), token("a"), 1).unwrap_err();
        assert!(e.contains("loops") && e.contains("page 3"), "{e}");
        let mut p = Pages::new("ListObjectVersions");
        let m = |k: &str, v: &str| {
            Some(Cursor::Markers {
                key: k.into(),
                version: Some(v.into()),
            })
        };
        p.next(Some(true), m("k", "1"), 1).unwrap();
        p.next(Some(true), m("k", "2"), 1).unwrap();
        assert!(p.next(Some(true), m("k", "1"), 1).is_err());
    }

    #[test]
    fn a_long_run_of_empty_pages_is_stuck_but_a_short_one_is_not() {
        let mut p = Pages::new("ListObjectsV2");
        for i in 0..MAX_EMPTY_RUN - 1 {
            p.next(Some(true), token(&format!("t{i}")), 0).unwrap();
        }
        p.next(Some(true), token("full"), 3).unwrap();
        for i in 0..MAX_EMPTY_RUN - 1 {
            p.next(Some(true), token(&format!("u{i}")), 0).unwrap();
        }
        let e = p.next(Some(true), token("last"), 0).unwrap_err();
        assert!(e.contains("empty truncated pages"), "{e}");
    }

    #[test]
    fn keys_must_go_strictly_forward_under_the_prefix() {
        let mut o = KeyOrder::new("ListObjectsV2", Some("p/"));
        o.check_page(["p/a", "p/b"]).unwrap();
        o.check_page(["p/c"]).unwrap();
        assert!(o.check_page(["p/c"]).unwrap_err().contains("twice"));
        let mut o = KeyOrder::new("ListObjectsV2", Some("p/"));
        o.check_page(["p/b"]).unwrap();
        assert!(o.check_page(["p/a"]).unwrap_err().contains("out of order"));
        let mut o = KeyOrder::new("ListObjectsV2", Some("p/"));
        assert!(o.check_page(["q/a"]).unwrap_err().contains("outside"));
        // Byte order, not character order: "Z" < "a" < "é".
        let mut o = KeyOrder::new("ListObjectsV2", None);
        o.check_page(["Z", "a", "é"]).unwrap();
    }

    #[test]
    fn versions_may_share_a_key_but_not_a_version_id() {
        let mut o = VersionOrder::new("ListObjectVersions", None);
        o.check_page([("a", Some("3")), ("a", Some("2"))]).unwrap();
        o.check_page([("a", Some("1")), ("b", Some("3"))]).unwrap();
        assert!(
            o.check_page([("b", Some("3"))])
                .unwrap_err()
                .contains("twice")
        );
        let mut o = VersionOrder::new("ListObjectVersions", None);
        o.check_page([("b", Some("1"))]).unwrap();
        assert!(
            o.check_page([("a", Some("1"))])
                .unwrap_err()
                .contains("out of order")
        );
        // The same version id under another key is another object.
        let mut o = VersionOrder::new("ListObjectVersions", None);
        o.check_page([("a", None), ("b", None)]).unwrap();
    }
}

/// The listing driver against a server that lies at random: whatever it does, the
/// listing either yields every key exactly once and says it is complete, or says it is
/// not. Never both wrong and complete.
#[cfg(test)]
mod proptests {
    use std::collections::BTreeSet;

    use futures::StreamExt;
    use proptest::prelude::*;

    use super::*;

    struct Key(String);

    impl Entry for Key {
        fn key(&self) -> &str {
            &self.0
        }
        fn version_id(&self) -> Option<&str> {
            None
        }
    }

    /// How one page misbehaves.
    #[derive(Debug, Clone)]
    enum Fault {
        None,
        /// Names the token it was asked with as the next page.
        RepeatToken,
        /// Truncated, but no next token.
        DropToken,
        /// Says nothing about truncation.
        NoTruncatedFlag,
        /// Fails (a body cut short, a 500 after retries).
        Error,
        /// Starts over from the beginning under a fresh token.
        Restart,
        /// Lists the page's keys twice.
        Duplicate,
        /// Lists the page's keys in reverse.
        Reverse,
        /// Claims to be the last page while keys remain.
        EndEarly,
        /// An empty page, truncated, going on to where it was.
        Empty,
    }

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            6 => Just(Fault::None),
            1 => Just(Fault::RepeatToken),
            1 => Just(Fault::DropToken),
            1 => Just(Fault::NoTruncatedFlag),
            1 => Just(Fault::Error),
            1 => Just(Fault::Restart),
            1 => Just(Fault::Duplicate),
            1 => Just(Fault::Reverse),
            1 => Just(Fault::EndEarly),
            1 => Just(Fault::Empty),
        ]
    }

    /// Pages over sorted `keys`; the token is the index of the next key, spelt with the
    /// page number so that a restart gets a fresh token.
    struct Liar {
        keys: Vec<String>,
        page_size: usize,
        faults: Vec<Fault>,
        served: usize,
    }

    impl PageSource for Liar {
        type Entry = Key;

        fn call(&self) -> &'static str {
            "ListObjectsV2"
        }

        fn versions(&self) -> bool {
            false
        }

        async fn fetch(&mut self, from: Option<&Cursor>) -> Result<ObjectPage<Key>, String> {
            let start: usize = match from {
                None => 0,
                Some(Cursor::Token(t)) => t.split(':').nth(1).unwrap().parse().unwrap(),
                Some(other) => panic!("unexpected cursor {other:?}"),
            };
            let n = self.served;
            self.served += 1;
            let fault = self.faults.get(n).cloned().unwrap_or(Fault::None);
            let token = |at: usize| Some(Cursor::Token(format!("{n}:{at}")));
            let end = (start + self.page_size).min(self.keys.len());
            let mut page: Vec<String> = self.keys[start..end].to_vec();
            let more = end < self.keys.len();
            let (mut truncated, mut next) = (Some(more), if more { token(end) } else { None });
            match fault {
                Fault::None => {}
                Fault::RepeatToken => {
                    if let Some(f) = from {
                        next = Some(f.clone());
                        truncated = Some(true);
                    }
                }
                Fault::DropToken => {
                    truncated = Some(true);
                    next = None;
                }
                Fault::NoTruncatedFlag => truncated = None,
                Fault::Error => return Err("body cut short".to_string()),
                Fault::Restart => {
                    truncated = Some(true);
                    next = token(0);
                }
                Fault::Duplicate => page.extend(page.clone()),
                Fault::Reverse => page.reverse(),
                Fault::EndEarly => {
                    // Honest only when this really is the last page; otherwise a server
                    // silently leaving keys out, which no client can see. Modelled as the
                    // truth the listing then believes: the keys after this page vanish.
                    self.keys.truncate(end);
                    truncated = Some(false);
                    next = None;
                }
                Fault::Empty => {
                    page.clear();
                    truncated = Some(true);
                    next = token(start);
                }
            }
            Ok(ObjectPage {
                entries: page.into_iter().map(Key).collect(),
                delete_markers: Vec::new(),
                truncated,
                next,
            })
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_key_once_or_incomplete(
            keys in proptest::collection::btree_set("[a-c]{1,4}", 0..60),
            page_size in 1usize..8,
            faults in proptest::collection::vec(fault(), 0..20),
        ) {
            let keys: Vec<String> = keys.into_iter().collect();
            let mut liar = Liar { keys, page_size, faults, served: 0 };
            let (mut tx, rx) = futures::channel::mpsc::channel(4);
            let (result, listed) = futures::executor::block_on(async {
                let drive = async {
                    let r = drive(&mut liar, None, u64::MAX, &mut tx).await;
                    drop(tx);
                    r
                };
                futures::join!(drive, rx.map(|k: Key| k.0).collect::<Vec<_>>())
            });
            // What the server holds once it is done lying (EndEarly drops keys for good).
            let truth: Vec<String> = liar.keys.clone();
            match result {
                Ok(false) => {
                    let unique: BTreeSet<&String> = listed.iter().collect();
                    prop_assert_eq!(unique.len(), listed.len(), "a key counted twice: {:?}", listed);
                    prop_assert_eq!(&listed, &truth, "complete but not every key once");
                }
                Ok(true) => prop_assert!(false, "no limit was set"),
                Err(_) => {
                    // Incomplete, and said so. Even then no key was counted twice.
                    let unique: BTreeSet<&String> = listed.iter().collect();
                    prop_assert_eq!(unique.len(), listed.len(), "a key counted twice: {:?}", listed);
                }
            }
        }
    }
}
