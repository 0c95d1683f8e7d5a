//! `type: winlog`: the live Windows Event Log, one pull subscription per channel (EvtSubscribe with a
//! signal event, EvtNext in batches), events mapped to Winlogbeat's ECS layout exactly as the `.evtx`
//! input maps file records. A channel's bookmark (its last record id) is saved only when the pipeline has
//! acknowledged the events before it, so a restart resumes strictly after what was delivered.
//!
//! Only `api` touches Windows; the loop here runs against the [`source::EventSource`] trait and is tested
//! on every platform with real events from `.evtx` files.

#[cfg(windows)]
pub mod api;
pub mod config;
pub mod query;
pub mod recovery;
pub mod source;
pub mod xml;

use super::InputContext;
use crate::event::{Event, Origin};
use crate::inputs::windows_event::{ecs, filter::WinEventFilter};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use crate::observe::metrics::Counter;
use crate::pipeline::checkpoint::{Checkpoints, Cursor, Legacy};
use config::{StartAt, WinlogInputConfig};
use recovery::{Action, ChannelBackoff};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use source::{EventSource, RawEvent, Start};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::KIND;

/// What is saved per channel.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChannelMark {
    /// The last acknowledged record id.
    pub record_id: u64,
    /// The bookmark XML for it (what Windows is given to resume).
    pub bookmark: String,
}

/// The saved bookmarks of one input.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Bookmarks {
    /// By channel name.
    pub channels: BTreeMap<String, ChannelMark>,
}

/// Events lost to a cleared or wrapped log (counted, logged).
pub const GAPS: &str = "winlog_gaps_total";

/// A channel's bookmark after an acknowledged batch.
pub struct WinlogCursor {
    channel: String,
    record_id: u64,
}

impl Cursor for WinlogCursor {
    type State = Bookmarks;

    fn apply(self, state: &mut Bookmarks) {
        // Released strictly in order, so this is the newest acknowledged record (after a cleared log the
        // ids start over lower, which is right to save too).
        let bookmark = source::bookmark_xml(&self.channel, self.record_id);
        let mark = state.channels.entry(self.channel).or_default();
        mark.record_id = self.record_id;
        mark.bookmark = bookmark;
    }
}

/// The bookmark file of earlier versions: `registry/<id>.winlog.json` (the id as written, so only ids
/// that name a file in that folder can have one).
pub fn legacy(dir: &Path, id: &str) -> Vec<Legacy<Bookmarks>> {
    if !crate::component::is_plain_file_name(id) || id.starts_with('.') {
        return Vec::new();
    }
    vec![Legacy {
        path: dir.join(format!("{id}.winlog.json")),
        read: |bytes| serde_json::from_slice(bytes).ok(),
    }]
}

/// A configured winlog input.
pub struct WinlogInput {
    cfg: WinlogInputConfig,
}

impl WinlogInput {
    /// An input as configured.
    pub fn new(cfg: WinlogInputConfig) -> WinlogInput {
        WinlogInput { cfg }
    }
}

impl super::Input for WinlogInput {
    fn run(self: Box<Self>, ctx: InputContext) -> anyhow::Result<()> {
        #[cfg(windows)]
        {
            let sources = self
                .cfg
                .channels
                .iter()
                .map(|c| (c.clone(), api::ChannelSubscription::new(c)))
                .collect();
            run_channels(sources, self.cfg, ctx);
            Ok(())
        }
        #[cfg(not(windows))]
        {
            let _ = ctx;
            anyhow::bail!(
                "the winlog input ({} channel(s)) works only on Windows; use `type: evtx` for exported files",
                self.cfg.channels.len()
            )
        }
    }
}

struct Channel<S> {
    name: String,
    source: S,
    subscribed: bool,
    stopped: bool,
    retry_at: Option<Instant>,
    backoff: ChannelBackoff,
    /// The last record id handed to the pipeline (resubscribing continues after it).
    last_sent: Option<u64>,
    /// After resuming from a bookmark: the bookmark's id, to notice a cleared log.
    resume_check: Option<u64>,
    warned: bool,
}

