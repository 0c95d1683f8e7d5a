//! Index names from a pattern: `logs-%{+yyyy.MM.dd}` formats the event's `@timestamp` in UTC (Joda-style
//! letters, as in Logstash and Beats), `%{[service]}` or `%{service}` inserts a field's value (lowercased:
//! Elasticsearch rejects upper-case index names).

use crate::event::{Event, FieldPath};
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::Value;
use std::fmt::Write as _;

/// A compiled index-name pattern.
#[derive(Debug, Clone)]
pub struct IndexTemplate {
    parts: Vec<Part>,
    /// The coarsest time unit (in seconds) that still changes the rendered date; used as a cache key.
    date_bucket: i64,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Field(FieldPath),
    Date(Vec<DatePart>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatePart {
    Year4,
    Year2,
    WeekYear,
    Month,
    Day,
    Hour,
    Minute,
    Week,
    Literal(char),
}

/// Why an event has no index name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField(pub String);

impl IndexTemplate {
    /// Compiles a pattern; the error says which part is wrong.
    pub fn parse(pattern: &str) -> Result<IndexTemplate, String> {
        if pattern.trim().is_empty() {
            return Err("the index name is empty".into());
        }
        let mut parts = Vec::new();
        let mut rest = pattern;
        let mut date_bucket = i64::MAX;
        while let Some(start) = rest.find("%{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            // `%{[a][b]}` has no `}` inside, so the first one closes the reference.
            let end = after
                .find('}')
                .ok_or_else(|| format!("`%{{` without a closing `}}` in `{pattern}`"))?;
            let inner = &after[..end];
            if let Some(fmt) = inner.strip_prefix('+') {
                let (date, bucket) =
                    parse_date_format(fmt).map_err(|e| format!("in `%{{+{fmt}}}`: {e}"))?;
                date_bucket = date_bucket.min(bucket);
                parts.push(Part::Date(date));
            } else {
                let path =
                    FieldPath::parse(inner).map_err(|e| format!("in `%{{{inner}}}`: {e}"))?;
                parts.push(Part::Field(path));
            }
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        for p in &parts {
            if let Part::Text(t) = p
                && let Some(bad) = t.chars().find(|c| {
                    c.is_ascii_uppercase()
                        || matches!(
                            c,
                            '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'
                        )
                })
            {
                return Err(format!(
                    "`{pattern}` contains `{bad}`, which Elasticsearch does not allow in index names (use lower case letters, digits, `-`, `_`, `.`)"
                ));
            }
        }
        Ok(IndexTemplate {
            parts,
            date_bucket: if date_bucket == i64::MAX {
                86_400
            } else {
                date_bucket
            },
        })
    }

    /// How much of an RFC 3339 UTC text fixes the date text: `YYYY-MM-DD` for days, `…THH` for hours,
    /// `…THH:MM` for minutes. Weeks are not shared by a text prefix, so they always parse.
    fn prefix_len(&self) -> usize {
        match self.date_bucket {
            60 => 16,
            3_600 => 13,
            86_400 => 10,
            _ => usize::MAX,
        }
    }

    /// Whether the name depends on the event at all.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The pattern with every reference replaced by `*`, for index templates (`logs-%{+yyyy.MM.dd}` →
    /// `logs-*`).
    pub fn wildcard(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                _ if out.ends_with('*') => {}
                _ => out.push('*'),
            }
        }
        out
    }

    /// Renders the name for one event into `out` (cleared first). `cache` keeps the last formatted date.
    pub fn render(
        &self,
        event: &Event,
        now: DateTime<Utc>,
        cache: &mut DateCache,
        out: &mut String,
    ) -> Result<(), MissingField> {
        out.clear();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(path) => match event.get(path) {
                    Some(Value::String(s)) => out.extend(s.chars().flat_map(char::to_lowercase)),
                    Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                        let _ = write!(out, "{v}");
                    }
                    _ => return Err(MissingField(path.as_str().to_string())),
                },
                Part::Date(fmt) => {
                    // Most events of a batch carry a UTC `@timestamp` of the same day: when its text
                    // starts like the last one's (up to the finest unit the name uses), reuse the name.
                    let raw = event.timestamp_text();
                    let prefix = raw
                        .filter(|r| r.ends_with('Z'))
                        .and_then(|r| r.get(..self.prefix_len()));
                    if let Some(p) = prefix
                        && cache.key.is_some()
                        && cache.raw_prefix == p
                    {
                        out.push_str(&cache.text);
                        continue;
                    }
                    let t = event.timestamp().unwrap_or(now);
                    let key = t.timestamp().div_euclid(self.date_bucket);
                    if cache.key != Some(key) {
                        cache.text.clear();
                        format_date(fmt, t, &mut cache.text);
                        cache.key = Some(key);
                    }
                    cache.raw_prefix.clear();
                    if let Some(p) = prefix {
                        cache.raw_prefix.push_str(p);
                    }
                    out.push_str(&cache.text);
                }
            }
        }
        Ok(())
    }
}

/// The last date text a template formatted (most events of a batch fall on the same day).
#[derive(Debug, Default)]
pub struct DateCache {
    key: Option<i64>,
    text: String,
    /// The start of the `@timestamp` text the cached name was made from (UTC texts only).
    raw_prefix: String,
}

