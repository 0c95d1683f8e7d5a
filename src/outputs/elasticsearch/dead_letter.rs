//! The dead-letter file: events the cluster refused for good (mapping conflicts, parse errors, an index
//! name that cannot be made), one JSON line each with the reason, so nothing is dropped without a trace.
//! `<data_dir>/dead-letter/<output>.ndjson`, fsynced before the batch counts as settled.

use crate::event::Event;
use chrono::Utc;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One refused event.
pub struct DeadLetter<'a> {
    /// The index it was meant for.
    pub index: &'a str,
    /// Its document id.
    pub id: Option<&'a str>,
    /// The HTTP status of the item (0 when it never reached the server).
    pub status: u16,
    /// Error type (`document_parsing_exception`, `index_name_missing_field`, …).
    pub kind: &'a str,
    /// Why.
    pub reason: &'a str,
    /// The event as it would have been stored.
    pub event: &'a Event,
}

/// Appends dead letters to the output's file.
pub struct DeadLetterFile {
    path: PathBuf,
    file: Option<File>,
    output: String,
}

impl DeadLetterFile {
    /// The dead-letter file of output `output` under `data_dir` (created on first use).
    pub fn new(data_dir: &Path, output: &str) -> DeadLetterFile {
        DeadLetterFile {
            // One file per output name, however alike two names look, and never outside the folder.
            path: crate::component::file_for(&data_dir.join("dead-letter"), output, ".ndjson"),
            file: None,
            output: output.to_string(),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One line for `letter` (also used for the dead-letter index).
    pub fn record(&self, letter: &DeadLetter<'_>, event_as_text: bool) -> Vec<u8> {
        let mut source = Vec::with_capacity(256);
        letter.event.write_json(&mut source);
        let event = if event_as_text {
            serde_json::Value::String(String::from_utf8_lossy(&source).into_owned())
        } else {
            serde_json::from_slice(&source).unwrap_or(serde_json::Value::Null)
        };
        let line = serde_json::json!({
            "@timestamp": crate::event::format_timestamp(Utc::now()),
            "output": self.output,
            "index": letter.index,
            "id": letter.id,
            "status": letter.status,
            "error": {"type": letter.kind, "reason": letter.reason},
            "event": event,
        });
        serde_json::to_vec(&line).unwrap_or_default()
    }

    /// Appends and fsyncs the letters. An error means they are not safely recorded: the batch must be
    /// retried, not settled.
    pub fn write(&mut self, letters: &[DeadLetter<'_>]) -> std::io::Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for l in letters {
            buf.extend(self.record(l, false));
            buf.push(b'\n');
        }
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                crate::util::fs::create_private_dir_all(dir)?;
            }
            self.file = Some(
                crate::util::fs::private_options()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("the dead-letter file is not open"));
        };
        let result = file.write_all(&buf).and_then(|()| file.sync_data());
        if result.is_err() {
            // Reopen next time: the handle may be in a bad state (disk full, removed folder).
            self.file = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_keep_the_event_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = DeadLetterFile::new(dir.path(), "es");
        let e = Event::from_message("hello");
        f.write(&[DeadLetter {
            index: "logs-1",
            id: Some("abc"),
            status: 400,
            kind: "document_parsing_exception",
            reason: "failed to parse field [x]",
            event: &e,
        }])
        .unwrap();
        let text = std::fs::read_to_string(f.path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["error"]["type"], "document_parsing_exception");
        assert_eq!(v["event"]["message"], "hello");
        assert_eq!(v["status"], 400);
        assert_eq!(v["index"], "logs-1");
    }
}
