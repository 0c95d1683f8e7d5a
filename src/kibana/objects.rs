//! The Kibana saved objects logward ships: a data view for the indices an Elasticsearch output writes, four
//! visualizations and a dashboard that puts them together. They are built here, in one place, and written
//! either to Kibana's import API (`logward setup --kibana URL`) or to a file for a manual import
//! (`logward setup --kibana-export FILE`; the copy in `deploy/kibana/` is that file for the default index).
//!
//! The visualizations are the aggregation-based kind (`visualization` saved objects with a `visState`):
//! unlike Lens panels their format has been stable from Kibana 7.10 through 8.x, and Kibana migrates them on
//! import. The objects carry no migration version for the same reason: Kibana then applies every migration
//! of their type, which is what it does for objects exported from an older release.

use serde_json::{Value, json};

/// The id of the data view, referenced by every visualization and the saved search.
pub const DATA_VIEW_ID: &str = "logward-logs";
/// The id of the dashboard.
pub const DASHBOARD_ID: &str = "logward-overview";

/// The ERROR-and-worse events, in KQL. Levels are compared as loggers write them (upper and lower case),
/// since `log.level` is a keyword kept as the application wrote it.
const ERRORS_KQL: &str = "log.level:(ERROR or error or Error or FATAL or fatal or CRITICAL or critical or crit or err or emerg or alert)";

/// The saved objects for a data view over `patterns` (comma-joined, as Kibana accepts several index patterns
/// in one data view), in the order Kibana imports them: referenced objects first.
pub fn saved_objects(patterns: &[String]) -> Vec<Value> {
    let title = if patterns.is_empty() {
        "logward-*".to_string()
    } else {
        patterns.join(",")
    };
    let mut objects = vec![json!({
        "type": "index-pattern",
        "id": DATA_VIEW_ID,
        "attributes": {
            "title": title,
            "name": format!("logward: {title}"),
            "timeFieldName": "@timestamp"
        },
        "references": []
    })];
    let panels = [
        visualization(
            "logward-events-by-level",
            "logward: events over time by log.level",
            "Every event, counted per time bucket and stacked by its log.level.",
            "",
            "histogram",
            vec![
                count_metric(),
                date_histogram("auto"),
                terms("3", "group", "log.level", 10),
            ],
        ),
        visualization(
            "logward-errors-by-service",
            "logward: errors by service.name",
            "ERROR and worse events, per service.",
            ERRORS_KQL,
            "horizontal_bar",
            vec![count_metric(), terms("2", "segment", "service.name", 20)],
        ),
        visualization(
            "logward-error-trend",
            "logward: error trend (5-minute buckets)",
            "ERROR and worse events in 5-minute buckets.",
            ERRORS_KQL,
            "line",
            vec![count_metric(), date_histogram("5m")],
        ),
        saved_search(
            "logward-latest-errors",
            "logward: latest error messages",
            ERRORS_KQL,
        ),
    ];
    let mut references = Vec::new();
    let mut panels_json = Vec::new();
    for (i, panel) in panels.iter().enumerate() {
        let index = (i + 1).to_string();
        // Two panels a row, each half the dashboard's 48 columns wide; the saved search gets a full row.
        let (x, y, w) = match i {
            0 => (0, 0, 24),
            1 => (24, 0, 24),
            2 => (0, 15, 24),
            _ => (24, 15, 24),
        };
        panels_json.push(json!({
            "panelIndex": index,
            "gridData": {"x": x, "y": y, "w": w, "h": 15, "i": index},
            "embeddableConfig": {},
            "panelRefName": format!("panel_{i}")
        }));
        references.push(json!({
            "name": format!("panel_{i}"),
            "type": panel["type"],
            "id": panel["id"]
        }));
    }
    objects.extend(panels);
    objects.push(json!({
        "type": "dashboard",
        "id": DASHBOARD_ID,
        "attributes": {
            "title": "logward: overview",
            "description": "Events by level, errors by service, the error trend and the latest errors of the indices logward writes.",
            "panelsJSON": Value::Array(panels_json).to_string(),
            "optionsJSON": json!({"useMargins": true, "hidePanelTitles": false}).to_string(),
            "timeRestore": true,
            "timeFrom": "now-24h",
            "timeTo": "now",
            "refreshInterval": {"pause": false, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json!({"query": {"query": "", "language": "kuery"}, "filter": []}).to_string()
            }
        },
        "references": references
    }));
    objects
}

/// The objects as NDJSON, one per line, as Kibana's import API and its Saved Objects page take them.
pub fn ndjson(patterns: &[String]) -> String {
    let mut out = String::new();
    for object in saved_objects(patterns) {
        out.push_str(&object.to_string());
        out.push('\n');
    }
    out
}

