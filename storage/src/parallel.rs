//! A function over the parts of a slice, each part on a thread of its own.

/// Runs `f` over `items` in at most `parts` consecutive parts: the first on the calling thread,
/// each other on a scoped thread named `name` (or on the calling thread, if its thread cannot be
/// started). Gives the results in the parts' order, `None` for a part whose own thread panicked
/// (a panic on the calling thread is the caller's).
pub(crate) fn in_parts<T: Sync, R: Send>(
    items: &[T],
    parts: usize,
    name: &str,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<Option<R>> {
    let mut chunks = items.chunks(items.len().div_ceil(parts.max(1)).max(1));
    let first = chunks.next().unwrap_or_default();
    let f = &f;
    std::thread::scope(|s| {
        let jobs: Vec<_> = chunks
            .map(|part| {
                let job = std::thread::Builder::new()
                    .name(name.into())
                    .spawn_scoped(s, move || f(part));
                (part, job)
            })
            .collect();
        let mut out = Vec::with_capacity(jobs.len() + 1);
        out.push(Some(f(first)));
        for (part, job) in jobs {
            out.push(match job {
                Ok(job) => job.join().ok(),
                Err(_) => Some(f(part)),
            });
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::in_parts;

    #[test]
    fn parts_cover_the_items_once_in_order() {
        for len in [0, 1, 7, 8, 9, 100] {
            let items: Vec<u32> = (0..len).collect();
            for parts in [0, 1, 3, 8, 200] {
                let out = in_parts(&items, parts, "test-part", |p| p.to_vec());
                assert!(out.len() <= parts.max(1), "{len} items, {parts} parts");
                let joined: Vec<u32> = out.into_iter().flat_map(Option::unwrap).collect();
                assert_eq!(joined, items, "{len} items, {parts} parts");
            }
        }
    }

    #[test]
    fn a_part_that_panics_gives_none_and_the_others_their_results() {
        let items: Vec<u32> = (0..8).collect();
        let out = in_parts(&items, 4, "test-part", |p| {
            assert!(!p.contains(&5), "a part that panics");
            p.len()
        });
        assert_eq!(out, vec![Some(2), Some(2), None, Some(2)]);
    }
}
