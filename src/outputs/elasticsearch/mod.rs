//! `type: elasticsearch`: ships events to Elasticsearch (6.x–9.x) or OpenSearch (1.x–3.x) with `_bulk`.
//!
//! A batch is encoded once. Requests are cut from it by `bulk_max_size`/`bulk_max_bytes` and sent gzip
//! compressed. The per-item results decide each event's fate: stored (or a 409 on `create`: already
//! there), retried later (429, 5xx: only those items are sent again), or refused for good (mapping or
//! parse errors: written to the dead-letter file with the reason, counted, logged); an answer without
//! exactly one result per item sent decides nothing and is sent again. The batch is settled
//! only when no item is left to retry, so the input's checkpoint never passes an event that is neither
//! stored nor recorded as refused. Every event has a deterministic `_id`, so a resend after a crash or a
//! retried request overwrites instead of duplicating.
//!
//! What a whole-request answer means (its status and body) is decided in [`policy`]; cutting requests
//! is in [`chunking`], recording refused events in `refused`; this module does the bookkeeping.

pub mod bulk;
pub mod chunking;
pub mod client;
pub mod config;
pub mod conflicts;
pub mod dead_letter;
pub mod index;
pub mod policy;
mod refused;
pub mod search;
pub mod setup;

use super::runner::Backoff;
use crate::component::OutputKind;
use super::{Batch, Batching, BoxFuture, Output, OutputError, SendOutcome};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use crate::observe::metrics::Counter;
use crate::observe::throttle::LogThrottle;
use bulk::{Encoded, ItemOutcome, encode_item};
use chrono::Utc;
use chunking::Limits;
use client::{Answer, AnswerLimit, Cluster, InfoError, ServerInfo};
use config::{BulkAction, Compression, ElasticsearchConfig};
use dead_letter::DeadLetterFile;
use index::{DateCache, IndexTemplate};
use policy::Verdict;
use refused::Refusal;
use std::collections::VecDeque;
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
    limits: Limits,
    bulk_path: String,
    info: tokio::sync::OnceCell<ServerInfo>,
    dead_letters: Mutex<DeadLetterFile>,
    dead_letter_index: Option<String>,
    counters: Counters,
    /// Malformed `_bulk` answers are logged at most this often (every retry may get one).
    malformed_answers_log: LogThrottle,
    batching: Batching,
    backoff: Backoff,
}

/// A batch being delivered: which items are still to send, across retries of the same batch.
struct Pending {
    /// The batch's id ([`Batch::id`]): a batch with another id is a new batch.
    batch_id: u64,
    encoded: Encoded,
    remaining: Vec<usize>,
    rejected: usize,
}

/// What the requests of one attempt at a batch came to: which items to send again, which were
/// refused for good, and the whole-request failure that stopped the attempt, if any.
#[derive(Default)]
struct Attempt {
    retry: Vec<usize>,
    refused: Vec<Refusal>,
    failure: Option<OutputError>,
    item_retry_statuses: Vec<u16>,
}

impl Attempt {
    /// A whole request failed: its items are sent again, and so are the requests not sent yet.
    fn fail(&mut self, error: OutputError, chunk: Vec<usize>) {
        self.failure.get_or_insert(error);
        self.retry.extend(chunk);
    }

