//! Parallel listing: a bucket's key space split into parts listed concurrently.
//!
//! One listing stream reads about 1,000 keys per round trip (tens of ms on S3), far below
//! what the HEAD path can read, so a bucket is cut into parts that are listed at once and
//! feed the same bounded channel (backpressure: a part waits when the HEADs fall behind).
//!
//! A part is every key that starts with `prefix`, is after `after` (exclusive, S3's
//! `StartAfter` / `KeyMarker`) and is at most `until` (inclusive; checked here, since S3
//! has no end bound). Parts come from two cuts, each of which partitions exactly:
//!
//! * **By prefix** (`Delimiter=/`, to `max_depth` levels): a part lists its direct keys
//!   itself and hands each common prefix on as a part of its own. S3 rolls every key below
//!   a `/` into exactly one common prefix, and lists the rest as keys, so nothing is lost
//!   or seen twice. When a delimited page ends on a key and is truncated, the rest of the
//!   prefix is listed flat from that key on (every common prefix already handed on lies
//!   before it).
//! * **By range**: once a flat part's page is truncated and workers are idle, the rest
//!   `(last, until]` is cut at points `p1 < … < pn` strictly inside it into
//!   `(last, p1], (p1, p2], …, (pn, until]`; the part goes on with the first. Points are
//!   any strings (they need not be keys), so the [`Splitter`] may guess: the default
//!   [`Ladder`] reads the page just listed for the characters keys use and where they
//!   vary.
//!
//! Each part's pages are checked as in [`super::listing`] (loops, cut listings, order,
//! prefix) and also that no key is at or before its `after`: a server ignoring
//! `StartAfter` would otherwise be counted twice. A version's key decides its part, so
//! a key's versions are never split between parts. If any part fails, the listing is an
//! error with its reason (the bucket is reported incomplete); parts still queued are
//! dropped.

mod queue;

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::SinkExt;
use futures::channel::mpsc;
use tokio::sync::Notify;

use super::listing::{Cursor, Entry, PageOrder, Pages};
use super::survey::Sizes;
use queue::PartQueue;
pub(super) use queue::group_of;

/// One page of a part's listing.
pub struct Page<E> {
    pub entries: Vec<E>,
    /// Delete markers (version listings): key and version id; checked, not scanned.
    pub delete_markers: Vec<(String, Option<String>)>,
    /// `CommonPrefixes`, when asked with a delimiter.
    pub prefixes: Vec<String>,
    pub truncated: Option<bool>,
    pub next: Option<Cursor>,
}

/// What to ask for one page.
pub struct Query<'a> {
    pub prefix: &'a str,
    /// Ask with `Delimiter=/`.
    pub delimiter: bool,
    /// `StartAfter` (or `KeyMarker`), sent with the first page only.
    pub after: Option<&'a str>,
    /// Where the next page starts (`None`: the first page).
    pub cursor: Option<&'a Cursor>,
}

/// A listing API that can list part of a bucket.
pub trait Lister: Sync {
    type Entry: Entry + Send;
    fn call(&self) -> &'static str;
    fn versions(&self) -> bool;
    fn page(
        &self,
        q: Query<'_>,
    ) -> impl std::future::Future<Output = Result<Page<Self::Entry>, String>> + Send;
}

/// Where listed entries go. `false` when the receiver has gone away.
pub trait Feed<E>: Clone + Send {
    fn send(&mut self, entry: E) -> impl std::future::Future<Output = bool> + Send;
}

impl<E: Send> Feed<E> for mpsc::Sender<E> {
    async fn send(&mut self, entry: E) -> bool {
        SinkExt::send(self, entry).await.is_ok()
    }
}

/// Chooses where to cut the rest of a part, `(last, until]`. Points outside that range,
/// or not under `prefix`, are ignored, so a splitter can only cost balance, never
/// correctness.
pub trait Splitter: Sync {
    /// `sample`: the keys of the page just read, ascending.
    fn split(&self, prefix: &str, last: &str, until: Option<&str>, sample: &[&str]) -> Vec<String>;
}

