//! The command line: `check` reports every configuration mistake with its position, `version`, `--help`.

mod common;

use common::logward;

#[test]
fn check_reports_every_mistake_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yml");
    let logfile = dir.path().join("a.log");
    std::fs::write(&logfile, "x\n").unwrap();
    let text = [
        format!("data_dir: {}", dir.path().display()),
        "inputs:".into(),
        "  - type: file".into(),
        format!("    paths: [\"{}/*.log\"]", logfile.display()),
        "  - type: file".into(),
        "    paths: [x.log]".into(),
        "    max_line_bytes: 12 parsecs".into(),
        "    close_inactive: 5 minutes".into(),
        "    multiline: {pattern: '(', match: after}".into(),
        "  - type: file".into(),
        "    pathz: [x]".into(),
        "  - paths: [y]".into(),
        "outputs:".into(),
        "  - type: file".into(),
        "    keep_files: lots".into(),
        "queue: {type: memory, max_events: -1}".into(),
        "surprise: true".into(),
    ]
    .join("\n");
    std::fs::write(&cfg, text).unwrap();
    let (code, _, err) = logward(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("11 problem(s)"), "{err}");
    let name = cfg.display().to_string();
    for expected in [
        format!("{name}:4:13: the glob"),
        "is a file, so nothing can be below it".to_string(),
        format!("{name}:7:21: file input: \"12 parsecs\" is not a size"),
        format!("{name}:8:21: file input: \"5 minutes\" is not a duration"),
        format!("{name}:9:26: the multiline pattern is not a valid regular expression"),
        format!("{name}:11:5: file input: unknown field `pathz`"),
        format!("{name}:12:5: this entry of `inputs` has no `type`"),
        format!("{name}:14:5: file output: missing field `path`"),
        format!("{name}:15:17: file output: expected usize, found string \"lots\""),
        format!("{name}:16:35: queue: expected usize"),
        format!("{name}:17:1: `surprise` is not known at the top level"),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn check_names_a_missing_environment_variable_and_accepts_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("env.yml");
    std::fs::write(
        &cfg,
        "data_dir: ${LOGWARD_TEST_DATA:-/tmp/lw}\ninputs:\n  - type: file\n    paths: [\"${LOGWARD_TEST_UNSET_VAR}/*.log\"]\noutputs:\n  - type: console\n",
    )
    .unwrap();
    let (code, _, err) = logward(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains(":4:13: the environment variable LOGWARD_TEST_UNSET_VAR is not set"),
        "{err}"
    );
}

