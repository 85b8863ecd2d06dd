//! `colloque-cli bench call`: a 4-party call on the local SFU, measured from the side of one client, with
//! Colloque and then a browser as that client. The SFU runs in this process; three bots (`colloque-cli bots`:
//! the 640×360 pattern in H.264 simulcast and a tone each) are a child process, and so is the client under
//! test, so that its CPU time and memory are its own:
//! - Colloque: `colloque-cli join --camera synthetic --mic synthetic --measure` (a 720p simulcast camera and a
//!   microphone out; three videos and three audios in, decoded and mixed);
//! - the browser: livekit-client in Debian's headless Chromium (tests/peers/browser_peer.mjs: a 720p canvas
//!   camera in VP8 simulcast and a WebAudio tone out; three videos shown and three audios played), every
//!   Chromium process counted.
//!
//! Each prints the time from connecting to the first remote picture, glass-to-glass latency p50/p95 (the
//! pattern's capture time read back from the pictures shown), CPU % of one core over a steady window, and
//! peak memory (PSS summed over the client's processes); then the ratios.
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::procfs::{cpu_seconds, descendants, pss_kb};
use crate::sfu_bench::{start_server, API_KEY, API_SECRET};

/// Arguments of `bench call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// Seconds each client under test stays in the call.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// A short call (10 s), Colloque only (a smoke test).
    #[arg(long)]
    quick: bool,
    /// Skip the browser run.
    #[arg(long)]
    no_browser: bool,
    /// Also measure the desktop app, window and web view included, receiving the call (it needs a display
    /// and the app built beside this program: `cargo build --release -p colloque-app`).
    #[arg(long)]
    app: bool,
}

const ROOM: &str = "bench-call";
const BOTS: usize = 3;
/// CPU is measured from this long after the first remote picture (connection set-up, encoder start and
/// the browser's launch left out).
const SETTLE: Duration = Duration::from_secs(2);

