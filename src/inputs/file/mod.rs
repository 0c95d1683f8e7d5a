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

use crate::component::{InputBuild, InputConfig, InputKind, Validator};
use crate::util::path_match::{self, PathMatcher};
use config::FileInputConfig;


pub use tail::FileInput;

/// The `file` input type.
pub const KIND: InputKind =
    InputKind::of::<FileInputConfig>("file", "tails files matched by globs, follows rotation");

impl InputConfig for FileInputConfig {
    /// Stable for the same `paths`.
    fn default_id(&self) -> String {
        crate::component::hashed_id("file", &self.paths)
    }

    /// Resolves relative globs and checks what serde cannot: globs that can never match, regular
    /// expressions that do not compile, sizes out of range.
    fn validate(&mut self, v: &mut Validator<'_>) {
        if self.paths.is_empty() {
            v.error(
                "paths",
                "`paths` is empty: give at least one glob of files to read",
            );
        }
        for (i, pattern) in self.paths.iter_mut().enumerate() {
            let resolved = v.resolve_glob(pattern);
            if let Some(problem) = path_match::never_matches(&resolved) {
                v.error_at_item(
                    "paths",
                    i,
                    format!("the glob {pattern:?} can never match a file: {problem}"),
                );
            }
            *pattern = resolved;
        }
        for (i, pattern) in self.exclude.iter().enumerate() {
            if let Err(e) = path_match::validate(pattern) {
                v.error_at_item(
                    "exclude",
                    i,
                    format!("the exclude glob {pattern:?} is not valid: {e}"),
                );
            }
        }
        if let Some(m) = &self.multiline {
            match regex::bytes::Regex::new(&m.pattern) {
                Err(e) => v.error_in(
                    &["multiline", "pattern"],
                    format!("the multiline pattern is not a valid regular expression: {e}"),
                ),
                Ok(re) if m.match_ == config::MultilineMatch::Key && re.captures_len() < 2 => v
                    .error_in(
                        &["multiline", "pattern"],
                        format!(
                            "with `match: key` the pattern needs a capture group that holds the key, e.g.                              'msg=audit\\(([^)]*)\\)'; {:?} has none",
                            m.pattern
                        ),
                    ),
                Ok(_) => {}
            }
            if m.match_ == config::MultilineMatch::Key && m.negate {
                v.error_in(
                    &["multiline", "negate"],
                    "`negate` has no meaning with `match: key` (lines with the same key are joined); remove it",
                );
            }
            if let Some(flush) = &m.flush_pattern
                && let Err(e) = regex::bytes::Regex::new(flush)
            {
                v.error_in(
                    &["multiline", "flush_pattern"],
                    format!("the multiline flush_pattern is not a valid regular expression: {e}"),
                );
            }
        }
        if self.fingerprint_bytes.get() == 0 || self.fingerprint_bytes.get() > 1 << 20 {
            v.error(
                "fingerprint_bytes",
                "`fingerprint_bytes` must be between 1 and 1MiB (the default, 1KiB, suits most logs)",
            );
        }
        if self.max_open_files == Some(0) {
            v.error(
                "max_open_files",
                "`max_open_files` must be at least 1 (leave it out to derive it from the descriptor limit)",
            );
        }
        if self.max_line_bytes.get() == 0 {
            v.error("max_line_bytes", "`max_line_bytes` must be more than 0");
        }
    }

    fn warnings(&self) -> Vec<String> {
        path_match::warnings(&self.paths, |one| PathMatcher::new(one, &[]))
    }

    fn build(&self, ctx: &InputBuild<'_>) -> anyhow::Result<Box<dyn crate::inputs::Input>> {
        Ok(Box::new(FileInput::new(self.clone(), ctx.batch_events)))
    }
}
