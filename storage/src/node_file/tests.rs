use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use proptest::prelude::*;

use super::*;

fn small() -> NodeFileOptions {
    NodeFileOptions {
        segment_bytes: 4096,
    }
}

fn payload(block: u64, i: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (block as u8) ^ (i as u8).wrapping_mul(31) ^ (j as u8))
        .collect()
}

/// A block's records: address and payload.
type Records = Vec<(RecordAddr, Vec<u8>)>;

/// Appends a block of `sizes.len()` records and commits it.
fn block(file: &NodeFile, n: u64, sizes: &[usize]) -> (Records, End) {
    let mut append = file.append().unwrap();
    let records: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, len)| {
            let p = payload(n, i as u64, *len);
            (append.push(&p).unwrap(), p)
        })
        .collect();
    (records, append.commit().unwrap())
}

fn is_corrupt(r: Result<Vec<u8>, NodeFileError>) -> bool {
    matches!(r, Err(NodeFileError::Corrupt { .. }))
}

#[test]
fn records_read_back_after_their_commit_and_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, NodeFileOptions::default()).unwrap();
    assert_eq!(file.end(), None);
    let (first, _) = block(&file, 1, &[0, 1, 300, 5000]);
    let (second, end) = block(&file, 2, &[64; 100]);
    for (addr, p) in first.iter().chain(&second) {
        assert_eq!(&file.read(*addr).unwrap(), p);
    }
    assert_eq!(file.end(), Some(end));
    drop(file);
    let file = NodeFile::open(dir.path(), Some(end), NodeFileOptions::default()).unwrap();
    for (addr, p) in first.iter().chain(&second) {
        assert_eq!(&file.read(*addr).unwrap(), p);
    }
    let (third, _) = block(&file, 3, &[10]);
    assert_eq!(
        third[0].0.offset, end.len,
        "the next block follows the recorded end"
    );
}

#[test]
fn records_are_unreadable_until_their_block_commits_and_gone_if_it_never_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, NodeFileOptions::default()).unwrap();
    let (kept, _) = block(&file, 1, &[40]);
    let mut append = file.append().unwrap();
    // Past the flush threshold: some of it is in the segment file already.
    let big = vec![7u8; FLUSH_BYTES + 10];
    let addr = append.push(&big).unwrap();
    let small_addr = append.push(b"after").unwrap();
    assert!(is_corrupt(file.read(addr)));
    drop(append);
    assert!(is_corrupt(file.read(addr)));
    assert!(is_corrupt(file.read(small_addr)));
    // The next block takes the abandoned one's place.
    let (next, _) = block(&file, 2, &[12]);
    assert_eq!(next[0].0, addr);
    assert_eq!(file.read(addr).unwrap(), next[0].1);
    assert_eq!(file.read(kept[0].0).unwrap(), kept[0].1);
}

#[test]
fn a_reopen_at_an_earlier_recorded_end_cuts_what_followed_and_reuses_its_space() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, small()).unwrap();
    let (kept, recorded) = block(&file, 1, &[1000, 1000]);
    // Later blocks, the last ones in new segments: the store's commit of them was lost.
    let mut lost = Vec::new();
    for n in 2..8 {
        lost.extend(block(&file, n, &[1500, 1500]).0);
    }
    assert!(file.segments().len() > 2);
    drop(file);
    let file = NodeFile::open(dir.path(), Some(recorded), small()).unwrap();
    assert_eq!(file.segments(), vec![(0, recorded.len)]);
    assert_eq!(segment_files(dir.path()).unwrap().len(), 1);
    assert_eq!(
        fs::metadata(segment_path(dir.path(), 0)).unwrap().len(),
        recorded.len,
        "the unrecorded tail is cut off the file"
    );
    for (addr, p) in &kept {
        assert_eq!(&file.read(*addr).unwrap(), p);
    }
    for (addr, _) in &lost {
        if addr.segment > 0 || addr.offset >= recorded.len {
            assert!(
                is_corrupt(file.read(*addr)),
                "{addr:?} readable after the cut"
            );
        }
    }
    let (next, _) = block(&file, 9, &[20]);
    assert_eq!(next[0].0.offset, recorded.len);
}

