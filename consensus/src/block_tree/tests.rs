//! The 2-chain commit rule (Jolteon): a block commits once its child of the next round is
//! certified.

use proptest::prelude::*;

use super::*;

fn id(n: u8) -> [u8; 32] {
    [n; 32]
}

/// The engine header hash of block `n` (distinct from its consensus id).
fn header(n: u8) -> [u8; 32] {
    [n.wrapping_add(128); 32]
}

fn block(n: u8, parent: u8, round: Round, height: u64) -> BlockInfo {
    BlockInfo {
        id: id(n),
        parent: id(parent),
        round,
        height,
        header: header(n),
        header_parent: header(parent),
    }
}

fn qc(b: &BlockInfo) -> VerifiedQc {
    VerifiedQc::unchecked_for_tests(b.round, b.id)
}

fn genesis() -> BlockTree {
    BlockTree::new(block(0, 0, 0, 0))
}

/// Inserts `b` with a QC for its parent (as its proposal would carry).
fn add(t: &mut BlockTree, b: BlockInfo) -> Result<(), TreeError> {
    let parent = *t
        .get(&b.parent)
        .ok_or(TreeError::UnknownParent { round: b.round })?;
    t.insert(b, &qc(&parent))
}

#[test]
fn a_block_commits_when_its_next_round_child_is_certified() {
    let mut t = genesis();
    let (b1, b2, b3) = (block(1, 0, 1, 1), block(2, 1, 2, 2), block(3, 2, 3, 3));
    for b in [b1, b2, b3] {
        add(&mut t, b).unwrap();
    }
    // QC(B1): its parent is the root, already committed.
    assert_eq!(t.certify(&qc(&b1)).unwrap(), vec![]);
    // QC(B2): B1 ← B2 in consecutive rounds: B1 commits.
    assert_eq!(t.certify(&qc(&b2)).unwrap(), vec![b1]);
    assert_eq!(t.root().id, b1.id);
    assert_eq!(t.certify(&qc(&b3)).unwrap(), vec![b2]);
    assert_eq!(t.highest_certified(), (3, b3.id));
}

#[test]
fn a_gap_in_rounds_delays_the_commit_until_a_direct_chain_forms() {
    let mut t = genesis();
    // Round 2 timed out: B3 (round 3) extends B1 (round 1).
    let (b1, b3, b4) = (block(1, 0, 1, 1), block(3, 1, 3, 2), block(4, 3, 4, 3));
    for b in [b1, b3, b4] {
        add(&mut t, b).unwrap();
    }
    t.certify(&qc(&b1)).unwrap();
    assert_eq!(
        t.certify(&qc(&b3)).unwrap(),
        vec![],
        "rounds 1 and 3 are not a direct chain"
    );
    // B3 ← B4 in rounds 3, 4: B3 commits, and B1 with it (oldest first).
    assert_eq!(t.certify(&qc(&b4)).unwrap(), vec![b1, b3]);
}

#[test]
fn committing_drops_the_branches_that_lost() {
    let mut t = genesis();
    let b1 = block(1, 0, 1, 1);
    let (a2, a3) = (block(2, 1, 2, 2), block(3, 2, 3, 3));
    // A competing branch from B1: round 4 after a timeout.
    let (c4, c5) = (block(4, 1, 4, 2), block(5, 4, 5, 3));
    for b in [b1, a2, a3, c4, c5] {
        add(&mut t, b).unwrap();
    }
    assert_eq!(t.certify(&qc(&a2)).unwrap(), vec![b1]);
    assert_eq!(t.certify(&qc(&a3)).unwrap(), vec![a2]);
    assert_eq!(t.pending_len(), 1, "only A3 is left above the root A2");
    assert!(t.get(&c4.id).is_none() && t.get(&c5.id).is_none());
    assert_eq!(
        t.certify(&qc(&c5)),
        Err(TreeError::UnknownBlock { round: 5 })
    );
}

