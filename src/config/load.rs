//! Loading a configuration: read, substitute, parse, deserialize each section, validate — collecting every
//! mistake with its file, line and column instead of stopping at the first.

use super::HumanDuration;
use super::de::{DeError, from_node};
use super::model::{Config, LoggingConfig, QueueConfig};
use super::yaml::{self, Mark, Node, NodeKind};
use crate::component::{
    InputOptions, InputSpec, Listen, OutputOptions, OutputSpec, ProcessorBuild, ProcessorOptions,
    ProcessorSpec, Validator, registry,
};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Values never to show (passwords, keys, tokens).
    pub secrets: super::secrets::Secrets,
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
                    let message = self.secrets.redact(&e.message);
                    writeln!(f, "{}:{}:{}: {message}", self.source, m.line, m.col)?;
                    if let Some(line) = m.line.checked_sub(1).and_then(|i| lines.get(i)) {
                        let line = self.secrets.redact_line(line);
                        writeln!(f, "  {:>4} | {line}", m.line)?;
                        writeln!(f, "       | {}^", " ".repeat(m.col.saturating_sub(1)))?;
                    }
                }
                None => writeln!(f, "{}: {}", self.source, self.secrets.redact(&e.message))?,
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
        secrets: Default::default(),
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
    let (root, mut secrets) = yaml::parse_with_secrets(text, env);
    if let Ok(root) = &root {
        secrets.collect_from(root);
    }
    let fail = |errors: Vec<ConfigError>| ConfigErrors {
        source: source.to_string(),
        text: text.to_string(),
        errors,
        secrets: secrets.clone(),
    };
    let root = root.map_err(|errs| {
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

/// Reads a `processors:` list from a tree (see [`crate::processors::config::from_json`]).
pub fn processors_from_node(
    list: &Node,
    base_dir: &Path,
) -> Result<Vec<ProcessorSpec>, ConfigErrors> {
    let mut loader = Loader {
        errors: Vec::new(),
        base_dir: base_dir.to_path_buf(),
    };
    let specs = loader.processors(list, "processors");
    if loader.errors.is_empty() {
        Ok(specs)
    } else {
        Err(ConfigErrors {
            source: "<processors>".into(),
            text: String::new(),
            secrets: Default::default(),
            errors: loader.errors,
        })
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
    "worker_threads",
    "http",
    "alerts",
];

/// Reads a configuration tree into a [`Config`], collecting every mistake. Components read their own
/// sections through it (see [`crate::component`]).
pub struct Loader {
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

    /// Records a deserialization error; an unknown key is reported with the closest known one, counting
    /// `extra_known` (the keys the loader handles itself) as known too.
    fn de_error(&mut self, fallback: Mark, context: &str, extra_known: &[&str], e: DeError) {
        let detail = match &e.unknown {
            Some(u) if !extra_known.is_empty() && u.what == "field" => {
                let known: Vec<&str> = u.known.iter().chain(extra_known).copied().collect();
                format!(
                    "unknown field `{}`{}",
                    u.name,
                    super::de::known_suffix(&u.name, &known)
                )
            }
            _ => e.message,
        };
        let message = if context.is_empty() {
            detail
        } else {
            format!("{context}: {detail}")
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
                self.de_error(node.mark, context, &[], e);
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
        let inputs = self.components(root, "inputs", &registry::input_names(), |l, kind, item| {
            l.input(kind, item)
        });
        let outputs = self.components(
            root,
            "outputs",
            &registry::output_names(),
            |l, kind, item| l.output(kind, item),
        );
        let processors = match root.get("processors") {
            Some(n) => self.processors(n, "processors"),
            None => Vec::new(),
        };
        let queue = match root.get("queue") {
            Some(n) => self
                .section_all::<QueueConfig>(n, "queue", &[])
                .map(|mut q| {
                    if let Some(p) = &q.path {
                        q.path = Some(self.resolve(p));
                    }
                    q
                }),
            None => Some(QueueConfig::default()),
        };
        let logging = match root.get("logging") {
            Some(n) => self.section_all::<LoggingConfig>(n, "logging", &[]),
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
        let worker_threads = match root.get("worker_threads") {
            Some(n) => self
                .section::<usize>(n, "worker_threads")
                .and_then(|w| match w {
                    1..=256 => Some(w),
                    _ => {
                        self.error(
                            n.mark,
                            format!("worker_threads: {w} is out of range: use 1 to 256 (default: one per core, 2 to 8)"),
                        );
                        None
                    }
                }),
            None => Some(super::model::default_worker_threads()),
        };
        let http = self.http(root, inputs.as_deref().unwrap_or_default());
        let alerts = self.alerts(root);
        if let Some(inputs) = &inputs {
            self.check_unique_inputs(inputs);
            self.check_listen_conflicts(inputs);
        }
        let mut outputs = outputs;
        if let Some(outputs) = &mut outputs {
            for (index, o) in outputs.iter_mut().enumerate() {
                if o.name.is_empty() {
                    o.name = format!("{}-{index}", o.kind);
                }
            }
            self.check_unique_outputs(outputs);
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
            worker_threads: worker_threads?,
            http: http?,
            alerts: alerts?,
        })
    }

    /// Reads `alerts:` (absent: no rules) and reports every problem at the key at fault.
    fn alerts(&mut self, root: &Node) -> Option<Option<crate::alerts::AlertsConfig>> {
        let Some(node) = root.get("alerts") else {
            return Some(None);
        };
        let alerts = self.section_all::<crate::alerts::AlertsConfig>(node, "alerts", &[])?;
        let problems = alerts.problems(node);
        let ok = problems.is_empty();
        for p in problems {
            self.error(p.mark, p.message);
        }
        ok.then_some(Some(alerts))
    }

    /// Reads `http:` (absent: the API is off) and reports what it refuses at the key at fault.
    fn http(
        &mut self,
        root: &Node,
        inputs: &[InputSpec],
    ) -> Option<Option<crate::observe::http::HttpConfig>> {
        let Some(node) = root.get("http") else {
            return Some(None);
        };
        // `http:` alone turns the API on with its defaults.
        let empty;
        let node = if matches!(node.kind, NodeKind::Null) {
            empty = Node {
                kind: NodeKind::Map(Vec::new()),
                mark: node.mark,
            };
            &empty
        } else {
            node
        };
        let http = self.section_all::<crate::observe::http::HttpConfig>(node, "http", &[])?;
        let problems = http.problems(inputs);
        for p in &problems {
            let mark = node.get(p.key).map_or(node.mark, |n| n.mark);
            self.error(mark, p.message.clone());
        }
        problems.is_empty().then_some(Some(http))
    }

    /// Like [`Loader::section`], but keeps going after a mistake: the entry at fault is set aside and the
    /// rest deserialized again, so one run reports every wrong key of a component, not just the first.
    /// `extra_known` are keys of the same entry that the loader reads itself (for "did you mean").
    fn section_all<T: for<'a> serde::Deserialize<'a>>(
        &mut self,
        node: &Node,
        context: &str,
        extra_known: &[&str],
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
            self.de_error(node.mark, context, extra_known, e);
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

    /// Reads a component's own settings (the entry without the options the loader reads itself, whose
    /// keys are `shared_keys`), reporting every mistake.
    pub fn component_section<T: for<'a> serde::Deserialize<'a>>(
        &mut self,
        body: &Node,
        context: &str,
        shared_keys: &[&str],
    ) -> Option<T> {
        self.section_all(body, context, shared_keys)
    }

    /// Reads a `processors:` list entry by entry, so every broken entry is reported, then builds each one
    /// (regexes, grok patterns, date formats) and reports what does not build at the entry's position.
    fn processors(&mut self, list: &Node, context: &str) -> Vec<ProcessorSpec> {
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
        let mut specs = Vec::new();
        for item in items {
            let Some(spec) = self.processor(item, context) else {
                continue;
            };
            let built = spec.build(&ProcessorBuild {
                base_dir: &self.base_dir,
                scope: "check",
            });
            if let Err(message) = built {
                self.error(item.mark, format!("{}: {message}", spec.kind));
            }
            specs.push(spec);
        }
        specs
    }

    /// Reads one `- name: {settings}` entry of a processors list.
    fn processor(&mut self, item: &Node, context: &str) -> Option<ProcessorSpec> {
        let entries = match &item.kind {
            NodeKind::Map(entries) if entries.len() == 1 => entries,
            _ => {
                self.error(
                    item.mark,
                    format!(
                        "{context}: each entry names one processor with its settings, like `- grok: {{field: message, patterns: [...]}}`; found {}",
                        item.kind_name()
                    ),
                );
                return None;
            }
        };
        let (key, body) = &entries[0];
        let name = key.as_str().unwrap_or("");
        let Some(kind) = registry::processor(name) else {
            let known = registry::processor_names();
            self.error(
                key.mark,
                format!(
                    "{context}: unknown variant `{name}`{}",
                    super::de::known_suffix(name, &known)
                ),
            );
            return None;
        };
        // `- drop:` and `- drop: {}` both mean "no settings".
        let body = match &body.kind {
            NodeKind::Null => Node {
                kind: NodeKind::Map(Vec::new()),
                mark: body.mark,
            },
            _ => body.clone(),
        };
        if !matches!(body.kind, NodeKind::Map(_)) {
            self.error(
                body.mark,
                format!(
                    "{context}: the settings of `{name}` must be a mapping, found {}",
                    body.kind_name()
                ),
            );
            return None;
        }
        let (shared, own) = split_keys(&body, ProcessorOptions::KEYS);
        let options = self.section_all::<ProcessorOptions>(&shared, context, &[]);
        let config = kind.load(self, &own);
        Some(ProcessorSpec {
            kind: kind.name,
            options: options?,
            config: Arc::from(config?),
            mark: item.mark,
        })
    }

    /// Reads a list of `type:`-tagged components (inputs, outputs).
    fn components<T>(
        &mut self,
        root: &Node,
        key: &str,
        types: &[&str],
        mut build: impl FnMut(&mut Loader, &str, &Node) -> Option<T>,
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
        for item in items {
            if !matches!(item.kind, NodeKind::Map(_)) {
                self.error(
                    item.mark,
                    format!(
                        "each entry of `{key}` must be a mapping with a `type`, found {}",
                        item.kind_name()
                    ),
                );
                ok = false;
                continue;
            }
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
            // The entry without `type`, positions intact.
            let (_, body) = split_keys(item, &["type"]);
            match build(self, kind, &body) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Lets the component check its settings; reports what it found. Whether it found nothing.
    fn validate(&mut self, body: &Node, run: impl FnOnce(&mut Validator<'_>)) -> bool {
        let base = self.base_dir.clone();
        let mut v = Validator::new(body, &base);
        run(&mut v);
        let problems = v.into_problems();
        let ok = problems.is_empty();
        for (mark, message) in problems {
            self.error(mark, message);
        }
        ok
    }

    fn input(&mut self, kind: &str, body: &Node) -> Option<InputSpec> {
        let kind = registry::input(kind)?;
        let (shared, own) = split_keys(body, InputOptions::KEYS);
        let (processors, shared) = split_keys(&shared, &["processors"]);
        let options =
            self.section_all::<InputOptions>(&shared, &format!("{} input", kind.name), &[]);
        let processors = match processors.get("processors") {
            Some(list) => {
                let before = self.errors.len();
                let p = self.processors(list, "processors");
                (self.errors.len() == before).then_some(p)
            }
            None => Some(Vec::new()),
        };
        let mut config = kind.load(self, &own)?;
        let ok = self.validate(body, |v| config.validate(v));
        let mut options = options?;
        options.processors = processors?;
        let id = options.id.clone().unwrap_or_else(|| config.default_id());
        ok.then(|| InputSpec {
            kind: kind.name,
            id,
            options,
            config: Arc::from(config),
            mark: body.mark,
        })
    }

    fn output(&mut self, kind: &str, body: &Node) -> Option<OutputSpec> {
        let kind = registry::output(kind)?;
        let (shared, own) = split_keys(body, OutputOptions::KEYS);
        let options =
            self.section_all::<OutputOptions>(&shared, &format!("{} output", kind.name), &[]);
        let mut config = kind.load(self, &own)?;
        let ok = self.validate(body, |v| config.validate(v));
        let options = options?;
        ok.then(|| OutputSpec {
            kind: kind.name,
            // Without an id the name is `<type>-<position>`, set once the list is read.
            name: options.id.clone().unwrap_or_default(),
            options,
            config: Arc::from(config),
            mark: body.mark,
        })
    }

    /// Input ids key checkpoints and metrics: no two inputs may share one, nor the file their
    /// checkpoints are kept in.
    fn check_unique_inputs(&mut self, inputs: &[InputSpec]) {
        let mut seen: HashMap<String, &InputSpec> = HashMap::new();
        for input in inputs {
            let stem = crate::component::file_stem(&input.id);
            match seen.get(&stem) {
                Some(first) => {
                    let message = if first.id == input.id {
                        format!(
                            "two inputs have the id `{}` (the first at line {}): ids key the checkpoints and metrics, give each input its own",
                            input.id, first.mark.line
                        )
                    } else {
                        format!(
                            "the inputs `{}` (line {}) and `{}` would keep their checkpoints in the same file: choose ids that differ by more than case",
                            first.id, first.mark.line, input.id
                        )
                    };
                    self.error(input.mark, message);
                }
                None => {
                    seen.insert(stem, input);
                }
            }
        }
    }

    /// Two components cannot listen on the same address.
    fn check_listen_conflicts(&mut self, inputs: &[InputSpec]) {
        let mut taken: Vec<(Listen, &InputSpec)> = Vec::new();
        for input in inputs {
            for l in input.config.listen() {
                if let Some((_, other)) = taken.iter().find(|(t, _)| t.conflicts_with(&l)) {
                    let message = format!(
                        "input `{}` wants to listen on {} {}, where input `{}` (line {}) listens already: give each its own port or address",
                        input.id, l.protocol, l.address, other.id, other.mark.line
                    );
                    self.error(input.mark, message);
                } else {
                    taken.push((l, input));
                }
            }
        }
    }

    /// Output names label metrics and name the dead-letter file and the queue cursor.
    fn check_unique_outputs(&mut self, outputs: &[OutputSpec]) {
        let mut seen: HashMap<String, (String, usize)> = HashMap::new();
        for o in outputs {
            let name = o.name.clone();
            let stem = crate::component::file_stem(&name);
            if let Some((first, line)) = seen.get(&stem) {
                self.error(
                    o.mark,
                    format!(
                        "two outputs are named `{name}` (the first, `{first}`, at line {line}): names key the queue cursors and dead-letter files, give each output its own `id`"
                    ),
                );
            } else {
                seen.insert(stem, (name, o.mark.line));
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

/// Splits a mapping into the entries whose keys are in `keys` and the rest, positions intact.
fn split_keys(node: &Node, keys: &[&str]) -> (Node, Node) {
    let NodeKind::Map(entries) = &node.kind else {
        return (
            Node {
                kind: NodeKind::Map(Vec::new()),
                mark: node.mark,
            },
            node.clone(),
        );
    };
    let (mine, rest): (Vec<_>, Vec<_>) = entries
        .iter()
        .cloned()
        .partition(|(k, _)| k.as_str().is_some_and(|k| keys.contains(&k)));
    (
        Node {
            kind: NodeKind::Map(mine),
            mark: node.mark,
        },
        Node {
            kind: NodeKind::Map(rest),
            mark: node.mark,
        },
    )
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
    let suggestion = closest(name, known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    format!(
        "`{name}` is not known {place}{suggestion} (known: {})",
        quoted_list(known)
    )
}

/// The known name closest to `name`, when it is close enough to be a likely typo.
pub fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
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
        let f = c.outputs[0]
            .config_as::<crate::outputs::file::FileOutputConfig>()
            .unwrap();
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
            shown.contains("test.yml:3:26: the channel \"security\" is listed twice"),
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

#[cfg(test)]
mod component_tests {
    use super::*;
    use crate::component::{InputBuild, InputConfig, Protocol};

    /// A server input as far as the loader is concerned: it only declares where it listens.
    #[derive(Debug)]
    struct Listener(&'static str);

    impl InputConfig for Listener {
        fn default_id(&self) -> String {
            "listener".into()
        }
        fn listen(&self) -> Vec<Listen> {
            vec![Listen {
                protocol: Protocol::Tcp,
                address: self.0.parse().unwrap(),
                key: "listen",
            }]
        }
        fn build(&self, _: &InputBuild<'_>) -> anyhow::Result<Box<dyn crate::inputs::Input>> {
            anyhow::bail!("not built in this test")
        }
    }

    fn spec(id: &str, line: usize, addr: &'static str) -> InputSpec {
        InputSpec {
            kind: "listener",
            id: id.into(),
            options: InputOptions::default(),
            config: Arc::new(Listener(addr)),
            mark: Mark { line, col: 5 },
        }
    }

    #[test]
    fn two_inputs_on_one_address_are_refused_with_both_places() {
        let mut loader = Loader {
            errors: Vec::new(),
            base_dir: PathBuf::from("."),
        };
        loader.check_listen_conflicts(&[
            spec("syslog", 3, "0.0.0.0:5514"),
            spec("beats", 9, "127.0.0.1:5044"),
            spec("other", 14, "127.0.0.1:5514"),
        ]);
        assert_eq!(loader.errors.len(), 1, "{:?}", loader.errors);
        let e = &loader.errors[0];
        assert_eq!(e.mark, Some(Mark { line: 14, col: 5 }));
        assert!(
            e.message
                .contains("input `other` wants to listen on tcp 127.0.0.1:5514, where input `syslog` (line 3) listens already"),
            "{}",
            e.message
        );
    }

    #[test]
    fn ids_that_differ_in_case_only_are_refused() {
        let mut loader = Loader {
            errors: Vec::new(),
            base_dir: PathBuf::from("."),
        };
        let mut a = spec("App", 3, "127.0.0.1:1");
        let mut b = spec("App", 9, "127.0.0.1:2");
        loader.check_unique_inputs(&[a.clone(), b.clone()]);
        assert!(
            loader.errors[0]
                .message
                .contains("two inputs have the id `App`")
        );
        // Distinct ids never share a checkpoint file, so they are fine however alike they look.
        loader.errors.clear();
        a.id = "web.app".into();
        b.id = "web_app".into();
        loader.check_unique_inputs(&[a, b]);
        assert!(loader.errors.is_empty(), "{:?}", loader.errors);
    }

    #[test]
    fn worker_threads_and_unknown_component_keys_are_checked() {
        let dir = std::env::temp_dir();
        let text = "worker_threads: 0\ninputs:\n  - type: file\n    paths: [/tmp/*.log]\n    tagz: [a]\noutputs:\n  - type: blackhole\n";
        let shown = load_str(text, "t.yml", &dir, &|_| None)
            .unwrap_err()
            .to_string();
        assert!(
            shown.contains("t.yml:1:17: worker_threads: 0 is out of range"),
            "{shown}"
        );
        assert!(
            shown.contains("t.yml:5:5: file input: unknown field `tagz`; did you mean `tags`?"),
            "{shown}"
        );
        let ok = load_str(
            "worker_threads: 3\ninputs: [{type: stdin}]\noutputs: [{type: blackhole, id: sink}]\n",
            "t.yml",
            &dir,
            &|_| None,
        )
        .unwrap();
        assert_eq!(ok.worker_threads, 3);
        assert_eq!(ok.inputs[0].id, "stdin");
        assert_eq!(ok.outputs[0].name, "sink");
    }
}
