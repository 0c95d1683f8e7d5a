//! Loading a configuration: read, substitute, parse, deserialize each section, validate — collecting every
//! mistake with its file, line and column instead of stopping at the first.

use super::HumanDuration;
use super::de::{DeError, from_node};
use super::model::{Config, InputConfig, LoggingConfig, OutputConfig, QueueConfig};
use super::yaml::{self, Mark, Node, NodeKind};
use std::fmt;
use std::path::{Path, PathBuf};

/// One mistake in a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// Where it is, when known.
    pub mark: Option<Mark>,
    /// What is wrong and what to do, in plain words.
    pub message: String,
}

/// Every mistake found in one configuration, with the text to show the lines at fault.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    /// The file name (or `<embedded default>`).
    pub source: String,
    /// The configuration text.
    pub text: String,
    /// The mistakes, in order of position.
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<&str> = self.text.lines().collect();
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match e.mark {
                Some(m) => {
                    writeln!(f, "{}:{}:{}: {}", self.source, m.line, m.col, e.message)?;
                    if let Some(line) = m.line.checked_sub(1).and_then(|i| lines.get(i)) {
                        writeln!(f, "  {:>4} | {line}", m.line)?;
                        writeln!(f, "       | {}^", " ".repeat(m.col.saturating_sub(1)))?;
                    }
                }
                None => writeln!(f, "{}: {}", self.source, e.message)?,
            }
        }
        write!(f, "{} problem(s) in {}", self.errors.len(), self.source)
    }
}

impl std::error::Error for ConfigErrors {}

/// Loads a configuration file. Relative paths inside it are resolved against its folder.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        source: source.clone(),
        text: String::new(),
        errors: vec![ConfigError {
            mark: None,
            message: format!(
                "cannot read the configuration file: {e}; check the path given with -c"
            ),
        }],
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| ".".into());
    let base = std::path::absolute(&base).unwrap_or(base);
    load_str(&text, &source, &base, &|name| std::env::var(name).ok())
}

/// Loads a configuration from text.
pub fn load_str(
    text: &str,
    source: &str,
    base_dir: &Path,
    env: yaml::EnvLookup<'_>,
) -> Result<Config, ConfigErrors> {
    let fail = |errors: Vec<ConfigError>| ConfigErrors {
        source: source.to_string(),
        text: text.to_string(),
        errors,
    };
    let root = yaml::parse(text, env).map_err(|errs| {
        fail(
            errs.into_iter()
                .map(|e| ConfigError {
                    mark: Some(e.mark),
                    message: e.message,
                })
                .collect(),
        )
    })?;
    let mut loader = Loader {
        errors: Vec::new(),
        base_dir: base_dir.to_path_buf(),
    };
    let config = loader.config(&root, source);
    let mut errors = loader.errors;
    match config {
        Some(c) if errors.is_empty() => Ok(c),
        _ => {
            errors.sort_by_key(|e| e.mark.map(|m| (m.line, m.col)).unwrap_or((0, 0)));
            errors.dedup();
            Err(fail(errors))
        }
    }
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "data_dir",
    "inputs",
    "processors",
    "queue",
    "outputs",
    "logging",
    "shutdown_timeout",
    "progress_interval",
];

struct Loader {
    errors: Vec<ConfigError>,
    base_dir: PathBuf,
}

impl Loader {
    fn error(&mut self, mark: Mark, message: impl Into<String>) {
        self.errors.push(ConfigError {
            mark: Some(mark),
            message: message.into(),
        });
    }

    fn de_error(&mut self, fallback: Mark, context: &str, e: DeError) {
        let message = if context.is_empty() {
            e.message
        } else {
            format!("{context}: {}", e.message)
        };
        self.errors.push(ConfigError {
            mark: Some(e.mark.unwrap_or(fallback)),
            message,
        });
    }

    /// Deserializes one section, recording its error.
    fn section<'a, T: serde::Deserialize<'a>>(
        &mut self,
        node: &'a Node,
        context: &str,
    ) -> Option<T> {
        match from_node::<T>(node) {
            Ok(v) => Some(v),
            Err(e) => {
                self.de_error(node.mark, context, e);
                None
            }
        }
    }