/// Joda letters as Logstash uses them in index names. Returns the parts and the smallest unit in seconds.
fn parse_date_format(fmt: &str) -> Result<(Vec<DatePart>, i64), String> {
    let mut parts = Vec::new();
    let mut bucket = 86_400 * 7;
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let part = match (c, n) {
            ('y' | 'Y', 4) => Some((DatePart::Year4, 86_400)),
            ('y' | 'Y', 2) => Some((DatePart::Year2, 86_400)),
            ('x', 4) => Some((DatePart::WeekYear, 86_400)),
            ('M', 2) => Some((DatePart::Month, 86_400)),
            ('d', 2) => Some((DatePart::Day, 86_400)),
            ('H', 2) => Some((DatePart::Hour, 3_600)),
            ('m', 2) => Some((DatePart::Minute, 60)),
            ('w', 2) => Some((DatePart::Week, 86_400)),
            (c, _) if c.is_ascii_alphabetic() => {
                return Err(format!(
                    "`{}` is not a supported date field (use yyyy, yy, xxxx, MM, dd, HH, mm, ww)",
                    c.to_string().repeat(n)
                ));
            }
            _ => None,
        };
        match part {
            Some((p, b)) => {
                parts.push(p);
                bucket = bucket.min(b);
                i += n;
            }
            None => {
                parts.push(DatePart::Literal(c));
                i += 1;
            }
        }
    }
    if parts.iter().all(|p| matches!(p, DatePart::Literal(_))) {
        return Err("no date field in the format (for example `%{+yyyy.MM.dd}`)".into());
    }
    Ok((parts, bucket))
}

fn format_date(parts: &[DatePart], t: DateTime<Utc>, out: &mut String) {
    for p in parts {
        let _ = match p {
            DatePart::Year4 => write!(out, "{:04}", t.year()),
            DatePart::Year2 => write!(out, "{:02}", t.year().rem_euclid(100)),
            DatePart::WeekYear => write!(out, "{:04}", t.iso_week().year()),
            DatePart::Month => write!(out, "{:02}", t.month()),
            DatePart::Day => write!(out, "{:02}", t.day()),
            DatePart::Hour => write!(out, "{:02}", t.hour()),
            DatePart::Minute => write!(out, "{:02}", t.minute()),
            DatePart::Week => write!(out, "{:02}", t.iso_week().week()),
            DatePart::Literal(c) => {
                out.push(*c);
                Ok(())
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn render(pattern: &str, event: &Event) -> Result<String, MissingField> {
        let t = IndexTemplate::parse(pattern).unwrap();
        let mut out = String::new();
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        t.render(event, now, &mut DateCache::default(), &mut out)?;
        Ok(out)
    }

    #[test]
    fn daily_weekly_and_field_patterns() {
        let mut e = Event::from_message("x");
        e.set_path("@timestamp", "2026-11-24T23:59:59.999+00:00");
        e.set_path("service", "User-Auth");
        e.set_path("code", 7);
        assert_eq!(
            render("logs-%{+yyyy.MM.dd}", &e).unwrap(),
            "logs-2026.11.24"
        );
        assert_eq!(render("logs-%{+xxxx.ww}", &e).unwrap(), "logs-2026.48");
        assert_eq!(
            render("%{[service]}-%{code}-%{+yyyy.MM}", &e).unwrap(),
            "user-auth-7-2026.11"
        );
        assert_eq!(
            render("x-%{[missing]}", &e),
            Err(MissingField("[missing]".into()))
        );
        // A timestamp with an offset is turned to UTC first.
        e.set_path("@timestamp", "2026-11-25T01:30:00+02:00");
        assert_eq!(
            render("logs-%{+yyyy.MM.dd.HH}", &e).unwrap(),
            "logs-2026.11.24.23"
        );
        // No @timestamp: the time of sending.
        let bare = Event::new();
        assert_eq!(
            render("logs-%{+yyyy.MM.dd}", &bare).unwrap(),
            "logs-2030.01.01"
        );
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        assert!(
            IndexTemplate::parse("logs-%{+yyyy.QQ}")
                .unwrap_err()
                .contains("QQ")
        );
        assert!(IndexTemplate::parse("Logs").unwrap_err().contains("`L`"));
        assert!(
            IndexTemplate::parse("logs-%{+yyyy")
                .unwrap_err()
                .contains("closing")
        );
        assert!(IndexTemplate::parse("").is_err());
        assert_eq!(
            IndexTemplate::parse("logs-%{[a]}-%{+yyyy}")
                .unwrap()
                .wildcard(),
            "logs-*-*"
        );
        assert_eq!(
            IndexTemplate::parse("logs-%{[a]}%{+yyyy}")
                .unwrap()
                .wildcard(),
            "logs-*"
        );
    }

    #[test]
    fn the_date_cache_follows_day_changes() {
        let t = IndexTemplate::parse("l-%{+yyyy.MM.dd}").unwrap();
        let mut cache = DateCache::default();
        let mut out = String::new();
        let now = Utc::now();
        for (ts, want) in [
            ("2026-01-01T10:00:00Z", "l-2026.01.01"),
            ("2026-01-01T23:00:00Z", "l-2026.01.01"),
            ("2026-01-02T00:00:00Z", "l-2026.01.02"),
            ("2025-12-31T23:59:59Z", "l-2025.12.31"),
        ] {
            let mut e = Event::new();
            e.set_path("@timestamp", ts);
            t.render(&e, now, &mut cache, &mut out).unwrap();
            assert_eq!(out, want);
        }
    }
}