#[test]
fn nothing_recorded_means_every_segment_found_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, small()).unwrap();
    block(&file, 1, &[3000, 3000]);
    block(&file, 2, &[3000]);
    drop(file);
    let file = NodeFile::open(dir.path(), None, small()).unwrap();
    assert!(file.segments().is_empty());
    assert!(segment_files(dir.path()).unwrap().is_empty());
    let (records, end) = block(&file, 3, &[5]);
    assert_eq!(
        records[0].0,
        RecordAddr {
            segment: 0,
            offset: 0
        }
    );
    assert_eq!(end.len, RECORD_HEADER_BYTES + 5);
}

#[test]
fn a_block_goes_whole_into_one_segment_and_the_next_starts_a_new_one_past_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, small()).unwrap();
    // 3 × 2,008 bytes: past 4,096, yet one segment.
    let (a, end_a) = block(&file, 1, &[2000, 2000, 2000]);
    assert!(a.iter().all(|(addr, _)| addr.segment == 0));
    assert_eq!(
        end_a,
        End {
            segment: 0,
            len: 3 * 2008
        }
    );
    let (b, end_b) = block(&file, 2, &[10]);
    assert_eq!(
        b[0].0,
        RecordAddr {
            segment: 1,
            offset: 0
        }
    );
    assert_eq!(end_b.segment, 1);
    let (c, _) = block(&file, 3, &[10]);
    assert_eq!(
        c[0].0,
        RecordAddr {
            segment: 1,
            offset: 18
        }
    );
    assert_eq!(file.segments(), vec![(0, 6024), (1, 36)]);
}

#[test]
fn a_segment_shorter_than_the_recorded_end_or_missing_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, small()).unwrap();
    let (_, end) = block(&file, 1, &[100, 100]);
    // A later block the store did not record: cut at a good open, kept by a failed one.
    block(&file, 2, &[5000]);
    block(&file, 3, &[10]);
    drop(file);
    let later = segment_path(dir.path(), 1);
    assert!(later.exists());
    let path = segment_path(dir.path(), 0);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(end.len - 1)
        .unwrap();
    let err = NodeFile::open(dir.path(), Some(end), small()).unwrap_err();
    assert!(
        matches!(&err, NodeFileError::Corrupt { path: p, .. } if *p == path),
        "{err}"
    );
    assert!(err.to_string().contains("lost data"), "{err}");
    // The failed open left the file as it found it.
    assert_eq!(fs::metadata(&path).unwrap().len(), end.len - 1);
    fs::remove_file(&path).unwrap();
    let err = NodeFile::open(dir.path(), Some(end), small()).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(later.exists(), "a failed open removed a segment");
}

#[test]
fn a_second_handle_on_the_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, small()).unwrap();
    assert!(matches!(
        NodeFile::open(dir.path(), None, small()),
        Err(NodeFileError::InUse(_))
    ));
    drop(file);
    NodeFile::open(dir.path(), None, small()).unwrap();
}

#[test]
fn a_scan_gives_a_segments_committed_records_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, small()).unwrap();
    // Segment 0: two blocks, the second past the size; records larger than a scan's read.
    let (mut first, _) = block(&file, 1, &[10, 0, 300]);
    first.extend(block(&file, 2, &[5000, 3_000_000, 7]).0);
    let (second, _) = block(&file, 3, &[20, 30]);
    let mut append = file.append().unwrap();
    append.push(b"never committed").unwrap();
    drop(append);
    let scanned: Vec<_> = file.scan(0).unwrap().map(Result::unwrap).collect();
    assert_eq!(scanned, first);
    let scanned: Vec<_> = file.scan(1).unwrap().map(Result::unwrap).collect();
    assert_eq!(scanned, second);
    assert!(file.scan(2).is_err());
}

#[test]
fn a_scan_ends_at_a_damaged_record_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, NodeFileOptions::default()).unwrap();
    let (records, _) = block(&file, 1, &[100, 100, 100]);
    let segment = OpenOptions::new()
        .write(true)
        .open(segment_path(dir.path(), 0))
        .unwrap();
    // A byte of the second record's payload.
    segment
        .write_all_at(&[0xff], records[1].0.offset + RECORD_HEADER_BYTES + 5)
        .unwrap();
    let mut scan = file.scan(0).unwrap();
    assert_eq!(scan.next().unwrap().unwrap(), records[0]);
    assert!(matches!(
        scan.next(),
        Some(Err(NodeFileError::Corrupt { .. }))
    ));
    assert!(scan.next().is_none());
    // A length past the end.
    segment.write_all_at(&[0xff, 0xff, 0xff, 0x7f], 0).unwrap();
    let mut scan = file.scan(0).unwrap();
    let err = scan.next().unwrap().unwrap_err();
    assert!(err.to_string().contains("past the committed end"), "{err}");
    assert!(scan.next().is_none());
}

