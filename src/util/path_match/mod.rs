//! Which files a list of path patterns names, and finding them.
//!
//! Patterns: `*`, `?` and `[abc]` / `[!abc]` match within one path component (never across a
//! separator), `**` as a whole component matches any number of folders, `{a,b}` matches either
//! alternative (nested groups and empty alternatives, as in `app.log{,.1}`, work too). On Windows `\`
//! and `/` are both separators (`C:\logs\*.log`, `C:/logs/**/*.log`) and nothing is an escape; on Unix
//! `\` escapes the next character. Exclude patterns without a separator match the file name, the others
//! the whole path.
//!
//! All include patterns of an input compile into one globset matcher, and so do its excludes; that
//! matcher alone decides whether a path matches. [`PathMatcher::walk`] reads the file system to find the
//! candidates, only as far down as the patterns can reach (see [`walk`]).

mod pattern;
mod walk;

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};
use pattern::Component;
pub use pattern::Syntax;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
pub use walk::Walk;

/// A pattern that is not valid, with the reason and the character where it goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
    /// 1-based character position in the pattern.
    position: Option<usize>,
    reason: String,
}

impl PatternError {
    /// The pattern at fault, as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The 1-based character in the pattern where the mistake is, when it can be told.
    pub fn position(&self) -> Option<usize> {
        self.position
    }

    fn syntax(pattern: &str, e: pattern::SyntaxError) -> PatternError {
        PatternError {
            pattern: pattern.to_string(),
            position: e.position,
            reason: e.reason,
        }
    }

    /// An error the reader above did not foresee but globset found.
    fn globset(pattern: &str, e: &globset::Error) -> PatternError {
        PatternError {
            pattern: pattern.to_string(),
            position: None,
            reason: e.kind().to_string(),
        }
    }
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some(at) => write!(f, "{} (at character {at})", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for PatternError {}

/// Include and exclude patterns compiled once, to test paths and to walk the file system.
pub struct PathMatcher {
    syntax: Syntax,
    include: GlobSet,
    exclude_names: GlobSet,
    exclude_paths: GlobSet,
    plan: walk::Plan,
}

/// The match options every pattern is compiled with.
fn builder(normalized: &str, syntax: Syntax) -> GlobBuilder<'_> {
    let mut b = GlobBuilder::new(normalized);
    b.literal_separator(true)
        // Said explicitly: globset's default depends on the platform it was built for, and Windows
        // patterns have had their backslashes turned into `/` already.
        .backslash_escape(syntax == Syntax::Unix)
        .empty_alternates(true);
    b
}

fn read(pattern: &str, syntax: Syntax) -> Result<(pattern::Parsed, globset::Glob), PatternError> {
    let parsed = pattern::parse(pattern, syntax).map_err(|e| PatternError::syntax(pattern, e))?;
    let glob = builder(&parsed.normalized, syntax)
        .build()
        .map_err(|e| PatternError::globset(pattern, &e))?;
    Ok((parsed, glob))
}

/// The folder a parsed root names, with this platform's separators so the paths found read naturally.
fn root_path(root: &str, syntax: Syntax) -> PathBuf {
    match syntax {
        Syntax::Unix => PathBuf::from(root),
        Syntax::Windows => PathBuf::from(root.replace('/', "\\")),
    }
}

impl PathMatcher {
    /// Compiles `include` and `exclude` patterns written for this platform.
    pub fn new<S: AsRef<str>>(include: &[S], exclude: &[S]) -> Result<PathMatcher, PatternError> {
        PathMatcher::with_syntax(include, exclude, Syntax::native())
    }

    /// Compiles patterns read with `syntax` (tests use it to read Windows patterns on any platform).
    pub fn with_syntax<S: AsRef<str>>(
        include: &[S],
        exclude: &[S],
        syntax: Syntax,
    ) -> Result<PathMatcher, PatternError> {
        let mut includes = GlobSetBuilder::new();
        let mut roots: Vec<(PathBuf, Vec<u32>)> = Vec::new();
        let mut patterns = Vec::new();
        for pattern in include {
            let pattern = pattern.as_ref();
            let (parsed, glob) = read(pattern, syntax)?;
            includes.add(glob);
            let compile = |text: &str| builder(text, syntax).build().map(|g| g.compile_matcher());
            let steps = parsed
                .components
                .iter()
                .map(|c| walk::Step::new(c, compile))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| PatternError::globset(pattern, &e))?;
            if steps.is_empty() || parsed.ends_with_separator {
                continue; // it names a folder at most: nothing to walk for
            }
            let index = patterns.len() as u32;
            patterns.push(steps);
            let root = root_path(&parsed.root, syntax);
            match roots.iter_mut().find(|(r, _)| *r == root) {
                Some((_, list)) => list.push(index),
                None => roots.push((root, vec![index])),
            }
        }
        let mut names = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        for pattern in exclude {
            let pattern = pattern.as_ref();
            let (parsed, glob) = read(pattern, syntax)?;
            if parsed.has_separator {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        // Each pattern compiled on its own above; together they can only exceed globset's size limits.
        let set = |b: GlobSetBuilder, patterns: &[S]| {
            b.build().map_err(|e| PatternError {
                pattern: patterns
                    .iter()
                    .map(|p| p.as_ref())
                    .collect::<Vec<_>>()
                    .join(", "),
                position: None,
                reason: e.kind().to_string(),
            })
        };
        Ok(PathMatcher {
            syntax,
            include: set(includes, include)?,
            exclude_names: set(names, exclude)?,
            exclude_paths: set(paths, exclude)?,
            plan: walk::Plan { roots, patterns },
        })
    }

    /// The path as globset compares it: `/` separators (globset does this itself on Windows; doing it
    /// here too lets Windows patterns be tested on any platform).
    fn normalized<'p>(&self, path: &'p Path) -> Cow<'p, [u8]> {
        let bytes = path.as_os_str().as_encoded_bytes();
        if self.syntax == Syntax::Windows && bytes.contains(&b'\\') {
            Cow::Owned(
                bytes
                    .iter()
                    .map(|&b| if b == b'\\' { b'/' } else { b })
                    .collect(),
            )
        } else {
            Cow::Borrowed(bytes)
        }
    }

