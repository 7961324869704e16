//! The single-node dev sealer: one block every block time, final as soon as it is committed.

use aether_engine::ports::{Consensus, ConsensusInput, ConsensusOutput};

/// Seals a block every `block_time_ms` on a single node. A block is final once committed (there
/// is nobody to disagree). Timestamps strictly increase even if the clock stalls or steps back.
#[derive(Clone, Debug)]
pub struct DevSealer {
    block_time_ms: u64,
    /// Height of the next block.
    next_height: u64,
    /// Timestamp of the last committed block.
    last_timestamp_ms: Option<u64>,
    /// A proposal is out and not yet committed.
    awaiting: bool,
    finalized: Option<u64>,
}

impl DevSealer {
    /// A sealer for a chain whose head is at `head` (`None`: nothing committed yet, not even
    /// genesis).
    pub fn new(block_time_ms: u64, head: Option<(u64, u64)>) -> Self {
        Self {
            block_time_ms: block_time_ms.max(1),
            next_height: head.map_or(0, |(h, _)| h + 1),
            last_timestamp_ms: head.map(|(_, t)| t),
            awaiting: false,
            finalized: head.map(|(h, _)| h),
        }
    }

    /// The block time.
    pub fn block_time_ms(&self) -> u64 {
        self.block_time_ms
    }
}

impl Consensus for DevSealer {
    fn handle(&mut self, input: ConsensusInput) -> Vec<ConsensusOutput> {
        match input {
            ConsensusInput::Tick { now_ms } => {
                if self.awaiting {
                    return Vec::new();
                }
                let due = self
                    .last_timestamp_ms
                    .map_or(0, |t| t.saturating_add(self.block_time_ms));
                if now_ms < due {
                    return Vec::new();
                }
                let timestamp_ms = match self.last_timestamp_ms {
                    Some(last) => now_ms.max(last + 1),
                    None => now_ms,
                };
                self.awaiting = true;
                vec![ConsensusOutput::Propose {
                    height: self.next_height,
                    timestamp_ms,
                }]
            }
            ConsensusInput::Committed { header } => {
                self.awaiting = false;
                self.next_height = header.height + 1;
                self.last_timestamp_ms = Some(header.timestamp_ms);
                self.finalized = Some(header.height);
                vec![ConsensusOutput::Finalized {
                    height: header.height,
                }]
            }
            // A single node has no peers to hear from.
            ConsensusInput::Message { .. } => Vec::new(),
        }
    }

    fn finalized_height(&self) -> Option<u64> {
        self.finalized
    }

    fn name(&self) -> &'static str {
        "dev-sealer"
    }
}

#[cfg(test)]
mod tests {
    use aether_engine::types::BlockHeader;

    use super::*;

    fn committed(height: u64, timestamp_ms: u64) -> ConsensusInput {
        ConsensusInput::Committed {
            header: BlockHeader {
                height,
                timestamp_ms,
                ..BlockHeader::default()
            },
        }
    }

    #[test]
    fn proposes_once_per_block_time_and_waits_for_the_commit() {
        let mut s = DevSealer::new(1_000, Some((0, 5_000)));
        assert!(s.handle(ConsensusInput::Tick { now_ms: 5_999 }).is_empty());
        assert_eq!(
            s.handle(ConsensusInput::Tick { now_ms: 6_000 }),
            vec![ConsensusOutput::Propose {
                height: 1,
                timestamp_ms: 6_000
            }]
        );
        // Nothing more until the proposal is committed.
        assert!(s.handle(ConsensusInput::Tick { now_ms: 9_000 }).is_empty());
        assert_eq!(
            s.handle(committed(1, 6_000)),
            vec![ConsensusOutput::Finalized { height: 1 }]
        );
        assert_eq!(s.finalized_height(), Some(1));
        assert!(s.handle(ConsensusInput::Tick { now_ms: 6_500 }).is_empty());
        assert_eq!(
            s.handle(ConsensusInput::Tick { now_ms: 7_200 }),
            vec![ConsensusOutput::Propose {
                height: 2,
                timestamp_ms: 7_200
            }]
        );
    }

    #[test]
    fn timestamps_increase_even_when_the_clock_goes_back() {
        let mut s = DevSealer::new(1, Some((3, 10_000)));
        assert_eq!(
            s.handle(ConsensusInput::Tick { now_ms: 10_001 }),
            vec![ConsensusOutput::Propose {
                height: 4,
                timestamp_ms: 10_001
            }]
        );
        s.handle(committed(4, 10_001));
        // The clock stepped back below the last timestamp plus the block time: not due yet.
        assert!(s.handle(ConsensusInput::Tick { now_ms: 9_000 }).is_empty());
    }

    #[test]
    fn an_empty_chain_starts_with_genesis_at_once() {
        let mut s = DevSealer::new(1_000, None);
        assert_eq!(s.finalized_height(), None);
        assert_eq!(
            s.handle(ConsensusInput::Tick { now_ms: 42 }),
            vec![ConsensusOutput::Propose {
                height: 0,
                timestamp_ms: 42
            }]
        );
        assert!(
            s.handle(ConsensusInput::Message {
                from: aether_engine::ports::PeerId(vec![1]),
                payload: vec![]
            })
            .is_empty()
        );
    }
}
