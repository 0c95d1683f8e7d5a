//! `type: elasticsearch`: ships events to Elasticsearch (6.x–9.x) or OpenSearch (1.x–3.x) with `_bulk`.
//!
//! A batch is encoded once. Requests are cut from it by `bulk_max_size`/`bulk_max_bytes` and sent gzip
//! compressed. The per-item results decide each event's fate: stored (or a 409 on `create`: already
//! there), sent again later (429, 5xx, or the whole request failed), or refused for good (mapping or
//! parse errors: written to the dead-letter file with the reason, counted, logged); an answer without
//! exactly one result per item sent decides nothing and is sent again.
//!
//! Documents to send again wait in the worker's retry set, each batch's for its own backoff, while new
//! batches keep going; when their time comes they ride along in the next request (or go on their own
//! when no new batch comes). A batch is settled only when none of its documents is left to send, so
//! the input's checkpoint never passes an event that is neither stored nor recorded as refused. The
//! retry set is bounded (`retry_max_documents`, `retry_max_bytes`, for all workers of the output):
//! when it is full the output takes no new batches until some of it is stored. Every event has a
//! deterministic `_id`, so a resend after a crash or a retried request overwrites instead of
//! duplicating. How many requests are in flight is chosen by [`concurrency`] (at most `workers`).
//!
//! What a whole-request answer means (its status and body) is decided in [`policy`]; cutting requests
//! is in [`chunking`], recording refused events in `refused`; this module does the bookkeeping.

pub mod bulk;
pub mod chunking;
pub mod client;
pub mod concurrency;
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
use chunking::Ref;
use concurrency::{Concurrency, Load};
use crate::observe::metrics::Gauge;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The `elasticsearch` output type (also OpenSearch).
pub const KIND: OutputKind = OutputKind::of::<config::ElasticsearchConfig>(
    "elasticsearch",
    "Elasticsearch or OpenSearch, with _bulk",
);

/// The gauge with the number of requests the output allows in flight now (adaptive concurrency).
pub const REQUEST_CONCURRENCY: &str = "elasticsearch_request_concurrency";
/// The gauge with the number of documents waiting in the output's retry set.
pub const RETRY_SET_DOCUMENTS: &str = "elasticsearch_retry_set_documents";

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
    retry_set: RetrySet,
    concurrency: Concurrency,
}

/// A batch some of whose documents are not stored yet: it waits in the worker's retry set for its
/// backoff, then its documents ride along in the next request.
struct Held {
    /// The batch (its events, for the dead-letter file).
    batch: Batch,
    encoded: Encoded,
    /// Items not stored yet (positions in `encoded.items`), in order.
    remaining: Vec<usize>,
    /// Events refused for good so far (recorded in the dead-letter file).
    rejected: usize,
    /// How many times its documents were turned away.
    attempt: u32,
    /// When they go again.
    due: Instant,
    /// What it counts against the retry set's bound while it waits: documents, bytes.
    counted: (usize, usize),
}

impl Held {
    /// The bytes its remaining documents take.
    fn remaining_bytes(&self) -> usize {
        self.remaining
            .iter()
            .map(|&i| self.encoded.items[i].range.len())
            .sum()
    }

    /// Keeps only the remaining documents' bytes, when they are a small part of the encoding (a few
    /// documents turned away out of a large batch should not hold the whole batch's buffer).
    fn compact(&mut self) {
        let keep = self.remaining_bytes();
        if self.encoded.buf.len() <= 2 * keep + (64 << 10) {
            return;
        }
        let mut encoded = Encoded {
            buf: Vec::with_capacity(keep),
            items: Vec::with_capacity(self.remaining.len()),
        };
        for &i in &self.remaining {
            let item = &self.encoded.items[i];
            let start = encoded.buf.len();
            encoded
                .buf
                .extend_from_slice(&self.encoded.buf[item.range.clone()]);
            let mut item = item.clone();
            item.range = start..encoded.buf.len();
            encoded.items.push(item);
        }
        self.remaining = (0..encoded.items.len()).collect();
        self.encoded = encoded;
    }
}

/// What the requests of one round came to: which documents to send again, which were refused for
/// good, and the first whole-request failure, if any.
#[derive(Default)]
struct Round {
    retry: Vec<Ref>,
    refused: Vec<(usize, Refusal)>,
    failure: Option<OutputError>,
    item_retry_statuses: Vec<u16>,
}

impl Round {
    /// A whole request failed: its documents are sent again.
    fn fail(&mut self, error: OutputError, chunk: Vec<Ref>) {
        self.failure.get_or_insert(error);
        self.retry.extend(chunk);
    }
}

