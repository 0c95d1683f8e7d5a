//! `type: elasticsearch`: ships events to Elasticsearch (6.x–9.x) or OpenSearch (1.x–3.x) with `_bulk`.
//!
//! A batch is encoded once. Requests are cut from it by `bulk_max_size`/`bulk_max_bytes` and sent gzip
//! compressed. The per-item results decide each event's fate: stored (or a 409 on `create`: already
//! there), retried later (429, 5xx: only those items are sent again), or refused for good (mapping or
//! parse errors: written to the dead-letter file with the reason, counted, logged). The batch is settled
//! only when no item is left to retry, so the input's checkpoint never passes an event that is neither
//! stored nor recorded as refused. Every event has a deterministic `_id`, so a resend after a crash or a
//! retried request overwrites instead of duplicating.

pub mod bulk;
pub mod client;
pub mod config;
pub mod dead_letter;
pub mod index;
pub mod search;
pub mod setup;

use super::runner::Backoff;
use crate::component::OutputKind;
use super::{Batch, Batching, BoxFuture, Output, OutputError, SendOutcome};
use crate::observe::metrics::{self, Counter};
use bulk::{Encoded, ItemOutcome, encode_item};
use chrono::Utc;
use client::{Cluster, InfoError, ServerInfo};
use config::{BulkAction, Compression, ElasticsearchConfig};
use dead_letter::{DeadLetter, DeadLetterFile};
use index::{DateCache, IndexTemplate};
use std::collections::VecDeque;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The `elasticsearch` output type (also OpenSearch).
pub const KIND: OutputKind = OutputKind::of::<config::ElasticsearchConfig>(
    "elasticsearch",
    "Elasticsearch or OpenSearch, with _bulk",
);

struct Counters {
    stored: Counter,
    duplicates: Counter,
    item_retries: Counter,
    dead_letters: Counter,
    requests: Counter,
    request_failures: Counter,
}

/// What every worker of one output shares.
struct Shared {
    name: String,
    cluster: Cluster,
    template: IndexTemplate,
    action: BulkAction,
    compression: Compression,
    level: u32,
    bulk_max_size: usize,
    bulk_max_bytes: usize,
    bulk_path: String,
    info: tokio::sync::OnceCell<ServerInfo>,
    dead_letters: Mutex<DeadLetterFile>,
    dead_letter_index: Option<String>,
    counters: Counters,
    batching: Batching,
    backoff: Backoff,
}

/// A batch being delivered: which items are still to send, across retries of the same batch.
struct Pending {
    key: (usize, usize),
    encoded: Encoded,
    remaining: Vec<usize>,
    rejected: usize,
}

/// One worker of an Elasticsearch output (an output has `workers` of them, each with a request in flight).
pub struct ElasticsearchOutput {
    shared: Arc<Shared>,
    pending: Option<Pending>,
    date_cache: DateCache,
    /// The encoding buffer of the last delivered batch, reused (large fresh buffers cost page faults).
    spare: Vec<u8>,
}

/// Builds the `workers` workers of one output.
pub fn build_workers(
    cfg: &ElasticsearchConfig,
    name: &str,
    data_dir: &Path,
) -> anyhow::Result<Vec<ElasticsearchOutput>> {
    let template = cfg
        .index_template()
        .map_err(|e| anyhow::anyhow!("output `{name}`: {e}"))?;
    let cluster = Cluster::new(cfg).map_err(|e| anyhow::anyhow!("output `{name}`: {e:#}"))?;
    let label = [("output", name)];
    // Only errors and statuses come back: a response for 1,600 stored documents stays a few KiB.
    let mut bulk_path = "/_bulk?filter_path=errors,items.*.error,items.*.status".to_string();
    if let Some(p) = &cfg.pipeline {
        bulk_path.push_str("&pipeline=");
        bulk_path.push_str(&url_escape(p));
    }
    let shared = Arc::new(Shared {
        name: name.to_string(),
        cluster,
        template,
        action: cfg.effective_action(),
        compression: cfg.compression,
        level: cfg.compression_level,
        bulk_max_size: cfg.bulk_max_size,
        bulk_max_bytes: cfg.bulk_max_bytes.as_usize(),
        bulk_path,
        info: tokio::sync::OnceCell::new(),
        dead_letters: Mutex::new(DeadLetterFile::new(data_dir, name)),
        dead_letter_index: cfg.dead_letter_index.clone(),
        counters: Counters {
            stored: metrics::counter("elasticsearch_documents_stored_total", &label),
            duplicates: metrics::counter("elasticsearch_documents_duplicate_total", &label),
            item_retries: metrics::counter("elasticsearch_item_retries_total", &label),
            dead_letters: metrics::counter("elasticsearch_dead_letters_total", &label),
            requests: metrics::counter("elasticsearch_bulk_requests_total", &label),
            request_failures: metrics::counter("elasticsearch_bulk_request_failures_total", &label),
        },
        batching: Batching {
            max_events: cfg.bulk_max_size,
            max_wait: cfg.flush_interval.get(),
        },
        backoff: Backoff {
            init: cfg.backoff.init.get(),
            max: cfg.backoff.max.get(),
        },
    });
    Ok((0..cfg.workers.max(1))
        .map(|_| ElasticsearchOutput {
            shared: Arc::clone(&shared),
            pending: None,
            date_cache: DateCache::default(),
            spare: Vec::new(),
        })
        .collect())
}

