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

/// [`in_parts`] for a function that gives a part's results or an error: all parts' results in
/// order, else the first part's error, or `panicked()` for a part whose thread panicked.
pub(crate) fn try_in_parts<T: Sync, R: Send, E: Send>(
    items: &[T],
    parts: usize,
    name: &str,
    f: impl Fn(&[T]) -> Result<Vec<R>, E> + Sync,
    panicked: impl Fn() -> E,
) -> Result<Vec<R>, E> {
    let mut out = Vec::with_capacity(items.len());
    for part in in_parts(items, parts, name, f) {
        out.extend(part.ok_or_else(&panicked)??);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{in_parts, try_in_parts};

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
    fn results_of_parts_join_in_order_and_an_error_or_a_panic_is_the_answer() {
        let items: Vec<u32> = (0..9).collect();
        let doubled = try_in_parts(
            &items,
            3,
            "test-part",
            |p| Ok::<_, String>(p.iter().map(|x| x * 2).collect()),
            || "panicked".to_string(),
        );
        assert_eq!(doubled, Ok((0..9).map(|x| x * 2).collect::<Vec<u32>>()));
        let failed = try_in_parts(
            &items,
            3,
            "test-part",
            |p| {
                if p.contains(&4) {
                    Err(format!("part from {}", p[0]))
                } else {
                    Ok(p.to_vec())
                }
            },
            || "panicked".to_string(),
        );
        assert_eq!(failed, Err("part from 3".to_string()));
        let panicked = try_in_parts(
            &items,
            3,
            "test-part",
            |p| {
                assert!(!p.contains(&7), "a part that panics");
                Ok::<_, String>(p.to_vec())
            },
            || "panicked".to_string(),
        );
        assert_eq!(panicked, Err("panicked".to_string()));
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
