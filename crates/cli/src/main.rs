//! `colloque-cli`: Colloque without a window. Media demo, benchmarks and test fixtures.
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod bench;
mod bots;
mod call_bench;
mod demo;
mod frames_bench;
mod join;
mod procfs;
mod quantile;
mod sfu_bench;
mod y4m;

#[derive(Debug, Parser)]
#[command(
    name = "colloque-cli",
    version,
    about = "Colloque without a window: meetings, demos, benchmarks, fixtures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure the hot paths and print one line per stage.
    Bench {
        #[command(subcommand)]
        what: BenchTarget,
    },
    /// Start synthetic participants (pattern + tone) in a meeting, for load or a hand test.
    Bots(Box<bots::BotsArgs>),
    /// Capture the screen (or the synthetic pattern) and write an H.264 clip, with a live report.
    Demo(demo::DemoArgs),
    /// Join a LiveKit meeting without a window; one JSON line per event on stdout.
    Join(Box<join::JoinArgs>),
    /// Write the synthetic test pattern as a Y4M file (input for fixtures made by independent encoders).
    Pattern {
        /// Width in pixels.
        #[arg(long, default_value_t = 320)]
        width: u32,
        /// Height in pixels.
        #[arg(long, default_value_t = 180)]
        height: u32,
        /// Number of frames.
        #[arg(long, default_value_t = 30)]
        frames: u64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BenchTarget {
    /// Capture, conversion, codecs and audio processing (no network).
    Media(bench::MediaArgs),
    /// The SFU's forwarding path: synthetic publishers and subscribers over loopback.
    Sfu(sfu_bench::SfuArgs),
    /// A 4-party call on the local SFU, measured from one native client: join time, latency, CPU, memory.
    Call(call_bench::CallArgs),
    /// The picture path into the app's web view (loopback WebSocket vs Tauri IPC): pictures and CPU.
    Frames(frames_bench::FramesArgs),
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,rtc_ice=error,rtc_dtls=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Bench { what: BenchTarget::Media(args) } => bench::media(&args),
        Command::Bench { what: BenchTarget::Sfu(args) } => sfu_bench::sfu(&args),
        Command::Bench { what: BenchTarget::Call(args) } => call_bench::call(&args),
        Command::Bench { what: BenchTarget::Frames(args) } => frames_bench::frames(&args),
        Command::Bots(args) => bots::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Join(args) => join::run(&args),
        Command::Pattern { width, height, frames, out } => y4m::write_pattern(&out, width, height, frames),
    }
}