#[test]
fn a_removed_segment_is_gone_for_good_and_the_active_one_cannot_be_removed() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, small()).unwrap();
    let (old, _) = block(&file, 1, &[5000]);
    let (kept, end) = block(&file, 2, &[10]);
    assert_eq!(end.segment, 1);
    assert!(matches!(
        file.remove_segment(1),
        Err(NodeFileError::Active(1))
    ));
    file.remove_segment(0).unwrap();
    assert!(!segment_path(dir.path(), 0).exists());
    assert!(is_corrupt(file.read(old[0].0)));
    assert_eq!(file.read(kept[0].0).unwrap(), kept[0].1);
    // Removing it again, or one never made, is not an error.
    file.remove_segment(0).unwrap();
    file.remove_segment(9).unwrap();
    drop(file);
    let file = NodeFile::open(dir.path(), Some(end), small()).unwrap();
    assert_eq!(file.segments(), vec![(1, end.len)]);
    assert_eq!(file.read(kept[0].0).unwrap(), kept[0].1);
}

#[test]
fn addresses_pack_into_a_word_and_back() {
    for addr in [
        RecordAddr {
            segment: 0,
            offset: 0,
        },
        RecordAddr {
            segment: MAX_SEGMENTS - 1,
            offset: MAX_SEGMENT_BYTES - 1,
        },
        RecordAddr {
            segment: 7,
            offset: 123_456_789,
        },
    ] {
        assert_eq!(RecordAddr::from_u64(addr.to_u64()), addr);
    }
}

