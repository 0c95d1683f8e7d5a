//! `logward search`: queries the cluster an output ships to. Past one page it pages with a point in time
//! and `search_after` (Elasticsearch `_pit`, OpenSearch `_search/point_in_time`, tie-broken by
//! `_shard_doc`), so any number of hits comes back, each exactly once, beyond the 10,000 that
//! `from`/`size` can reach.

use super::client::{AnswerLimit, Cluster, Distribution, ServerInfo, excerpt};
use super::config::ElasticsearchConfig;
use serde_json::{Value, json};

/// What to look for.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// Indices (comma-separated patterns).
    pub index: String,
    /// A Lucene query string (`level:ERROR AND service:api`); empty for everything.
    pub query: String,
    /// Lower bound on `@timestamp`: `now-15m` style or RFC 3339.
    pub from: Option<String>,
    /// Upper bound on `@timestamp`.
    pub to: Option<String>,
    /// Fields to return (`_source` filtering); empty for all.
    pub fields: Vec<String>,
    /// Sort keys as `field:asc|desc`.
    pub sort: Vec<(String, bool)>,
    /// The most hits to return; `None` for all.
    pub limit: Option<u64>,
    /// Hits per request.
    pub page_size: u64,
}

/// One hit.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Its index.
    pub index: String,
    /// Its id.
    pub id: String,
    /// The document.
    pub source: Value,
}

fn query_body(req: &SearchRequest) -> Value {
    let mut filters = Vec::new();
    if !req.query.trim().is_empty() {
        filters.push(json!({"query_string": {"query": req.query, "default_operator": "AND"}}));
    }
    if req.from.is_some() || req.to.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(f) = &req.from {
            range.insert("gte".into(), json!(f));
        }
        if let Some(t) = &req.to {
            range.insert("lte".into(), json!(t));
        }
        filters.push(json!({"range": {"@timestamp": range}}));
    }
    if filters.is_empty() {
        json!({"match_all": {}})
    } else {
        json!({"bool": {"filter": filters}})
    }
}

fn sort_body(req: &SearchRequest, tiebreak: bool) -> Value {
    let mut sort: Vec<Value> = req
        .sort
        .iter()
        .map(|(f, asc)| {
            json!({f: {"order": if *asc { "asc" } else { "desc" }, "unmapped_type": "keyword"}})
        })
        .collect();
    if tiebreak {
        sort.push(json!({"_shard_doc": "asc"}));
    }
    Value::Array(sort)
}

struct Pit {
    id: String,
    distribution: Distribution,
}

async fn open_pit(cluster: &Cluster, info: &ServerInfo, index: &str) -> anyhow::Result<Pit> {
    let path = match info.distribution {
        Distribution::Elasticsearch => format!("/{index}/_pit?keep_alive=2m"),
        Distribution::OpenSearch => format!("/{index}/_search/point_in_time?keep_alive=2m"),
    };
    let a = cluster
        .request(reqwest::Method::POST, &path, None, AnswerLimit::SMALL)
        .await
        .map_err(|e| anyhow::anyhow!("opening a point in time: {e}"))?;
    let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
    let id = v
        .get("id")
        .or_else(|| v.get("pit_id"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} cannot open a point in time for paging (HTTP {}: {}); ask for fewer hits with --limit",
                info,
                a.status,
                excerpt(&a.body)
            )
        })?;
    Ok(Pit {
        id: id.to_string(),
        distribution: info.distribution,
    })
}

