//! The `/metrics` text: every registered metric, the agent's build and readiness, and the process's
//! resource use under the standard `process_*` names.

use crate::observe::metrics::{self, Format, write_header};
use crate::observe::{health, process};
use std::fmt::Write as _;
use std::time::Duration;

/// The content type of each format.
pub fn content_type(format: Format) -> &'static str {
    match format {
        Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
    }
}

/// The format an `Accept` header asks for: OpenMetrics when it is offered with a non-zero quality
/// (Prometheus offers it first), the classic text otherwise.
pub fn negotiate(accept: Option<&str>) -> Format {
    let wants_openmetrics = accept.is_some_and(|a| {
        a.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !q_zero
        })
    });
    if wants_openmetrics {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

fn family(format: Format, counter: &str) -> &str {
    match format {
        Format::OpenMetrics => counter.strip_suffix("_total").unwrap_or(counter),
        Format::Prometheus => counter,
    }
}

/// `logward_file_lag_bytes{component_id, path}`: how far each file input's acknowledged position is
/// behind each file's size (the [`super::status::MAX_FILES`] furthest behind per input).
fn file_lag(out: &mut String, data_dir: &std::path::Path) {
    let mut header = false;
    for c in health::components()
        .iter()
        .filter(|c| c.kind == "input" && c.component_type == "file")
    {
        for f in super::status::files(data_dir, &c.id)
            .as_array()
            .into_iter()
            .flatten()
        {
            let (Some(path), Some(lag)) = (f["path"].as_str(), f["lag_bytes"].as_u64()) else {
                continue;
            };
            if !header {
                write_header(
                    out,
                    "logward_file_lag_bytes",
                    "gauge",
                    Some(
                        "Bytes of a file not yet delivered: its size minus the position acknowledged.",
                    ),
                );
                header = true;
            }
            let path = path
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let id = c.id.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "logward_file_lag_bytes{{component_id=\"{id}\",path=\"{path}\"}} {lag}"
            );
        }
    }
}

/// The whole `/metrics` answer in `format`; file lag is read from the registries in `data_dir`.
pub fn render(
    format: Format,
    ready_delivery_timeout: Duration,
    data_dir: Option<&std::path::Path>,
) -> String {
    let mut out = metrics::render(format);
    if let Some(dir) = data_dir {
        file_lag(&mut out, dir);
    }
    write_header(
        &mut out,
        "logward_build_info",
        "gauge",
        Some("The running build: always 1, with the version and target as labels."),
    );
    let _ = writeln!(
        out,
        "logward_build_info{{version=\"{}\",target=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        env!("LOGWARD_TARGET")
    );
    write_header(
        &mut out,
        "logward_ready",
        "gauge",
        Some("1 when /health/ready answers 200, 0 otherwise."),
    );
    let ready = health::not_ready(ready_delivery_timeout).is_empty();
    let _ = writeln!(out, "logward_ready {}", u8::from(ready));

    let p = process::stats();
    let mut gauge = |name: &str, help: &str, value: Option<f64>| {
        if let Some(v) = value {
            write_header(&mut out, name, "gauge", Some(help));
            let _ = writeln!(out, "{name} {v}");
        }
    };
    gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        p.resident_bytes.map(|v| v as f64),
    );
    gauge(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        p.virtual_bytes.map(|v| v as f64),
    );
    gauge(
        "process_open_fds",
        "Number of open file descriptors.",
        p.open_fds.map(|v| v as f64),
    );
    gauge(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        p.max_fds.map(|v| v as f64),
    );
    gauge(
        "process_open_handles",
        "Number of open handles.",
        p.open_handles.map(|v| v as f64),
    );
    gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        p.start_time_seconds,
    );
    if let Some(cpu) = p.cpu_seconds {
        let name = "process_cpu_seconds_total";
        write_header(
            &mut out,
            family(format, name),
            "counter",
            Some("Total user and system CPU time spent in seconds."),
        );
        let _ = writeln!(out, "{name} {cpu}");
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_is_chosen_only_when_offered() {
        assert_eq!(negotiate(None), Format::Prometheus);
        assert_eq!(negotiate(Some("text/plain")), Format::Prometheus);
        assert_eq!(
            negotiate(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text; q=0, text/plain")),
            Format::Prometheus
        );
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let m = crate::observe::component::ComponentMetrics::new(
            crate::observe::component::Kind::Input,
            "expo-test",
            "stdin",
        );
        m.received_events().add(5);
        let om = render(Format::OpenMetrics, Duration::from_secs(60), None);
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(om.contains("# TYPE logward_component_received_events counter\n"));
        assert!(om.contains("logward_component_received_events_total{component_id=\"expo-test\",component_kind=\"input\",component_type=\"stdin\"} 5\n"));
        let text = render(Format::Prometheus, Duration::from_secs(60), None);
        assert!(text.contains("# TYPE logward_component_received_events_total counter\n"));
        assert!(!text.contains("# EOF"));
        assert!(text.contains("logward_build_info{version=\""));
    }
}
