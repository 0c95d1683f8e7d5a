//! Syslog over a stream (RFC 6587): octet counting (`LEN SP MSG`, what RFC 5425 prescribes for TLS) or
//! non-transparent framing (each message ends with a newline, what most senders use over plain TCP). The
//! first byte of a connection tells which: a digit starts an octet count, anything else a line.
//!
//! Every frame is at most `max` bytes: a longer one is cut there and marked truncated, the rest of it
//! skipped without being held. A count that is not a number is reported and the connection goes on with
//! newline framing from there (the only way to find the next message again).

/// One frame: its bytes (at most the maximum), whether it was cut, and what was wrong with its framing.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The message bytes, without count or newline.
    pub bytes: &'a [u8],
    /// The frame was longer than the maximum and was cut.
    pub truncated: bool,
    /// A framing problem: the frame is kept raw and counted as invalid.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unknown,
    OctetCounted,
    Lines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames.
    Start,
    /// Reading the digits of an octet count (`count` so far, `digits` seen).
    Count { count: u64, digits: u8 },
    /// Reading the `left` bytes of an octet-counted frame of `len` bytes.
    Octets { left: u64, len: u64 },
    /// Reading a line up to its newline.
    Line,
}

/// The longest octet count accepted (digits): a billion bytes and more is no syslog message.
const MAX_COUNT_DIGITS: u8 = 9;

/// Splits one connection's bytes into frames.
#[derive(Debug)]
pub struct Framer {
    max: usize,
    mode: Mode,
    state: State,
    /// The current frame's bytes so far (at most `max`).
    pending: Vec<u8>,
    truncated: bool,
    problem: Option<String>,
}

impl Framer {
    /// A framer for one connection, keeping at most `max` bytes of a frame.
    pub fn new(max: usize) -> Framer {
        Framer {
            max: max.max(1),
            mode: Mode::Unknown,
            state: State::Start,
            pending: Vec::new(),
            truncated: false,
            problem: None,
        }
    }