    fn config(&mut self, root: &Node, source: &str) -> Option<Config> {
        let NodeKind::Map(entries) = &root.kind else {
            self.error(
                root.mark,
                format!(
                    "the configuration must be a mapping of settings, found {}",
                    root.kind_name()
                ),
            );
            return None;
        };
        for (key, _) in entries {
            let name = key.as_str().unwrap_or("");
            if !TOP_LEVEL_KEYS.contains(&name) {
                self.error(
                    key.mark,
                    unknown_key_message(name, TOP_LEVEL_KEYS, "at the top level"),
                );
            }
        }
        let data_dir = match root.get("data_dir") {
            Some(n) => self
                .section::<PathBuf>(n, "data_dir")
                .map(|p| self.resolve(&p)),
            None => Some(default_data_dir()),
        };
        let inputs = self.components(
            root,
            "inputs",
            InputConfig::TYPES,
            |l, kind, body, index| l.input(kind, body, index),
        );
        let outputs = self.components(
            root,
            "outputs",
            OutputConfig::TYPES,
            |l, kind, body, index| l.output(kind, body, index),
        );
        let processors = match root.get("processors") {
            Some(n) => self.processors(n, "processors"),
            None => Vec::new(),
        };
        let queue = match root.get("queue") {
            Some(n) => self.section_all::<QueueConfig>(n, "queue").map(|mut q| {
                if let Some(p) = &q.path {
                    q.path = Some(self.resolve(p));
                }
                q
            }),
            None => Some(QueueConfig::default()),
        };
        let logging = match root.get("logging") {
            Some(n) => self.section_all::<LoggingConfig>(n, "logging"),
            None => Some(LoggingConfig::default()),
        };
        let shutdown_timeout = match root.get("shutdown_timeout") {
            Some(n) => self.section::<HumanDuration>(n, "shutdown_timeout"),
            None => Some(HumanDuration::secs(30)),
        };
        let progress_interval = match root.get("progress_interval") {
            Some(n) => self.section::<HumanDuration>(n, "progress_interval"),
            None => Some(HumanDuration::secs(10)),
        };
        if let (Some(inputs), Some(outputs)) = (&inputs, &outputs) {
            self.check_unique_ids(root, inputs, outputs);
        }
        Some(Config {
            data_dir: data_dir?,
            base_dir: self.base_dir.clone(),
            source: source.to_string(),
            inputs: inputs?,
            processors,
            queue: queue?,
            outputs: outputs?,
            logging: logging?,
            shutdown_timeout: shutdown_timeout?,
            progress_interval: progress_interval?,
        })
    }

    /// Like [`Loader::section`], but keeps going after a mistake: the entry at fault is set aside and the
    /// rest deserialized again, so one run reports every wrong key of a component, not just the first.
    fn section_all<T: for<'a> serde::Deserialize<'a>>(
        &mut self,
        node: &Node,
        context: &str,
    ) -> Option<T> {
        let mut current = node.clone();
        let mut removed: Vec<String> = Vec::new();
        for _ in 0..32 {
            let e = match from_node::<T>(&current) {
                // With keys set aside the load fails anyway; the value still lets later checks run.
                Ok(v) => return Some(v),
                Err(e) => e,
            };
            // A required key that was set aside because it was wrong is not missing as well.
            if e.message.starts_with("missing field")
                && removed
                    .iter()
                    .any(|k| e.message.contains(&format!("`{k}`")))
            {
                return None;
            }
            let mark = e.mark.unwrap_or(node.mark);
            self.de_error(node.mark, context, e);
            let NodeKind::Map(entries) = &mut current.kind else {
                return None;
            };
            let at_fault = entries
                .iter()
                .rposition(|(k, _)| (k.mark.line, k.mark.col) <= (mark.line, mark.col))
                .filter(|_| {
                    (mark.line, mark.col) > (node.mark.line, node.mark.col) || entries.len() == 1
                });
            match at_fault {
                Some(i) => {
                    let (k, _) = entries.remove(i);
                    removed.push(k.as_str().unwrap_or_default().to_string());
                }
                None => return None,
            }
        }
        None
    }

