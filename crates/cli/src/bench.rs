//! `colloque-cli bench media`: one line per hot path with ms per frame (median, p95, mean), and next to the
//! H.264 encode and the decoders the same work done by ffmpeg (libx264 / libavcodec, one thread).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use colloque_media::audio::processing::{VoiceProcessingConfig, VoiceProcessor, BLOCK_SAMPLES};
use colloque_media::codec::h264::{H264Config, H264Encoder};
use colloque_media::codec::opus::{OpusConfig, OpusDecoder, OpusEncoder, FRAME_SAMPLES};
use colloque_media::codec::{video_decoder, VideoCodec};
use colloque_media::convert::{bgra_to_i420, Scaler};
use colloque_media::ivf::read_ivf;
use colloque_media::synthetic::{speech_like, PatternGenerator};
use colloque_media::{Timestamp, VideoFrame};

/// Options of `bench media`.
#[derive(Debug, Args)]
pub struct MediaArgs {
    /// Fewer frames per stage: the whole run takes under a minute.
    #[arg(long)]
    quick: bool,
    /// Skip the ffmpeg comparison even when ffmpeg is installed.
    #[arg(long)]
    no_ffmpeg: bool,
}

/// Per-iteration timings in milliseconds.
struct Timings(Vec<f64>);

impl Timings {
    fn measure(iterations: usize, mut work: impl FnMut(usize) -> Result<()>) -> Result<Self> {
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..iterations {
            let start = Instant::now();
            work(i)?;
            samples.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(Self(samples))
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        crate::quantile::quantile(&sorted, p).unwrap_or(f64::NAN)
    }

    fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64
    }
}

fn line(stage: &str, t: &Timings, peer: Option<(&str, f64)>) {
    let mut text = format!(
        "{stage:<34} median {:>7.3} ms  p95 {:>7.3} ms  mean {:>7.3} ms",
        t.percentile(0.5),
        t.percentile(0.95),
        t.mean()
    );
    if let Some((name, peer_ms)) = peer {
        text.push_str(&format!("  | {name} {peer_ms:>7.3} ms  ratio {:.2}", t.mean() / peer_ms));
    }
    println!("{text}");
}

/// `count` distinct pattern frames on a 30 fps clock.
fn frames(width: u32, height: u32, count: usize) -> Result<Vec<VideoFrame>> {
    let generator = PatternGenerator::new(width, height)?;
    Ok((0..count as u64).map(|i| generator.frame(i, Timestamp(i * 33_333))).collect())
}