    /// Whether an include pattern matches `path` and no exclude pattern does.
    pub fn is_match(&self, path: &Path) -> bool {
        let bytes = self.normalized(path);
        self.include
            .is_match_candidate(&Candidate::from_bytes(&*bytes))
            && !self.excludes(&bytes)
    }

    /// Whether an exclude pattern matches `path` (by file name, or by path for patterns with a separator).
    pub fn is_excluded(&self, path: &Path) -> bool {
        self.excludes(&self.normalized(path))
    }

    fn excludes(&self, normalized: &[u8]) -> bool {
        if !self.exclude_paths.is_empty()
            && self
                .exclude_paths
                .is_match_candidate(&Candidate::from_bytes(normalized))
        {
            return true;
        }
        if self.exclude_names.is_empty() {
            return false;
        }
        let name = match normalized.iter().rposition(|&b| b == b'/') {
            Some(i) => &normalized[i + 1..],
            None => normalized,
        };
        self.exclude_names
            .is_match_candidate(&Candidate::from_bytes(name))
    }

    /// Every regular file (or link to one) the patterns match now, sorted, with the folders that could
    /// not be read.
    pub fn walk(&self) -> Walk {
        walk::walk(&self.plan, &|path| self.is_match(path))
    }
}

/// Checks that `pattern` (written for this platform) is valid.
pub fn validate(pattern: &str) -> Result<(), PatternError> {
    read(pattern, Syntax::native()).map(|_| ())
}

/// What `logward check` says about an input's patterns, each compiled alone by `matcher` (as the input
/// compiles them) so a warning names the one at fault: globs that match no file yet, and folders on the
/// way that cannot be read. Invalid patterns are left out: they are errors already.
pub fn warnings(
    patterns: &[String],
    matcher: impl Fn(&[String]) -> Result<PathMatcher, PatternError>,
) -> Vec<String> {
    let mut out = Vec::new();
    for pattern in patterns {
        let Ok(matcher) = matcher(std::slice::from_ref(pattern)) else {
            continue;
        };
        let walk = matcher.walk();
        for (folder, e) in &walk.unreadable {
            out.push(format!(
                "cannot look into {} for {pattern:?}: {e}; logward cannot read files below it either",
                folder.display()
            ));
        }
        if walk.files.is_empty() {
            out.push(format!(
                "no file matches {pattern:?} yet; logward will pick files up when they appear"
            ));
        }
    }
    out
}

/// Whether `pattern` (written for this platform) names one path, with no wildcard or alternative.
pub fn is_literal(pattern: &str) -> bool {
    pattern::is_literal(pattern, Syntax::native())
}

/// Why an include pattern (written for this platform) can never match a regular file, if it cannot.
pub fn never_matches(pattern: &str) -> Option<String> {
    never_matches_with(pattern, Syntax::native())
}

fn never_matches_with(pattern: &str, syntax: Syntax) -> Option<String> {
    let parsed = match read(pattern, syntax) {
        Ok((parsed, _)) => parsed,
        Err(e) => return Some(e.to_string()),
    };
    if parsed.ends_with_separator || parsed.components.is_empty() {
        return Some("it names folders, not files; end it with a file pattern like `*.log`".into());
    }
    let (last, folders) = parsed.components.split_last()?;
    if *last == Component::AnyDepth {
        return Some(
            "`**` at the end names folders, not files; end it with a file pattern like `**/*.log`"
                .into(),
        );
    }
    // A fixed leading folder that exists as a regular file cannot have anything below it.
    let mut prefix = root_path(&parsed.root, syntax);
    for component in folders {
        let Component::Names(names) = component else {
            break;
        };
        let [name] = names.as_slice() else {
            break;
        };
        prefix.push(name);
        if prefix.is_file() {
            return Some(format!(
                "{} is a file, so nothing can be below it",
                prefix.display()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests;