/// Runs `bench call`.
pub fn call(args: &CallArgs) -> Result<()> {
    let seconds = if args.quick { 10 } else { args.seconds.max(8) };
    let browser = !(args.quick || args.no_browser);
    let (runtime, server) = start_server()?;
    let url = server.url();
    let exe = std::env::current_exe().context("finding colloque-cli")?;
    let common = ["--url", &url, "--api-key", API_KEY, "--api-secret", API_SECRET, "--room", ROOM];

    let runs = 1 + u64::from(browser) + u64::from(args.app);
    let bots = Command::new(&exe)
        .arg("bots")
        .args(common)
        .args(["--count", &BOTS.to_string(), "--size", "640x360"])
        .args(["--duration", &(runs * (seconds + 40)).to_string()])
        .stdout(Stdio::null())
        .spawn()
        .context("starting the bots")?;
    let _bots = Reaped(bots);
    // The bots are in (and publishing) before the client under test arrives.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.rooms().participants(ROOM).map(|p| p.len()).unwrap_or(0) < BOTS {
        if Instant::now() > deadline {
            bail!("the bots did not join within 20 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    // A quick run leaves a slow (debug, loaded) client most of its time to get its first picture.
    let window = Duration::from_secs(if args.quick { 2 } else { seconds.saturating_sub(5).max(2) });

    let mut native = Command::new(&exe);
    native
        .arg("join")
        .args(common)
        .args(["--identity", "colloque", "--camera", "synthetic", "--mic", "synthetic", "--measure"])
        .args(["--duration", &seconds.to_string()]);
    let sampled = sample(&mut native, "\"event\":\"first_frame\"", Processes::Root, window)?;
    let measured = sampled
        .stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "measured")
        .context("the client under test printed no measurement")?;
    let colloque = json!({
        "client": "colloque",
        "first_remote_picture_ms": measured["first_picture_ms"],
        "remote_videos": measured["tracks"],
        "pictures": measured["pictures"],
        "unreadable": measured["unreadable"],
        "latency_ms": measured["latency_ms"],
        "cpu_percent_of_one_core": round1(sampled.cpu_percent),
        "peak_memory_mb": round1(sampled.peak_pss_mb),
    });
    report(&colloque, seconds);

    if browser {
        let chromium = browser_run(&url, seconds, window)?;
        report(&chromium, seconds);
        let ratio = |key: &str, sub: Option<&str>| {
            let get = |v: &Value| match sub {
                Some(s) => v[key][s].as_f64(),
                None => v[key].as_f64(),
            };
            match (get(&colloque), get(&chromium)) {
                (Some(a), Some(b)) if b > 0.0 => json!(round2(a / b)),
                _ => Value::Null,
            }
        };
        let ratios = json!({
            "bench": "call-ratio",
            "colloque_over_chromium": {
                "first_remote_picture": ratio("first_remote_picture_ms", None),
                "latency_p50": ratio("latency_ms", Some("p50")),
                "latency_p95": ratio("latency_ms", Some("p95")),
                "cpu": ratio("cpu_percent_of_one_core", None),
                "memory": ratio("peak_memory_mb", None),
            }
        });
        println!("{ratios}");
        eprintln!("Colloque / Chromium: {}", ratios["colloque_over_chromium"]);
    }
    if args.app {
        let app = app_run(&url, seconds, window)?;
        report(&app, seconds);
    }
    runtime.block_on(server.stop());
    Ok(())
}

/// The desktop app as the client under test: it joins from the command line, receives and shows the three
/// videos and plays the audio; camera and microphone stay off.
fn app_run(url: &str, seconds: u64, window: Duration) -> Result<Value> {
    let app = crate::frames_bench::app_binary(None)?;
    let token = crate::join::mint(API_KEY, API_SECRET, ROOM, "colloque-app", "Colloque app")?;
    let (mut command, profile) =
        crate::frames_bench::app_command(&app, "bench-call", "info,webrtc=warn,rtc=warn");
    command.args(["--url", url, "--token", &token, "--quit-after", &seconds.to_string()]);
    let sampled = sample(&mut command, "first picture", Processes::All, window)?;
    let _ = std::fs::remove_dir_all(&profile);
    Ok(json!({
        "client": "colloque app (window + web view, receive only)",
        "first_remote_picture_ms": Value::Null,
        "remote_videos": Value::Null,
        "pictures": Value::Null,
        "unreadable": Value::Null,
        "latency_ms": { "p50": Value::Null, "p95": Value::Null },
        "cpu_percent_of_one_core": round1(sampled.cpu_percent),
        "peak_memory_mb": round1(sampled.peak_pss_mb),
    }))
}

/// The browser as the client under test.
fn browser_run(url: &str, seconds: u64, window: Duration) -> Result<Value> {
    let peers = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers");
    if !peers.join("node_modules/livekit-client").is_dir() {
        bail!(
            "the browser run needs the test peers: `npm ci --prefix {}` (or --no-browser)",
            peers.display()
        );
    }
    let token = crate::join::mint(API_KEY, API_SECRET, ROOM, "chromium", "Chromium")?;
    let mut node = Command::new("node");
    node.arg(peers.join("browser_peer.mjs"))
        .args(["--url", url, "--token", &token, "--expect", "*", "--codec", "vp8", "--size", "1280x720"])
        .args(["--simulcast", "--stay", &seconds.to_string(), "--timeout", &(seconds + 40).to_string()])
        .current_dir(&peers);
    let sampled = sample(&mut node, "first readable picture", Processes::Below, window)?;
    let report: Value = sampled
        .stdout
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .context("the browser peer printed no report")?;
    if let Some(errors) = report["errors"].as_array().filter(|e| !e.is_empty()) {
        bail!("the browser run failed: {errors:?}");
    }
    let received = &report["received"];
    let mut ages: Vec<i64> = received["stamps"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["ageMs"].as_i64()).collect())
        .unwrap_or_default();
    ages.sort_unstable();
    let quantile = |q| crate::quantile::quantile(&ages, q);
    let tracks: HashSet<&str> = received["stamps"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["trackSid"].as_str()).collect())
        .unwrap_or_default();
    Ok(json!({
        "client": format!("chromium {} + livekit-client {}", report["chromium"].as_str().unwrap_or("?"),
            report["livekitClient"].as_str().unwrap_or("?")),
        "first_remote_picture_ms": received["firstPictureMs"],
        "remote_videos": tracks.len(),
        "pictures": ages.len(),
        "unreadable": received["unreadable"],
        "latency_ms": { "p50": quantile(0.5), "p95": quantile(0.95) },
        "cpu_percent_of_one_core": round1(sampled.cpu_percent),
        "peak_memory_mb": round1(sampled.peak_pss_mb),
    }))
}

