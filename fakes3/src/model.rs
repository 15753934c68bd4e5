//! The synthetic bucket: keys, versions and attributes are pure functions of
//! `(seed, bucket, object index, version age)`. Only the small awkward-key set is
//! materialised; memory does not grow with the object count.

use serde::{Deserialize, Serialize};

use crate::config::{BucketSpec, Expected, Mode};
use crate::hash::{h2, h3, h4, hash_str, tag};

/// Synthetic keys look like `data/0000123/0000123456.bin`: fixed-width, so index order
/// is byte order and a key can be parsed back to its index.
const SYNTH_PREFIX: &str = "data/";
const SYNTH_SUFFIX: &str = ".bin";
const SYNTH_LEN: usize = 5 + 7 + 1 + 10 + 4;

/// Age used to derive a delete marker's attributes.
const DELETE_MARKER_AGE: u64 = 0xFFFF_FFFF;

const BASE_TIME: i64 = 1_577_836_800; // 2020-01-01T00:00:00Z

/// The hostile keys served when `awkward_keys` is set (the first `objects` of them when
/// the bucket is smaller than the list). Listed here in no particular order; the server
/// sorts them by UTF-8 bytes as S3 does.
pub fn awkward_keys() -> Vec<String> {
    let mut v: Vec<String> = [
        "trailing-slash/",
        "folder/",
        "folder/child.txt",
        "folder/sub/",
        "with space.txt",
        " leading-space",
        "trailing-space ",
        "spaces  in/the middle /x y",
        "plus+sign.txt",
        "a+b c+d.txt",
        "percent%20literal.txt",
        "percent%2Fslash%",
        "100%.csv",
        "unicode/caf\u{e9}.txt",
        "unicode/cafe\u{301}.txt",
        "unicode/\u{65e5}\u{672c}\u{8a9e}/\u{30d5}\u{30a1}\u{30a4}\u{30eb}.txt",
        "unicode/\u{43a}\u{43b}\u{44e}\u{447}.bin",
        "unicode/\u{1f600} emoji.png",
        "deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/leaf.txt",
        "double//slash",
        "/leading-slash",
        "dots/./single",
        "dots/../double",
        "query?mark=1&and=2",
        "hash#fragment",
        "xml<&>\"'chars",
        "semi;colon,comma:colon@at$dollar",
        "brackets[]{}()",
        "tilde~caret^backtick`pipe|",
        "star*bang!",
        "back\\slash",
        "equals=sign",
        "UPPER/lower/MiXeD",
        "-dash-first",
        "_underscore",
        ".hidden",
        "data/zz-not-synthetic",
        "datb",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    v.push(format!("long/{}", "x".repeat(1000)));
    v
}

fn synth_key(j: u64) -> String {
    format!("{SYNTH_PREFIX}{:07}/{j:010}{SYNTH_SUFFIX}", j / 1000)
}

/// Synthetic keys spread over first-level prefixes: `pGGGGG/NNNNNNNNNN.bin`, prefix `g`
/// holding the contiguous index range `starts[g]..starts[g + 1]` (fixed width again, so
/// index order is byte order).
const PREFIXED_LEN: usize = 1 + 5 + 1 + 10 + 4;

fn prefixed_key(g: usize, j: u64) -> String {
    format!("p{g:05}/{j:010}{SYNTH_SUFFIX}")
}

fn parse_prefixed(key: &str) -> Option<(usize, u64)> {
    let b = key.as_bytes();
    if b.len() != PREFIXED_LEN || b[0] != b'p' || b[6] != b'/' || !key.ends_with(SYNTH_SUFFIX) {
        return None;
    }
    let (group, idx) = (&b[1..6], &b[7..17]);
    if !group.iter().chain(idx).all(u8::is_ascii_digit) {
        return None;
    }
    let num = |d: &[u8]| d.iter().fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
    Some((num(group) as usize, num(idx)))
}

/// Where each of `n` prefixes starts in `0..synth`: sizes are uneven (a Zipf-like weight
/// `1 / (1 + r)` with `r` drawn per prefix from the seed), as real buckets are, so a lister
/// that splits by prefix meets both tiny and huge ones. `n + 1` entries, the last `synth`.
fn prefix_starts(seed: u64, n: u32, synth: u64) -> Vec<u64> {
    let weights: Vec<u128> = (0..u64::from(n))
        .map(|g| 1_000_000 / u128::from(1 + h3(seed, tag::PREFIX, g) % u64::from(n)))
        .collect();
    let total: u128 = weights.iter().sum();
    let mut starts = Vec::with_capacity(n as usize + 1);
    let mut acc = 0u128;
    for w in &weights {
        starts.push((u128::from(synth) * acc / total) as u64);
        acc += w;
    }
    starts.push(synth);
    starts
}

fn parse_synth(key: &str) -> Option<u64> {
    let b = key.as_bytes();
    if b.len() != SYNTH_LEN || !key.starts_with(SYNTH_PREFIX) || !key.ends_with(SYNTH_SUFFIX) {
        return None;
    }
    let group = &b[5..12];
    let idx = &b[13..23];
    if b[12] != b'/' || !group.iter().chain(idx).all(u8::is_ascii_digit) {
        return None;
    }
    let num = |d: &[u8]| d.iter().fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
    let j = num(idx);
    (num(group) == j / 1000).then_some(j)
}

/// The smallest byte string greater than every string that starts with `p`.
fn successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut v = p.to_vec();
    while let Some(&last) = v.last() {
        if last == 0xFF {
            v.pop();
        } else {
            *v.last_mut().unwrap() = last + 1;
            return Some(v);
        }
    }
    None
}

