//! What `logward setup` can tell, from the configuration alone, about events the template it installs
//! would make the server refuse (each refused event goes to the dead-letter file instead of the index).

use crate::config::Config;
use crate::inputs::file::config::FileInputConfig;
use serde_json::Value;

/// Warnings, one a line, naming the input and the field.
pub fn warnings(config: &Config, mappings: &Value) -> Vec<String> {
    let Some(props) = mappings.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for input in &config.inputs {
        if input.options.fields_under_root {
            for (k, v) in &input.options.fields {
                constant(&input.id, k, v, props.get(k), &mut out);
            }
        }
        let json_at_root = input
            .config_as::<FileInputConfig>()
            .and_then(|c| c.json.as_ref())
            .is_some_and(|j| j.keys_under_root);
        if json_at_root {
            let objects: Vec<String> = props
                .iter()
                .filter(|(k, m)| m.get("properties").is_some() && k.as_str() != "error")
                .map(|(k, _)| format!("`{k}`"))
                .collect();
            out.push(format!(
                "input `{}` puts the keys of JSON lines at the root: the template maps {} as objects, so a line where one of them is text or a number is refused and dead-lettered (a text `error` is made `error.message`); rename such keys with a `mutate` processor",
                input.id,
                objects.join(", ")
            ));
        }
    }
    out
}

/// A constant field `path` = `value` against the template's mapping of it.
fn constant(input: &str, path: &str, value: &Value, mapping: Option<&Value>, out: &mut Vec<String>) {
    let Some(mapping) = mapping else {
        return;
    };
    match (value, mapping.get("properties").and_then(Value::as_object)) {
        (Value::Object(fields), Some(props)) => {
            for (k, v) in fields {
                constant(input, &format!("{path}.{k}"), v, props.get(k), out);
            }
        }
        (Value::Object(_), None) => out.push(format!(
            "input `{input}`: the field `{path}` (fields, at the root) is an object, but the template maps it as {}: every event of this input would be refused; rename it or set fields_under_root: false",
            mapping.get("type").and_then(Value::as_str).unwrap_or("a value")
        )),
        (_, Some(_)) => out.push(format!(
            "input `{input}`: the field `{path}` (fields, at the root) is {value}, but the template maps `{path}` as an object: every event of this input would be refused; rename it or set fields_under_root: false"
        )),
        (_, None) => {}
    }
}
