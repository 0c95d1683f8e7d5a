//! `date`: parses a field into `@timestamp` (or another target) with several formats: ISO8601, RFC3339,
//! UNIX, UNIX_MS, Joda patterns as Logstash writes them (`dd/MMM/yyyy:HH:mm:ss Z`), or strftime patterns
//! (`%d/%b/%Y`). A pattern without a year (syslog's `MMM dd HH:mm:ss`) gets the current year, or last year
//! when that would put the event more than a day in the future.

use super::common::Failure;
use super::{Processor, Verdict};
use crate::event::{Event, FieldPath, format_timestamp};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;
use crate::component::{ProcessorBuild, ProcessorConfig, ProcessorKind};

/// The `date` processor type.
pub const KIND: ProcessorKind = ProcessorKind::of::<DateConfig>("date", &[], "parses a time into @timestamp");

/// `date:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateConfig {
    /// The field holding the time text or number.
    pub field: String,
    /// Formats tried in order (Logstash calls this `match`).
    #[serde(alias = "match")]
    pub formats: Vec<String>,
    /// Where the parsed time goes (default `@timestamp`).
    #[serde(default = "default_target")]
    pub target: String,
    /// The zone of times that carry none: `UTC` (default), `+08:00`, or an IANA name like `Europe/Paris`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Tags added when no format matches.
    #[serde(default = "default_failure_tags")]
    pub tag_on_failure: Vec<String>,
}

fn default_target() -> String {
    "@timestamp".into()
}
fn default_failure_tags() -> Vec<String> {
    vec!["_dateparsefailure".into()]
}

#[derive(Debug, Clone)]
enum Format {
    Iso8601,
    Unix,
    UnixMs,
    /// A chrono format string; `has_year`, `has_zone` say what the text itself provides.
    Pattern {
        chrono: String,
        has_year: bool,
        has_zone: bool,
        has_date: bool,
    },
}

#[derive(Debug, Clone)]
enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    fn resolve(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            Zone::Fixed(off) => off
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
            Zone::Named(tz) => tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

fn parse_zone(text: &str) -> Result<Zone, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(Zone::Fixed(FixedOffset::east_opt(0).ok_or("bad offset")?));
    }
    if let Ok(off) =
        DateTime::parse_from_str(&format!("2000-01-01T00:00:00{t}"), "%Y-%m-%dT%H:%M:%S%:z")
    {
        return Ok(Zone::Fixed(*off.offset()));
    }
    t.parse::<chrono_tz::Tz>()
        .map(Zone::Named)
        .map_err(|_| format!("the timezone {text:?} is not known: use UTC, an offset like +08:00, or a name like Europe/Paris"))
}

/// Translates a Joda-style pattern (Logstash) to chrono's strftime syntax. Patterns containing `%` are
/// taken as strftime already.
fn joda_to_chrono(pattern: &str) -> Result<(String, bool, bool, bool), String> {
    if pattern.contains('%') {
        let has = |s: &[&str]| s.iter().any(|x| pattern.contains(x));
        return Ok((
            pattern.to_string(),
            has(&["%Y", "%y", "%G", "%F", "%D", "%c", "%+", "%s"]),
            has(&["%z", "%:z", "%Z", "%#z", "%+", "%s"]),
            has(&["%d", "%e", "%F", "%D", "%j", "%c", "%+", "%s"]),
        ));
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let (mut has_year, mut has_zone, mut has_date) = (false, false, false);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' is a single quote.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                out.push(chars[j]);
                j += 1;
            }
            if j == i + 1 && j < chars.len() {
                out.push('\'');
            }
            i = j + 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let piece: String = match (c, n) {
            ('y' | 'Y' | 'u', 2) => {
                has_year = true;
                "%y".into()
            }
            ('y' | 'Y' | 'u', _) => {
                has_year = true;
                "%Y".into()
            }
            ('M', 1 | 2) => "%m".into(),
            ('M', 3) => "%b".into(),
            ('M', _) => "%B".into(),
            ('d', _) => {
                has_date = true;
                "%d".into()
            }
            ('D', _) => {
                has_date = true;
                "%j".into()
            }
            ('H', _) => "%H".into(),
            ('k', _) => "%H".into(),
            ('h', _) => "%I".into(),
            ('m', _) => "%M".into(),
            ('s', _) => "%S".into(),
            ('S', n) => format!("%{}f", n.min(9)),
            ('a', _) => "%p".into(),
            ('E', 1..=3) => "%a".into(),
            ('E', _) => "%A".into(),
            ('Z', 1) => {
                has_zone = true;
                "%z".into()
            }
            ('Z', 2) => {
                has_zone = true;
                "%:z".into()
            }
            ('Z', _) | ('z', _) => {
                return Err(format!(
                    "the date pattern {pattern:?} uses zone names ({}), which cannot be parsed reliably; use Z (+0800) or ZZ (+08:00), or set `timezone`",
                    c.to_string().repeat(n)
                ));
            }
            ('%', _) => "%%".repeat(n),
            (other, _) if other.is_ascii_alphabetic() => {
                return Err(format!(
                    "the date pattern {pattern:?} uses the letter {other:?}, which is not a known Joda field; quote literal text like 'T'"
                ));
            }
            (other, _) => other.to_string().repeat(n),
        };
        out.push_str(&piece);
        i += n;
    }
    if has_year {
        has_date = true;
    }
    Ok((out, has_year, has_zone, has_date))
}