    /// Whether the connection uses octet counting (known after its first byte).
    pub fn octet_counted(&self) -> bool {
        self.mode == Mode::OctetCounted
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = self.max - self.pending.len();
        if bytes.len() > room {
            self.truncated = true;
        }
        self.pending.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn emit(&mut self, out: &mut impl FnMut(Frame<'_>)) {
        let mut bytes = &self.pending[..];
        if self.state == State::Line {
            while let [rest @ .., b'\r'] = bytes {
                bytes = rest;
            }
        }
        let problem = self.problem.take();
        if !bytes.is_empty() || problem.is_some() {
            out(Frame {
                bytes,
                truncated: std::mem::take(&mut self.truncated),
                problem,
            });
        }
        self.truncated = false;
        self.pending.clear();
        self.state = State::Start;
    }

    /// Feeds bytes read from the connection; calls `out` for every frame they complete.
    pub fn feed(&mut self, mut data: &[u8], out: &mut impl FnMut(Frame<'_>)) {
        while let Some(&b) = data.first() {
            match self.state {
                State::Start => {
                    if self.mode == Mode::Unknown {
                        self.mode = if b.is_ascii_digit() {
                            Mode::OctetCounted
                        } else {
                            Mode::Lines
                        };
                    }
                    if matches!(b, b'\n' | b'\r' | b'\0') {
                        // Stray separators between frames (a newline after an octet-counted frame).
                        data = &data[1..];
                    } else if self.mode == Mode::OctetCounted && b.is_ascii_digit() {
                        self.state = State::Count {
                            count: 0,
                            digits: 0,
                        };
                    } else {
                        if self.mode == Mode::OctetCounted {
                            self.lose_count(&[]);
                        }
                        self.state = State::Line;
                    }
                }
                State::Count { count, digits } => {
                    if b.is_ascii_digit() && digits < MAX_COUNT_DIGITS {
                        self.state = State::Count {
                            count: count * 10 + u64::from(b - b'0'),
                            digits: digits + 1,
                        };
                        data = &data[1..];
                    } else if b == b' ' && count > 0 {
                        self.state = State::Octets {
                            left: count,
                            len: count,
                        };
                        data = &data[1..];
                    } else {
                        let seen = count.to_string();
                        self.lose_count(seen.as_bytes());
                        self.state = State::Line;
                    }
                }
                State::Octets { left, len } => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                    self.keep(&data[..take]);
                    data = &data[take..];
                    let left = left - take as u64;
                    if left == 0 {
                        self.emit(out);
                    } else {
                        self.state = State::Octets { left, len };
                    }
                }
                State::Line => match memchr::memchr(b'\n', data) {
                    Some(i) => {
                        self.keep(&data[..i]);
                        data = &data[i + 1..];
                        self.emit(out);
                    }
                    None => {
                        self.keep(data);
                        data = &[];
                    }
                },
            }
        }
    }

    /// An octet count that is not one: the connection switches to newline framing, and the line that
    /// starts here (with the digits read so far) is reported.
    fn lose_count(&mut self, seen: &[u8]) {
        self.mode = Mode::Lines;
        self.problem = Some(
            "octet-counted framing lost: a frame must start with its length in digits and a space (`57 <13>…`); \
             the rest of the connection is read as newline-separated messages"
                .into(),
        );
        self.keep(seen);
    }

    /// The connection ended: a last line without its newline is a message; a frame cut short is reported.
    pub fn finish(&mut self, out: &mut impl FnMut(Frame<'_>)) {
        match self.state {
            State::Start => {}
            State::Line => self.emit(out),
            State::Count { count, .. } => {
                self.problem = Some(format!(
                    "the connection ended inside an octet count (`{count}` with no space after it)"
                ));
                self.emit(out);
            }
            State::Octets { left, len } => {
                self.problem = Some(format!(
                    "the connection ended {left} bytes before the end of a {len}-byte octet-counted frame"
                ));
                self.emit(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of `input` fed in pieces of `piece` bytes: (text, truncated, problem?).
    fn frames(input: &[u8], piece: usize, max: usize) -> Vec<(String, bool, bool)> {
        let mut f = Framer::new(max);
        let mut got = Vec::new();
        let mut out = |fr: Frame<'_>| {
            got.push((
                String::from_utf8_lossy(fr.bytes).into_owned(),
                fr.truncated,
                fr.problem.is_some(),
            ))
        };
        for chunk in input.chunks(piece) {
            f.feed(chunk, &mut out);
        }
        f.finish(&mut out);
        got
    }

    fn ok(s: &str) -> (String, bool, bool) {
        (s.to_string(), false, false)
    }

    #[test]
    fn both_framings_in_any_pieces() {
        for piece in [1, 2, 3, 7, 1000] {
            assert_eq!(
                frames(b"<13>a\n<13>bc\r\n\n<13>last", piece, 100),
                vec![ok("<13>a"), ok("<13>bc"), ok("<13>last")]
            );
            assert_eq!(
                frames(b"5 <13>a6 <13>b\n\n3 <1>", piece, 100),
                vec![ok("<13>a"), ok("<13>b\n"), ok("<1>")]
            );
        }
    }

    #[test]
    fn long_frames_are_cut_and_the_rest_skipped() {
        let mut long = b"<13>".to_vec();
        long.extend(std::iter::repeat_n(b'x', 1 << 20));
        let mut lines = long.clone();
        lines.extend_from_slice(b"\n<13>next\n");
        let got = frames(&lines, 4096, 10);
        assert_eq!(got, vec![("<13>xxxxxx".into(), true, false), ok("<13>next")]);
        let mut counted = format!("{} ", long.len()).into_bytes();
        counted.extend_from_slice(&long);
        counted.extend_from_slice(b"8 <13>next");
        let got = frames(&counted, 4096, 10);
        assert_eq!(got, vec![("<13>xxxxxx".into(), true, false), ok("<13>next")]);
    }

    #[test]
    fn broken_counts_and_cut_connections_are_reported() {
        assert_eq!(
            frames(b"5 <13>a12x <13>b\n<13>c\n", 3, 100),
            vec![ok("<13>a"), ("12x <13>b".into(), false, true), ok("<13>c")]
        );
        assert_eq!(frames(b"5 <13>a20 <13>cut", 4, 100), vec![ok("<13>a"), ("<13>cut".into(), false, true)]);
        assert_eq!(frames(b"5 <13>a123", 4, 100), vec![ok("<13>a"), ("".into(), false, true)]);
        assert!(frames(b"1234567890 x", 4, 100)[0].2);
        assert!(frames(b"5 <13>a0 x\n", 4, 100)[1].2);
    }
}
