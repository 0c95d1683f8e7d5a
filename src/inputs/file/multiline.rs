//! Joining continuation lines into one event (stack traces), with Filebeat's `pattern` / `negate` /
//! `match: after|before` rules and `flush_pattern`, a line cap and a flush timeout; `match: key` joins
//! consecutive lines that share a key (the serial of auditd records).

use super::config::{MultilineConfig, MultilineMatch};
use regex::bytes::Regex;
use std::time::{Duration, Instant};

/// A joined event ready to be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// Lines joined with `\n`.
    pub bytes: Vec<u8>,
    /// Offset of the first line.
    pub start: u64,
    /// Offset past the last line.
    pub end: u64,
    /// Some line was cut, or lines past `max_lines` were left out.
    pub truncated: bool,
    /// How many lines were joined.
    pub lines: usize,
}

/// The joining state of one file.
pub struct Multiline {
    pattern: Regex,
    negate: bool,
    mode: MultilineMatch,
    max_lines: usize,
    timeout: Duration,
    flush_pattern: Option<Regex>,
    pending: Option<(Joined, Instant)>,
    /// With `match: key`, the key of the pending event.
    pending_key: Vec<u8>,
}

impl Multiline {
    /// Builds from configuration; the error names the bad pattern.
    pub fn new(cfg: &MultilineConfig) -> Result<Multiline, regex::Error> {
        Ok(Multiline {
            pattern: Regex::new(&cfg.pattern)?,
            negate: cfg.negate,
            mode: cfg.match_,
            max_lines: cfg.max_lines.max(1),
            timeout: cfg.timeout.get(),
            flush_pattern: cfg.flush_pattern.as_deref().map(Regex::new).transpose()?,
            pending: None,
            pending_key: Vec::new(),
        })
    }

    fn continues(&self, line: &[u8]) -> bool {
        self.pattern.is_match(line) != self.negate
    }

    fn append(&mut self, line: &[u8], end: u64, truncated: bool, now: Instant) {
        if let Some((j, at)) = &mut self.pending {
            if j.lines < self.max_lines {
                j.bytes.push(b'\n');
                j.bytes.extend_from_slice(line);
                j.lines += 1;
            } else {
                j.truncated = true;
            }
            j.truncated |= truncated;
            j.end = end;
            *at = now;
        }
    }

    fn start(&mut self, line: &[u8], start: u64, end: u64, truncated: bool, now: Instant) {
        self.pending = Some((
            Joined {
                bytes: line.to_vec(),
                start,
                end,
                truncated,
                lines: 1,
            },
            now,
        ));
    }

    /// Feeds one line; complete events are passed to `emit`.
    pub fn push(
        &mut self,
        line: &[u8],
        start: u64,
        end: u64,
        truncated: bool,
        now: Instant,
        emit: &mut impl FnMut(Joined),
    ) {
        if self.mode == MultilineMatch::Key {
            self.push_keyed(line, start, end, truncated, now, emit);
        } else {
            self.push_pattern(line, start, end, truncated, now, emit);
        }
        if self.flush_pattern.as_ref().is_some_and(|p| p.is_match(line)) {
            self.flush(emit);
        }
    }

    /// `match: key`: joins the line onto the pending event when their keys are the same.
    fn push_keyed(
        &mut self,
        line: &[u8],
        start: u64,
        end: u64,
        truncated: bool,
        now: Instant,
        emit: &mut impl FnMut(Joined),
    ) {
        let key = self
            .pattern
            .captures(line)
            .and_then(|c| c.get(1))
            .map(|m| m.as_bytes());
        match key {
            Some(k) if self.pending.is_some() && self.pending_key == k => {
                self.append(line, end, truncated, now)
            }
            Some(k) => {
                self.flush(emit);
                self.pending_key.clear();
                self.pending_key.extend_from_slice(k);
                self.start(line, start, end, truncated, now);
            }
            None => {
                self.flush(emit);
                self.start(line, start, end, truncated, now);
                self.flush(emit);
            }
        }
    }

    /// `match: after|before`.
    fn push_pattern(
        &mut self,
        line: &[u8],
        start: u64,
        end: u64,
        truncated: bool,
        now: Instant,
        emit: &mut impl FnMut(Joined),
    ) {
        let continues = self.continues(line);
        match self.mode {
            MultilineMatch::After => {
                if continues && self.pending.is_some() {
                    self.append(line, end, truncated, now);
                } else {
                    self.flush(emit);
                    self.start(line, start, end, truncated, now);
                }
            }
            MultilineMatch::Before => {
                if self.pending.is_some() {
                    self.append(line, end, truncated, now);
                } else {
                    self.start(line, start, end, truncated, now);
                }
                if !continues {
                    self.flush(emit);
                }
            }
            MultilineMatch::Key => {}
        }
    }

    /// Emits the pending event if it has waited longer than the timeout.
    pub fn flush_if_due(&mut self, now: Instant, emit: &mut impl FnMut(Joined)) {
        if self
            .pending
            .as_ref()
            .is_some_and(|(_, at)| now.duration_since(*at) >= self.timeout)
        {
            self.flush(emit);
        }
    }

