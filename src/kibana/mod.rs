//! Kibana: the data view and dashboard for the indices logward writes (`objects`), and their import through
//! Kibana's saved objects API (`import`), used by `logward setup --kibana URL`.

pub mod objects;

use anyhow::{Context, anyhow};
use serde_json::Value;

/// Where and how to import.
pub struct Target<'a> {
    /// Kibana's base URL, e.g. `http://127.0.0.1:5601` (a base path such as `/kibana` is kept).
    pub url: &'a str,
    /// The Kibana space; `None` for the default space.
    pub space: Option<&'a str>,
}

/// The import URL: `<url>[/s/<space>]/api/saved_objects/_import?overwrite=true`.
pub fn import_url(target: &Target) -> anyhow::Result<String> {
    let base = target.url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(anyhow!(
            "the Kibana URL `{}` must start with http:// or https://",
            target.url
        ));
    }
    let space = match target.space {
        Some(s) if !s.is_empty() && s != "default" => {
            if !s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            {
                return Err(anyhow!(
                    "the Kibana space `{s}` is not a space id (lower-case letters, digits, `-` and `_`)"
                ));
            }
            format!("/s/{s}")
        }
        _ => String::new(),
    };
    Ok(format!(
        "{base}{space}/api/saved_objects/_import?overwrite=true"
    ))
}

/// The body of a `multipart/form-data` request with the NDJSON as the one `file` part Kibana expects.
/// Written out here because it is one fixed part: reqwest's multipart support would add two crates for it.
pub fn multipart_body(ndjson: &str) -> (String, Vec<u8>) {
    // The boundary must not occur in the content: the objects are JSON, which never holds this run of dashes
    // followed by these letters outside a string, and the check below makes sure of strings too.
    let mut boundary = String::from("logward-saved-objects-boundary");
    while ndjson.contains(&boundary) {
        boundary.push('x');
    }
    let mut body = Vec::with_capacity(ndjson.len() + 256);
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(
        b"Content-Disposition: form-data; name=\"file\"; filename=\"logward.ndjson\"\r\n",
    );
    body.extend_from_slice(b"Content-Type: application/ndjson\r\n\r\n");
    body.extend_from_slice(ndjson.as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Sends the objects for `patterns` to Kibana with `client` (the Elasticsearch output's client: the same
/// credentials and TLS settings, as Kibana users are Elasticsearch users). Returns the lines `setup` prints.
pub async fn import(
    client: &reqwest::Client,
    target: &Target<'_>,
    patterns: &[String],
) -> anyhow::Result<Vec<String>> {
    let url = import_url(target)?;
    let ndjson = objects::ndjson(patterns);
    let count = ndjson.lines().count();
    let (content_type, body) = multipart_body(&ndjson);
    let resp = client
        .post(&url)
        .header("kbn-xsrf", "true")
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach Kibana at {}", target.url))?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .await
        .with_context(|| format!("Kibana at {} broke off its answer", target.url))?;
    let excerpt: String = text.chars().take(300).collect();
    match status {
        200 => {}
        401 | 403 => {
            return Err(anyhow!(
                "Kibana at {} refused the request ({status}): the Elasticsearch output's credentials need \
                 the Kibana privilege to manage saved objects; it said: {excerpt}",
                target.url
            ));
        }
        404 => {
            return Err(anyhow!(
                "Kibana at {} has no saved objects import API at {url} (404): is it Kibana 7.10 or later, \
                 and does the space exist? It said: {excerpt}",
                target.url
            ));
        }
        _ => {
            return Err(anyhow!(
                "Kibana at {} answered {status} to the import: {excerpt}",
                target.url
            ));
        }
    }
    let answer: Value = serde_json::from_str(&text)
        .with_context(|| format!("Kibana's answer to the import is not JSON: {excerpt}"))?;
    let imported = answer["successCount"].as_u64().unwrap_or(0);
    if answer["success"] != Value::Bool(true) {
        let errors: Vec<String> = answer["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        format!(
                            "{} `{}`: {}",
                            e["type"].as_str().unwrap_or("?"),
                            e["id"].as_str().unwrap_or("?"),
                            e["error"]["type"].as_str().unwrap_or("unknown error")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        return Err(anyhow!(
            "Kibana imported {imported} of {count} objects; the others failed: {}",
            if errors.is_empty() {
                excerpt
            } else {
                errors.join("; ")
            }
        ));
    }
    Ok(vec![format!(
        "Kibana at {}: imported {imported} of {count} saved objects (data view `{}` over {}, dashboard \
         `logward: overview`)",
        target.url,
        objects::DATA_VIEW_ID,
        if patterns.is_empty() {
            "logward-*".to_string()
        } else {
            patterns.join(",")
        }
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_url_keeps_the_base_path_and_adds_the_space() {
        let t = Target {
            url: "https://kb.example:5601/kibana/",
            space: Some("ops"),
        };
        assert_eq!(
            import_url(&t).unwrap(),
            "https://kb.example:5601/kibana/s/ops/api/saved_objects/_import?overwrite=true"
        );
        let t = Target {
            url: "http://127.0.0.1:5601",
            space: Some("default"),
        };
        assert_eq!(
            import_url(&t).unwrap(),
            "http://127.0.0.1:5601/api/saved_objects/_import?overwrite=true"
        );
        assert!(
            import_url(&Target {
                url: "kb:5601",
                space: None
            })
            .is_err()
        );
        assert!(
            import_url(&Target {
                url: "http://kb",
                space: Some("../x")
            })
            .is_err()
        );
    }

    #[test]
    fn multipart_body_has_one_file_part() {
        let (ct, body) = multipart_body("{\"a\":1}\n");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert!(text.contains("name=\"file\"; filename=\"logward.ndjson\""));
        assert!(text.contains("\r\n\r\n{\"a\":1}\n\r\n"));
    }
}
