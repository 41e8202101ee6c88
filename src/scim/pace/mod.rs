//! The adaptive pacer: how fast to send to a target that published no rate (`rate:` unset), one
//! per kind of budget (reads, writes, member operations), shared by every concurrent request and
//! every retry so that retries never stampede.
//!
//! A generic SCIM server behind an Okta- or GitHub-style limit rarely says what the limit is,
//! only "429" when it is passed. Every 429 is load on someone else's service and, on a shared
//! per-tenant limit, on every other integration of that tenant; so the pacer aims at sending
//! just under the limit, not at finding it again and again:
//!
//! - Slow start: it begins at a conservative rate and doubles it every `SLOW_START_DOUBLING`
//!   seconds of clean answers, so a server without a limit is soon sent to as fast as
//!   `parallelism` allows, and the rate never runs far past a limit before its 429s come back.
//! - The cut goes to what the server admitted, not to a fraction of what was sent: a server
//!   over its limit admits its limit whatever roster sends, so the successes per second of the
//!   last `ADMITTED_HORIZON` seconds measure it (BBR's delivery rate). The pacer then sends a
//!   little under it and climbs back on a CUBIC curve while answers stay clean, drawn slower
//!   each time a probe finds the limit where the last one did, so probes above the limit are
//!   rare and brief; one cut per congestion epoch (answers to requests sent before a cut speak
//!   of the old rate) and none within `COOLDOWN` of the last.
//! - Noise: a 429 that does not depend on the rate (a server failing a share of requests at
//!   random) is told apart by experiment. A single 429 never cuts; a cut made on a measured
//!   share of 429s is put on trial, and if 429s keep coming, scattered, after it the cut is
//!   undone and their share learned as noise. From then on the noise is the share of 429s
//!   among the answers to requests sent under what the server was seen to admit (the limit
//!   cannot have refused those), and a cut needs 429s clearly above it over the last
//!   `RECENT` answers.
//! - What the server publishes wins: `RateLimit-Remaining`/`-Reset` (and `X-RateLimit-*`) form
//!   an allowance that is never overdrawn: requests reserved or in flight count against it,
//!   and once it is spent nothing goes out before the published reset.
//!
//! The core functions take the instant as a parameter so that tests check decisions exactly.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Where slow start begins (requests per second): below what most SaaS limits admit.
pub const INITIAL_RATE: f64 = 10.0;
/// Slow start doubles the rate in this many seconds of clean answers at the rate (a little
/// per answer, so a budget its callers do not use up grows no faster than it is used): the
/// rate never runs far ahead of what the server was seen to admit, and the first cut, made on
/// what the server admitted, lands near the limit instead of a multiple of it.
const SLOW_START_DOUBLING: f64 = 0.4;
/// The admitted rate is counted over this many seconds of answers: a fixed window lets up to
/// twice its limit through in one second that spans two windows, but at most 1.5 times in two.
const ADMITTED_HORIZON: f64 = 2.0;
/// Above this the pacer stops spacing requests (`parallelism` is the only bound).
const UNLIMITED: f64 = 1000.0;
/// A request reserves its slot this long before it is due, no sooner (see `try_take_at`); a
/// little ahead so that timer lateness does not stretch the spacing.
const LOOKAHEAD: Duration = Duration::from_millis(10);
/// The pacer never goes below this.
const MIN_RATE: f64 = 0.5;
/// After a cut the rate climbs back on CUBIC's curve around the admitted rate `w`:
/// `w * (1 + CUBIC_C * (t - K)^3)`, flat near `w` for a few seconds, then probing beyond it
/// faster and faster (in case the limit rose or was underestimated). `K` follows from where
/// the cut left the rate: about 3 s from `BELOW`.
const CUBIC_C: f64 = (1.0 - BELOW) / 27.0;
/// The share of the admitted rate the pacer settles at after a cut.
const BELOW: f64 = 0.98;
/// A cut lowers the rate at least this much, and never below `MAX_CUT` of it in one step.
const MIN_CUT: f64 = 0.9;
const MAX_CUT: f64 = 0.3;
const STEADY_CUT: f64 = 0.7;
/// An admitted rate is only measured over this many seconds of sending with this many
/// successes.
const MEASURE_SECS: f64 = 0.3;
const MEASURE_OK: u32 = 5;
/// Answers after a trial cut before it is judged, and answers an epoch needs before its share
/// of 429s is a baseline to judge against.
const JUDGE_AFTER: u32 = 80;
const BASELINE: u32 = 20;
/// A share of 429s this high is never taken for noise.
const MAX_NOISE: f64 = 0.15;
/// While a cut is on trial, only a share of 429s this high cuts again.
const SEVERE: f64 = 0.3;

