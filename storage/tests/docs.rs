//! `docs/storage.md` describes the real layout: its column table lists every column with the
//! id, name and index kind the code uses.

use aether_storage::layout::{COLUMN_NAMES, column_options};

#[test]
fn the_column_table_in_the_docs_matches_the_layout() {
    let doc = include_str!("../../docs/storage.md");
    let rows: Vec<Vec<&str>> = doc
        .lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), COLUMN_NAMES.len(), "one row per column");
    let options = column_options();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], i.to_string());
        assert_eq!(row[1], format!("`{}`", COLUMN_NAMES[i]), "row {i}");
        assert_eq!(
            row[2].starts_with("B-tree"),
            options[i].btree_index,
            "index kind of column {i}"
        );
        assert_eq!(
            row[2].contains("lz4"),
            options[i].compression != parity_db::CompressionType::NoCompression,
            "compression of column {i}"
        );
    }
}
