//! A YAML document as a tree of nodes that remember where they were written, with `${VAR}` substitution.
//!
//! serde_yaml-style deserializers lose positions as soon as a value is buffered (tagged enums, flatten), and
//! stop at the first mistake. Building our own small tree on top of a YAML 1.2 event parser keeps the line
//! and column of every node, so configuration errors can always point at the exact place, and the loader can
//! report every mistake in one run.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// A position in the configuration text (both 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Where it starts.
    pub mark: Mark,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `~`, `null` or nothing.
    Null,
    /// A scalar after variable substitution. `plain` is false for quoted and block scalars, which are always
    /// strings; plain scalars may be numbers or booleans.
    Scalar {
        /// The text.
        text: String,
        /// Whether it was written without quotes.
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in the order written.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node for `key` in a mapping (to point at the key itself).
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A tree for a JSON value (strings become quoted scalars, numbers and booleans plain ones), for code
    /// that configures components without a file. Positions are all 0:0.
    pub fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value;
        let kind = match value {
            Value::Null => NodeKind::Null,
            Value::Bool(b) => NodeKind::Scalar {
                text: b.to_string(),
                plain: true,
            },
            Value::Number(n) => NodeKind::Scalar {
                text: n.to_string(),
                plain: true,
            },
            Value::String(s) => NodeKind::Scalar {
                text: s.clone(),
                plain: false,
            },
            Value::Array(items) => NodeKind::Seq(items.iter().map(Node::from_json).collect()),
            Value::Object(map) => NodeKind::Map(
                map.iter()
                    .map(|(k, v)| {
                        (
                            Node {
                                kind: NodeKind::Scalar {
                                    text: k.clone(),
                                    plain: false,
                                },
                                mark: Mark::default(),
                            },
                            Node::from_json(v),
                        )
                    })
                    .collect(),
            ),
        };
        Node {
            kind,
            mark: Mark::default(),
        }
    }

    /// A short word for the node's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "nothing (null)",
            NodeKind::Scalar { .. } => "a single value",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// An empty mapping at `mark`.
    pub fn empty_map(mark: Mark) -> Node {
        Node {
            kind: NodeKind::Map(Vec::new()),
            mark,
        }
    }
}

/// A problem found while reading the YAML text itself.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    /// Where.
    pub mark: Mark,
    /// What.
    pub message: String,
}

/// Looks environment variables up; a trait object so tests can supply their own.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses a YAML document into a node tree. Every `${VAR}` / `${VAR:-default}` in a scalar is replaced
/// (`$${` writes a literal `${`). Missing variables without a default are reported, all of them.
pub fn parse(text: &str, env: EnvLookup<'_>) -> Result<Node, Vec<YamlError>> {
    let mut builder = Builder {
        env,
        anchors: HashMap::new(),
        errors: Vec::new(),
        stack: Vec::new(),
        root: None,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        match next {
            Ok((event, span)) => {
                let mark = Mark {
                    line: span.start.line(),
                    col: span.start.col() + 1,
                };
                if builder.event(event, mark) {
                    break;
                }
            }
            Err(e) => {
                let m = e.marker();
                return Err(vec![YamlError {
                    mark: Mark {
                        line: m.line(),
                        col: m.col() + 1,
                    },
                    message: format!("this is not valid YAML: {}", e.info()),
                }]);
            }
        }
    }
    if !builder.errors.is_empty() {
        return Err(builder.errors);
    }
    Ok(builder.root.unwrap_or(Node {
        kind: NodeKind::Null,
        mark: Mark { line: 1, col: 1 },
    }))
}

enum Open {
    Seq(Node, usize),
    /// The mapping, its anchor, the key waiting for its value, and the keys so far (a set, so a
    /// mapping of many keys is not checked pairwise for duplicates).
    Map(Node, usize, Option<Node>, HashSet<String>),
}

struct Builder<'e> {
    env: EnvLookup<'e>,
    anchors: HashMap<usize, Node>,
    errors: Vec<YamlError>,
    stack: Vec<Open>,
    root: Option<Node>,
}

