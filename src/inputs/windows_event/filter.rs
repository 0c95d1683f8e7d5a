//! Which Windows events to keep: `event_ids` (with ranges and exclusions), `levels`, `providers`.
//! Shared by the `.evtx` input and the live Event Log input.

use crate::event::Event;

/// Event id rules: `4624`, `4700-4800`, and exclusions `-4688` (Winlogbeat's syntax).
#[derive(Debug, Clone, Default)]
pub struct EventIdFilter {
    include: Vec<(u32, u32)>,
    exclude: Vec<(u32, u32)>,
}

impl EventIdFilter {
    /// Parses the rules; the error names the bad entry.
    pub fn parse(items: &[String]) -> Result<EventIdFilter, String> {
        let mut f = EventIdFilter::default();
        for item in items {
            for part in item.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (negate, body) = match part.strip_prefix('-') {
                    Some(b) => (true, b),
                    None => (false, part),
                };
                let bad = || {
                    format!(
                        "event_ids: {part:?} is not an id, a range like 4700-4800, or an exclusion like -4688"
                    )
                };
                let range = match body.split_once('-') {
                    Some((a, b)) => (
                        a.trim().parse().map_err(|_| bad())?,
                        b.trim().parse().map_err(|_| bad())?,
                    ),
                    None => {
                        let n: u32 = body.parse().map_err(|_| bad())?;
                        (n, n)
                    }
                };
                if range.0 > range.1 {
                    return Err(bad());
                }
                if negate {
                    f.exclude.push(range)
                } else {
                    f.include.push(range)
                }
            }
        }
        Ok(f)
    }

    /// The included ranges (empty: every id).
    pub fn includes(&self) -> &[(u32, u32)] {
        &self.include
    }

    /// The excluded ranges.
    pub fn excludes(&self) -> &[(u32, u32)] {
        &self.exclude
    }

    /// Whether an event id passes.
    pub fn allows(&self, id: u32) -> bool {
        let inside = |list: &[(u32, u32)]| list.iter().any(|(a, b)| (*a..=*b).contains(&id));
        (self.include.is_empty() || inside(&self.include)) && !inside(&self.exclude)
    }
}

/// All the filters of a Windows event input.
#[derive(Debug, Clone, Default)]
pub struct WinEventFilter {
    ids: EventIdFilter,
    levels: Vec<String>,
    providers: Vec<String>,
}

impl WinEventFilter {
    /// From the configuration lists. Levels are names (`critical`, `error`, `warning`, `information`,
    /// `verbose`; `info` and `warn` are accepted too).
    pub fn new(
        event_ids: &[String],
        levels: &[String],
        providers: &[String],
    ) -> Result<WinEventFilter, String> {
        let mut norm = Vec::new();
        for l in levels {
            let name = match l.to_ascii_lowercase().as_str() {
                "critical" | "crit" => "critical",
                "error" | "err" => "error",
                "warning" | "warn" => "warning",
                "information" | "info" => "information",
                "verbose" | "debug" => "verbose",
                _ => {
                    return Err(format!(
                        "levels: {l:?} is not a level; use critical, error, warning, information or verbose"
                    ));
                }
            };
            norm.push(name.to_string());
        }
        Ok(WinEventFilter {
            ids: EventIdFilter::parse(event_ids)?,
            levels: norm,
            providers: providers.to_vec(),
        })
    }

    /// The event id rules.
    pub fn ids(&self) -> &EventIdFilter {
        &self.ids
    }

    /// Normalised level names (empty: every level).
    pub fn levels(&self) -> &[String] {
        &self.levels
    }

    /// Provider names (empty: every provider).
    pub fn providers(&self) -> &[String] {
        &self.providers
    }

    /// Whether an ECS-mapped event passes.
    pub fn allows(&self, e: &Event) -> bool {
        let id = e
            .get_path("winlog.event_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok());
        if let Some(id) = id
            && !self.ids.allows(id)
        {
            return false;
        }
        if !self.levels.is_empty() {
            let level = e
                .get_path("log.level")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            if !self.levels.iter().any(|l| l == level) {
                return false;
            }
        }
        if !self.providers.is_empty() {
            let provider = e
                .get_path("winlog.provider_name")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            if !self
                .providers
                .iter()
                .any(|p| p.eq_ignore_ascii_case(provider))
            {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_ranges_and_exclusions() {
        let f = EventIdFilter::parse(&["4624, 4700-4800".into(), "-4750".into()]).unwrap();
        assert!(f.allows(4624) && f.allows(4700) && f.allows(4800));
        assert!(!f.allows(4750) && !f.allows(4625));
        let only_exclude = EventIdFilter::parse(&["-4688".into()]).unwrap();
        assert!(only_exclude.allows(1) && !only_exclude.allows(4688));
        assert!(EventIdFilter::parse(&["abc".into()]).is_err());
        assert!(EventIdFilter::parse(&["9-1".into()]).is_err());
    }
}