    /// Leaves in `pending` what is still to send; an error when anything is.
    fn finish(mut self, pending: &mut Pending) -> Result<(), OutputError> {
        self.retry.sort_unstable();
        pending.remaining = self.retry;
        if let Some(f) = self.failure {
            return Err(f);
        }
        if !pending.remaining.is_empty() {
            self.item_retry_statuses.sort_unstable();
            self.item_retry_statuses.dedup();
            return Err(OutputError::Retryable(format!(
                "{} documents were turned away for now (HTTP {:?}); only those are sent again",
                pending.remaining.len(),
                self.item_retry_statuses
            )));
        }
        Ok(())
    }
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
    let m = ComponentMetrics::new(Kind::Output, name, "elasticsearch");
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
        limits: Limits {
            max_items: cfg.bulk_max_size,
            max_bytes: cfg.bulk_max_bytes.as_usize(),
        },
        bulk_path,
        info: tokio::sync::OnceCell::new(),
        dead_letters: Mutex::new(DeadLetterFile::new(data_dir, name)),
        dead_letter_index: cfg.dead_letter_index.clone(),
        counters: Counters {
            stored: m.counter("elasticsearch_documents_stored_total"),
            duplicates: m.counter("elasticsearch_documents_duplicate_total"),
            item_retries: m.counter("elasticsearch_item_retries_total"),
            // Refused for good and written to the dead-letter file: not delivered, not by choice.
            dead_letters: m.discarded(false),
            requests: m.counter("elasticsearch_bulk_requests_total"),
            request_failures: m.errors("request_failed", Stage::Sending),
        },
        malformed_answers_log: LogThrottle::new(std::time::Duration::from_secs(10)),
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
            // Events of a batch mostly share their index: one shared name for a run of them.
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
            refused::record_missing_fields(&shared, batch, &missing)?;
        }
        Ok(Pending {
            batch_id: batch.id(),
            remaining: (0..encoded.items.len()).collect(),
            encoded,
            rejected: missing.len(),
        })
    }

    async fn deliver(&mut self, batch: &Batch) -> Result<SendOutcome, OutputError> {
        let info = self.server_info().await?;
        if self
            .pending
            .as_ref()
            .is_none_or(|p| p.batch_id != batch.id())
        {
            self.pending = None;
            let p = self.prepare(batch, &info)?;
            self.pending = Some(p);
        }
        let Some(mut pending) = self.pending.take() else {
            return Err(OutputError::Retryable("no batch is being delivered".into()));
        };
        let result = self.shared.send_remaining(batch, &mut pending).await;
        match result {
            Ok(()) => {
                self.spare = std::mem::take(&mut pending.encoded.buf);
                Ok(if pending.rejected > 0 {
                    SendOutcome::Rejected {
                        refused: pending.rejected,
                    }
                } else {
                    SendOutcome::Delivered
                })
            }
            Err(e) => {
                self.pending = Some(pending);
                Err(e)
            }
        }
    }
}

impl Shared {
    /// Sends the items of `pending` not stored yet, request by request, and records what the server
    /// refused for good. `pending.remaining` is left with the items to send again.
    async fn send_remaining(
        &self,
        batch: &Batch,
        pending: &mut Pending,
    ) -> Result<(), OutputError> {
        let mut queue = chunking::chunks(&pending.encoded, &pending.remaining, self.limits);
        let mut attempt = Attempt::default();
        while let Some(chunk) = queue.pop_front() {
            if attempt.failure.is_some() {
                // Once a whole request failed, the others wait for the next attempt too.
                attempt.retry.extend(chunk);
                continue;
            }
            match self.send_chunk(&pending.encoded, &chunk).await {
                Ok((answer, verdict)) => {
                    self.settle_chunk(&answer, verdict, chunk, &mut queue, &mut attempt)
                }
                Err(e) => {
                    self.counters.request_failures.inc();
                    attempt.fail(OutputError::Retryable(e.to_string()), chunk);
                }
            }
        }
        let refusals = std::mem::take(&mut attempt.refused);
        if !refusals.is_empty() {
            let letters = refused::letters(&refusals, &pending.encoded, batch);
            match refused::record(self, &letters) {
                Ok(()) => {
                    pending.rejected += letters.len();
                    refused::index(self, &letters).await;
                }
                Err(e) => {
                    attempt.retry.extend(refusals.iter().map(|r| r.item));
                    attempt.failure.get_or_insert(e);
                }
            }
        }
        attempt.finish(pending)
    }