impl Builder<'_> {
    /// Handles one parser event; returns true at the end of the first document.
    fn event(&mut self, event: Event<'_>, mark: Mark) -> bool {
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == ScalarStyle::Plain;
                let text = self.substitute(&text, mark);
                let kind = if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    NodeKind::Null
                } else {
                    NodeKind::Scalar { text, plain }
                };
                self.push(Node { kind, mark }, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq(
                Node {
                    kind: NodeKind::Seq(Vec::new()),
                    mark,
                },
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.stack.push(Open::Map(
                Node {
                    kind: NodeKind::Map(Vec::new()),
                    mark,
                },
                anchor,
                None,
                HashSet::new(),
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = self.stack.pop() {
                    let (node, anchor) = match open {
                        Open::Seq(n, a) => (n, a),
                        Open::Map(n, a, _, _) => (n, a),
                    };
                    self.push(node, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => {
                    let mut copy = node.clone();
                    copy.mark = mark;
                    self.push(copy, 0);
                }
                None => self.errors.push(YamlError {
                    mark,
                    message: "this alias refers to an unknown anchor".into(),
                }),
            },
            Event::DocumentEnd => return self.root.is_some(),
            Event::StreamEnd => return true,
            _ => {}
        }
        false
    }

    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Open::Seq(seq, _)) => {
                if let NodeKind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending_key, seen)) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    if let NodeKind::Map(entries) = &mut map.kind {
                        if let Some(k) = key.as_str()
                            && !seen.insert(k.to_string())
                        {
                            self.errors.push(YamlError {
                                mark: key.mark,
                                message: format!(
                                    "the key `{k}` is written twice in the same mapping"
                                ),
                            });
                        }
                        entries.push((key, node));
                    }
                }
            },
        }
    }

    fn substitute(&mut self, text: &str, mark: Mark) -> String {
        if !text.contains('$') {
            return text.to_string();
        }
        match substitute_vars(text, self.env) {
            Ok(s) => s,
            Err(message) => {
                self.errors.push(YamlError { mark, message });
                text.to_string()
            }
        }
    }
}

/// Replaces `${VAR}` and `${VAR:-default}` in `text`; `$${` stays a literal `${`.
pub fn substitute_vars(text: &str, env: EnvLookup<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
            continue;
        }
        let Some(body_start) = after.strip_prefix("${") else {
            out.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = body_start.find('}') else {
            return Err(format!(
                "`${{` in {text:?} has no closing `}}`: write ${{NAME}} or ${{NAME:-default}}"
            ));
        };
        let body = &body_start[..end];
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid {
            return Err(format!(
                "`${{{body}}}` is not a valid variable reference: names use letters, digits and _"
            ));
        }
        match env(name)
            .filter(|v| !v.is_empty() || default.is_none())
            .or_else(|| default.map(str::to_string))
        {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "the environment variable {name} is not set: set it, or give a default with ${{{name}:-default}}"
                ));
            }
        }
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("es1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn nodes_remember_their_line_and_column() {
        let n = parse("a:\n  b: [1, two]\n", &env).unwrap();
        let b = n.get("a").unwrap().get("b").unwrap();
        assert_eq!(b.mark, Mark { line: 2, col: 6 });
        let NodeKind::Seq(items) = &b.kind else {
            panic!()
        };
        assert_eq!(items[1].mark, Mark { line: 2, col: 10 });
    }

    #[test]
    fn variables_are_substituted_with_defaults() {
        assert_eq!(
            substitute_vars("https://${HOST}:${PORT:-9200}", &env).unwrap(),
            "https://es1:9200"
        );
        assert_eq!(substitute_vars("${EMPTY:-x}", &env).unwrap(), "x");
        assert_eq!(
            substitute_vars("cost $5 and $${HOST}", &env).unwrap(),
            "cost $5 and ${HOST}"
        );
        let err = substitute_vars("${ES_API_KEY}", &env).unwrap_err();
        assert!(err.contains("ES_API_KEY is not set"), "{err}");
    }

    #[test]
    fn missing_variable_is_reported_at_its_scalar() {
        let errs = parse("a: 1\nkey: ${NOPE}\n", &env).unwrap_err();
        assert_eq!(errs[0].mark.line, 2);
        assert!(errs[0].message.contains("NOPE"));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_are_reported() {
        let errs = parse("a: 1\na: 2\n", &env).unwrap_err();
        assert!(errs[0].message.contains("written twice"));
        let errs = parse("a: [1, 2\n", &env).unwrap_err();
        assert!(errs[0].message.contains("not valid YAML"));
    }

    /// A mapping of many keys is checked for duplicates with a set: 100,000 keys took minutes when every
    /// key was compared with every other. Keys of other mappings (nested, or siblings) are not duplicates.
    #[test]
    fn duplicates_are_found_among_many_keys_and_only_within_one_mapping() {
        let mut text = String::from("m:\n");
        for i in 0..100_000 {
            text.push_str(&format!("  k{i}: {i}\n"));
        }
        let n = parse(&text, &env).unwrap();
        assert_eq!(
            n.get("m").unwrap().get("k99999").unwrap().as_str(),
            Some("99999")
        );
        text.push_str("  k17: again\nother: {k17: 1, n: {k17: 2}}\n");
        let errs = parse(&text, &env).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].message.contains("`k17` is written twice"),
            "{errs:?}"
        );
        assert_eq!(errs[0].mark.line, 100_002);
    }

    #[test]
    fn anchors_and_aliases_are_copied() {
        let n = parse("x: &v {a: 1}\ny: *v\n", &env).unwrap();
        assert_eq!(n.get("y").unwrap().get("a").unwrap().as_str(), Some("1"));
    }
}
