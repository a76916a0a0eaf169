//! The standard `process_*` metrics of Prometheus' client libraries, read from procfs at
//! each scrape (Linux). CPU time is in fractional seconds, as the Go and Python clients
//! give it: the Rust client's own collector truncates it to whole seconds, so a process
//! that has used 0.9 s of CPU reads 0 and `rate()` over a scrape interval moves in 1 s steps.
#![allow(unsafe_code)] // sysconf, for the clock-tick and page sizes

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, Opts};

const CPU: (&str, &str) = ("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
const GAUGES: [(&str, &str); 6] = [
    ("process_open_fds", "Number of open file descriptors."),
    ("process_max_fds", "Maximum number of open file descriptors."),
    ("process_virtual_memory_bytes", "Virtual memory size in bytes."),
    ("process_resident_memory_bytes", "Resident memory size in bytes."),
    ("process_start_time_seconds", "Start time of the process since unix epoch in seconds."),
    ("process_threads", "Number of OS threads in the process."),
];

/// What `/proc/self/stat` says, in base units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub cpu_seconds: f64,
    pub threads: f64,
    /// Since boot.
    pub start_seconds: f64,
    pub virtual_bytes: f64,
    pub resident_bytes: f64,
}

/// Parses a `/proc/<pid>/stat` line (proc(5)). The command name, field 2, may itself hold
/// spaces and parentheses, so the numbered fields are counted from its last `)`.
pub fn parse_stat(line: &str, ticks_per_second: f64, page_bytes: f64) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    // After the `)`: field 3 (the state letter), then the numeric fields 4, 5, …
    let f: Vec<f64> = rest.split_whitespace().skip(1).map(|v| v.parse().unwrap_or(f64::NAN)).collect();
    let field = |n: usize| f.get(n - 4).copied().filter(|v| v.is_finite());
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) / ticks_per_second,
        threads: field(20)?,
        start_seconds: field(22)? / ticks_per_second,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page_bytes,
    })
}

/// The soft "Max open files" of a `/proc/<pid>/limits` table; `None` when unlimited.
pub fn parse_max_open_files(limits: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// Boot time (`btime`, seconds since the epoch) from `/proc/stat`.
pub fn parse_boot_time(stat: &str) -> Option<f64> {
    stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()
}

pub struct ProcessCollector {
    descs: Vec<Desc>,
}

impl ProcessCollector {
    pub fn new() -> ProcessCollector {
        let mut descs: Vec<Desc> = Vec::with_capacity(1 + GAUGES.len());
        descs.extend(Counter::with_opts(Opts::new(CPU.0, CPU.1)).expect("valid metric").desc().into_iter().cloned());
        for (name, help) in GAUGES {
            descs.extend(Gauge::with_opts(Opts::new(name, help)).expect("valid metric").desc().into_iter().cloned());
        }
        ProcessCollector { descs }
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

fn sysconf(name: libc::c_int) -> Option<f64> {
    // SAFETY: sysconf only reads a configuration value.
    let v = unsafe { libc::sysconf(name) };
    (v > 0).then_some(v as f64)
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    /// Fresh metrics from the values read now: nothing is kept between scrapes, so two
    /// concurrent scrapes cannot add the same CPU time twice.
    fn collect(&self) -> Vec<MetricFamily> {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let (Some(ticks), Some(page)) = (sysconf(libc::_SC_CLK_TCK), sysconf(libc::_SC_PAGESIZE)) else {
            return Vec::new();
        };
        let Some(stat) = read("/proc/self/stat").and_then(|l| parse_stat(&l, ticks, page)) else {
            return Vec::new();
        };
        let fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as f64).ok();
        let max_fds = read("/proc/self/limits").and_then(|l| parse_max_open_files(&l));
        let start = read("/proc/stat").and_then(|s| parse_boot_time(&s)).map(|boot| boot + stat.start_seconds);
        let values = [fds, max_fds, Some(stat.virtual_bytes), Some(stat.resident_bytes), start, Some(stat.threads)];

        let mut out = Vec::with_capacity(1 + GAUGES.len());
        let cpu = Counter::with_opts(Opts::new(CPU.0, CPU.1)).expect("valid metric");
        cpu.inc_by(stat.cpu_seconds);
        out.extend(cpu.collect());
        for ((name, help), value) in GAUGES.into_iter().zip(values) {
            if let Some(v) = value {
                let g = Gauge::with_opts(Opts::new(name, help)).expect("valid metric");
                g.set(v);
                out.extend(g.collect());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (tokio (rt) 1) S 1 4242 4242 0 -1 4194560 2360 0 0 0 \
                    123 45 0 0 20 0 7 0 250000 1052672000 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        let s = parse_stat(line, 100.0, 4096.0).unwrap();
        assert_eq!(s.cpu_seconds, 1.68, "utime + stime in ticks, as fractional seconds");
        assert_eq!(s.threads, 7.0);
        assert_eq!(s.start_seconds, 2500.0);
        assert_eq!(s.virtual_bytes, 1_052_672_000.0);
        assert_eq!(s.resident_bytes, 3000.0 * 4096.0);
    }

    #[test]
    fn a_truncated_stat_line_gives_nothing_rather_than_zeros() {
        assert_eq!(parse_stat("4242 (x) S 1 2 3", 100.0, 4096.0), None);
        assert_eq!(parse_stat("no parenthesis", 100.0, 4096.0), None);
    }

    #[test]
    fn max_open_files_is_the_soft_limit_and_unlimited_is_none() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_open_files(limits), Some(1024.0));
        assert_eq!(parse_max_open_files("Max open files  unlimited  unlimited  files\n"), None);
    }

    #[test]
    fn boot_time_comes_from_the_btime_line() {
        assert_eq!(parse_boot_time("cpu  1 2 3\nbtime 1764930000\nprocesses 9\n"), Some(1_764_930_000.0));
    }

    #[test]
    fn this_process_reports_all_seven_metrics_and_the_cpu_time_it_has_used() {
        // Some CPU time first: procfs counts it in 10 ms ticks.
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            std::hint::black_box(start.elapsed());
        }
        let families = ProcessCollector::new().collect();
        let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), 7, "{names:?}");
        let cpu = families.iter().find(|f| f.name() == CPU.0).unwrap();
        let v = cpu.get_metric()[0].get_counter().get_value();
        assert!(v > 0.0, "the CPU time used so far, in fractional seconds: {v}");
    }
}
