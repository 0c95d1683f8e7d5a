//! `logward setup` and `logward search`: the Elasticsearch side of a configuration.

use super::exit;
use crate::config::{Config, load_file};
use crate::outputs::elasticsearch::config::ElasticsearchConfig;
use crate::outputs::elasticsearch::search::{self, SearchRequest};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `setup`.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// The configuration file.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Only this Elasticsearch output (its `id`, or `elasticsearch-N`); default: every one.
    #[arg(long, value_name = "NAME")]
    pub output: Option<String>,
    /// Also import the data view and dashboard into this Kibana (e.g. `http://127.0.0.1:5601`), with the
    /// output's credentials and TLS settings.
    #[arg(long, value_name = "URL")]
    pub kibana: Option<String>,
    /// The Kibana space to import into (default: the default space).
    #[arg(long, value_name = "SPACE", requires = "kibana")]
    pub kibana_space: Option<String>,
    /// With --kibana: skip the index template and lifecycle policy, import into Kibana only.
    #[arg(long, requires = "kibana")]
    pub skip_template: bool,
    /// Write the Kibana saved objects (NDJSON, for Stack Management → Saved objects → Import) to FILE,
    /// or `-` for standard output, and contact nothing.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kibana", "skip_template"])]
    pub kibana_export: Option<PathBuf>,
}

/// Arguments of `search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The configuration file (its Elasticsearch output says where the cluster is).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// A query in Lucene syntax, e.g. 'log.level:ERROR AND service:api'. Empty: everything.
    #[arg(default_value = "")]
    pub query: String,
    /// Which Elasticsearch output's cluster to query (default: the first).
    #[arg(long, value_name = "NAME")]
    pub output: Option<String>,
    /// Indices to search (default: the output's index pattern with `*` for its variable parts).
    #[arg(long, value_name = "PATTERN")]
    pub index: Option<String>,
    /// Only events since then: `15m`, `2h`, `7d`, or a time (RFC 3339) or date math.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events until then (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Fields to show, comma-separated (default: whole documents; for the table: @timestamp, log.level, message).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub fields: Vec<String>,
    /// Sort order, e.g. `@timestamp:desc` (default `@timestamp:asc`).
    #[arg(long, value_name = "FIELD:ORDER", default_value = "@timestamp:asc")]
    pub sort: String,
    /// The most hits to print; 0 for all (paged with search_after past 10,000).
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// `ndjson` (one document per line) or `table`.
    #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "table"])]
    pub format: String,
    /// In ndjson, print `{"_index", "_id", "_source"}` instead of the bare document.
    #[arg(long)]
    pub with_meta: bool,
}

fn es_outputs(config: &Config) -> Vec<(String, &ElasticsearchConfig)> {
    config
        .outputs
        .iter()
        .filter_map(|o| Some((o.name.clone(), o.config_as::<ElasticsearchConfig>()?)))
        .collect()
}

fn load(path: &Path) -> Result<Config, i32> {
    load_file(path).map_err(|errors| {
        eprintln!("{errors}");
        exit::BAD_CONFIG
    })
}

fn pick<'a>(
    config: &'a Config,
    path: &Path,
    wanted: Option<&str>,
) -> Result<Vec<(String, &'a ElasticsearchConfig)>, i32> {
    let all = es_outputs(config);
    if all.is_empty() {
        eprintln!("{}: no output has `type: elasticsearch`", path.display());
        return Err(exit::BAD_CONFIG);
    }
    match wanted {
        None => Ok(all),
        Some(w) => {
            let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
            let found: Vec<_> = all.into_iter().filter(|(n, _)| n == w).collect();
            if found.is_empty() {
                eprintln!(
                    "{}: no Elasticsearch output is named `{w}` (there are: {})",
                    path.display(),
                    names.join(", ")
                );
                return Err(exit::BAD_CONFIG);
            }
            Ok(found)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the async runtime: {e}");
            exit::FAILURE
        })
}

