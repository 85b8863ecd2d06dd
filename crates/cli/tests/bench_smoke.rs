//! The benchmarks run and print a figure for every stage (their numbers are not judged here: timings never
//! decide a test; docs/benchmarks.md records release-build figures).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_colloque-cli"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("colloque-cli runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Shown on failure, and in the test log as the smoke run's figures.
    println!("{stdout}");
    assert!(out.status.success(), "colloque-cli {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The first number on the line that starts with `label`.
fn figure(stdout: &str, label: &str) -> f64 {
    let line =
        stdout.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no line for {label:?}"));
    line[label.len()..]
        .split_whitespace()
        .find_map(|w| w.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no figure on {line:?}"))
}

#[test]
fn bench_media_measures_every_stage() {
    let stdout = run(&["bench", "media", "--quick"]);
    for stage in [
        "H.264 encode 720p30 camera",
        "H.264 encode 1080p15 screen",
        "H.264 decode 720p",
        "VP8 decode 720p",
        "VP9 decode 720p",
        "BGRA→I420 720p",
        "I420 scale 720p→360p",
        "Opus encode 20 ms",
        "Opus decode 20 ms",
        "AEC3+NS+AGC per 10 ms",
    ] {
        let median = stdout
            .lines()
            .find(|l| l.starts_with(stage))
            .and_then(|l| l.split("median").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|w| w.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no median for {stage:?}"));
        assert!(median > 0.0, "{stage}: median {median} ms");
    }
}

#[test]
fn bench_sfu_forwards_packets_in_every_scenario() {
    let stdout = run(&["bench", "sfu", "--quick"]);
    for scenario in ["3 a+v publishers", "5 audio + 1 a+v"] {
        let streams = figure(&stdout, scenario);
        let packets_per_s = stdout
            .lines()
            .find(|l| l.starts_with(scenario))
            .and_then(|l| l.split_whitespace().rev().nth(4))
            .and_then(|w| w.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no packets/s for {scenario:?}"));
        assert!(streams > 0.0 && packets_per_s > 0.0, "{scenario}: nothing forwarded");
    }
}

#[test]
fn bench_call_decodes_the_three_bots_and_reports_latency_cpu_and_memory() {
    let stdout = run(&["bench", "call", "--quick"]);
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a report line")).expect("a JSON report");
    assert_eq!(report["remote_videos"], 3, "{report}");
    assert_eq!(report["unreadable"], 0, "every picture carries a readable stamp: {report}");
    assert!(report["pictures"].as_u64().unwrap() > 30, "{report}");
    for figure in ["first_remote_picture_ms", "cpu_percent_of_one_core", "peak_memory_mb"] {
        assert!(report[figure].as_f64().is_some_and(|v| v > 0.0), "{figure}: {report}");
    }
    assert!(report["latency_ms"]["p95"].as_i64().is_some(), "{report}");
}