#[test]
fn blocks_that_do_not_fit_are_refused_with_the_reason() {
    let mut t = genesis();
    let b1 = block(1, 0, 1, 1);
    add(&mut t, b1).unwrap();
    add(&mut t, b1).unwrap();
    assert_eq!(
        add(&mut t, block(9, 8, 5, 2)),
        Err(TreeError::UnknownParent { round: 5 })
    );
    assert_eq!(
        add(&mut t, block(2, 1, 1, 2)),
        Err(TreeError::RoundNotAfterParent {
            round: 1,
            parent_round: 1
        })
    );
    assert_eq!(
        add(&mut t, block(2, 1, 2, 3)),
        Err(TreeError::HeightNotNext {
            height: 3,
            parent_height: 1
        })
    );
    assert_eq!(
        add(&mut t, block(1, 0, 2, 1)),
        Err(TreeError::ConflictingId)
    );
    assert_eq!(
        t.certify(&VerifiedQc::unchecked_for_tests(4, b1.id)),
        Err(TreeError::RoundMismatch {
            qc_round: 4,
            block_round: 1
        })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any tree of proposals and any order of certificates: what commits is one chain from
    /// genesis, in order, of certified blocks only, and a block commits only after a
    /// certified child of the next round.
    #[test]
    fn commits_form_one_chain_in_order(
        shape in proptest::collection::vec((0..8usize, 1..3u64), 1..24),
        order in proptest::collection::vec(0..24usize, 0..48),
    ) {
        let mut t = genesis();
        let mut blocks = vec![block(0, 0, 0, 0)];
        // Blocks a QC was shown for: parents of inserted blocks, and certified ones.
        let mut certified = std::collections::HashSet::new();
        for (i, (parent_pick, round_gap)) in shape.iter().enumerate() {
            let parent = blocks[parent_pick % blocks.len()];
            let b = BlockInfo {
                id: id(i as u8 + 1),
                parent: parent.id,
                round: parent.round + round_gap,
                height: parent.height + 1,
                header: header(i as u8 + 1),
                header_parent: parent.header,
            };
            // Blocks of pruned branches are refused; that is fine.
            if add(&mut t, b).is_ok() {
                certified.insert(b.parent);
                blocks.push(b);
            }
        }
        let mut committed = vec![block(0, 0, 0, 0)];
        for pick in order {
            let b = blocks[pick % blocks.len()];
            let Ok(newly) = t.certify(&qc(&b)) else { continue };
            certified.insert(b.id);
            // The 2-chain rule: what commits ends with the certified block's parent, one
            // round below it.
            if let Some(last) = newly.last() {
                prop_assert_eq!(last.id, b.parent);
                prop_assert_eq!(last.round + 1, b.round);
            }
            for c in newly {
                prop_assert!(certified.contains(&c.id), "only certified blocks commit");
                let last = committed.last().unwrap();
                prop_assert_eq!(c.parent, last.id, "commits extend the previous commit");
                prop_assert!(c.round > last.round);
                committed.push(c);
            }
            prop_assert_eq!(t.root().id, committed.last().unwrap().id);
        }
    }
}

/// Regression (review of the parts): a block used to enter the tree without a QC for its
/// parent, so a block that never had a QC could commit by the 2-chain rule once its child of
/// the next round was certified. Jolteon, section 4: a block commits when it heads a chain of
/// two certified blocks in consecutive rounds; the tree now takes a block only with the QC of
/// its parent.
#[test]
fn a_block_enters_only_with_a_qc_for_its_parent() {
    let mut t = genesis();
    let (b1, b2) = (block(1, 0, 1, 1), block(2, 1, 2, 2));
    add(&mut t, b1).unwrap();
    // B2 with a QC of another block (the genesis), or of B1's id at another round: refused.
    assert_eq!(
        t.insert(b2, &qc(&block(0, 0, 0, 0))),
        Err(TreeError::QcNotForParent {
            round: 2,
            qc_round: 0
        })
    );
    assert_eq!(
        t.insert(b2, &VerifiedQc::unchecked_for_tests(0, b1.id)),
        Err(TreeError::QcNotForParent {
            round: 2,
            qc_round: 0
        })
    );
    // With QC(B1), B1 is known certified; QC(B2) then commits B1, a certified block.
    t.insert(b2, &qc(&b1)).unwrap();
    assert_eq!(t.highest_certified(), (1, b1.id));
    assert_eq!(t.certify(&qc(&b2)).unwrap(), vec![b1]);
}

/// Review finding: consensus ids and engine headers are two chains; nothing tied them, so a
/// leader could extend one block by its QC while its header executes on another. The tree
/// now takes a block only if its header's parent is the certified parent's header.
#[test]
fn a_block_whose_header_does_not_extend_its_certified_parent_is_refused() {
    let mut t = genesis();
    let (b1, b2) = (block(1, 0, 1, 1), block(2, 0, 2, 1));
    add(&mut t, b1).unwrap();
    add(&mut t, b2).unwrap();
    // Certified on B1, executed on B2's header.
    let mut b3 = block(3, 1, 3, 2);
    b3.header_parent = header(2);
    assert_eq!(
        t.insert(b3, &qc(&b1)),
        Err(TreeError::HeaderNotOnParent { round: 3 })
    );
    b3.header_parent = header(1);
    assert!(t.insert(b3, &qc(&b1)).is_ok());
}
