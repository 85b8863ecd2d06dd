//! H.264 round trip on synthetic camera and screen content: quality, bitrate accuracy, keyframes on request,
//! bitrate changes while running.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use colloque_media::codec::h264::{H264Config, H264Decoder, H264Encoder};
use colloque_media::codec::VideoDecoder;
use colloque_media::synthetic::{read_stamp, PatternGenerator};
use colloque_media::{Timestamp, VideoFrame};

const FPS: u32 = 30;

/// Frame `i` of a 30 fps stream, stamped on the stream's own clock.
fn frame(generator: &PatternGenerator, i: u64) -> VideoFrame {
    generator.frame(i, Timestamp(1_000_000_000 + i * 1_000_000 / u64::from(FPS)))
}

struct Run {
    bytes: usize,
    encoded: usize,
    psnr: Vec<f64>,
    keyframes: Vec<u64>,
}

fn run(
    encoder: &mut H264Encoder,
    decoder: &mut H264Decoder,
    generator: &PatternGenerator,
    frames: std::ops::Range<u64>,
    key_at: &[u64],
) -> Run {
    let mut out = Run { bytes: 0, encoded: 0, psnr: Vec::new(), keyframes: Vec::new() };
    for i in frames {
        if key_at.contains(&i) {
            encoder.request_keyframe();
        }
        let source = frame(generator, i);
        let Some(encoded) = encoder.encode(&source).unwrap() else { continue };
        out.bytes += encoded.data.len();
        out.encoded += 1;
        if encoded.keyframe {
            out.keyframes.push(i);
        }
        let decoded =
            decoder.decode(&encoded.data, encoded.timestamp).unwrap().expect("one picture per frame");
        assert_eq!((decoded.width(), decoded.height()), (source.width(), source.height()));
        // The picture that came out is the one that went in: its stamp reads back.
        let stamp = read_stamp(&decoded).expect("pattern stamp readable after H.264");
        assert_eq!(u64::from(stamp.counter), i);
        out.psnr.push(decoded.psnr_y(&source).unwrap());
    }
    out
}

fn kbps(bytes: usize, frames: u64) -> f64 {
    bytes as f64 * 8.0 / (frames as f64 / f64::from(FPS)) / 1000.0
}

#[test]
fn camera_720p_quality_bitrate_and_keyframes() {
    let generator = PatternGenerator::new(1280, 720).unwrap();
    let target = 1_500_000;
    let mut encoder = H264Encoder::new(H264Config::camera(target, FPS as f32)).unwrap();
    let frames = 150;
    let r = run(&mut encoder, &mut H264Decoder::new().unwrap(), &generator, 0..frames, &[60, 120]);
    let mean_psnr = r.psnr.iter().sum::<f64>() / r.psnr.len() as f64;
    let min_psnr = r.psnr.iter().cloned().fold(f64::INFINITY, f64::min);
    // Rate control settles within the first second; measure the rest.
    let rate = kbps(r.bytes, frames);
    println!("720p camera: {} of {frames} frames encoded, {rate:.0} kbps (target {}), PSNR mean {mean_psnr:.1} dB min {min_psnr:.1} dB, keyframes at {:?}",
        r.encoded, target / 1000, r.keyframes);
    assert!(mean_psnr >= 32.0, "mean PSNR {mean_psnr:.1} dB");
    let ratio = rate * 1000.0 / f64::from(target);
    assert!((0.8..=1.2).contains(&ratio), "bitrate {rate:.0} kbps is {ratio:.2}× the target");
    assert_eq!(r.keyframes.first(), Some(&0), "the stream starts with a keyframe");
    for asked in [60, 120] {
        assert!(r.keyframes.contains(&asked), "keyframe asked at {asked}, got {:?}", r.keyframes);
    }
    assert_eq!(r.keyframes.len(), 3, "no keyframes beyond the ones asked for: {:?}", r.keyframes);
}

#[test]
fn bitrate_change_while_running_is_followed() {
    let generator = PatternGenerator::new(640, 360).unwrap();
    let mut encoder = H264Encoder::new(H264Config::camera(1_200_000, FPS as f32)).unwrap();
    let mut decoder = H264Decoder::new().unwrap();
    let high = run(&mut encoder, &mut decoder, &generator, 0..90, &[]);
    encoder.set_bitrate(300_000).unwrap();
    // Give rate control a second to come down, then measure.
    let _ = run(&mut encoder, &mut decoder, &generator, 90..120, &[]);
    let low = run(&mut encoder, &mut decoder, &generator, 120..210, &[]);
    let (high_kbps, low_kbps) = (kbps(high.bytes, 90), kbps(low.bytes, 90));
    println!("360p: {high_kbps:.0} kbps at 1200 target, then {low_kbps:.0} kbps at 300 target");
    assert!(low_kbps < high_kbps / 2.5, "{high_kbps:.0} → {low_kbps:.0} kbps");
    let ratio = low_kbps / 300.0;
    assert!((0.8..=1.2).contains(&ratio), "after the change: {low_kbps:.0} kbps for 300");
    assert!(low.keyframes.is_empty(), "a bitrate change must not restart the stream");
}

#[test]
fn screen_content_1080p_holds_its_bitrate_with_frame_skipping() {
    // Screen-like content: mostly static, with a moving region.
    let generator = PatternGenerator::new(1920, 1080).unwrap();
    let target = 1_500_000;
    let mut encoder = H264Encoder::new(H264Config::screen(target, 15.0)).unwrap();
    let mut decoder = H264Decoder::new().unwrap();
    let mut bytes = 0;
    let frames = 45u64;
    let mut psnr = Vec::new();
    for i in 0..frames {
        // 15 fps clock; the picture changes every third frame, like a document being scrolled.
        let source = generator.frame(i / 3, Timestamp(i * 1_000_000 / 15));
        let Some(encoded) = encoder.encode(&source).unwrap() else { continue };
        bytes += encoded.data.len();
        if let Some(decoded) = decoder.decode(&encoded.data, encoded.timestamp).unwrap() {
            psnr.push(decoded.psnr_y(&source).unwrap());
        }
    }
    let rate = bytes as f64 * 8.0 / (frames as f64 / 15.0) / 1000.0;
    let mean = psnr.iter().sum::<f64>() / psnr.len().max(1) as f64;
    println!(
        "1080p screen: {rate:.0} kbps for {} target, {} decoded frames, PSNR {mean:.1} dB",
        target / 1000,
        psnr.len()
    );
    assert!(rate <= 1.2 * f64::from(target) / 1000.0, "{rate:.0} kbps");
    assert!(mean >= 32.0, "{mean:.1} dB");
}
