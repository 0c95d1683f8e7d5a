//! The directory walk behind [`PathMatcher::walk`](super::PathMatcher::walk): it starts at each pattern's
//! root and follows the pattern component by component, so it reads only folders a pattern can reach.
//!
//! - A component naming exact names (`app`, `{nginx,apache}`) is looked up by name, without listing the
//!   folder; a folder is listed only where a wildcard component needs its entries.
//! - A folder is entered only when a component matches its name and more components follow: `logs/*.log`
//!   lists `logs` and nothing below it. Only `**` (or a `{…}` group holding `**`) reaches any depth.
//! - Entry types come from the listing (no `stat` per entry on Linux and Windows); only a symbolic link
//!   that matters, or a name looked up directly, is stat'ed, and a file only once the matcher accepted it.
//! - A symbolic link to a folder is followed unless that folder is already on the way down from the root,
//!   so a link loop ends the descent instead of going round it.
//! - A folder that cannot be read is noted and skipped; the walk goes on with the others.
//!
//! The walk decides where to look; whether a file matches is decided by the compiled matcher alone.

use super::pattern::Component;
use globset::GlobMatcher;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Every regular file (or link to one) that matches, sorted, each once.
    pub files: Vec<PathBuf>,
    /// Folders that could not be read (permission denied, …) and why.
    pub unreadable: Vec<(PathBuf, io::Error)>,
    /// How many folders were listed (a measure of the walk's cost).
    pub folders_listed: usize,
}

/// A pattern's components prepared for walking.
pub(super) enum Step {
    Names(Vec<OsString>),
    Glob(GlobMatcher),
    AnyDepth,
    Rest(Option<usize>),
}

/// Where walks start and how each pattern goes on from there.
pub(super) struct Plan {
    /// Each distinct root with the patterns that start there.
    pub roots: Vec<(PathBuf, Vec<u32>)>,
    pub patterns: Vec<Vec<Step>>,
}

impl Step {
    /// `compile` builds a single-component glob with the pattern's own options.
    pub fn new(
        component: &Component,
        compile: impl Fn(&str) -> Result<GlobMatcher, globset::Error>,
    ) -> Result<Step, globset::Error> {
        Ok(match component {
            Component::Names(names) => Step::Names(names.iter().map(OsString::from).collect()),
            Component::Glob(text) => Step::Glob(compile(text)?),
            Component::AnyDepth => Step::AnyDepth,
            Component::Rest(depth) => Step::Rest(*depth),
        })
    }
}

/// How far one pattern got on the way down to a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct State {
    pattern: u32,
    /// The component the folder's entries are matched against.
    step: u32,
    /// For a `Rest` step: how many more components it may span (`u32::MAX`: any number).
    left: u32,
}

/// A folder on the way down from the root, with its resolved path once a link made it needed.
struct Link {
    path: PathBuf,
    resolved: Option<Option<PathBuf>>,
}

/// Walks every root of `plan`; `accept` is the matcher's verdict on a path.
pub(super) fn walk(plan: &Plan, accept: &dyn Fn(&Path) -> bool) -> Walk {
    let mut walker = Walker {
        plan,
        accept,
        out: Walk::default(),
        chain: Vec::new(),
    };
    for (root, patterns) in &plan.roots {
        let states = patterns
            .iter()
            .map(|&pattern| walker.start(pattern, 0))
            .collect();
        walker.visit(root, states);
    }
    let mut out = walker.out;
    out.files.sort();
    out.files.dedup();
    out
}

struct Walker<'a> {
    plan: &'a Plan,
    accept: &'a dyn Fn(&Path) -> bool,
    out: Walk,
    chain: Vec<Link>,
}

/// Errors that only say the path is not there (yet), is no folder, or is a name the system refuses
/// (Windows reports listing a file as a folder that way too): nothing to report.
fn names_nothing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename
    )
}

