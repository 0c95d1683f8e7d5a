//! The process's own resource use, read when `/metrics` is scraped: CPU time, resident memory, open
//! files (handles on Windows), under the names Prometheus client libraries use (`process_*`), so
//! existing dashboards and alerts apply unchanged.

/// A snapshot of the process's resource use; a field the platform cannot tell is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessStats {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident memory, in bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory, in bytes.
    pub virtual_bytes: Option<u64>,
    /// Open file descriptors (Unix).
    pub open_fds: Option<u64>,
    /// The limit on open file descriptors (Unix).
    pub max_fds: Option<u64>,
    /// Open handles (Windows).
    pub open_handles: Option<u64>,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
}

/// The process's resource use now.
pub fn stats() -> ProcessStats {
    imp::stats()
}

#[cfg(target_os = "linux")]
mod imp {
    use super::ProcessStats;

    fn clock_ticks() -> f64 {
        // SAFETY: sysconf only reads a configuration value.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if t > 0 { t as f64 } else { 100.0 }
    }

    /// The fields of /proc/self/stat after the command name (which may contain spaces).
    fn stat_fields() -> Option<Vec<String>> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        let after = &text[text.rfind(')')? + 1..];
        Some(after.split_whitespace().map(str::to_string).collect())
    }

    fn status_kib(field: &str) -> Option<u64> {
        let text = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = text.lines().find(|l| l.starts_with(field))?;
        line[field.len()..]
            .split_whitespace()
            .next()?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    }

    fn boot_time() -> Option<f64> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    }

    fn max_fds() -> Option<u64> {
        let text = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = text.lines().find(|l| l.starts_with("Max open files"))?;
        line["Max open files".len()..]
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    pub fn stats() -> ProcessStats {
        let ticks = clock_ticks();
        // Fields counted from the state (field 3 of stat(5)): utime is 14, stime 15, starttime 22.
        let fields = stat_fields();
        let field = |n: usize| -> Option<f64> { fields.as_ref()?.get(n - 3)?.parse().ok() };
        let cpu = match (field(14), field(15)) {
            (Some(u), Some(s)) => Some((u + s) / ticks),
            _ => None,
        };
        let start = match (field(22), boot_time()) {
            (Some(st), Some(boot)) => Some(boot + st / ticks),
            _ => None,
        };
        ProcessStats {
            cpu_seconds: cpu,
            resident_bytes: status_kib("VmRSS:"),
            virtual_bytes: status_kib("VmSize:"),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
            max_fds: max_fds(),
            open_handles: None,
            start_time_seconds: start,
        }
    }
}

#[cfg(windows)]
mod imp {
    use super::ProcessStats;
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::ProcessStatus::{
        K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
    };
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, GetProcessHandleCount, GetProcessTimes,
    };

    fn ticks(t: &FILETIME) -> u64 {
        (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime)
    }

    pub fn stats() -> ProcessStats {
        let mut out = ProcessStats::default();
        // SAFETY: the pseudo-handle of the current process needs no closing; every out-pointer points
        // at a local of the type the function writes.
        unsafe {
            let process = GetCurrentProcess();
            let zero = FILETIME {
                dwLowDateTime: 0,
                dwHighDateTime: 0,
            };
            let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
            if GetProcessTimes(process, &mut created, &mut exited, &mut kernel, &mut user) != 0 {
                // FILETIMEs count 100 ns; creation time counts from 1601-01-01.
                out.cpu_seconds = Some((ticks(&kernel) + ticks(&user)) as f64 / 1e7);
                out.start_time_seconds = Some(ticks(&created) as f64 / 1e7 - 11_644_473_600.0);
            }
            let mut mem: PROCESS_MEMORY_COUNTERS = std::mem::zeroed();
            mem.cb = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
            if K32GetProcessMemoryInfo(process, &mut mem, mem.cb) != 0 {
                out.resident_bytes = Some(mem.WorkingSetSize as u64);
                out.virtual_bytes = Some(mem.PagefileUsage as u64);
            }
            let mut handles = 0u32;
            if GetProcessHandleCount(process, &mut handles) != 0 {
                out.open_handles = Some(u64::from(handles));
            }
        }
        out
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
mod imp {
    pub fn stats() -> super::ProcessStats {
        super::ProcessStats::default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(any(target_os = "linux", windows))]
    fn the_process_reports_its_cpu_memory_and_start() {
        let s = super::stats();
        assert!(s.cpu_seconds.is_some_and(|c| c >= 0.0), "{s:?}");
        assert!(s.resident_bytes.is_some_and(|r| r > 1 << 20), "{s:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            s.start_time_seconds
                .is_some_and(|t| t <= now + 1.0 && t > now - 86400.0 * 365.0),
            "{s:?}"
        );
        assert!(s.open_fds.is_some() || s.open_handles.is_some(), "{s:?}");
    }
}
