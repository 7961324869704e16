//! The sampler: warm up, size the batches, take samples, and summarise them as a median with a
//! distribution-free 95% confidence interval.

use std::time::{Duration, Instant};

/// One timed routine. `run(n)` performs `n` iterations and returns the time they took; work
/// that is not part of the measurement (preparing the next block, say) may happen inside it
/// as long as it is left out of the returned time.
pub trait Routine {
    /// Runs `iters` iterations; returns the measured time.
    fn run(&mut self, iters: u64) -> Result<Duration, String>;
}

/// Any closure `FnMut(u64) -> Result<Duration, String>` is a routine.
impl<F: FnMut(u64) -> Result<Duration, String>> Routine for F {
    fn run(&mut self, iters: u64) -> Result<Duration, String> {
        self(iters)
    }
}

/// Runs `f` `iters` times and times the whole loop: the routine of most workloads.
pub fn timed(iters: u64, mut f: impl FnMut() -> Result<(), String>) -> Result<Duration, String> {
    let start = Instant::now();
    for _ in 0..iters {
        f()?;
    }
    Ok(start.elapsed())
}

/// How long to sample.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Time spent warming up (also used to estimate the time per iteration).
    pub warm_up: Duration,
    /// Time spent measuring, spread over the samples.
    pub measure: Duration,
    /// Samples wanted.
    pub samples: usize,
    /// Fewest samples taken, however slow an iteration is.
    pub min_samples: usize,
}

impl Plan {
    /// The full suite's plan.
    pub const FULL: Plan = Plan {
        warm_up: Duration::from_millis(500),
        measure: Duration::from_secs(3),
        samples: 40,
        min_samples: 10,
    };
    /// `--quick`: enough to check that everything runs, not to compare figures closely.
    pub const QUICK: Plan = Plan {
        warm_up: Duration::from_millis(30),
        measure: Duration::from_millis(150),
        samples: 10,
        min_samples: 3,
    };
}

/// A routine's measurement: the time of one iteration.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Median time per iteration, in nanoseconds.
    pub median_ns: f64,
    /// Lower bound of the 95% confidence interval of the median.
    pub ci_low_ns: f64,
    /// Upper bound of the 95% confidence interval of the median.
    pub ci_high_ns: f64,
    /// Samples taken.
    pub samples: usize,
    /// Iterations per sample.
    pub iterations_per_sample: u64,
}

/// Measures `routine` under `plan`.
pub fn measure(routine: &mut dyn Routine, plan: Plan) -> Result<Summary, String> {
    // Warm up with growing batches until the warm-up time is spent; the last batch gives the
    // time per iteration.
    let mut iters = 1u64;
    let mut spent = Duration::ZERO;
    let mut per_iter;
    loop {
        let t = routine.run(iters)?;
        spent += t;
        per_iter = t.as_secs_f64() / iters as f64;
        if spent >= plan.warm_up || iters >= 1 << 30 {
            break;
        }
        iters *= 2;
    }
    // As many samples as fit in the measurement time (at least `min_samples`), each of as many
    // iterations as make it last measure / samples.
    let per_sample = plan.measure.as_secs_f64() / plan.samples as f64;
    let batch = ((per_sample / per_iter.max(1e-9)) as u64).max(1);
    let samples = if batch == 1 {
        ((plan.measure.as_secs_f64() / per_iter.max(1e-9)) as usize)
            .clamp(plan.min_samples, plan.samples)
    } else {
        plan.samples
    };
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = routine.run(batch)?;
        times.push(t.as_secs_f64() * 1e9 / batch as f64);
    }
    Ok(summarise(times, batch))
}

/// Median and its 95% confidence interval from per-iteration times: the order statistics at
/// ranks n/2 ∓ 0.98·√n (the binomial interval of the median, which assumes nothing about the
/// distribution).
pub fn summarise(mut times: Vec<f64>, iterations_per_sample: u64) -> Summary {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    if n == 0 {
        return Summary {
            median_ns: 0.0,
            ci_low_ns: 0.0,
            ci_high_ns: 0.0,
            samples: 0,
            iterations_per_sample,
        };
    }
    let median = if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2.0
    };
    let half = 0.98 * (n as f64).sqrt();
    let low = ((n as f64 / 2.0 - half).floor().max(0.0) as usize).min(n - 1);
    let high = ((n as f64 / 2.0 + half).ceil() as usize).min(n - 1);
    Summary {
        median_ns: median,
        ci_low_ns: times[low].min(median),
        ci_high_ns: times[high].max(median),
        samples: n,
        iterations_per_sample,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_and_its_interval_come_from_the_order_statistics() {
        let s = summarise((1..=101).map(f64::from).collect(), 1);
        assert_eq!(s.median_ns, 51.0);
        // ranks 50.5 ∓ 9.85, rounded outwards: 40 and 61 (0-based), values 41 and 62.
        assert_eq!((s.ci_low_ns, s.ci_high_ns), (41.0, 62.0));
        let even = summarise(vec![4.0, 1.0, 3.0, 2.0], 1);
        assert_eq!(even.median_ns, 2.5);
        assert!(even.ci_low_ns <= 2.5 && even.ci_high_ns >= 2.5);
    }

    #[test]
    fn a_slow_routine_still_gets_the_fewest_samples() {
        let mut calls = 0;
        let mut slow = |iters: u64| {
            calls += 1;
            Ok(Duration::from_millis(100) * iters as u32)
        };
        let s = measure(&mut slow, Plan::QUICK).unwrap();
        assert_eq!(s.iterations_per_sample, 1);
        assert_eq!(s.samples, Plan::QUICK.min_samples);
        assert!((s.median_ns - 1e8).abs() < 1.0);
    }

    #[test]
    fn a_fast_routine_is_batched() {
        let mut fast = |iters: u64| Ok(Duration::from_nanos(100) * iters as u32);
        let s = measure(&mut fast, Plan::QUICK).unwrap();
        assert!(s.iterations_per_sample > 1);
        assert_eq!(s.samples, Plan::QUICK.samples);
        assert!((s.median_ns - 100.0).abs() < 1.0);
    }

    #[test]
    fn a_failing_routine_is_an_error() {
        let mut failing = |_iters: u64| Err::<Duration, _>("broken".to_string());
        assert_eq!(measure(&mut failing, Plan::QUICK), Err("broken".into()));
    }
}
