//! A component that fails by a bug (a panic) stops logward, loudly, with exit code 1.
//!
//! An input thread or an output worker that panics would otherwise leave a process that looks alive to
//! its service manager but reads or ships nothing, without an error line. The panic is caught where the
//! component runs, logged with the component's name and message, and raises [`Failures::signal`]; the
//! pipeline then stops (what was not delivered is read again after the restart) and `run` returns an
//! error naming the component.

use super::shutdown::StopSignal;
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

/// The components that failed, shared by everything a pipeline runs.
#[derive(Clone, Default)]
pub struct Failures {
    signal: StopSignal,
    failed: Arc<Mutex<Vec<String>>>,
}

impl Failures {
    /// Raised when a component failed.
    pub fn signal(&self) -> &StopSignal {
        &self.signal
    }

    /// Records that `component` (`input \`app\``, `output \`es\``) panicked with `panic`.
    pub fn report(&self, component: &str, panic: &(dyn Any + Send)) {
        let why = panic_message(panic);
        tracing::error!("{component} failed: {why}; logward stops so that it can be restarted");
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("{component}: {why}"));
        self.signal.stop();
    }

    /// Runs `f`, reporting a panic as the failure of `component` (`None` then).
    pub fn guard<T>(&self, component: &str, f: impl FnOnce() -> T) -> Option<T> {
        match std::panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => Some(v),
            Err(panic) => {
                self.report(component, panic.as_ref());
                None
            }
        }
    }

    /// What failed, one component a line; `None` when nothing did.
    pub fn summary(&self) -> Option<String> {
        let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        (!failed.is_empty()).then(|| failed.join("\n"))
    }
}

/// The message of a panic payload.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "an unknown panic".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_and_raises_the_signal() {
        let failures = Failures::default();
        assert_eq!(failures.guard("input `a`", || 7), Some(7));
        assert!(!failures.signal().is_stopped() && failures.summary().is_none());
        let got: Option<()> =
            failures.guard("input `b`", || panic!("overflow when adding durations"));
        assert!(got.is_none());
        assert!(failures.signal().is_stopped());
        assert_eq!(
            failures.summary().as_deref(),
            Some("input `b`: overflow when adding durations")
        );
    }
}
