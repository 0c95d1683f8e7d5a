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
