//! The ABI's type language and its parser. The parser reads what a contract's author wrote, so
//! it is bounded: a type string longer than [`MAX_TYPE_LEN`] or nested deeper than
//! [`MAX_TYPE_DEPTH`] is refused, and the parser's recursion never goes deeper than that.

use super::types::TypeDef;

/// Longest type string the parser reads, in bytes (before whitespace is dropped).
pub const MAX_TYPE_LEN: usize = 1024;

/// Deepest nesting of a type: every `Vec<`, `Option<`, `Result<`, `[` and `(` is a level.
/// Rust contracts need a handful.
pub const MAX_TYPE_DEPTH: usize = 32;

/// Most type nodes one type string expands to through the registry: `A { x: B, y: B }`,
/// `B { x: C, y: C }`, … would double at every level.
pub const MAX_EXPANDED_NODES: usize = 4096;

/// Fields of a struct or an enum variant: named (`Some`) or positional.
pub type Fields = Vec<(Option<String>, Ty)>;

/// A variant of an enum type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumVariant {
    /// Its name.
    pub name: String,
    /// Its SCALE index.
    pub index: u8,
    /// Its fields.
    pub fields: Fields,
}

/// A type the codec understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `bool`.
    Bool,
    /// Unsigned integer of this many bytes.
    Uint(usize),
    /// Signed integer of this many bytes.
    Int(usize),
    /// `Hash`: 32 bytes.
    Bytes32,
    /// `Address`: 32 bytes; as JSON, 0x-hex or `//Name` for a dev account's address.
    Address,
    /// `String`.
    String,
    /// `Vec<T>`.
    Vec(Box<Ty>),
    /// `Option<T>`.
    Option(Box<Ty>),
    /// `Result<T, E>`.
    Result(Box<Ty>, Box<Ty>),
    /// `[T; N]`.
    Array(Box<Ty>, usize),
    /// A tuple (`()` is the empty one).
    Tuple(Vec<Ty>),
    /// A struct of the contract's type registry.
    Struct {
        /// Its name.
        name: String,
        /// Its fields in order.
        fields: Fields,
    },
    /// An enum of the contract's type registry.
    Enum {
        /// Its name.
        name: String,
        /// Its variants.
        variants: Vec<EnumVariant>,
    },
}

/// What a parse may expand through: the registry and how many nodes are left.
struct Ctx<'a> {
    types: &'a [TypeDef],
    nodes: usize,
}

/// Why a type string is not a [`Ty`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    /// Longer than [`MAX_TYPE_LEN`].
    #[error("type is {len} bytes long, the limit is {MAX_TYPE_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Nested deeper than [`MAX_TYPE_DEPTH`].
    #[error("type nests deeper than {MAX_TYPE_DEPTH} levels")]
    TooDeep,
    /// Well within the limits, but not a type the ABI describes (a contract's own struct or
    /// enum, or a malformed spelling): tools show such values as hex.
    #[error("type is not described by the ABI")]
    NotDescribed,
}

impl Ty {
    /// Parses a type as the macro spells it; `None` if it is not described (or over a limit).
    pub fn parse(s: &str) -> Option<Ty> {
        Self::parse_checked(s).ok()
    }

    /// Parses a type, saying why not.
    pub fn parse_checked(s: &str) -> Result<Ty, TypeError> {
        Self::parse_with(s, &[])
    }

    /// Parses a type whose names may be structs and enums of `types` (a contract's registry):
    /// they are expanded in place. A registered type that refers to itself, or expands beyond
    /// [`MAX_TYPE_DEPTH`] levels or [`MAX_EXPANDED_NODES`] nodes, is not described.
    pub fn parse_with(s: &str, types: &[TypeDef]) -> Result<Ty, TypeError> {
        let mut ctx = Ctx {
            types,
            nodes: MAX_EXPANDED_NODES,
        };
        parse_str(s, 0, &mut ctx)
    }

    /// Whether a value of this type encodes to no bytes at all (`()`, `[T; 0]`, tuples and
    /// arrays of those): a sequence of them is bounded by count, not by the input.
    pub fn is_zero_sized(&self) -> bool {
        self.min_encoded_len() == 0
    }

    /// The fewest bytes a value of this type encodes to.
    pub fn min_encoded_len(&self) -> usize {
        match self {
            Ty::Bool => 1,
            Ty::Uint(n) | Ty::Int(n) => *n,
            Ty::Bytes32 | Ty::Address => 32,
            // A compact length or a tag.
            Ty::String | Ty::Vec(_) | Ty::Option(_) => 1,
            Ty::Result(ok, err) => {
                1usize.saturating_add(ok.min_encoded_len().min(err.min_encoded_len()))
            }
            Ty::Array(inner, n) => inner.min_encoded_len().saturating_mul(*n),
            Ty::Tuple(items) => items
                .iter()
                .fold(0usize, |sum, t| sum.saturating_add(t.min_encoded_len())),
            Ty::Struct { fields, .. } => fields_min_len(fields),
            Ty::Enum { variants, .. } => 1usize.saturating_add(
                variants
                    .iter()
                    .map(|v| fields_min_len(&v.fields))
                    .min()
                    .unwrap_or(0),
            ),
        }
    }
}