/// The climb after a cut.
#[derive(Debug, Clone, Copy)]
struct Curve {
    /// The rate the server admitted (where the climb flattens out).
    w: f64,
    /// Seconds from the cut to the plateau (before `stretch`).
    k: f64,
    from: Instant,
    /// The curve drawn this many times slower: each cut that finds the limit where the last
    /// one did doubles it (up to `MAX_STRETCH`), so a limit that holds still is probed less
    /// and less often (each probe past it costs a few 429s), while one that moved is looked
    /// for at the first pace again.
    stretch: f64,
}

impl Curve {
    fn new(w: f64, start: f64, from: Instant, stretch: f64) -> Curve {
        let k = ((w - start).max(0.0) / (w * CUBIC_C)).cbrt();
        Curve {
            w,
            k,
            from,
            stretch,
        }
    }
    fn rate_at(&self, now: Instant) -> f64 {
        let t = now.saturating_duration_since(self.from).as_secs_f64() / self.stretch;
        self.w * (1.0 + CUBIC_C * (t - self.k).powi(3))
    }
}

/// The epoch's last answers kept (see `State::recent`): once noise is known a share of 429s
/// is judged on all of them, before on fewer.
const RECENT: usize = 100;
/// The answers a cut's share of 429s is counted over (see `cut`).
const SHARE_OF: usize = 50;
/// No second cut within this long of a cut (see `on_throttled_at`).
const COOLDOWN: Duration = Duration::from_secs(1);
/// The most a curve is stretched (see `Curve::stretch`).
const MAX_STRETCH: f64 = 8.0;
/// The answers the noise is learned from, and how many it takes before they speak.
const HISTORY: usize = 500;
const LEARN_AFTER: usize = 100;
/// How long what the server admitted at a cut (`State::proven`) speaks for its limit.
const PROVEN_FOR: Duration = Duration::from_secs(30);
/// A cut finds the limit "where the last one did" within this share of it.
const SAME_LIMIT: f64 = 0.1;

/// A cut made on a measured share of 429s, to be judged.
#[derive(Debug, Clone, Copy)]
struct Trial {
    rate_before: Option<f64>,
    curve_before: Option<Curve>,
    /// Made in slow start: if the 429s prove noise, slow start resumes from the trial's rate
    /// (the rate before the cut had run ahead of what the server was seen to admit).
    in_slow_start: bool,
    /// When the trial began: undone, the curve resumes where it stood then.
    since: Instant,
    /// Share of 429s in the epoch the cut ended, for the log (a trial needs `BASELINE`
    /// answers of it).
    share_before: f64,
}

/// What the server published about its budget.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    /// Requests that may still be reserved in this window.
    remaining: f64,
    /// When the window resets; `None` = not known yet (after rolling into a new window).
    reset_at: Option<Instant>,
    /// Requests per window, when published.
    limit: Option<f64>,
    /// Nothing of `remaining` goes out before this: once the allowance rolled into the next
    /// window, every later reservation waits for that window too (without a spacing rate,
    /// only the request that rolled it over would otherwise wait, the rest going at once).
    opens: Instant,
}

