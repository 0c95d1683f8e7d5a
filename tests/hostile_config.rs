//! Configurations written to break the agent: each must be refused by `check` with a clear message, fast,
//! and without printing a secret.

mod common;

use common::{Sandbox, file_input, logward};

/// `logward check` on a configuration made of `top`, one file input with `input_extra` and `outputs`.
fn check(sb: &Sandbox, top: &str, input_extra: &str, outputs: &str) -> (i32, String) {
    let cfg = sb.write_config(
        top,
        &file_input("app", &sb.path("logs/*.log"), input_extra),
        outputs,
    );
    let (code, out, err) = logward(&["check", "-c", cfg.to_str().unwrap()]);
    (code, format!("{out}{err}"))
}

#[test]
fn durations_too_long_for_a_clock_are_refused_by_check() {
    let sb = Sandbox::new();
    for value in ["18446744073709551615s", "10000000000000000000s", "1e19"] {
        let (code, text) = check(
            &sb,
            "",
            &format!("    scan_frequency: {value}\n"),
            &sb.file_output(),
        );
        assert_eq!(code, 2, "{value}: {text}");
        assert!(
            text.contains(":7:21:") && text.contains("the longest accepted is 100 years"),
            "{value}: {text}"
        );
    }
}

#[test]
fn nested_aliases_are_refused_by_check_at_once() {
    let sb = Sandbox::new();
    // The "billion laughs": nine levels, each ten aliases of the one before.
    let mut top =
        String::from("x-laughs:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        let items = vec![format!("*l{}", level - 1); 10].join(", ");
        top.push_str(&format!("  l{level}: &l{level} [{items}]\n"));
    }
    let started = std::time::Instant::now();
    let (code, text) = check(&sb, &top, "", &sb.file_output());
    let took = started.elapsed();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains(":8:47:")
            && text.contains("aliases (`*name`) expand this document to more than"),
        "{text}"
    );
    // Not a timing assertion on speed: a document that were expanded would take minutes and gigabytes.
    assert!(took < common::WAIT, "check took {took:?}");
}
