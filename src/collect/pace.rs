//! How fast the object scan asks: an adaptive window per S3 prefix and an optional cap
//! on the total request rate.
//!
//! S3 serves about 5,500 GET/HEAD per second *per prefix* and answers 503 SlowDown above
//! that. A scan reading many prefixes at once should slow down only the prefix that was
//! throttled, so each first-level prefix of each bucket (the key up to its first `/`) has
//! its own window: how many of its objects may be outstanding (listed into the HEAD
//! pipeline and not yet read). The lister takes a ticket from the window before it hands
//! an object on, so a throttled prefix's lister waits while the others keep the pipeline
//! full, instead of the pipeline filling up with objects of the one slow prefix.
//!
//! The window follows AIMD, as TCP does: a 503 halves it (to half of what was outstanding,
//! at least 1), each success grows it by `1 / window` (one more per window's worth of
//! successes). Only one halving per round: a throttled attempt that started before the
//! last halving saw the old window and is not counted again, which needs no clock.
//!
//! A window bounds how many objects are outstanding, not how fast they are sent: HEADs
//! that finish together (a scheduler stall, a burst of fast answers) are sent again
//! together, and S3 counts requests per second. So from a prefix's first 503 on, its
//! attempts also go through a token bucket whose rate follows CUBIC, as the AWS SDKs'
//! adaptive retry mode paces a client ([`RateControl`]): cut to 70 % of the rate the prefix
//! was being sent at, then regrowing along a cubic curve that flattens out at that rate
//! and probes above it only slowly, so a prefix near S3's limit is throttled about once
//! every several seconds rather than once per round.
//!
//! `--max-rps` is a token bucket over every listing page and HEAD attempt of the scan.
//! Every clock here is a parameter, so all of it is tested without sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The AIMD window of one prefix.
#[derive(Debug, Clone)]
pub struct Aimd {
    window: f64,
    max: f64,
    /// Halvings so far; an attempt records it when it starts.
    epoch: u64,
}

/// Where a prefix's window starts: a full pipeline of HEADs aimed at one prefix that S3
/// throttles at a fraction of it would be refused in bulk before the first halving.
const INITIAL_WINDOW: f64 = 16.0;

impl Aimd {
    /// Starts at [`INITIAL_WINDOW`] and doubles each round (one more per success, "slow
    /// start") until S3 first throttles the prefix; from then on it grows by one per round.
    pub fn new(max: usize) -> Self {
        let max = max.max(1) as f64;
        Aimd {
            window: INITIAL_WINDOW.min(max),
            max,
            epoch: 0,
        }
    }

    /// Objects of this prefix that may be outstanding.
    pub fn limit(&self) -> usize {
        self.window as usize
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// An attempt that started at `started` was throttled while `outstanding` objects
    /// were outstanding. `true` when this halved the window.
    pub fn throttled(&mut self, started: u64, outstanding: usize) -> bool {
        if started != self.epoch {
            return false;
        }
        self.window = (self.window.min(outstanding as f64) / 2.0).max(1.0);
        self.epoch += 1;
        true
    }

    pub fn succeeded(&mut self) {
        let step = if self.epoch == 0 {
            1.0
        } else {
            1.0 / self.window
        };
        self.window = (self.window + step).min(self.max);
    }
}

/// A token bucket refilled at `rate` per second, holding at most `burst`; a request that
/// finds it empty waits its turn (reservations queue up, so waiters are served in order).
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A tenth of a second's worth of burst, at least one request.
    pub fn new(rate: u32, now: Instant) -> Self {
        Self::with_burst(f64::from(rate.max(1)), 0.1, now)
    }

    /// `burst_secs` worth of `rate` may go at once (at least one request).
    fn with_burst(rate: f64, burst_secs: f64, now: Instant) -> Self {
        let burst = (rate * burst_secs).max(1.0);
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            at: now,
        }
    }

    /// Changes the rate from `now` on (what accrued until now accrued at the old rate);
    /// the burst stays the same share of a second.
    fn set_rate(&mut self, rate: f64, burst_secs: f64, now: Instant) {
        self.refill(now);
        self.rate = rate.max(MIN_RATE);
        self.burst = (self.rate * burst_secs).max(1.0);
        self.tokens = self.tokens.min(self.burst);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = self.at.max(now);
    }

    /// Takes a token at `now`: how long the caller must wait before sending.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// The slowest a throttled prefix is paced (requests per second), the SDKs' floor.