#[derive(Debug)]
struct State {
    /// `None` = unlimited (no spacing).
    rate: Option<f64>,
    slow_start: bool,
    /// Theoretical arrival time of the next request.
    tat: Instant,
    /// Start of the congestion epoch; answers to requests sent before it are of the old rate.
    epoch: Instant,
    /// The budget's first request: the admitted rate is measured from there at the earliest
    /// (a budget may sit idle for a long while after it was made, e.g. writes while a plan
    /// reads).
    first_ever: Option<Instant>,
    /// When successes were answered, `ADMITTED_HORIZON`'s worth, whatever epoch they were
    /// sent in (the server admitted them all): the admitted rate is what the server let
    /// through lately.
    admitted_log: VecDeque<Instant>,
    ok: u32,
    throttled: u32,
    /// Learned share of 429s that do not depend on the rate: pooled over the answers of every
    /// trial (held under the rate of a cut, so below any limit), once one showed noise.
    noise: f64,
    trial_answers: u32,
    trial_throttled: u32,
    /// Whether each of the last answers to requests sent under what the server was seen to
    /// admit was a 429 (see `learn`): once a trial showed noise, the noise is their share (a
    /// trial's few dozen answers guess it too low or too high).
    history: VecDeque<bool>,
    /// How many of `history` are 429s (counted as they come and go: `learn` runs on every
    /// answer).
    history_throttled: usize,
    /// The most the server was seen to admit (successes per second over a whole
    /// `ADMITTED_HORIZON`, at a cut) in the last `PROVEN_FOR`, and when.
    proven: Option<(f64, Instant)>,
    trial: Option<Trial>,
    curve: Option<Curve>,
    last_cut: Option<Instant>,
    /// The last pause the server imposed (see `on_throttled_at`): no time to count an
    /// admitted rate over.
    paused: Option<(Instant, Instant)>,
    /// The counts were started afresh after the last cut's `COOLDOWN` (see `settle`).
    settled: bool,
    /// Whether each of this epoch's last `RECENT` answers was a 429.
    recent: VecDeque<bool>,
    /// 429s of this epoch that came right after another: a fixed window refuses every
    /// request from its limit to its end, in a run; noise refuses one here and there.
    pairs: u32,
    last_growth: Instant,
    /// Requests reserved and not answered yet.
    outstanding: u32,
    allowance: Option<Allowance>,
    /// Reservations in the current and the previous second (the send rate of an unlimited
    /// budget, which is what a cut starts from).
    window_start: Instant,
    window_units: f64,
    previous: Option<(f64, f64)>,
    /// Highest rate the pacer reached (for the error when the budget is spent).
    peak: f64,
}

/// The rate-limit facts of one answer's headers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Published {
    pub limit: Option<f64>,
    pub remaining: Option<f64>,
    /// Seconds until the window resets.
    pub reset: Option<f64>,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<f64>,
}

/// One adaptive budget.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

impl State {
    fn measured_rate(&self, now: Instant) -> f64 {
        let current = now
            .saturating_duration_since(self.window_start)
            .as_secs_f64();
        match self.previous {
            Some((units, secs)) => (units + self.window_units) / (secs + current),
            None => self.window_units / current.max(0.02),
        }
    }

    fn note_unit(&mut self, now: Instant) {
        let since = now
            .saturating_duration_since(self.window_start)
            .as_secs_f64();
        if since >= 1.0 {
            self.previous = (since < 2.0).then_some((self.window_units, since));
            self.window_start = now;
            self.window_units = 0.0;
        }
        self.window_units += 1.0;
    }

    fn set_rate(&mut self, r: f64) {
        self.rate = (r <= UNLIMITED).then_some(r.max(MIN_RATE));
        self.peak = self.peak.max(r.min(UNLIMITED));
    }

    fn grow(&mut self, now: Instant) {
        // Idle time is no evidence that a higher rate is fine: the curve only advances by at
        // most a second between two requests.
        let idle = now.saturating_duration_since(self.last_growth);
        self.last_growth = now;
        if idle > Duration::from_secs(1) {
            if let Some(c) = &mut self.curve {
                c.from += idle - Duration::from_secs(1);
            }
        }
        if self.slow_start || self.trial.is_some() || self.rate.is_none() {
            return;
        }
        if let Some(c) = self.curve {
            self.set_rate(c.rate_at(now));
        }
    }

    fn new_epoch(&mut self, now: Instant) {
        self.epoch = now;
        self.restart_counts();
        self.last_growth = now;
    }

    /// The epoch's answers, 429s and runs of them, counted from zero.
    fn restart_counts(&mut self) {
        self.ok = 0;
        self.throttled = 0;
        self.recent.clear();
        self.pairs = 0;
    }

    /// How many of this epoch's last `n` answers were 429s.
    fn refused_of_last(&self, n: usize) -> usize {
        self.recent.iter().rev().take(n).filter(|t| **t).count()
    }

    /// Whether this epoch's 429s came one here and one there, not in runs (a window refuses
    /// every request from its limit to its end).
    fn scattered(&self) -> bool {
        self.pairs <= 1.max(self.throttled / 4)
    }

