//! `colloque-cli bench frames`: the picture path into the app's web view, for both candidate transports.
//! Runs the app (`colloque --bench-frames websocket|ipc`: nine 640×360 tiles at 30 fps and a 1080p screen
//! share at 15 fps, drawn with WebGL2) and measures the CPU and memory of the app and its web view
//! processes together; the app reports pictures sent, received and drawn. Needs a display
//! (`eval "$(scripts/test-env.sh)"` gives the virtual one).
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::call_bench::{round1, round2, sample, Processes};
use crate::join::print;

/// Arguments of `bench frames`.
#[derive(Debug, clap::Args)]
pub struct FramesArgs {
    /// Seconds of load per transport.
    #[arg(long, default_value_t = 12)]
    seconds: u32,
    /// A short run (4 s per transport; a smoke test).
    #[arg(long)]
    quick: bool,
    /// The app binary (default: `colloque` beside this program: `cargo build --release -p colloque-app`).
    #[arg(long)]
    app: Option<PathBuf>,
}

/// Pictures measured per transport: the totals over every video.
struct Run {
    transport: &'static str,
    cpu_percent: f64,
    peak_pss_mb: f64,
    seconds: f64,
    sent: u64,
    received: u64,
    drawn: u64,
    /// Bytes of picture data offered per second.
    megabytes_per_second: f64,
}

/// The desktop app: `explicit`, or `colloque` beside this program.
pub(crate) fn app_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => std::env::current_exe().context("where this program is")?.with_file_name("colloque"),
    };
    if !path.exists() {
        bail!("the app is not built at {} (cargo build --release -p colloque-app)", path.display());
    }
    Ok(path)
}

/// A command running the app with a profile of its own (no web view storage left by a user or an earlier
/// run), which the caller removes afterwards, and the log detail `log`.
pub(crate) fn app_command(app: &Path, name: &str, log: &str) -> (Command, PathBuf) {
    let profile = std::env::temp_dir().join(format!("colloque-{name}-{}", std::process::id()));
    let mut command = Command::new(app);
    command
        .env("XDG_DATA_HOME", profile.join("data"))
        .env("XDG_CACHE_HOME", profile.join("cache"))
        .env("COLLOQUE_LOG", log);
    (command, profile)
}

fn run(app: &Path, transport: &'static str, seconds: u32) -> Result<Run> {
    let (mut command, profile) = app_command(app, "bench-frames", "warn");
    command.args(["--bench-frames", transport, "--bench-seconds", &seconds.to_string()]);
    // The first seconds (web view start, first pictures) are not the steady state.
    let window = Duration::from_secs(u64::from(seconds.saturating_sub(3).max(1)));
    let sampled = sample(&mut command, "bench_frames_started", Processes::All, window)
        .with_context(|| format!("running the app with --bench-frames {transport}"))?;
    let _ = std::fs::remove_dir_all(&profile);
    let report: Value = sampled
        .stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "bench_frames")
        .context("the app printed no bench_frames line")?;
    let videos = report["videos"].as_array().cloned().unwrap_or_default();
    let total = |key: &str| videos.iter().filter_map(|v| v[key].as_u64()).sum::<u64>();
    let bytes: u64 = videos
        .iter()
        .filter_map(|v| {
            let (w, h) = (v["width"].as_u64()?, v["height"].as_u64()?);
            Some((w * h + 2 * w.div_ceil(2) * h.div_ceil(2)) * v["sent"].as_u64()?)
        })
        .sum();
    let seconds = f64::from(seconds);
    Ok(Run {
        transport,
        cpu_percent: sampled.cpu_percent,
        peak_pss_mb: sampled.peak_pss_mb,
        seconds,
        sent: total("sent"),
        received: total("received"),
        drawn: total("drawn"),
        megabytes_per_second: bytes as f64 / seconds / 1e6,
    })
}

/// Runs `bench frames`.
pub fn frames(args: &FramesArgs) -> Result<()> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        bail!("bench frames opens the app's window: it needs a display (eval \"$(scripts/test-env.sh)\")");
    }
    let app = app_binary(args.app.as_deref())?;
    let seconds = if args.quick { 4 } else { args.seconds.max(4) };
    let mut runs = Vec::new();
    for transport in ["websocket", "ipc"] {
        let r = run(&app, transport, seconds)?;
        let per_second = |n: u64| round1(n as f64 / r.seconds);
        // CPU per picture received: milliseconds of CPU (all processes) per picture that reached the page.
        let cpu_ms_per_picture = r.cpu_percent * 10.0 / per_second(r.received).max(0.1);
        print(&json!({
            "event": "transport",
            "transport": r.transport,
            "load": "9 × 640×360@30 + 1 × 1920×1080@15",
            "offered_mb_per_s": round1(r.megabytes_per_second),
            "sent_per_s": per_second(r.sent),
            "received_per_s": per_second(r.received),
            "drawn_per_s": per_second(r.drawn),
            "cpu_percent": round1(r.cpu_percent),
            "cpu_ms_per_picture": round2(cpu_ms_per_picture),
            "peak_pss_mb": round1(r.peak_pss_mb),
        }));
        runs.push((r, cpu_ms_per_picture));
    }
    if let [(ws, ws_cost), (ipc, ipc_cost)] = &runs[..] {
        print(&json!({
            "event": "summary",
            "received_ratio_ipc_over_websocket": round2(ipc.received as f64 / (ws.received.max(1)) as f64),
            "cpu_per_picture_ratio_ipc_over_websocket": round2(ipc_cost / ws_cost.max(0.001)),
            "faster": if ws_cost <= ipc_cost { "websocket" } else { "ipc" },
        }));
    }
    Ok(())
}
