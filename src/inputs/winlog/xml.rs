//! Turns the XML the Windows Event Log API renders for an event (`EvtRender` with `EvtRenderEventXml`)
//! into the same JSON shape the `evtx` crate gives for records of `.evtx` files, so one mapping
//! (`windows_event::ecs`) serves the live and the file input and both write identical ECS fields.
//!
//! Shape: an element with only text is its text (empty: null); attributes go under `#attributes` and text
//! then under `#text`; child elements become keys (repeated names: arrays). In `EventData`, `<Data
//! Name="X">v</Data>` becomes `"X": "v"` and unnamed `<Data>` texts are gathered in `Data.#text`.

use quick_xml::events::Event as XmlEvent;
use serde_json::{Map, Value};

#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

/// Parses event XML; the error names what is malformed.
pub fn event_to_json(xml: &str) -> Result<Value, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        match reader.read_event() {
            Ok(XmlEvent::Start(e)) => stack.push(element(&e)?),
            Ok(XmlEvent::Empty(e)) => {
                let el = element(&e)?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(el);
                }
            }
            Ok(XmlEvent::End(_)) => {
                let el = stack.pop().ok_or("an end tag without a start tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Err("unbalanced tags".into()),
                }
            }
            Ok(XmlEvent::Text(t)) => {
                // Entity references arrive as their own events, so the text is literal.
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Ok(XmlEvent::CData(t)) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Ok(XmlEvent::GeneralRef(r)) => {
                let name = r.into_inner().into_owned();
                let resolved = match name.as_str() {
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "amp" => "&".to_string(),
                    "apos" => "'".to_string(),
                    "quot" => "\"".to_string(),
                    n => n
                        .strip_prefix("#x")
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
                        .and_then(char::from_u32)
                        .map(String::from)
                        .unwrap_or_default(),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Ok(XmlEvent::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "the event XML is malformed at byte {}: {e}",
                    reader.error_position()
                ));
            }
        }
    }
    if stack.len() != 1 {
        return Err("the event XML ends inside an element".into());
    }
    let root = stack.pop().unwrap_or_default();
    let event = root
        .children
        .into_iter()
        .find(|c| c.name == "Event")
        .ok_or("there is no <Event> element")?;
    let mut out = Map::new();
    out.insert("Event".into(), convert(&event, false));
    Ok(Value::Object(out))
}

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.to_string(),
    }
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| format!("a malformed attribute: {e}"))?;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("a malformed attribute value: {e}"))?;
        attrs.push((a.key.as_ref().to_string(), value.into_owned()));
    }
    Ok(Element {
        name: local(e.name().as_ref()),
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn attributes(el: &Element) -> Map<String, Value> {
    el.attrs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

fn convert(el: &Element, in_event_data: bool) -> Value {
    if el.children.is_empty() {
        let text = el.text.trim_matches(|c| c == '\n' || c == '\r');
        if el.attrs.is_empty() {
            return if text.is_empty() && el.text.is_empty() {
                Value::Null
            } else {
                Value::String(el.text.clone())
            };
        }
        let mut m = Map::new();
        m.insert("#attributes".into(), Value::Object(attributes(el)));
        if !el.text.is_empty() {
            m.insert("#text".into(), Value::String(el.text.clone()));
        }
        return Value::Object(m);
    }
    let mut m = Map::new();
    if !el.attrs.is_empty() {
        m.insert("#attributes".into(), Value::Object(attributes(el)));
    }
    let data_section = el.name == "EventData" || in_event_data;
    let mut unnamed: Vec<Value> = Vec::new();
    for c in &el.children {
        if data_section && c.name == "Data" && c.children.is_empty() {
            match c.attrs.iter().find(|(k, _)| k == "Name") {
                Some((_, name)) => {
                    let v = Value::String(c.text.clone());
                    m.insert(name.clone(), v);
                }
                None => unnamed.push(Value::String(c.text.clone())),
            }
            continue;
        }
        let v = convert(c, false);
        match m.get_mut(&c.name) {
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                m.insert(c.name.clone(), v);
            }
        }
    }
    if !unnamed.is_empty() {
        let text = if unnamed.len() == 1 {
            unnamed.pop().unwrap_or(Value::Null)
        } else {
            Value::Array(unnamed)
        };
        let mut d = Map::new();
        d.insert("#text".into(), text);
        m.insert("Data".into(), Value::Object(d));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The comparison with the evtx crate on real records needs the shared test data: tests/evtx_input.rs.

    #[test]
    fn hostile_xml_is_an_error_not_a_panic() {
        for bad in [
            "",
            "<Event>",
            "<Event><System></Event>",
            "not xml",
            "<Other/>",
            "<Event a=\"1\" a=\"2\"/>",
            "<Event>&bogus;</Event>",
        ] {
            let _ = event_to_json(bad);
        }
        assert!(
            event_to_json("<Other/>")
                .unwrap_err()
                .contains("no <Event>")
        );
        let v = event_to_json("<Event><System><EventID Qualifiers=\"16384\">7036</EventID></System><EventData><Data>a &amp; b</Data><Data>c</Data></EventData></Event>").unwrap();
        assert_eq!(v["Event"]["System"]["EventID"]["#text"], "7036");
        assert_eq!(v["Event"]["EventData"]["Data"]["#text"][0], "a & b");
    }
}