    /// Whether the 429s of this epoch are more than the learned noise explains.
    fn beyond_noise(&self) -> bool {
        let last = |n: usize| self.refused_of_last(n);
        if self.noise <= 0.0 {
            if self.slow_start {
                // Slow start doubles the rate: a limit it passed soon refuses a quarter of the
                // requests and more, or a window's every request in a run. A few percent of
                // random 429s bunch to three of 20 by chance, at hundreds of requests a second
                // every second or so, and slow start's cut goes to a fraction of the rate.
                return last(20) >= 5 || last(3) == 3;
            }
            // 429s close together (three of the last 20 answers, or five of 50): a limit passed
            // refuses many at once (a window all requests to its end, a bucket a share that
            // grows with the rate). A few percent of random 429s scatter theirs; counted over a
            // whole epoch they would bring three sooner or later, each time cutting a rate the
            // limit never refused.
            return last(20) >= 3 || last(50) >= 5;
        }
        // Judged on the last answers only: over a long epoch the noise of its clean seconds
        // would hide a probe's 429s until the rate was far past the limit. Over a hundred, and
        // two and a half standard deviations above the noise: checked on every 429, a looser
        // test cuts on the noise's chance bunches every few seconds, and each such cut takes the
        // rate a tenth under a limit the rate never reached.
        let n = self.recent.len();
        let k = last(n) as f64;
        let expected = self.noise * n as f64;
        k > expected + 2.5 * (expected * (1.0 - self.noise)).sqrt() + 1.0
    }

    fn cut(&mut self, now: Instant) {
        let from_slow_start = self.slow_start;
        let current = self.rate.unwrap_or_else(|| self.measured_rate(now));
        let elapsed = now
            .saturating_duration_since(self.first_ever.unwrap_or(self.epoch))
            .as_secs_f64()
            .min(ADMITTED_HORIZON);
        let n = self.ok + self.throttled;
        let horizon = now - Duration::from_secs_f64(ADMITTED_HORIZON);
        let recent = self.admitted_log.iter().filter(|t| **t >= horizon).count();
        let paused = self.paused.map_or(0.0, |(from, until)| {
            until
                .min(now)
                .saturating_duration_since(from.max(horizon))
                .as_secs_f64()
        });
        let elapsed_sending = elapsed - paused;
        let measured = elapsed_sending >= MEASURE_SECS && recent >= MEASURE_OK as usize;
        let raw = recent as f64 / elapsed_sending.max(MEASURE_SECS);
        if measured
            && elapsed >= ADMITTED_HORIZON
            && self
                .proven
                .is_none_or(|(p, at)| raw >= p || now.saturating_duration_since(at) > PROVEN_FOR)
        {
            self.proven = Some((raw, now));
        }
        let last = self.recent.len().min(SHARE_OF);
        let share = if last == 0 {
            0.0
        } else {
            self.refused_of_last(last) as f64 / last as f64
        };
        // Noise refuses a share of what the limit admitted; the limit itself is higher.
        let admitted = measured.then(|| raw / (1.0 - self.noise).max(0.5));
        // Measured over less than a second, what was admitted says little of a limit counted
        // per second (a fresh window or a full bucket let a burst through): the cut goes no
        // deeper than halving.
        let floor = match (elapsed < 1.0, self.slow_start) {
            (true, _) => 0.5,
            // Slow start may have run far past a limit; later a limit rarely drops by more
            // than a third at once, and an admitted rate counted over a pause the server asked
            // for understates it.
            (false, true) => MAX_CUT,
            (false, false) => STEADY_CUT,
        };
        // Past slow start the rate moved little over the last answers: a server that refused
        // a share of them admits at least the rest (what was admitted per second reads low
        // when requests sat out a `Retry-After` and were not sent).
        let held = if self.slow_start || last == 0 {
            0.0
        } else {
            (1.0 - share) * BELOW
        };
        let floor = floor.max(held);
        let target = match admitted {
            Some(a) => (a * BELOW).clamp(current * floor.min(MIN_CUT), current * MIN_CUT),
            None => current * 0.8,
        };
        // Once noise is known, a cut is judged by the share of 429s above it; a trial would
        // take the noise that stays after a genuine cut for a sign that the cut was useless.
        // A cut held above the admitted rate (slow start's floor) leaves the rate over the
        // limit: 429s that persist after it are the limit's, and judging them would learn the
        // limit's share (a third and more past a fixed window) as noise. So does a cut on an
        // admitted rate counted over less than `ADMITTED_HORIZON`, which may overstate a
        // window's limit.
        let above_limit = admitted.is_some_and(|a| target > a) || elapsed < ADMITTED_HORIZON;
        // Slow start's 429s came scattered and few: a limit it passed would refuse more with
        // every doubling, and in runs if a window; random 429s look like this. What was admitted
        // per second, counted over slow start's climb, is a fraction of the rate it reached, so
        // a cut to it would take an unlimited server's rate down to a fraction for good. The cut
        // is a tenth, on trial: noise resumes slow start, a limit's 429s keep coming (more
        // than `MAX_NOISE`, or in runs) and the rate then goes to the curve on what was admitted.
        let scattered = from_slow_start
            && self.noise <= 0.0
            && n >= BASELINE
            && self.scattered()
            && share < MAX_NOISE;
        let target = if scattered { current * MIN_CUT } else { target };
        self.trial =
            (self.noise <= 0.0 && n >= BASELINE && (!above_limit || scattered)).then(|| Trial {
                rate_before: self.rate,
                curve_before: self.curve,
                in_slow_start: from_slow_start,
                since: now,
                share_before: f64::from(self.throttled) / f64::from(n),
            });
        tracing::debug!(
            "pacer: {:.1} s in, cut from {current:.1}/s to {target:.1}/s (admitted {admitted:.1?}, {} of {n} answers 429, noise {:.3}{})",
            now.saturating_duration_since(self.first_ever.unwrap_or(now)).as_secs_f64(),
            self.throttled,
            self.noise,
            if self.trial.is_some() { ", on trial" } else { "" }
        );
        self.slow_start = false;
        self.last_cut = Some(now);
        self.settled = false;
        self.set_rate(target);
        let w = admitted.map_or(current, |a| a.min(current));
        let stretch = match self.curve {
            // A probe past the last limit that found it again (a cut on the plateau, or
            // below it, says nothing of where the limit is).
            Some(c)
                if current > c.w * (1.0 + SAME_LIMIT / 2.0)
                    && (w - c.w).abs() <= SAME_LIMIT * c.w =>
            {
                (c.stretch * 2.0).min(MAX_STRETCH)
            }
            // Out of slow start, what was admitted was counted over a climb that had not
            // reached the limit for long: it understates the limit, which is looked for
            // at twice the pace.
            None if from_slow_start => 0.5,
            _ => 1.0,
        };
        self.curve = Some(Curve::new(w, target, now, stretch));
        self.new_epoch(now);
        // Nothing goes out before the server had a breath.
        self.tat = self.tat.max(now);
    }

