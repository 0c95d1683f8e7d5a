//! RFC 5424: `VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]`,
//! each header field `-` when nil, structured data as `[id name="value" …]` elements (with `\"`, `\\` and
//! `\]` escaped in values), MSG optionally behind a UTF-8 byte-order mark. Strict where the RFC is (a
//! header that is cut short or a timestamp that is not RFC 3339 makes the frame invalid), lenient where
//! senders differ (header field lengths are not enforced).

use super::parse::{Invalid, Message, SdElement, text};
use chrono::{DateTime, Utc};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses what follows `<PRI>1 `.
pub fn parse(priority: u8, rest: &[u8]) -> Result<Message, Invalid> {
    let mut m = Message {
        priority,
        version: Some(1),
        ..Message::default()
    };
    let mut rest = rest;
    let mut field = |name: &str| -> Result<Option<&[u8]>, Invalid> {
        let (value, after) = match memchr::memchr(b' ', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        if value.is_empty() {
            return Err(Invalid(format!(
                "the RFC 5424 header ends (or has two spaces) where the {name} should be"
            )));
        }
        rest = after;
        Ok((value != b"-").then_some(value))
    };
    let timestamp = field("TIMESTAMP")?;
    let hostname = field("HOSTNAME")?;
    let appname = field("APP-NAME")?;
    let procid = field("PROCID")?;
    let msgid = field("MSGID")?;
    if let Some(t) = timestamp {
        m.timestamp = Some(timestamp_of(t)?);
    }
    let mut invalid = false;
    m.hostname = hostname.map(|v| text(v, &mut invalid));
    m.appname = appname.map(|v| text(v, &mut invalid));
    m.procid = procid.map(|v| text(v, &mut invalid));
    m.msgid = msgid.map(|v| text(v, &mut invalid));
    let msg = match rest.first() {
        None => {
            return Err(Invalid(
                "the RFC 5424 header ends where the STRUCTURED-DATA should be (`-` when there is none)"
                    .into(),
            ));
        }
        Some(b'-') => match rest.get(1) {
            None => &[][..],
            Some(b' ') => &rest[2..],
            Some(_) => {
                return Err(Invalid(
                    "the STRUCTURED-DATA `-` must be followed by a space or the end".into(),
                ));
            }
        },
        Some(b'[') => {
            let (elements, after) = structured_data(rest, &mut invalid)?;
            m.structured_data = elements;
            match after.first() {
                None => &[][..],
                Some(b' ') => &after[1..],
                Some(_) => {
                    return Err(Invalid(
                        "the STRUCTURED-DATA must be followed by a space or the end".into(),
                    ));
                }
            }
        }
        Some(_) => {
            return Err(Invalid(
                "the STRUCTURED-DATA must be `-` or start with `[`".into(),
            ));
        }
    };
    let msg = msg.strip_prefix(BOM).unwrap_or(msg);
    m.message = text(msg, &mut invalid);
    m.invalid_utf8 = invalid;
    Ok(m)
}

/// An RFC 3339 timestamp, as RFC 5424 requires (`2003-10-11T22:14:15.003Z`, `…-07:00`).
fn timestamp_of(t: &[u8]) -> Result<DateTime<Utc>, Invalid> {
    std::str::from_utf8(t)
        .ok()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            Invalid(format!(
                "the RFC 5424 TIMESTAMP `{}` is not RFC 3339 (like 2003-10-11T22:14:15.003Z) or `-`",
                String::from_utf8_lossy(&t[..t.len().min(64)])
            ))
        })
}

/// One or more `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`; returns them and what follows.
fn structured_data<'a>(
    mut s: &'a [u8],
    invalid: &mut bool,
) -> Result<(Vec<SdElement>, &'a [u8]), Invalid> {
    let mut elements = Vec::new();
    while s.first() == Some(&b'[') {
        s = &s[1..];
        let id_len = name_len(s);
        if id_len == 0 {
            return Err(Invalid(
                "a STRUCTURED-DATA element has no SD-ID after `[`".into(),
            ));
        }
        let mut element = SdElement {
            id: text(&s[..id_len], invalid),
            params: Vec::new(),
        };
        s = &s[id_len..];
        loop {
            match s.first() {
                Some(b']') => {
                    s = &s[1..];
                    break;
                }
                Some(b' ') => {
                    s = &s[1..];
                    let n = name_len(s);
                    if n == 0 || s.get(n) != Some(&b'=') || s.get(n + 1) != Some(&b'"') {
                        return Err(Invalid(format!(
                            "in the STRUCTURED-DATA element `{}`, a parameter must be written name=\"value\"",
                            element.id
                        )));
                    }
                    let name = text(&s[..n], invalid);
                    s = &s[n + 2..];
                    let (value, after) = param_value(s).ok_or_else(|| {
                        Invalid(format!(
                            "in the STRUCTURED-DATA element `{}`, the value of `{name}` has no closing `\"`",
                            element.id
                        ))
                    })?;
                    element.params.push((name, text(&value, invalid)));
                    s = after;
                }
                _ => {
                    return Err(Invalid(format!(
                        "the STRUCTURED-DATA element `{}` is not closed by `]`",
                        element.id
                    )));
                }
            }
        }
        elements.push(element);
    }
    Ok((elements, s))
}

