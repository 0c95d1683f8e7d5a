//! The component model: how an input, an output or a processor plugs into logward.
//!
//! A component is a module of its own with a configuration struct that derives `Deserialize` and implements
//! one of the traits here ([`InputConfig`], [`OutputConfig`], [`ProcessorConfig`]); [`registry`] names every
//! component type on one line. The configuration loader reads the options every component of a kind shares
//! ([`InputOptions`], [`OutputOptions`], [`ProcessorOptions`]) itself, hands the rest of the entry to the
//! component's own struct (so an unknown key is still reported at its line and column, with "did you mean"),
//! then calls the component's `validate` with a [`Validator`] that knows where every key was written.
//!
//! Vector registers typed config structs by name; Fluent Bit has one plugin table per kind. A static list
//! of kinds with a generic loader per config type is the Rust shape of both: no global constructors, no
//! macros, and the compiler checks that every registered type implements its trait.

pub mod decoration;
pub mod listen;
pub mod options;
pub mod registry;
pub mod validate;

pub use decoration::Decoration;
pub use listen::{Listen, Protocol};
pub use options::{InputOptions, OutputOptions, ProcessorOptions};
pub use validate::Validator;

use crate::config::load::Loader;
use crate::config::yaml::{Mark, Node};
use crate::inputs::Input;
use crate::outputs::Output;
use crate::processors::Processor;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The settings of one input type (`type: file`, `type: evtx`, …), as its configuration struct.
pub trait InputConfig: Debug + Send + Sync + Any {
    /// The input's id when the configuration gives none: stable for the same settings (it keys the
    /// input's checkpoints).
    fn default_id(&self) -> String;

    /// Checks what deserialization cannot (values that can never work, patterns that do not compile) and
    /// resolves relative paths against the configuration's folder. Problems go to `v` at their key.
    fn validate(&mut self, v: &mut Validator<'_>) {
        let _ = v;
    }

    /// The sockets this input listens on, so `logward check` can refuse two components on one address.
    fn listen(&self) -> Vec<Listen> {
        Vec::new()
    }

    /// Things that are allowed but probably not meant (for `logward check`), e.g. a glob that matches
    /// nothing yet.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// Builds the input; nothing runs yet.
    fn build(&self, ctx: &InputBuild<'_>) -> anyhow::Result<Box<dyn Input>>;
}

/// What an input is built with.
pub struct InputBuild<'a> {
    /// The input's id.
    pub id: &'a str,
    /// The largest batch the input should hand over at once (`queue.batch_events`).
    pub batch_events: usize,
    /// The configuration file's folder.
    pub base_dir: &'a Path,
}

/// The settings of one output type.
pub trait OutputConfig: Debug + Send + Sync + Any {
    /// Checks what deserialization cannot and resolves relative paths; problems go to `v` at their key.
    fn validate(&mut self, v: &mut Validator<'_>) {
        let _ = v;
    }

    /// Things that are allowed but probably not meant (for `logward check`).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// Builds the output: one instance per worker (requests in flight at once); they share the queue.
    fn build(&self, ctx: &OutputBuild<'_>) -> anyhow::Result<Vec<Box<dyn Output>>>;
}

/// What an output is built with.
pub struct OutputBuild<'a> {
    /// The output's name (its `id`, or `<type>-<position>`).
    pub name: &'a str,
    /// logward's data folder (dead-letter files live there).
    pub data_dir: &'a Path,
}

/// The settings of one processor type.
pub trait ProcessorConfig: Debug + Send + Sync + Any {
    /// Builds the processor: compiles its patterns, checks its formats. The message says what is wrong.
    fn build(&self, ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String>;
}

/// What a processor is built with.
pub struct ProcessorBuild<'a> {
    /// The configuration file's folder (for `patterns_dir` and the like).
    pub base_dir: &'a Path,
    /// Which chain the processor belongs to (`global` or an input id), for its metrics.
    pub scope: &'a str,
}

impl ProcessorBuild<'static> {
    /// For a processor built outside a pipeline (tests, benchmarks): relative paths against the current
    /// folder, metrics under the chain `standalone`.
    pub fn standalone() -> ProcessorBuild<'static> {
        ProcessorBuild {
            base_dir: Path::new("."),
            scope: "standalone",
        }
    }
}

