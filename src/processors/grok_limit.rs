//! Noticing when a grok pattern hits PCRE2's match limit.
//!
//! PCRE2 stops a match after 10,000,000 backtracking steps (its match limit; also a depth and a heap
//! limit), so a pattern that backtracks catastrophically (`(a+)+$`, nested `.*`) costs a bounded time per
//! line instead of hanging the input. The grok crate reports such a stopped match as "no match"; this
//! module tells the two apart, so the processor can count the hits and log the pattern once.
//!
//! The check only runs after a failed match that took long (a stopped match always does: millions of
//! steps), with the same expression compiled the same way, so a normal failure costs nothing more.

use crate::observe::metrics::Counter;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A failed match that took at least this long is checked for a hit of the limits. Ten million steps
/// take far longer on any machine.
pub const SLOW_FAILURE: Duration = Duration::from_millis(1);

/// One pattern's limit watch.
pub struct LimitProbe {
    /// The pattern as written in the configuration, for the log line.
    written: String,
    /// The expression grok compiled, compiled again here to see the error grok drops. `None` when it
    /// could not be recovered (then hits are not counted).
    regex: Option<pcre2::bytes::Regex>,
    hits: Counter,
    logged: AtomicBool,
}

impl LimitProbe {
    /// A probe for `pattern` (written as `written`), counting hits in `hits`.
    pub fn new(written: &str, pattern: &grok::Pattern, hits: Counter) -> LimitProbe {
        let regex = compiled_expression(pattern).and_then(|text| {
            let mut b = pcre2::bytes::RegexBuilder::new();
            // The options the grok crate compiles with, so the steps and limits are the same.
            b.jit_if_available(true);
            b.utf(true);
            b.build(&text).ok()
        });
        LimitProbe {
            written: written.to_string(),
            regex,
            hits,
            logged: AtomicBool::new(false),
        }
    }

    /// After a failed match of `text` that took `took`: whether it was a limit that stopped it (counted,
    /// and logged the first time).
    pub fn failed_after(&self, text: &str, took: Duration) -> bool {
        if took < SLOW_FAILURE {
            return false;
        }
        let Some(regex) = &self.regex else {
            return false;
        };
        let Err(e) = regex.is_match(text.as_bytes()) else {
            return false;
        };
        self.hits.inc();
        if !self.logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                pattern = %self.written,
                took = ?took,
                "a grok pattern hit PCRE2's limits ({e}): the line is tagged as not matching; this pattern backtracks \
                 too much on such lines — anchor it (^…$) and replace nested or adjacent .* / .+ with narrower \
                 patterns (counted in component_errors_total{{error_type=\"match_limit\"}}, logged once)"
            );
        }
        true
    }
}

/// The expression a grok pattern compiled to. The grok crate does not hand it out; its debug form shows
/// it as `Regex("…")`, a Rust string literal, which is read back here.
fn compiled_expression(pattern: &grok::Pattern) -> Option<String> {
    let debug = format!("{pattern:#?}");
    let start = debug.find("Regex(\"")? + "Regex(\"".len();
    let text = unescape_debug(&debug[start..])?;
    // Only an exact round trip is trusted.
    debug.contains(&format!("Regex({text:?})")).then_some(text)
}

/// Reads a Rust debug-escaped string up to its closing quote.
fn unescape_debug(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'u' => {
                    if chars.next()? != '{' {
                        return None;
                    }
                    let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            other => out.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expression_is_recovered_exactly() {
        let lib = grok::Grok::with_default_patterns();
        for p in [
            "%{COMBINEDAPACHELOG}",
            "^(a+)+$",
            "tab\\t \"quoted\" é \\\\d",
        ] {
            let pattern = lib.compile(p, true).unwrap();
            let text = compiled_expression(&pattern).unwrap_or_else(|| panic!("{p}"));
            assert!(!text.is_empty());
        }
        assert_eq!(
            unescape_debug(r#"a\"b\\c\u{7f}d"x"#).unwrap(),
            "a\"b\\c\u{7f}d"
        );
    }
}
