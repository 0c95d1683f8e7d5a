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

/// The most nodes aliases may add to a document. A configuration repeats a block a few times at most; a
/// document whose aliases nest (each repeating the one before ten times, nine levels deep) would otherwise
/// grow to billions of nodes and take the memory of the machine.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// Looks environment variables up; a trait object so tests can supply their own.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses a YAML document into a node tree. Every `${VAR}` / `${VAR:-default}` in a scalar is replaced
/// (`$${` writes a literal `${`). Missing variables without a default are reported, all of them.
pub fn parse(text: &str, env: EnvLookup<'_>) -> Result<Node, Vec<YamlError>> {
    parse_with_secrets(text, env).0
}

/// [`parse`], and the values substituted from variables whose names say they are secret (passwords,
/// keys, tokens), which messages must never show.
pub fn parse_with_secrets(
    text: &str,
    env: EnvLookup<'_>,
) -> (Result<Node, Vec<YamlError>>, super::secrets::Secrets) {
    let mut builder = Builder {
        secrets: super::secrets::Secrets::default(),
        env,
        anchors: HashMap::new(),
        alias_nodes: 0,
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
                let error = YamlError {
                    mark: Mark {
                        line: m.line(),
                        col: m.col() + 1,
                    },
                    message: format!("this is not valid YAML: {}", e.info()),
                };
                return (Err(vec![error]), builder.secrets);
            }
        }
    }
    if !builder.errors.is_empty() {
        return (Err(builder.errors), builder.secrets);
    }
    let root = builder.root.unwrap_or(Node {
        kind: NodeKind::Null,
        mark: Mark { line: 1, col: 1 },
    });
    (Ok(root), builder.secrets)
}

enum Open {
    Seq(Node, usize),
    /// The mapping, its anchor, the key waiting for its value, and the keys so far (a set, so a
    /// mapping of many keys is not checked pairwise for duplicates).
    Map(Node, usize, Option<Node>, HashSet<String>),
}

struct Builder<'e> {
    /// Values of secret variables substituted so far.
    secrets: super::secrets::Secrets,
    env: EnvLookup<'e>,
    /// Each anchored node with its number of nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes added by aliases so far.
    alias_nodes: usize,
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
                Some((node, size)) => {
                    // Counted before the copy is made, so a runaway document stops here, at once.
                    self.alias_nodes = self.alias_nodes.saturating_add(*size);
                    if self.alias_nodes > MAX_ALIAS_NODES {
                        self.errors.push(YamlError {
                            mark,
                            message: format!(
                                "aliases (`*name`) expand this document to more than {MAX_ALIAS_NODES} \
                                 nodes: write the repeated parts out, or nest fewer aliases"
                            ),
                        });
                        return true;
                    }
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
            self.anchors
                .insert(anchor, (node.clone(), count_nodes(&node)));
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
        self.note_secret_variables(text);
        match substitute_vars(text, self.env) {
            Ok(s) => s,
            Err(message) => {
                self.errors.push(YamlError { mark, message });
                text.to_string()
            }
        }
    }
}

impl Builder<'_> {
    /// Remembers the values `${NAME}` / `${NAME:-default}` in `text` stand for, when NAME says it is
    /// a secret.
    fn note_secret_variables(&mut self, text: &str) {
        let mut rest = text;
        while let Some(pos) = rest.find("${") {
            let body = &rest[pos + 2..];
            let Some(end) = body.find('}') else { break };
            let (name, default) = match body[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&body[..end], None),
            };
            if super::secrets::is_secret_variable(name) {
                if let Some(v) = (self.env)(name) {
                    self.secrets.add(&v);
                }
                if let Some(d) = default {
                    self.secrets.add(d);
                }
            }
            rest = &body[end + 1..];
        }
    }
}

/// The number of nodes in a tree (a mapping entry counts its key and its value).
fn count_nodes(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Null | NodeKind::Scalar { .. } => 0,
        NodeKind::Seq(items) => items.iter().map(count_nodes).sum(),
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| count_nodes(k) + count_nodes(v))
            .sum(),
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
    fn nested_aliases_stop_at_the_expansion_limit() {
        // Nine levels, each ten aliases of the level before: 10^9 nodes if expanded.
        let mut doc = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..=9 {
            let prev = format!("*l{}", level - 1);
            let items = [prev.as_str(); 10].join(", ");
            doc.push_str(&format!("l{level}: &l{level} [{items}]\n"));
        }
        let started = std::time::Instant::now();
        let errs = parse(&doc, &env).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(
            errs[0].message.contains("more than 100000 nodes"),
            "{errs:?}"
        );
        assert_eq!(errs[0].mark.line, 5, "{errs:?}");
    }

    #[test]
    fn anchors_and_aliases_are_copied() {
        let n = parse("x: &v {a: 1}\ny: *v\n", &env).unwrap();
        assert_eq!(n.get("y").unwrap().get("a").unwrap().as_str(), Some("1"));
    }
}