    /// Sends one request and judges its answer (the host too: set aside or up).
    async fn send_chunk(
        &self,
        enc: &Encoded,
        chunk: &[usize],
    ) -> Result<(Answer, Verdict), client::TransportError> {
        let (body, gzip) = chunking::request_body(enc, chunk, self.compression, self.level);
        self.counters.requests.inc();
        let answer = self
            .cluster
            .send(
                reqwest::Method::POST,
                &self.bulk_path,
                Some((body, "application/x-ndjson", gzip)),
                AnswerLimit::bulk(chunk.len()),
            )
            .await?;
        let verdict = policy::bulk_verdict(answer.status, &answer.body, chunk.len(), self.action);
        self.cluster
            .host_answered(&answer, verdict.sets_host_aside());
        Ok((answer, verdict))
    }

    /// Does what the verdict on one request says: counts stored items, keeps the others for a retry
    /// or the dead-letter file, or splits the request.
    fn settle_chunk(
        &self,
        answer: &Answer,
        verdict: Verdict,
        chunk: Vec<usize>,
        queue: &mut VecDeque<Vec<usize>>,
        attempt: &mut Attempt,
    ) {
        let c = &self.counters;
        match verdict {
            Verdict::AllStored => c.stored.add(chunk.len() as u64),
            Verdict::Items(outcomes) => self.settle_items(&chunk, outcomes, attempt),
            Verdict::Split => {
                let (a, b) = chunk.split_at(chunk.len() / 2);
                tracing::info!(output = %self.name, documents = chunk.len(), "the server refused a request as too large (413); splitting it");
                queue.push_front(b.to_vec());
                queue.push_front(a.to_vec());
            }
            Verdict::DeadLetter {
                status,
                kind,
                reason,
            } => attempt.refused.extend(chunk.iter().map(|&item| Refusal {
                item,
                status,
                kind: kind.into(),
                reason: reason.into(),
            })),
            Verdict::Malformed { reason } => {
                c.request_failures.inc();
                if let Some(held_back) = self.malformed_answers_log.admit() {
                    tracing::warn!(output = %self.name, host = %answer.host, documents = chunk.len(), held_back, "a _bulk answer (HTTP 200) is not one result per document sent: {reason}; none of them counts as stored, they are sent again; the answer begins: {}", client::excerpt(&answer.body));
                }
                let message = format!(
                    "{} answered _bulk with HTTP 200, but {reason}; the documents are sent again",
                    answer.host
                );
                attempt.fail(OutputError::Retryable(message), chunk);
            }
            Verdict::Retry { reason, .. } => {
                c.request_failures.inc();
                let message = format!("{} {reason}", answer.host);
                attempt.fail(OutputError::Retryable(message), chunk);
            }
            Verdict::CredentialsRefused => {
                c.request_failures.inc();
                let message = self.cluster.auth_failure(answer);
                attempt.fail(OutputError::Fatal(message), chunk);
            }
            Verdict::Fatal { reason } => {
                c.request_failures.inc();
                let message = format!("{} {reason}", answer.host);
                attempt.fail(OutputError::Fatal(message), chunk);
            }
        }
    }

    /// Counts the items stored and keeps the others, one outcome per item of `chunk`.
    fn settle_items(&self, chunk: &[usize], outcomes: Vec<ItemOutcome>, attempt: &mut Attempt) {
        let c = &self.counters;
        for (&item, outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                ItemOutcome::Stored { duplicate } => {
                    c.stored.inc();
                    if duplicate {
                        c.duplicates.inc();
                    }
                }
                ItemOutcome::Retry { status } => {
                    c.item_retries.inc();
                    attempt.item_retry_statuses.push(status);
                    attempt.retry.push(item);
                }
                ItemOutcome::Rejected {
                    status,
                    kind,
                    reason,
                } => attempt.refused.push(Refusal {
                    item,
                    status,
                    kind,
                    reason,
                }),
            }
        }
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
