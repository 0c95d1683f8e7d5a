//! `type: stdin`: reads lines from standard input until it ends, then waits for every event to be
//! delivered and stops (when it is the only input, logward then exits: `cat app.log | logward run -c …`).
//! Lines are split, capped and checked for UTF-8 exactly as the file input does.
//!
//! Standard input cannot be read again after a restart, so nothing is saved; each event's origin is the
//! byte offset in the stream, so piping the same text twice gives the same Elasticsearch ids.

use crate::component::{InputBuild, InputConfig, InputKind, Validator};
use crate::config::ByteSize;
use crate::event::{Event, Fields, MESSAGE, Origin, TIMESTAMP, format_timestamp};
use crate::inputs::file::lines::{Line, LineReader};
use crate::inputs::{Input, InputContext};
use crate::observe::component::{ComponentMetrics, Kind, Stage};
use crate::observe::metrics::Counter;
use crate::pipeline::checkpoint::{Checkpoints, Cursor};
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::Read;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

/// The `stdin` input type.
pub const KIND: InputKind =
    InputKind::of::<StdinInputConfig>("stdin", "reads lines from standard input until it ends");

/// `type: stdin`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinInputConfig {
    /// Longer lines are cut (on a character boundary) and tagged `truncated`.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: ByteSize,
}

fn default_max_line_bytes() -> ByteSize {
    ByteSize(1024 * 1024)
}

impl InputConfig for StdinInputConfig {
    fn default_id(&self) -> String {
        "stdin".into()
    }

    fn validate(&mut self, v: &mut Validator<'_>) {
        if self.max_line_bytes.get() == 0 {
            v.error("max_line_bytes", "`max_line_bytes` must be more than 0");
        }
    }

    fn build(&self, ctx: &InputBuild<'_>) -> anyhow::Result<Box<dyn Input>> {
        Ok(Box::new(StdinInput {
            max_line: self.max_line_bytes.as_usize(),
            batch: ctx.batch_events.max(1),
        }))
    }
}

struct StdinInput {
    max_line: usize,
    batch: usize,
}

/// Nothing is saved for standard input; the cursor only orders acknowledgements.
struct Delivered;

impl Cursor for Delivered {
    type State = ();
    fn apply(self, _: &mut ()) {}
}

impl Input for StdinInput {
    fn run(self: Box<Self>, ctx: InputContext) -> anyhow::Result<()> {
        let mut reader = LineReader::stream(Box::new(spawn_stdin_reader()), self.max_line);
        let mut acks = Checkpoints::<Delivered>::in_memory();
        let source: Arc<str> = format!("{}/stdin", ctx.id).into();
        let counters = Counters::new(&ctx.id);
        let host = json!({ "name": ctx.host_name });
        while !ctx.stop.is_stopped() {
            let timestamp = format_timestamp(chrono::Utc::now());
            let mut events = Vec::new();
            let mut make = |line: Line<'_>| {
                events.push(to_event(&line, &timestamp, &source, &host, &ctx, &counters));
            };
            let polled = reader
                .poll(self.batch, &mut make)
                .map_err(|e| anyhow::anyhow!("reading standard input failed: {e}"))?;
            if polled.eof {
                reader.finish(&mut make);
            }
            if (!events.is_empty() || polled.eof)
                && acks.publish(&ctx.sender, events, Delivered).is_err()
            {
                break;
            }
            acks.poll();
            if polled.eof {
                tracing::info!(input = %ctx.id, bytes = reader.offset(), "standard input ended; waiting for the last events to be delivered");
                break;
            }
        }
        acks.finish(&ctx.force, &ctx.id);
        Ok(())
    }
}

struct Counters {
    invalid_utf8: Counter,
    truncated: Counter,
}

impl Counters {
    fn new(id: &str) -> Counters {
        let m = ComponentMetrics::new(Kind::Input, id, "stdin");
        Counters {
            invalid_utf8: m.errors("invalid_utf8", Stage::Receiving),
            truncated: m.errors("line_truncated", Stage::Receiving),
        }
    }
}

fn to_event(
    line: &Line<'_>,
    timestamp: &str,
    source: &Arc<str>,
    host: &Value,
    ctx: &InputContext,
    counters: &Counters,
) -> Event {
    let (text, invalid) = match std::str::from_utf8(line.bytes) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), false),
        Err(_) => (String::from_utf8_lossy(line.bytes), true),
    };
    let mut fields = Fields::new();
    fields.insert(TIMESTAMP.into(), Value::String(timestamp.to_string()));
    fields.insert(MESSAGE.into(), Value::String(text.into_owned()));
    let mut log = json!({ "offset": line.start });
    if line.truncated {
        log["flags"] = json!(["truncated"]);
    }
    fields.insert("log".into(), log);
    fields.insert("host".into(), host.clone());
    let mut event = Event::with_fields(fields);
    ctx.decoration.apply(&mut event);
    if invalid {
        counters.invalid_utf8.inc();
        event.add_tag("invalid_utf8");
    }
    if line.truncated {
        counters.truncated.inc();
        event.add_tag("truncated");
    }
    event.origin = Some(Origin {
        source: Arc::clone(source),
        position: line.start,
    });
    event
}

/// Reads standard input on a thread of its own (a read of a pipe cannot be interrupted), handing chunks
/// over a small bounded channel: the reader waits while the pipeline is slow, and the input thread can
/// notice a stop request while no data comes.
fn spawn_stdin_reader() -> ChunkReader {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    let spawned = std::thread::Builder::new()
        .name("stdin-reader".into())
        .spawn(move || read_stdin(tx));
    if let Err(e) = spawned {
        tracing::error!("cannot start the thread that reads standard input: {e}");
    }
    ChunkReader {
        rx,
        chunk: Vec::new(),
        pos: 0,
    }
}

fn read_stdin(tx: SyncSender<Vec<u8>>) {
    let mut stdin = std::io::stdin().lock();
    loop {
        let mut buf = vec![0u8; 64 * 1024];
        match stdin.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.send(buf).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::error!("reading standard input failed: {e}; treating it as its end");
                return;
            }
        }
    }
}

/// The input thread's side of the stdin reader: `WouldBlock` while no data has come for a moment, end of
/// data once the reader is done.
struct ChunkReader {
    rx: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.chunk.len() {
            match self.rx.recv_timeout(Duration::from_millis(200)) {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(std::io::ErrorKind::WouldBlock.into());
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
