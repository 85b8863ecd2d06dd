//! VP8 and VP9 decoding of reference streams made by libvpx's own encoder (vpxenc) from the synthetic
//! pattern (see fixtures/make-fixtures.sh): every frame decodes, in order, and matches the source picture.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "vpx")]

use colloque_media::codec::{video_decoder, VideoCodec};
use colloque_media::ivf::read_ivf;
use colloque_media::synthetic::{read_stamp, PatternGenerator};
use colloque_media::Timestamp;

fn check(file: &str, codec: VideoCodec, fourcc: &[u8; 4], min_psnr: f64) {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let (header, frames) = read_ivf(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(&header.fourcc, fourcc);
    assert_eq!(frames.len(), 30);
    let generator = PatternGenerator::new(320, 180).unwrap();
    let mut decoder = video_decoder(codec).unwrap();
    let mut psnr = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let picture = decoder.decode(&frame.data, Timestamp(0)).unwrap().expect("a picture per frame");
        assert_eq!((picture.width(), picture.height()), (320, 180));
        let stamp = read_stamp(&picture).unwrap_or_else(|| panic!("{file}: frame {i} has no readable stamp"));
        assert_eq!(stamp.counter as usize, i, "{file}: frames out of order");
        // The fixture's source frame i was stamped at i/30 s (colloque-cli pattern).
        let source = generator.frame(i as u64, Timestamp(u64::from(stamp.millis) * 1000));
        psnr.push(picture.psnr_y(&source).unwrap());
    }
    let mean = psnr.iter().sum::<f64>() / psnr.len() as f64;
    let min = psnr.iter().cloned().fold(f64::INFINITY, f64::min);
    println!("{file}: 30 frames, PSNR mean {mean:.1} dB, min {min:.1} dB");
    assert!(min >= min_psnr, "{file}: PSNR down to {min:.1} dB");
}

#[test]
fn vp8_reference_stream_decodes_to_the_pattern() {
    check("pattern-320x180-vp8.ivf", VideoCodec::Vp8, b"VP80", 36.0);
}

#[test]
fn vp9_reference_stream_decodes_to_the_pattern() {
    check("pattern-320x180-vp9.ivf", VideoCodec::Vp9, b"VP90", 33.0);
}

#[test]
fn a_truncated_frame_is_an_error_and_the_decoder_recovers_at_the_next_keyframe() {
    let path = format!("{}/tests/fixtures/pattern-320x180-vp8.ivf", env!("CARGO_MANIFEST_DIR"));
    let (_, frames) = read_ivf(std::fs::File::open(&path).unwrap()).unwrap();
    let mut decoder = video_decoder(VideoCodec::Vp8).unwrap();
    let key = &frames[0].data;
    let truncated = decoder.decode(&key[..key.len() / 3], Timestamp(0));
    println!("truncated keyframe: {truncated:?}");
    assert!(truncated.is_err(), "a truncated keyframe must be reported");
    let picture = decoder.decode(key, Timestamp(0)).unwrap().expect("keyframe decodes after garbage");
    assert_eq!(read_stamp(&picture).map(|s| s.counter), Some(0));
}