struct Counters {
    filtered: Counter,
    render_errors: Counter,
    gaps: Counter,
    resubscribes: Counter,
}

struct Runner<S> {
    cfg: WinlogInputConfig,
    ctx: InputContext,
    channels: Vec<Channel<S>>,
    filter: WinEventFilter,
    checkpoints: Checkpoints<WinlogCursor>,
    counters: Counters,
}

/// Runs the input over `sources` (one per channel) until `ctx.stop`, then waits for in-flight batches
/// (until `ctx.force`) and saves the bookmarks.
pub fn run_channels<S: EventSource>(
    sources: Vec<(String, S)>,
    cfg: WinlogInputConfig,
    ctx: InputContext,
) {
    let filter = match WinEventFilter::new(&cfg.event_ids, &cfg.levels, &cfg.providers) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(input = %ctx.id, "{e}");
            return;
        }
    };
    let checkpoints: Checkpoints<WinlogCursor> =
        Checkpoints::open(&ctx.checkpoints, &legacy(ctx.checkpoints.dir(), &ctx.id));
    let bookmarks = checkpoints.state();
    let m = ComponentMetrics::new(Kind::Input, &ctx.id, "winlog");
    let mut runner = Runner {
        channels: sources
            .into_iter()
            .map(|(name, source)| Channel {
                last_sent: bookmarks.channels.get(&name).map(|m| m.record_id),
                name,
                source,
                subscribed: false,
                stopped: false,
                retry_at: None,
                backoff: ChannelBackoff::default(),
                resume_check: None,
                warned: false,
            })
            .collect(),
        counters: Counters {
            filtered: m.discarded(true),
            render_errors: m.errors("render_failed", Stage::Receiving),
            gaps: m.counter(GAPS),
            resubscribes: m.counter("winlog_resubscribes_total"),
        },
        cfg,
        ctx,
        filter,
        checkpoints,
    };
    runner.run();
}

impl<S: EventSource> Runner<S> {
    fn run(&mut self) {
        let n = self.channels.len().max(1) as u32;
        let wait = Duration::from_millis(200) / n;
        while !self.ctx.stop.is_stopped() {
            let mut idle = true;
            for i in 0..self.channels.len() {
                if self.ctx.stop.is_stopped() {
                    break;
                }
                if !self.ready(i) {
                    continue;
                }
                idle &= !self.poll(i, wait);
            }
            self.checkpoints.poll();
            if idle && self.channels.iter().all(|c| !c.subscribed) {
                let _ = self.ctx.stop.wait_timeout(Duration::from_millis(200));
            }
        }
        self.checkpoints.finish(&self.ctx.force, &self.ctx.id);
    }

    /// Subscribes a channel when it is due; whether it can be read now.
    fn ready(&mut self, i: usize) -> bool {
        let ch = &self.channels[i];
        if ch.stopped {
            return false;
        }
        if ch.subscribed {
            return true;
        }
        if ch.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        let start = match ch.last_sent {
            Some(id) => Start::AfterBookmark(source::bookmark_xml(&ch.name, id)),
            None => match self.cfg.start_at {
                StartAt::Oldest => Start::Oldest,
                StartAt::Newest => Start::Newest,
            },
        };
        self.subscribe(i, start);
        self.channels[i].subscribed
    }

