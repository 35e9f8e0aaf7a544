//! What a run costs this process: CPU seconds (user and system, from `getrusage`) and the peak
//! resident set, measured around the run. On Linux the peak is reset before the run (writing 5 to
//! `/proc/self/clear_refs`) and read from `VmHWM` after it, so runs in one process (as `compare`
//! makes them) each get their own peak; elsewhere it is the process's lifetime peak.

use nix::sys::resource::{getrusage, UsageWho};
use workloads::contract::Resources;

/// CPU time used so far, at the start of a run.
pub struct Meter {
    user_s: f64,
    system_s: f64,
}

fn cpu() -> (f64, f64, u64) {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            // ru_maxrss is in KiB on Linux.
            (s(u.user_time()), s(u.system_time()), u.max_rss().max(0) as u64 * 1024)
        }
        Err(_) => (0.0, 0.0, 0),
    }
}

/// `VmHWM` of this process, bytes.
fn high_water_mark() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl Meter {
    /// Starts measuring: resets the peak resident set where the system allows it.
    pub fn start() -> Self {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let (user_s, system_s, _) = cpu();
        Self { user_s, system_s }
    }

    /// What the process used since [`Meter::start`].
    pub fn stop(&self) -> Resources {
        let (user_s, system_s, max_rss) = cpu();
        Resources {
            user_s: (user_s - self.user_s).max(0.0),
            system_s: (system_s - self.system_s).max(0.0),
            peak_rss_bytes: high_water_mark().unwrap_or(max_rss),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_loop_costs_cpu_and_an_allocation_shows_in_the_peak() {
        let meter = Meter::start();
        let v: Vec<u8> = vec![1; 64 << 20];
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i ^ u64::from(v[(i as usize) % v.len()]));
        }
        std::hint::black_box(x);
        let r = meter.stop();
        assert!(r.cpu_seconds() > 0.0, "{r:?}");
        assert!(r.peak_rss_bytes >= 64 << 20, "{r:?}");
    }
}
