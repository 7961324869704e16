//! Storage-layout compatibility of an upgrade: the old code's layout (from its ABI) against the
//! new one's. Fields are matched by their storage prefix (a field keeps its place as long as
//! the storage struct and the field keep their names). A conflict is anything that would make
//! the new code misread or lose what the old one stored:
//!
//! - a field whose prefix the new code reuses as another kind of handle, or with another key
//!   type (existing entries become unreachable), or with another value type (existing values
//!   would be read as the new type);
//! - a field removed (or renamed) while its key still holds data; for handles whose keys
//!   cannot be listed (`Mapping`, `Roles`, …) a removal always counts, since entries may remain.
//!
//! Types are compared by their SCALE shape, not their names: a struct renamed, or a field of
//! it renamed, with the same encoding is compatible; an enum may gain variants at the end.
//! New fields are always compatible (they start empty).

use super::{Abi, StorageEntry, Ty};

/// Whether a storage key holds a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// It does.
    Present,
    /// It does not.
    Absent,
}

/// One incompatibility, naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The old field's name.
    pub field: String,
    /// What is wrong, for people.
    pub problem: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.field, self.problem)
    }
}

/// What an upgrade does to the storage layout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Incompatibilities: the upgrade needs a migration that handles them (or `--force`).
    pub conflicts: Vec<Conflict>,
    /// Compatible changes (fields added, empty fields removed), for people.
    pub notes: Vec<String>,
}

/// Why layouts could not be compared.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The ABI (of the old or new code) records no storage layout (built before layouts were
    /// recorded, or not by the SDK).
    #[error("the {0} code's ABI records no storage layout, so the upgrade cannot be checked")]
    Unknown(&'static str),
    /// A prefix is not 8 bytes of hex (or pinned to a key the ABI does not give).
    #[error(
        "storage field `{0}` has no storage prefix the ABI gives (pinned to a non-literal key, or malformed)"
    )]
    BadPrefix(String),
}

/// The handles that keep a value at their prefix itself (a `Lazy`'s value, the header of a
/// `StorageVec` or `IterableMapping`): whether they hold data can be asked. Others spread over
/// keys derived from the prefix that cannot be listed.
fn probed_at_prefix(kind: &str) -> bool {
    matches!(kind, "Lazy" | "StorageVec" | "IterableMapping")
}

/// Compares the layouts of `old` and `new`; `probe` says whether a key of the contract holds a
/// value (asked only for the prefixes of removed or retyped fields that keep a value there).
pub fn check(
    old: &Abi,
    new: &Abi,
    mut probe: impl FnMut(&[u8]) -> Presence,
) -> Result<Report, LayoutError> {
    let old_fields = placed(old, "old")?;
    let new_fields = placed(new, "new")?;
    let mut report = Report::default();
    let mut holds = |(e, prefix): &(&StorageEntry, [u8; 8])| -> Option<bool> {
        probed_at_prefix(&e.kind).then(|| probe(prefix) == Presence::Present)
    };
    for of in &old_fields {
        let o = of.0;
        let conflict = |problem: String| Conflict {
            field: o.name.clone(),
            problem,
        };
        let Some(&(n, _)) = new_fields.iter().find(|n| n.1 == of.1) else {
            match holds(of) {
                Some(false) => report
                    .notes
                    .push(format!("`{}` removed (it held nothing)", o.name)),
                Some(true) => report.conflicts.push(conflict(format!(
                    "removed, but its key still holds data ({})",
                    describe(o)
                ))),
                None => report.conflicts.push(conflict(format!(
                    "removed, but it may still hold entries ({}: its keys cannot be listed), \
                     which would stay in storage unreachable",
                    describe(o)
                ))),
            }
            continue;
        };
        if n.kind != o.kind {
            report.conflicts.push(conflict(format!(
                "its storage key is reused by `{}` as a {} where it was a {}",
                n.name,
                describe(n),
                describe(o)
            )));
            continue;
        }
        if !same_type(old, o.key.as_deref(), new, n.key.as_deref()) {
            report.conflicts.push(conflict(format!(
                "key type changed from {} to {}: existing entries become unreachable",
                o.key.as_deref().unwrap_or("none"),
                n.key.as_deref().unwrap_or("none")
            )));
        }
        if !same_type(old, o.value.as_deref(), new, n.value.as_deref()) {
            // A `Lazy` that holds nothing can change type freely.
            if holds(of) == Some(false) {
                report
                    .notes
                    .push(format!("`{}` changes type (it holds nothing)", o.name));
            } else {
                report.conflicts.push(conflict(format!(
                    "value type changed from {} to {}: stored values would be read as the new type",
                    o.value.as_deref().unwrap_or("none"),
                    n.value.as_deref().unwrap_or("none")
                )));
            }
        }
        if n.name != o.name {
            report
                .notes
                .push(format!("`{}` is now called `{}`", o.name, n.name));
        }
    }
    for (n, prefix) in &new_fields {
        if !old_fields.iter().any(|o| o.1 == *prefix) {
            report
                .notes
                .push(format!("`{}` added ({})", n.name, describe(n)));
        }
    }
    Ok(report)
}