    fn subscribe(&mut self, i: usize, start: Start) {
        let ignore_older = self.cfg.ignore_older.map(|d| d.get().as_millis() as u64);
        let ch = &mut self.channels[i];
        let q = query::build(
            &ch.name,
            &self.filter,
            ignore_older,
            self.cfg.xpath.as_deref(),
        );
        match ch.source.subscribe(&q, &start) {
            Ok(()) => {
                ch.subscribed = true;
                ch.retry_at = None;
                ch.resume_check = match &start {
                    Start::AfterBookmark(b) => source::bookmark_record_id(b),
                    _ => None,
                };
                if ch.warned {
                    tracing::info!(input = %self.ctx.id, channel = %ch.name, "subscribed again");
                    ch.warned = false;
                }
            }
            Err(e) => {
                ch.subscribed = false;
                match recovery::decide(e.code, true) {
                    Action::ResubscribeFromOldest => {
                        self.counters.gaps.inc();
                        tracing::warn!(input = %self.ctx.id, channel = %ch.name, last = ?ch.last_sent, "the saved bookmark is no longer in the log (cleared or wrapped): reading from the oldest record; events in between are lost ({e})");
                        ch.last_sent = None;
                        self.subscribe(i, Start::Oldest);
                    }
                    Action::Stop(msg) => {
                        ch.stopped = true;
                        tracing::error!(input = %self.ctx.id, channel = %ch.name, "the channel is not read: {msg} ({e})");
                    }
                    Action::RetryLater(msg) => {
                        let wait = ch.backoff.failed();
                        ch.retry_at = Some(Instant::now() + wait);
                        if !ch.warned {
                            tracing::warn!(input = %self.ctx.id, channel = %ch.name, retry_in = ?wait, "cannot subscribe: {msg} ({e})");
                            ch.warned = true;
                        }
                    }
                    Action::Resubscribe => {
                        let wait = ch.backoff.failed();
                        ch.retry_at = Some(Instant::now() + wait);
                        tracing::warn!(input = %self.ctx.id, channel = %ch.name, retry_in = ?wait, "cannot subscribe, retrying: {e}");
                        ch.warned = true;
                    }
                }
            }
        }
    }

    /// Reads one batch from channel `i`; whether anything came.
    fn poll(&mut self, i: usize, wait: Duration) -> bool {
        let max = self.cfg.batch_size;
        let result = self.channels[i].source.next_batch(max, wait);
        match result {
            Ok(raw) if raw.is_empty() => false,
            Ok(raw) => {
                let ch = &mut self.channels[i];
                ch.backoff.succeeded();
                if let (Some(bookmark), Some(first)) = (ch.resume_check.take(), raw.first())
                    && recovery::gap_after_resume(bookmark, first.record_id)
                {
                    self.counters.gaps.inc();
                    tracing::warn!(input = %self.ctx.id, channel = %ch.name, bookmark, first = first.record_id, "record ids started over: the log was cleared since the bookmark; events in between are lost");
                }
                self.send(i, raw);
                true
            }
            Err(e) => {
                let ch = &mut self.channels[i];
                ch.subscribed = false;
                self.counters.resubscribes.inc();
                match recovery::decide(e.code, false) {
                    Action::Stop(msg) => {
                        ch.stopped = true;
                        tracing::error!(input = %self.ctx.id, channel = %ch.name, "the channel is not read: {msg} ({e})");
                    }
                    Action::RetryLater(msg) => {
                        let wait = ch.backoff.failed();
                        ch.retry_at = Some(Instant::now() + wait);
                        tracing::warn!(input = %self.ctx.id, channel = %ch.name, retry_in = ?wait, "reading failed: {msg} ({e})");
                    }
                    Action::Resubscribe | Action::ResubscribeFromOldest => {
                        let wait = ch.backoff.failed();
                        ch.retry_at = Some(Instant::now() + wait);
                        tracing::warn!(input = %self.ctx.id, channel = %ch.name, retry_in = ?wait, after = ?ch.last_sent, "reading failed; subscribing again after the last record read: {e}");
                    }
                }
                false
            }
        }
    }

    /// Maps a batch to events and hands it to the pipeline; the channel's bookmark moves when it is
    /// acknowledged.
    fn send(&mut self, i: usize, raw: Vec<RawEvent>) {
        let Some(last) = raw.last().map(|r| r.record_id) else {
            return;
        };
        let channel = self.channels[i].name.clone();
        let source: Arc<str> = format!("{}/{}", self.ctx.id, channel).into();
        let mut events = Vec::with_capacity(raw.len());
        for r in raw {
            match self.to_event(&r, &source) {
                Some(e) if self.filter.allows(&e) => events.push(e),
                Some(_) => self.counters.filtered.inc(),
                None => {}
            }
        }
        self.channels[i].last_sent = Some(last);
        let cursor = WinlogCursor {
            channel,
            record_id: last,
        };
        if self
            .checkpoints
            .publish(&self.ctx.sender, events, cursor)
            .is_err()
        {
            return;
        }
        self.checkpoints.poll();
    }

