//! The `file` input: tails files matched by globs, follows rotation, and remembers acknowledged offsets.
//!
//! One thread reads every file of the input in turn, in large chunks. Files are identified by the content
//! of their first bytes ([`identity`]), so a renamed or compressed file is recognised and not read twice.
//! The registry offset of a file moves only when the batches before it are acknowledged.

pub mod config;
pub mod decode;
pub mod identity;
pub mod lines;
pub mod multiline;
pub mod registry;
mod tail;

use crate::config::yaml::{Mark, Node, NodeKind};
use crate::util::path_match;
use config::FileInputConfig;
use std::path::Path;

pub use tail::FileInput;

/// The id an input gets when the configuration gives none: stable for the same `paths`.
pub fn default_id(paths: &[String]) -> String {
    format!(
        "file-{:08x}",
        xxhash_rust::xxh3::xxh3_64(paths.join("\n").as_bytes()) as u32
    )
}

/// Resolves relative globs against `base_dir` and checks what serde cannot: globs that can never match,
/// regular expressions that do not compile. Returns every problem with its position.
pub fn validate(cfg: &mut FileInputConfig, node: &Node, base_dir: &Path) -> Vec<(Mark, String)> {
    let mut errors = Vec::new();
    let item_marks = |key: &str| -> Vec<Mark> {
        match node.get(key).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items.iter().map(|n| n.mark).collect(),
            _ => Vec::new(),
        }
    };
    let path_marks = item_marks("paths");
    if cfg.paths.is_empty() {
        errors.push((
            node.get("paths").map(|n| n.mark).unwrap_or(node.mark),
            "`paths` is empty: give at least one glob of files to read".to_string(),
        ));
    }
    for (i, pattern) in cfg.paths.iter_mut().enumerate() {
        let mark = path_marks.get(i).copied().unwrap_or(node.mark);
        let resolved = resolve_glob(pattern, base_dir);
        if let Some(problem) = path_match::never_matches(&resolved) {
            errors.push((
                mark,
                format!("the glob {pattern:?} can never match a file: {problem}"),
            ));
        }
        *pattern = resolved;
    }
    let exclude_marks = item_marks("exclude");
    for (i, pattern) in cfg.exclude.iter().enumerate() {
        if let Err(e) = path_match::validate(pattern) {
            let mark = exclude_marks.get(i).copied().unwrap_or(node.mark);
            errors.push((
                mark,
                format!("the exclude glob {pattern:?} is not valid: {e}"),
            ));
        }
    }
    if let Some(m) = &cfg.multiline
        && let Err(e) = regex::bytes::Regex::new(&m.pattern)
    {
        let mark = node
            .get("multiline")
            .and_then(|n| n.get("pattern"))
            .map(|n| n.mark)
            .unwrap_or(node.mark);
        errors.push((
            mark,
            format!("the multiline pattern is not a valid regular expression: {e}"),
        ));
    }
    if cfg.fingerprint_bytes.get() == 0 || cfg.fingerprint_bytes.get() > 1 << 20 {
        let mark = node
            .get("fingerprint_bytes")
            .map(|n| n.mark)
            .unwrap_or(node.mark);
        errors.push((
            mark,
            "`fingerprint_bytes` must be between 1 and 1MiB (the default, 1KiB, suits most logs)"
                .into(),
        ));
    }
    if cfg.max_line_bytes.get() == 0 {
        let mark = node
            .get("max_line_bytes")
            .map(|n| n.mark)
            .unwrap_or(node.mark);
        errors.push((mark, "`max_line_bytes` must be more than 0".into()));
    }
    errors
}

fn resolve_glob(pattern: &str, base_dir: &Path) -> String {
    if Path::new(pattern).is_absolute() || pattern.starts_with('\\') {
        pattern.to_string()
    } else {
        crate::config::load::lexical_clean(&base_dir.join(pattern))
            .to_string_lossy()
            .into_owned()
    }
}
