//! The feedback loops driven by a scripted clock, and a simulated token-bucket server that
//! shows the rate converging on a limit it was never told.

use super::*;

fn at(base: Instant, ms: u64) -> Instant {
    base + Duration::from_millis(ms)
}

/// One answered request of `latency`, then an update.
fn observe(limit: &mut InFlightLimit, latency: Duration, rate: Option<f64>, now: Instant) {
    limit.answered(latency);
    limit.busy(latency, true);
    limit.update(rate, now);
}

#[test]
fn under_a_rate_the_in_flight_limit_follows_littles_law() {
    let base = Instant::now();
    let mut slow = InFlightLimit::new(256, Some(500.0));
    for n in 0..50 {
        observe(
            &mut slow,
            Duration::from_millis(400),
            Some(500.0),
            at(base, n * 100),
        );
    }
    assert!(slow.current() >= 200, "500/s × 0.4 s needs 200 in flight");
    let mut fast = InFlightLimit::new(256, Some(200.0));
    for n in 0..50 {
        observe(
            &mut fast,
            Duration::from_millis(50),
            Some(200.0),
            at(base, n * 100),
        );
    }
    let needed = 200 * 50 / 1000;
    assert!((needed..=needed * 2 + 5).contains(&fast.current()));
}

#[test]
fn a_request_is_presumed_stalled_after_a_few_times_the_average_latency() {
    let base = Instant::now();
    let mut limit = InFlightLimit::new(256, Some(500.0));
    assert_eq!(
        limit.overdue_after(),
        ASSUMED_LATENCY * 4,
        "before any answer"
    );
    for n in 0..50 {
        observe(
            &mut limit,
            Duration::from_millis(400),
            None,
            at(base, n * 100),
        );
    }
    assert_eq!(limit.overdue_after().as_millis(), 1600);
    let mut fast = InFlightLimit::new(256, None);
    observe(&mut fast, Duration::from_millis(2), None, base);
    assert_eq!(
        fast.overdue_after(),
        OVERDUE_FLOOR,
        "a busy moment is no stall"
    );
}

#[test]
fn documents_that_time_out_or_sleep_before_a_retry_count_as_holding_their_turn() {
    let base = Instant::now();
    let mut limit = InFlightLimit::new(256, Some(600.0));
    for n in 0..50 {
        for _ in 0..99 {
            limit.answered(Duration::from_millis(1));
            limit.busy(Duration::from_millis(1), true);
        }
        // One request in a hundred stalls for 2 s, and one retry waits 250 ms.
        limit.busy(Duration::from_secs(2), true);
        limit.busy(Duration::from_millis(250), false);
        limit.update(Some(600.0), at(base, n * 100));
    }
    // 600/s × ~23 ms a request: about 14 documents busy, beyond the 1 ms answers' 1.
    assert!(limit.current() >= 18, "{}", limit.current());
}

#[test]
fn the_in_flight_limit_never_exceeds_the_cap() {
    let base = Instant::now();
    let mut limit = InFlightLimit::new(16, Some(1000.0));
    assert_eq!(limit.current(), 16);
    for n in 0..50 {
        observe(
            &mut limit,
            Duration::from_secs(2),
            Some(1000.0),
            at(base, n * 100),
        );
    }
    assert_eq!(limit.current(), 16);
}

#[test]
fn without_a_rate_the_limit_grows_while_latency_holds_and_shrinks_when_it_climbs() {
    let base = Instant::now();
    let mut limit = InFlightLimit::new(256, None);
    let start = limit.current();
    for n in 0..30 {
        observe(
            &mut limit,
            Duration::from_millis(2),
            None,
            at(base, n * 100),
        );
    }
    let grown = limit.current();
    assert!(grown > start * 4, "grew from {start} to {grown}");
    for n in 30..80 {
        observe(
            &mut limit,
            Duration::from_millis(200),
            None,
            at(base, n * 100),
        );
    }
    assert!(limit.current() < grown / 4, "shrank to {}", limit.current());
}

/// A client that answers in microseconds but spends 31 µs of its own on each answer, as
/// refsync against the emulator on this machine: every request more in flight waits 31 µs
/// more inside the client. The limit must settle where that queue is about a millisecond,
/// not climb to the cap while it stays under a few.
#[test]
fn without_a_rate_on_a_fast_link_the_limit_stops_where_requests_queue_in_the_client() {
    let base = Instant::now();
    let mut limit = InFlightLimit::new(256, None);
    let own_time = Duration::from_micros(31);
    limit.answered(Duration::from_micros(40));
    for n in 0..200 {
        let queued = own_time * limit.current() as u32;
        for _ in 0..20 {
            limit.answered(queued);
        }
        limit.update(None, at(base, n * 100));
    }
    let settled = limit.current();
    assert!((16..=64).contains(&settled), "settled at {settled}");
}

#[test]
fn a_429_cuts_below_what_was_sent_and_the_rate_climbs_back_to_the_ceiling() {
    let base = Instant::now();
    let mut rate = AdaptiveRate::new(Some(500.0));
    for n in 0..1000 {
        rate.started(at(base, n * 2));
    }
    let cut = rate.throttled(at(base, 2000)).expect("a cut");
    assert!(cut < 500.0 * 0.9, "cut to {cut}");
    for n in 1..=200 {
        rate.started(at(base, 2000 + n * 50));
        rate.answered(at(base, 2000 + n * 50));
    }
    let back = rate.current().expect("a rate");
    assert!(back > 480.0 && back <= 500.0, "back at {back}");
}

#[test]
fn the_429s_of_one_wave_cut_the_rate_once() {
    let base = Instant::now();
    let mut rate = AdaptiveRate::new(Some(100.0));
    let first = rate.throttled(at(base, 0));
    assert!(first.is_some());
    assert_eq!(rate.throttled(at(base, 100)), None);
    assert!(rate.throttled(at(base, 900)).is_some());
}

