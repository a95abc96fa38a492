//! What a process under test holds in memory, from `/proc`.
#![allow(dead_code)]

/// Resident memory of process `pid`, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// The peak resident memory of process `pid` so far, in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM")
}

/// Anonymous resident memory of process `pid` (heap and stacks, not mapped files), in KiB
/// (`RssAnon`).
pub fn anonymous_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "RssAnon")
}

/// A `… kB` field of `/proc/PID/status`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}
