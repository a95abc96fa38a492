//! The streaming serializer against the reference path it replaced (`serde_json::to_value`, then
//! [`sort_keys`], then `serde_json`'s printers): byte-identical text, or an error from both.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use super::{sort_keys, sorted_value, to_canonical_string, Layout};
use crate::sample::starfleet_bundle;

/// Both layouts by the reference path, or `None` where it refuses the value.
fn reference<T: Serialize>(value: &T) -> Option<(String, String)> {
    let tree = sorted_value(value).ok()?;
    Some((
        serde_json::to_string(&tree).expect("a Value prints"),
        serde_json::to_string_pretty(&tree).expect("a Value prints"),
    ))
}

/// Both layouts by the streaming serializer, or `None` where it refuses the value.
fn streamed<T: Serialize>(value: &T) -> Option<(String, String)> {
    let compact = to_canonical_string(value, Layout::Compact).ok();
    let pretty = to_canonical_string(value, Layout::Pretty).ok();
    assert_eq!(
        compact.is_some(),
        pretty.is_some(),
        "the layouts disagree on refusing"
    );
    Some((compact?, pretty?))
}

fn assert_same_text<T: Serialize>(value: &T) {
    assert_eq!(streamed(value), reference(value));
}

/// A JSON-like tree whose objects keep their entries in the order (and with the duplicates) the
/// generator chose, so the serializer sees keys out of order, as struct fields arrive.
#[derive(Debug, Clone)]
enum Node {
    Null,
    Bool(bool),
    Signed(i64),
    Unsigned(u64),
    Double(f64),
    Single(f32),
    Text(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Bool(v) => serializer.serialize_bool(*v),
            Node::Signed(v) => serializer.serialize_i64(*v),
            Node::Unsigned(v) => serializer.serialize_u64(*v),
            Node::Double(v) => serializer.serialize_f64(*v),
            Node::Single(v) => serializer.serialize_f32(*v),
            Node::Text(v) => serializer.serialize_str(v),
            Node::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// Keys from a small alphabet collide, share prefixes and mix cases; the rest are any text,
/// escapes and non-ASCII included.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[aAbB_é\"\\\\\u{1}]{0,3}",
        1 => any::<String>(),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        Just(Node::Null),
        any::<bool>().prop_map(Node::Bool),
        any::<i64>().prop_map(Node::Signed),
        any::<u64>().prop_map(Node::Unsigned),
        any::<f64>().prop_map(Node::Double),
        any::<f32>().prop_map(Node::Single),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-0.0), Just(1e300)]
            .prop_map(Node::Double),
        any::<String>().prop_map(Node::Text),
        "[\"\\\\\u{0}-\u{1f}\u{7f}\u{2028}a-z]{0,8}".prop_map(Node::Text),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Node::Array),
            prop::collection::vec((key(), inner), 0..8).prop_map(Node::Object),
        ]
    })
}

/// Every serde data model shape a derive produces, fields declared out of key order.
#[derive(Debug, Clone, Serialize)]
struct Shapes {
    zulu: u8,
    alpha: Option<i32>,
    #[serde(rename = "Mike")]
    mike: Vec<Variety>,
    tagged: Vec<Tagged>,
    untagged: Vec<Untagged>,
    by_number: BTreeMap<i16, String>,
    by_bool: BTreeMap<bool, u32>,
    by_char: BTreeMap<char, ()>,
    by_variant: BTreeMap<Kind, i8>,
    by_newtype: BTreeMap<Name, bool>,
    single: f32,
    wide: i128,
    huge: u128,
    bytes: Bytes,
    pair: (u16, String),
    unit: Marker,
    #[serde(flatten)]
    extra: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize)]
struct Marker;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Name(String);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
enum Kind {
    Zebra,
    Aardvark,
}

