//! `type: elasticsearch` — what a configuration can say about the Elasticsearch / OpenSearch output.

use super::index::IndexTemplate;
use crate::config::{ByteSize, HumanDuration};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use crate::component::{OutputBuild, OutputConfig, Validator};
use crate::outputs::Output;

/// `type: elasticsearch` (also used for OpenSearch).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchConfig {
    /// Cluster nodes, `http(s)://host:port` (a path prefix is kept). Requests go round-robin to the nodes
    /// that answer; a failing node is set aside and probed again later.
    #[serde(default = "default_hosts")]
    pub hosts: Vec<String>,
    /// The index each event goes to: `%{+yyyy.MM.dd}` formats the event's `@timestamp` (UTC),
    /// `%{[field]}` inserts a field's value.
    #[serde(default = "default_index")]
    pub index: String,
    /// Write to a data stream `<type>-<dataset>-<namespace>` with `create` operations instead of `index`.
    #[serde(default)]
    pub data_stream: Option<DataStreamConfig>,
    /// `index` (overwrite a document with the same id; default) or `create` (a document that exists is
    /// left alone and counted as delivered).
    #[serde(default)]
    pub action: BulkAction,
    /// The most events in one `_bulk` request.
    #[serde(default = "default_bulk_max_size")]
    pub bulk_max_size: usize,
    /// The most bytes (before compression) in one `_bulk` request.
    #[serde(default = "default_bulk_max_bytes")]
    pub bulk_max_bytes: ByteSize,
    /// How long to wait for more events to fill a request before sending what there is.
    #[serde(default = "default_flush_interval")]
    pub flush_interval: HumanDuration,
    /// The most requests in flight at once (the ceiling of the adaptive concurrency).
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Choose the number of requests in flight (1 … `workers`) from the cluster's answers and
    /// round-trip times (default); `false` keeps `workers` requests in flight.
    #[serde(default = "default_true")]
    pub adaptive_concurrency: bool,
    /// The most documents waiting in the retry set (turned away, waiting for their backoff) before the
    /// output stops taking new batches.
    #[serde(default = "default_retry_max_documents")]
    pub retry_max_documents: usize,
    /// The most bytes (encoded, before compression) the retry set holds before the output stops taking
    /// new batches.
    #[serde(default = "default_retry_max_bytes")]
    pub retry_max_bytes: ByteSize,
    /// `gzip` (default) or `none`.
    #[serde(default)]
    pub compression: Compression,
    /// gzip level 1 (fastest) … 9 (smallest).
    #[serde(default = "default_compression_level")]
    pub compression_level: u32,
    /// How long one request may take before it is abandoned and retried.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Basic authentication user.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic authentication password.
    #[serde(default)]
    pub password: Option<String>,
    /// An API key, as `id:api_key` or already base64-encoded (as Kibana shows it).
    #[serde(default)]
    pub api_key: Option<String>,
    /// A bearer token (service account token, OAuth).
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// TLS settings for `https://` hosts.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Retry timing for whole requests and for items the server asked to retry.
    #[serde(default)]
    pub backoff: BackoffConfig,
    /// Also index rejected events into this index (as text, so a mapping conflict cannot repeat there).
    #[serde(default)]
    pub dead_letter_index: Option<String>,
    /// Extra query parameters for `_bulk` (for example `pipeline: my-ingest-pipeline`).
    #[serde(default)]
    pub pipeline: Option<String>,
    /// The index template `logward setup` installs.
    #[serde(default)]
    pub template: TemplateConfig,
}

/// `data_stream:` — the three parts of a data stream name. Each may use `%{[field]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataStreamConfig {
    /// `logs` (default), `metrics`, …
    #[serde(rename = "type", default = "default_ds_type")]
    pub kind: String,
    /// What the data is (default `generic`).
    #[serde(default = "default_ds_dataset")]
    pub dataset: String,
    /// Who or where it is from (default `default`).
    #[serde(default = "default_ds_namespace")]
    pub namespace: String,
}

