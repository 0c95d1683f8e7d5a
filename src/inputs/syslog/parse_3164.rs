//! RFC 3164, the BSD syslog form: `Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG` after the priority. Senders
//! vary, so the header is read leniently, as RFC 3164 section 4.3 asks of a relay: the timestamp may also
//! be RFC 3339 (rsyslog's high-precision form); the hostname may be missing (a token ending in `:` is the
//! TAG); without a timestamp everything after the priority is the message. Such a message is never
//! invalid: at worst it is all MSG.

use super::parse::{Message, Zone, text};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The longest TAG looked for (RFC 3164 allows 32 characters; some senders write more).
const MAX_TAG: usize = 64;

/// Parses what follows `<PRI>`; `now` gives the year the timestamp lacks, in `zone`.
pub fn parse(priority: u8, rest: &[u8], zone: Zone, now: DateTime<Utc>) -> Message {
    let mut m = Message {
        priority,
        ..Message::default()
    };
    let mut invalid = false;
    let mut body = rest;
    if let Some((t, after)) = bsd_timestamp(rest, zone, now).or_else(|| rfc3339_timestamp(rest)) {
        m.timestamp = Some(t);
        body = after;
        // The hostname, unless the next token is already the TAG.
        let end = memchr::memchr(b' ', body).unwrap_or(body.len());
        let token = &body[..end];
        let is_tag = token.ends_with(b":") || token.contains(&b'[');
        if !token.is_empty() && !is_tag {
            m.hostname = Some(text(token, &mut invalid));
            body = body.get(end + 1..).unwrap_or_default();
        }
        if let Some((app, pid, msg)) = tag(body) {
            m.appname = Some(text(app, &mut invalid));
            m.procid = pid.map(|p| text(p, &mut invalid));
            body = msg;
        }
    }
    m.message = text(body, &mut invalid);
    m.invalid_utf8 = invalid;
    m
}

/// `Mmm dd hh:mm:ss ` (the day space-padded or not), in `zone`, in the year that puts it closest before
/// `now` (a December message read in January is from last year).
fn bsd_timestamp(s: &[u8], zone: Zone, now: DateTime<Utc>) -> Option<(DateTime<Utc>, &[u8])> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
    ];
    let month = MONTHS.iter().position(|m| s.starts_with(*m))? as u32 + 1;
    if s.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if s.get(i) == Some(&b' ') {
        i += 1;
    }
    let day_len = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let day = number(&s[i..i + day_len])?;
    i += day_len;
    // ` hh:mm:ss `
    let clock = s.get(i..i + 10)?;
    if clock[0] != b' ' || clock[3] != b':' || clock[6] != b':' || clock[9] != b' ' {
        return None;
    }
    let (h, min, sec) = (number(&clock[1..3])?, number(&clock[4..6])?, number(&clock[7..9])?);
    let local_now = match zone {
        Zone::Local => now.with_timezone(&chrono::Local).naive_local(),
        Zone::Named(tz) => now.with_timezone(&tz).naive_local(),
    };
    let year = local_now.year();
    let at = |y: i32| -> Option<NaiveDateTime> {
        NaiveDate::from_ymd_opt(y, month, day)?.and_hms_opt(h, min, sec)
    };
    // More than a day ahead is taken for last year, as the `date` processor does.
    let naive = match at(year) {
        Some(t) if t <= local_now + chrono::Duration::days(1) => t,
        _ => at(year - 1).or_else(|| at(year))?,
    };
    let utc = match zone {
        Zone::Local => chrono::Local.from_local_datetime(&naive).earliest()?.with_timezone(&Utc),
        Zone::Named(tz) => tz.from_local_datetime(&naive).earliest()?.with_timezone(&Utc),
    };
    Some((utc, &s[i + 10..]))
}

/// An RFC 3339 timestamp and a space (`2026-12-02T17:08:15.123456+01:00 `).
fn rfc3339_timestamp(s: &[u8]) -> Option<(DateTime<Utc>, &[u8])> {
    if !s.first()?.is_ascii_digit() {
        return None;
    }
    let end = memchr::memchr(b' ', s)?;
    let t = DateTime::parse_from_rfc3339(std::str::from_utf8(&s[..end]).ok()?).ok()?;
    Some((t.with_timezone(&Utc), &s[end + 1..]))
}

