//! Crash safety of `DurableRecord` (consensus safety data): a child stores numbered records in
//! a loop and is killed with SIGKILL at pseudo-random points. After every kill the record is
//! whole and holds the last number the child reported stored, or the one after (stored, not
//! yet reported): never an older one, never a damaged one. 20 kills by default;
//! `AETHER_CRASH_KILLS` for more. (SIGKILL tests the rename protocol; power loss is what the
//! fsyncs are for, which a test cannot cut.)

use aether_storage::durable::DurableRecord;
use aether_tests::kill::{KillClock, kills, run_then_kill};

#[test]
fn a_killed_writer_leaves_the_last_record_it_stored_whole() {
    let kills = kills(20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("safety");
    let mut last_seen = 0u64;
    let mut clock = KillClock::new(0x2545_f491_4f6c_dd1d, 20, 120);
    for kill in 0..kills {
        let (_, lines) = run_then_kill(
            env!("CARGO_BIN_EXE_aether-durable-crash"),
            &path,
            clock.next_delay(),
        );
        let reported = lines
            .iter()
            .filter_map(|l| l.parse::<u64>().ok())
            .next_back()
            .unwrap_or(last_seen);
        // The child is dead, so its lock is released.
        let stored = DurableRecord::open(&path)
            .unwrap_or_else(|e| panic!("kill {kill}: {e}"))
            .load()
            .unwrap_or_else(|e| panic!("kill {kill}: {e}"))
            .expect("a record after the first run");
        let n = u64::from_le_bytes(stored[..8].try_into().unwrap());
        assert!(
            n == reported || n == reported + 1,
            "kill {kill}: the record holds {n}, the child reported {reported}"
        );
        assert!(
            n >= last_seen,
            "kill {kill}: went back from {last_seen} to {n}"
        );
        assert_eq!(stored.len(), 308, "kill {kill}: record {n} is not whole");
        last_seen = n;
    }
    assert!(
        last_seen > u64::from(kills),
        "the child barely stored anything: {last_seen}"
    );
}