fn fields_min_len(fields: &Fields) -> usize {
    fields.iter().fold(0usize, |sum, (_, t)| {
        sum.saturating_add(t.min_encoded_len())
    })
}

/// Parses a whole type string at `depth`.
fn parse_str(s: &str, depth: usize, ctx: &mut Ctx) -> Result<Ty, TypeError> {
    if s.len() > MAX_TYPE_LEN {
        return Err(TypeError::TooLong { len: s.len() });
    }
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let (ty, rest) = parse_ty(&s, depth, ctx)?;
    if rest.is_empty() {
        Ok(ty)
    } else {
        Err(TypeError::NotDescribed)
    }
}

/// Expands the registered type `name` at `depth`. Anything past a limit inside the expansion
/// makes the type undescribed (the ABI is still valid: each field's own string was checked).
fn expand(name: &str, depth: usize, ctx: &mut Ctx) -> Result<Ty, TypeError> {
    let def = ctx
        .types
        .iter()
        .find(|d| d.name == name)
        .ok_or(TypeError::NotDescribed)?;
    if depth >= MAX_TYPE_DEPTH {
        return Err(TypeError::NotDescribed);
    }
    let fields = |list: &[super::types::TypeField], ctx: &mut Ctx| {
        list.iter()
            .map(|f| {
                ctx.nodes = ctx.nodes.checked_sub(1).ok_or(TypeError::NotDescribed)?;
                match parse_str(&f.ty, depth + 1, ctx) {
                    Ok(t) => Ok((f.name.clone(), t)),
                    Err(_) => Err(TypeError::NotDescribed),
                }
            })
            .collect::<Result<Fields, TypeError>>()
    };
    match (&def.fields, &def.variants) {
        (Some(list), None) => Ok(Ty::Struct {
            name: def.name.clone(),
            fields: fields(list, ctx)?,
        }),
        (None, Some(variants)) => Ok(Ty::Enum {
            name: def.name.clone(),
            variants: variants
                .iter()
                .map(|v| {
                    Ok(EnumVariant {
                        name: v.name.clone(),
                        index: v.index,
                        fields: fields(&v.fields, ctx)?,
                    })
                })
                .collect::<Result<_, TypeError>>()?,
        }),
        _ => Err(TypeError::NotDescribed),
    }
}

fn parse_ty<'s>(s: &'s str, depth: usize, ctx: &mut Ctx) -> Result<(Ty, &'s str), TypeError> {
    let nested = || {
        if depth >= MAX_TYPE_DEPTH {
            Err(TypeError::TooDeep)
        } else {
            Ok(depth + 1)
        }
    };
    if let Some(rest) = s.strip_prefix('(') {
        let (items, rest) = parse_list(rest, ')', nested()?, ctx)?;
        return Ok((Ty::Tuple(items), rest));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inner, rest) = parse_ty(rest, nested()?, ctx)?;
        let rest = rest.strip_prefix(';').ok_or(TypeError::NotDescribed)?;
        let end = rest.find(']').ok_or(TypeError::NotDescribed)?;
        let n = rest[..end].parse().map_err(|_| TypeError::NotDescribed)?;
        return Ok((Ty::Array(Box::new(inner), n), &rest[end + 1..]));
    }
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    let (path, rest) = s.split_at(end);
    let name = path.rsplit("::").next().ok_or(TypeError::NotDescribed)?;
    if let Some(rest) = rest.strip_prefix('<') {
        let (args, rest) = parse_list(rest, '>', nested()?, ctx)?;
        let ty = match (name, args.as_slice()) {
            ("Vec", [t]) => Ty::Vec(Box::new(t.clone())),
            ("Option", [t]) => Ty::Option(Box::new(t.clone())),
            ("Result", [t, e]) => Ty::Result(Box::new(t.clone()), Box::new(e.clone())),
            _ => return Err(TypeError::NotDescribed),
        };
        return Ok((ty, rest));
    }
    let ty = match name {
        "bool" => Ty::Bool,
        "u8" => Ty::Uint(1),
        "u16" => Ty::Uint(2),
        "u32" => Ty::Uint(4),
        "u64" => Ty::Uint(8),
        "u128" => Ty::Uint(16),
        "i8" => Ty::Int(1),
        "i16" => Ty::Int(2),
        "i32" => Ty::Int(4),
        "i64" => Ty::Int(8),
        "i128" => Ty::Int(16),
        "Address" => Ty::Address,
        "Hash" => Ty::Bytes32,
        "String" => Ty::String,
        _ => expand(name, depth, ctx)?,
    };
    Ok((ty, rest))
}