async fn close_pit(cluster: &Cluster, pit: Pit) {
    let (path, body) = match pit.distribution {
        Distribution::Elasticsearch => ("/_pit", json!({"id": pit.id})),
        Distribution::OpenSearch => ("/_search/point_in_time", json!({"pit_id": [pit.id]})),
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let _ = cluster
        .request(
            reqwest::Method::DELETE,
            path,
            Some((body, "application/json", false)),
            AnswerLimit::SMALL,
        )
        .await;
}

/// Runs a search; `on_hit` gets every hit in order. Returns the number of hits returned and the total
/// the server counted.
pub async fn search(
    cfg: &ElasticsearchConfig,
    req: &SearchRequest,
    mut on_hit: impl FnMut(Hit) -> anyhow::Result<()>,
) -> anyhow::Result<(u64, u64)> {
    let cluster = Cluster::new(cfg)?;
    let info = cluster.info().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let page = req.page_size.clamp(1, 10_000);
    let one_page = req.limit.is_some_and(|l| l <= page);
    let pit = if one_page {
        None
    } else {
        Some(open_pit(&cluster, &info, &req.index).await?)
    };
    let mut returned = 0u64;
    let mut total = 0u64;
    let mut after: Option<Value> = None;
    let result: anyhow::Result<()> = async {
        loop {
            let want = req.limit.map_or(page, |l| (l - returned).min(page));
            if want == 0 {
                break;
            }
            let mut body = json!({
                "size": want,
                "query": query_body(req),
                "sort": sort_body(req, pit.is_some()),
                "track_total_hits": true,
            });
            if !req.fields.is_empty() {
                body["_source"] = json!(req.fields);
            }
            let path = match &pit {
                Some(p) => {
                    body["pit"] = json!({"id": p.id, "keep_alive": "2m"});
                    "/_search".to_string()
                }
                None => format!("/{}/_search", req.index),
            };
            if let Some(a) = &after {
                body["search_after"] = a.clone();
            }
            let a = cluster
                .request(
                    reqwest::Method::POST,
                    &path,
                    Some((serde_json::to_vec(&body)?, "application/json", false)),
                    AnswerLimit::SEARCH_PAGE,
                )
                .await
                .map_err(|e| anyhow::anyhow!("searching: {e}"))?;
            match a.status {
                200 => {}
                401 | 403 => anyhow::bail!(cluster.auth_failure(&a)),
                404 => anyhow::bail!("no index matches `{}` on {}", req.index, a.host),
                s => anyhow::bail!("the search failed with HTTP {s}: {}", excerpt(&a.body)),
            }
            let v: Value = serde_json::from_slice(&a.body)
                .map_err(|e| anyhow::anyhow!("the search answer is not JSON: {e}"))?;
            total = v
                .pointer("/hits/total/value")
                .or_else(|| v.pointer("/hits/total"))
                .and_then(Value::as_u64)
                .unwrap_or(total);
            let hits = v
                .pointer("/hits/hits")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let n = hits.len() as u64;
            for h in hits {
                after = h.get("sort").cloned();
                on_hit(Hit {
                    index: h.get("_index").and_then(Value::as_str).unwrap_or("").into(),
                    id: h.get("_id").and_then(Value::as_str).unwrap_or("").into(),
                    source: h.get("_source").cloned().unwrap_or(Value::Null),
                })?;
            }
            returned += n;
            if n < want || pit.is_none() || after.is_none() {
                break;
            }
        }
        Ok(())
    }
    .await;
    if let Some(p) = pit {
        close_pit(&cluster, p).await;
    }
    result?;
    Ok((returned, total))
}

/// Parses `--sort field:asc,other:desc`.
pub fn parse_sort(text: &str) -> Result<Vec<(String, bool)>, String> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let (f, dir) = s.trim().rsplit_once(':').unwrap_or((s.trim(), "asc"));
            match dir {
                "asc" => Ok((f.to_string(), true)),
                "desc" => Ok((f.to_string(), false)),
                d => Err(format!("`{d}` in `{s}`: write the order as asc or desc")),
            }
        })
        .collect()
}

/// A time bound: `15m`/`2h`/`7d` become `now-15m`, anything else is passed as is (RFC 3339, date math).
pub fn time_bound(text: &str) -> String {
    let t = text.trim();
    let is_span = t.len() > 1
        && t[..t.len() - 1].chars().all(|c| c.is_ascii_digit())
        && matches!(t.chars().last(), Some('s' | 'm' | 'h' | 'd' | 'w'));
    if is_span {
        format!("now-{t}")
    } else {
        t.to_string()
    }
}

/// Renders hits as an aligned text table of `fields`.
pub fn table_row(source: &Value, fields: &[String], widths: &[usize]) -> String {
    let mut row = String::new();
    for (i, f) in fields.iter().enumerate() {
        let v = lookup(source, f);
        let text = match v {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        };
        let text: String = text.replace(['\n', '\t'], " ");
        let w = widths.get(i).copied().unwrap_or(30);
        let cut: String = text.chars().take(w).collect();
        if i + 1 == fields.len() {
            row.push_str(&cut);
        } else {
            row.push_str(&format!("{cut:<w$}  "));
        }
    }
    row
}

/// A field by dotted path, whether the document nests it or has a dotted key.
pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(x) = v.get(path) {
        return Some(x);
    }
    let (head, rest) = path.split_once('.')?;
    lookup(v.get(head)?, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_sorts_and_bounds() {
        let req = SearchRequest {
            index: "logs-*".into(),
            query: "level:ERROR".into(),
            from: Some(time_bound("15m")),
            to: None,
            fields: vec![],
            sort: parse_sort("@timestamp:desc").unwrap(),
            limit: Some(10),
            page_size: 1000,
        };
        let q = query_body(&req);
        assert_eq!(
            q["bool"]["filter"][1]["range"]["@timestamp"]["gte"],
            "now-15m"
        );
        let s = sort_body(&req, true);
        assert_eq!(s[0]["@timestamp"]["order"], "desc");
        assert_eq!(s[1]["_shard_doc"], "asc");
        assert_eq!(time_bound("2026-11-24T00:00:00Z"), "2026-11-24T00:00:00Z");
        assert!(parse_sort("a:up").is_err());
        let doc = json!({"log": {"level": "ERROR"}, "a.b": 1, "message": "x\ny"});
        assert_eq!(lookup(&doc, "log.level"), Some(&json!("ERROR")));
        assert_eq!(lookup(&doc, "a.b"), Some(&json!(1)));
        let widths = [5, 10];
        let fields = ["log.level".to_string(), "message".to_string()];
        assert_eq!(table_row(&doc, &fields, &widths), "ERROR  x y");
    }
}
