//! Secrets in a configuration are never shown: error messages and the quoted line at fault print `***`
//! where a password, API key or token was written or substituted.
//!
//! A value is secret when it is written under a key whose name says so (`password`, `api_key`,
//! `bearer_token`, anything with `password`, `secret`, `token` or `api_key` in it), or when it comes from an
//! environment variable whose name says so (`${ES_PASSWORD}`, `${API_KEY}`, `${GITHUB_TOKEN}`), wherever
//! it is used. Those values are replaced in every message, and the value of a secret key is masked on the
//! quoted line even when it is not a value logward collected (a key in the wrong place).

use super::yaml::{Node, NodeKind};

/// The mask printed instead of a secret.
pub const MASK: &str = "***";

/// Whether a configuration key holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "credential",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// Whether an environment variable, by its name, holds a secret.
pub fn is_secret_variable(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL"]
        .iter()
        .any(|w| n.contains(w))
}

/// The secret values of one configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Secrets {
    /// Longest first, so a secret containing another is masked whole.
    values: Vec<String>,
}

impl Secrets {
    /// Adds a value (empty ones are nothing to hide).
    pub fn add(&mut self, value: &str) {
        if !value.is_empty() && !self.values.iter().any(|v| v == value) {
            self.values.push(value.to_string());
            self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    /// Adds every scalar under a secret key of `root`, at any depth.
    pub fn collect_from(&mut self, root: &Node) {
        match &root.kind {
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    if k.as_str().is_some_and(is_secret_key) {
                        self.add_all(v);
                    } else {
                        self.collect_from(v);
                    }
                }
            }
            NodeKind::Seq(items) => items.iter().for_each(|i| self.collect_from(i)),
            NodeKind::Null | NodeKind::Scalar { .. } => {}
        }
    }

    fn add_all(&mut self, node: &Node) {
        match &node.kind {
            NodeKind::Scalar { text, .. } => self.add(text),
            NodeKind::Seq(items) => items.iter().for_each(|i| self.add_all(i)),
            NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| self.add_all(v)),
            NodeKind::Null => {}
        }
    }

    /// `text` with every secret value replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }

    /// A line of the configuration as it may be shown: secret values replaced, and the value of a secret
    /// key (`password: x`, `- api_key: x`, `{password: x}`) masked.
    pub fn redact_line(&self, line: &str) -> String {
        mask_secret_keys(&self.redact(line))
    }
}

/// Masks what follows `key:` for every secret key on a line, up to the next `,` or `}` in flow style.
fn mask_secret_keys(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(colon) = rest.find(':') {
        let before = &rest[..colon];
        let key_start = before
            .rfind(|c: char| {
                !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '"' || c == '\'')
            })
            .map_or(0, |i| i + 1);
        let key = before[key_start..].trim_matches(['"', '\'']);
        out.push_str(&rest[..=colon]);
        rest = &rest[colon + 1..];
        // `key: value` (a `:` inside a word, as in a URL, is no key).
        if !is_secret_key(key) || !rest.starts_with([' ', '\t']) {
            continue;
        }
        let value = rest.trim_start();
        if value.is_empty() {
            continue;
        }
        out.push_str(&rest[..rest.len() - value.len()]);
        let len = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].find(q).map_or(value.len(), |i| i + 2),
            _ => value.find([',', '}']).unwrap_or(value.len()),
        };
        out.push_str(MASK);
        rest = &value[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_and_variables_are_recognised() {
        for k in [
            "password",
            "api_key",
            "bearer_token",
            "proxy_password",
            "client_secret",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["username", "hosts", "key_field", "path"] {
            assert!(!is_secret_key(k), "{k}");
        }
        assert!(is_secret_variable("ES_PASSWORD") && is_secret_variable("ES_API_KEY"));
        assert!(!is_secret_variable("ES_HOST"));
    }

    #[test]
    fn lines_keep_their_shape_with_secrets_masked() {
        let mut s = Secrets::default();
        s.add("hunter22");
        assert_eq!(s.redact_line("    password: hunter22"), "    password: ***");
        assert_eq!(
            s.redact_line("  - {username: bob, password: 'p,w', x: 1}"),
            "  - {username: bob, password: ***, x: 1}"
        );
        assert_eq!(
            s.redact_line("    api_key: \"abc:def\""),
            "    api_key: ***"
        );
        assert_eq!(s.redact_line("    timeout: hunter22s"), "    timeout: ***s");
        assert_eq!(
            s.redact_line("    hosts: [\"http://a:9200\"]"),
            "    hosts: [\"http://a:9200\"]"
        );
        assert_eq!(s.redact_line("    password:"), "    password:");
    }
}