/// The length of an SD-NAME: printable ASCII except `=`, space, `]` and `"`.
fn name_len(s: &[u8]) -> usize {
    s.iter()
        .take_while(|&&b| (33..=126).contains(&b) && !matches!(b, b'=' | b']' | b'"'))
        .count()
}

/// A PARAM-VALUE after its opening quote, unescaped; and what follows the closing quote.
fn param_value(s: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => return Some((out, &s[i + 1..])),
            b'\\' if matches!(s.get(i + 1), Some(b'"' | b'\\' | b']')) => {
                out.push(s[i + 1]);
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[u8]) -> Result<Message, Invalid> {
        parse(165, s)
    }

    #[test]
    fn the_rfc_examples_parse() {
        let m = p(b"2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8").unwrap();
        assert_eq!(m.timestamp.unwrap().to_rfc3339(), "2003-10-11T22:14:15.003+00:00");
        assert_eq!(m.hostname.as_deref(), Some("mymachine.example.com"));
        assert_eq!(m.appname.as_deref(), Some("su"));
        assert_eq!(m.procid, None);
        assert_eq!(m.msgid.as_deref(), Some("ID47"));
        assert_eq!(m.message, "'su root' failed for lonvick on /dev/pts/8");
        let m = p(br#"2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#).unwrap();
        assert_eq!(m.structured_data.len(), 2);
        assert_eq!(m.structured_data[0].id, "exampleSDID@32473");
        assert_eq!(m.structured_data[0].params[1], ("eventSource".into(), "Application".into()));
        assert_eq!(m.structured_data[1].params, vec![("class".into(), "high".into())]);
        assert_eq!(m.message, "");
        let m = p(b"2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.").unwrap();
        assert_eq!(m.timestamp.unwrap().to_rfc3339(), "2003-08-24T12:14:15.000003+00:00");
        assert_eq!(m.procid.as_deref(), Some("8710"));
        assert_eq!(m.message, "%% It's time to make the do-nuts.");
    }

    #[test]
    fn nil_values_escapes_and_invalid_utf8() {
        let m = p(b"- - - - - -").unwrap();
        assert_eq!(m, Message { priority: 165, version: Some(1), ..Message::default() });
        let m = p(br#"- h a 1 m [x@1 q="say \"hi\" \\ \] \n"] body"#).unwrap();
        assert_eq!(m.structured_data[0].params[0].1, r#"say "hi" \ ] \n"#);
        assert_eq!(m.message, "body");
        let m = p(b"- h a - - - caf\xC3 \xFF").unwrap();
        assert!(m.invalid_utf8);
        assert_eq!(m.message, "caf\u{FFFD} \u{FFFD}");
    }

    #[test]
    fn broken_headers_are_invalid_with_a_reason() {
        for (bad, says) in [
            (&b"2003-10-11T22:14:15Z host"[..], "APP-NAME"),
            (b"yesterday h a - - -", "RFC 3339"),
            (b"-  h a - - -", "HOSTNAME"),
            (b"- h a - -", "STRUCTURED-DATA"),
            (b"- h a - - x", "STRUCTURED-DATA"),
            (b"- h a - - [id", "not closed"),
            (br#"- h a - - [id k="v"#, "closing"),
            (b"- h a - - [id k=v]", "name=\"value\""),
            (b"- h a - - []", "SD-ID"),
            (b"- h a - - [a]x", "followed by"),
        ] {
            let e = p(bad).unwrap_err();
            assert!(e.0.contains(says), "{:?}: {}", String::from_utf8_lossy(bad), e.0);
        }
    }
}