/// The byte ranges of `items` in the encoded buffer, neighbours joined (a first send is one range).
fn contiguous<'a>(
    enc: &'a Encoded,
    items: &'a [usize],
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let mut pending: Option<std::ops::Range<usize>> = None;
    let mut it = items.iter().map(|&i| enc.items[i].range.clone());
    std::iter::from_fn(move || {
        loop {
            match (it.next(), pending.take()) {
                (Some(r), None) => pending = Some(r),
                (Some(r), Some(p)) if p.end == r.start => pending = Some(p.start..r.end),
                (Some(r), Some(p)) => {
                    pending = Some(r);
                    return Some(p);
                }
                (None, p) => return p,
            }
        }
    })
}

/// Percent-encodes a query parameter value (everything but RFC 3986's unreserved characters).
pub fn url_escape(s: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, RESERVED).to_string()
}

impl ElasticsearchOutput {
    /// Learns what the server is, once per output.
    async fn server_info(&self) -> Result<ServerInfo, OutputError> {
        let shared = &self.shared;
        shared
            .info
            .get_or_try_init(|| async {
                match shared.cluster.info().await {
                    Ok(info) => {
                        tracing::info!(output = %shared.name, server = %info, hosts = ?shared.cluster.hosts(), "connected");
                        Ok(info)
                    }
                    Err(InfoError::Unreachable(m)) => Err(OutputError::Retryable(m)),
                    Err(InfoError::NotElasticsearch(m)) => Err(OutputError::Fatal(format!(
                        "the server is not Elasticsearch or OpenSearch: {m}; check `hosts`"
                    ))),
                    Err(InfoError::Denied(m)) => Err(OutputError::Fatal(m)),
                }
            })
            .await
            .cloned()
    }

    /// Encodes a new batch; events whose index name cannot be made are dead-lettered right away.
    fn prepare(&mut self, batch: &Batch, info: &ServerInfo) -> Result<Pending, OutputError> {
        let shared = Arc::clone(&self.shared);
        let mut buf = std::mem::take(&mut self.spare);
        buf.clear();
        buf.reserve(batch.len() * 320);
        let mut encoded = Encoded {
            buf,
            items: Vec::with_capacity(batch.len()),
        };
        let now = Utc::now();
        let mut name = String::new();
        let mut last: Option<Arc<str>> = None;
        let mut missing = Vec::new();
        for (ordinal, event) in batch.iter().enumerate() {
            if let Err(m) = shared
                .template
                .render(event, now, &mut self.date_cache, &mut name)
            {
                missing.push((ordinal, m.0));
                continue;
            }
            let index = match &last {
                Some(l) if **l == *name => Arc::clone(l),
                _ => {
                    let a: Arc<str> = name.as_str().into();
                    last = Some(Arc::clone(&a));
                    a
                }
            };
            encode_item(
                &mut encoded,
                event,
                ordinal,
                index,
                shared.action,
                info.needs_type(),
            );
        }
        if !missing.is_empty() {
            let reasons: Vec<String> = missing
                .iter()
                .map(|(_, f)| format!("the event has no field `{f}`, which the index name needs"))
                .collect();
            let letters: Vec<DeadLetter<'_>> = missing
                .iter()
                .zip(&reasons)
                .filter_map(|((ordinal, _), reason)| {
                    Some(DeadLetter {
                        index: "",
                        id: None,
                        status: 0,
                        kind: "index_name_missing_field",
                        reason,
                        event: batch.get(*ordinal)?,
                    })
                })
                .collect();
            self.record_dead_letters(&letters)?;
        }
        Ok(Pending {
            key: batch.key(),
            remaining: (0..encoded.items.len()).collect(),
            encoded,
            rejected: missing.len(),
        })
    }