#[test]
fn an_unlimited_run_gets_a_rate_from_what_it_sent_at_its_first_429() {
    let base = Instant::now();
    let mut rate = AdaptiveRate::new(None);
    assert_eq!(rate.current(), None);
    for n in 0..600 {
        rate.started(at(base, n));
    }
    let cut = rate.throttled(at(base, 600)).expect("a cut");
    assert!((700.0..=1000.0).contains(&cut), "1000/s sent, cut to {cut}");
}

/// A server that allows `limit` requests per second from a bucket holding `limit`.
struct BucketServer {
    limit: f64,
    tokens: f64,
    last: Instant,
}

impl BucketServer {
    fn admits(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.last).as_secs_f64() * self.limit;
        self.tokens = (self.tokens + refill).min(self.limit);
        self.last = now;
        let admitted = self.tokens >= 1.0;
        self.tokens -= f64::from(u8::from(admitted));
        admitted
    }
}

/// What a simulated run did: seconds taken, 429s, and the lowest and highest rate in
/// force over its second half.
struct Simulated {
    seconds: f64,
    throttled: u32,
    late_range: (f64, f64),
}

/// Sends `documents` at a client ceiling of 500/s to a server limited to 150/s, pausing
/// one second on every 429 as the pacer does.
fn simulate(documents: u32) -> Simulated {
    let base = Instant::now();
    let mut server = BucketServer {
        limit: 150.0,
        tokens: 150.0,
        last: base,
    };
    let mut rate = AdaptiveRate::new(Some(500.0));
    let (mut done, mut throttled) = (0, 0);
    let mut late_range = (f64::INFINITY, 0.0_f64);
    let mut now = base;
    while done < documents {
        rate.started(now);
        if server.admits(now) {
            done += 1;
            rate.answered(now);
            let per_second = rate.current().unwrap_or(f64::INFINITY);
            if done > documents / 2 {
                late_range = (late_range.0.min(per_second), late_range.1.max(per_second));
            }
            now += Duration::from_secs_f64(1.0 / per_second);
        } else {
            throttled += 1;
            rate.throttled(now);
            now += Duration::from_secs(1);
            rate.resumed(now);
        }
    }
    Simulated {
        seconds: now.duration_since(base).as_secs_f64(),
        throttled,
        late_range,
    }
}

#[test]
fn the_rate_converges_on_an_unknown_server_limit_with_few_429s() {
    let run = simulate(6000);
    let achieved = 6000.0 / run.seconds;
    assert!(achieved >= 0.9 * 150.0, "{achieved:.1}/s");
    assert!(run.throttled <= 120, "{} answers were 429", run.throttled);
    let (low, high) = run.late_range;
    assert!(
        low >= 0.8 * 150.0 && high <= 1.3 * 150.0,
        "settled between {low:.0}/s and {high:.0}/s, not around 150/s"
    );
}

#[test]
fn a_429_never_lifts_a_slow_rate_above_itself() {
    let base = Instant::now();
    let per_hour = 5.0 / 3600.0;
    let mut rate = AdaptiveRate::new(Some(per_hour));
    let cut = rate.throttled(at(base, 0)).expect("a cut");
    assert!(cut < per_hour, "cut to {cut}/s");
}

#[test]
fn a_rate_cut_by_429s_at_the_start_climbs_back_once_the_server_allows_it() {
    // The first two requests are answered 429 with a pause of a second each; every
    // later one is accepted. At 20/s, 200 documents take 10 s without the 429s.
    let base = Instant::now();
    let mut rate = AdaptiveRate::new(Some(20.0));
    let mut now = base;
    let (mut done, mut requests) = (0, 0);
    while done < 200 {
        rate.started(now);
        requests += 1;
        if requests <= 2 {
            rate.throttled(now);
            now += Duration::from_secs(1);
            rate.resumed(now);
            continue;
        }
        done += 1;
        rate.answered(now);
        now += Duration::from_secs_f64(1.0 / rate.current().expect("a rate"));
    }
    let seconds = now.duration_since(base).as_secs_f64();
    assert!(seconds < 25.0, "200 documents took {seconds:.1}s");
    let end = rate.current().expect("a rate");
    assert!(end >= 19.0, "the rate ended at {end:.1}/s");
}

#[test]
fn a_probe_held_back_by_a_slow_client_starts_slow_once_it_keeps_up() {
    let base = Instant::now();
    // Unlimited, sending 1000/s when the 429 comes.
    let mut rate = AdaptiveRate::new(None);
    for n in 0..1000 {
        rate.started(at(base, n));
    }
    rate.throttled(at(base, 1000));
    let probed = rate.current().expect("a rate");
    // Thirty seconds in which the client sends at a tenth of its rate: no probe.
    let mut ms = 1000;
    while ms < 30_000 {
        ms += 100;
        rate.started(at(base, ms));
        rate.answered(at(base, ms));
    }
    // It climbs back to the rate throttled, but probes no further.
    let held = rate.current().expect("a rate");
    assert!(
        held > probed && held <= 1001.0,
        "{probed:.1} became {held:.1}"
    );
    // Then it keeps up: the probe grows at its first pace, not at its fastest.
    let gap = (1000.0 / held) as u64;
    for _ in 0..2000 {
        ms += gap.max(1);
        rate.started(at(base, ms));
        rate.answered(at(base, ms));
        if at(base, ms).duration_since(at(base, 31_000)) >= Duration::from_secs(2) {
            break;
        }
    }
    let after = rate.current().expect("a rate");
    assert!(
        after <= held * 1.1,
        "{held:.1} jumped to {after:.1} in two seconds"
    );
}