/// Whether exactly `count` of `total` indexes are picked, spread evenly; `x` is picked.
fn evenly(x: u64, count: u64, total: u64) -> bool {
    if count == 0 || total == 0 {
        return false;
    }
    let (x, c, t) = (u128::from(x), u128::from(count), u128::from(total));
    (x + 1) * c / t > x * c / t
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

pub(crate) fn uuid_from(h: u64, g: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xFFFF,
        h & 0xFFF,
        0x8000 | (g >> 48) & 0x3FFF,
        g & 0xFFFF_FFFF_FFFF
    )
}

/// One version of an object as the fake serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// `"null"` in an unversioned bucket.
    pub version_id: String,
    pub is_latest: bool,
    pub mode: Mode,
    /// The key id string HEAD reports for SSE-KMS / DSSE-KMS.
    pub kms_key: Option<String>,
    pub bucket_key: bool,
    pub size: u64,
    /// Quoted, as on the wire.
    pub etag: String,
    /// Unix seconds.
    pub last_modified: i64,
    pub storage_class: String,
}

/// Everything about one key, newest version first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    pub key: String,
    /// HEAD answers 403 for every version.
    pub denied: bool,
    /// The latest version is a delete marker (with this version id).
    pub delete_marker: Option<String>,
    pub versions: Vec<VersionInfo>,
}

/// A bucket compiled from its spec.
#[derive(Debug)]
pub(crate) struct BucketModel {
    pub spec: BucketSpec,
    pub seed: u64,
    pub versioned: bool,
    pub versions: u32,
    mix_cum: [u64; 5],
    mix_total: u64,
    pub kms_keys: Vec<String>,
    awkward: Vec<String>,
    synth: u64,
    /// With `spec.prefixes > 0`: where each prefix's index range starts (see
    /// [`prefix_starts`]); empty for the `data/` layout.
    starts: Vec<u64>,
    pub created: i64,
}

