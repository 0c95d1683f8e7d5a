//! The condition language of Beats processors (`when:`), also accepted as `if:`:
//! `equals`, `contains`, `regexp`, `range`, `has_fields`, `network`, and `and` / `or` / `not`.

use crate::event::{Event, FieldPath};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// A condition as written in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionConfig {
    /// Every field equals the given value (strings, numbers, booleans).
    Equals(Map<String, Value>),
    /// Every field (text, or a list of texts) contains the given text.
    Contains(Map<String, Value>),
    /// Every field matches the given regular expression.
    Regexp(Map<String, Value>),
    /// Every field is a number within the bounds (`gt`, `gte`, `lt`, `lte`).
    Range(Map<String, Value>),
    /// Every named field exists.
    HasFields(Vec<String>),
    /// Every field is an IP address in one of the given CIDR blocks or named ranges (`private`, `loopback`,
    /// `public`, `multicast`, `link_local`, `unicast`, `unspecified`).
    Network(Map<String, Value>),
    /// All of the conditions hold.
    And(Vec<ConditionConfig>),
    /// Any of the conditions holds.
    Or(Vec<ConditionConfig>),
    /// The condition does not hold.
    Not(Box<ConditionConfig>),
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    /// See [`ConditionConfig::Equals`].
    Equals(Vec<(FieldPath, Value)>),
    /// See [`ConditionConfig::Contains`].
    Contains(Vec<(FieldPath, String)>),
    /// See [`ConditionConfig::Regexp`].
    Regexp(Vec<(FieldPath, regex::Regex)>),
    /// See [`ConditionConfig::Range`].
    Range(Vec<(FieldPath, Bounds)>),
    /// See [`ConditionConfig::HasFields`].
    HasFields(Vec<FieldPath>),
    /// See [`ConditionConfig::Network`].
    Network(Vec<(FieldPath, Vec<Net>)>),
    /// All hold.
    And(Vec<Condition>),
    /// Any holds.
    Or(Vec<Condition>),
    /// Negation.
    Not(Box<Condition>),
}

/// Numeric bounds of a `range` condition.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    gt: Option<f64>,
    gte: Option<f64>,
    lt: Option<f64>,
    lte: Option<f64>,
}

/// An address range of a `network` condition.
#[derive(Debug, Clone)]
pub enum Net {
    /// A CIDR block.
    Cidr(IpAddr, u8),
    /// A named class of addresses.
    Named(String),
}

fn path(name: &str) -> Result<FieldPath, String> {
    FieldPath::parse(name).map_err(|e| e.to_string())
}

