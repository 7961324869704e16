//! The ABI's type registry: a contract's own structs and enums encode from JSON to exactly the
//! bytes parity-scale-codec's derive gives, decode back to the same JSON, and a hostile
//! registry (recursive, exponential, malformed) is refused or left undescribed within bounds.

use aether_contract_build::abi::{Abi, AbiError, Ty};
use parity_scale_codec::Encode;
use serde_json::{Value, json};

#[derive(Encode)]
struct Point {
    x: u32,
    y: i64,
}

#[derive(Encode)]
struct Pair(u8, u16);

#[derive(Encode)]
struct Meters(u64);

#[derive(Encode)]
struct Nothing;

#[derive(Encode)]
enum Shape {
    Empty,
    Circle(Point, u32),
    Labelled { label: String, at: Point },
    Scaled(u8),
}

#[derive(Encode)]
enum Indexed {
    #[codec(index = 7)]
    Seven,
    Three = 3,
}

fn field(name: Option<&str>, ty: &str) -> Value {
    json!({"name": name, "type": ty})
}

fn registry() -> Value {
    json!([
        {"name": "Point", "docs": "A point.", "fields": [field(Some("x"), "u32"), field(Some("y"), "i64")]},
        {"name": "Pair", "fields": [field(None, "u8"), field(None, "u16")]},
        {"name": "Meters", "fields": [field(None, "u64")]},
        {"name": "Nothing", "fields": []},
        {"name": "Shape", "variants": [
            {"name": "Empty", "index": 0},
            {"name": "Circle", "index": 1, "fields": [field(None, "Point"), field(None, "u32")]},
            {"name": "Labelled", "index": 2, "fields": [field(Some("label"), "String"), field(Some("at"), "Point")]},
            {"name": "Scaled", "index": 3, "fields": [field(None, "u8")]},
        ]},
        {"name": "Indexed", "variants": [
            {"name": "Seven", "index": 7},
            {"name": "Three", "index": 3},
        ]},
    ])
}

fn abi_with(types: Value, arg: &str, returns: &str) -> Result<Abi, AbiError> {
    let abi = json!({
        "abi_version": 1,
        "contract": "C",
        "constructor": null,
        "methods": [{"name": "m", "args": [{"name": "a", "type": arg}], "returns": returns,
                     "error": null, "mutates": false, "payable": false}],
        "events": [],
        "errors": [],
        "types": types,
    });
    Abi::parse(abi.to_string().as_bytes())
}

#[test]
fn registered_types_encode_as_the_derive_does_and_decode_to_the_same_json() {
    let cases: Vec<(&str, Value, Vec<u8>)> = vec![
        (
            "Point",
            json!({"x": 7, "y": -2}),
            Point { x: 7, y: -2 }.encode(),
        ),
        ("Pair", json!([1, 515]), Pair(1, 515).encode()),
        ("Meters", json!(12), Meters(12).encode()),
        ("Nothing", Value::Null, Nothing.encode()),
        ("Shape", json!("Empty"), Shape::Empty.encode()),
        (
            "Shape",
            json!({"Circle": [{"x": 1, "y": 2}, 9]}),
            Shape::Circle(Point { x: 1, y: 2 }, 9).encode(),
        ),
        (
            "Shape",
            json!({"Labelled": {"label": "here", "at": {"x": 0, "y": 0}}}),
            Shape::Labelled {
                label: "here".into(),
                at: Point { x: 0, y: 0 },
            }
            .encode(),
        ),
        ("Shape", json!({"Scaled": 4}), Shape::Scaled(4).encode()),
        ("Indexed", json!("Seven"), Indexed::Seven.encode()),
        ("Indexed", json!("Three"), Indexed::Three.encode()),
        (
            "Vec<Option<Shape>>",
            json!([null, "Empty", {"Scaled": 1}]),
            vec![None, Some(Shape::Empty), Some(Shape::Scaled(1))].encode(),
        ),
    ];
    for (ty, value, rust) in cases {
        let abi = abi_with(registry(), ty, ty).unwrap();
        let bytes = abi.encode_args("m", &json!([value])).unwrap();
        assert_eq!(bytes, rust, "{ty} {value}");
        assert_eq!(abi.decode_return("m", &bytes), Ok(value.clone()), "{ty}");
    }
}

