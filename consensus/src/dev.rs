//! The single-node dev sealer: a one-validator chain on the same build → verify → commit path
//! as HotStuff. One block every block time, final as soon as it is committed.

use aether_engine::ports::{BlockId, Consensus, ConsensusInput, ConsensusOutput, Verdict};
use aether_engine::types::{Address, BlockHeader};

/// Where the sealer is in the life of its current block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Waiting for the next block time.
    Idle,
    /// Asked the node to build a block.
    Building,
    /// Asked the node to verify the block it built.
    Verifying(BlockId),
    /// Asked the node to commit it.
    Committing(BlockId),
}

/// Seals a block every `block_time_ms` on a single node: builds it on the head, verifies it
/// (the node knows it at once: it built it), commits it with an empty proof (there is nobody to
/// certify it). A block is final once committed. Timestamps strictly increase even if the
/// clock stalls or steps back.
#[derive(Clone, Debug)]
pub struct DevSealer {
    block_time_ms: u64,
    proposer: Address,
    head: BlockId,
    head_height: u64,
    head_timestamp_ms: u64,
    stage: Stage,
    finalized: u64,
}

impl DevSealer {
    /// A sealer for a chain whose committed head is `head`, proposing as `proposer` (who
    /// receives the fees).
    pub fn new(block_time_ms: u64, proposer: Address, head: &BlockHeader) -> Self {
        Self {
            block_time_ms: block_time_ms.max(1),
            proposer,
            head: head.hash(),
            head_height: head.height,
            head_timestamp_ms: head.timestamp_ms,
            stage: Stage::Idle,
            finalized: head.height,
        }
    }

    /// The block time.
    pub fn block_time_ms(&self) -> u64 {
        self.block_time_ms
    }

    fn tick(&mut self, now_ms: u64) -> Vec<ConsensusOutput> {
        if self.stage != Stage::Idle {
            return Vec::new();
        }
        if now_ms < self.head_timestamp_ms.saturating_add(self.block_time_ms) {
            return Vec::new();
        }
        self.stage = Stage::Building;
        vec![ConsensusOutput::Build {
            parent: self.head,
            height: self.head_height + 1,
            timestamp_ms: now_ms.max(self.head_timestamp_ms + 1),
            proposer: self.proposer,
        }]
    }
}

impl Consensus for DevSealer {
    fn handle(&mut self, input: ConsensusInput) -> Vec<ConsensusOutput> {
        match input {
            ConsensusInput::Tick { now_ms } => self.tick(now_ms),
            ConsensusInput::Built { block } if self.stage == Stage::Building => {
                let id = block.header.hash();
                self.stage = Stage::Verifying(id);
                vec![ConsensusOutput::Verify { block }]
            }
            ConsensusInput::BuildFailed { .. } if self.stage == Stage::Building => {
                // Tried again at the next tick.
                self.stage = Stage::Idle;
                Vec::new()
            }
            ConsensusInput::Verified { id, verdict } if self.stage == Stage::Verifying(id) => {
                if verdict != Verdict::Valid {
                    // The node refused the block it built itself; build anew at the next tick.
                    self.stage = Stage::Idle;
                    return Vec::new();
                }
                self.stage = Stage::Committing(id);
                vec![ConsensusOutput::Commit {
                    blocks: vec![id],
                    proof: Vec::new(),
                }]
            }
            ConsensusInput::CommitFailed { block, .. }
                if self.stage == Stage::Committing(block) =>
            {
                // Built anew at the next tick.
                self.stage = Stage::Idle;
                Vec::new()
            }
            ConsensusInput::Committed { header } => {
                let id = header.hash();
                if self.stage == Stage::Committing(id) {
                    self.stage = Stage::Idle;
                }
                if header.height > self.head_height {
                    self.head = id;
                    self.head_height = header.height;
                    self.head_timestamp_ms = header.timestamp_ms;
                    self.finalized = header.height;
                }
                Vec::new()
            }
            // Answers to requests this sealer did not make, and messages: a single node has no
            // peers to hear from.
            ConsensusInput::Built { .. }
            | ConsensusInput::BuildFailed { .. }
            | ConsensusInput::Verified { .. }
            | ConsensusInput::CommitFailed { .. }
            | ConsensusInput::Message { .. } => Vec::new(),
        }
    }

    fn finalized_height(&self) -> Option<u64> {
        Some(self.finalized)
    }

    fn name(&self) -> &'static str {
        "dev-sealer"
    }
}

#[cfg(test)]
mod tests {
    use aether_engine::ports::{BuildFailure, CommitFailure, NotYet, PeerId, Topic};
    use aether_engine::types::Block;

    use super::*;

    const ME: Address = Address([7; 32]);

    fn header(height: u64, timestamp_ms: u64) -> BlockHeader {
        BlockHeader {
            height,
            timestamp_ms,
            ..BlockHeader::default()
        }
    }

