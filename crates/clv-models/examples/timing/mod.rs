//! Timing helpers shared by the speed examples.

/// This process's CPU time (user + system, all threads) in seconds, from `/proc/self/stat`
/// (Linux; clock ticks of 1/100 s), so that a run on a busy shared machine can be read as the
/// work done: on an idle 2-core machine the wall time is at least half of it.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (tick(11) + tick(12)) / 100.0
}

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