fn report(figures: &Value, seconds: u64) {
    let mut line = figures.clone();
    line["bench"] = json!("call");
    line["participants"] = json!(BOTS + 1);
    line["seconds"] = json!(seconds);
    println!("{line}");
    eprintln!(
        "{}: first remote picture {} ms, {} pictures from {} videos, latency p50 {} ms p95 {} ms, \
         CPU {} % of a core, peak memory {} MB",
        figures["client"].as_str().unwrap_or("?"),
        figures["first_remote_picture_ms"],
        figures["pictures"],
        figures["remote_videos"],
        figures["latency_ms"]["p50"],
        figures["latency_ms"]["p95"],
        figures["cpu_percent_of_one_core"],
        figures["peak_memory_mb"],
    );
}

pub(crate) fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// What sampling a client under test gave.
pub(crate) struct Sampled {
    pub stdout: Vec<String>,
    pub cpu_percent: f64,
    pub peak_pss_mb: f64,
}

/// Which processes of a command under test are its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Processes {
    /// The process itself.
    Root,
    /// Every process below it, not itself (Chromium under its Node driver).
    Below,
    /// The process and every process below it (the app and its web view).
    All,
}

/// Runs `command` to its end, sampling every 200 ms the CPU time and memory of its `processes`. CPU is
/// counted over `window`, starting [`SETTLE`] after a line containing `first_picture` (stdout or stderr).
pub(crate) fn sample(
    command: &mut Command,
    first_picture: &str,
    processes: Processes,
    window: Duration,
) -> Result<Sampled> {
    let mut child =
        Reaped(command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("starting the client")?);
    let root = child.0.id();
    let (tx, lines) = mpsc::channel::<(bool, String)>();
    for (is_stdout, stream) in [
        (true, child.0.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>)),
        (false, child.0.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>)),
    ] {
        let (tx, stream) = (tx.clone(), stream.context("the client's output")?);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send((is_stdout, line));
            }
        });
    }
    drop(tx);
    let (mut stdout, mut first_at) = (Vec::new(), None::<Instant>);
    let mut cpu_at_start: Option<(Instant, HashMap<u32, f64>)> = None;
    let mut cpu_percent = None;
    let mut peak_pss_kb = 0u64;
    loop {
        let exited = child.0.try_wait()?.is_some();
        while let Ok((is_stdout, line)) = lines.try_recv() {
            if first_at.is_none() && line.contains(first_picture) {
                first_at = Some(Instant::now());
            }
            if is_stdout {
                stdout.push(line);
            }
        }
        if exited {
            break;
        }
        let pids: Vec<u32> = match processes {
            Processes::Root => vec![root],
            Processes::Below => descendants(root),
            Processes::All => std::iter::once(root).chain(descendants(root)).collect(),
        };
        peak_pss_kb = peak_pss_kb.max(pids.iter().filter_map(|p| pss_kb(*p)).sum());
        let now = Instant::now();
        match (&cpu_at_start, first_at) {
            (None, Some(first)) if now >= first + SETTLE => {
                cpu_at_start =
                    Some((now, pids.iter().filter_map(|p| Some((*p, cpu_seconds(*p)?))).collect()));
            }
            (Some((start, before)), _) if cpu_percent.is_none() && now >= *start + window => {
                let used: f64 = pids
                    .iter()
                    .filter_map(|p| Some(cpu_seconds(*p)? - before.get(p).copied().unwrap_or(0.0)))
                    .sum();
                cpu_percent = Some(100.0 * used / now.duration_since(*start).as_secs_f64());
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // What is still in the pipes once the process is gone.
    while let Ok((is_stdout, line)) = lines.recv_timeout(Duration::from_millis(500)) {
        if is_stdout {
            stdout.push(line);
        }
    }
    let cpu_percent = cpu_percent.context("the client ended before its measuring window did")?;
    Ok(Sampled { stdout, cpu_percent, peak_pss_mb: peak_pss_kb as f64 / 1024.0 })
}

/// A child process killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