/// `logward setup`: installs the index template (and lifecycle policy) for each Elasticsearch output.
pub fn setup(args: SetupArgs) -> i32 {
    let inner = || -> Result<i32, i32> {
        let config = load(&args.config)?;
        let outputs = pick(&config, &args.config, args.output.as_deref())?;
        let mut patterns: Vec<String> = Vec::new();
        for (_, cfg) in &outputs {
            for p in crate::outputs::elasticsearch::setup::patterns(cfg) {
                if !patterns.contains(&p) {
                    patterns.push(p);
                }
            }
        }
        if let Some(file) = &args.kibana_export {
            return export_kibana_objects(file, &patterns);
        }
        // The field names the template maps do not depend on the server's version.
        let info = crate::outputs::elasticsearch::client::ServerInfo {
            distribution: crate::outputs::elasticsearch::client::Distribution::Elasticsearch,
            version: "8.0.0".into(),
            major: 8,
        };
        let mappings = crate::outputs::elasticsearch::setup::mappings(&info);
        for w in crate::outputs::elasticsearch::conflicts::warnings(&config, &mappings) {
            eprintln!("warning: {w}");
        }
        let rt = runtime()?;
        let mut code = exit::OK;
        if !args.skip_template {
            for (name, cfg) in &outputs {
                match rt.block_on(crate::outputs::elasticsearch::setup::setup(cfg, name)) {
                    Ok(report) => report.iter().for_each(|l| println!("{l}")),
                    Err(e) => {
                        eprintln!("output `{name}`: setup failed: {e:#}");
                        code = exit::FAILURE;
                    }
                }
            }
        }
        if let Some(url) = &args.kibana {
            let (name, cfg) = &outputs[0];
            let target = crate::kibana::Target {
                url,
                space: args.kibana_space.as_deref(),
            };
            let imported = crate::outputs::elasticsearch::client::Cluster::new(cfg).and_then(|c| {
                rt.block_on(crate::kibana::import(c.http_client(), &target, &patterns))
            });
            match imported {
                Ok(report) => report.iter().for_each(|l| println!("{l}")),
                Err(e) => {
                    eprintln!("output `{name}`: Kibana setup failed: {e:#}");
                    code = exit::FAILURE;
                }
            }
        }
        Ok(code)
    };
    inner().unwrap_or_else(|c| c)
}

/// `setup --kibana-export FILE`: writes the saved objects for `patterns` as NDJSON.
fn export_kibana_objects(file: &Path, patterns: &[String]) -> Result<i32, i32> {
    let ndjson = crate::kibana::objects::ndjson(patterns);
    let written = if file.as_os_str() == "-" {
        std::io::stdout().write_all(ndjson.as_bytes())
    } else {
        std::fs::write(file, &ndjson)
    };
    match written {
        Ok(()) => {
            if file.as_os_str() != "-" {
                println!(
                    "wrote {} Kibana saved objects for {} to {} (import it in Kibana: Stack Management → Saved objects → Import)",
                    ndjson.lines().count(),
                    patterns.join(","),
                    file.display()
                );
            }
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", file.display());
            Err(exit::FAILURE)
        }
    }
}

/// `logward search`: prints matching documents.
pub fn search(args: SearchArgs) -> i32 {
    let inner = || -> Result<i32, i32> {
        let config = load(&args.config)?;
        let outputs = pick(&config, &args.config, args.output.as_deref())?;
        let (name, cfg) = &outputs[0];
        let sort = search::parse_sort(&args.sort).map_err(|e| {
            eprintln!("--sort: {e}");
            exit::BAD_CONFIG
        })?;
        let index = match &args.index {
            Some(i) => i.clone(),
            None => crate::outputs::elasticsearch::setup::patterns(cfg).join(","),
        };
        let req = SearchRequest {
            index,
            query: args.query.clone(),
            from: args.since.as_deref().map(search::time_bound),
            to: args.until.as_deref().map(search::time_bound),
            fields: args.fields.clone(),
            sort,
            limit: (args.limit > 0).then_some(args.limit),
            page_size: 1000,
        };
        let table_fields: Vec<String> = if args.fields.is_empty() {
            vec!["@timestamp".into(), "log.level".into(), "message".into()]
        } else {
            args.fields.clone()
        };
        let widths: Vec<usize> = table_fields
            .iter()
            .map(|f| match f.as_str() {
                "@timestamp" => 24,
                "message" => 120,
                _ => 16,
            })
            .collect();
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        if args.format == "table" {
            let header: Vec<String> = table_fields.clone();
            let _ = writeln!(
                out,
                "{}",
                search::table_row(
                    &serde_json::json!(
                        header
                            .iter()
                            .map(|h| (h.clone(), serde_json::Value::String(h.clone())))
                            .collect::<serde_json::Map<_, _>>()
                    ),
                    &table_fields,
                    &widths
                )
            );
        }
        let rt = runtime()?;
        let result = rt.block_on(search::search(cfg, &req, |hit| {
            let line = if args.format == "table" {
                search::table_row(&hit.source, &table_fields, &widths)
            } else if args.with_meta {
                serde_json::json!({"_index": hit.index, "_id": hit.id, "_source": hit.source})
                    .to_string()
            } else {
                hit.source.to_string()
            };
            writeln!(out, "{line}").map_err(|e| anyhow::anyhow!("cannot write the results: {e}"))
        }));
        let _ = out.flush();
        match result {
            Ok((returned, total)) => {
                eprintln!(
                    "{returned} of {total} hits (output `{name}`, index `{}`)",
                    req.index
                );
                Ok(exit::OK)
            }
            Err(e) => {
                eprintln!("search failed: {e:#}");
                Ok(exit::FAILURE)
            }
        }
    };
    inner().unwrap_or_else(|c| c)
}