    /// Reads a `processors:` list entry by entry, so every broken entry is reported, then builds each one
    /// (regexes, grok patterns, date formats) and reports what does not build at the entry's position.
    fn processors(
        &mut self,
        list: &Node,
        context: &str,
    ) -> Vec<crate::processors::config::ProcessorConfig> {
        let NodeKind::Seq(items) = &list.kind else {
            if !matches!(list.kind, NodeKind::Null) {
                self.error(
                    list.mark,
                    format!(
                        "`{context}` must be a list of processors (`- grok: {{…}}`), found {}",
                        list.kind_name()
                    ),
                );
            }
            return Vec::new();
        };
        let mut configs = Vec::new();
        for item in items {
            if let Some(cfg) =
                self.section::<crate::processors::config::ProcessorConfig>(item, context)
            {
                if let Err(message) = cfg.build(&self.base_dir) {
                    self.error(item.mark, format!("{}: {message}", cfg.kind()));
                }
                configs.push(cfg);
            }
        }
        configs
    }

    /// Builds processors to find what cannot work (bad regex, unknown grok pattern, bad date format).
    fn check_processors(
        &mut self,
        list: &Node,
        configs: &[crate::processors::config::ProcessorConfig],
    ) -> bool {
        let marks: Vec<Mark> = match &list.kind {
            NodeKind::Seq(items) => items.iter().map(|n| n.mark).collect(),
            _ => Vec::new(),
        };
        let mut ok = true;
        for (i, cfg) in configs.iter().enumerate() {
            if let Err(message) = cfg.build(&self.base_dir) {
                self.error(
                    marks.get(i).copied().unwrap_or(list.mark),
                    format!("{}: {message}", cfg.kind()),
                );
                ok = false;
            }
        }
        ok
    }

