//! `logward setup`: installs an index template with ECS-style mappings for the fields logward writes, and
//! a lifecycle policy where the server has one (ILM on Elasticsearch, ISM on OpenSearch). Idempotent:
//! running it again reports "unchanged".

use super::client::{AnswerLimit, Cluster, Distribution, ServerInfo, excerpt};
use super::config::ElasticsearchConfig;
use serde_json::{Value, json};

/// What `setup` did, one line per step, for the user.
pub type Report = Vec<String>;

/// The index patterns the template applies to.
pub fn patterns(cfg: &ElasticsearchConfig) -> Vec<String> {
    if let Some(p) = &cfg.template.patterns {
        return p.clone();
    }
    match cfg.index_template() {
        Ok(t) if t.is_static() => vec![t.wildcard()],
        Ok(t) => vec![t.wildcard()],
        Err(_) => vec!["logward-*".into()],
    }
}

/// The mappings of the fields logward's inputs write (ECS names, as Filebeat and Winlogbeat map them),
/// with any other string field mapped as `keyword` (up to 1024 characters) instead of text + keyword.
pub fn mappings(info: &ServerInfo) -> Value {
    let kw = json!({"type": "keyword", "ignore_above": 1024});
    let message = if info.distribution == Distribution::Elasticsearch
        && (info.major > 7 || info.version.as_str() >= "7.14")
    {
        json!({"type": "match_only_text"})
    } else {
        json!({"type": "text"})
    };
    json!({
        "dynamic_templates": [
            {"winlog_event_data": {"path_match": "winlog.event_data.*", "match_mapping_type": "string", "mapping": kw}},
            {"strings_as_keyword": {"match_mapping_type": "string", "mapping": kw}}
        ],
        "properties": {
            "@timestamp": {"type": "date"},
            "message": message,
            "tags": {"type": "keyword"},
            "log": {"properties": {
                "level": {"type": "keyword"},
                "offset": {"type": "long"},
                "file": {"properties": {"path": {"type": "keyword"}}}
            }},
            "host": {"properties": {"name": {"type": "keyword"}, "hostname": {"type": "keyword"}}},
            "input": {"properties": {"type": {"type": "keyword"}}},
            "ecs": {"properties": {"version": {"type": "keyword"}}},
            "error": {"properties": {"message": {"type": "text"}, "type": {"type": "keyword"}}},
            "event": {"properties": {
                "code": {"type": "keyword"},
                "provider": {"type": "keyword"},
                "kind": {"type": "keyword"},
                "action": {"type": "keyword"},
                "outcome": {"type": "keyword"},
                "created": {"type": "date"},
                "original": {"type": "keyword", "index": false, "doc_values": false}
            }},
            "winlog": {"properties": {
                "channel": {"type": "keyword"},
                "provider_name": {"type": "keyword"},
                "provider_guid": {"type": "keyword"},
                "computer_name": {"type": "keyword"},
                "event_id": {"type": "keyword"},
                "record_id": {"type": "keyword"},
                "task": {"type": "keyword"},
                "opcode": {"type": "keyword"},
                "keywords": {"type": "keyword"},
                "version": {"type": "long"},
                "process": {"properties": {"pid": {"type": "long"}, "thread": {"properties": {"id": {"type": "long"}}}}},
                "user": {"properties": {
                    "identifier": {"type": "keyword"}, "name": {"type": "keyword"},
                    "domain": {"type": "keyword"}, "type": {"type": "keyword"}
                }},
                "event_data": {"type": "object"}
            }}
        }
    })
}

fn uses_composable_templates(info: &ServerInfo) -> bool {
    match info.distribution {
        Distribution::OpenSearch => true,
        Distribution::Elasticsearch => {
            let minor = info
                .version
                .split('.')
                .nth(1)
                .and_then(|m| m.parse::<u32>().ok())
                .unwrap_or(0);
            info.major > 7 || (info.major == 7 && minor >= 8)
        }
    }
}

/// How many replicas the template asks for, and why (for `setup`'s report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replicas {
    /// `number_of_replicas`.
    pub count: u32,
    /// Also `auto_expand_replicas: 0-1` (the default, which follows the cluster's size).
    pub auto_expand: bool,
    /// Why this count, in words.
    pub reason: String,
}