#[derive(Debug, Clone, Serialize)]
enum Variety {
    Unit,
    Newtype(String),
    Tuple(u8, bool),
    Empty {},
    Struct { zed: u8, alpha: String },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Tagged {
    Plain,
    Fields { zed: u8, alpha: Option<String> },
    Wrapped(Inner),
}

#[derive(Debug, Clone, Serialize)]
struct Inner {
    yankee: u64,
    bravo: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
enum Untagged {
    Number(i32),
    Fields { zed: String, alpha: bool },
}

/// Serialized with `serialize_bytes`, which JSON writes as an array of numbers.
#[derive(Debug, Clone)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

fn variety() -> impl Strategy<Value = Variety> {
    prop_oneof![
        Just(Variety::Unit),
        any::<String>().prop_map(Variety::Newtype),
        (any::<u8>(), any::<bool>()).prop_map(|(a, b)| Variety::Tuple(a, b)),
        Just(Variety::Empty {}),
        (any::<u8>(), key()).prop_map(|(zed, alpha)| Variety::Struct { zed, alpha }),
    ]
}

fn tagged() -> impl Strategy<Value = Tagged> {
    prop_oneof![
        Just(Tagged::Plain),
        (any::<u8>(), proptest::option::of(key()))
            .prop_map(|(zed, alpha)| Tagged::Fields { zed, alpha }),
        (any::<u64>(), prop::collection::vec(any::<u8>(), 0..3))
            .prop_map(|(yankee, bravo)| Tagged::Wrapped(Inner { yankee, bravo })),
    ]
}

fn untagged() -> impl Strategy<Value = Untagged> {
    prop_oneof![
        any::<i32>().prop_map(Untagged::Number),
        (key(), any::<bool>()).prop_map(|(zed, alpha)| Untagged::Fields { zed, alpha }),
    ]
}

prop_compose! {
    fn shapes()(
        zulu in any::<u8>(),
        alpha in proptest::option::of(any::<i32>()),
        mike in prop::collection::vec(variety(), 0..4),
        tagged in prop::collection::vec(tagged(), 0..4),
        untagged in prop::collection::vec(untagged(), 0..3),
        by_number in prop::collection::btree_map(any::<i16>(), key(), 0..4),
        by_bool in prop::collection::btree_map(any::<bool>(), any::<u32>(), 0..2),
        by_char in prop::collection::btree_map(any::<char>(), Just(()), 0..4),
        by_variant in prop::collection::btree_map(prop_oneof![Just(Kind::Zebra), Just(Kind::Aardvark)], any::<i8>(), 0..2),
        by_newtype in prop::collection::btree_map(key().prop_map(Name), any::<bool>(), 0..3),
        single in any::<f32>(),
        wide in prop_oneof![any::<i64>().prop_map(i128::from), any::<i128>()],
        huge in prop_oneof![any::<u64>().prop_map(u128::from), any::<u128>()],
        bytes in prop::collection::vec(any::<u8>(), 0..4).prop_map(Bytes),
        pair in (any::<u16>(), key()),
        extra in prop::collection::btree_map("[a-z]{1,3}|zulu|alpha", any::<i64>(), 0..3),
    ) -> Shapes {
        Shapes {
            zulu, alpha, mike, tagged, untagged, by_number, by_bool, by_char, by_variant,
            by_newtype, single, wide, huge, bytes, pair, unit: Marker, extra,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn trees_with_unordered_and_repeated_keys_print_as_the_reference_does(tree in node()) {
        prop_assert_eq!(streamed(&tree), reference(&tree));
    }

    #[test]
    fn every_derived_shape_prints_as_the_reference_does(value in shapes()) {
        prop_assert_eq!(streamed(&value), reference(&value));
    }

    #[test]
    fn a_serde_json_value_prints_as_it_does_sorted(tree in node()) {
        // A Value's own Serialize impl, not just our tree's.
        if let Ok(value) = serde_json::to_value(&tree) {
            let expected = serde_json::to_string(&sort_keys(value.clone())).unwrap();
            prop_assert_eq!(to_canonical_string(&value, Layout::Compact).unwrap(), expected);
        }
    }
}

#[test]
fn the_sample_bundle_prints_as_the_reference_does() {
    let bundle = starfleet_bundle();
    let (compact, pretty) = reference(&bundle).expect("a bundle serializes");
    assert_eq!(bundle.to_canonical_json(), compact);
    assert_eq!(bundle.to_pretty_json(), format!("{pretty}\n"));
}

#[test]
fn the_last_of_repeated_keys_wins_as_in_a_json_map() {
    let tree = Node::Object(vec![
        ("b".into(), Node::Signed(1)),
        ("a".into(), Node::Signed(2)),
        ("b".into(), Node::Signed(3)),
    ]);
    assert_eq!(
        to_canonical_string(&tree, Layout::Compact).unwrap(),
        r#"{"a":2,"b":3}"#
    );
    assert_same_text(&tree);
}

#[test]
fn empty_containers_stay_on_one_line_when_pretty() {
    let tree = Node::Object(vec![
        ("list".into(), Node::Array(vec![])),
        ("map".into(), Node::Object(vec![])),
    ]);
    assert_eq!(
        to_canonical_string(&tree, Layout::Pretty).unwrap(),
        "{\n  \"list\": [],\n  \"map\": {}\n}"
    );
    assert_same_text(&tree);
}

#[test]
fn single_floats_are_widened_as_a_json_value_holds_them() {
    let text = to_canonical_string(&0.1f32, Layout::Compact).unwrap();
    assert_eq!(text, "0.10000000149011612");
    assert_same_text(&0.1f32);
}

#[test]
fn non_finite_floats_are_null() {
    assert_eq!(
        to_canonical_string(&f64::NAN, Layout::Compact).unwrap(),
        "null"
    );
    assert_same_text(&vec![f64::NAN, f64::NEG_INFINITY]);
    assert_same_text(&f32::INFINITY);
}

#[test]
fn integers_beyond_64_bits_are_refused_like_the_reference() {
    assert!(to_canonical_string(&(u128::from(u64::MAX) + 1), Layout::Compact).is_err());
    assert!(to_canonical_string(&(i128::from(i64::MIN) - 1), Layout::Compact).is_err());
    assert_same_text(&(u128::from(u64::MAX) + 1));
    assert_same_text(&i128::from(i64::MIN));
}

#[test]
fn keys_that_are_not_strings_are_spelled_or_refused_like_the_reference() {
    let mut by_float = BTreeMap::new();
    by_float.insert(Name("x".into()), 1.5f32);
    assert_same_text(&by_float);
    let by_sequence: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
    assert!(to_canonical_string(&by_sequence, Layout::Compact).is_err());
    assert_same_text(&by_sequence);
    let by_option: BTreeMap<Option<u8>, u8> = [(Some(1), 1)].into_iter().collect();
    assert!(to_canonical_string(&by_option, Layout::Compact).is_err());
    assert_same_text(&by_option);
}

#[test]
fn float_keys_keep_their_single_precision_spelling() {
    struct FloatKeys;
    impl Serialize for FloatKeys {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry(&0.1f32, &1)?;
            map.serialize_entry(&2.5f64, &2)?;
            map.end()
        }
    }
    assert_eq!(
        to_canonical_string(&FloatKeys, Layout::Compact).unwrap(),
        r#"{"0.1":1,"2.5":2}"#
    );
    assert_same_text(&FloatKeys);
}

#[test]
fn non_finite_float_keys_are_refused_like_the_reference() {
    struct NanKey;
    impl Serialize for NanKey {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry(&f64::NAN, &1)?;
            map.end()
        }
    }
    assert!(to_canonical_string(&NanKey, Layout::Compact).is_err());
    assert_same_text(&NanKey);
}

#[test]
fn a_value_before_its_key_is_an_error_not_a_panic() {
    struct Broken;
    impl Serialize for Broken {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_value(&1)?;
            map.end()
        }
    }
    assert!(matches!(
        to_canonical_string(&Broken, Layout::Compact),
        Err(super::CanonicalJsonError::ValueWithoutKey)
    ));
}
