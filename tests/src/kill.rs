//! Running a child process and killing it with SIGKILL at a pseudo-random moment, for the crash
//! tests: the child prints a line after each durable step, the test checks what survived.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// How many kills a crash test makes: `AETHER_CRASH_KILLS`, or `default`.
pub fn kills(default: u32) -> u32 {
    std::env::var("AETHER_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(default)
}

/// Kill times drawn from a fixed seed (xorshift64), so a run is reproducible.
pub struct KillClock {
    state: u64,
    min_ms: u64,
    spread_ms: u64,
}

impl KillClock {
    /// Delays of `min_ms` plus up to `spread_ms`.
    pub fn new(seed: u64, min_ms: u64, spread_ms: u64) -> Self {
        Self {
            state: seed | 1,
            min_ms,
            spread_ms: spread_ms.max(1),
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        Duration::from_millis(self.min_ms + self.state % self.spread_ms)
    }
}

/// Starts `bin` with `arg`, lets it run for `delay`, kills it with SIGKILL and returns how it
/// ended and the lines it printed. Panics if it ended by itself (a crash test's child loops
/// until killed).
pub fn run_then_kill(bin: &str, arg: &Path, delay: Duration) -> (ExitStatus, Vec<String>) {
    let mut child = Command::new(bin)
        .arg(arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the crash child");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("wait for the child");
    assert!(!status.success(), "the child stopped by itself: {status}");
    (status, reader.join().expect("stdout reader"))
}
