//! What a syslog message says, whichever RFC it follows: the priority (`<PRI>`), then an RFC 5424 header
//! (`1 TIMESTAMP HOST APP PROCID MSGID SD`) or the BSD form of RFC 3164 (`Mmm dd hh:mm:ss HOST TAG: `).
//! [`parse`] tells the two apart by the version after the priority, as rsyslog and syslog-ng do.

use super::{parse_3164, parse_5424};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Which syslog form a listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 5424 when the priority is followed by the version `1 `, RFC 3164 otherwise.
    #[default]
    Auto,
    /// RFC 3164 only (a `1 ` after the priority is part of the message).
    Rfc3164,
    /// RFC 5424 only; anything else is an invalid frame.
    Rfc5424,
}

/// One structured-data element of RFC 5424: `[id name="value" …]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement {
    /// The SD-ID (`timeQuality`, `origin`, `exampleSDID@32473`).
    pub id: String,
    /// The parameters in the order written; a name may repeat.
    pub params: Vec<(String, String)>,
}

/// A parsed syslog message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// `<PRI>`: facility × 8 + severity, 0 to 191.
    pub priority: u8,
    /// The RFC 5424 version (1); `None` for RFC 3164.
    pub version: Option<u8>,
    /// When the message says it happened, in UTC.
    pub timestamp: Option<DateTime<Utc>>,
    /// HOSTNAME (RFC 5424) or the host of the BSD header.
    pub hostname: Option<String>,
    /// APP-NAME, or the TAG of RFC 3164.
    pub appname: Option<String>,
    /// PROCID, or the `[pid]` after an RFC 3164 TAG.
    pub procid: Option<String>,
    /// MSGID (RFC 5424 only).
    pub msgid: Option<String>,
    /// The structured data (RFC 5424 only).
    pub structured_data: Vec<SdElement>,
    /// MSG, without an RFC 5424 byte-order mark; invalid UTF-8 replaced by U+FFFD.
    pub message: String,
    /// Whether MSG (or a header field) held invalid UTF-8.
    pub invalid_utf8: bool,
}

impl Message {
    /// The facility code (0 to 23).
    pub fn facility(&self) -> u8 {
        self.priority >> 3
    }

    /// The severity code (0 to 7).
    pub fn severity(&self) -> u8 {
        self.priority & 7
    }
}

/// Why a frame is not a syslog message; the frame is kept raw and tagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// The time zone of RFC 3164 timestamps, which carry none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// The zone of the machine logward runs on (what a local relay means).
    Local,
    /// A named zone (IANA), or UTC.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// `Local`, `UTC` or an IANA name; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Zone, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("local") {
            return Ok(Zone::Local);
        }
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Zone::Named(chrono_tz::UTC));
        }
        t.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            format!(
                "the time zone {text:?} is not known: write `Local`, `UTC`, or a name like Europe/Paris"
            )
        })
    }
}

/// Parses one frame (without its framing: no octet count, no trailing newline). `now` anchors the year
/// of RFC 3164 timestamps.
pub fn parse(frame: &[u8], format: Format, zone: Zone, now: DateTime<Utc>) -> Result<Message, Invalid> {
    let (priority, rest) = priority(frame)?;
    let is_5424 = rest.len() >= 2 && rest[0] == b'1' && rest[1] == b' ';
    match format {
        Format::Rfc5424 if !is_5424 => Err(Invalid(
            "not RFC 5424: the version `1 ` must follow the priority (set `format: auto` to accept RFC 3164 too)"
                .into(),
        )),
        Format::Auto | Format::Rfc5424 if is_5424 => parse_5424::parse(priority, &rest[2..]),
        _ => Ok(parse_3164::parse(priority, rest, zone, now)),
    }
}

/// `<PRI>` at the start of the frame: the value and what follows it.
fn priority(frame: &[u8]) -> Result<(u8, &[u8]), Invalid> {
    if frame.first() != Some(&b'<') {
        return Err(Invalid(
            "the frame does not start with a priority like `<13>`".into(),
        ));
    }
    let digits = frame[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 3 || frame.get(1 + digits) != Some(&b'>') {
        return Err(Invalid(
            "the priority at the start of the frame must be 1 to 3 digits between `<` and `>`".into(),
        ));
    }
    let value = frame[1..1 + digits]
        .iter()
        .fold(0u16, |v, d| v * 10 + u16::from(d - b'0'));
    let Ok(value) = u8::try_from(value) else {
        return Err(Invalid(format!("the priority <{value}> is over 191")));
    };
    if value > 191 {
        return Err(Invalid(format!("the priority <{value}> is over 191")));
    }
    Ok((value, &frame[2 + digits..]))
}

/// Text from bytes, invalid UTF-8 replaced (and noted in `invalid`).
pub(super) fn text(bytes: &[u8], invalid: &mut bool) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            *invalid = true;
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

/// The facility's keyword, as syslog configurations write it (`kern`, `auth`, `local0`, …).
pub fn facility_name(code: u8) -> &'static str {
    const NAMES: [&str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
        "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
        "local4", "local5", "local6", "local7",
    ];
    NAMES.get(usize::from(code)).copied().unwrap_or("unknown")
}

/// The severity's keyword (`emerg` … `debug`).
pub fn severity_name(code: u8) -> &'static str {
    const NAMES: [&str; 8] = [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    NAMES.get(usize::from(code)).copied().unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-02T17:00:00Z".parse().unwrap()
    }

    #[test]
    fn priorities_are_checked() {
        assert_eq!(priority(b"<13>x").unwrap(), (13, &b"x"[..]));
        assert_eq!(priority(b"<0>").unwrap().0, 0);
        assert_eq!(priority(b"<191>").unwrap().0, 191);
        for bad in [&b"<192>x"[..], b"<999>", b"<>x", b"<1234>x", b"13>x", b"", b"<13", b"<1a>"] {
            assert!(priority(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_version_picks_the_parser_and_the_format_can_insist() {
        let m = parse(b"<34>1 - - - - - -", Format::Auto, Zone::Local, now()).unwrap();
        assert_eq!(m.version, Some(1));
        assert_eq!((m.facility(), m.severity()), (4, 2));
        assert_eq!((facility_name(4), severity_name(2)), ("auth", "crit"));
        let m = parse(b"<34>1 - - - - - -", Format::Rfc3164, Zone::Local, now()).unwrap();
        assert_eq!(m.version, None);
        assert_eq!(m.message, "1 - - - - - -");
        assert!(parse(b"<34>Oct 11 22:14:15 host su: x", Format::Rfc5424, Zone::Local, now()).is_err());
    }

    #[test]
    fn zones_are_named_or_local() {
        assert_eq!(Zone::parse("local").unwrap(), Zone::Local);
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::Named(chrono_tz::UTC));
        assert!(Zone::parse("Europe/Paris").is_ok());
        assert!(Zone::parse("Mars/Olympus").unwrap_err().contains("Mars/Olympus"));
    }
}
