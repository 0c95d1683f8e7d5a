//! One shape of validation for every component: the component checks its own settings and reports each
//! problem at the key (or list item) at fault; the validator turns that into the line and column where it
//! was written.

use crate::config::load::lexical_clean;
use crate::config::yaml::{Mark, Node, NodeKind};
use std::path::{Path, PathBuf};

/// Collects a component's problems with their positions, and resolves relative paths.
pub struct Validator<'a> {
    node: &'a Node,
    base_dir: &'a Path,
    problems: Vec<(Mark, String)>,
}

impl<'a> Validator<'a> {
    /// A validator for the component entry `node` of a configuration in `base_dir`.
    pub fn new(node: &'a Node, base_dir: &'a Path) -> Validator<'a> {
        Validator {
            node,
            base_dir,
            problems: Vec::new(),
        }
    }

    /// Where the value of `path` (keys from the component's entry, e.g. `["multiline", "pattern"]`) was
    /// written, or the nearest enclosing entry when it was not.
    pub fn mark_of(&self, path: &[&str]) -> Mark {
        let mut node = self.node;
        for key in path {
            match node.get(key) {
                Some(n) => node = n,
                None => break,
            }
        }
        node.mark
    }

    /// Where item `index` of the list under `key` was written.
    pub fn mark_of_item(&self, key: &str, index: usize) -> Mark {
        match self.node.get(key).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items.get(index).map_or(self.mark_of(&[key]), |n| n.mark),
            _ => self.mark_of(&[key]),
        }
    }

    /// A problem with the value of `key`.
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        let mark = self.mark_of(&[key]);
        self.problems.push((mark, message.into()));
    }

    /// A problem with a nested value (`["multiline", "pattern"]`).
    pub fn error_in(&mut self, path: &[&str], message: impl Into<String>) {
        let mark = self.mark_of(path);
        self.problems.push((mark, message.into()));
    }

    /// A problem with item `index` of the list under `key`.
    pub fn error_at_item(&mut self, key: &str, index: usize, message: impl Into<String>) {
        let mark = self.mark_of_item(key, index);
        self.problems.push((mark, message.into()));
    }

    /// A problem with the entry as a whole.
    pub fn error_entry(&mut self, message: impl Into<String>) {
        self.problems.push((self.node.mark, message.into()));
    }

    /// The configuration file's folder.
    pub fn base_dir(&self) -> &Path {
        self.base_dir
    }

    /// A path written in the configuration, resolved against its folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            lexical_clean(&self.base_dir.join(p))
        }
    }

    /// A glob written in the configuration, resolved against its folder (a pattern starting with `\` is a
    /// Windows path on the current drive and stays as written).
    pub fn resolve_glob(&self, pattern: &str) -> String {
        if Path::new(pattern).is_absolute() || pattern.starts_with('\\') {
            pattern.to_string()
        } else {
            self.resolve(Path::new(pattern))
                .to_string_lossy()
                .into_owned()
        }
    }

    /// Whether nothing was reported.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems found, in the order reported.
    pub fn into_problems(self) -> Vec<(Mark, String)> {
        self.problems
    }
}