    fn child_of(parent: &BlockHeader, timestamp_ms: u64) -> Block {
        Block {
            header: BlockHeader {
                height: parent.height + 1,
                timestamp_ms,
                parent_hash: parent.hash(),
                proposer: ME,
                ..BlockHeader::default()
            },
            transactions: Vec::new(),
        }
    }

    /// Runs one block through build → verify → commit; returns its header.
    fn seal(s: &mut DevSealer, parent: &BlockHeader, now_ms: u64) -> BlockHeader {
        let out = s.handle(ConsensusInput::Tick { now_ms });
        let expected_ts = now_ms.max(parent.timestamp_ms + 1);
        assert_eq!(
            out,
            vec![ConsensusOutput::Build {
                parent: parent.hash(),
                height: parent.height + 1,
                timestamp_ms: expected_ts,
                proposer: ME,
            }]
        );
        let block = child_of(parent, expected_ts);
        let id = block.header.hash();
        assert_eq!(
            s.handle(ConsensusInput::Built {
                block: block.clone()
            }),
            vec![ConsensusOutput::Verify {
                block: block.clone()
            }]
        );
        assert_eq!(
            s.handle(ConsensusInput::Verified {
                id,
                verdict: Verdict::Valid
            }),
            vec![ConsensusOutput::Commit {
                blocks: vec![id],
                proof: Vec::new()
            }]
        );
        assert!(
            s.handle(ConsensusInput::Committed {
                header: block.header.clone()
            })
            .is_empty()
        );
        block.header
    }

    #[test]
    fn builds_verifies_and_commits_once_per_block_time() {
        let genesis = header(0, 5_000);
        let mut s = DevSealer::new(1_000, ME, &genesis);
        assert!(s.handle(ConsensusInput::Tick { now_ms: 5_999 }).is_empty());
        let one = seal(&mut s, &genesis, 6_000);
        assert_eq!(s.finalized_height(), Some(1));
        assert!(s.handle(ConsensusInput::Tick { now_ms: 6_500 }).is_empty());
        let two = seal(&mut s, &one, 7_200);
        assert_eq!(two.height, 2);
        assert_eq!(s.finalized_height(), Some(2));
    }

    #[test]
    fn nothing_more_is_asked_while_a_block_is_in_flight() {
        let genesis = header(0, 0);
        let mut s = DevSealer::new(10, ME, &genesis);
        assert_eq!(s.handle(ConsensusInput::Tick { now_ms: 100 }).len(), 1);
        assert!(s.handle(ConsensusInput::Tick { now_ms: 10_000 }).is_empty());
        // A stray answer for another block changes nothing.
        let stray = child_of(&genesis, 55).header.hash();
        assert!(
            s.handle(ConsensusInput::Verified {
                id: stray,
                verdict: Verdict::Valid
            })
            .is_empty()
        );
        assert!(s.handle(ConsensusInput::Tick { now_ms: 20_000 }).is_empty());
    }

    #[test]
    fn a_failed_build_or_refused_block_is_retried_at_the_next_tick() {
        let genesis = header(0, 0);
        let mut s = DevSealer::new(10, ME, &genesis);
        assert_eq!(s.handle(ConsensusInput::Tick { now_ms: 100 }).len(), 1);
        s.handle(ConsensusInput::BuildFailed {
            parent: genesis.hash(),
            reason: BuildFailure::TooManyPending(64),
        });
        assert_eq!(s.handle(ConsensusInput::Tick { now_ms: 101 }).len(), 1);
        let block = child_of(&genesis, 101);
        let id = block.header.hash();
        s.handle(ConsensusInput::Built { block });
        assert!(
            s.handle(ConsensusInput::Verified {
                id,
                verdict: Verdict::NotYet(NotYet::TooManyPending(64))
            })
            .is_empty()
        );
        assert_eq!(s.handle(ConsensusInput::Tick { now_ms: 102 }).len(), 1);
        // A commit the node could not carry out is built anew as well.
        let block = child_of(&genesis, 102);
        let id = block.header.hash();
        s.handle(ConsensusInput::Built { block });
        assert_eq!(
            s.handle(ConsensusInput::Verified {
                id,
                verdict: Verdict::Valid
            })
            .len(),
            1
        );
        s.handle(ConsensusInput::CommitFailed {
            block: id,
            reason: CommitFailure::NotPending(id),
        });
        assert_eq!(s.handle(ConsensusInput::Tick { now_ms: 103 }).len(), 1);
    }

    #[test]
    fn timestamps_increase_even_when_the_clock_goes_back() {
        let head = header(3, 10_000);
        let mut s = DevSealer::new(1, ME, &head);
        let four = seal(&mut s, &head, 10_001);
        // The clock stepped back below the last timestamp plus the block time: not due yet.
        assert!(s.handle(ConsensusInput::Tick { now_ms: 9_000 }).is_empty());
        let five = seal(&mut s, &four, 10_002);
        assert_eq!(five.timestamp_ms, 10_002);
        assert!(
            s.handle(ConsensusInput::Message {
                from: PeerId(vec![1]),
                topic: Topic::Proposals,
                payload: vec![]
            })
            .is_empty()
        );
    }
}
