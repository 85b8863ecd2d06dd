//! `colloque-cli bench sfu`: the SFU's forwarding path under load. Starts the server in-process on its own
//! runtime (threads named `sfu-*`, so that its CPU time can be read apart from the clients'), connects
//! synthetic publishers and subscribers over loopback, and prints forwarded packets per second, server CPU
//! seconds per forwarded megabit, and the delay a packet takes from its sender to a subscriber (p50/p95).
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
use livekit_api::access_token::{AccessToken, VideoGrants};

mod client;

use client::{Publish, Received};

/// Arguments of `bench sfu`.
#[derive(Debug, clap::Args)]
pub struct SfuArgs {
    /// Two small scenarios of a few seconds (a smoke test).
    #[arg(long)]
    quick: bool,
    /// Seconds measured per scenario (after a warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

/// A load: how many participants publish what; everyone subscribes to everyone.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    name: &'static str,
    audio_video: usize,
    audio_only: usize,
    subscribers_only: usize,
}

/// The key the benchmarks' in-process server accepts.
pub const API_KEY: &str = "bench";
/// Its secret.
pub const API_SECRET: &str = "bench-secret-bench-secret-bench-secret";
/// LiveKit's published load test: 150 publishers to 150 subscribers at 720p on 16 vCPU at 85 % CPU.
const LIVEKIT_REFERENCE: &str = "LiveKit (published): 150×150 720p on 16 vCPU at 85 % CPU";

fn token(identity: &str) -> Result<String> {
    AccessToken::with_api_key(API_KEY, API_SECRET)
        .with_identity(identity)
        .with_grants(VideoGrants { room_join: true, room: "bench".into(), ..Default::default() })
        .to_jwt()
        .context("minting a token")
}

/// A quantile of sorted delays in µs, in ms (NaN when there is none).
fn delay_ms(sorted: &[u32], q: f64) -> f64 {
    crate::quantile::quantile(sorted, q).map_or(f64::NAN, |us| f64::from(us) / 1000.0)
}

/// Runs `bench sfu`.
pub fn sfu(args: &SfuArgs) -> Result<()> {
    let scenarios: Vec<Scenario> = if args.quick {
        vec![
            Scenario { name: "3 a+v publishers", audio_video: 3, audio_only: 0, subscribers_only: 0 },
            Scenario { name: "5 audio + 1 a+v", audio_video: 1, audio_only: 5, subscribers_only: 0 },
        ]
    } else {
        vec![
            Scenario { name: "10 a+v × 10", audio_video: 10, audio_only: 0, subscribers_only: 0 },
            Scenario { name: "5 a+v + 45 audio × 50", audio_video: 5, audio_only: 45, subscribers_only: 0 },
        ]
    };
    let seconds = if args.quick { 3 } else { args.seconds.max(1) };
    println!("bench sfu: loopback, one process; server on its own 1-thread runtime, clients on another");
    println!(
        "{:<26} {:>8} {:>12} {:>10} {:>14} {:>9} {:>9}",
        "scenario", "streams", "packets/s", "Mbit/s", "CPU s/Mbit", "p50 ms", "p95 ms"
    );
    for scenario in scenarios {
        run(scenario, seconds)?;
    }
    println!("{LIVEKIT_REFERENCE}: see docs/benchmarks.md for the per-core comparison");
    Ok(())
}

/// Starts the SFU in this process on a runtime of its own with one worker thread (named `sfu-server`, so
/// that its CPU share can be read from its threads alone), accepting [`API_KEY`].
pub fn start_server() -> Result<(tokio::runtime::Runtime, SfuServer)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sfu-server")
        .enable_all()
        .build()
        .context("server runtime")?;
    let config = ServerConfig::from_args("127.0.0.1:0", &format!("{API_KEY}:{API_SECRET}"))?;
    let server = runtime.block_on(SfuServer::start(config)).context("starting the SFU")?;
    Ok((runtime, server))
}

fn run(scenario: Scenario, seconds: u64) -> Result<()> {
    let (server_rt, server) = start_server()?;
    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-clients")
        .enable_all()
        .build()
        .context("client runtime")?;
    let url = server.url();
    let received = Arc::new(Received::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut roles = Vec::new();
    roles.extend(std::iter::repeat_n(Publish::AudioVideo, scenario.audio_video));
    roles.extend(std::iter::repeat_n(Publish::Audio, scenario.audio_only));
    roles.extend(std::iter::repeat_n(Publish::Nothing, scenario.subscribers_only));
    let participants = roles.len();
    let mut clients = Vec::new();
    for (i, role) in roles.into_iter().enumerate() {
        let jwt = token(&format!("p{i}"))?;
        clients.push(clients_rt.spawn(client::run(
            url.clone(),
            jwt,
            role,
            received.clone(),
            stop_rx.clone(),
        )));
    }
    // Everyone joins, negotiates and starts sending: give it time, then measure.
    let tracks = scenario.audio_video * 2 + scenario.audio_only;
    let streams = tracks * (participants - 1);
    std::thread::sleep(Duration::from_secs(3 + participants as u64 / 10));
    received.record(true);
    let (packets0, bytes0) =
        (received.packets.load(Ordering::Relaxed), received.bytes.load(Ordering::Relaxed));
    let cpu0 = crate::procfs::thread_cpu_seconds("sfu-");
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = crate::procfs::thread_cpu_seconds("sfu-") - cpu0;
    let packets = received.packets.load(Ordering::Relaxed) - packets0;
    let bytes = received.bytes.load(Ordering::Relaxed) - bytes0;
    received.record(false);
    let _ = stop_tx.send(true);
    for c in clients {
        if let Ok(Err(e)) = clients_rt.block_on(c) {
            tracing::warn!(error = %e, "bench client failed");
        }
    }
    server_rt.block_on(server.stop());
    let mut delays = received.delays_us.lock().map(|d| d.clone()).unwrap_or_default();
    delays.sort_unstable();
    let megabits = bytes as f64 * 8.0 / 1e6;
    println!(
        "{:<26} {:>8} {:>12.0} {:>10.2} {:>14.4} {:>9.2} {:>9.2}",
        scenario.name,
        streams,
        packets as f64 / elapsed,
        megabits / elapsed,
        if megabits > 0.0 { cpu / megabits } else { f64::NAN },
        delay_ms(&delays, 0.5),
        delay_ms(&delays, 0.95),
    );
    server_rt.shutdown_timeout(Duration::from_secs(1));
    clients_rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
