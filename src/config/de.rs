//! A serde `Deserializer` over [`Node`]s, so config structs are plain `#[derive(Deserialize)]` types while
//! every error still carries the line and column of the node at fault.

use super::yaml::{Mark, Node, NodeKind};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use std::fmt;

/// A deserialization error with the position of the innermost node involved.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    /// What is wrong, in plain words.
    pub message: String,
    /// Where, once known.
    pub mark: Option<Mark>,
    /// For an unknown key or variant: the name written and the names known there, so the loader can
    /// suggest the closest one (and add the keys it handles itself).
    pub unknown: Option<Unknown>,
}

/// An unknown key or variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Unknown {
    /// `field` or `variant`.
    pub what: &'static str,
    /// The name as written.
    pub name: String,
    /// The names accepted there.
    pub known: &'static [&'static str],
}

impl DeError {
    fn at(mut self, mark: Mark) -> DeError {
        if self.mark.is_none() {
            self.mark = Some(mark);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            mark: None,
            unknown: None,
        }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError {
            message: format!("expected {exp}, found {}", describe(&unexp)),
            mark: None,
            unknown: None,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            message: format!("unknown field `{field}`{}", known_suffix(field, expected)),
            mark: None,
            unknown: Some(Unknown {
                what: "field",
                name: field.to_string(),
                known: expected,
            }),
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            message: format!(
                "unknown variant `{variant}`{}",
                known_suffix(variant, expected)
            ),
            mark: None,
            unknown: Some(Unknown {
                what: "variant",
                name: variant.to_string(),
                known: expected,
            }),
        }
    }
}

/// "; did you mean `x`? (known: `a`, `b`)" — or ", there are none here" for an empty list.
pub fn known_suffix(name: &str, known: &[&str]) -> String {
    if known.is_empty() {
        return ", nothing is accepted here".into();
    }
    let suggestion = crate::config::load::closest(name, known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    let list = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{suggestion} (known: {list})")
}

fn describe(unexp: &de::Unexpected<'_>) -> String {
    match unexp {
        de::Unexpected::Map => "a mapping".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Unit => "nothing (null)".into(),
        other => other.to_string(),
    }
}

/// Deserializes `T` from a node. The error carries the position of the node at fault.
pub fn from_node<'a, T: de::Deserialize<'a>>(node: &'a Node) -> Result<T, DeError> {
    T::deserialize(NodeDe(node)).map_err(|e| e.at(node.mark))
}

/// The deserializer for one node.
#[derive(Clone, Copy)]
pub struct NodeDe<'a>(pub &'a Node);

impl<'a> NodeDe<'a> {
    fn scalar(&self) -> Option<(&'a str, bool)> {
        match &self.0.kind {
            NodeKind::Scalar { text, plain } => Some((text.as_str(), *plain)),
            _ => None,
        }
    }

    fn unexpected(&self) -> de::Unexpected<'a> {
        match &self.0.kind {
            NodeKind::Null => de::Unexpected::Unit,
            NodeKind::Scalar { text, .. } => de::Unexpected::Str(text),
            NodeKind::Seq(_) => de::Unexpected::Seq,
            NodeKind::Map(_) => de::Unexpected::Map,
        }
    }

    fn parse_int<T: std::str::FromStr, V: Visitor<'a>>(
        self,
        visitor: V,
        visit: impl FnOnce(V, T) -> Result<V::Value, DeError>,
    ) -> Result<V::Value, DeError> {
        let mark = self.0.mark;
        match self.scalar() {
            Some((text, _)) => match parse_number::<T>(text) {
                Some(n) => visit(visitor, n).map_err(|e| e.at(mark)),
                None => Err(de::Error::invalid_type(de::Unexpected::Str(text), &visitor))
                    .map_err(|e: DeError| e.at(mark)),
            },
            None => Err(de::Error::invalid_type(self.unexpected(), &visitor))
                .map_err(|e: DeError| e.at(mark)),
        }
    }
}