    /// Judges the cut on trial once enough answers came.
    fn judge(&mut self, now: Instant) {
        let Some(t) = self.trial else { return };
        let n = self.ok + self.throttled;
        if n < JUDGE_AFTER {
            return;
        }
        self.trial = None;
        let share = f64::from(self.throttled) / f64::from(n);
        self.trial_answers += n;
        self.trial_throttled += self.throttled;
        // Against a limit a cut under the admitted rate makes 429s vanish (the server admits
        // more than is sent); 429s that keep coming do not depend on the rate. Not "as often as
        // before": the share a cut was made on is high by selection (the cut came when 429s
        // bunched), and a noise taken for the limit this way spirals the rate down. Noise
        // learned from a limit's 429s is unlearned below the limit (see `learn`).
        // 429s in runs are a window's, whatever their share (a cut still above a window's
        // limit leaves it about as high).
        let scattered = self.scattered();
        tracing::debug!(
            "pacer: trial judged: {} of {n} answers 429 (before {:.3}), {} in runs",
            self.throttled,
            t.share_before,
            self.pairs
        );
        if self.throttled >= 2 && scattered && share < MAX_NOISE {
            // The share counted, less one standard error: a high guess lets the rate climb far
            // past a limit before its 429s stand out above the noise; a low one costs a
            // shallow cut now and then.
            let n = f64::from(self.trial_answers);
            let p = f64::from(self.trial_throttled) / n;
            self.noise = (p - (p * (1.0 - p) / n).sqrt()).max(0.001);
            if t.in_slow_start {
                self.slow_start = true;
                self.curve = None;
            } else {
                match t.rate_before {
                    Some(r) => self.set_rate(r),
                    None => self.rate = None,
                }
                // The curve's plateau is what the server admitted at an earlier cut, counted
                // before the noise was known: the noise had refused its share of that, and the
                // limit is that much higher.
                let noise = self.noise;
                self.curve = t.curve_before.map(|c| Curve {
                    from: c.from + now.saturating_duration_since(t.since),
                    w: c.w / (1.0 - noise),
                    ..c
                });
            }
            self.new_epoch(now);
        }
    }