#[test]
fn check_accepts_the_shipped_examples() {
    let root = env!("CARGO_MANIFEST_DIR");
    let (code, out, err) = logward(&["check", "-c", &format!("{root}/examples/default.yml")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK (2 input(s), 1 output(s)"), "{out}");
    let mut checked = 0;
    for entry in std::fs::read_dir(format!("{root}/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            let (code, out, err) = logward(&["check", "-c", path.to_str().unwrap()]);
            assert_eq!(code, 0, "{}: {out}{err}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} examples found");
}

/// The help texts and the package description name only what logward has.
#[test]
fn help_and_package_description_advertise_nothing_that_does_not_exist() {
    use clap::CommandFactory;
    let mut paths = Vec::new();
    subcommand_paths(&logward::cli::Cli::command(), &[], &mut paths);
    let mut texts = vec![(
        "Cargo.toml description".to_string(),
        env!("CARGO_PKG_DESCRIPTION").to_string(),
    )];
    let (_, top, _) = logward(&["--help"]);
    texts.push(("logward --help".into(), top));
    for (path, _) in &paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let (_, out, _) = logward(&args);
        texts.push((format!("logward {}", path.join(" ")), out));
    }
    // Things an agent like this might be expected to do and logward does not (yet).
    for (what, text) in &texts {
        let lower = text.to_lowercase();
        for absent in [
            "kafka",
            "redis",
            "lumberjack",
            "beats input",
            "logstash output",
            "metrics endpoint",
        ] {
            assert!(
                !lower.contains(absent),
                "{what} mentions `{absent}`:\n{text}"
            );
        }
    }
}

#[test]
fn version_prints_version_target_commit_and_features() {
    let (code, out, _) = logward(&["version"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("logward {} (", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains("x86_64") || out.contains("aarch64"), "{out}");
    assert!(out.contains("features: evtx"), "{out}");
    assert!(out.contains("debug build"), "{out}");
    // The commit of the checkout the binary was built from.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git, which built this checkout");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert_eq!(head.len(), 12, "git rev-parse: {head}");
    assert!(
        out.contains(&format!("commit {head}")),
        "{out} (HEAD {head})"
    );
}

/// Every subcommand path (`["queue", "inspect"]`, …) below `cmd`, hidden ones included, with its about text.
fn subcommand_paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    for sub in cmd.get_subcommands() {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_string());
        let about = sub
            .get_long_about()
            .or(sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        out.push((path.clone(), about));
        subcommand_paths(sub, &path, out);
    }
}

/// Collapses runs of white space, so text wrapped differently in the help still compares equal.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_subcommand_has_help() {
    use clap::CommandFactory;
    let mut paths = Vec::new();
    subcommand_paths(&logward::cli::Cli::command(), &[], &mut paths);
    // The list comes from the parser itself; make sure the walk went below the first level.
    assert!(
        paths.iter().any(|(p, _)| p == &["queue", "inspect"]),
        "{paths:?}"
    );
    for (path, about) in &paths {
        let name = path.join(" ");
        assert!(!about.is_empty(), "`logward {name}` has no about text");
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, out, err) = logward(&args);
        assert_eq!(code, 0, "logward {name} --help: {err}");
        assert!(
            out.contains(&format!("Usage: logward {name}")),
            "logward {name} --help:\n{out}"
        );
        assert!(
            words(&out).contains(&words(about)),
            "logward {name} --help does not show its about text {about:?}:\n{out}"
        );
    }
}

#[test]
fn check_reports_broken_processors_at_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("p.yml");
    let text = [
        format!("data_dir: {}", dir.path().display()),
        "inputs:".into(),
        "  - type: file".into(),
        "    paths: [x.log]".into(),
        "    processors:".into(),
        "      - dissect: {pattern: '%{a}%{b}'}".into(),
        "processors:".into(),
        "  - grok: {patterns: ['%{TIMESTAMP_ISO8610:t}']}".into(),
        "  - date: {field: t, formats: [ISO8601], timezone: Mars/Base}".into(),
        "  - mutate: {convert: {code: int}, colour: red}".into(),
        "  - explode: {}".into(),
        "outputs: [{type: console}]".into(),
    ]
    .join("\n");
    std::fs::write(&cfg, text).unwrap();
    let (code, _, err) = logward(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let name = cfg.display().to_string();
    for expected in [
        format!("{name}:6:9: dissect: two fields follow each other without a delimiter"),
        format!("{name}:8:5: grok: the pattern"),
        "did you mean %{TIMESTAMP_ISO8601}?".to_string(),
        format!("{name}:9:5: date: the timezone \"Mars/Base\" is not known"),
        format!("{name}:10:36: mutate: unknown field `colour`"),
        format!("{name}:11:5: processors: unknown variant `explode`"),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
}

/// Sends SIGHUP to the agent.
#[cfg(unix)]
fn hangup(agent: &common::Agent) {
    let pid = agent.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -HUP {pid} failed");
}

/// SIGHUP reloads the configuration file while lines keep coming: the old pipeline drains and saves its
/// checkpoints, the new one reads on from them, so every line arrives exactly once; lines read after the
/// reload carry what the new configuration adds; a later SIGTERM still drains and exits 0.
#[cfg(unix)]
#[test]
fn sighup_reloads_the_configuration_and_no_line_is_lost_or_repeated() {
    use common::{Agent, Sandbox, append_lines, file_input, wait_for_lines, wait_for_log};
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    let input = |generation: &str| {
        file_input(
            "app",
            &sb.path("logs/*.log"),
            &format!("    fields: {{generation: {generation}}}\n"),
        )
    };
    append_lines(&log, (0..500).map(|i| format!("one {i}")));
    let cfg = sb.config(&input("one"));
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 500, &agent);
    // A writer keeps appending while the reload happens.
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for chunk in 0..40 {
                append_lines(&log, (0..50).map(|i| format!("during {}", chunk * 50 + i)));
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
        })
    };
    sb.config(&input("two"));
    hangup(&agent);
    wait_for_log(&agent, "configuration reloaded");
    writer.join().unwrap();
    append_lines(&log, (0..500).map(|i| format!("two {i}")));
    wait_for_lines(&sb.out(), 3_000, &agent);
    let log_text = agent.this_run_log();
    assert_eq!(agent.stop(), 0, "log:\n{log_text}");
    let events = common::read_events(&sb.out());
    let got: Vec<String> = events
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect();
    let expected: Vec<String> = (0..500)
        .map(|i| format!("one {i}"))
        .chain((0..2_000).map(|i| format!("during {i}")))
        .chain((0..500).map(|i| format!("two {i}")))
        .collect();
    common::assert_exactly_once(&got, &expected);
    for e in &events {
        let m = e["message"].as_str().unwrap_or("");
        if m.starts_with("one ") {
            assert_eq!(e["fields"]["generation"], "one", "{e}");
        }
        if m.starts_with("two ") {
            assert_eq!(e["fields"]["generation"], "two", "{e}");
        }
    }
    assert!(
        log_text.contains("reloading: the new configuration is valid"),
        "{log_text}"
    );
}

/// A SIGHUP with a configuration that has mistakes is refused with `check`'s messages, and the running
/// configuration keeps shipping; so is one that moves `data_dir`.
#[cfg(unix)]
#[test]
fn sighup_with_a_broken_configuration_keeps_the_running_one() {
    use common::{Agent, Sandbox, append_lines, file_input, wait_for_lines, wait_for_log_lines};
    let sb = Sandbox::new();
    let log = sb.path("logs/app.log");
    append_lines(&log, (0..10).map(|i| format!("before {i}")));
    let cfg = sb.config(&file_input("app", &sb.path("logs/*.log"), ""));
    let good = std::fs::read_to_string(&cfg).unwrap();
    let agent = Agent::start(&cfg);
    wait_for_lines(&sb.out(), 10, &agent);
    std::fs::write(&cfg, good.replace("shutdown_timeout:", "shutdown_timout:")).unwrap();
    hangup(&agent);
    wait_for_log_lines(
        &agent,
        &["reload refused: the configuration has mistakes"],
        1,
    );
    // `check`'s message names the key and suggests the right one.
    let refused = agent.this_run_log();
    assert!(
        refused.contains("shutdown_timout") && refused.contains("shutdown_timeout"),
        "{refused}"
    );
    let moved = good.replace(
        &sb.path("data").display().to_string(),
        &sb.path("data2").display().to_string(),
    );
    std::fs::write(&cfg, moved).unwrap();
    hangup(&agent);
    wait_for_log_lines(&agent, &["reload refused: data_dir changed"], 1);
    append_lines(&log, (0..10).map(|i| format!("after {i}")));
    wait_for_lines(&sb.out(), 20, &agent);
    let log_text = agent.this_run_log();
    assert!(!log_text.contains("configuration reloaded"), "{log_text}");
    assert_eq!(agent.stop(), 0, "log:\n{log_text}");
    let expected: Vec<String> = (0..10)
        .map(|i| format!("before {i}"))
        .chain((0..10).map(|i| format!("after {i}")))
        .collect();
    common::assert_exactly_once(&common::messages(&sb.out()), &expected);
}

/// A `data_dir` that is a file fails `check` (exit 2, naming it), and `run` then fails naming it too, in
/// plain text: standard error is not a terminal here, so no colour codes.
#[test]
fn a_data_dir_that_is_a_file_fails_check_and_run_says_so_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(&data, "not a folder").unwrap();
    let cfg = dir.path().join("c.yml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir: {}\ninputs:\n  - type: file\n    paths: [\"{}/*.log\"]\noutputs:\n  - type: console\n",
            data.display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let (code, out, err) = logward(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(
        code, 2,
        "check passed a data_dir that is a file:\n{out}{err}"
    );
    let expected = format!("data_dir {} is a file, not a folder", data.display());
    assert!(err.contains(&expected), "{err}");

    let (code, _, err) = logward(&["run", "-c", cfg.to_str().unwrap()]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains(&expected), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "colour codes on a non-terminal stderr:\n{err:?}"
    );
}

/// A second agent on the data folder of a running one is refused, with the memory queue as with the disk
/// queue, naming the data folder and the running agent's pid; the first keeps running.
#[test]
fn a_second_agent_on_the_same_data_dir_is_refused_naming_the_holder() {
    use common::{Agent, Sandbox, append_lines, file_input, wait_for_lines};
    for queue in ["memory", "disk"] {
        let sb = Sandbox::new();
        append_lines(&sb.path("logs/app.log"), ["one".to_string()]);
        let cfg = sb.write_config(
            &format!("queue: {{type: {queue}}}\n"),
            &file_input("app", &sb.path("logs/*.log"), ""),
            &sb.file_output(),
        );
        let first = Agent::start(&cfg);
        wait_for_lines(&sb.out(), 1, &first);
        // The second agent must end by itself; one that runs is killed (when dropped) and fails the test.
        let mut second = Agent::start(&cfg);
        let mut code = None;
        let ended = common::wait_until(common::WAIT, || {
            code = second.child.try_wait().ok().flatten().map(|s| s.code());
            code.is_some()
        });
        let err = second.this_run_log();
        assert!(
            ended,
            "{queue} queue: a second agent runs on the same data_dir:\n{err}"
        );
        assert_eq!(
            code,
            Some(Some(1)),
            "{queue} queue: the second agent was not refused:\n{err}"
        );
        let data = sb.path("data").display().to_string();
        assert!(
            err.contains(&format!(
                "the data_dir {data} is in use by another logward process (pid {}",
                first.child.id()
            )),
            "{queue} queue:\n{err}"
        );
        assert_eq!(first.stop(), 0, "{queue} queue");
    }
}

/// `setup` warns, before it talks to any server, where events of an input would clash with the template it
/// installs: constant fields at the root where the template has an object (or the reverse), and JSON keys
/// at the root, which must not be text where the template has an object.
#[test]
fn setup_warns_where_inputs_would_clash_with_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir: {d}/data\ninputs:\n  - type: file\n    id: app\n    paths: [\"{d}/*.log\"]\n    json: {{keys_under_root: true}}\n  - type: file\n    id: web\n    paths: [\"{d}/*.txt\"]\n    fields: {{log: access, host: {{name: {{short: w1}}}}, team: a}}\n    fields_under_root: true\noutputs:\n  - type: elasticsearch\n    hosts: [\"http://127.0.0.1:9\"]\n    timeout: 1s\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let (_, _, err) = logward(&["setup", "-c", cfg.to_str().unwrap()]);
    for expected in [
        "warning: input `app` puts the keys of JSON lines at the root: the template maps",
        "`event`",
        "warning: input `web`: the field `log` (fields, at the root) is \"access\", but the template maps `log` as an object",
        "warning: input `web`: the field `host.name` (fields, at the root) is an object, but the template maps it as keyword",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(!err.contains("`team`"), "{err}");
}