    fn to_event(&self, r: &RawEvent, source: &Arc<str>) -> Option<Event> {
        let json = match xml::event_to_json(&r.xml) {
            Ok(j) => j,
            Err(e) => {
                self.counters.render_errors.inc();
                tracing::warn!(input = %self.ctx.id, record = r.record_id, "an event cannot be read and is skipped: {e}");
                return None;
            }
        };
        let mut e = ecs::to_event(&json, r.record_id, &self.ctx.host_name);
        if let Some(m) = &r.message {
            e.fields_mut()
                .insert("message".into(), Value::String(m.trim_end().to_string()));
        }
        if self.cfg.include_xml {
            e.set_path("event.original", r.xml.clone());
        }
        let doc_id = format!(
            "{}/{}/{}",
            e.get_path("winlog.channel")
                .and_then(Value::as_str)
                .unwrap_or(""),
            r.record_id,
            e.get_path("winlog.computer_name")
                .and_then(Value::as_str)
                .unwrap_or("")
        );
        e.metadata.insert("_id".into(), Value::String(doc_id));
        e.origin = Some(Origin {
            source: Arc::clone(source),
            position: r.record_id,
        });
        self.ctx.decoration.apply(&mut e);
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::{Decoration, InputOptions};
    use crate::pipeline::ack::AckStatus;
    use crate::pipeline::checkpoint::CheckpointStore;
    use crate::pipeline::queue::memory_queue;
    use crate::pipeline::sender::EventSender;
    use crate::pipeline::shutdown::StopSignal;
    use crate::processors::Chain;
    use source::ApiError;
    use std::sync::Mutex;

    /// Replays the records of a real `.evtx` file the way a live channel hands them out (rendered XML,
    /// record ids, strict bookmarks), and fails on request the way the Event Log API does.
    #[derive(Clone)]
    struct ReplayChannel {
        records: Arc<Mutex<Vec<(u64, String)>>>,
        failures: Arc<Mutex<Vec<u32>>>,
        subscriptions: Arc<Mutex<Vec<Start>>>,
        pos: usize,
    }

    impl ReplayChannel {
        fn from_file(file: &str) -> ReplayChannel {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/data/evtx")
                .join(file);
            let mut p = evtx::EvtxParser::from_path(path).unwrap();
            let records = p
                .records()
                .filter_map(Result::ok)
                .map(|r| (r.event_record_id, r.data))
                .collect();
            ReplayChannel {
                records: Arc::new(Mutex::new(records)),
                failures: Arc::default(),
                subscriptions: Arc::default(),
                pos: 0,
            }
        }
    }

    impl EventSource for ReplayChannel {
        fn subscribe(&mut self, _query: &str, start: &Start) -> Result<(), ApiError> {
            self.subscriptions.lock().unwrap().push(start.clone());
            let records = self.records.lock().unwrap();
            self.pos = match start {
                Start::Oldest => 0,
                Start::Newest => records.len(),
                Start::AfterBookmark(b) => {
                    let id = source::bookmark_record_id(b).unwrap();
                    match records.iter().position(|r| r.0 == id) {
                        Some(i) => i + 1,
                        None => {
                            return Err(ApiError {
                                code: recovery::code::NOT_FOUND,
                                message: "bookmark not found".into(),
                            });
                        }
                    }
                }
            };
            Ok(())
        }

        fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<RawEvent>, ApiError> {
            if let Some(code) = self.failures.lock().unwrap().pop() {
                return Err(ApiError {
                    code,
                    message: "injected".into(),
                });
            }
            let records = self.records.lock().unwrap();
            let end = (self.pos + max).min(records.len());
            let out: Vec<RawEvent> = records[self.pos..end]
                .iter()
                .map(|(id, xml)| RawEvent {
                    xml: xml.clone(),
                    record_id: *id,
                    message: Some(format!("message of record {id}\r\n")),
                })
                .collect();
            self.pos = end;
            drop(records);
            if out.is_empty() {
                std::thread::sleep(wait);
            }
            Ok(out)
        }
    }

    /// The input's settings and the shared options, from one JSON object.
    fn cfg(extra: serde_json::Value) -> (WinlogInputConfig, InputOptions) {
        let mut v = serde_json::json!({"channels": ["Security"], "batch_size": 50});
        if let (Some(m), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        let mut shared = serde_json::Map::new();
        for k in InputOptions::KEYS {
            if let Some(x) = v.as_object_mut().unwrap().remove(*k) {
                shared.insert(k.to_string(), x);
            }
        }
        (
            serde_json::from_value(v).unwrap(),
            serde_json::from_value(Value::Object(shared)).unwrap(),
        )
    }

    /// Runs the input over `channel` until `want` events arrived (and a little longer to catch extras);
    /// returns the events in arrival order.
    fn run(
        channel: ReplayChannel,
        (cfg, options): (WinlogInputConfig, InputOptions),
        data_dir: &Path,
        want: usize,
    ) -> Vec<Event> {
        let (writer, mut readers) = memory_queue(1, 4);
        let sender = EventSender::new(
            &crate::observe::component::ComponentMetrics::new(
                crate::observe::component::Kind::Input,
                "win",
                "test",
            ),
            Arc::new(Chain::default()),
            Arc::new(Chain::default()),
            writer,
        );
        let stop = StopSignal::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ctx = InputContext {
            id: "win".into(),
            sender,
            checkpoints: CheckpointStore::new(data_dir, "win", "winlog"),
            decoration: Decoration::new("winlog", &options),
            stop: stop.clone(),
            force: StopSignal::new(),
            host_name: "collector".into(),
            runtime: rt.handle().clone(),
        };
        let name = cfg.channels[0].clone();
        let input = std::thread::spawn(move || run_channels(vec![(name, channel)], cfg, ctx));
        let mut reader = readers.remove(0);
        let mut got = Vec::new();
        rt.block_on(async {
            let mut quiet_until = None;
            loop {
                match tokio::time::timeout(Duration::from_millis(300), reader.next()).await {
                    Ok(Some(d)) => {
                        got.extend(d.events.iter().cloned());
                        d.ack.complete(AckStatus::Delivered);
                    }
                    Ok(None) => break,
                    Err(_) => {}
                }
                if got.len() >= want && quiet_until.is_none() {
                    quiet_until = Some(Instant::now() + Duration::from_millis(500));
                }
                if quiet_until.is_some_and(|t| Instant::now() > t) {
                    stop.stop();
                }
                if input.is_finished() {
                    while let Ok(Some(d)) =
                        tokio::time::timeout(Duration::from_millis(50), reader.next()).await
                    {
                        got.extend(d.events.iter().cloned());
                        d.ack.complete(AckStatus::Delivered);
                    }
                    break;
                }
            }
        });
        input.join().unwrap();
        got
    }

    fn saved_bookmarks(data_dir: &Path) -> Bookmarks {
        CheckpointStore::new(data_dir, "win", "winlog").load(&[])
    }

    fn ids(events: &[Event]) -> Vec<u64> {
        events
            .iter()
            .map(|e| {
                e.get_path("winlog.record_id")
                    .and_then(Value::as_str)
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn a_channel_is_read_once_and_resumes_after_its_bookmark() {
        let dir = tempfile::tempdir().unwrap();
        let channel = ReplayChannel::from_file("security.evtx");
        let all: Vec<u64> = channel
            .records
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.0)
            .collect();
        let got = run(
            channel.clone(),
            cfg(serde_json::json!({})),
            dir.path(),
            all.len(),
        );
        assert_eq!(ids(&got), all);
        let e = got
            .iter()
            .find(|e| e.get_path("winlog.record_id") == Some(&serde_json::json!("128")))
            .unwrap();
        assert_eq!(
            e.get_path("winlog.event_data.TargetUserName"),
            Some(&serde_json::json!("fsir"))
        );
        assert_eq!(
            e.get_path("message"),
            Some(&serde_json::json!("message of record 128"))
        );
        assert_eq!(e.get_path("input.type"), Some(&serde_json::json!("winlog")));
        assert_eq!(
            e.metadata.get("_id"),
            Some(&serde_json::json!("Security/128/WIN-03DLIIOFRRA"))
        );
        let saved = saved_bookmarks(dir.path());
        assert_eq!(saved.channels["Security"].record_id, *all.last().unwrap());

        // Restart: nothing again; then new records arrive and only those come.
        let again = run(channel.clone(), cfg(serde_json::json!({})), dir.path(), 0);
        assert!(again.is_empty(), "{} events read twice", again.len());
        let last = *all.last().unwrap();
        {
            let mut r = channel.records.lock().unwrap();
            let xml = r[0].1.replace(
                "<EventRecordID>1</EventRecordID>",
                &format!("<EventRecordID>{}</EventRecordID>", last + 1),
            );
            r.push((last + 1, xml));
        }
        let more = run(channel.clone(), cfg(serde_json::json!({})), dir.path(), 1);
        assert_eq!(ids(&more), vec![last + 1]);
        assert!(matches!(
            channel.subscriptions.lock().unwrap().last(),
            Some(Start::AfterBookmark(_))
        ));
    }

    #[test]
    fn stale_results_resubscribe_without_loss_or_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let channel = ReplayChannel::from_file("system.evtx");
        let all: Vec<u64> = channel
            .records
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.0)
            .collect();
        // Failures are popped from the end: a stale result, an RPC failure, a bad parameter.
        *channel.failures.lock().unwrap() = vec![
            recovery::code::INVALID_PARAMETER,
            recovery::code::RPC_CALL_FAILED,
            recovery::code::EVT_QUERY_RESULT_STALE,
        ];
        // Let the first failure happen after some events: start with a subscription that has read some.
        let got = run(
            channel.clone(),
            cfg(serde_json::json!({"channels": ["System"]})),
            dir.path(),
            all.len(),
        );
        assert_eq!(ids(&got), all, "every record once, in order");
        let subs = channel.subscriptions.lock().unwrap();
        assert!(subs.len() >= 4, "{subs:?}");
    }

    #[test]
    fn a_cleared_log_is_read_from_the_oldest_record_and_the_gap_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let channel = ReplayChannel::from_file("security.evtx");
        let all = channel.records.lock().unwrap().len();
        run(channel.clone(), cfg(serde_json::json!({})), dir.path(), all);
        // The log is cleared; new events get ids from 1 again.
        {
            let mut r = channel.records.lock().unwrap();
            r.truncate(30);
        }
        let gaps = ComponentMetrics::new(Kind::Input, "win", "winlog").counter(GAPS);
        let before = gaps.get();
        let got = run(channel.clone(), cfg(serde_json::json!({})), dir.path(), 30);
        assert_eq!(ids(&got), (1..=30).collect::<Vec<u64>>());
        assert_eq!(
            gaps.get(),
            before + 1
        );
        assert_eq!(
            saved_bookmarks(dir.path()).channels["Security"].record_id,
            30
        );
    }

    #[test]
    fn filters_keep_only_wanted_events_and_the_bookmark_still_moves() {
        let dir = tempfile::tempdir().unwrap();
        let channel = ReplayChannel::from_file("security.evtx");
        let records = channel.records.lock().unwrap().clone();
        let logons = records
            .iter()
            .filter(|r| r.1.contains("<EventID>4624</EventID>"))
            .count();
        let got = run(
            channel,
            cfg(serde_json::json!({"event_ids": ["4624"], "include_xml": true, "tags": ["dc"]})),
            dir.path(),
            logons,
        );
        assert_eq!(got.len(), logons);
        assert!(
            got.iter()
                .all(|e| e.get_path("event.code") == Some(&serde_json::json!("4624")))
        );
        assert!(
            got[0]
                .get_path("event.original")
                .and_then(Value::as_str)
                .unwrap()
                .contains("<EventID>4624</EventID>")
        );
        assert!(got[0].has_tag("dc"));
        let saved = saved_bookmarks(dir.path());
        assert_eq!(
            saved.channels["Security"].record_id,
            records.last().unwrap().0
        );
    }
}
