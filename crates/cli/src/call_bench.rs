//! `colloque-cli bench call`: a 4-party call on the local SFU, measured from the side of one client. The
//! SFU runs in this process; three bots (`colloque-cli bots`: the 640×360 pattern in simulcast and a tone
//! each) and the client under test (`colloque-cli join --camera synthetic --mic synthetic --measure`: a 720p
//! simulcast camera and a microphone out, three videos and three audios in, decoded) are child processes, so
//! that the client's CPU time and peak memory are its own. Prints the time to the first remote picture,
//! glass-to-glass latency p50/p95 (the pattern's capture time read back from the decoded pictures), the
//! client's CPU % (of one core) and peak RSS.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;

/// Arguments of `bench call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// Seconds the client under test stays in the call.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// A short call (a smoke test).
    #[arg(long)]
    quick: bool,
}

const API_KEY: &str = "bench";
const API_SECRET: &str = "bench-secret-bench-secret-bench-secret";
const ROOM: &str = "bench-call";
const BOTS: usize = 3;

/// Runs `bench call`.
pub fn call(args: &CallArgs) -> Result<()> {
    let seconds = if args.quick { 6 } else { args.seconds.max(5) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sfu-server")
        .enable_all()
        .build()
        .context("server runtime")?;
    let config = ServerConfig::from_args("127.0.0.1:0", &format!("{API_KEY}:{API_SECRET}"))?;
    let server: SfuServer = runtime.block_on(SfuServer::start(config)).context("starting the SFU")?;
    let url = server.url();
    let exe = std::env::current_exe().context("finding colloque-cli")?;
    let common = ["--url", &url, "--api-key", API_KEY, "--api-secret", API_SECRET, "--room", ROOM];

    let bots = Command::new(&exe)
        .arg("bots")
        .args(common)
        .args(["--count", &BOTS.to_string(), "--size", "640x360", "--duration", &(seconds + 15).to_string()])
        .stdout(Stdio::null())
        .spawn()
        .context("starting the bots")?;
    let bots = Reaped(bots);
    // The bots are in (and publishing) before the client under test arrives.
    let deadline = Instant::now() + Duration::from_secs(20);
    while runtime.block_on(async { server.rooms().participants(ROOM).map(|p| p.len()).unwrap_or(0) }) < BOTS {
        if Instant::now() > deadline {
            bail!("the bots did not join within 20 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));

    let client = Command::new(&exe)
        .arg("join")
        .args(common)
        .args(["--identity", "client-under-test", "--camera", "synthetic", "--mic", "synthetic", "--measure"])
        .args(["--duration", &seconds.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the client under test")?;
    let mut client = Reaped(client);
    let pid = client.0.id();
    let stdout = client.0.stdout.take().context("the client's output")?;
    let lines =
        std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    let cpu_start = cpu_seconds(pid).unwrap_or(0.0);
    let wall_start = Instant::now();
    let (mut cpu_end, mut peak_rss_kb) = (cpu_start, 0u64);
    while client.0.try_wait()?.is_none() {
        if let Some(cpu) = cpu_seconds(pid) {
            cpu_end = cpu;
        }
        peak_rss_kb = peak_rss_kb.max(peak_rss(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(200));
    }
    let wall = wall_start.elapsed().as_secs_f64();
    let lines = lines.join().map_err(|_| anyhow::anyhow!("reading the client's output failed"))?;
    drop(bots);
    runtime.block_on(server.stop());

    let measured = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "measured")
        .context("the client under test printed no measurement")?;
    let cpu_percent = 100.0 * (cpu_end - cpu_start) / wall;
    let report = serde_json::json!({
        "bench": "call",
        "client": "colloque",
        "participants": BOTS + 1,
        "seconds": seconds,
        "first_remote_picture_ms": measured["first_picture_ms"],
        "remote_videos": measured["tracks"],
        "pictures": measured["pictures"],
        "unreadable": measured["unreadable"],
        "latency_ms": measured["latency_ms"],
        "cpu_percent_of_one_core": (cpu_percent * 10.0).round() / 10.0,
        "peak_rss_mb": (peak_rss_kb as f64 / 1024.0 * 10.0).round() / 10.0,
    });
    println!("{report}");
    eprintln!(
        "call of {} ({} bots at 640x360, client: 720p simulcast + mic out): first remote picture {} ms, \
         {} pictures from {} videos, latency p50 {} ms p95 {} ms, client CPU {:.1} % of a core, peak RSS {:.1} MB",
        BOTS + 1,
        BOTS,
        measured["first_picture_ms"],
        measured["pictures"],
        measured["tracks"],
        measured["latency_ms"]["p50"],
        measured["latency_ms"]["p95"],
        cpu_percent,
        peak_rss_kb as f64 / 1024.0
    );
    Ok(())
}

/// A child process killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User + system CPU seconds of process `pid` (Linux `/proc`).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// Peak resident memory of process `pid` in kB (`VmHWM`).
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}
