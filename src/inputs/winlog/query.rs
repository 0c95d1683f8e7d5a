//! The query sent to Windows for a channel: a `<QueryList>` with a `Select` for what to keep and a
//! `Suppress` for excluded event ids (Event Log XPath has no `not()`), as Winlogbeat builds it. Filtering
//! in Windows means unwanted events are never rendered.

use crate::inputs::windows_event::filter::WinEventFilter;

fn level_number(name: &str) -> Option<u8> {
    match name {
        "critical" => Some(1),
        "error" => Some(2),
        "warning" => Some(3),
        // Classic providers log information as level 0.
        "information" => Some(4),
        "verbose" => Some(5),
        _ => None,
    }
}

fn ranges(list: &[(u32, u32)]) -> String {
    list.iter()
        .map(|(a, b)| {
            if a == b {
                format!("EventID={a}")
            } else {
                format!("(EventID &gt;= {a} and EventID &lt;= {b})")
            }
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// The query for `channel`. `xpath` (the user's own) wins over the filters; a `<QueryList>` is used as is.
pub fn build(
    channel: &str,
    filter: &WinEventFilter,
    ignore_older_ms: Option<u64>,
    xpath: Option<&str>,
) -> String {
    if let Some(x) = xpath {
        let x = x.trim();
        if x.starts_with("<QueryList") {
            return x.to_string();
        }
        return format!(
            "<QueryList><Query Id=\"0\"><Select Path=\"{}\">{}</Select></Query></QueryList>",
            escape(channel),
            escape(x)
        );
    }
    let mut conditions = Vec::new();
    if !filter.ids().includes().is_empty() {
        conditions.push(format!("({})", ranges(filter.ids().includes())));
    }
    let levels: Vec<String> = filter
        .levels()
        .iter()
        .filter_map(|l| level_number(l))
        .flat_map(|n| {
            if n == 4 {
                vec!["Level=0".to_string(), "Level=4".to_string()]
            } else {
                vec![format!("Level={n}")]
            }
        })
        .collect();
    if !levels.is_empty() {
        conditions.push(format!("({})", levels.join(" or ")));
    }
    if !filter.providers().is_empty() {
        let names: Vec<String> = filter
            .providers()
            .iter()
            .map(|p| format!("@Name='{}'", escape(p)))
            .collect();
        conditions.push(format!("Provider[{}]", names.join(" or ")));
    }
    if let Some(ms) = ignore_older_ms {
        conditions.push(format!("TimeCreated[timediff(@SystemTime) &lt;= {ms}]"));
    }
    let select = if conditions.is_empty() {
        "*".to_string()
    } else {
        format!("*[System[{}]]", conditions.join(" and "))
    };
    let path = escape(channel);
    let mut q = format!("<QueryList><Query Id=\"0\"><Select Path=\"{path}\">{select}</Select>");
    if !filter.ids().excludes().is_empty() {
        q.push_str(&format!(
            "<Suppress Path=\"{path}\">*[System[({})]]</Suppress>",
            ranges(filter.ids().excludes())
        ));
    }
    q.push_str("</Query></QueryList>");
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(ids: &[&str], levels: &[&str], providers: &[&str]) -> WinEventFilter {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        WinEventFilter::new(&s(ids), &s(levels), &s(providers)).unwrap()
    }

    #[test]
    fn filters_become_a_query_list() {
        assert_eq!(
            build("Security", &f(&[], &[], &[]), None, None),
            "<QueryList><Query Id=\"0\"><Select Path=\"Security\">*</Select></Query></QueryList>"
        );
        let q = build(
            "Security",
            &f(
                &["4624,4700-4799", "-4750"],
                &["error", "info"],
                &["Microsoft-Windows-Security-Auditing"],
            ),
            Some(3_600_000),
            None,
        );
        assert_eq!(
            q,
            "<QueryList><Query Id=\"0\"><Select Path=\"Security\">*[System[(EventID=4624 or (EventID &gt;= 4700 and EventID &lt;= 4799)) and (Level=2 or Level=0 or Level=4) and Provider[@Name='Microsoft-Windows-Security-Auditing'] and TimeCreated[timediff(@SystemTime) &lt;= 3600000]]]</Select><Suppress Path=\"Security\">*[System[(EventID=4750)]]</Suppress></Query></QueryList>"
        );
        // The result is well-formed XML.
        let mut r = quick_xml::Reader::from_str(&q);
        loop {
            match r.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn a_users_xpath_wins_and_is_escaped() {
        let q = build(
            "Microsoft-Windows-Sysmon/Operational",
            &f(&["1"], &[], &[]),
            None,
            Some("*[System[EventID=1 and Level<4]]"),
        );
        assert!(q.contains("Path=\"Microsoft-Windows-Sysmon/Operational\">*[System[EventID=1 and Level&lt;4]]</Select>"), "{q}");
        let list = "<QueryList><Query><Select Path='System'>*</Select></Query></QueryList>";
        assert_eq!(build("System", &f(&[], &[], &[]), None, Some(list)), list);
    }
}