/// One worker of an Elasticsearch output (an output has up to `workers` requests in flight, at most
/// one per worker, fewer when the adaptive concurrency says so).
pub struct ElasticsearchOutput {
    shared: Arc<Shared>,
    /// Batches with documents waiting for their backoff (the worker's part of the retry set).
    held: Vec<Held>,
    /// Held batches settled since the runner last asked.
    settled: Vec<(u64, SendOutcome)>,
    /// The last failure behind held documents, for the runner.
    failure: Option<OutputError>,
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
        retry_set: RetrySet {
            max_documents: cfg.retry_max_documents,
            max_bytes: cfg.retry_max_bytes.as_usize(),
            documents: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            full: AtomicBool::new(false),
            documents_gauge: m.gauge(RETRY_SET_DOCUMENTS),
        },
        concurrency: Concurrency::new(
            cfg.workers,
            cfg.adaptive_concurrency,
            m.gauge(REQUEST_CONCURRENCY),
        ),
    });
    Ok((0..cfg.workers.max(1))
        .map(|_| ElasticsearchOutput {
            shared: Arc::clone(&shared),
            held: Vec::new(),
            settled: Vec::new(),
            failure: None,
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
    fn prepare(&mut self, batch: &Batch, info: &ServerInfo) -> Result<Held, OutputError> {
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
        Ok(Held {
            batch: batch.clone(),
            remaining: (0..encoded.items.len()).collect(),
            encoded,
            rejected: missing.len(),
            attempt: 0,
            due: Instant::now(),
            counted: (0, 0),
        })
    }

    /// Sends a new batch, with the held documents that are due riding along. The batch is settled
    /// when every document of it is stored or refused for good; otherwise it is held.
    async fn deliver(&mut self, batch: &Batch) -> Result<SendOutcome, OutputError> {
        let info = self.server_info().await?;
        let held = self.prepare(batch, &info)?;
        self.held.push(held);
        self.send_round().await;
        match self.settled.iter().position(|(id, _)| *id == batch.id()) {
            Some(i) => Ok(self.settled.swap_remove(i).1),
            None => Ok(SendOutcome::Held),
        }
    }

    /// One round: the documents of every held batch that is due (older batches first, then the new
    /// one), in as few requests as the limits allow. What is turned away again waits for its batch's
    /// next backoff; batches with nothing left are settled.
    async fn send_round(&mut self) {
        let now = Instant::now();
        let due: Vec<usize> = (0..self.held.len())
            .filter(|&i| self.held[i].due <= now)
            .collect();
        if due.is_empty() {
            return;
        }
        let refs: Vec<Ref> = due
            .iter()
            .flat_map(|&slot| {
                self.held[slot]
                    .remaining
                    .iter()
                    .map(move |&item| Ref { slot, item })
            })
            .collect();
        let mut round = {
            let sources: Vec<&Encoded> = self.held.iter().map(|h| &h.encoded).collect();
            self.shared.send_refs(&sources, &refs).await
        };
        // Refused for good: recorded per batch before the batch can be settled.
        let mut refused: Vec<Vec<Refusal>> = (0..self.held.len()).map(|_| Vec::new()).collect();
        for (slot, r) in std::mem::take(&mut round.refused) {
            refused[slot].push(r);
        }
        for (slot, refusals) in refused.into_iter().enumerate() {
            if refusals.is_empty() {
                continue;
            }
            let h = &mut self.held[slot];
            let letters = refused::letters(&refusals, &h.encoded, &h.batch);
            match refused::record(&self.shared, &letters) {
                Ok(()) => {
                    h.rejected += letters.len();
                    refused::index(&self.shared, &letters).await;
                }
                Err(e) => {
                    round
                        .retry
                        .extend(refusals.iter().map(|r| Ref { slot, item: r.item }));
                    round.failure.get_or_insert(e);
                }
            }
        }
        let mut again: Vec<Vec<usize>> = (0..self.held.len()).map(|_| Vec::new()).collect();
        for r in &round.retry {
            again[r.slot].push(r.item);
        }
        let after = Instant::now();
        let backoff = self.shared.backoff;
        for &slot in &due {
            let h = &mut self.held[slot];
            let mut remaining = std::mem::take(&mut again[slot]);
            remaining.sort_unstable();
            h.remaining = remaining;
            if !h.remaining.is_empty() {
                h.attempt = h.attempt.saturating_add(1);
                h.due = after + backoff.delay(h.attempt);
                h.compact();
            }
        }
        // Settle what is done, keep the rest (in order: older batches ride first).
        let held = std::mem::take(&mut self.held);
        for mut h in held {
            let counted = if h.remaining.is_empty() {
                (0, 0)
            } else {
                (h.remaining.len(), h.encoded.buf.len())
            };
            self.shared.retry_set.recount(h.counted, counted);
            h.counted = counted;
            if h.remaining.is_empty() {
                let outcome = if h.rejected > 0 {
                    SendOutcome::Rejected {
                        refused: h.rejected,
                    }
                } else {
                    SendOutcome::Delivered
                };
                self.settled.push((h.batch.id(), outcome));
                if self.spare.capacity() < h.encoded.buf.capacity() {
                    self.spare = std::mem::take(&mut h.encoded.buf);
                }
            } else {
                self.held.push(h);
            }
        }
        if round.failure.is_none() && !round.retry.is_empty() {
            round.item_retry_statuses.sort_unstable();
            round.item_retry_statuses.dedup();
            round.failure = Some(OutputError::Retryable(format!(
                "{} documents were turned away for now (HTTP {:?}); only those are sent again, after their backoff",
                round.retry.len(),
                round.item_retry_statuses
            )));
        }
        if let Some(f) = round.failure {
            self.failure = Some(f);
        }
    }
}

impl Shared {
    /// Sends `refs` (documents of `sources`) request by request, and sorts each document into stored
    /// (counted), to send again, or refused for good. After a request got no answer at all (the host
    /// is unreachable), the rest of the round is not sent: it waits for the next one.
    async fn send_refs(&self, sources: &[&Encoded], refs: &[Ref]) -> Round {
        let mut queue = chunking::plan(sources, refs, self.limits);
        let mut round = Round::default();
        let mut unreachable = false;
        while let Some(chunk) = queue.pop_front() {
            if unreachable {
                round.retry.extend(chunk);
                continue;
            }
            match self.send_chunk(sources, &chunk).await {
                Ok((answer, verdict)) => {
                    self.settle_chunk(&answer, verdict, chunk, &mut queue, &mut round)
                }
                Err(e) => {
                    self.counters.request_failures.inc();
                    unreachable = true;
                    round.fail(OutputError::Retryable(e.to_string()), chunk);
                }
            }
        }
        round
    }

    /// Sends one request (once the adaptive concurrency gives it a slot) and judges its answer (the
    /// host too: set aside or up).
    async fn send_chunk(
        &self,
        sources: &[&Encoded],
        chunk: &[Ref],
    ) -> Result<(Answer, Verdict), client::TransportError> {
        let (body, gzip) =
            chunking::request_body_of(sources, chunk, self.compression, self.level);
        let permit = self.concurrency.acquire().await;
        self.counters.requests.inc();
        let answer = self
            .cluster
            .send(
                reqwest::Method::POST,
                &self.bulk_path,
                Some((body, "application/x-ndjson", gzip)),
                AnswerLimit::bulk(chunk.len()),
            )
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                permit.finish(Load::Unavailable);
                return Err(e);
            }
        };
        permit.finish(match answer.status {
            429 => Load::TooMany,
            502..=504 => Load::Unavailable,
            _ => Load::Fine,
        });
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
        chunk: Vec<Ref>,
        queue: &mut VecDeque<Vec<Ref>>,
        attempt: &mut Round,
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
            } => attempt.refused.extend(chunk.iter().map(|r| {
                (
                    r.slot,
                    Refusal {
                        item: r.item,
                        status,
                        kind: kind.into(),
                        reason: reason.into(),
                    },
                )
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
    fn settle_items(&self, chunk: &[Ref], outcomes: Vec<ItemOutcome>, attempt: &mut Round) {
        let c = &self.counters;
        for (&r, outcome) in chunk.iter().zip(outcomes) {
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
                    attempt.retry.push(r);
                }
                ItemOutcome::Rejected {
                    status,
                    kind,
                    reason,
                } => attempt.refused.push((
                    r.slot,
                    Refusal {
                        item: r.item,
                        status,
                        kind,
                        reason,
                    },
                )),
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

    fn take_settled(&mut self) -> Vec<(u64, SendOutcome)> {
        std::mem::take(&mut self.settled)
    }

    fn next_due(&self) -> Option<Instant> {
        self.held.iter().map(|h| h.due).min()
    }

    fn send_due(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(self.send_round())
    }

    fn has_room(&self) -> bool {
        self.shared.retry_set.has_room(&self.shared.name)
    }

    fn take_failure(&mut self) -> Option<OutputError> {
        self.failure.take()
    }
}

/// The bound of an output's retry set (all its workers together): documents waiting for their
/// backoff, and the bytes their encodings take.
struct RetrySet {
    max_documents: usize,
    max_bytes: usize,
    documents: AtomicUsize,
    bytes: AtomicUsize,
    full: AtomicBool,
    documents_gauge: Gauge,
}

impl RetrySet {
    /// A held batch now counts `now` instead of `before` (documents, bytes).
    fn recount(&self, before: (usize, usize), now: (usize, usize)) {
        if before == now {
            return;
        }
        self.documents.fetch_add(now.0, Ordering::Relaxed);
        self.documents.fetch_sub(before.0, Ordering::Relaxed);
        self.bytes.fetch_add(now.1, Ordering::Relaxed);
        self.bytes.fetch_sub(before.1, Ordering::Relaxed);
        self.documents_gauge
            .set(self.documents.load(Ordering::Relaxed) as i64);
    }

    /// Whether new batches may come in; says so once each time the set fills up.
    fn has_room(&self, name: &str) -> bool {
        let documents = self.documents.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        let room = documents < self.max_documents && bytes < self.max_bytes;
        if !room && !self.full.swap(true, Ordering::Relaxed) {
            tracing::warn!(output = %name, documents, bytes, max_documents = self.max_documents, max_bytes = self.max_bytes, "the retry set is full: no new batches are taken until the cluster stores some of the documents waiting in it (inputs wait, nothing is dropped)");
        } else if room && self.full.swap(false, Ordering::Relaxed) {
            tracing::info!(output = %name, documents, bytes, "the retry set has room again: new batches are taken");
        }
        room
    }
}