/// How a bucket is split.
#[derive(Debug, Clone, Copy)]
pub struct PartitionSettings {
    /// Parts listed at once.
    pub parallelism: usize,
    /// Levels of `/` below the scan's prefix discovered with a delimiter.
    pub max_depth: u32,
}

/// Parts queued beyond which a delimited part lists its common prefixes itself instead
/// of queueing them: memory stays bounded whatever the bucket's width.
const MAX_QUEUED: usize = 4096;

#[derive(Debug, Clone)]
struct Part {
    prefix: String,
    after: Option<String>,
    until: Option<String>,
    depth: u32,
    /// List with `Delimiter=/` (only for parts without bounds).
    delimited: bool,
}

struct State {
    /// Parts queued, and which are being listed.
    pending: PartQueue<Part>,
    failed: Option<String>,
    /// The survey's counts last given to `pending`, and when.
    sizes_seen: u64,
    sizes_at: Option<Instant>,
}

/// How often the survey's growing counts are given to the queue (each time ranks every
/// prefix afresh).
const SIZES_EVERY: Duration = Duration::from_millis(250);

struct Shared<'a, S: ?Sized> {
    state: Mutex<State>,
    wake: Notify,
    settings: PartitionSettings,
    splitter: &'a S,
    /// The survey under way, whose counts the queue takes once they are whole.
    sizes: Option<&'a Sizes>,
}

impl<S: ?Sized> Shared<'_, S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queued(&self) -> usize {
        self.lock().pending.len()
    }

    /// Parts of other prefixes than `prefix`'s are queued.
    fn others_waiting(&self, prefix: &str) -> bool {
        self.lock().pending.others_waiting(prefix)
    }

    fn failed(&self) -> bool {
        self.lock().failed.is_some()
    }

    fn push(&self, parts: impl IntoIterator<Item = Part>) {
        let mut s = self.lock();
        for part in parts {
            let prefix = part.prefix.clone();
            s.pending.push(&prefix, part);
        }
        drop(s);
        self.wake.notify_waiters();
    }
}