/// The `_bulk` operation used for each event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Create or overwrite.
    #[default]
    Index,
    /// Create only; an existing document (409) counts as delivered.
    Create,
}

/// Request body compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// `Content-Encoding: gzip`.
    #[default]
    Gzip,
    /// Plain NDJSON.
    None,
}

/// `tls:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file with the CA certificate(s) to trust in addition to the system roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// A PEM client certificate (with `key`) for mutual TLS.
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// The PEM private key of `certificate`.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Check the server's certificate and host name (default true). Turning it off is logged as a warning.
    #[serde(default = "default_true")]
    pub verify: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca: None,
            certificate: None,
            key: None,
            verify: true,
        }
    }
}

/// `backoff:`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffConfig {
    /// The first wait.
    #[serde(default = "default_backoff_init")]
    pub init: HumanDuration,
    /// The longest wait.
    #[serde(default = "default_backoff_max")]
    pub max: HumanDuration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            init: default_backoff_init(),
            max: default_backoff_max(),
        }
    }
}

/// `template:` — what `logward setup` installs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// The template name (default `logward`).
    #[serde(default = "default_template_name")]
    pub name: String,
    /// Index patterns it applies to (default: derived from `index`, e.g. `logs-*`).
    #[serde(default)]
    pub patterns: Option<Vec<String>>,
    /// Primary shards per index.
    #[serde(default = "default_shards")]
    pub shards: u32,
    /// Replicas per shard. Unset: 0 when the cluster has one data node (so its indices are green), else
    /// 1, with `auto_expand_replicas: 0-1` so a cluster that grows or shrinks keeps that right.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Also install a lifecycle policy (ILM on Elasticsearch) deleting indices older than this.
    #[serde(default)]
    pub delete_after: Option<HumanDuration>,
}

impl Default for TemplateConfig {
    fn default() -> Self {
        TemplateConfig {
            name: default_template_name(),
            patterns: None,
            shards: default_shards(),
            replicas: None,
            delete_after: None,
        }
    }
}

fn default_hosts() -> Vec<String> {
    vec!["http://127.0.0.1:9200".into()]
}
fn default_index() -> String {
    "logward-%{+yyyy.MM.dd}".into()
}
fn default_bulk_max_size() -> usize {
    1600
}
fn default_bulk_max_bytes() -> ByteSize {
    ByteSize(10 * 1024 * 1024)
}
fn default_flush_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}
fn default_workers() -> usize {
    2
}
fn default_retry_max_documents() -> usize {
    20_000
}
fn default_retry_max_bytes() -> ByteSize {
    ByteSize(32 * 1024 * 1024)
}
fn default_compression_level() -> u32 {
    1
}
fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(90))
}
fn default_true() -> bool {
    true
}
fn default_backoff_init() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}
fn default_backoff_max() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_ds_type() -> String {
    "logs".into()
}
fn default_ds_dataset() -> String {
    "generic".into()
}
fn default_ds_namespace() -> String {
    "default".into()
}
fn default_template_name() -> String {
    "logward".into()
}
fn default_shards() -> u32 {
    1
}

/// A mistake in an Elasticsearch output's settings: which key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The key at fault (`hosts`, `index`, …).
    pub key: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

impl ElasticsearchConfig {
    /// The index (or data stream) name template events are routed with.
    pub fn index_template(&self) -> Result<IndexTemplate, String> {
        match &self.data_stream {
            Some(ds) => {
                IndexTemplate::parse(&format!("{}-{}-{}", ds.kind, ds.dataset, ds.namespace))
            }
            None => IndexTemplate::parse(&self.index),
        }
    }

    /// The bulk operation: data streams accept only `create`.
    pub fn effective_action(&self) -> BulkAction {
        if self.data_stream.is_some() {
            BulkAction::Create
        } else {
            self.action
        }
    }

