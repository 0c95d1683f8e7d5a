//! Human-friendly units in configuration: durations (`500ms`, `5m`, `1h30m`) and sizes (`512MiB`, `2GB`).

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A duration written as `250ms`, `10s`, `5m`, `2h`, `1d`, or combined (`1h30m`). A bare number means seconds.
/// At most [`HumanDuration::MAX_SECS`] (100 years): every duration is added to clocks and timers, where a
/// longer one would overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub std::time::Duration);

impl HumanDuration {
    /// The longest duration accepted, in seconds: 100 years of 365.25 days.
    pub const MAX_SECS: f64 = 100.0 * 365.25 * 86400.0;

    /// From a number of seconds, refused when negative, not finite or longer than [`Self::MAX_SECS`].
    fn from_secs_checked(secs: f64, text: &str) -> Result<HumanDuration, String> {
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!(
                "{text:?} is not a duration: write a number with a unit, like 500ms, 10s, 5m, 2h or 1d"
            ));
        }
        if secs > Self::MAX_SECS {
            return Err(format!(
                "{text:?} is too long a duration: the longest accepted is 100 years (36525d)"
            ));
        }
        Ok(HumanDuration(std::time::Duration::from_secs_f64(secs)))
    }

    /// From whole seconds.
    pub const fn secs(s: u64) -> HumanDuration {
        HumanDuration(std::time::Duration::from_secs(s))
    }
    /// From milliseconds.
    pub const fn millis(ms: u64) -> HumanDuration {
        HumanDuration(std::time::Duration::from_millis(ms))
    }
    /// The standard-library duration.
    pub fn get(self) -> std::time::Duration {
        self.0
    }

    /// Parses the text form; the error says what is accepted.
    pub fn parse(text: &str) -> Result<HumanDuration, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "{text:?} is not a duration: write a number with a unit, like 500ms, 10s, 5m, 2h or 1d"
            )
        };
        if t.is_empty() {
            return Err(bad());
        }
        if let Ok(secs) = t.parse::<f64>() {
            return Self::from_secs_checked(secs, text);
        }
        let mut total = 0.0f64;
        let mut rest = t;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            if num_len == 0 {
                return Err(bad());
            }
            let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = rest[..unit_len].trim();
            rest = rest[unit_len..].trim_start();
            let factor = match unit {
                "ns" => 1e-9,
                "us" | "µs" => 1e-6,
                "ms" => 1e-3,
                "s" | "sec" | "secs" => 1.0,
                "m" | "min" | "mins" => 60.0,
                "h" | "hr" | "hrs" => 3600.0,
                "d" | "day" | "days" => 86400.0,
                "w" => 7.0 * 86400.0,
                _ => return Err(bad()),
            };
            total += value * factor;
        }
        Self::from_secs_checked(total, text)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = NumberOrText::deserialize(d)?;
        match raw {
            NumberOrText::Number(n) => HumanDuration::from_secs_checked(n, &n.to_string())
                .map_err(serde::de::Error::custom),
            NumberOrText::Text(t) => HumanDuration::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A size in bytes written as `1024`, `64KiB`, `512MiB`, `2GiB`, `10MB` (decimal) or `1.5GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The number of bytes.
    pub fn get(self) -> u64 {
        self.0
    }
    /// The number of bytes as usize (saturating on 32-bit targets).
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }

    /// Parses the text form; the error says what is accepted.
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "{text:?} is not a size: write a number with a unit, like 512KiB, 64MiB, 2GiB or 10MB"
            )
        };
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        if split == 0 {
            return Err(bad());
        }
        let value: f64 = t[..split].parse().map_err(|_| bad())?;
        let unit = t[split..].trim();
        let factor: f64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kb" => 1e3,
            "m" | "mb" => 1e6,
            "g" | "gb" => 1e9,
            "t" | "tb" => 1e12,
            "ki" | "kib" => 1024.0,
            "mi" | "mib" => 1024.0 * 1024.0,
            "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "ti" | "tib" => 1024.0f64.powi(4),
            _ => return Err(bad()),
        };
        let bytes = value * factor;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(bad());
        }
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut v = self.0 as f64;
        let mut i = 0;
        while v >= 1024.0 && i + 1 < UNITS.len() {
            v /= 1024.0;
            i += 1;
        }
        if i == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{v:.1} {}", UNITS[i])
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(n) if n >= 0.0 && n.is_finite() => Ok(ByteSize(n as u64)),
            NumberOrText::Number(n) => {
                Err(serde::de::Error::custom(format!("{n} is not a valid size")))
            }
            NumberOrText::Text(t) => ByteSize::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// Accepts a YAML number or string without buffering (keeps error positions exact).
enum NumberOrText {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for NumberOrText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NumberOrText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string with a unit")
            }
            fn visit_u64<E>(self, v: u64) -> Result<NumberOrText, E> {
                Ok(NumberOrText::Number(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<NumberOrText, E> {
                Ok(NumberOrText::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<NumberOrText, E> {
                Ok(NumberOrText::Number(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<NumberOrText, E> {
                Ok(NumberOrText::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(HumanDuration::parse("5m").unwrap().get().as_secs(), 300);
        assert_eq!(HumanDuration::parse("1h30m").unwrap().get().as_secs(), 5400);
        assert_eq!(
            HumanDuration::parse("250ms").unwrap().get().as_millis(),
            250
        );
        assert_eq!(HumanDuration::parse("10").unwrap().get().as_secs(), 10);
        assert!(
            HumanDuration::parse("5 parsecs")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(HumanDuration::parse("m5").is_err());
    }

    #[test]
    fn durations_too_long_for_a_clock_are_refused() {
        for text in [
            "18446744073709551615s",
            "10000000000000000000s",
            "18446744073709551615",
            "36526d",
            "36525d1s",
        ] {
            let err = HumanDuration::parse(text).unwrap_err();
            assert!(
                err.contains("the longest accepted is 100 years"),
                "{text}: {err}"
            );
        }
        assert_eq!(
            HumanDuration::parse("36525d").unwrap().get().as_secs(),
            36525 * 86400
        );
        let via_number: Result<HumanDuration, _> = serde_json::from_str::<HumanDuration>("1e19");
        assert!(via_number.unwrap_err().to_string().contains("100 years"));
    }

    #[test]
    fn sizes_binary_and_decimal() {
        assert_eq!(ByteSize::parse("512MiB").unwrap().get(), 512 * 1024 * 1024);
        assert_eq!(ByteSize::parse("2GiB").unwrap().get(), 2 << 30);
        assert_eq!(ByteSize::parse("10MB").unwrap().get(), 10_000_000);
        assert_eq!(ByteSize::parse("1024").unwrap().get(), 1024);
        assert!(
            ByteSize::parse("12 parsecs")
                .unwrap_err()
                .contains("not a size")
        );
    }
}