    /// Emits the pending event now.
    pub fn flush(&mut self, emit: &mut impl FnMut(Joined)) {
        if let Some((j, _)) = self.pending.take() {
            emit(j);
        }
    }

    /// Whether lines are waiting to be joined.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HumanDuration;

    fn run(pattern: &str, negate: bool, mode: MultilineMatch, lines: &[&str]) -> Vec<String> {
        let cfg = MultilineConfig {
            pattern: pattern.into(),
            negate,
            match_: mode,
            max_lines: 3,
            timeout: HumanDuration::secs(5),
            flush_pattern: None,
        };
        let mut m = Multiline::new(&cfg).unwrap();
        let mut out = Vec::new();
        let now = Instant::now();
        let mut emit = |j: Joined| out.push(String::from_utf8(j.bytes).unwrap());
        let mut off = 0;
        for l in lines {
            m.push(
                l.as_bytes(),
                off,
                off + l.len() as u64 + 1,
                false,
                now,
                &mut emit,
            );
            off += l.len() as u64 + 1;
        }
        m.flush(&mut emit);
        out
    }

    #[test]
    fn java_stack_traces_join_onto_the_line_before() {
        let got = run(
            r"^\d{4}-",
            true,
            MultilineMatch::After,
            &[
                "2024-01-01 ERROR boom",
                "java.lang.IllegalStateException: x",
                "\tat a.b(C.java:1)",
                "2024-01-01 INFO ok",
            ],
        );
        assert_eq!(
            got,
            vec![
                "2024-01-01 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.b(C.java:1)",
                "2024-01-01 INFO ok"
            ]
        );
    }

    #[test]
    fn backslash_continuations_join_onto_the_line_after() {
        let got = run(
            r"\\$",
            false,
            MultilineMatch::Before,
            &["a \\", "b \\", "c", "d"],
        );
        assert_eq!(got, vec!["a \\\nb \\\nc", "d"]);
    }

    #[test]
    fn audit_records_join_by_serial_and_end_at_eoe() {
        let cfg = MultilineConfig {
            pattern: r"msg=audit\(([^)]*)\)".into(),
            negate: false,
            match_: MultilineMatch::Key,
            max_lines: 3,
            timeout: HumanDuration::secs(5),
            flush_pattern: Some("^type=EOE ".into()),
        };
        let mut m = Multiline::new(&cfg).unwrap();
        let mut out = Vec::new();
        let now = Instant::now();
        let lines = [
            "type=SYSCALL msg=audit(1.0:7): a=1",
            "type=CWD msg=audit(1.0:7): cwd=\"/\"",
            "type=EOE msg=audit(1.0:7): ",
            "type=USER_AUTH msg=audit(2.0:8): res=success",
            "not an audit record",
            "type=SYSCALL msg=audit(3.0:9): a=1",
            "type=PATH msg=audit(3.0:9): item=0",
            "type=PATH msg=audit(3.0:9): item=1",
            "type=PATH msg=audit(3.0:9): item=2",
            "type=USER_CMD msg=audit(4.0:10): res=success",
        ];
        let mut off = 0;
        for l in lines {
            let end = off + l.len() as u64 + 1;
            m.push(l.as_bytes(), off, end, false, now, &mut |j| {
                out.push(j)
            });
            off = end;
        }
        // EOE ended the first event at once; a new serial ended the second; the last waits for its timeout.
        assert_eq!(out.len(), 4);
        assert!(m.has_pending());
        m.flush_if_due(now + Duration::from_secs(6), &mut |j| out.push(j));
        let texts: Vec<String> = out
            .iter()
            .map(|j| String::from_utf8_lossy(&j.bytes).into_owned())
            .collect();
        assert_eq!(texts[0], lines[..3].join("\n"));
        assert_eq!(texts[1], lines[3]);
        assert_eq!(texts[2], lines[4]);
        // Bounded: the fourth record of serial 9 is left out and the event marked.
        assert_eq!(texts[3], lines[5..8].join("\n"));
        assert!(out[3].truncated && out[3].end == out[4].start);
        assert_eq!(texts[4], lines[9]);
        assert_eq!(out[4].end, off);
    }

    #[test]
    fn lines_past_the_cap_are_left_out_and_flagged() {
        let cfg = MultilineConfig {
            pattern: "^ ".into(),
            negate: false,
            match_: MultilineMatch::After,
            max_lines: 2,
            timeout: HumanDuration::secs(1),
            flush_pattern: None,
        };
        let mut m = Multiline::new(&cfg).unwrap();
        let mut out = Vec::new();
        let now = Instant::now();
        for (i, l) in ["head", " 1", " 2", " 3"].iter().enumerate() {
            m.push(
                l.as_bytes(),
                i as u64 * 10,
                i as u64 * 10 + 5,
                false,
                now,
                &mut |j| out.push(j),
            );
        }
        m.flush_if_due(now + Duration::from_secs(2), &mut |j| out.push(j));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bytes, b"head\n 1");
        assert!(out[0].truncated);
        assert_eq!(out[0].end, 35);
    }
}
