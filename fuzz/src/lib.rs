//! What every fuzz target shares: problems being fixed elsewhere right now are skipped, not reported,
//! so a run goes on finding new ones (see `logward::fuzzing::is_known_open_panic`).

use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// Runs `target` on `data`; a panic is a finding (the process aborts and libFuzzer saves the input)
/// unless it is a known open problem.
pub fn run(name: &str, data: &[u8], target: fn(&[u8])) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // libFuzzer's hook aborts; let the known problems unwind to the catch below instead.
        let abort = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let text = message(info.payload());
            if !logward::fuzzing::is_known_open_panic(&text) {
                abort(info);
            }
        }));
    });
    if logward::fuzzing::is_known_open_input(name, data) {
        return;
    }
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| target(data))) {
        let text = message(&*payload);
        if !logward::fuzzing::is_known_open_panic(&text) {
            panic::resume_unwind(payload);
        }
        report_known(&text);
    }
}

/// Says on stderr, the first time and then at every power of ten, that a known problem was skipped, so
/// a run's log shows how often it came up.
fn report_known(text: &str) {
    static SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if n.is_power_of_two() || n % 10_000 == 0 {
        eprintln!("known open problem skipped ({n} so far): {text}");
    }
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