fn ffmpeg_available() -> bool {
    Command::new("ffmpeg").arg("-version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Runs ffmpeg with `-benchmark` and returns its user CPU seconds.
fn ffmpeg_user_seconds(args: &[&str]) -> Result<f64> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-benchmark", "-y"])
        .args(args)
        .output()
        .context("running ffmpeg")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("ffmpeg failed: {}", stderr.lines().rev().take(3).collect::<Vec<_>>().join(" / "));
    }
    let utime = stderr
        .lines()
        .find_map(|l| l.split("utime=").nth(1))
        .and_then(|rest| rest.trim_end_matches(|c: char| !c.is_ascii_digit()).split('s').next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("ffmpeg printed no benchmark line")?;
    Ok(utime)
}

fn write_raw(path: &Path, frames: &[VideoFrame]) -> Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for frame in frames {
        f.write_all(frame.data())?;
    }
    f.flush()?;
    Ok(())
}

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("colloque-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// OpenH264 encode timing, and the same raw input through libx264 (ultrafast, zerolatency, one thread).
fn bench_h264_encode(
    name: &str,
    config: H264Config,
    input: &[VideoFrame],
    scratch: &Scratch,
    ffmpeg: bool,
) -> Result<Vec<u8>> {
    // Frame skipping would time skipped frames as free; the comparison encodes every frame.
    let mut encoder = H264Encoder::new(H264Config { frame_skipping: false, ..config })?;
    let mut stream = Vec::new();
    let t = Timings::measure(input.len(), |i| {
        if let Some(encoded) = encoder.encode(&input[i])? {
            stream.extend_from_slice(&encoded.data);
        }
        Ok(())
    })?;
    let peer = if ffmpeg {
        let raw = scratch.path("input.yuv");
        write_raw(&raw, input)?;
        let size = format!("{}x{}", input[0].width(), input[0].height());
        let bitrate = format!("{}", config.bitrate_bps);
        let fps = format!("{}", config.max_fps);
        let raw_s = raw.to_string_lossy().into_owned();
        let user = ffmpeg_user_seconds(&[
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-s",
            &size,
            "-r",
            &fps,
            "-i",
            &raw_s,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-threads",
            "1",
            "-b:v",
            &bitrate,
            "-f",
            "null",
            "-",
        ])?;
        Some(("libx264", user * 1000.0 / input.len() as f64))
    } else {
        None
    };
    let kbps = stream.len() as f64 * 8.0 / (input.len() as f64 / f64::from(config.max_fps)) / 1000.0;
    line(&format!("{name} ({kbps:.0} kbps)"), &t, peer);
    Ok(stream)
}

/// Splits an Annex B stream into access units at each slice of a new picture (IDR/non-IDR NAL types 1/5
/// preceded by any SPS/PPS), so the decoder gets one frame per call.
fn split_access_units(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 < stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 0 && stream[i + 3] == 1 {
            starts.push(i);
            i += 4;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::new();
    let mut current = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(stream.len());
        let nal = &stream[s..end];
        let kind = nal.get(4).map(|b| b & 0x1f).unwrap_or(0);
        current.extend_from_slice(nal);
        if kind == 1 || kind == 5 {
            units.push(std::mem::take(&mut current));
        }
    }
    units
}

fn bench_decode(name: &str, codec: VideoCodec, units: &[Vec<u8>], peer: Option<(&str, f64)>) -> Result<()> {
    let mut decoder = video_decoder(codec)?;
    let mut pictures = 0;
    let t = Timings::measure(units.len(), |i| {
        if decoder.decode(&units[i], Timestamp(0))?.is_some() {
            pictures += 1;
        }
        Ok(())
    })?;
    if pictures == 0 {
        bail!("{name}: nothing decoded");
    }
    line(name, &t, peer);
    Ok(())
}

fn ffmpeg_decode_ms(file: &Path, frames: usize) -> Result<f64> {
    let f = file.to_string_lossy().into_owned();
    Ok(ffmpeg_user_seconds(&["-threads", "1", "-i", &f, "-f", "null", "-"])? * 1000.0 / frames as f64)
}

/// Encodes `input` to IVF with ffmpeg's libvpx (realtime settings, as browsers use) and returns its frames.
fn vpx_stream(
    codec: &str,
    input_raw: &Path,
    size: &str,
    scratch: &Scratch,
) -> Result<(PathBuf, Vec<Vec<u8>>)> {
    let out = scratch.path(&format!("{codec}.ivf"));
    let (raw, out_s) = (input_raw.to_string_lossy().into_owned(), out.to_string_lossy().into_owned());
    ffmpeg_user_seconds(&[
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "-s",
        size,
        "-r",
        "30",
        "-i",
        &raw,
        "-c:v",
        codec,
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "1500k",
        "-f",
        "ivf",
        &out_s,
    ])?;
    let (_, frames) = read_ivf(std::fs::File::open(&out)?)?;
    Ok((out, frames.into_iter().map(|f| f.data).collect()))
}

/// Runs every media stage.
pub fn media(args: &MediaArgs) -> Result<()> {
    let started = Instant::now();
    let n720 = if args.quick { 45 } else { 300 };
    let n1080 = if args.quick { 20 } else { 150 };
    let ffmpeg = !args.no_ffmpeg && ffmpeg_available();
    if !ffmpeg {
        println!("(ffmpeg not found or disabled: no libx264/libavcodec comparison)");
    }
    let scratch = Scratch::new()?;
    println!("stage                              per frame (one thread)            | peer");

    let f720 = frames(1280, 720, n720)?;
    let h264_720 = bench_h264_encode(
        "H.264 encode 720p30 camera",
        H264Config::camera(1_500_000, 30.0),
        &f720,
        &scratch,
        ffmpeg,
    )?;
    let f1080 = frames(1920, 1080, n1080)?;
    bench_h264_encode(
        "H.264 encode 1080p30 camera",
        H264Config::camera(3_000_000, 30.0),
        &f1080,
        &scratch,
        ffmpeg,
    )?;
    bench_h264_encode(
        "H.264 encode 1080p15 screen",
        H264Config::screen(1_500_000, 15.0),
        &f1080,
        &scratch,
        ffmpeg,
    )?;
    drop(f1080);

    let units = split_access_units(&h264_720);
    let h264_file = scratch.path("720p.h264");
    std::fs::write(&h264_file, &h264_720)?;
    let peer = if ffmpeg { Some(("libavcodec", ffmpeg_decode_ms(&h264_file, units.len())?)) } else { None };
    bench_decode("H.264 decode 720p", VideoCodec::H264, &units, peer)?;
    if ffmpeg {
        let raw = scratch.path("input720.yuv");
        write_raw(&raw, &f720)?;
        for (label, codec, ff) in [
            ("VP8 decode 720p", VideoCodec::Vp8, "libvpx"),
            ("VP9 decode 720p", VideoCodec::Vp9, "libvpx-vp9"),
        ] {
            let (file, units) = vpx_stream(ff, &raw, "1280x720", &scratch)?;
            let peer_ms = ffmpeg_decode_ms(&file, units.len())?;
            bench_decode(label, codec, &units, Some(("libavcodec", peer_ms)))?;
        }
    } else {
        println!(
            "VP8/VP9 decode 720p                skipped: needs ffmpeg's libvpx encoder to make the stream"
        );
    }

    // Colour conversion and scaling.
    let bgra: Vec<u8> =
        (0..1280 * 720).flat_map(|i: u32| [(i % 251) as u8, (i % 241) as u8, (i % 239) as u8, 255]).collect();
    let t = Timings::measure(n720, |_| {
        bgra_to_i420(&bgra, 1280 * 4, 1280, 720, Timestamp(0)).map(drop).map_err(Into::into)
    })?;
    line("BGRA→I420 720p", &t, None);
    let bgra1080: Vec<u8> = (0..1920 * 1080)
        .flat_map(|i: u32| [(i % 251) as u8, (i % 241) as u8, (i % 239) as u8, 255])
        .collect();
    let t = Timings::measure(n720, |_| {
        bgra_to_i420(&bgra1080, 1920 * 4, 1920, 1080, Timestamp(0)).map(drop).map_err(Into::into)
    })?;
    line("BGRA→I420 1080p", &t, None);
    let mut scaler = Scaler::new();
    let t = Timings::measure(n720, |i| {
        scaler.scale(&f720[i % f720.len()], 640, 360).map(drop).map_err(Into::into)
    })?;
    line("I420 scale 720p→360p", &t, None);
    let t = Timings::measure(n720, |i| {
        scaler.scale(&f720[i % f720.len()], 320, 180).map(drop).map_err(Into::into)
    })?;
    line("I420 scale 720p→180p", &t, None);

    // Audio.
    let speech = speech_like(if args.quick { 4.0 } else { 20.0 }, 1);
    let blocks20: Vec<&[f32]> = speech.chunks_exact(FRAME_SAMPLES).collect();
    let mut encoder = OpusEncoder::new(OpusConfig::default())?;
    let mut packets = Vec::with_capacity(blocks20.len());
    let t = Timings::measure(blocks20.len(), |i| {
        packets.push(encoder.encode(blocks20[i])?);
        Ok(())
    })?;
    line("Opus encode 20 ms (VoIP, FEC)", &t, None);
    let mut decoder = OpusDecoder::new(1)?;
    let t = Timings::measure(packets.len(), |i| decoder.decode(&packets[i]).map(drop).map_err(Into::into))?;
    line("Opus decode 20 ms", &t, None);
    let mut apm = VoiceProcessor::new(VoiceProcessingConfig::default())?;
    let blocks10: Vec<&[f32]> = speech.chunks_exact(BLOCK_SAMPLES).collect();
    let mut out = vec![0.0; BLOCK_SAMPLES];
    let t = Timings::measure(blocks10.len(), |i| {
        // Far end = the speech, near end = its echo 3 blocks later at -10 dB.
        apm.analyze_render(blocks10[i])?;
        let echo: Vec<f32> = blocks10[i.saturating_sub(3)].iter().map(|x| x * 0.3).collect();
        apm.process_capture(&echo, &mut out)?;
        Ok(())
    })?;
    line("AEC3+NS+AGC per 10 ms", &t, None);
    println!("(total {:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}