/// A registered component type: its name, and how its own settings are read. `T` is the trait its
/// config implements (`dyn InputConfig`, …).
pub struct Kind<T: ?Sized> {
    /// The name written after `type:` (a processor: the key naming it, `- grok: {…}`).
    pub name: &'static str,
    /// Other names accepted for it (Beats' `drop_event` for `drop`).
    pub aliases: &'static [&'static str],
    /// One line for `logward check` and the docs.
    pub about: &'static str,
    /// The keys the loader reads itself (the shared options), for "did you mean".
    shared_keys: &'static [&'static str],
    /// What the component is called in messages (`file input`, `grok`).
    context: fn(&'static str) -> String,
    load: LoadFn<T>,
}

/// Reads a component's own settings: `(loader, body, context for messages, shared keys)`.
type LoadFn<T> = fn(&mut Loader, &Node, &str, &[&str]) -> Option<Box<T>>;

/// A registered input type.
pub type InputKind = Kind<dyn InputConfig>;
/// A registered output type.
pub type OutputKind = Kind<dyn OutputConfig>;
/// A registered processor type.
pub type ProcessorKind = Kind<dyn ProcessorConfig>;

impl<T: ?Sized> Kind<T> {
    /// Reads the component's own settings from `body` (the entry without the shared options), reporting
    /// every mistake with its position.
    pub fn load(&self, loader: &mut Loader, body: &Node) -> Option<Box<T>> {
        (self.load)(loader, body, &(self.context)(self.name), self.shared_keys)
    }
}

impl InputKind {
    /// The input type `name`, configured by `C`.
    pub const fn of<C: InputConfig + DeserializeOwned>(
        name: &'static str,
        about: &'static str,
    ) -> InputKind {
        Kind {
            name,
            aliases: &[],
            about,
            shared_keys: InputOptions::KEYS,
            context: |name| format!("{name} input"),
            load: |loader, body, context, shared| {
                let c = loader.component_section::<C>(body, context, shared)?;
                Some(Box::new(c))
            },
        }
    }
}

impl OutputKind {
    /// The output type `name`, configured by `C`.
    pub const fn of<C: OutputConfig + DeserializeOwned>(
        name: &'static str,
        about: &'static str,
    ) -> OutputKind {
        Kind {
            name,
            aliases: &[],
            about,
            shared_keys: OutputOptions::KEYS,
            context: |name| format!("{name} output"),
            load: |loader, body, context, shared| {
                let c = loader.component_section::<C>(body, context, shared)?;
                Some(Box::new(c))
            },
        }
    }
}

impl ProcessorKind {
    /// The processor type `name` (also accepted as any of `aliases`), configured by `C`.
    pub const fn of<C: ProcessorConfig + DeserializeOwned>(
        name: &'static str,
        aliases: &'static [&'static str],
        about: &'static str,
    ) -> ProcessorKind {
        Kind {
            name,
            aliases,
            about,
            shared_keys: ProcessorOptions::KEYS,
            context: |name| name.to_string(),
            load: |loader, body, context, shared| {
                let c = loader.component_section::<C>(body, context, shared)?;
                Some(Box::new(c))
            },
        }
    }
}

/// A default id that stays the same for the same settings: `<prefix>-<hash of parts>`.
pub fn hashed_id(prefix: &str, parts: &[String]) -> String {
    format!(
        "{prefix}-{:08x}",
        xxhash_rust::xxh3::xxh3_64(parts.join("\n").as_bytes()) as u32
    )
}

fn downcast<C: Any>(config: &dyn Any) -> Option<&C> {
    config.downcast_ref::<C>()
}

/// One configured input: its type, the shared options and its own settings.
#[derive(Debug, Clone)]
pub struct InputSpec {
    /// The type (`file`, `evtx`, …).
    pub kind: &'static str,
    /// The id: as configured, or the component's default.
    pub id: String,
    /// The options every input has.
    pub options: InputOptions,
    /// The input's own settings.
    pub config: Arc<dyn InputConfig>,
    /// Where the entry starts in the configuration.
    pub mark: Mark,
}

impl InputSpec {
    /// The input's own settings as their concrete type (for commands and tests that know the type).
    pub fn config_as<C: InputConfig>(&self) -> Option<&C> {
        downcast(self.config.as_ref())
    }
}