/// The fields of `abi`'s layout with their prefixes.
fn placed<'a>(
    abi: &'a Abi,
    which: &'static str,
) -> Result<Vec<(&'a StorageEntry, [u8; 8])>, LayoutError> {
    abi.storage
        .as_ref()
        .ok_or(LayoutError::Unknown(which))?
        .iter()
        .map(|e| {
            e.prefix_bytes(&abi.contract)
                .map(|p| (e, p))
                .ok_or_else(|| LayoutError::BadPrefix(e.name.clone()))
        })
        .collect()
}

/// `Mapping<Address, u128>` and the like, from an entry.
fn describe(e: &StorageEntry) -> String {
    let params: Vec<&str> = e.key.iter().chain(&e.value).map(String::as_str).collect();
    if params.is_empty() {
        e.kind.clone()
    } else {
        format!("{}<{}>", e.kind, params.join(", "))
    }
}

/// Whether two type strings (each of its own ABI) encode alike.
fn same_type(a_abi: &Abi, a: Option<&str>, b_abi: &Abi, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => match (a_abi.ty(a), b_abi.ty(b)) {
            (Some(x), Some(y)) => same_shape(&normal(&x), &normal(&y)),
            // Not described by the ABI: only the same spelling is known to be the same.
            _ => a == b,
        },
        _ => false,
    }
}

/// A type as its encoding sees it: names gone, structs as tuples, a 1-tuple as its element,
/// 32-byte values as `[u8; 32]`.
fn normal(t: &Ty) -> Ty {
    let tuple = |items: Vec<Ty>| {
        if items.len() == 1 {
            items.into_iter().next().unwrap_or(Ty::Tuple(Vec::new()))
        } else {
            Ty::Tuple(items)
        }
    };
    match t {
        Ty::Address | Ty::Bytes32 => Ty::Array(Box::new(Ty::Uint(1)), 32),
        Ty::Vec(x) => Ty::Vec(Box::new(normal(x))),
        Ty::Option(x) => Ty::Option(Box::new(normal(x))),
        Ty::Result(x, y) => Ty::Result(Box::new(normal(x)), Box::new(normal(y))),
        Ty::Array(x, n) => Ty::Array(Box::new(normal(x)), *n),
        Ty::Tuple(items) => tuple(items.iter().map(normal).collect()),
        Ty::Struct { fields, .. } => tuple(fields.iter().map(|(_, t)| normal(t)).collect()),
        Ty::Enum { variants, .. } => Ty::Enum {
            name: String::new(),
            variants: variants
                .iter()
                .map(|v| super::EnumVariant {
                    name: String::new(),
                    index: v.index,
                    fields: v.fields.iter().map(|(_, t)| (None, normal(t))).collect(),
                })
                .collect(),
        },
        other => other.clone(),
    }
}

/// Whether normalised `old` values read correctly as `new`: equal, except that an enum may
/// gain variants (every old index must keep its fields).
fn same_shape(old: &Ty, new: &Ty) -> bool {
    match (old, new) {
        (Ty::Enum { variants: o, .. }, Ty::Enum { variants: n, .. }) => o.iter().all(|ov| {
            n.iter().any(|nv| {
                nv.index == ov.index
                    && nv.fields.len() == ov.fields.len()
                    && nv
                        .fields
                        .iter()
                        .zip(&ov.fields)
                        .all(|((_, a), (_, b))| same_shape(b, a))
            })
        }),
        (Ty::Vec(a), Ty::Vec(b)) | (Ty::Option(a), Ty::Option(b)) => same_shape(a, b),
        (Ty::Array(a, n), Ty::Array(b, m)) => n == m && same_shape(a, b),
        (Ty::Result(a1, b1), Ty::Result(a2, b2)) => same_shape(a1, a2) && same_shape(b1, b2),
        (Ty::Tuple(a), Ty::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_shape(x, y))
        }
        _ => old == new,
    }
}