fn parse_list<'s>(
    mut s: &'s str,
    close: char,
    depth: usize,
    ctx: &mut Ctx,
) -> Result<(Vec<Ty>, &'s str), TypeError> {
    let mut items = Vec::new();
    loop {
        if let Some(rest) = s.strip_prefix(close) {
            return Ok((items, rest));
        }
        let (t, rest) = parse_ty(s, depth, ctx)?;
        items.push(t);
        s = rest.strip_prefix(',').unwrap_or(rest);
        if !rest.starts_with(',') && !rest.starts_with(close) {
            return Err(TypeError::NotDescribed);
        }
    }
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::Bool => f.write_str("bool"),
            Ty::Uint(n) => write!(f, "u{}", n * 8),
            Ty::Int(n) => write!(f, "i{}", n * 8),
            Ty::Bytes32 => f.write_str("32 bytes as 0x hex"),
            Ty::Address => f.write_str("an address (0x and 64 hex digits, or //Name)"),
            Ty::String => f.write_str("String"),
            Ty::Vec(t) if **t == Ty::Uint(1) => f.write_str("bytes as 0x hex"),
            Ty::Vec(t) => write!(f, "Vec<{t}>"),
            Ty::Option(t) => write!(f, "Option<{t}>"),
            Ty::Result(t, e) => write!(f, "Result<{t}, {e}>"),
            Ty::Array(t, n) => write!(f, "[{t}; {n}]"),
            Ty::Struct { name, .. } | Ty::Enum { name, .. } => f.write_str(name),
            Ty::Tuple(ts) => {
                f.write_str("(")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_types() {
        assert_eq!(
            Ty::parse("(Address, Vec<Option<u128>>)"),
            Some(Ty::Tuple(vec![
                Ty::Address,
                Ty::Vec(Box::new(Ty::Option(Box::new(Ty::Uint(16)))))
            ]))
        );
        assert_eq!(
            Ty::parse("[u8;4]"),
            Some(Ty::Array(Box::new(Ty::Uint(1)), 4))
        );
        assert_eq!(Ty::parse("()"), Some(Ty::Tuple(vec![])));
        assert_eq!(Ty::parse("Deal"), None);
        assert_eq!(Ty::parse("Vec<u8"), None);
    }

    #[test]
    fn nesting_and_length_beyond_the_limits_are_refused_without_recursing() {
        let nested = |depth: usize, open: &str, close: &str| {
            format!("{}u8{}", open.repeat(depth), close.repeat(depth))
        };
        assert!(Ty::parse_checked(&nested(MAX_TYPE_DEPTH, "Vec<", ">")).is_ok());
        assert_eq!(
            Ty::parse_checked(&nested(MAX_TYPE_DEPTH + 1, "Vec<", ">")),
            Err(TypeError::TooDeep)
        );
        assert_eq!(
            Ty::parse_checked(&nested(MAX_TYPE_DEPTH + 1, "(", ")")),
            Err(TypeError::TooDeep)
        );
        // Far beyond: refused by length before any parsing (30,000 levels overflowed the
        // stack before the limits).
        let deep = nested(30_000, "Vec<", ">");
        assert_eq!(
            Ty::parse_checked(&deep),
            Err(TypeError::TooLong { len: deep.len() })
        );
        // Deep but short enough: refused by depth.
        let parens = "(".repeat(600);
        assert_eq!(Ty::parse_checked(&parens), Err(TypeError::TooDeep));
    }

    #[test]
    fn zero_sized_types_are_recognised() {
        for (ty, zero) in [
            ("()", true),
            ("((),())", true),
            ("[();5]", true),
            ("[u8;0]", true),
            ("[u64;3]", false),
            ("Vec<()>", false),
            ("Option<()>", false),
            ("(u8,())", false),
        ] {
            assert_eq!(Ty::parse(ty).unwrap().is_zero_sized(), zero, "{ty}");
        }
        assert_eq!(Ty::parse("Result<u32,u8>").unwrap().min_encoded_len(), 2);
        assert_eq!(
            Ty::parse("[[u64;100000000000];100000000000]")
                .unwrap()
                .min_encoded_len(),
            usize::MAX
        );
        // Saturating through a Result too (review: `1 + usize::MAX` overflowed).
        let huge = "[u8;18446744073709551615]";
        assert_eq!(
            Ty::parse(&format!("Result<{huge},{huge}>"))
                .unwrap()
                .min_encoded_len(),
            usize::MAX
        );
    }
}