    /// Checks what serde cannot: URLs, the index pattern, credentials that exclude each other.
    pub fn setting_errors(&self) -> Vec<SettingError> {
        let mut errors = Vec::new();
        let mut err = |key, message: String| errors.push(SettingError { key, message });
        if self.hosts.is_empty() {
            err(
                "hosts",
                "no hosts: give at least one, e.g. [\"http://127.0.0.1:9200\"]".into(),
            );
        }
        for h in &self.hosts {
            if let Err(e) = super::client::parse_host(h) {
                err("hosts", e);
            }
        }
        if let Err(e) = self.index_template() {
            err(
                if self.data_stream.is_some() {
                    "data_stream"
                } else {
                    "index"
                },
                e,
            );
        }
        if self.data_stream.is_some()
            && self.action == BulkAction::Index
            && self.index != default_index()
        {
            err(
                "data_stream",
                "`data_stream` and `index` exclude each other: a data stream names its own index"
                    .into(),
            );
        }
        let methods = [
            self.username.is_some() || self.password.is_some(),
            self.api_key.is_some(),
            self.bearer_token.is_some(),
        ];
        if methods.iter().filter(|m| **m).count() > 1 {
            err("api_key", "choose one way to authenticate: `username`/`password`, `api_key` or `bearer_token`".into());
        }
        if self.password.is_some() && self.username.is_none() {
            err("password", "`password` is set but `username` is not".into());
        }
        if self.bulk_max_size == 0 {
            err("bulk_max_size", "must be at least 1".into());
        }
        if self.bulk_max_bytes.get() < 1024 {
            err("bulk_max_bytes", "must be at least 1KiB".into());
        }
        if self.retry_max_documents == 0 {
            err(
                "retry_max_documents",
                "must be at least 1 (it bounds the documents waiting to be sent again)".into(),
            );
        }
        if self.retry_max_bytes.get() < 1024 {
            err("retry_max_bytes", "must be at least 1KiB".into());
        }
        if self.workers == 0 || self.workers > 64 {
            err(
                "workers",
                format!("{} is out of range: use 1 to 64", self.workers),
            );
        }
        if !(1..=9).contains(&self.compression_level) {
            err(
                "compression_level",
                format!(
                    "{} is out of range: use 1 (fastest) to 9 (smallest)",
                    self.compression_level
                ),
            );
        }
        if self.tls.certificate.is_some() != self.tls.key.is_some() {
            err(
                "tls",
                "a client certificate needs both `certificate` and `key`".into(),
            );
        }
        for (key, path) in [
            ("tls", &self.tls.ca),
            ("tls", &self.tls.certificate),
            ("tls", &self.tls.key),
        ] {
            if let Some(p) = path
                && !p.is_file()
            {
                err(
                    key,
                    format!("{} does not exist or is not a file", p.display()),
                );
            }
        }
        if self.backoff.init.get().is_zero() || self.backoff.max.get() < self.backoff.init.get() {
            err(
                "backoff",
                "`init` must be above zero and `max` at least `init`".into(),
            );
        }
        errors
    }
}

impl OutputConfig for ElasticsearchConfig {
    /// Resolves the TLS files against the configuration's folder and checks the settings.
    fn validate(&mut self, v: &mut Validator<'_>) {
        for p in [&mut self.tls.ca, &mut self.tls.certificate, &mut self.tls.key]
            .into_iter()
            .flatten()
        {
            *p = v.resolve(p);
        }
        for e in self.setting_errors() {
            v.error(
                e.key,
                format!("elasticsearch output: `{}`: {}", e.key, e.message),
            );
        }
    }

    fn build(&self, ctx: &OutputBuild<'_>) -> anyhow::Result<Vec<Box<dyn Output>>> {
        Ok(super::build_workers(self, ctx.name, ctx.data_dir)?
            .into_iter()
            .map(|w| Box::new(w) as Box<dyn Output>)
            .collect())
    }
}