/// The search source every object bound to the data view carries: its query and the reference to the view.
fn search_source(kql: &str) -> String {
    json!({
        "query": {"query": kql, "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"
    })
    .to_string()
}

fn data_view_reference() -> Value {
    json!([{
        "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
        "type": "index-pattern",
        "id": DATA_VIEW_ID
    }])
}

fn count_metric() -> Value {
    json!({"id": "1", "enabled": true, "type": "count", "params": {}, "schema": "metric"})
}

fn date_histogram(interval: &str) -> Value {
    json!({
        "id": "2", "enabled": true, "type": "date_histogram", "schema": "segment",
        "params": {"field": "@timestamp", "interval": interval, "min_doc_count": 1, "extended_bounds": {}}
    })
}

fn terms(id: &str, schema: &str, field: &str, size: u32) -> Value {
    json!({
        "id": id, "enabled": true, "type": "terms", "schema": schema,
        "params": {
            "field": field, "size": size, "order": "desc", "orderBy": "1",
            "otherBucket": true, "otherBucketLabel": "Other",
            "missingBucket": true, "missingBucketLabel": "(none)"
        }
    })
}

/// An aggregation-based chart. `kind` is the vislib type: `histogram`, `horizontal_bar` or `line`.
fn visualization(
    id: &str,
    title: &str,
    description: &str,
    kql: &str,
    kind: &str,
    aggs: Vec<Value>,
) -> Value {
    let series_type = if kind == "line" { "line" } else { "histogram" };
    let (category_position, value_position) = if kind == "horizontal_bar" {
        ("left", "bottom")
    } else {
        ("bottom", "left")
    };
    let vis_state = json!({
        "title": title,
        "type": kind,
        "aggs": aggs,
        "params": {
            "type": kind,
            "addTooltip": true,
            "addLegend": true,
            "legendPosition": "right",
            "times": [],
            "addTimeMarker": false,
            "categoryAxes": [{
                "id": "CategoryAxis-1", "type": "category", "position": category_position, "show": true,
                "scale": {"type": "linear"}, "labels": {"show": true, "filter": true, "truncate": 100}, "title": {}
            }],
            "valueAxes": [{
                "id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": value_position,
                "show": true, "scale": {"type": "linear", "mode": "normal"},
                "labels": {"show": true, "rotate": 0, "filter": false, "truncate": 100},
                "title": {"text": "Count"}
            }],
            "seriesParams": [{
                "show": true, "type": series_type, "mode": "stacked",
                "data": {"label": "Count", "id": "1"}, "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": true, "lineWidth": 2, "showCircles": true
            }]
        }
    });
    json!({
        "type": "visualization",
        "id": id,
        "attributes": {
            "title": title,
            "description": description,
            "visState": vis_state.to_string(),
            "uiStateJSON": "{}",
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source(kql)}
        },
        "references": data_view_reference()
    })
}

/// A saved search (a Discover table). `message` is mapped as text (`match_only_text` on Elasticsearch, as
/// Filebeat maps it), which cannot be aggregated, so the error messages are listed newest first instead of
/// counted.
fn saved_search(id: &str, title: &str, kql: &str) -> Value {
    json!({
        "type": "search",
        "id": id,
        "attributes": {
            "title": title,
            "description": "The newest ERROR and worse events with their service and message.",
            "columns": ["service.name", "log.level", "message"],
            "sort": [["@timestamp", "desc"]],
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source(kql)}
        },
        "references": data_view_reference()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Every reference of every object points at an object of the set, with the type it has there, and
    /// every embedded JSON string parses: what Kibana's import checks first.
    #[test]
    fn objects_reference_only_each_other_and_embed_valid_json() {
        let objects = saved_objects(&["app-*".into(), "logs-*".into()]);
        let known: HashSet<(String, String)> = objects
            .iter()
            .map(|o| {
                (
                    o["type"].as_str().unwrap().to_string(),
                    o["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(known.len(), objects.len(), "ids are unique per type");
        for o in &objects {
            for r in o["references"].as_array().unwrap() {
                let key = (
                    r["type"].as_str().unwrap().to_string(),
                    r["id"].as_str().unwrap().to_string(),
                );
                assert!(
                    known.contains(&key),
                    "{} refers to missing {key:?}",
                    o["id"]
                );
            }
            let a = &o["attributes"];
            for key in ["visState", "uiStateJSON", "panelsJSON", "optionsJSON"] {
                if let Some(s) = a.get(key) {
                    serde_json::from_str::<Value>(s.as_str().unwrap()).unwrap();
                }
            }
            if let Some(s) = a.pointer("/kibanaSavedObjectMeta/searchSourceJSON") {
                serde_json::from_str::<Value>(s.as_str().unwrap()).unwrap();
            }
        }
        assert_eq!(objects[0]["attributes"]["title"], "app-*,logs-*");
    }

    /// Each dashboard panel's `panelRefName` names one of the dashboard's references.
    #[test]
    fn dashboard_panels_resolve_to_references() {
        let objects = saved_objects(&[]);
        let dashboard = objects.iter().find(|o| o["type"] == "dashboard").unwrap();
        let names: HashSet<&str> = dashboard["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        let panels: Vec<Value> =
            serde_json::from_str(dashboard["attributes"]["panelsJSON"].as_str().unwrap()).unwrap();
        assert_eq!(panels.len(), 4);
        for p in panels {
            assert!(names.contains(p["panelRefName"].as_str().unwrap()));
        }
    }
}