impl Condition {
    /// Compiles a condition; the error says which part is wrong.
    pub fn build(cfg: &ConditionConfig) -> Result<Condition, String> {
        Ok(match cfg {
            ConditionConfig::Equals(m) => Condition::Equals(
                m.iter()
                    .map(|(k, v)| Ok((path(k)?, v.clone())))
                    .collect::<Result<_, String>>()?,
            ),
            ConditionConfig::Contains(m) => Condition::Contains(
                m.iter()
                    .map(|(k, v)| {
                        Ok((
                            path(k)?,
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()),
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            ConditionConfig::Regexp(m) => Condition::Regexp(
                m.iter()
                    .map(|(k, v)| {
                        let text = v
                            .as_str()
                            .ok_or_else(|| format!("regexp: the pattern for `{k}` must be text"))?;
                        let re = regex::Regex::new(text).map_err(|e| {
                            format!("regexp: the pattern for `{k}` is not valid: {e}")
                        })?;
                        Ok((path(k)?, re))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            ConditionConfig::Range(m) => Condition::Range(
                m.iter()
                    .map(|(k, v)| {
                        let obj = v.as_object().ok_or_else(|| {
                            format!("range: `{k}` needs bounds like {{gte: 400, lt: 500}}")
                        })?;
                        let mut b = Bounds::default();
                        for (op, bound) in obj {
                            let n = bound
                                .as_f64()
                                .or_else(|| bound.as_str().and_then(|s| s.parse().ok()))
                                .ok_or_else(|| {
                                    format!("range: the bound `{op}` of `{k}` must be a number")
                                })?;
                            match op.as_str() {
                                "gt" => b.gt = Some(n),
                                "gte" => b.gte = Some(n),
                                "lt" => b.lt = Some(n),
                                "lte" => b.lte = Some(n),
                                other => {
                                    return Err(format!(
                                        "range: `{other}` is not a bound; use gt, gte, lt or lte"
                                    ));
                                }
                            }
                        }
                        Ok((path(k)?, b))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            ConditionConfig::HasFields(names) => {
                Condition::HasFields(names.iter().map(|n| path(n)).collect::<Result<_, _>>()?)
            }
            ConditionConfig::Network(m) => Condition::Network(
                m.iter()
                    .map(|(k, v)| {
                        let items: Vec<String> = match v {
                            Value::Array(a) => a
                                .iter()
                                .map(|x| x.as_str().unwrap_or_default().to_string())
                                .collect(),
                            Value::String(s) => vec![s.clone()],
                            _ => {
                                return Err(format!(
                                    "network: `{k}` needs a CIDR block or a list of them"
                                ));
                            }
                        };
                        let nets = items
                            .iter()
                            .map(|s| parse_net(s))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok((path(k)?, nets))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            ConditionConfig::And(list) => Condition::And(
                list.iter()
                    .map(Condition::build)
                    .collect::<Result<_, _>>()?,
            ),
            ConditionConfig::Or(list) => Condition::Or(
                list.iter()
                    .map(Condition::build)
                    .collect::<Result<_, _>>()?,
            ),
            ConditionConfig::Not(inner) => Condition::Not(Box::new(Condition::build(inner)?)),
        })
    }

    /// Evaluates the condition on an event.
    pub fn matches(&self, event: &Event) -> bool {
        match self {
            Condition::Equals(list) => list
                .iter()
                .all(|(p, want)| event.get(p).is_some_and(|have| equal(have, want))),
            Condition::Contains(list) => list.iter().all(|(p, needle)| match event.get(p) {
                Some(Value::String(s)) => s.contains(needle.as_str()),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| s.contains(needle.as_str()))),
                _ => false,
            }),
            Condition::Regexp(list) => list.iter().all(|(p, re)| match event.get(p) {
                Some(Value::String(s)) => re.is_match(s),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| re.is_match(s))),
                Some(other) if !other.is_null() => re.is_match(&other.to_string()),
                _ => false,
            }),
            Condition::Range(list) => list.iter().all(|(p, b)| {
                let n = match event.get(p) {
                    Some(Value::Number(n)) => n.as_f64(),
                    Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                n.is_some_and(|n| {
                    b.gt.is_none_or(|x| n > x)
                        && b.gte.is_none_or(|x| n >= x)
                        && b.lt.is_none_or(|x| n < x)
                        && b.lte.is_none_or(|x| n <= x)
                })
            }),
            Condition::HasFields(list) => list.iter().all(|p| event.contains(p)),
            Condition::Network(list) => list.iter().all(|(p, nets)| {
                let ips: Vec<IpAddr> = match event.get(p) {
                    Some(Value::String(s)) => s.parse().ok().into_iter().collect(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .filter_map(|i| i.as_str()?.parse().ok())
                        .collect(),
                    _ => Vec::new(),
                };
                ips.iter().any(|ip| nets.iter().any(|n| in_net(*ip, n)))
            }),
            Condition::And(list) => list.iter().all(|c| c.matches(event)),
            Condition::Or(list) => list.iter().any(|c| c.matches(event)),
            Condition::Not(inner) => !inner.matches(event),
        }
    }
}

fn equal(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::Number(b)) => a.trim().parse::<f64>().ok() == b.as_f64(),
        (Value::Array(items), w) => items.iter().any(|i| equal(i, w)),
        (a, b) => a == b,
    }
}

fn parse_net(text: &str) -> Result<Net, String> {
    let t = text.trim();
    const NAMED: &[&str] = &[
        "private",
        "loopback",
        "public",
        "multicast",
        "link_local",
        "unicast",
        "unspecified",
    ];
    if NAMED.contains(&t) {
        return Ok(Net::Named(t.to_string()));
    }
    let (addr, bits) = match t.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| {
        format!("network: {text:?} is not a CIDR block (like 10.0.0.0/8) nor one of {NAMED:?}")
    })?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b
            .parse::<u8>()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("network: {text:?} has an invalid prefix length"))?,
        None => max,
    };
    Ok(Net::Cidr(ip, bits))
}

fn in_net(ip: IpAddr, net: &Net) -> bool {
    match net {
        Net::Cidr(base, bits) => match (ip, base) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = if *bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(*bits))
                };
                u32::from(a) & mask == u32::from(*b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = if *bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(*bits))
                };
                u128::from(a) & mask == u128::from(*b) & mask
            }
            _ => false,
        },
        Net::Named(name) => {
            let private = match ip {
                IpAddr::V4(v4) => v4.is_private(),
                IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
            };
            let link_local = match ip {
                IpAddr::V4(v4) => v4.is_link_local(),
                IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
            };
            match name.as_str() {
                "private" => private,
                "loopback" => ip.is_loopback(),
                "multicast" => ip.is_multicast(),
                "unspecified" => ip.is_unspecified(),
                "link_local" => link_local,
                "unicast" => !ip.is_multicast() && !ip.is_unspecified(),
                "public" => {
                    !(private
                        || ip.is_loopback()
                        || link_local
                        || ip.is_multicast()
                        || ip.is_unspecified())
                }
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(v: Value) -> Condition {
        Condition::build(&serde_json::from_value(v).unwrap()).unwrap()
    }

    fn ev() -> Event {
        let mut e = Event::new();
        e.set_path("log.level", "ERROR");
        e.set_path("message", "java.lang.NullPointerException at x");
        e.set_path("http.response.status_code", 503);
        e.set_path("source.ip", "10.1.2.3");
        e.set_path("tags", json!(["web", "prod"]));
        e
    }

    #[test]
    fn equals_contains_regexp() {
        assert!(cond(json!({"equals": {"log.level": "ERROR"}})).matches(&ev()));
        assert!(cond(json!({"equals": {"[http][response][status_code]": 503}})).matches(&ev()));
        assert!(!cond(json!({"equals": {"log.level": "INFO"}})).matches(&ev()));
        assert!(cond(json!({"contains": {"message": "Exception"}})).matches(&ev()));
        assert!(cond(json!({"contains": {"tags": "pro"}})).matches(&ev()));
        assert!(
            cond(json!({"regexp": {"message": "^java\\.lang\\.\\w+Exception"}})).matches(&ev())
        );
        assert!(!cond(json!({"regexp": {"missing": "."}})).matches(&ev()));
    }

    #[test]
    fn range_has_fields_network() {
        assert!(
            cond(json!({"range": {"http.response.status_code": {"gte": 500, "lt": 600}}}))
                .matches(&ev())
        );
        assert!(!cond(json!({"range": {"http.response.status_code": {"lt": 500}}})).matches(&ev()));
        assert!(cond(json!({"has_fields": ["log.level", "source.ip"]})).matches(&ev()));
        assert!(!cond(json!({"has_fields": ["nope"]})).matches(&ev()));
        assert!(cond(json!({"network": {"source.ip": "10.0.0.0/8"}})).matches(&ev()));
        assert!(
            cond(json!({"network": {"source.ip": ["192.168.0.0/16", "private"]}})).matches(&ev())
        );
        assert!(!cond(json!({"network": {"source.ip": "public"}})).matches(&ev()));
        assert!(
            Condition::build(
                &serde_json::from_value(json!({"network": {"source.ip": "10.0.0.0/33"}})).unwrap()
            )
            .is_err()
        );
    }

    #[test]
    fn and_or_not() {
        let c = cond(json!({"and": [
            {"equals": {"log.level": "ERROR"}},
            {"or": [{"contains": {"message": "nothing"}}, {"not": {"has_fields": ["nope"]}}]}
        ]}));
        assert!(c.matches(&ev()));
        assert!(!cond(json!({"not": {"equals": {"log.level": "ERROR"}}})).matches(&ev()));
    }
}