/// Lists everything under `prefix` into `feed`, `parallelism` parts at a time. `Ok` when
/// every part completed (or the receiver went away), `Err` with the first failure.
/// `sizes`: a survey of the prefixes' sizes under way, which orders the parts once whole.
pub async fn list<L: Lister, F: Feed<L::Entry>, S: Splitter + ?Sized>(
    lister: &L,
    prefix: &str,
    settings: PartitionSettings,
    splitter: &S,
    feed: F,
    sizes: Option<&Sizes>,
) -> Result<(), String> {
    let mut pending = PartQueue::new(settings.parallelism);
    pending.push(
        prefix,
        Part {
            prefix: prefix.to_string(),
            after: None,
            until: None,
            depth: 0,
            delimited: settings.max_depth > 0,
        },
    );
    let shared = Shared {
        state: Mutex::new(State {
            pending,
            failed: None,
            sizes_seen: 0,
            sizes_at: None,
        }),
        wake: Notify::new(),
        settings,
        splitter,
        sizes,
    };
    let workers = (0..settings.parallelism.max(1)).map(|_| worker(lister, &shared, feed.clone()));
    futures::future::join_all(workers).await;
    drop(feed);
    match shared.lock().failed.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn worker<L: Lister, F: Feed<L::Entry>, S: Splitter + ?Sized>(
    lister: &L,
    shared: &Shared<'_, S>,
    mut feed: F,
) {
    loop {
        let wake = shared.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let part = {
            let mut s = shared.lock();
            if s.failed.is_some() {
                return;
            }
            if !s.pending.has_whole_sizes()
                && let Some(sizes) = shared.sizes
                && s.sizes_at
                    .is_none_or(|at| at.elapsed() >= SIZES_EVERY || sizes.is_done())
                && let Some(counts) = sizes.since(s.sizes_seen)
            {
                s.sizes_seen = counts.version;
                s.sizes_at = Some(Instant::now());
                s.pending
                    .set_sizes(counts.keys, &counts.counting, counts.whole);
            }
            match s.pending.pop() {
                Some(taken) => Some(taken),
                // Never expected; were it to happen, the listing must not end as if
                // every part had been listed.
                None if s.pending.len() > 0 => {
                    s.failed.get_or_insert_with(|| {
                        "the listing lost track of parts still queued".to_string()
                    });
                    drop(s);
                    shared.wake.notify_waiters();
                    return;
                }
                None if s.pending.active() == 0 => {
                    drop(s);
                    shared.wake.notify_waiters();
                    return;
                }
                None => None,
            }
        };
        let Some((group, part)) = part else {
            wake.await;
            continue;
        };
        let result = run(lister, shared, &mut feed, part).await;
        let mut s = shared.lock();
        s.pending.done(&group);
        match result {
            Ok(true) => {}
            // The receiver went away: nothing more is wanted.
            Ok(false) => s.pending.clear(),
            Err(e) => {
                s.failed.get_or_insert(e);
            }
        }
        drop(s);
        shared.wake.notify_waiters();
    }
}

/// Lists one part. `Ok(false)` when the receiver went away.
async fn run<L: Lister, F: Feed<L::Entry>, S: Splitter + ?Sized>(
    lister: &L,
    shared: &Shared<'_, S>,
    feed: &mut F,
    part: Part,
) -> Result<bool, String> {
    let call = lister.call();
    let where_ = |p: &Part| {
        let mut w = format!("{call} of prefix {:?}", p.prefix);
        if let Some(a) = &p.after {
            w.push_str(&format!(" after {a:?}"));
        }
        w
    };
    let prefix = part.prefix.as_str();
    let mut after = part.after.clone();
    let mut until = part.until.clone();
    let mut delimited = part.delimited;
    let mut pages = Pages::new(call);
    let mut order = PageOrder::new(call, Some(prefix), lister.versions());
    let mut last_prefix: Option<String> = None;
    let mut cursor: Option<Cursor> = None;
    loop {
        if shared.failed() {
            return Ok(true);
        }
        let page = lister
            .page(Query {
                prefix,
                delimiter: delimited,
                after: if cursor.is_none() {
                    after.as_deref()
                } else {
                    None
                },
                cursor: cursor.as_ref(),
            })
            .await;
        // Some S3-compatible servers refuse a delimited listing (moto's signature check
        // fails on it): before anything was listed, the part is listed flat instead, and
        // cut by ranges only.
        if delimited
            && pages.count() == 0
            && cursor.is_none()
            && let Err(e) = &page
        {
            tracing::debug!(prefix, "delimited listing refused ({e}); listing flat");
            delimited = false;
            continue;
        }
        let page = page.map_err(|e| {
            format!(
                "{} stopped after {} page(s): {e}",
                where_(&part),
                pages.count()
            )
        })?;
        // Check the page before counting any of it.
        order.check_page(&page.entries, &page.delete_markers)?;
        let page_keys = page
            .entries
            .iter()
            .map(Entry::key)
            .chain(page.delete_markers.iter().map(|(k, _)| k.as_str()));
        for k in page_keys {
            if let Some(a) = &part.after
                && k <= a.as_str()
            {
                return Err(format!(
                    "{} listed key {k:?}, not after its start {a:?}: the listing cannot be trusted",
                    where_(&part)
                ));
            }
            if delimited && k[prefix.len()..].contains('/') {
                return Err(format!(
                    "{} listed key {k:?} that should have been rolled up into a common prefix",
                    where_(&part)
                ));
            }
        }
        for cp in &page.prefixes {
            let ok = delimited
                && cp.strip_prefix(prefix).is_some_and(|rest| {
                    rest.ends_with('/') && !rest[..rest.len() - 1].contains('/')
                })
                && last_prefix.as_deref().is_none_or(|l| cp.as_str() > l);
            if !ok {
                return Err(format!(
                    "{} returned common prefix {cp:?} out of order or not one level under the prefix",
                    where_(&part)
                ));
            }
            last_prefix = Some(cp.clone());
        }
        let count = page.entries.len() + page.delete_markers.len() + page.prefixes.len();
        // The part ends at `until`: later keys belong to the next part.
        let beyond = |k: &str| until.as_deref().is_some_and(|u| k > u);
        let cut = page.entries.iter().any(|e| beyond(e.key()))
            || page.delete_markers.iter().any(|(k, _)| beyond(k));
        let last_key = page
            .entries
            .iter()
            .map(Entry::key)
            .chain(page.delete_markers.iter().map(|(k, _)| k.as_str()))
            .filter(|k| !beyond(k))
            .max()
            .map(str::to_string);
        let sample: Vec<String> = if page.truncated == Some(true) && !cut {
            page.entries.iter().map(|e| e.key().to_string()).collect()
        } else {
            Vec::new()
        };
        let mut sent = 0;
        for entry in page.entries {
            if beyond(entry.key()) {
                break;
            }
            if !feed.send(entry).await {
                return Ok(false);
            }
            sent += 1;
        }
        shared.lock().pending.listed(queue::group_of(prefix), sent);
        for cp in page.prefixes {
            let child = Part {
                prefix: cp,
                after: None,
                until: None,
                depth: part.depth + 1,
                delimited: part.depth + 1 < shared.settings.max_depth,
            };
            if shared.queued() < MAX_QUEUED {
                shared.push([child]);
            } else if !Box::pin(run(lister, shared, feed, child)).await? {
                return Ok(false);
            }
        }
        if cut {
            return Ok(true);
        }
        let Some(next) = pages.next(page.truncated, page.next, count)? else {
            return Ok(true);
        };
        cursor = Some(next);
        let Some(last) = last_key else { continue };
        // A delimited page that ends on a key: the rest of the prefix is every key after
        // it (common prefixes handed on all lie before it), listed flat from there.
        if delimited {
            if last_prefix.as_deref().is_some_and(|l| l > last.as_str()) {
                continue;
            }
            delimited = false;
            // Version markers are plain keys and ids, so the flat listing resumes exactly
            // where the delimited one stopped (mid-key if need be); a V2 token is opaque,
            // so that listing starts again after the last key (one entry per key).
            if !lister.versions() {
                after = Some(last.clone());
                cursor = None;
                pages = Pages::new(call);
            }
        }
        // Idle listers cut any part; a prefix that deserves more listers than it has
        // parts (a big one, by the survey) has its rest cut so more can work on it.
        let cut_more = shared.queued() < shared.settings.parallelism
            || (shared.queued() < MAX_QUEUED && shared.lock().pending.wants_more(prefix));
        if cut_more && let Some(first) = split(shared, &part, &last, until.as_deref(), &sample) {
            until = Some(first);
        }
        // Another prefix is waiting for a lister: this part hands the rest of its range
        // back to the queue after each page, so listers take turns over prefixes (see
        // `queue`) and a big prefix late in key order is read alongside the others, not
        // alone at the end at one prefix's rate. A version listing keeps its part: its
        // page may end inside a key's versions, which a new part after that key would
        // skip.
        if !lister.versions() && shared.others_waiting(prefix) {
            shared.push([Part {
                prefix: prefix.to_string(),
                after: Some(last),
                until,
                depth: part.depth,
                delimited: false,
            }]);
            return Ok(true);
        }
    }
}

/// Cuts the rest of `part`, `(last, until]`, where the splitter says: queues every range
/// but the first, and returns where the first ends (`None`: no usable point).
fn split<S: Splitter + ?Sized>(
    shared: &Shared<'_, S>,
    part: &Part,
    last: &str,
    until: Option<&str>,
    sample: &[String],
) -> Option<String> {
    let prefix = part.prefix.as_str();
    let beyond = |k: &str| until.is_some_and(|u| k > u);
    let sample: Vec<&str> = sample.iter().map(String::as_str).collect();
    let mut points: Vec<String> = shared
        .splitter
        .split(prefix, last, until, &sample)
        .into_iter()
        .filter(|p| p.starts_with(prefix) && p.as_str() > last && !beyond(p) && until != Some(p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let budget = 2 * shared.settings.parallelism.max(1);
    if points.len() > budget {
        let step = points.len().div_ceil(budget);
        points = points.into_iter().step_by(step).collect();
    }
    let first = points.first().cloned()?;
    let mut parts = Vec::with_capacity(points.len());
    for (i, lo) in points.iter().enumerate() {
        parts.push(Part {
            prefix: prefix.to_string(),
            after: Some(lo.clone()),
            until: points
                .get(i + 1)
                .cloned()
                .or_else(|| until.map(str::to_string)),
            depth: part.depth,
            delimited: false,
        });
    }
    shared.push(parts);
    Some(first)
}

/// The default splitter: cuts the rest of a part where its keys vary, at a few depths.
///
/// Where the page's first and last keys part ways is where keys change fastest; cutting
/// the rest there, and one and two characters higher up, gives parts of about a page,
/// ten pages and a hundred pages when keys are dense, and a last part that cuts itself
/// again when its first page is read. The characters tried are the ASCII letters and
/// digits the page's keys use (all of them if the page uses fewer than two), so numeric
/// keys are cut at digits and hex keys at hex digits.
pub struct Ladder;

const LADDER_LEVELS: usize = 3;
const LADDER_WIDTH: usize = 16;

impl Splitter for Ladder {
    fn split(&self, prefix: &str, last: &str, until: Option<&str>, sample: &[&str]) -> Vec<String> {
        let first = sample.first().copied().unwrap_or(last);
        let varies = first
            .bytes()
            .zip(last.bytes())
            .take_while(|(a, b)| a == b)
            .count()
            .max(prefix.len());
        // The characters keys use where they vary: the smallest class holding them all.
        let seen: BTreeSet<u8> = sample
            .iter()
            .filter_map(|k| k.as_bytes().get(varies..(varies + 4).min(k.len())))
            .flatten()
            .copied()
            .filter(u8::is_ascii_alphanumeric)
            .collect();
        let classes: [&[u8]; 4] = [
            b"0123456789",
            b"0123456789abcdef",
            b"0123456789ABCDEF",
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        ];
        let alphabet: &[u8] = classes
            .into_iter()
            .find(|c| seen.iter().all(|b| c.contains(b)))
            .unwrap_or(classes[3]);
        let mut points = Vec::new();
        for j in (prefix.len()..=varies.min(last.len()))
            .rev()
            .filter(|&j| last.is_char_boundary(j))
            .take(LADDER_LEVELS)
        {
            let head = &last[..j];
            let at = last.as_bytes().get(j).copied();
            let above: Vec<u8> = alphabet
                .iter()
                .copied()
                .filter(|&c| at.is_none_or(|a| c > a))
                .collect();
            let step = above.len().div_ceil(LADDER_WIDTH).max(1);
            for c in above.into_iter().step_by(step) {
                let p = format!("{head}{}", c as char);
                if until.is_none_or(|u| p.as_str() < u) {
                    points.push(p);
                }
            }
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_cuts_numeric_keys_at_digits_where_they_vary() {
        let sample = ["p/0000012345.bin", "p/0000013344.bin"];
        let points = Ladder.split("p/", "p/0000013344.bin", None, &sample);
        // Where the keys vary (…1[2-3]…): the rest of that digit, then coarser.
        assert!(points.contains(&"p/0000014".to_string()), "{points:?}");
        assert!(points.contains(&"p/000002".to_string()), "{points:?}");
        assert!(points.contains(&"p/00001".to_string()) || points.contains(&"p/00009".to_string()));
        for p in &points {
            assert!(p.as_str() > "p/0000013344.bin", "{p}");
            assert!(
                p[2..].bytes().all(|b| b.is_ascii_digit() || b == b'.'),
                "{p}"
            );
        }
        // Bounded above: nothing at or past `until`.
        let bounded = Ladder.split("p/", "p/0000013344.bin", Some("p/0000016"), &sample);
        assert!(
            bounded.iter().all(|p| p.as_str() < "p/0000016"),
            "{bounded:?}"
        );
        assert!(!bounded.is_empty());
    }

    #[test]
    fn the_ladder_never_cuts_inside_a_character() {
        let points = Ladder.split("", "é", None, &["a", "é"]);
        assert!(points.iter().all(|p| p.is_char_boundary(p.len())));
    }
}

/// The property that matters: against a real (fake) S3 over HTTP, whatever the keys and
/// wherever the splits fall, every key (every version) is listed exactly once.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::super::objects::{Listed, ObjectLister};
    use super::*;

    /// Clients live for the whole test process (a few dozen tiny ones).
    fn leak(s3: aws_sdk_s3::Client, bucket: &str) -> (&'static aws_sdk_s3::Client, &'static str) {
        (
            Box::leak(Box::new(s3)),
            Box::leak(bucket.to_string().into_boxed_str()),
        )
    }

    fn sdk(endpoint: &str, bucket: &str, versions: bool, page_size: i32) -> Sdk {
        let (s3, bucket) = leak(client(endpoint), bucket);
        let pacer: &'static crate::collect::pace::Pacer =
            Box::leak(Box::new(crate::collect::pace::Pacer::new(None, 1)));
        ObjectLister {
            s3,
            bucket,
            versions,
            page_size: Some(page_size),
            pacer,
            direct: None,
        }
    }

    /// [`sdk`], listing current objects through the direct client as a scan does.
    async fn direct(endpoint: &str, bucket: &str, versions: bool, page_size: i32) -> Sdk {
        let head = crate::collect::head::tests::client(Some(endpoint), false);
        let target = head.target(bucket, "us-east-1").await.unwrap();
        let mut lister = sdk(endpoint, bucket, versions, page_size);
        lister.direct = Some((Box::leak(Box::new(head)), Box::leak(Box::new(target))));
        lister
    }

    /// Cuts at random points drawn from the bucket's keys, from prefixes of the last key
    /// and from made-up strings: in range or not, keys or not.
    struct RandomCuts {
        seed: u64,
        keys: Vec<String>,
        calls: std::sync::atomic::AtomicU64,
    }

    impl Splitter for RandomCuts {
        fn split(&self, prefix: &str, last: &str, _until: Option<&str>, _: &[&str]) -> Vec<String> {
            let n = self
                .calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let rng = fastrand::Rng::with_seed(self.seed ^ n.wrapping_mul(0x9E37_79B9));
            let mut rng = rng;
            let mut points = Vec::new();
            for _ in 0..rng.usize(0..5) {
                let p = match rng.u8(0..4) {
                    0 if !self.keys.is_empty() => self.keys[rng.usize(0..self.keys.len())].clone(),
                    1 => {
                        let cut = rng.usize(0..=last.len());
                        let cut = (0..=cut)
                            .rev()
                            .find(|&i| last.is_char_boundary(i))
                            .unwrap_or(0);
                        format!(
                            "{}{}",
                            &last[..cut],
                            ['0', 'a', '/', '.', 'é'][rng.usize(0..5)]
                        )
                    }
                    2 => format!("{prefix}{}", ['a', 'b', '/', '0', '☃'][rng.usize(0..5)]),
                    _ => format!("{last}{}", ['a', '/', ' '][rng.usize(0..3)]),
                };
                points.push(p);
            }
            points
        }
    }

    type Sdk = ObjectLister<'static>;

    fn client(endpoint: &str) -> aws_sdk_s3::Client {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("k", "s", None, None, "test"),
                ),
            )
            .endpoint_url(endpoint)
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]

        #[test]
        fn every_key_and_version_exactly_once(
            keys in proptest::collection::btree_set("[ab/.0é☃]{1,6}", 0..40),
            page_size in 1i32..5,
            parallelism in 1usize..6,
            max_depth in 0u32..3,
            versions in any::<bool>(),
            seed in any::<u64>(),
            prefix in prop_oneof![Just(String::new()), Just("a".to_string()), Just("a/".to_string())],
        ) {
            let keys: Vec<String> = keys.into_iter().collect();
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            let (listed, expected) = rt.block_on(async {
                let mut spec = fakes3::BucketSpec::new("prop", 0).keys(keys.clone());
                if versions {
                    spec = spec.versions(2);
                }
                let config = fakes3::Config::new(seed).bucket(spec);
                let mut expected: Vec<(String, Option<String>)> = Vec::new();
                for k in keys.iter().filter(|k| k.starts_with(&prefix)) {
                    let info = config.object("prop", k).unwrap();
                    if versions {
                        expected.extend(info.versions.iter().map(|v| (k.clone(), Some(v.version_id.clone()))));
                    } else {
                        expected.push((k.clone(), None));
                    }
                }
                let server = fakes3::start(config).await.unwrap();
                // Current objects are listed through the SDK or the direct client.
                let lister = if (seed >> 1) % 2 == 0 {
                    sdk(&server.endpoint(), "prop", versions, page_size)
                } else {
                    direct(&server.endpoint(), "prop", versions, page_size).await
                };
                let splitter = RandomCuts { seed, keys: keys.clone(), calls: Default::default() };
                let (tx, rx) = mpsc::channel::<Listed>(3);
                let settings = PartitionSettings { parallelism, max_depth };
                // Half the cases with survey counts (any counts: they may be wrong), so
                // turns by size and the cuts they ask for are under the property too.
                let sizes = (seed % 2 == 0).then(|| {
                    let counts = keys.iter().map(|k| (group_of(k).to_string(), seed % 5000)).collect();
                    Sizes::known(counts)
                });
                let listing = list(&lister, &prefix, settings, &splitter, tx, sizes.as_ref());
                let collect = futures::StreamExt::collect::<Vec<Listed>>(rx);
                let (result, got) = futures::join!(listing, collect);
                result.unwrap();
                server.shutdown().await;
                let mut got: Vec<(String, Option<String>)> = got.iter().map(|l| (l.key().to_string(), l.version_id().map(str::to_string))).collect();
                got.sort();
                expected.sort();
                (got, expected)
            });
            prop_assert_eq!(listed, expected);
        }
    }

    /// A part that fails makes the whole listing fail, with the part and the reason.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_failing_part_fails_the_listing() {
        struct Flaky(Sdk);
        impl Lister for Flaky {
            type Entry = Listed;
            fn call(&self) -> &'static str {
                self.0.call()
            }
            fn versions(&self) -> bool {
                false
            }
            async fn page(&self, q: Query<'_>) -> Result<Page<Listed>, String> {
                if q.prefix == "b/" {
                    return Err("HTTP 500 after 8 attempts".into());
                }
                self.0.page(q).await
            }
        }
        let keys = ["a/1", "a/2", "b/1", "c/1"];
        let config = fakes3::Config::new(1).bucket(fakes3::BucketSpec::new("flaky", 0).keys(keys));
        let server = fakes3::start(config).await.unwrap();
        let lister = Flaky(sdk(&server.endpoint(), "flaky", false, 1));
        let (tx, rx) = mpsc::channel::<Listed>(8);
        let settings = PartitionSettings {
            parallelism: 2,
            max_depth: 1,
        };
        let (result, _) = futures::join!(
            list(&lister, "", settings, &Ladder, tx, None),
            futures::StreamExt::collect::<Vec<Listed>>(rx)
        );
        let e = result.unwrap_err();
        assert!(e.contains("prefix \"b/\"") && e.contains("HTTP 500"), "{e}");
        server.shutdown().await;
    }
}