const MIN_RATE: f64 = 0.5;
/// CUBIC's multiplicative decrease: a 503 cuts the rate to this share of what was sent.
const BETA: f64 = 0.7;
/// Seconds after a cut at which the rate is back where it was cut from. The SDKs' curve
/// (`0.4 (t - K)^3` requests/s) is made for one client's few requests a second: a prefix
/// cut from S3's 5,500/s would take 16 s to come back. Here the curve is scaled to the
/// rate it was cut from, so every prefix comes back in the same time, whatever its rate.
const RECOVERY_SECS: f64 = 2.0;
/// How much of a second's worth of a paced prefix's rate may go at once: S3 counts its
/// rate over short intervals, so paced sends are kept evenly spaced.
const PREFIX_BURST_SECS: f64 = 0.02;
/// The send rate is measured over the last `SLOTS` slots of `SLOT` each.
const SLOT: Duration = Duration::from_millis(20);
const SLOTS: u64 = 10;

/// How fast one prefix's attempts are sent: measured always, paced from its first 503 on.
#[derive(Debug, Clone)]
pub struct RateControl {
    /// Attempts sent per slot, a ring indexed by slot number modulo `SLOTS`.
    sent: [u32; SLOTS as usize],
    /// The slot of the last send (slots count `SLOT`s since `origin`).
    slot: u64,
    origin: Instant,
    /// When the sends now in the ring began, if the ring was empty before them: the rate of
    /// a burst after a pause is its own, not averaged with the pause.
    active_since: Instant,
    /// `None` until the first 503: a prefix S3 never throttled is not paced.
    bucket: Option<TokenBucket>,
    /// The rate the last cut was made from, and when.
    cut_from: f64,
    cut_at: Instant,
}

impl RateControl {
    pub fn new(now: Instant) -> Self {
        RateControl {
            sent: [0; SLOTS as usize],
            slot: 0,
            origin: now,
            active_since: now,
            bucket: None,
            cut_from: 0.0,
            cut_at: now,
        }
    }

    /// Moves the ring to `now`'s slot, clearing the slots skipped over.
    fn advance(&mut self, now: Instant) {
        let slot = (now.saturating_duration_since(self.origin).as_nanos() / SLOT.as_nanos())
            .try_into()
            .unwrap_or(u64::MAX);
        if slot <= self.slot {
            return;
        }
        for s in (self.slot + 1)..=slot.min(self.slot + SLOTS) {
            self.sent[(s % SLOTS) as usize] = 0;
        }
        self.slot = slot;
    }

    /// Attempts per second sent over the measured interval: the ring's span, or since the
    /// sends in it began when that is later (never less than one slot).
    pub fn measured(&mut self, now: Instant) -> f64 {
        self.advance(now);
        let total: u32 = self.sent.iter().sum();
        let ring_start = self.origin + SLOT * (self.slot.saturating_sub(SLOTS - 1) as u32);
        let span = now
            .saturating_duration_since(ring_start.max(self.active_since))
            .max(SLOT);
        f64::from(total) / span.as_secs_f64()
    }

    /// The paced rate at `now`, if the prefix is paced: the cubic curve through 70 % of
    /// `cut_from` at the cut, `cut_from` after [`RECOVERY_SECS`], and above it after that.
    pub fn rate(&self, now: Instant) -> Option<f64> {
        self.bucket.as_ref()?;
        let t = now.saturating_duration_since(self.cut_at).as_secs_f64() - RECOVERY_SECS;
        let scale = (1.0 - BETA) / RECOVERY_SECS.powi(3);
        Some((self.cut_from * (1.0 + scale * t.powi(3))).max(MIN_RATE))
    }