impl BucketModel {
    pub fn new(spec: &BucketSpec, seed: u64, account: &str) -> Result<Self, String> {
        if spec.objects > crate::config::MAX_OBJECTS {
            return Err(format!(
                "bucket {}: at most {} objects",
                spec.name,
                crate::config::MAX_OBJECTS
            ));
        }
        if spec.denied_keys > spec.objects || spec.delete_markers > spec.objects {
            return Err(format!(
                "bucket {}: denied_keys and delete_markers must not exceed objects",
                spec.name
            ));
        }
        if spec.delete_markers > 0 && spec.versions < 2 {
            return Err(format!(
                "bucket {}: delete markers need a versioned bucket (versions > 1)",
                spec.name
            ));
        }
        if spec.mix.total() == 0 {
            return Err(format!("bucket {}: the mode mix is all zero", spec.name));
        }
        if !valid_bucket_name(&spec.name) {
            return Err(format!("invalid bucket name {:?}", spec.name));
        }
        let bseed = hash_str(h2(seed, tag::BUCKET), &spec.name);
        let mut cum = [0u64; 5];
        let mut acc = 0;
        for (i, m) in Mode::ALL.iter().enumerate() {
            acc += u64::from(spec.mix.weight(*m));
            cum[i] = acc;
        }
        let kms_keys = if spec.kms_keys.is_empty() {
            vec![default_key_arn(&spec.region, account, &spec.name)]
        } else {
            spec.kms_keys.clone()
        };
        let mut awkward = Vec::new();
        if !spec.keys.is_empty() {
            awkward = spec.keys.clone();
            awkward.sort();
            awkward.dedup();
            if awkward.len() as u64 != spec.objects {
                return Err(format!(
                    "bucket {}: objects ({}) must equal the number of distinct explicit keys ({})",
                    spec.name,
                    spec.objects,
                    awkward.len()
                ));
            }
        } else if spec.awkward_keys {
            awkward = awkward_keys();
            awkward.truncate(usize::try_from(spec.objects).unwrap_or(usize::MAX));
            awkward.sort();
        }
        let synth = spec.objects - awkward.len() as u64;
        let starts = if spec.prefixes > 0 {
            prefix_starts(bseed, spec.prefixes, synth)
        } else {
            Vec::new()
        };
        let created = BASE_TIME - 365 * 86_400 + (h2(bseed, tag::CREATED) % (300 * 86_400)) as i64;
        Ok(BucketModel {
            spec: spec.clone(),
            seed: bseed,
            versioned: spec.versions > 1,
            versions: spec.versions.max(1),
            mix_cum: cum,
            mix_total: acc,
            kms_keys,
            awkward,
            synth,
            starts,
            created,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn objects(&self) -> u64 {
        self.spec.objects
    }

    fn n_awk(&self) -> u64 {
        self.awkward.len() as u64
    }

    /// The `j`th synthetic key in byte order, in this bucket's layout.
    fn synth_key(&self, j: u64) -> String {
        if self.starts.is_empty() {
            synth_key(j)
        } else {
            prefixed_key(self.starts.partition_point(|&s| s <= j) - 1, j)
        }
    }

    fn parse_synth(&self, key: &str) -> Option<u64> {
        if self.starts.is_empty() {
            return parse_synth(key);
        }
        let (g, j) = parse_prefixed(key)?;
        (g + 1 < self.starts.len() && (self.starts[g]..self.starts[g + 1]).contains(&j))
            .then_some(j)
    }

    #[cfg(test)]
    pub fn key_of(&self, id: u64) -> String {
        if id < self.n_awk() {
            self.awkward[id as usize].clone()
        } else {
            self.synth_key(id - self.n_awk())
        }
    }

    pub fn lookup(&self, key: &str) -> Option<u64> {
        if let Some(j) = self.parse_synth(key)
            && j < self.synth
        {
            return Some(self.n_awk() + j);
        }
        self.awkward
            .binary_search_by(|k| k.as_str().cmp(key))
            .ok()
            .map(|i| i as u64)
    }

    pub fn is_denied(&self, id: u64) -> bool {
        evenly(id, self.spec.denied_keys, self.objects())
    }

    pub fn is_deleted(&self, id: u64) -> bool {
        let n = self.objects();
        self.versioned && n > 0 && evenly((id + n / 2 + 1) % n, self.spec.delete_markers, n)
    }

    /// Stratified assignment: each block of `mix_total` consecutive objects holds exactly
    /// the mix's weights, in an order shuffled by a seeded affine permutation.
    pub fn mode(&self, id: u64, age: u32) -> Mode {
        let w = self.mix_total;
        let (block, r) = (id / w, id % w);
        let slot = if w == 1 {
            0
        } else {
            let h = h4(self.seed, tag::MODE, u64::from(age), block);
            let mut a = 1 + h % (w - 1);
            while gcd(a, w) != 1 {
                a = if a + 1 >= w { 1 } else { a + 1 };
            }
            let c = (h >> 29) % w;
            ((u128::from(a) * u128::from(r) + u128::from(c)) % u128::from(w)) as u64
        };
        let i = self.mix_cum.iter().position(|&c| slot < c).unwrap_or(4);
        Mode::ALL[i]
    }

    fn kms_key_index(&self, id: u64, age: u32) -> usize {
        (h4(self.seed, tag::KMS_KEY, id, u64::from(age)) % self.kms_keys.len() as u64) as usize
    }

    pub fn version_id(&self, id: u64, age: u64) -> String {
        if !self.versioned {
            return "null".to_owned();
        }
        const ALPHABET: &[u8; 64] =
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._";
        let hs = [
            h4(self.seed, tag::VERSION_ID, id, age),
            h4(self.seed, tag::VERSION_ID + 100, id, age),
            h4(self.seed, tag::VERSION_ID + 200, id, age),
            h4(self.seed, tag::VERSION_ID + 300, id, age),
        ];
        (0..32)
            .map(|i| ALPHABET[((hs[i / 10] >> (6 * (i % 10))) & 63) as usize] as char)
            .collect()
    }

    pub fn delete_marker_id(&self, id: u64) -> String {
        self.version_id(id, DELETE_MARKER_AGE)
    }

    fn base_time(&self, id: u64) -> (i64, i64) {
        let t0 = BASE_TIME + (h3(self.seed, tag::TIME, id) % (4 * 365 * 86_400)) as i64;
        let step = 3600 + (h3(self.seed, tag::STEP, id) % (20 * 86_400)) as i64;
        (t0, step)
    }

    pub fn delete_marker_time(&self, id: u64) -> i64 {
        let (t0, step) = self.base_time(id);
        t0 + step
    }

    /// Version `age` of object `id` (age 0 = newest real version).
    pub fn version(&self, id: u64, age: u32, key: &str) -> VersionInfo {
        let mode = self.mode(id, age);
        let a = u64::from(age);
        let h = h4(self.seed, tag::SIZE, id, a);
        let size = if key.ends_with('/') || h % 100 < 3 {
            0
        } else {
            let exp = (h >> 8) % 26;
            (1u64 << exp) + (h >> 16) % (1u64 << exp)
        };
        let e1 = h4(self.seed, tag::ETAG, id, a);
        let e2 = h2(e1, tag::ETAG);
        let etag = if size >= 16 << 20 {
            format!("\"{e1:016x}{e2:016x}-{}\"", size.div_ceil(8 << 20))
        } else {
            format!("\"{e1:016x}{e2:016x}\"")
        };
        let (t0, step) = self.base_time(id);
        let storage_class = if self.spec.storage_classes {
            match h4(self.seed, tag::STORAGE, id, a) % 100 {
                0..80 => "STANDARD",
                80..90 => "STANDARD_IA",
                90..95 => "INTELLIGENT_TIERING",
                _ => "GLACIER_IR",
            }
        } else {
            "STANDARD"
        };
        VersionInfo {
            version_id: self.version_id(id, a),
            is_latest: age == 0 && !self.is_deleted(id),
            mode,
            kms_key: mode
                .uses_kms()
                .then(|| self.kms_keys[self.kms_key_index(id, age)].clone()),
            bucket_key: mode == Mode::SseKms && self.spec.bucket_key,
            size,
            etag,
            last_modified: t0 - i64::from(age) * step,
            storage_class: storage_class.to_owned(),
        }
    }

    /// The age of the version with this id, if it is one of `id`'s real versions.
    pub fn age_of(&self, id: u64, version_id: &str) -> Option<u32> {
        if !self.versioned {
            return (version_id == "null").then_some(0);
        }
        (0..self.versions).find(|&a| self.version_id(id, u64::from(a)) == version_id)
    }

    pub fn object_info(&self, key: &str) -> Option<ObjectInfo> {
        let id = self.lookup(key)?;
        Some(ObjectInfo {
            key: key.to_owned(),
            denied: self.is_denied(id),
            delete_marker: self.is_deleted(id).then(|| self.delete_marker_id(id)),
            versions: (0..self.versions)
                .map(|a| self.version(id, a, key))
                .collect(),
        })
    }

    pub fn expected(&self) -> Expected {
        let mut e = Expected {
            bucket: self.spec.name.clone(),
            keys: self.objects(),
            ..Expected::default()
        };
        let mut cur_keys = vec![0u64; self.kms_keys.len()];
        let mut old_keys = vec![0u64; self.kms_keys.len()];
        for id in 0..self.objects() {
            let denied = self.is_denied(id);
            let deleted = self.is_deleted(id);
            e.denied_objects += u64::from(denied);
            e.delete_markers += u64::from(deleted);
            for age in 0..self.versions {
                let current = age == 0 && !deleted;
                let (counts, keys) = if current {
                    (&mut e.current, &mut cur_keys)
                } else {
                    (&mut e.noncurrent, &mut old_keys)
                };
                if denied {
                    counts.add(None);
                    continue;
                }
                let mode = self.mode(id, age);
                counts.add(Some(mode));
                if mode.uses_kms() {
                    keys[self.kms_key_index(id, age)] += 1;
                }
            }
        }
        for (i, k) in self.kms_keys.iter().enumerate() {
            if cur_keys[i] > 0 {
                *e.current_kms_keys.entry(k.clone()).or_default() += cur_keys[i];
            }
            if old_keys[i] > 0 {
                *e.noncurrent_kms_keys.entry(k.clone()).or_default() += old_keys[i];
            }
        }
        e
    }
}

pub(crate) fn default_key_arn(region: &str, account: &str, bucket: &str) -> String {
    let h = hash_str(tag::KEY_ID, bucket);
    format!(
        "arn:aws:kms:{region}:{account}:key/{}",
        uuid_from(h, h2(h, tag::KEY_ID))
    )
}

/// S3's bucket naming rules (the subset that matters for path-style routing).
pub(crate) fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

/// A position in the merged (awkward ∪ synthetic) key space, in byte order.
#[derive(Clone, Debug)]
pub(crate) struct Cursor {
    j: u64,
    a: usize,
    peek: Option<String>,
}

impl Cursor {
    /// The first key `>= from`.
    pub fn seek(m: &BucketModel, from: &[u8]) -> Cursor {
        let (mut lo, mut hi) = (0u64, m.synth);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if m.synth_key(mid).as_bytes() < from {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Cursor {
            j: lo,
            a: m.awkward.partition_point(|k| k.as_bytes() < from),
            peek: None,
        }
    }

    pub fn end(m: &BucketModel) -> Cursor {
        Cursor {
            j: m.synth,
            a: m.awkward.len(),
            peek: None,
        }
    }

    pub fn next(&mut self, m: &BucketModel) -> Option<(String, u64)> {
        if self.peek.is_none() && self.j < m.synth {
            self.peek = Some(m.synth_key(self.j));
        }
        let take_awkward = match (&self.peek, m.awkward.get(self.a)) {
            (None, None) => return None,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(s), Some(w)) => w.as_str() < s.as_str(),
        };
        if take_awkward {
            self.a += 1;
            Some((m.awkward[self.a - 1].clone(), (self.a - 1) as u64))
        } else {
            self.j += 1;
            Some((self.peek.take().unwrap(), m.n_awk() + self.j - 1))
        }
    }
}

pub(crate) enum Item {
    Key(String, u64),
    Prefix(String),
}

/// Walks keys under `prefix` in byte order, rolling keys up into common prefixes at
/// `delimiter`, optionally skipping keys whose latest version is a delete marker.
pub(crate) struct Walk<'a> {
    m: &'a BucketModel,
    cur: Cursor,
    prefix: &'a str,
    delim: Option<&'a str>,
    skip_deleted: bool,
}

/// Whether `marker` is itself a common prefix (as S3 returns in NextMarker /
/// NextKeyMarker / our continuation token): everything under it was already rolled up.
fn is_common_prefix(marker: &str, prefix: &str, delim: &str) -> bool {
    marker
        .strip_prefix(prefix)
        .and_then(|rest| rest.find(delim).map(|i| i + delim.len() == rest.len()))
        .unwrap_or(false)
}

impl<'a> Walk<'a> {
    /// Starts after `after` (exclusive), or at the beginning of `prefix`.
    pub fn new(
        m: &'a BucketModel,
        prefix: &'a str,
        delim: Option<&'a str>,
        after: Option<&str>,
        skip_deleted: bool,
    ) -> Self {
        let delim = delim.filter(|d| !d.is_empty());
        let mut from = prefix.as_bytes().to_vec();
        let mut exhausted = false;
        if let Some(after) = after.filter(|a| !a.is_empty()) {
            let start = match delim {
                Some(d) if is_common_prefix(after, prefix, d) => successor(after.as_bytes()),
                _ => {
                    let mut v = after.as_bytes().to_vec();
                    v.push(0);
                    Some(v)
                }
            };
            match start {
                None => exhausted = true,
                Some(s) if s > from => from = s,
                Some(_) => {}
            }
        }
        let cur = if exhausted {
            Cursor::end(m)
        } else {
            Cursor::seek(m, &from)
        };
        Walk {
            m,
            cur,
            prefix,
            delim,
            skip_deleted,
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            let (k, id) = self.cur.next(self.m)?;
            if !k.starts_with(self.prefix) {
                self.cur = Cursor::end(self.m);
                return None;
            }
            if self.skip_deleted && self.m.is_deleted(id) {
                continue;
            }
            if let Some(d) = self.delim
                && let Some(i) = k[self.prefix.len()..].find(d)
            {
                let cp = k[..self.prefix.len() + i + d.len()].to_owned();
                self.cur = match successor(cp.as_bytes()) {
                    Some(s) => Cursor::seek(self.m, &s),
                    None => Cursor::end(self.m),
                };
                return Some(Item::Prefix(cp));
            }
            return Some(Item::Key(k, id));
        }
    }
}

/// Keys of current objects in listing order, owning its bucket model.
pub struct KeyIter {
    pub(crate) model: std::sync::Arc<BucketModel>,
    pub(crate) cur: Cursor,
}

impl Iterator for KeyIter {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            let (k, id) = self.cur.next(&self.model)?;
            if !self.model.is_deleted(id) {
                return Some(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModeMix;

    fn model(spec: BucketSpec) -> BucketModel {
        BucketModel::new(&spec, 7, "123456789012").unwrap()
    }

    #[test]
    fn synthetic_keys_round_trip_and_sort() {
        for j in [0, 1, 999, 1000, 123_456, 9_999_999_999] {
            assert_eq!(parse_synth(&synth_key(j)), Some(j));
        }
        assert!(synth_key(999) < synth_key(1000));
        assert!(parse_synth("data/0000001/0000000999.bin").is_none());
    }

    #[test]
    fn cursor_merges_in_byte_order() {
        let m = model(BucketSpec::new("bkt", 3000).awkward(true));
        let mut c = Cursor::seek(&m, b"");
        let mut keys = Vec::new();
        while let Some((k, id)) = c.next(&m) {
            assert_eq!(m.key_of(id), k);
            assert_eq!(m.lookup(&k), Some(id));
            keys.push(k);
        }
        assert_eq!(keys.len(), 3000);
        assert!(keys.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
        // seeking to any key lands on it
        for k in keys.iter().step_by(97) {
            assert_eq!(Cursor::seek(&m, k.as_bytes()).next(&m).unwrap().0, *k);
        }
    }

    #[test]
    fn prefixes_are_uneven_contiguous_and_round_trip() {
        let m = model(BucketSpec::new("bkt", 20_000).prefixes(12).awkward(true));
        let mut c = Cursor::seek(&m, b"");
        let mut sizes = std::collections::BTreeMap::<String, u64>::new();
        let mut keys = Vec::new();
        while let Some((k, id)) = c.next(&m) {
            assert_eq!(m.lookup(&k), Some(id), "{k}");
            assert_eq!(m.key_of(id), k);
            if let Some((g, _)) = parse_prefixed(&k) {
                *sizes.entry(format!("p{g:05}/")).or_default() += 1;
            }
            keys.push(k);
        }
        assert_eq!(keys.len(), 20_000);
        assert!(keys.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
        let (lo, hi) = (sizes.values().min().unwrap(), sizes.values().max().unwrap());
        assert!(sizes.len() >= 8 && *hi >= 4 * lo, "uneven: {sizes:?}");
        // A key in the wrong prefix for its index is not an object.
        let (g, j) = parse_prefixed(keys.iter().find(|k| k.starts_with('p')).unwrap()).unwrap();
        assert_eq!(m.lookup(&prefixed_key(g + 1, j)), None);
    }

    #[test]
    fn explicit_keys_are_served_sorted_and_deduplicated() {
        let keys = ["b", "a/", "a", "\u{e9}", "a//b"];
        let m = model(BucketSpec::new("bkt", 0).keys(keys));
        assert_eq!(m.objects(), 5);
        let mut c = Cursor::seek(&m, b"");
        let mut seen = Vec::new();
        while let Some((k, _)) = c.next(&m) {
            seen.push(k);
        }
        assert_eq!(seen, ["a", "a/", "a//b", "b", "\u{e9}"]);
        let mut bad = BucketSpec::new("bkt", 0).keys(["x"]);
        bad.objects = 2;
        assert!(BucketModel::new(&bad, 7, "1").is_err());
    }

    #[test]
    fn mix_is_exact_per_block() {
        let m = model(BucketSpec::new("bkt", 1000).mix(ModeMix::default()));
        let e = m.expected();
        assert_eq!(e.current.sse_kms, 600);
        assert_eq!(e.current.sse_c, 100);
        assert_eq!(e.current.total, 1000);
    }

    #[test]
    fn evenly_picks_exactly() {
        for (c, t) in [(0, 10), (1, 10), (3, 10), (10, 10), (7, 1_000)] {
            assert_eq!((0..t).filter(|&x| evenly(x, c, t)).count() as u64, c);
        }
    }
}