    /// Reads a list of `type:`-tagged components (inputs, outputs).
    fn components<T>(
        &mut self,
        root: &Node,
        key: &str,
        types: &[&str],
        mut build: impl FnMut(&mut Loader, &str, &Node, usize) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Some(list) = root.get(key) else {
            self.error(
                root.mark,
                format!("`{key}` is missing: add at least one entry under `{key}:`"),
            );
            return None;
        };
        let NodeKind::Seq(items) = &list.kind else {
            self.error(
                list.mark,
                format!(
                    "`{key}` must be a list (entries starting with `- `), found {}",
                    list.kind_name()
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.error(
                list.mark,
                format!("`{key}` is empty: add at least one entry"),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            let NodeKind::Map(entries) = &item.kind else {
                self.error(
                    item.mark,
                    format!(
                        "each entry of `{key}` must be a mapping with a `type`, found {}",
                        item.kind_name()
                    ),
                );
                ok = false;
                continue;
            };
            let Some(kind_node) = item.get("type") else {
                self.error(
                    item.mark,
                    format!(
                        "this entry of `{key}` has no `type`: say one of {}",
                        quoted_list(types)
                    ),
                );
                ok = false;
                continue;
            };
            let kind = kind_node.as_str().unwrap_or("");
            if !types.contains(&kind) {
                self.error(
                    kind_node.mark,
                    unknown_key_message(
                        kind,
                        types,
                        &format!("as the type of an entry of `{key}`"),
                    ),
                );
                ok = false;
                continue;
            }
            // The body without `type`, positions intact.
            let body = Node {
                kind: NodeKind::Map(
                    entries
                        .iter()
                        .filter(|(k, _)| k.as_str() != Some("type"))
                        .cloned()
                        .collect(),
                ),
                mark: item.mark,
            };
            match build(self, kind, &body, index) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn input(&mut self, kind: &str, body: &Node, _index: usize) -> Option<InputConfig> {
        match kind {
            "file" => {
                let mut cfg: crate::inputs::file::config::FileInputConfig =
                    self.section_all(body, "file input")?;
                let errors = crate::inputs::file::validate(&mut cfg, body, &self.base_dir);
                let mut ok = errors.is_empty();
                if let Some(list) = body.get("processors") {
                    ok &= self.check_processors(list, &cfg.processors);
                }
                for (mark, message) in errors {
                    self.error(mark, message);
                }
                ok.then_some(InputConfig::File(cfg))
            }
            "evtx" => {
                let mut cfg: crate::inputs::evtx::EvtxInputConfig =
                    self.section_all(body, "evtx input")?;
                let errors = crate::inputs::evtx::validate(&mut cfg, &self.base_dir);
                let mut ok = errors.is_empty();
                for (key, message) in errors {
                    self.error(body.get(key).map(|n| n.mark).unwrap_or(body.mark), message);
                }
                if let Some(list) = body.get("processors") {
                    ok &= self.check_processors(list, &cfg.processors);
                }
                ok.then_some(InputConfig::Evtx(cfg))
            }
            "winlog" => {
                let cfg: crate::inputs::winlog::config::WinlogInputConfig =
                    self.section_all(body, "winlog input")?;
                let errors = crate::inputs::winlog::config::validate(&cfg);
                let mut ok = errors.is_empty();
                for (key, message) in errors {
                    self.error(body.get(key).map(|n| n.mark).unwrap_or(body.mark), message);
                }
                if let Some(list) = body.get("processors") {
                    ok &= self.check_processors(list, &cfg.processors);
                }
                ok.then_some(InputConfig::Winlog(cfg))
            }
            _ => None,
        }
    }

    fn output(&mut self, kind: &str, body: &Node, _index: usize) -> Option<OutputConfig> {
        match kind {
            "console" => self
                .section_all(body, "console output")
                .map(OutputConfig::Console),
            "file" => {
                let mut cfg: crate::outputs::file::FileOutputConfig =
                    self.section_all(body, "file output")?;
                cfg.path = self.resolve(&cfg.path);
                Some(OutputConfig::File(cfg))
            }
            "elasticsearch" => {
                let mut cfg: crate::outputs::elasticsearch::config::ElasticsearchConfig =
                    self.section_all(body, "elasticsearch output")?;
                for p in [&mut cfg.tls.ca, &mut cfg.tls.certificate, &mut cfg.tls.key]
                    .into_iter()
                    .flatten()
                {
                    *p = self.resolve(p);
                }
                let errors = cfg.validate();
                for e in &errors {
                    let mark = body.get(e.key).map(|n| n.mark).unwrap_or(body.mark);
                    self.error(
                        mark,
                        format!("elasticsearch output: `{}`: {}", e.key, e.message),
                    );
                }
                errors
                    .is_empty()
                    .then(|| OutputConfig::Elasticsearch(Box::new(cfg)))
            }
            _ => None,
        }
    }

    fn check_unique_ids(&mut self, root: &Node, inputs: &[InputConfig], outputs: &[OutputConfig]) {
        let mut seen = std::collections::HashSet::new();
        let input_nodes = match root.get("inputs").map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items.clone(),
            _ => Vec::new(),
        };
        for (i, input) in inputs.iter().enumerate() {
            let id = input_id(input);
            if !seen.insert(id.clone()) {
                let mark = input_nodes
                    .get(i)
                    .map(|n| n.get("id").map(|x| x.mark).unwrap_or(n.mark))
                    .unwrap_or(root.mark);
                self.error(mark, format!("two inputs have the id `{id}`: ids key the registry, give each input its own"));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, o) in outputs.iter().enumerate() {
            let name = o.name(i);
            if !names.insert(name.clone()) {
                self.error(
                    root.get("outputs").map(|n| n.mark).unwrap_or(root.mark),
                    format!("two outputs are named `{name}`"),
                );
            }
        }
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            lexical_clean(&self.base_dir.join(p))
        }
    }
}

/// Removes `.` components so paths read the way a person would write them.
/// `..` is folded lexically (like Go's filepath.Clean), which is what a person reading the path expects.
pub fn lexical_clean(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The id of an input as used for its registry and metrics.
pub fn input_id(input: &InputConfig) -> String {
    match input {
        InputConfig::File(c) => {
            c.id.clone()
                .unwrap_or_else(|| crate::inputs::file::default_id(&c.paths))
        }
        InputConfig::Evtx(c) => {
            c.id.clone()
                .unwrap_or_else(|| crate::inputs::evtx::default_id(&c.paths))
        }
        InputConfig::Winlog(c) => {
            c.id.clone()
                .unwrap_or_else(|| crate::inputs::winlog::config::default_id(&c.channels))
        }
    }
}

/// Where logward keeps its state when the configuration does not say.
pub fn default_data_dir() -> PathBuf {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
        base.join("logward")
    } else {
        PathBuf::from("/var/lib/logward")
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "unknown key `x` …; did you mean `y`? Known keys: …"
pub fn unknown_key_message(name: &str, known: &[&str], place: &str) -> String {
    let suggestion = known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    format!(
        "`{name}` is not known {place}{suggestion} (known: {})",
        quoted_list(known)
    )
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigErrors> {
        let dir = std::env::temp_dir();
        load_str(text, "test.yml", &dir, &|n| {
            (n == "OUT").then(|| "/tmp/out".to_string())
        })
    }

    #[test]
    fn minimal_config_loads_with_defaults() {
        let c = load("data_dir: /tmp/x\ninputs:\n  - type: file\n    paths: [/tmp/*.log]\noutputs:\n  - type: file\n    path: ${OUT}\n")
            .unwrap();
        assert_eq!(c.inputs.len(), 1);
        assert_eq!(c.shutdown_timeout, HumanDuration::secs(30));
        let OutputConfig::File(f) = &c.outputs[0] else {
            panic!()
        };
        assert_eq!(f.path, PathBuf::from("/tmp/out"));
    }

    #[test]
    fn every_mistake_is_reported_with_its_position() {
        let text = "data_dir: /tmp/x\nbogus: 1\ninputs:\n  - type: file\n    pathz: [a]\n  - type: fiel\noutputs:\n  - type: console\n    codec: ndjson\n    extra: 1\nshutdown_timeout: soon\n";
        let errs = load(text).unwrap_err();
        let shown = errs.to_string();
        assert!(
            shown.contains("test.yml:2:1: `bogus` is not known at the top level"),
            "{shown}"
        );
        assert!(
            shown.contains("test.yml:5:5: file input: unknown field `pathz`"),
            "{shown}"
        );
        assert!(shown.contains("test.yml:6:11: `fiel` is not known as the type of an entry of `inputs`; did you mean `file`?"), "{shown}");
        assert!(
            shown.contains("test.yml:10:5: console output: unknown field `extra`"),
            "{shown}"
        );
        assert!(shown.contains("test.yml:11:19:"), "{shown}");
        assert!(shown.contains("not a duration"), "{shown}");
        assert!(
            shown.contains("test.yml:4:5: file input: missing field `paths`"),
            "{shown}"
        );
        assert_eq!(errs.errors.len(), 6, "{shown}");
    }

    #[test]
    fn the_winlog_input_is_checked_and_on_linux_refused_with_its_position() {
        let text = "inputs:\n  - type: winlog\n    channels: [Security, security]\n    event_ids: [\"46x\"]\n    batch_size: 0\noutputs: [{type: console}]\n";
        let shown = load(text).unwrap_err().to_string();
        assert!(
            shown.contains("test.yml:3:15: the channel \"security\" is listed twice"),
            "{shown}"
        );
        assert!(
            shown.contains("test.yml:4:16: event_ids: \"46x\""),
            "{shown}"
        );
        assert!(
            shown.contains("test.yml:5:17: 0 is out of range"),
            "{shown}"
        );
        let ok =
            "inputs:\n  - type: winlog\n    channels: [Security]\noutputs: [{type: console}]\n";
        if cfg!(windows) {
            assert!(load(ok).is_ok());
        } else {
            let shown = load(ok).unwrap_err().to_string();
            assert!(shown.contains("test.yml:2:5: the winlog input reads the live Windows Event Log and works only on Windows; to read exported .evtx files use `type: evtx`"), "{shown}");
        }
    }

    #[test]
    fn missing_sections_and_variables_are_named() {
        let errs = load("inputs: []\n").unwrap_err().to_string();
        assert!(errs.contains("`inputs` is empty"), "{errs}");
        assert!(errs.contains("`outputs` is missing"), "{errs}");
        let errs =
            load("inputs:\n  - type: file\n    paths: [\"${LOGS}\"]\noutputs: [{type: console}]\n")
                .unwrap_err()
                .to_string();
        assert!(errs.contains("LOGS is not set"), "{errs}");
    }
}