    /// Counts an attempt about to be sent at `now`: how long it must wait first.
    pub fn send(&mut self, now: Instant) -> Duration {
        self.advance(now);
        if self.sent.iter().all(|&n| n == 0) {
            self.active_since = now;
        }
        self.sent[(self.slot % SLOTS) as usize] += 1;
        let rate = self.rate(now);
        match (&mut self.bucket, rate) {
            (Some(bucket), Some(rate)) => {
                bucket.set_rate(rate, PREFIX_BURST_SECS, now);
                bucket.reserve(now)
            }
            _ => Duration::ZERO,
        }
    }

    /// S3 throttled the prefix at `now` (once per round). The first time, once the prefix
    /// has been sending for a whole measuring window (its first HEADs say nothing of its
    /// rate: two in 20 ms read as 100/s), the prefix is paced at 70 % of the rate measured;
    /// after that each cut is 70 % of the paced rate, at most once per [`RECOVERY_SECS`].
    /// A prefix throttled again while it recovers is already slowing (its window halves
    /// every round). Cutting at every round, or from a measured rate its window holds below
    /// the paced one, spirals a prefix whose 503s are not about its rate (a store failing a
    /// share of requests whatever the rate) down to [`MIN_RATE`]: a 600-object bucket with
    /// 30 % of its answers 503 had not finished after 5 minutes (9 s now). This way such a
    /// prefix stays on a sawtooth between 70 % and 100 % of its first paced rate.
    pub fn throttled(&mut self, now: Instant) {
        if self.bucket.is_some()
            && now.saturating_duration_since(self.cut_at).as_secs_f64() < RECOVERY_SECS
        {
            return;
        }
        let measured = self.measured(now);
        if self.bucket.is_none()
            && now.saturating_duration_since(self.active_since) < SLOT * SLOTS as u32
        {
            return;
        }
        let from = self.rate(now).unwrap_or(measured).max(MIN_RATE);
        self.cut_from = from;
        self.cut_at = now;
        let rate = from * BETA;
        match &mut self.bucket {
            Some(bucket) => bucket.set_rate(rate, PREFIX_BURST_SECS, now),
            None => self.bucket = Some(TokenBucket::with_burst(rate, PREFIX_BURST_SECS, now)),
        }
    }
}

struct GateState {
    aimd: Aimd,
    rate: RateControl,
    outstanding: usize,
}

/// One prefix's window, shared by its lister (tickets) and its HEADs (observations).
pub struct PrefixGate {
    state: Mutex<GateState>,
    room: Notify,
}

impl PrefixGate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the prefix may have one more object outstanding.
    pub async fn ticket(self: &Arc<Self>) -> Ticket {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut s = self.lock();
                if s.outstanding < s.aimd.limit() {
                    s.outstanding += 1;
                    return Ticket { gate: self.clone() };
                }
            }
            room.await;
        }
    }

    pub fn epoch(&self) -> u64 {
        self.lock().aimd.epoch()
    }

    /// What an attempt that started at `started` met.
    pub fn observe(&self, started: u64, throttled: bool) {
        let mut s = self.lock();
        if throttled {
            let outstanding = s.outstanding;
            if s.aimd.throttled(started, outstanding) {
                s.rate.throttled(Instant::now());
                tracing::debug!(
                    window = s.aimd.limit(),
                    rate = s.rate.rate(Instant::now()),
                    "503 SlowDown: prefix window halved and rate cut"
                );
            }
        } else {
            let before = s.aimd.limit();
            // The window grows only while the prefix fills at least half of it, as TCP
            // validates its congestion window (RFC 7661): a window the prefix leaves
            // unused says nothing of what S3 allows, and once grown it lets the prefix's
            // next busy spell out as one burst. Listers taking turns over prefixes grew
            // windows past 500 on single pages, then drew 503s by the thousand.
            if 2 * s.outstanding >= before {
                s.aimd.succeeded();
            }
            if s.aimd.limit() > before {
                drop(s);
                self.room.notify_waiters();
            }
        }
    }
}

/// An object of a prefix, outstanding until dropped (after its HEAD, or when the scan
/// stops).
pub struct Ticket {
    gate: Arc<PrefixGate>,
}

impl Ticket {
    pub fn gate(&self) -> &PrefixGate {
        &self.gate
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.gate.lock().outstanding -= 1;
        self.gate.room.notify_waiters();
    }
}