impl Replicas {
    /// The configured count, or the default for a cluster with `data_nodes` data nodes (`None`: unknown).
    pub fn choose(configured: Option<u32>, data_nodes: Option<u64>) -> Replicas {
        match (configured, data_nodes) {
            (Some(n), _) => Replicas {
                count: n,
                auto_expand: false,
                reason: "template.replicas".into(),
            },
            (None, Some(nodes)) => Replicas {
                count: u32::from(nodes > 1),
                auto_expand: true,
                reason: format!(
                    "default for a cluster of {nodes} data node(s), auto-expanding 0-1; set template.replicas to choose"
                ),
            },
            (None, None) => Replicas {
                count: 1,
                auto_expand: true,
                reason: "default (the number of data nodes could not be read), auto-expanding 0-1; set template.replicas to choose".into(),
            },
        }
    }
}

/// The template body for this server.
pub fn template_body(
    cfg: &ElasticsearchConfig,
    info: &ServerInfo,
    lifecycle: bool,
    replicas: &Replicas,
) -> Value {
    let mut settings = json!({
        "number_of_shards": cfg.template.shards,
        "number_of_replicas": replicas.count,
    });
    if replicas.auto_expand {
        settings["auto_expand_replicas"] = json!("0-1");
    }
    if lifecycle && info.distribution == Distribution::Elasticsearch {
        settings["index.lifecycle.name"] = json!(cfg.template.name);
    }
    if uses_composable_templates(info) {
        let mut body = json!({
            "index_patterns": patterns(cfg),
            "priority": 200,
            "template": {"settings": settings, "mappings": mappings(info)},
            "_meta": {"managed_by": "logward", "version": env!("CARGO_PKG_VERSION")}
        });
        if cfg.data_stream.is_some() {
            body["data_stream"] = json!({});
        }
        body
    } else {
        let mut m = mappings(info);
        if info.major < 7 {
            m = json!({"_doc": m});
        }
        json!({"index_patterns": patterns(cfg), "order": 200, "settings": settings, "mappings": m})
    }
}

/// The template installed on the server, from the answer to GET.
fn installed_template(installed: &Value, composable: bool) -> Option<&Value> {
    if composable {
        installed
            .get("index_templates")
            .and_then(|t| t.get(0))
            .and_then(|t| t.get("index_template"))
    } else {
        installed.as_object().and_then(|o| o.values().next())
    }
}