fn parse_number<T: std::str::FromStr>(text: &str) -> Option<T> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    cleaned.parse::<T>().ok()
}

macro_rules! int_method {
    ($method:ident, $ty:ty, $visit:ident) => {
        fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.parse_int::<$ty, V>(visitor, |v, n| v.$visit(n))
        }
    };
}

impl<'a> de::Deserializer<'a> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mark = self.0.mark;
        let result = match &self.0.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Scalar { text, plain } => {
                if !plain {
                    visitor.visit_str(text)
                } else if text == "true" || text == "True" || text == "TRUE" {
                    visitor.visit_bool(true)
                } else if text == "false" || text == "False" || text == "FALSE" {
                    visitor.visit_bool(false)
                } else if let Ok(n) = text.parse::<u64>() {
                    visitor.visit_u64(n)
                } else if let Ok(n) = text.parse::<i64>() {
                    visitor.visit_i64(n)
                } else if let Some(n) = float_literal(text) {
                    visitor.visit_f64(n)
                } else {
                    visitor.visit_str(text)
                }
            }
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
            }),
            NodeKind::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e| e.at(mark))
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mark = self.0.mark;
        match self.scalar() {
            Some(("true" | "True" | "TRUE", _)) => visitor.visit_bool(true),
            Some(("false" | "False" | "FALSE", _)) => visitor.visit_bool(false),
            _ => Err(de::Error::invalid_type(self.unexpected(), &"true or false")),
        }
        .map_err(|e: DeError| e.at(mark))
    }

    int_method!(deserialize_i8, i8, visit_i8);
    int_method!(deserialize_i16, i16, visit_i16);
    int_method!(deserialize_i32, i32, visit_i32);
    int_method!(deserialize_i64, i64, visit_i64);
    int_method!(deserialize_u8, u8, visit_u8);
    int_method!(deserialize_u16, u16, visit_u16);
    int_method!(deserialize_u32, u32, visit_u32);
    int_method!(deserialize_u64, u64, visit_u64);

    fn deserialize_f32<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mark = self.0.mark;
        match self
            .scalar()
            .and_then(|(t, _)| float_literal(t).or_else(|| parse_number::<f64>(t)))
        {
            Some(n) => visitor.visit_f64(n),
            None => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
        .map_err(|e: DeError| e.at(mark))
    }

    fn deserialize_char<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    /// Any scalar is accepted where text is expected (`id: 123` is the id "123").
    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mark = self.0.mark;
        match self.scalar() {
            Some((text, _)) => visitor.visit_str(text),
            None => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
        .map_err(|e: DeError| e.at(mark))
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.kind {
            NodeKind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.kind {
            NodeKind::Null => visitor.visit_unit(),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor))
                .map_err(|e: DeError| e.at(self.0.mark)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mark = self.0.mark;
        match &self.0.kind {
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
            }),
            // An absent list is an empty list (`exclude:` with nothing after it).
            NodeKind::Null => visitor.visit_seq(SeqDe { items: [].iter() }),
            _ => Err(de::Error::invalid_type(self.unexpected(), &"a list")),
        }
        .map_err(|e: DeError| e.at(mark))
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mark = self.0.mark;
        match &self.0.kind {
            NodeKind::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
            }),
            NodeKind::Null => visitor.visit_map(MapDe {
                entries: [].iter(),
                value: None,
            }),
            _ => Err(de::Error::invalid_type(
                self.unexpected(),
                &"a mapping (key: value lines)",
            )),
        }
        .map_err(|e: DeError| e.at(mark))
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mark = self.0.mark;
        match &self.0.kind {
            NodeKind::Scalar { text, .. } => visitor.visit_enum(text.as_str().into_deserializer()),
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                visitor.visit_enum(EnumDe { key: k, value: v })
            }
            NodeKind::Map(entries) => Err(de::Error::custom(format!(
                "expected exactly one key naming the kind here, found {}",
                entries.len()
            ))),
            _ => Err(de::Error::invalid_type(
                self.unexpected(),
                &"a name or a one-key mapping",
            )),
        }
        .map_err(|e: DeError| e.at(mark))
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