/// One configured output.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    /// The type (`elasticsearch`, `file`, …).
    pub kind: &'static str,
    /// The name in metrics, logs and file names: the `id`, or `<type>-<position>`.
    pub name: String,
    /// The options every output has.
    pub options: OutputOptions,
    /// The output's own settings.
    pub config: Arc<dyn OutputConfig>,
    /// Where the entry starts in the configuration.
    pub mark: Mark,
}

impl OutputSpec {
    /// The output's own settings as their concrete type.
    pub fn config_as<C: OutputConfig>(&self) -> Option<&C> {
        downcast(self.config.as_ref())
    }
}

/// One configured processor.
#[derive(Debug, Clone)]
pub struct ProcessorSpec {
    /// The type (`grok`, `date`, …).
    pub kind: &'static str,
    /// The options every processor has (`when`, and what to do when it succeeds).
    pub options: ProcessorOptions,
    /// The processor's own settings.
    pub config: Arc<dyn ProcessorConfig>,
    /// Where the entry starts in the configuration.
    pub mark: Mark,
}

impl ProcessorSpec {
    /// The processor's own settings as their concrete type.
    pub fn config_as<C: ProcessorConfig>(&self) -> Option<&C> {
        downcast(self.config.as_ref())
    }
}

/// Names Windows reserves in every folder, whatever the extension.
const DEVICES: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Whether `name`, joined to a folder, names a file in that folder and nowhere else, on every platform:
/// not empty, not `.` or `..`, no `/`, `\`, `:` or NUL, no Windows device name, no trailing dot or space.
/// Every name from a configuration or from disk that becomes a path goes through this or [`file_stem`]
/// (which maps any name to one that passes).
pub fn is_plain_file_name(name: &str) -> bool {
    let device = name
        .split('.')
        .next()
        .is_some_and(|base| DEVICES.contains(&base.to_ascii_lowercase().as_str()));
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', ':', '\0'])
        && !name.ends_with(['.', ' '])
        && !device
}

/// Turns a component's name into a file name that is safe on every platform and unique for every name:
/// plain names (`a-z`, `0-9`, `-`, `_`, not a Windows device name) stay as they are; anything else is
/// lowercased, its other characters replaced by `_`, and a hash of the exact name appended after a `.`,
/// which plain names cannot contain. So `web.app` and `web_app`, or `App` and `app` (the same file on
/// Windows), can never share a file, and `../x` never leaves its folder.
pub fn file_stem(name: &str) -> String {
    let plain = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && is_plain_file_name(name);
    if plain {
        return name.to_string();
    }
    let readable: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    // Windows takes `con.anything` for the device too.
    let readable = if DEVICES.contains(&readable.as_str()) {
        format!("_{readable}")
    } else {
        readable
    };
    format!(
        "{readable}.{:016x}",
        xxhash_rust::xxh3::xxh3_64(name.as_bytes())
    )
}

/// `dir/<file_stem(name)><extension>`.
pub fn file_for(dir: &Path, name: &str, extension: &str) -> PathBuf {
    dir.join(format!("{}{extension}", file_stem(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_unique_and_safe() {
        assert_eq!(file_stem("go-service"), "go-service");
        assert_eq!(file_stem("web_app"), "web_app");
        let names = [
            "web.app",
            "web_app",
            "App",
            "app",
            "../../escaped",
            "a/b",
            "a\\b",
            "con",
            "",
            "é",
        ];
        let stems: std::collections::HashSet<String> = names.iter().map(|n| file_stem(n)).collect();
        assert_eq!(stems.len(), names.len(), "{stems:?}");
        for s in &stems {
            assert!(!s.is_empty());
            assert!(!s.contains(['/', '\\', ':']), "{s}");
            assert!(s != "." && s != "..");
            assert_eq!(s, &s.to_lowercase(), "case-insensitive file systems");
        }
        assert!(file_stem(&"x".repeat(500)).len() < 80);
        for s in &stems {
            assert!(is_plain_file_name(s), "{s}");
        }
    }

    #[test]
    fn plain_file_names_stay_in_their_folder() {
        for ok in ["logward.ndjson", "app-1_x", ".hidden", "a b"] {
            assert!(is_plain_file_name(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", "c:x", "nul", "CON.txt", "x.", "x ", "a\0b",
        ] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
    }
}