    fn record_dead_letters(&self, letters: &[DeadLetter<'_>]) -> Result<(), OutputError> {
        if letters.is_empty() {
            return Ok(());
        }
        let shared = &self.shared;
        let mut file = shared
            .dead_letters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        file.write(letters).map_err(|e| {
            OutputError::Retryable(format!(
                "cannot write the dead-letter file {}: {e}; the refused events stay in the queue",
                file.path().display()
            ))
        })?;
        shared.counters.dead_letters.add(letters.len() as u64);
        for l in letters.iter().take(3) {
            tracing::warn!(output = %shared.name, index = l.index, id = ?l.id, status = l.status, error = l.kind, "event refused: {}; recorded in {}", l.reason, file.path().display());
        }
        if letters.len() > 3 {
            tracing::warn!(output = %shared.name, count = letters.len() - 3, "more events refused; see {}", file.path().display());
        }
        Ok(())
    }

    /// Also indexes the dead letters into `dead_letter_index` (the event as text, so the mapping
    /// conflict that refused it cannot happen again). Best effort: the file already has them.
    async fn index_dead_letters(&self, letters: &[DeadLetter<'_>]) {
        let Some(dli) = &self.shared.dead_letter_index else {
            return;
        };
        let mut body = Vec::new();
        {
            let file = self
                .shared
                .dead_letters
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for l in letters {
                body.extend_from_slice(b"{\"index\":{\"_index\":");
                crate::util::json_write::write_str(&mut body, dli);
                body.extend_from_slice(b"}}\n");
                body.extend(file.record(l, true));
                body.push(b'\n');
            }
        }
        match self
            .shared
            .cluster
            .request(
                reqwest::Method::POST,
                "/_bulk",
                Some((body, "application/x-ndjson", false)),
            )
            .await
        {
            Ok(a) if a.status == 200 => {}
            Ok(a) => {
                tracing::warn!(output = %self.shared.name, index = %dli, status = a.status, "cannot index dead letters: {}", client::excerpt(&a.body))
            }
            Err(e) => {
                tracing::warn!(output = %self.shared.name, index = %dli, "cannot index dead letters: {e}")
            }
        }
    }

    fn body(&self, enc: &Encoded, items: &[usize]) -> (Vec<u8>, bool) {
        let shared = &self.shared;
        let raw: usize = items.iter().map(|&i| enc.items[i].range.len()).sum();
        match shared.compression {
            Compression::None => {
                let mut out = Vec::with_capacity(raw);
                for range in contiguous(enc, items) {
                    out.extend_from_slice(&enc.buf[range]);
                }
                (out, false)
            }
            Compression::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(
                    Vec::with_capacity(raw / 4),
                    flate2::Compression::new(shared.level),
                );
                for range in contiguous(enc, items) {
                    // Writing to a Vec cannot fail.
                    let _ = gz.write_all(&enc.buf[range]);
                }
                (gz.finish().unwrap_or_default(), true)
            }
        }
    }

    /// Cuts the remaining items into requests no larger than the limits.
    fn chunks(&self, enc: &Encoded, remaining: &[usize]) -> VecDeque<Vec<usize>> {
        let mut out = VecDeque::new();
        let mut cur = Vec::new();
        let mut bytes = 0;
        for &i in remaining {
            let len = enc.items[i].range.len();
            if !cur.is_empty()
                && (cur.len() >= self.shared.bulk_max_size
                    || bytes + len > self.shared.bulk_max_bytes)
            {
                out.push_back(std::mem::take(&mut cur));
                bytes = 0;
            }
            cur.push(i);
            bytes += len;
        }
        if !cur.is_empty() {
            out.push_back(cur);
        }
        out
    }

    async fn deliver(&mut self, batch: &Batch) -> Result<SendOutcome, OutputError> {
        let info = self.server_info().await?;
        let key = batch.key();
        if self.pending.as_ref().is_none_or(|p| p.key != key) {
            self.pending = None;
            let p = self.prepare(batch, &info)?;
            self.pending = Some(p);
        }
        let Some(mut pending) = self.pending.take() else {
            return Err(OutputError::Retryable("no batch is being delivered".into()));
        };
        let result = self.send_remaining(batch, &mut pending).await;
        if result.is_ok() {
            self.spare = std::mem::take(&mut pending.encoded.buf);
        }
        match result {
            Ok(()) => Ok(if pending.rejected > 0 {
                SendOutcome::Rejected
            } else {
                SendOutcome::Delivered
            }),
            Err(e) => {
                self.pending = Some(pending);
                Err(e)
            }
        }
    }

    async fn send_remaining(
        &mut self,
        batch: &Batch,
        pending: &mut Pending,
    ) -> Result<(), OutputError> {
        let shared = Arc::clone(&self.shared);
        let c = &shared.counters;
        let mut queue = self.chunks(&pending.encoded, &pending.remaining);
        let mut retry: Vec<usize> = Vec::new();
        let mut refused: Vec<(usize, u16, String, String)> = Vec::new();
        let mut failure: Option<OutputError> = None;
        let mut item_retry_statuses = Vec::new();
        while let Some(chunk) = queue.pop_front() {
            if failure.is_some() {
                retry.extend(chunk);
                continue;
            }
            let (body, gzip) = self.body(&pending.encoded, &chunk);
            c.requests.inc();
            let answer = match shared
                .cluster
                .request(
                    reqwest::Method::POST,
                    &shared.bulk_path,
                    Some((body, "application/x-ndjson", gzip)),
                )
                .await
            {
                Ok(a) => a,
                Err(e) => {
                    c.request_failures.inc();
                    failure = Some(OutputError::Retryable(e.to_string()));
                    retry.extend(chunk);
                    continue;
                }
            };
            match answer.status {
                200 => match bulk::parse_response(&answer.body, chunk.len(), shared.action) {
                    Ok(None) => c.stored.add(chunk.len() as u64),
                    Ok(Some(outcomes)) => {
                        for (&i, outcome) in chunk.iter().zip(outcomes) {
                            match outcome {
                                ItemOutcome::Stored { duplicate } => {
                                    c.stored.inc();
                                    if duplicate {
                                        c.duplicates.inc();
                                    }
                                }
                                ItemOutcome::Retry { status } => {
                                    c.item_retries.inc();
                                    item_retry_statuses.push(status);
                                    retry.push(i);
                                }
                                ItemOutcome::Rejected {
                                    status,
                                    kind,
                                    reason,
                                } => refused.push((i, status, kind, reason)),
                            }
                        }
                    }
                    Err(m) => {
                        c.request_failures.inc();
                        failure = Some(OutputError::Retryable(format!("{}: {m}", answer.host)));
                        retry.extend(chunk);
                    }
                },
                413 if chunk.len() > 1 => {
                    // Too large for the server (http.max_content_length): halve and go on.
                    let (a, b) = chunk.split_at(chunk.len() / 2);
                    tracing::info!(output = %shared.name, documents = chunk.len(), "the server refused a request as too large (413); splitting it");
                    queue.push_front(b.to_vec());
                    queue.push_front(a.to_vec());
                }
                413 => refused.push((
                    chunk[0],
                    413,
                    "request_entity_too_large".into(),
                    "the document alone is larger than the server accepts (http.max_content_length)"
                        .into(),
                )),
                401 | 403 => {
                    c.request_failures.inc();
                    failure = Some(OutputError::Fatal(shared.cluster.auth_failure(&answer)));
                    retry.extend(chunk);
                }
                s @ (408 | 429 | 500..=599) => {
                    c.request_failures.inc();
                    failure = Some(OutputError::Retryable(format!(
                        "{} answered _bulk with HTTP {s}: {}",
                        answer.host,
                        client::excerpt(&answer.body)
                    )));
                    retry.extend(chunk);
                }
                s => {
                    c.request_failures.inc();
                    failure = Some(OutputError::Fatal(format!(
                        "{} answered _bulk with HTTP {s}: {}",
                        answer.host,
                        client::excerpt(&answer.body)
                    )));
                    retry.extend(chunk);
                }
            }
        }
        if !refused.is_empty() {
            let letters: Vec<DeadLetter<'_>> = refused
                .iter()
                .filter_map(|(i, status, kind, reason)| {
                    let item = &pending.encoded.items[*i];
                    Some(DeadLetter {
                        index: &item.index,
                        id: item.id.as_deref(),
                        status: *status,
                        kind,
                        reason,
                        event: batch.get(item.ordinal)?,
                    })
                })
                .collect();
            match self.record_dead_letters(&letters) {
                Ok(()) => {
                    pending.rejected += letters.len();
                    self.index_dead_letters(&letters).await;
                }
                Err(e) => {
                    retry.extend(refused.iter().map(|r| r.0));
                    failure.get_or_insert(e);
                }
            }
        }
        retry.sort_unstable();
        pending.remaining = retry;
        if let Some(f) = failure {
            return Err(f);
        }
        if !pending.remaining.is_empty() {
            item_retry_statuses.sort_unstable();
            item_retry_statuses.dedup();
            return Err(OutputError::Retryable(format!(
                "{} documents were turned away for now (HTTP {:?}); only those are sent again",
                pending.remaining.len(),
                item_retry_statuses
            )));
        }
        Ok(())
    }
}

impl Output for ElasticsearchOutput {
    fn send<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<SendOutcome, OutputError>> {
        Box::pin(self.deliver(batch))
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), OutputError>> {
        Box::pin(async { Ok(()) })
    }

    fn batching(&self) -> Batching {
        self.shared.batching
    }

    fn backoff(&self) -> Backoff {
        self.shared.backoff
    }
}
