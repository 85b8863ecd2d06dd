//! What the benchmarks read of processes and threads from Linux's `/proc`.
//! A missing or unreadable entry (a process that just ended) reads as `None`.

/// `(name, fields after the state)` of a `/proc/…/stat` file; the name may hold spaces and brackets, so
/// the fields are what follows its last `)`.
fn stat_fields(stat: &str) -> Option<(&str, Vec<&str>)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    Some((stat.get(open + 1..close)?, stat.get(close + 1..)?.split_whitespace().collect()))
}

#[cfg(target_os = "linux")]
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64
}

/// Elsewhere there is no `/proc` to read: every reading is `None` before this matters.
#[cfg(not(target_os = "linux"))]
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// CPU seconds (user + system) in a `/proc/…/stat` text, with its command name.
fn cpu_of(stat: &str) -> Option<(&str, f64)> {
    let ticks = clock_ticks_per_second();
    let (name, fields) = stat_fields(stat)?;
    // utime and stime are fields 14 and 15 of stat: 13 and 14 after the name (state is the first).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) / ticks))
}

/// CPU seconds process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_of(&stat).map(|(_, seconds)| seconds)
}

/// CPU seconds spent so far by this process's threads whose name starts with `prefix`.
pub fn thread_cpu_seconds(prefix: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .filter_map(|stat| cpu_of(&stat).filter(|(name, _)| name.starts_with(prefix)).map(|(_, s)| s))
        .sum()
}

/// Proportional set size of process `pid` in kB: its share of memory, shared pages divided among the
/// processes that map them (a fair sum over a multi-process browser).
pub fn pss_kb(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Every process below `root`.
pub fn descendants(root: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut children: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The parent is the field after the state.
        if let Some(ppid) = stat_fields(&stat).and_then(|(_, f)| f.get(1)?.parse().ok()) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for child in children.get(&pid).into_iter().flatten() {
            out.push(*child);
            queue.push(*child);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_a_name_with_spaces_and_brackets() {
        let stat = "42 (tokio (worker) 1) S 7 42 42 0 -1 4194560 10 0 0 0 250 50 0 0 20 0 3 0";
        let (name, fields) = stat_fields(stat).unwrap();
        assert_eq!(name, "tokio (worker) 1");
        assert_eq!(fields[1], "7", "the parent");
        let (_, seconds) = cpu_of(stat).unwrap();
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert!((seconds - 300.0 / ticks).abs() < 1e-9);
        assert!(cpu_of("garbage").is_none());
        assert!(cpu_seconds(std::process::id()).is_some());
    }
}