fn cases() -> u32 {
    std::env::var("AETHER_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64)
}

#[derive(Clone, Debug)]
enum Op {
    /// A block of records of these sizes, committed or dropped.
    Block(Vec<usize>, bool),
    /// Reopen at the end recorded this many blocks back (0: the last).
    Reopen(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (proptest::collection::vec(0..1500usize, 0..8), proptest::bool::weighted(0.85))
            .prop_map(|(sizes, commit)| Op::Block(sizes, commit)),
        1 => (0..3usize).prop_map(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Blocks committed or abandoned, reopens at the last recorded end or at an earlier one (a
    /// store commit the crash took back), segments rolling every few blocks: every record of
    /// a block committed and not cut reads back exactly, a scan of each segment gives exactly
    /// those in it, and every address past the end reads as damage.
    #[test]
    fn committed_records_survive_abandoned_appends_and_reopens(
        ops in proptest::collection::vec(op(), 1..40)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut file = NodeFile::open(dir.path(), None, small()).unwrap();
        // The model: each committed block's records and end, in order.
        let mut blocks: Vec<(Records, End)> = Vec::new();
        let mut cut: Vec<RecordAddr> = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Block(sizes, commit) => {
                    let mut append = file.append().unwrap();
                    let records: Vec<_> = sizes.iter().enumerate().map(|(i, len)| {
                        let p = payload(n as u64, i as u64, *len);
                        (append.push(&p).unwrap(), p)
                    }).collect();
                    if commit {
                        blocks.push((records, append.commit().unwrap()));
                    } else {
                        drop(append);
                        cut.extend(records.iter().map(|r| r.0));
                    }
                }
                Op::Reopen(back) => {
                    let keep = blocks.len().saturating_sub(back);
                    for (records, _) in blocks.drain(keep..) {
                        cut.extend(records.iter().map(|r| r.0));
                    }
                    let end = blocks.last().map(|b| b.1);
                    drop(file);
                    file = NodeFile::open(dir.path(), end, small()).unwrap();
                    prop_assert_eq!(file.end(), end);
                }
            }
            let end = file.end();
            for (records, _) in &blocks {
                for (addr, p) in records {
                    prop_assert_eq!(&file.read(*addr).unwrap(), p);
                }
            }
            // A scan of each segment gives exactly the records committed to it, in order.
            for (segment, _) in file.segments() {
                let scanned: Vec<_> = file.scan(segment).unwrap().map(Result::unwrap).collect();
                let expected: Vec<_> = blocks
                    .iter()
                    .flat_map(|(records, _)| records.iter())
                    .filter(|(addr, _)| addr.segment == segment)
                    .cloned()
                    .collect();
                prop_assert_eq!(scanned, expected);
            }
            for addr in &cut {
                let past = end.is_none_or(|e| {
                    addr.segment > e.segment || (addr.segment == e.segment && addr.offset >= e.len)
                });
                if past {
                    prop_assert!(is_corrupt(file.read(*addr)), "{:?} past {:?} readable", addr, end);
                }
            }
        }
    }

    /// Any byte of a segment changed: every record reads back, and a scan gives it, either
    /// whole and unchanged or as damage; a read at an offset inside a record is damage, never a
    /// record.
    #[test]
    fn damaged_bytes_read_as_damage_never_as_other_data(
        sizes in proptest::collection::vec(0..300usize, 1..20),
        hits in proptest::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..4),
        inside in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let file = NodeFile::open(dir.path(), None, NodeFileOptions::default()).unwrap();
        let (records, end) = block(&file, 1, &sizes);
        // A read inside a record (not at a header) is damage.
        let starts: Vec<u64> = records.iter().map(|r| r.0.offset).collect();
        let offset = inside.index(end.len as usize) as u64;
        if !starts.contains(&offset) {
            let addr = RecordAddr { segment: 0, offset };
            prop_assert!(is_corrupt(file.read(addr)), "a read at {} inside a record", offset);
        }
        let segment = OpenOptions::new().write(true).read(true)
            .open(segment_path(dir.path(), 0)).unwrap();
        for (at, flip) in &hits {
            let at = at.index(end.len as usize) as u64;
            let mut byte = [0u8];
            segment.read_exact_at(&mut byte, at).unwrap();
            byte[0] ^= flip;
            segment.write_all_at(&byte, at).unwrap();
        }
        for (addr, p) in &records {
            match file.read(*addr) {
                Ok(got) => prop_assert_eq!(&got, p),
                Err(e) => prop_assert!(matches!(e, NodeFileError::Corrupt { .. }), "{}", e),
            }
        }
        // A scan gives records as they were written, up to the first damage.
        for item in file.scan(0).unwrap() {
            match item {
                Ok((addr, p)) => {
                    let written = records.iter().find(|r| r.0 == addr).map(|r| &r.1);
                    prop_assert_eq!(Some(&p), written);
                }
                Err(e) => prop_assert!(matches!(e, NodeFileError::Corrupt { .. }), "{}", e),
            }
        }
    }
}

#[test]
fn framed_batches_land_in_order_between_pushed_records_and_read_back_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = NodeFile::open(dir.path(), None, NodeFileOptions::default()).unwrap();
    let payloads: Vec<Vec<u8>> = (0..6)
        .map(|i| payload(1, i, 10 + 300 * i as usize))
        .collect();
    let mut append = file.append().unwrap();
    let first = append.push(&payloads[0]).unwrap();
    let mut batches = vec![Framed::default(), Framed::with_capacity(2, 900)];
    batches[0]
        .push(|out| out.extend_from_slice(&payloads[1]))
        .unwrap();
    batches[0]
        .push(|out| out.extend_from_slice(&payloads[2]))
        .unwrap();
    batches[1]
        .push(|out| out.extend_from_slice(&payloads[3]))
        .unwrap();
    batches[1]
        .push(|out| out.extend_from_slice(&payloads[4]))
        .unwrap();
    let placed = append.push_framed(batches).unwrap();
    append.start_sync().unwrap();
    let last = append.push(&payloads[5]).unwrap();
    let end = append.commit().unwrap();
    let mut addrs = vec![first];
    addrs.extend(placed.into_iter().flatten());
    addrs.push(last);
    // In the order pushed, each read back whole by its address and by a scan.
    assert!(addrs.windows(2).all(|w| w[0].offset < w[1].offset));
    for (addr, p) in addrs.iter().zip(&payloads) {
        assert_eq!(&file.read(*addr).unwrap(), p);
    }
    let scanned: Vec<_> = file.scan(0).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        scanned,
        addrs
            .iter()
            .copied()
            .zip(payloads.clone())
            .collect::<Vec<_>>()
    );
    drop(file);
    // A byte of a framed record changed on disk: its checksum no longer matches.
    let segment = dir.path().join("00000000.nodes");
    let f = OpenOptions::new().write(true).open(&segment).unwrap();
    f.write_all_at(&[0xff], addrs[3].offset + RECORD_HEADER_BYTES + 5)
        .unwrap();
    drop(f);
    let file = NodeFile::open(dir.path(), Some(end), NodeFileOptions::default()).unwrap();
    assert_eq!(file.read(addrs[2]).unwrap(), payloads[2]);
    assert!(is_corrupt(file.read(addrs[3])));
}