impl Walker<'_> {
    fn step(&self, s: State) -> &Step {
        &self.plan.patterns[s.pattern as usize][s.step as usize]
    }

    fn is_last(&self, s: State) -> bool {
        s.step as usize + 1 == self.plan.patterns[s.pattern as usize].len()
    }

    /// The state of `pattern` at component `step`.
    fn start(&self, pattern: u32, step: u32) -> State {
        let left = match self.plan.patterns[pattern as usize].get(step as usize) {
            Some(Step::Rest(Some(n))) => u32::try_from(*n).unwrap_or(u32::MAX),
            Some(Step::Rest(None)) => u32::MAX,
            _ => 0,
        };
        State {
            pattern,
            step,
            left,
        }
    }

    /// The state inside a folder whose name matched `s`, if the pattern goes on below it.
    fn next(&self, s: State) -> Option<State> {
        (!self.is_last(s)).then(|| self.start(s.pattern, s.step + 1))
    }

    /// Whether a file in the folder may match `s` (a wildcard step; the matcher decides).
    fn may_end(&self, s: State) -> bool {
        match self.step(s) {
            Step::Rest(_) => true,
            _ => self.is_last(s),
        }
    }

    /// Adds, for every state at a `**`, the state after it: `**` also matches no folder at all.
    fn close(&self, states: &mut Vec<State>) {
        let mut i = 0;
        while i < states.len() {
            let s = states[i];
            if matches!(self.step(s), Step::AnyDepth)
                && let Some(n) = self.next(s)
                && !states.contains(&n)
            {
                states.push(n);
            }
            i += 1;
        }
        states.sort_unstable();
        states.dedup();
    }

    /// Where the wildcard state `s` goes inside a subfolder called `name`.
    fn descend(&self, s: State, name: &OsString, into: &mut Vec<State>) {
        match self.step(s) {
            Step::Glob(glob) => {
                if let Some(n) = self.next(s)
                    && glob.is_match(Path::new(name))
                {
                    into.push(n);
                }
            }
            Step::AnyDepth => into.push(s),
            Step::Rest(_) => {
                if s.left > 1 {
                    let left = if s.left == u32::MAX {
                        u32::MAX
                    } else {
                        s.left - 1
                    };
                    into.push(State { left, ..s });
                }
            }
            Step::Names(_) => {}
        }
    }

    fn visit(&mut self, dir: &Path, mut states: Vec<State>) {
        self.close(&mut states);
        let mut named: Vec<(&OsString, State)> = Vec::new();
        let mut listed: Vec<State> = Vec::new();
        let plan = self.plan;
        for &s in &states {
            match &plan.patterns[s.pattern as usize][s.step as usize] {
                Step::Names(names) => named.extend(names.iter().map(|n| (n, s))),
                _ => listed.push(s),
            }
        }
        named.sort();
        self.chain.push(Link {
            path: dir.to_path_buf(),
            resolved: None,
        });
        let mut found = vec![false; named.len()];
        if !listed.is_empty() {
            self.list(dir, &listed, &named, &mut found);
        }
        // Names the listing did not show (or no listing was needed): looked up directly. On Windows this
        // also finds a name written in another case than the folder lists it.
        let mut i = 0;
        while i < named.len() {
            let name = named[i].0;
            let same = named[i..].iter().take_while(|(n, _)| *n == name).count();
            if !found[i..i + same].iter().any(|f| *f) {
                let mut children = Vec::new();
                let mut ends = false;
                for &(_, s) in &named[i..i + same] {
                    match self.next(s) {
                        Some(n) => children.push(n),
                        None => ends = true,
                    }
                }
                self.look_up(dir, name, children, ends);
            }
            i += same;
        }
        self.chain.pop();
    }

    /// Lists `dir` and handles its entries for the wildcard states `listed` and the exact names `named`.
    fn list(
        &mut self,
        dir: &Path,
        listed: &[State],
        named: &[(&OsString, State)],
        found: &mut [bool],
    ) {
        self.out.folders_listed += 1;
        let read_from = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let entries = match fs::read_dir(read_from) {
            Ok(entries) => entries,
            Err(e) => {
                if !names_nothing(&e) {
                    self.out.unreadable.push((dir.to_path_buf(), e));
                }
                return;
            }
        };
        let files_may_match = listed.iter().any(|&s| self.may_end(s));
        // Subfolders are entered after the listing is closed, so a deep walk holds one open folder.
        let mut subfolders: Vec<(PathBuf, Vec<State>)> = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    self.out.unreadable.push((dir.to_path_buf(), e));
                    break;
                }
            };
            let name = entry.file_name();
            let mut children = Vec::new();
            let mut ends = files_may_match;
            for &s in listed {
                self.descend(s, &name, &mut children);
            }
            for (i, (n, s)) in named.iter().enumerate() {
                if **n == name {
                    found[i] = true;
                    match self.next(*s) {
                        Some(next) => children.push(next),
                        None => ends = true,
                    }
                }
            }
            if children.is_empty() && !ends {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = dir.join(&name);
            if kind.is_dir() {
                if !children.is_empty() {
                    subfolders.push((path, children));
                }
            } else if kind.is_file() {
                if ends && (self.accept)(&path) {
                    self.out.files.push(path);
                }
            } else if kind.is_symlink() {
                let wanted = ends && (self.accept)(&path);
                if !wanted && children.is_empty() {
                    continue;
                }
                // Follows the link; a dangling or looping link names nothing.
                let Ok(target) = fs::metadata(&path) else {
                    continue;
                };
                if target.is_file() && wanted {
                    self.out.files.push(path);
                } else if target.is_dir() && !children.is_empty() && !self.on_the_way_down(&path) {
                    subfolders.push((path, children));
                }
            }
        }
        for (path, children) in subfolders {
            self.visit(&path, children);
        }
    }

    /// Handles `dir/name`, known from the pattern rather than a listing: a file when `ends`, a folder
    /// to go on in when `children` is not empty. A literal name consumes a component, so going on in it
    /// cannot loop.
    fn look_up(&mut self, dir: &Path, name: &OsString, children: Vec<State>, ends: bool) {
        let path = dir.join(name);
        if ends && (self.accept)(&path) {
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => self.out.files.push(path.clone()),
                Ok(_) => {}
                Err(e) if names_nothing(&e) => {}
                Err(e) => self.out.unreadable.push((dir.to_path_buf(), e)),
            }
        }
        if !children.is_empty() {
            self.visit(&path, children);
        }
    }

    /// Whether the folder a link at `path` points to is one of the folders the walk is inside of (so
    /// following it would go round in a loop). Folders are resolved only when a link needs it.
    fn on_the_way_down(&mut self, path: &Path) -> bool {
        let Ok(target) = fs::canonicalize(path) else {
            return true;
        };
        self.chain.iter_mut().any(|link| {
            let resolved = link
                .resolved
                .get_or_insert_with(|| fs::canonicalize(&link.path).ok());
            resolved.as_ref() == Some(&target)
        })
    }
}