    /// A second after a cut the counts start afresh: until then the server's window (sliding,
    /// or a bucket refilling) still holds what was sent before the cut and refuses for that,
    /// which says nothing of the new rate; a trial's share, or the next cut, counted over
    /// those answers would take the old rate's 429s for the new one's (or for noise).
    fn settle(&mut self, now: Instant) {
        if self.settled || self.last_cut.is_none_or(|t| now < t + COOLDOWN) {
            return;
        }
        self.settled = true;
        self.restart_counts();
    }

    /// Learns the noise from every answer since it showed (see `State::history`).
    fn learn(&mut self, now: Instant, throttled: bool, in_run: bool) {
        // Sent under what the server was seen to admit (the most at the last cuts), or no
        // higher than where the climb flattens: below its limit, so a 429 is not the limit's.
        // Not just the last cut's: a cut made on noise taken for the limit admits less each
        // time, and would shut out the very answers that tell it apart.
        let admitted = match self.proven {
            // As counted, the noise's refusals in: a noise guessed high does not lift the line
            // (that would let the limit's 429s in, lift the guess, and the line again).
            Some((p, at)) if now.saturating_duration_since(at) <= PROVEN_FOR => Some(p),
            _ => None,
        };
        let plateau = self.curve.map(|c| c.w);
        let under = self.rate.is_some_and(|r| {
            admitted.is_some_and(|a| r <= a * BELOW) || plateau.is_some_and(|w| r <= w)
        });
        // A 429 right after another is a window's (see `pairs`), not noise.
        if !self.settled || !under || in_run {
            return;
        }
        if self.history.len() == HISTORY && self.history.pop_front() == Some(true) {
            self.history_throttled -= 1;
        }
        self.history.push_back(throttled);
        self.history_throttled += usize::from(throttled);
        if self.noise > 0.0 && self.history.len() >= LEARN_AFTER {
            // Less one standard error, as a trial's: the noise also lifts what was admitted,
            // and a guess on the high side would lift the rate over the limit.
            let n = self.history.len() as f64;
            let p = self.history_throttled as f64 / n;
            self.noise = (p - (p * (1.0 - p) / n).sqrt()).clamp(0.001, MAX_NOISE);
        }
    }

    /// Counts an answer of this epoch; whether it is a 429 right after another (in a run).
    fn note_recent(&mut self, throttled: bool) -> bool {
        let in_run = throttled && self.recent.back() == Some(&true);
        if in_run {
            self.pairs += 1;
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(throttled);
        in_run
    }

    fn answered(&mut self) {
        self.outstanding = self.outstanding.saturating_sub(1);
    }
}

impl Pacer {
    pub fn new() -> Pacer {
        Pacer::starting_at(Instant::now())
    }