#[test]
fn values_of_the_wrong_shape_are_refused_with_the_argument_named() {
    let abi = abi_with(registry(), "Shape", "()").unwrap();
    for bad in [
        json!("Circle"),                                  // a variant with fields, as a unit
        json!({"Empty": null, "Scaled": 1}),              // two variants
        json!({"Square": 1}),                             // no such variant
        json!({"Circle": [{"x": 1}, 9]}),                 // a missing field
        json!({"Circle": [{"x": 1, "y": 2, "z": 3}, 9]}), // an extra field
        json!({"Labelled": {"label": 5, "at": {"x": 0, "y": 0}}}), // a field of the wrong type
        json!(3),
    ] {
        let e = abi.encode_args("m", &json!([bad])).unwrap_err();
        assert!(
            matches!(&e, AbiError::Value { arg, .. } if arg.starts_with('a')),
            "{bad}: {e}"
        );
    }
    // An unknown variant index in returned data is an error, not a guess.
    let ret = abi_with(registry(), "()", "Indexed").unwrap();
    assert!(ret.decode_return("m", &[0]).is_err());
}

#[test]
fn recursive_and_exponential_types_are_left_undescribed_within_bounds() {
    // A tree that contains itself: valid ABI, the type is shown as hex.
    let tree = json!([{"name": "Tree", "fields": [field(Some("children"), "Vec<Tree>")]}]);
    let abi = abi_with(tree, "Tree", "Tree").unwrap();
    assert_eq!(abi.ty("Tree"), None);
    assert!(matches!(
        abi.encode_args("m", &json!([{"children": []}])),
        Err(AbiError::Unsupported { .. })
    ));
    // T0 { a: T1, b: T1 }, T1 { a: T2, b: T2 }, …: 2^40 nodes if expanded; refused by the node
    // budget (and the depth limit) long before.
    let chain: Vec<Value> = (0..40)
        .map(|i| {
            json!({"name": format!("T{i}"), "fields": [
                field(Some("a"), &format!("T{}", i + 1)),
                field(Some("b"), &format!("(T{}, [T{}; 2])", i + 1, i + 1)),
            ]})
        })
        .chain([json!({"name": "T40", "fields": []})])
        .collect();
    let started = std::time::Instant::now();
    let abi = abi_with(Value::Array(chain), "T0", "()").unwrap();
    assert_eq!(abi.ty("T0"), None);
    assert!(
        abi.ty("T38").is_some(),
        "a small part of the chain is described"
    );
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    // A type string in the registry deeper than the limit makes the ABI invalid, as anywhere.
    let deep = format!("{}u8{}", "Vec<".repeat(40), ">".repeat(40));
    let bad = json!([{"name": "D", "fields": [field(None, &deep)]}]);
    assert!(matches!(
        abi_with(bad, "u8", "()"),
        Err(AbiError::Metadata(_))
    ));
}

#[test]
fn a_malformed_registry_is_refused() {
    for (types, why) in [
        (
            json!([{"name": "A", "fields": []}, {"name": "A", "fields": []}]),
            "twice",
        ),
        (json!([{"name": "A"}]), "either"),
        (
            json!([{"name": "A", "fields": [], "variants": []}]),
            "either",
        ),
        (
            json!([{"name": "E", "variants": [{"name": "X", "index": 1}, {"name": "Y", "index": 1}]}]),
            "repeats",
        ),
        (
            json!([{"name": "E", "variants": [{"name": "X", "index": 256}]}]),
            "",
        ),
    ] {
        match abi_with(types.clone(), "u8", "()") {
            Err(AbiError::Metadata(m)) => assert!(m.contains(why), "{types}: {m}"),
            other => panic!("{types}: {other:?}"),
        }
    }
    // Without a registry (older ABIs), every other type still works.
    let abi = abi_with(Value::Array(vec![]), "u8", "()").unwrap();
    assert_eq!(abi.ty("u8"), Some(Ty::Uint(1)));
}