fn float_literal(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | "+.inf" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" => Some(f64::NAN),
        _ => {
            let looks_numeric = text
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.')
                && text
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
            if looks_numeric {
                text.parse().ok()
            } else {
                None
            }
        }
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'a> de::SeqAccess<'a> for SeqDe<'a> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed
                .deserialize(NodeDe(node))
                .map(Some)
                .map_err(|e| e.at(node.mark)),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'a> de::MapAccess<'a> for MapDe<'a> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(NodeDe(k))
                    .map(Some)
                    .map_err(|e| e.at(k.mark))
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self
            .value
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("a value without a key"))?;
        seed.deserialize(NodeDe(node)).map_err(|e| e.at(node.mark))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumDe<'a> {
    key: &'a Node,
    value: &'a Node,
}

impl<'a> de::EnumAccess<'a> for EnumDe<'a> {
    type Error = DeError;
    type Variant = NodeDe<'a>;
    fn variant_seed<V: DeserializeSeed<'a>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), DeError> {
        let v = seed
            .deserialize(NodeDe(self.key))
            .map_err(|e| e.at(self.key.mark))?;
        Ok((v, NodeDe(self.value)))
    }
}

impl<'a> de::VariantAccess<'a> for NodeDe<'a> {
    type Error = DeError;
    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self).map_err(|e| e.at(self.0.mark))
    }
    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }
    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        name: String,
        #[serde(default)]
        count: u32,
        #[serde(default)]
        ratio: Option<f64>,
        #[serde(default)]
        on: bool,
        #[serde(default)]
        list: Vec<String>,
    }

    fn load<T: for<'a> Deserialize<'a>>(text: &str) -> Result<T, DeError> {
        let node = parse(text, &|_| None).unwrap();
        from_node(&node)
    }

    #[test]
    fn plain_values_become_typed_fields() {
        let v: Inner = load("name: 123\ncount: 7\nratio: 0.5\non: true\nlist: [a, 'b']\n").unwrap();
        assert_eq!(
            v,
            Inner {
                name: "123".into(),
                count: 7,
                ratio: Some(0.5),
                on: true,
                list: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn unknown_key_points_at_the_key() {
        let e = load::<Inner>("name: x\ncuont: 3\n").unwrap_err();
        assert_eq!(e.mark, Some(Mark { line: 2, col: 1 }));
        assert!(e.message.contains("unknown field `cuont`"), "{}", e.message);
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let e = load::<Inner>("name: x\ncount: lots\n").unwrap_err();
        assert_eq!(e.mark, Some(Mark { line: 2, col: 8 }));
        assert!(e.message.contains("expected u32"), "{}", e.message);
        let e = load::<Inner>("name: x\nlist: {a: 1}\n").unwrap_err();
        assert!(
            e.message.contains("expected a list, found a mapping"),
            "{}",
            e.message
        );
    }

    #[test]
    fn missing_required_field_points_at_the_mapping() {
        let e = load::<Inner>("\n\ncount: 1\n").unwrap_err();
        assert_eq!(e.mark.map(|m| m.line), Some(3));
        assert!(e.message.contains("missing field `name`"), "{}", e.message);
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Plain,
        WithBody { x: u8 },
    }

    #[test]
    fn externally_tagged_enums() {
        assert_eq!(load::<Kind>("plain").unwrap(), Kind::Plain);
        assert_eq!(
            load::<Kind>("with_body: {x: 3}").unwrap(),
            Kind::WithBody { x: 3 }
        );
        assert!(
            load::<Kind>("nope")
                .unwrap_err()
                .message
                .contains("unknown variant")
        );
    }
}