/// Index settings as `index.a.b` → value as text, the way servers answer them (nested, values as strings),
/// whichever way they were written (`number_of_shards: 1`, `index.lifecycle.name`, `{index: {…}}`).
fn flat_settings(settings: Option<&Value>) -> std::collections::BTreeMap<String, String> {
    fn walk(prefix: &str, v: &Value, out: &mut std::collections::BTreeMap<String, String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut raw = std::collections::BTreeMap::new();
    if let Some(s) = settings {
        walk("", s, &mut raw);
    }
    raw.into_iter()
        .map(|(k, v)| {
            if k.starts_with("index.") {
                (k, v)
            } else {
                (format!("index.{k}"), v)
            }
        })
        .collect()
}

/// What differs between the installed template and the wanted one, in words; empty when they are the same.
fn template_differences(found: &Value, wanted: &Value, composable: bool) -> Vec<String> {
    let pick = |v: &Value, ptr: &str| v.pointer(ptr).cloned();
    let base = if composable { "/template" } else { "" };
    let mut diffs = Vec::new();
    if pick(found, "/index_patterns") != pick(wanted, "/index_patterns") {
        diffs.push("index patterns".to_string());
    }
    if pick(found, &format!("{base}/mappings")) != pick(wanted, &format!("{base}/mappings")) {
        diffs.push("mappings".to_string());
    }
    if composable && pick(found, "/_meta/version") != pick(wanted, "/_meta/version") {
        diffs.push("logward version".to_string());
    }
    let (have, want) = (
        flat_settings(found.pointer(&format!("{base}/settings"))),
        flat_settings(wanted.pointer(&format!("{base}/settings"))),
    );
    let keys: std::collections::BTreeSet<&String> = have.keys().chain(want.keys()).collect();
    for k in keys {
        let (a, b) = (have.get(k), want.get(k));
        if a != b {
            let show = |v: Option<&String>| v.map_or("(unset)".to_string(), |s| s.clone());
            diffs.push(format!("{k} {} → {}", show(a), show(b)));
        }
    }
    diffs
}

/// The number of data nodes of the cluster, from `_cluster/health`; `None` when it cannot be read.
async fn data_nodes(cluster: &Cluster) -> Option<u64> {
    let a = cluster
        .request(
            reqwest::Method::GET,
            "/_cluster/health",
            None,
            AnswerLimit::SMALL,
        )
        .await
        .ok()?;
    if a.status != 200 {
        return None;
    }
    serde_json::from_slice::<Value>(&a.body)
        .ok()?
        .get("number_of_data_nodes")?
        .as_u64()
}

/// Runs `setup` for one output. The error says which step failed and why.
pub async fn setup(cfg: &ElasticsearchConfig, name: &str) -> anyhow::Result<Report> {
    let cluster = Cluster::new(cfg)?;
    let info = cluster
        .info()
        .await
        .map_err(|e| anyhow::anyhow!("output `{name}`: {e:?}"))?;
    let mut report = vec![format!(
        "output `{name}`: {info} at {}",
        cluster.hosts().join(", ")
    )];
    let mut lifecycle = false;
    if let Some(delete_after) = cfg.template.delete_after {
        let days = (delete_after.get().as_secs() / 86_400).max(1);
        let (path, body, what) = match info.distribution {
            Distribution::Elasticsearch => (
                format!("/_ilm/policy/{}", cfg.template.name),
                json!({"policy": {"phases": {
                    "hot": {"actions": {}},
                    "delete": {"min_age": format!("{days}d"), "actions": {"delete": {}}}
                }}}),
                "ILM policy",
            ),
            Distribution::OpenSearch => (
                format!("/_plugins/_ism/policies/{}", cfg.template.name),
                json!({"policy": {
                    "description": "logward: delete old indices",
                    "default_state": "hot",
                    "states": [
                        {"name": "hot", "actions": [], "transitions": [{"state_name": "delete", "conditions": {"min_index_age": format!("{days}d")}}]},
                        {"name": "delete", "actions": [{"delete": {}}], "transitions": []}
                    ],
                    "ism_template": [{"index_patterns": patterns(cfg), "priority": 200}]
                }}),
                "ISM policy",
            ),
        };
        let a = cluster
            .request(
                reqwest::Method::PUT,
                &path,
                Some((serde_json::to_vec(&body)?, "application/json", false)),
                AnswerLimit::SMALL,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        match a.status {
            200 | 201 => {
                lifecycle = true;
                report.push(format!(
                    "{what} `{}` installed: indices are deleted after {days} days",
                    cfg.template.name
                ));
            }
            // ISM updates need the sequence number of the existing policy; an existing one is kept.
            409 => {
                lifecycle = true;
                report.push(format!(
                    "{what} `{}` already exists (kept)",
                    cfg.template.name
                ));
            }
            s if s == 404 || s == 405 || (s == 400 && excerpt(&a.body).contains("no handler")) => {
                report.push(format!(
                    "{what}: this server has no lifecycle management (HTTP {}); skipped, delete old indices another way",
                    a.status
                ));
            }
            401 | 403 => anyhow::bail!(cluster.auth_failure(&a)),
            s => anyhow::bail!("{what}: HTTP {s}: {}", excerpt(&a.body)),
        }
    }
    let composable = uses_composable_templates(&info);
    let path = if composable {
        format!("/_index_template/{}", cfg.template.name)
    } else {
        format!("/_template/{}", cfg.template.name)
    };
    let replicas = Replicas::choose(cfg.template.replicas, data_nodes(&cluster).await);
    let wanted = template_body(cfg, &info, lifecycle, &replicas);
    let existing = cluster
        .request(reqwest::Method::GET, &path, None, AnswerLimit::SMALL)
        .await
        .map_err(|e| anyhow::anyhow!("reading the index template: {e}"))?;
    let settings = format!(
        "{} shard(s), {} replica(s) ({})",
        cfg.template.shards, replicas.count, replicas.reason
    );
    let installed = (existing.status == 200)
        .then(|| serde_json::from_slice::<Value>(&existing.body).ok())
        .flatten();
    let differences = installed
        .as_ref()
        .and_then(|v| installed_template(v, composable))
        .map(|found| template_differences(found, &wanted, composable));
    if differences.as_ref().is_some_and(Vec::is_empty) {
        report.push(format!(
            "index template `{}` for {:?}: unchanged; {settings}",
            cfg.template.name,
            patterns(cfg)
        ));
        return Ok(report);
    }
    let a = cluster
        .request(
            reqwest::Method::PUT,
            &path,
            Some((serde_json::to_vec(&wanted)?, "application/json", false)),
            AnswerLimit::SMALL,
        )
        .await
        .map_err(|e| anyhow::anyhow!("installing the index template: {e}"))?;
    match a.status {
        200 | 201 => report.push(format!(
            "index template `{}` for {:?}: {}; {settings}; it applies to indices created from now on",
            cfg.template.name,
            patterns(cfg),
            match &differences {
                Some(d) => format!("updated ({})", d.join(", ")),
                None => "installed".to_string(),
            }
        )),
        401 | 403 => anyhow::bail!(cluster.auth_failure(&a)),
        s => anyhow::bail!(
            "installing the index template `{}`: HTTP {s}: {}",
            cfg.template.name,
            excerpt(&a.body)
        ),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(dist: Distribution, v: &str) -> ServerInfo {
        ServerInfo {
            distribution: dist,
            version: v.into(),
            major: v.split('.').next().unwrap().parse().unwrap(),
        }
    }

    #[test]
    fn templates_follow_the_server_and_the_index_pattern() {
        let cfg: ElasticsearchConfig =
            serde_json::from_str(r#"{"index":"app-%{[service]}-%{+yyyy.MM.dd}"}"#).unwrap();
        assert_eq!(patterns(&cfg), vec!["app-*-*"]);
        let r = Replicas::choose(None, Some(1));
        let es8 = template_body(&cfg, &info(Distribution::Elasticsearch, "8.15.3"), true, &r);
        assert_eq!(
            es8["template"]["mappings"]["properties"]["message"]["type"],
            "match_only_text"
        );
        assert_eq!(
            es8["template"]["settings"]["index.lifecycle.name"],
            "logward"
        );
        let os = template_body(&cfg, &info(Distribution::OpenSearch, "3.8.0"), true, &r);
        assert_eq!(
            os["template"]["mappings"]["properties"]["message"]["type"],
            "text"
        );
        assert!(
            os["template"]["settings"]
                .get("index.lifecycle.name")
                .is_none()
        );
        let es6 = template_body(&cfg, &info(Distribution::Elasticsearch, "6.8.0"), false, &r);
        assert!(es6["mappings"]["_doc"]["properties"].is_object());
        let ds: ElasticsearchConfig =
            serde_json::from_str(r#"{"data_stream":{"dataset":"nginx"}}"#).unwrap();
        let body = template_body(&ds, &info(Distribution::Elasticsearch, "8.15.3"), false, &r);
        assert_eq!(body["index_patterns"], json!(["logs-nginx-default"]));
        assert!(body["data_stream"].is_object());
    }

    #[test]
    fn settings_compare_as_servers_answer_them() {
        let found = json!({"index_patterns": ["a-*"], "template": {"settings": {"index": {"number_of_shards": "1", "number_of_replicas": "1"}}}});
        let same = json!({"index_patterns": ["a-*"], "template": {"settings": {"number_of_shards": 1, "number_of_replicas": 1}}});
        assert!(template_differences(&found, &same, true).is_empty());
        let fewer = json!({"index_patterns": ["a-*"], "template": {"settings": {"number_of_shards": 1, "number_of_replicas": 0}}});
        assert_eq!(
            template_differences(&found, &fewer, true),
            vec!["index.number_of_replicas 1 → 0"]
        );
        assert_eq!(Replicas::choose(None, Some(1)).count, 0);
        assert_eq!(Replicas::choose(None, Some(3)).count, 1);
        assert_eq!(Replicas::choose(Some(2), Some(1)).count, 2);
    }
}