/// A built date processor.
pub struct Date {
    field: FieldPath,
    target: FieldPath,
    formats: Vec<Format>,
    zone: Zone,
    failure: Failure,
}

impl Date {
    /// Builds from configuration; bad formats and zones are reported.
    pub fn build(cfg: &DateConfig, ctx: &ProcessorBuild<'_>) -> Result<Date, String> {
        if cfg.formats.is_empty() {
            return Err("`formats` is empty: give at least one, e.g. ISO8601".into());
        }
        let formats = cfg
            .formats
            .iter()
            .map(|f| match f.as_str() {
                "ISO8601" | "RFC3339" | "iso8601" | "rfc3339" => Ok(Format::Iso8601),
                "UNIX" | "unix" => Ok(Format::Unix),
                "UNIX_MS" | "unix_ms" => Ok(Format::UnixMs),
                other => {
                    let (chrono, has_year, has_zone, has_date) = joda_to_chrono(other)?;
                    Ok(Format::Pattern {
                        chrono,
                        has_year,
                        has_zone,
                        has_date,
                    })
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Date {
            field: FieldPath::parse(&cfg.field).map_err(|e| e.to_string())?,
            target: FieldPath::parse(&cfg.target).map_err(|e| e.to_string())?,
            formats,
            zone: parse_zone(cfg.timezone.as_deref().unwrap_or("UTC"))?,
            failure: Failure::new("date", ctx.scope, cfg.tag_on_failure.clone()),
        })
    }

    /// Parses `text` with the first format that fits.
    pub fn parse(&self, value: &Value, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        self.formats
            .iter()
            .find_map(|f| self.parse_one(f, &text, now))
    }

    fn parse_one(&self, format: &Format, text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match format {
            Format::Iso8601 => parse_iso8601(text).or_else(|| {
                let naive = parse_naive_iso(text)?;
                self.zone.resolve(naive)
            }),
            Format::Unix => {
                let secs: f64 = text.parse().ok()?;
                DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
            }
            Format::UnixMs => {
                let ms: f64 = text.parse().ok()?;
                DateTime::from_timestamp_millis(ms.round() as i64)
            }
            Format::Pattern {
                chrono,
                has_year,
                has_zone,
                has_date,
            } => {
                if *has_zone {
                    return DateTime::parse_from_str(text, chrono)
                        .ok()
                        .map(|t| t.with_timezone(&Utc));
                }
                if !has_date {
                    let t = chrono::NaiveTime::parse_from_str(text, chrono).ok()?;
                    return self.zone.resolve(now.date_naive().and_time(t));
                }
                if *has_year {
                    let naive = NaiveDateTime::parse_from_str(text, chrono).ok()?;
                    return self.zone.resolve(naive);
                }
                // No year in the text: try this year, and last year when that lands in the future.
                let year = now.year();
                let with_year = format!("{text} {year}");
                let naive =
                    NaiveDateTime::parse_from_str(&with_year, &format!("{chrono} %Y")).ok()?;
                let t = self.zone.resolve(naive)?;
                if t > now + chrono::Duration::days(1) {
                    let prev = naive.with_year(year - 1).or_else(|| {
                        NaiveDate::from_ymd_opt(year - 1, 2, 28)?.and_hms_opt(0, 0, 0)
                    })?;
                    return self.zone.resolve(prev);
                }
                Some(t)
            }
        }
    }
}

fn parse_iso8601(text: &str) -> Option<DateTime<Utc>> {
    let normalized = normalize_fraction(text);
    DateTime::parse_from_rfc3339(&normalized)
        .or_else(|_| DateTime::parse_from_str(&normalized, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_str(&normalized, "%Y-%m-%d %H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_str(&normalized, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn parse_naive_iso(text: &str) -> Option<NaiveDateTime> {
    let normalized = normalize_fraction(text);
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(&normalized, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(&normalized, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)
    })
}

/// ISO 8601 allows a comma before the fraction of a second (`17:41:44,747`); chrono wants a dot.
fn normalize_fraction(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = text.to_string();
    if let Some(pos) = text.find(',')
        && pos > 0
        && bytes[pos - 1].is_ascii_digit()
        && bytes.get(pos + 1).is_some_and(u8::is_ascii_digit)
    {
        out.replace_range(pos..pos + 1, ".");
    }
    out
}

impl Processor for Date {
    fn name(&self) -> &str {
        "date"
    }

    fn process(&self, event: &mut Event) -> Verdict {
        let parsed = event
            .get(&self.field)
            .and_then(|v| self.parse(v, Utc::now()));
        match parsed {
            Some(t) => {
                event.insert(&self.target, Value::String(format_timestamp(t)));
                Verdict::Keep
            }
            None => {
                self.failure.mark(event);
                Verdict::Failed
            }
        }
    }
}

impl ProcessorConfig for DateConfig {
    fn build(&self, ctx: &ProcessorBuild<'_>) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Date::build(self, ctx)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn date(formats: &[&str], tz: Option<&str>) -> Date {
        Date::build(
            &serde_json::from_value(json!({"field": "t", "formats": formats, "timezone": tz}))
                .unwrap(), &ProcessorBuild::standalone())
        .unwrap()
    }

    fn at(d: &Date, text: &str) -> Option<String> {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        d.parse(&json!(text), now).map(format_timestamp)
    }

    #[test]
    fn iso8601_rfc3339_and_epochs() {
        let d = date(&["ISO8601"], None);
        assert_eq!(
            at(&d, "2015-07-29 17:41:44,747").as_deref(),
            Some("2015-07-29T17:41:44.747Z")
        );
        assert_eq!(
            at(&d, "2024-05-01T10:00:00.5+02:00").as_deref(),
            Some("2024-05-01T08:00:00.500Z")
        );
        assert_eq!(
            at(&date(&["UNIX"], None), "1700000000.25").as_deref(),
            Some("2023-11-14T22:13:20.250Z")
        );
        assert_eq!(
            at(&date(&["UNIX_MS"], None), "1700000000250").as_deref(),
            Some("2023-11-14T22:13:20.250Z")
        );
    }

    #[test]
    fn joda_patterns_with_zones_and_defaults() {
        let d = date(&["dd/MMM/yyyy:HH:mm:ss Z"], None);
        assert_eq!(
            at(&d, "10/Oct/2000:13:55:36 -0700").as_deref(),
            Some("2000-10-10T20:55:36.000Z")
        );
        let d = date(&["yyMMdd HHmmss"], Some("Asia/Shanghai"));
        assert_eq!(
            at(&d, "081109 203615").as_deref(),
            Some("2008-11-09T12:36:15.000Z")
        );
        let d = date(&["EEE MMM dd HH:mm:ss yyyy"], Some("+01:00"));
        assert_eq!(
            at(&d, "Sun Dec 04 04:47:44 2005").as_deref(),
            Some("2005-12-04T03:47:44.000Z")
        );
        let d = date(&["yyyy-MM-dd HH:mm:ss,SSS"], None);
        assert_eq!(
            at(&d, "2015-07-29 17:41:44,747").as_deref(),
            Some("2015-07-29T17:41:44.747Z")
        );
        let d = date(&["%d/%m/%Y %H:%M"], None);
        assert_eq!(
            at(&d, "05/01/2024 10:30").as_deref(),
            Some("2024-01-05T10:30:00.000Z")
        );
    }

    #[test]
    fn syslog_times_get_a_year_that_is_not_in_the_future() {
        let d = date(&["MMM d HH:mm:ss", "MMM dd HH:mm:ss"], None);
        assert_eq!(
            at(&d, "Feb 27 08:00:00").as_deref(),
            Some("2026-02-27T08:00:00.000Z")
        );
        assert_eq!(
            at(&d, "Jun 14 15:16:01").as_deref(),
            Some("2025-06-14T15:16:01.000Z")
        );
        assert_eq!(
            at(&d, "Jun  4 15:16:01").as_deref(),
            Some("2025-06-04T15:16:01.000Z")
        );
    }

    #[test]
    fn failures_are_tagged_and_bad_formats_rejected() {
        let d = date(&["ISO8601"], None);
        let mut e = Event::new();
        e.set_path("t", "yesterday-ish");
        d.process(&mut e);
        assert!(e.has_tag("_dateparsefailure"));
        assert!(
            Date::build(
                &serde_json::from_value(json!({"field": "t", "formats": ["yyyy-MM-dd zzz"]}))
                    .unwrap(), &ProcessorBuild::standalone())
            .is_err()
        );
        assert!(
            Date::build(
                &serde_json::from_value(
                    json!({"field": "t", "formats": ["ISO8601"], "timezone": "Mars/Base"})
                )
                .unwrap(), &ProcessorBuild::standalone())
            .is_err()
        );
    }
}