    /// A pacer whose clock starts at `now`.
    pub fn starting_at(now: Instant) -> Pacer {
        Pacer {
            state: Mutex::new(State {
                rate: Some(INITIAL_RATE),
                slow_start: true,
                tat: now,
                epoch: now,
                first_ever: None,
                admitted_log: VecDeque::new(),
                ok: 0,
                throttled: 0,
                noise: 0.0,
                trial_answers: 0,
                trial_throttled: 0,
                history: VecDeque::new(),
                history_throttled: 0,
                proven: None,
                trial: None,
                curve: None,
                last_cut: None,
                paused: None,
                settled: true,
                recent: VecDeque::new(),
                pairs: 0,
                last_growth: now,
                outstanding: 0,
                allowance: None,
                window_start: now,
                window_units: 0.0,
                previous: None,
                peak: INITIAL_RATE,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain numbers: a panic while holding the lock cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rate in force; `None` = unlimited.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    /// The highest rate reached so far.
    pub fn peak(&self) -> f64 {
        self.lock().peak
    }

    /// The share of 429s learned as noise.
    pub fn noise(&self) -> f64 {
        self.lock().noise
    }

    /// How long a request must wait, reserving its slot (and a unit of any published
    /// allowance); `Err(wait)` when a published allowance is spent and its reset is not known
    /// yet: nothing is reserved, ask again after `wait` (an answer in flight will tell).
    pub fn try_reserve(&self) -> Result<Duration, Duration> {
        self.try_reserve_at(Instant::now())
    }

    /// `try_reserve` at a given instant.
    pub fn try_reserve_at(&self, now: Instant) -> Result<Duration, Duration> {
        let mut s = self.lock();
        if let Some(a) = &s.allowance {
            let spent = a.remaining < 1.0 && a.reset_at.is_none_or(|t| now < t);
            if spent && a.reset_at.is_none() && s.outstanding > 0 {
                return Err(Duration::from_millis(20));
            }
        }
        s.grow(now);
        s.note_unit(now);
        let mut start = match s.rate {
            Some(_) => s.tat.max(now),
            None => now,
        };
        let outstanding = f64::from(s.outstanding);
        if let Some(a) = &mut s.allowance {
            start = start.max(a.opens);
            if let Some(t) = a.reset_at.filter(|t| start >= *t) {
                // A new window: its budget is the published limit, less what is still out
                // (which may yet be counted in it). Without a limit, one request finds out.
                a.remaining = a.limit.map_or(1.0, |l| l - outstanding);
                a.reset_at = None;
                a.opens = t;
            }
            if a.remaining < 1.0 {
                match a.reset_at {
                    Some(t) => {
                        start = start.max(t);
                        a.remaining = a.limit.map_or(1.0, |l| l - outstanding);
                        a.reset_at = None;
                        a.opens = t;
                    }
                    // Spent, reset unknown, nothing out to tell more (checked above when
                    // something is): one request finds out.
                    None => a.remaining = 1.0,
                }
            }
            a.remaining -= 1.0;
        }
        if let Some(r) = s.rate {
            s.tat = start + Duration::from_secs_f64(1.0 / r);
        }
        s.first_ever.get_or_insert(start);
        s.outstanding += 1;
        Ok(start - now)
    }

    /// Reserves a slot only when it is due (within `LOOKAHEAD`); `Err(wait)` = ask again then.
    ///
    /// A slot reserved long ahead is sent at the rate of its reservation: after a cut, every
    /// request already holding one (up to the `2 x parallelism` changes `apply` runs) would
    /// still go at the old rate, be answered 429, and, sent after the cut, count against the
    /// new one, so that a trial took them for noise or the pacer cut again. Waiting for the slot
    /// unreserved makes every cut and every growth apply to all waiting requests at once.
    pub fn try_take_at(&self, now: Instant) -> Result<Duration, Duration> {
        {
            let s = self.lock();
            if s.rate.is_some() && s.tat > now + LOOKAHEAD {
                return Err(s.tat - now - LOOKAHEAD);
            }
        }
        self.try_reserve_at(now)
    }

    /// Waits until a request may go.
    pub async fn acquire(&self) {
        loop {
            match self.try_take_at(Instant::now()) {
                Ok(wait) => {
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    return;
                }
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// A request sent at `sent` succeeded.
    pub fn on_success(&self, sent: Instant, published: Published) {
        self.on_success_at(Instant::now(), sent, published);
    }

    pub fn on_success_at(&self, now: Instant, sent: Instant, published: Published) {
        let mut s = self.lock();
        s.answered();
        Self::note_published(&mut s, now, published);
        s.admitted_log.push_back(now);
        let horizon = now - Duration::from_secs_f64(ADMITTED_HORIZON);
        while s.admitted_log.front().is_some_and(|t| *t < horizon) {
            s.admitted_log.pop_front();
        }
        if sent < s.epoch {
            return;
        }
        s.settle(now);
        s.ok += 1;
        s.note_recent(false);
        s.learn(now, false, false);
        if s.slow_start {
            if let Some(r) = s.rate {
                s.set_rate(r * 2f64.powf(1.0 / (r * SLOW_START_DOUBLING)));
            }
        }
        s.judge(now);
    }

    /// A request sent at `sent` was answered 429.
    pub fn on_throttled(&self, sent: Instant, published: Published) {
        self.on_throttled_at(Instant::now(), sent, published);
    }

    pub fn on_throttled_at(&self, now: Instant, sent: Instant, published: Published) {
        let mut s = self.lock();
        s.answered();
        Self::note_published(&mut s, now, published);
        if sent < s.epoch {
            // Sent at the rate before the last cut: says nothing about the present one.
            return;
        }
        s.settle(now);
        s.throttled += 1;
        let in_run = s.note_recent(true);
        s.learn(now, true, in_run);
        if s.ok == 0 && s.throttled >= 2 && !s.slow_start {
            // Nothing admitted since the cut: the server's budget is spent for now (a fixed
            // window runs until its reset whatever the rate), so cutting again would only
            // punish the rate for a wait. Pause until the server said to retry, and count
            // from there.
            let wait = published.retry_after.unwrap_or(1.0).clamp(0.05, 60.0);
            let until = now + Duration::from_secs_f64(wait);
            s.tat = s.tat.max(until);
            s.paused = Some((now, until));
            s.new_epoch(until);
            return;
        }
        if s.trial.is_some() {
            s.judge(now);
        }
        let n = s.ok + s.throttled;
        if s.trial.is_some() && f64::from(s.throttled) < SEVERE * f64::from(n) {
            return;
        }
        // One cut per window: for a second after a cut the server's window (sliding, or a
        // bucket refilling) still holds what was sent before it, and refuses for that.
        if s.last_cut
            .is_some_and(|t| now.saturating_duration_since(t) < COOLDOWN)
        {
            return;
        }
        if s.beyond_noise() {
            s.cut(now);
        }
    }

    /// A request got no answer that speaks of the rate (a network error, a 5xx).
    pub fn on_other(&self) {
        self.lock().answered();
    }

    fn note_published(s: &mut State, now: Instant, p: Published) {
        let Some(remaining) = p.remaining else { return };
        // The others out may not have been counted by the server yet.
        let others = f64::from(s.outstanding);
        let fresh = Allowance {
            remaining: remaining - others,
            reset_at: p.reset.map(|r| now + Duration::from_secs_f64(r.max(0.0))),
            limit: p.limit,
            opens: now,
        };
        s.allowance = Some(match s.allowance {
            Some(old) => match (old.reset_at, fresh.reset_at) {
                // A later window than the one known: it replaces it.
                (Some(o), Some(f)) if f > o + Duration::from_millis(500) => fresh,
                // An answer from an earlier window, arriving late: it says nothing now.
                (Some(o), Some(f)) if f + Duration::from_millis(500) < o => old,
                // Rolled over at `opens`: a reset about then is the window just left, whose
                // answers arrive late; taking it would roll over into a full budget again.
                (None, Some(f)) if f <= old.opens + Duration::from_millis(500) => old,
                // The same window: the lower count is the safe one.
                _ => Allowance {
                    remaining: old.remaining.min(fresh.remaining),
                    reset_at: match (old.reset_at, fresh.reset_at) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    },
                    limit: fresh.limit.or(old.limit),
                    opens: old.opens,
                },
            },
            None => fresh,
        });
    }
}

/// Reads `RateLimit-Limit`/`-Remaining`/`-Reset` (IETF draft) or their `X-RateLimit-*` forms.
/// A reset above 10^9 is a Unix time (GitHub's form), `now_unix` converts it to seconds.
pub fn published(headers: &reqwest::header::HeaderMap, now_unix: f64) -> Published {
    let num = |names: [&str; 2]| {
        names.iter().find_map(|n| {
            headers
                .get(*n)
                .and_then(|v| v.to_str().ok())
                // `RateLimit-Limit: 25, 25;w=1` (a policy list): the first number counts.
                .and_then(|v| v.split([',', ';']).next())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
        })
    };
    let reset = num(["ratelimit-reset", "x-ratelimit-reset"]).map(|r| {
        if r > 1e9 {
            (r - now_unix).max(0.0)
        } else {
            r
        }
    });
    Published {
        limit: num(["ratelimit-limit", "x-ratelimit-limit"]),
        remaining: num(["ratelimit-remaining", "x-ratelimit-remaining"]),
        reset,
        retry_after: headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::scim::client::parse_retry_after)
            .map(|d| d.as_secs_f64()),
    }
}

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
