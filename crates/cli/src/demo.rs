//! `colloque-cli demo`: the media engine end to end without a network: capture → I420 → H.264 → file, and
//! the file decoded back to check it. Until the app exists this is what the README's run command shows.
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use colloque_media::capture::screen::ScreenCapture;
use colloque_media::codec::h264::{H264Config, H264Decoder, H264Encoder};
use colloque_media::codec::VideoDecoder;
use colloque_media::synthetic::SyntheticVideo;
use colloque_media::VideoSource;

/// What to capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoSource {
    /// A display (X11 on Linux), encoded as screen content.
    Screen,
    /// The synthetic moving pattern, encoded as camera content.
    Synthetic,
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// What to capture.
    #[arg(long, value_enum, default_value_t = DemoSource::Screen)]
    source: DemoSource,
    /// Display index for `--source screen`.
    #[arg(long, default_value_t = 0)]
    display: u32,
    /// Seconds to record.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Frames per second.
    #[arg(long, default_value_t = 15)]
    fps: u32,
    /// Target bitrate in kbit/s.
    #[arg(long, default_value_t = 1500)]
    kbps: u32,
    /// Output file (H.264 Annex B, plays in VLC, ffplay, mpv).
    #[arg(long, default_value = "colloque-demo.h264")]
    out: PathBuf,
}

/// Records the clip and prints a report as JSON lines.
pub fn run(args: &DemoArgs) -> Result<()> {
    let (mut source, config): (Box<dyn VideoSource>, H264Config) = match args.source {
        DemoSource::Screen => (
            Box::new(ScreenCapture::open(args.display, args.fps).context("opening the screen")?),
            H264Config::screen(args.kbps * 1000, args.fps as f32),
        ),
        DemoSource::Synthetic => (
            Box::new(SyntheticVideo::new(1280, 720, args.fps)?),
            H264Config::camera(args.kbps * 1000, args.fps as f32),
        ),
    };
    let info = source.info();
    println!(
        "{}",
        serde_json::json!({"event": "capturing", "source": info.name, "width": info.width, "height": info.height, "fps": args.fps})
    );
    let mut encoder = H264Encoder::new(config)?;
    let mut decoder = H264Decoder::new()?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?,
    );
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let (mut captured, mut encoded, mut decoded, mut bytes) = (0u64, 0u64, 0u64, 0usize);
    let mut encode_time = Duration::ZERO;
    while Instant::now() < deadline {
        let frame = source.next_frame()?;
        captured += 1;
        let t = Instant::now();
        let Some(packet) = encoder.encode(&frame)? else { continue };
        encode_time += t.elapsed();
        encoded += 1;
        bytes += packet.data.len();
        out.write_all(&packet.data)?;
        if decoder.decode(&packet.data, packet.timestamp)?.is_some() {
            decoded += 1;
        }
    }
    out.flush()?;
    let seconds = args.seconds.max(1) as f64;
    println!(
        "{}",
        serde_json::json!({
            "event": "done",
            "file": args.out.display().to_string(),
            "captured": captured,
            "encoded": encoded,
            "decoded_back": decoded,
            "kbps": (bytes as f64 * 8.0 / seconds / 1000.0).round(),
            "encode_ms_per_frame": (encode_time.as_secs_f64() * 1000.0 / encoded.max(1) as f64 * 100.0).round() / 100.0,
        })
    );
    Ok(())
}