/// Windows beyond which those at rest (fully open, nothing outstanding) are forgotten:
/// a bucket with a million top-level names must not keep a million windows.
const MAX_GATES: usize = 10_000;

/// The scan's pacing: a window per (bucket, prefix) and the optional `--max-rps`.
pub struct Pacer {
    gates: Mutex<HashMap<(String, String), Arc<PrefixGate>>>,
    max_window: usize,
    rps: Option<Mutex<TokenBucket>>,
}

impl Pacer {
    /// `max_window`: the most objects one prefix may have outstanding (the pipeline's
    /// width, so one prefix alone can fill it).
    pub fn new(max_rps: Option<u32>, max_window: usize) -> Self {
        Pacer {
            gates: Mutex::default(),
            max_window,
            rps: max_rps.map(|r| Mutex::new(TokenBucket::new(r, Instant::now()))),
        }
    }

    /// The window of the prefix `key` is in.
    pub fn gate(&self, bucket: &str, key: &str) -> Arc<PrefixGate> {
        let prefix = key.find('/').map_or("", |i| &key[..=i]);
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = gates.get(&(bucket.to_string(), prefix.to_string())) {
            return g.clone();
        }
        if gates.len() >= MAX_GATES {
            gates.retain(|_, g| {
                let s = g.lock();
                s.outstanding > 0 || s.aimd.limit() < self.max_window
            });
        }
        let gate = Arc::new(PrefixGate {
            state: Mutex::new(GateState {
                aimd: Aimd::new(self.max_window),
                rate: RateControl::new(Instant::now()),
                outstanding: 0,
            }),
            room: Notify::new(),
        });
        gates.insert((bucket.to_string(), prefix.to_string()), gate.clone());
        gate
    }

