//! A process's resource use as Linux reports it in `/proc`: resident memory and CPU time. The
//! metrics endpoint reports the node's own; `aether devnet status` its validators'.

/// A process's memory figure `field` (`VmRSS` now, `VmHWM` its peak) in KiB, from
/// `/proc/<pid>/status`; `pid` is a number or `self`. None where there is no `/proc`.
pub fn memory_kib(pid: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The CPU time a process used so far (user and system, all threads), from
/// `/proc/<pid>/stat` (in Linux's fixed 100 ticks per second); `pid` is a number or `self`.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start with the state, field 3;
    // utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_resident_memory_and_cpu_time() {
        // Burn a little CPU so that the figure cannot be zero at 100 ticks a second.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(30) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let rss = memory_kib("self", "VmRSS").expect("VmRSS");
        assert!(rss > 100, "a test process holds more than 100 KiB: {rss}");
        let cpu = cpu_seconds("self").expect("stat");
        assert!(cpu > 0.0, "{cpu}");
        assert!(memory_kib("self", "NoSuchField").is_none());
    }
}