/// A TAG, its PID, and the message after them.
type Tagged<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8]);

/// `TAG: `, `TAG[PID]: ` or `TAG[PID] `: the TAG, the PID and the message after them.
fn tag(s: &[u8]) -> Option<Tagged<'_>> {
    let end = s
        .iter()
        .take(MAX_TAG + 1)
        .position(|&b| matches!(b, b':' | b'[' | b' '))?;
    if end == 0 {
        return None;
    }
    let app = &s[..end];
    let (pid, after) = match s[end] {
        b':' => (None, &s[end + 1..]),
        b'[' => {
            let close = memchr::memchr(b']', &s[end + 1..])?;
            let pid = &s[end + 1..end + 1 + close];
            let after = &s[end + 2 + close..];
            (Some(pid), after.strip_prefix(b":").unwrap_or(after))
        }
        _ => return None,
    };
    Some((app, pid, after.strip_prefix(b" ").unwrap_or(after)))
}

fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-02T17:00:00Z".parse().unwrap()
    }

    fn p(s: &[u8]) -> Message {
        parse(13, s, Zone::Named(chrono_tz::UTC), now())
    }

    #[test]
    fn the_rfc_examples_and_common_senders_parse() {
        let m = p(b"Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
        assert_eq!(m.timestamp.unwrap().to_rfc3339(), "2026-10-11T22:14:15+00:00");
        assert_eq!(m.hostname.as_deref(), Some("mymachine"));
        assert_eq!(m.appname.as_deref(), Some("su"));
        assert_eq!(m.message, "'su root' failed for lonvick on /dev/pts/8");
        let m = p(b"Dec  2 17:08:15 web-1 sshd[4242]: Accepted publickey for alice");
        assert_eq!(m.timestamp.unwrap().to_rfc3339(), "2026-12-02T17:08:15+00:00");
        assert_eq!((m.appname.as_deref(), m.procid.as_deref()), (Some("sshd"), Some("4242")));
        assert_eq!(m.message, "Accepted publickey for alice");
        // Without a hostname.
        let m = p(b"Dec  2 17:08:15 cron[7]: job done");
        assert_eq!(m.hostname, None);
        assert_eq!(m.appname.as_deref(), Some("cron"));
        // rsyslog's high-precision timestamp.
        let m = p(b"2026-12-02T18:08:15.250+01:00 h app: x");
        assert_eq!(m.timestamp.unwrap().to_rfc3339(), "2026-12-02T17:08:15.250+00:00");
        assert_eq!(m.message, "x");
        // No TAG: the rest is the message.
        let m = p(b"Dec  2 17:08:15 h just words here");
        assert_eq!((m.appname, m.message.as_str()), (None, "just words here"));
    }

    #[test]
    fn december_read_in_january_is_last_year() {
        let jan: DateTime<Utc> = "2027-01-01T00:10:00Z".parse().unwrap();
        let m = parse(13, b"Dec 31 23:59:59 h a: x", Zone::Named(chrono_tz::UTC), jan);
        assert_eq!(m.timestamp.unwrap().to_rfc3339(), "2026-12-31T23:59:59+00:00");
        let paris = Zone::parse("Europe/Paris").unwrap();
        let m = parse(13, b"Jul  1 12:00:00 h a: x", paris, now());
        assert_eq!(m.timestamp.unwrap().to_rfc3339(), "2026-07-01T10:00:00+00:00");
    }

    #[test]
    fn anything_else_is_all_message() {
        for s in [&b"garbage"[..], b"", b"Dec 99 17:08:15 h a: x", b"Dec  2 1:08:15 h", b"Feb 30 10:00:00 h a: x", b"\xFF\xFE"] {
            let m = p(s);
            assert_eq!(m.timestamp, None, "{:?}", String::from_utf8_lossy(s));
            assert_eq!(m.message, String::from_utf8_lossy(s));
        }
        assert!(p(b"\xFF").invalid_utf8);
    }
}