    /// Waits for a token of `--max-rps`, if set. Called before every listing page and
    /// every HEAD (or GET) attempt.
    pub async fn request(&self) {
        let Some(rps) = &self.rps else { return };
        let wait = rps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// S3 asking for fewer requests: 503 (SlowDown), 429, or a throttling code.
pub fn is_throttling(f: &super::errors::CallFailure) -> bool {
    match f {
        super::errors::CallFailure::Service { status, code, .. } => {
            matches!(status, 503 | 429)
                || code
                    .as_deref()
                    .is_some_and(|c| c == "SlowDown" || c.contains("Throttl"))
        }
        _ => false,
    }
}

/// What one object's HEAD attempts report to: its prefix's window and the rate cap.
#[derive(Clone, Copy)]
pub struct Attempts<'a> {
    pub gate: Option<&'a PrefixGate>,
    pub pacer: &'a Pacer,
}

impl Attempts<'_> {
    /// Before an attempt: waits for the rate cap and the prefix's pace; returns the
    /// window's epoch.
    pub async fn before(&self) -> u64 {
        self.pacer.request().await;
        let Some(gate) = self.gate else { return 0 };
        let wait = gate.lock().rate.send(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        gate.epoch()
    }

    /// After an attempt that started at `epoch`.
    pub fn after(&self, epoch: u64, throttled: bool) {
        if let Some(g) = self.gate {
            g.observe(epoch, throttled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_503_halves_the_window_once_per_round_and_successes_regrow_it() {
        let mut a = Aimd::new(64);
        assert_eq!(a.limit(), 16);
        // Slow start: doubles per round of successes until the first 503.
        for _ in 0..16 {
            a.succeeded();
        }
        assert_eq!(a.limit(), 32);
        for _ in 0..100 {
            a.succeeded();
        }
        assert_eq!(a.limit(), 64, "capped");
        // 40 outstanding when the first 503 of a burst comes back: half of those.
        let e = a.epoch();
        assert!(a.throttled(e, 40));
        assert_eq!(a.limit(), 20);
        // The rest of the burst started under the old window: ignored.
        for _ in 0..30 {
            assert!(!a.throttled(e, 40));
        }
        assert_eq!(a.limit(), 20);
        // A 503 on an attempt sent under the new window halves again.
        assert!(a.throttled(a.epoch(), 20));
        assert_eq!(a.limit(), 10);
        // Additive increase: about one more per window's worth of successes.
        for _ in 0..9 {
            a.succeeded();
        }
        assert_eq!(a.limit(), 10);
        for _ in 0..2 {
            a.succeeded();
        }
        assert_eq!(a.limit(), 11);
        // Never below one, never above the maximum.
        for _ in 0..20 {
            a.throttled(a.epoch(), 1);
        }
        assert_eq!(a.limit(), 1);
        for _ in 0..100_000 {
            a.succeeded();
        }
        assert_eq!(a.limit(), 64);
    }

    #[tokio::test]
    async fn a_window_the_prefix_leaves_unused_does_not_grow() {
        let pacer = Pacer::new(None, 512);
        let gate = pacer.gate("b", "p/1");
        // Two objects outstanding of a window of 16: their successes leave it at 16.
        let tickets = [gate.ticket().await, gate.ticket().await];
        for _ in 0..100 {
            gate.observe(0, false);
        }
        assert_eq!(gate.lock().aimd.limit(), 16);
        // Filled, it grows (slow start: one per success).
        let mut more = Vec::new();
        for _ in 0..14 {
            more.push(gate.ticket().await);
        }
        for _ in 0..4 {
            gate.observe(0, false);
        }
        assert_eq!(gate.lock().aimd.limit(), 20);
        drop((tickets, more));
    }

    #[test]
    fn the_rate_cap_spaces_requests_evenly_after_its_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100, t0);
        // A burst of a tenth of a second's worth goes at once.
        for _ in 0..10 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
        // Then one every 10 ms: the n-th waits n x 10 ms.
        let waits: Vec<u128> = (0..3).map(|_| b.reserve(t0).as_millis()).collect();
        assert_eq!(waits, [10, 20, 30]);
        // Time refills it, never beyond the burst.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..10 {
            assert_eq!(b.reserve(later), Duration::ZERO);
        }
        assert_eq!(b.reserve(later).as_millis(), 10);
        // A clock that goes backwards costs nothing extra.
        assert!(b.reserve(t0) <= Duration::from_millis(20));
    }

    #[tokio::test]
    async fn tickets_wait_for_room_in_their_prefix_only() {
        let pacer = Pacer::new(None, 2);
        // (A window never exceeds the pipeline's width: 2 here.)
        let a = pacer.gate("b", "a/1");
        assert!(Arc::ptr_eq(&a, &pacer.gate("b", "a/2")));
        let other = pacer.gate("b", "z/1");
        assert!(!Arc::ptr_eq(&a, &other));
        let t1 = a.ticket().await;
        let _t2 = a.ticket().await;
        // Full: a third waits, while another prefix still admits.
        let mut third = Box::pin(a.ticket());
        assert!(futures::poll!(third.as_mut()).is_pending());
        let _o = other.ticket().await;
        drop(t1);
        assert!(futures::poll!(third.as_mut()).is_ready());
        // A throttled attempt halves what was outstanding (2 -> 1).
        a.observe(a.epoch(), true);
        assert_eq!(a.lock().aimd.limit(), 1);
    }

    #[test]
    fn an_unthrottled_prefix_is_measured_but_not_paced() {
        let t0 = Instant::now();
        let mut r = RateControl::new(t0);
        // 1,000 sends over 200 ms: 5,000/s, none of them held back.
        for i in 0..1_000u32 {
            assert_eq!(
                r.send(t0 + Duration::from_micros(200 * u64::from(i))),
                Duration::ZERO
            );
        }
        let m = r.measured(t0 + Duration::from_millis(200));
        assert!((4_900.0..=5_100.0).contains(&m), "{m}");
        assert_eq!(r.rate(t0), None);
        // A burst after a long pause is measured as the burst, not averaged with the pause.
        let later = t0 + Duration::from_secs(30);
        for _ in 0..16 {
            r.send(later);
        }
        let m = r.measured(later + Duration::from_millis(20));
        assert!((790.0..=810.0).contains(&m), "{m}");
    }

    #[test]
    fn a_503_cuts_the_rate_to_70_percent_and_it_comes_back_along_a_cubic() {
        let t0 = Instant::now();
        let mut r = RateControl::new(t0);
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // 1,000/s for 200 ms, then S3 says SlowDown.
        for i in 0..200 {
            r.send(ms(i));
        }
        r.throttled(ms(200));
        let rate = |r: &RateControl, at| r.rate(at).unwrap();
        assert!(
            (690.0..=710.0).contains(&rate(&r, ms(200))),
            "{}",
            rate(&r, ms(200))
        );
        // Flat near the old rate, back to it after RECOVERY_SECS, then probing above it.
        let back = rate(&r, ms(2_200));
        assert!((995.0..=1_005.0).contains(&back), "{back}");
        assert!(rate(&r, ms(1_200)) < back && rate(&r, ms(1_200)) > 900.0);
        assert!(rate(&r, ms(4_200)) > 1_250.0);
        // Paced: sends at one instant are spaced 1/700 s apart after a 20 ms burst.
        let waits: Vec<Duration> = (0..30).map(|_| r.send(ms(200))).collect();
        let burst = waits.iter().filter(|w| w.is_zero()).count();
        assert!((10..=15).contains(&burst), "{burst} sent at once");
        let step = waits[29] - waits[28];
        assert!((1_400..=1_460).contains(&step.as_micros()), "{step:?}");
        // A 503 while the rate recovers does not cut it again.
        r.throttled(ms(300));
        assert!((rate(&r, ms(300)) - rate(&r, ms(301))).abs() < 1.0);
        assert!(rate(&r, ms(1_200)) > 900.0, "{}", rate(&r, ms(1_200)));
        // A cut after the recovery is made from the paced rate, not from a higher measured
        // burst.
        for _ in 0..1_000 {
            r.send(ms(2_290));
        }
        let paced = rate(&r, ms(2_300));
        r.throttled(ms(2_300));
        let cut = rate(&r, ms(2_300));
        assert!((cut - paced * BETA).abs() < 1.0, "{cut} vs {paced}");
    }

    /// A 503 in a prefix's first measuring window leaves it to its window: two HEADs in
    /// 20 ms say nothing of its rate (they read as 100/s and paced a bucket at 70/s).
    #[test]
    fn a_503_before_a_full_measure_does_not_pace() {
        let t0 = Instant::now();
        let mut r = RateControl::new(t0);
        r.send(t0);
        r.send(t0 + Duration::from_millis(10));
        r.throttled(t0 + Duration::from_millis(20));
        assert_eq!(r.rate(t0 + Duration::from_millis(20)), None);
        r.throttled(t0 + Duration::from_millis(250));
        assert!(r.rate(t0 + Duration::from_millis(250)).is_some());
    }

    /// A prefix answered 503 at every round (a store failing a share of requests whatever
    /// the rate) stays on a sawtooth near its rate: it failed before (the rate was cut at
    /// every round, to the floor within a second).
    #[test]
    fn throttling_at_every_round_does_not_spiral_the_rate_down() {
        let t0 = Instant::now();
        let mut r = RateControl::new(t0);
        let ms = |n: u64| t0 + Duration::from_millis(n);
        for i in 0..200 {
            r.send(ms(i));
        }
        let (mut low, mut owed) = (f64::MAX, 0.0);
        // A minute of sends at the paced rate, a 503 every 50 ms.
        let mut t = 200;
        while t < 60_000 {
            r.throttled(ms(t));
            let rate = r.rate(ms(t)).unwrap();
            low = low.min(rate);
            // The round's sends, evenly spaced at the paced rate.
            owed += rate / 20.0;
            let n = owed.floor();
            owed -= n;
            for k in 0..n as u32 {
                r.send(ms(t) + Duration::from_secs_f64(f64::from(k) / rate));
            }
            t += 50;
        }
        assert!(low > 650.0, "the rate fell to {low}/s from 1,000/s");
        // And it stays bounded below by the floor under any storm.
        let mut r = RateControl::new(t0);
        r.send(t0);
        for i in 0..10_000 {
            r.throttled(t0 + Duration::from_secs(i * 3));
        }
        assert!(r.rate(t0 + Duration::from_secs(30_000)).unwrap() >= MIN_RATE);
    }
}
