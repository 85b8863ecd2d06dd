//! The capture-and-encode side of a published track: one thread per source pulls frames (sources block
//! until the next frame is due), scales each simulcast layer, encodes it, and hands the result to the
//! track's async writer. What the network side wants (keyframes, which layers, mute, stop) reaches the
//! thread through [`Control`], a few atomics it reads once per frame.
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use colloque_media::codec::h264::{ContentMode, H264Config, H264Encoder};
use colloque_media::codec::opus::{self, OpusConfig, OpusEncoder, FRAME_SAMPLES};
use colloque_media::codec::EncodedVideo;
use colloque_media::convert::Scaler;
use colloque_media::{AudioSource, Timestamp, VideoSource};
use livekit_protocol as proto;
use tokio::sync::mpsc;

/// Simulcast layers a track carries at most (LiveKit's q, h, f).
pub const MAX_LAYERS: usize = 3;

/// One encoding of a video track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// RTP stream id (`q`, `h`, `f`), empty for a track without simulcast.
    pub rid: &'static str,
    /// LiveKit's name for it.
    pub quality: proto::VideoQuality,
    /// Encoded width.
    pub width: u32,
    /// Encoded height.
    pub height: u32,
    /// Target bitrate.
    pub bitrate_bps: u32,
}

/// Bitrate for a camera picture of `height` lines at 30 fps, from LiveKit's presets (h180 160 kbps,
/// h360 450 kbps, h720 1.7 Mbps), interpolated by pixel count.
fn camera_bitrate(width: u32, height: u32) -> u32 {
    let pixels = f64::from(width) * f64::from(height);
    let per_pixel = if height <= 180 {
        160_000.0 / 57_600.0
    } else if height <= 360 {
        450_000.0 / 230_400.0
    } else {
        1_700_000.0 / 921_600.0
    };
    (pixels * per_pixel).max(50_000.0) as u32
}

/// Even size no larger than the source, keeping its aspect.
fn scaled(width: u32, height: u32, divisor: u32) -> (u32, u32) {
    ((width / divisor) & !1, (height / divisor) & !1)
}

/// A camera's layers: full size, half, quarter (three for 720p: 180p/360p/720p), fewer when the
/// smaller ones would be under 90 lines. Smallest first, as LiveKit lists them.
pub fn camera_layers(width: u32, height: u32) -> Vec<Layer> {
    let names = [
        ("f", proto::VideoQuality::High),
        ("h", proto::VideoQuality::Medium),
        ("q", proto::VideoQuality::Low),
    ];
    let mut layers: Vec<Layer> = names
        .iter()
        .enumerate()
        .map(|(i, &(rid, quality))| {
            let (w, h) = scaled(width, height, 1 << i);
            Layer { rid, quality, width: w, height: h, bitrate_bps: camera_bitrate(w, h) }
        })
        .take_while(|l| l.rid == "f" || l.height >= 90)
        .collect();
    if layers.len() == 1 {
        layers[0].rid = "";
    }
    layers.reverse();
    layers
}

/// A shared screen: one layer, at most 1080 lines, 1.5 to 2.5 Mbps depending on size (text needs bits
/// more than frames).
pub fn screen_layer(width: u32, height: u32) -> Layer {
    let (w, h) = if height > 1080 {
        let w = (u64::from(width) * 1080 / u64::from(height)) as u32;
        (w & !1, 1080)
    } else {
        (width & !1, height & !1)
    };
    let pixels = f64::from(w) * f64::from(h);
    let bitrate_bps = (1_500_000.0 + pixels / 2_073_600.0 * 1_000_000.0).min(2_500_000.0) as u32;
    Layer { rid: "", quality: proto::VideoQuality::High, width: w, height: h, bitrate_bps }
}

/// What the network side asks of an encoding thread.
#[derive(Debug, Default)]
pub struct Control {
    /// A keyframe is wanted on this layer (PLI/FIR, a new subscriber, a dropped frame).
    pub keyframe: [AtomicBool; MAX_LAYERS],
    /// Nobody watches this layer (`SubscribedQualityUpdate`): it is not encoded.
    pub paused: [AtomicBool; MAX_LAYERS],
    /// Congestion control turned this layer off: it is not encoded.
    pub congested: [AtomicBool; MAX_LAYERS],
    /// Bitrate congestion control gives this layer; 0 for its preset.
    pub bitrate_bps: [AtomicU32; MAX_LAYERS],
    /// The user muted the track: nothing is encoded.
    pub muted: AtomicBool,
    /// The track is gone: its threads and tasks end.
    pub stop: AtomicBool,
}

impl Control {
    /// Asks every layer for a keyframe.
    pub fn keyframes(&self) {
        for k in &self.keyframe {
            k.store(true, Ordering::Relaxed);
        }
    }
}

/// An encoded video frame of one layer.
#[derive(Debug)]
pub struct VideoPacket {
    /// Index into the track's layers.
    pub layer: usize,
    /// The frame.
    pub frame: EncodedVideo,
}

/// An encoded 20 ms of audio; `None` payload for a silent frame DTX leaves out (its time still passes).
#[derive(Debug)]
pub struct AudioPacket {
    /// The Opus packet, or `None` when DTX skips it.
    pub payload: Option<Vec<u8>>,
    /// Loudness for the audio-level extension, in −dBov (0 loudest, 127 silence).
    pub level: u8,
}

/// Why an encoding thread stopped by itself.
pub type Failure = String;

/// Runs a video track's encoding until told to stop, the writer goes away, or the source fails
/// (returned). Blocking: run it on its own thread.
pub fn encode_video(
    mut source: Box<dyn VideoSource>,
    layers: &[Layer],
    mode: ContentMode,
    max_fps: f32,
    control: &Control,
    stop: &AtomicBool,
    out: &mpsc::Sender<VideoPacket>,
) -> Result<(), Failure> {
    let config = |layer: &Layer| match mode {
        ContentMode::Camera => H264Config::camera(layer.bitrate_bps, max_fps),
        ContentMode::Screen => H264Config::screen(layer.bitrate_bps, max_fps),
    };
    let mut encoders = layers
        .iter()
        .map(|l| H264Encoder::new(config(l)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("encoder: {e}"))?;
    let mut scaler = Scaler::new();
    let min_interval_us = (1_000_000.0 / max_fps.max(1.0)) as u64;
    let mut last_encoded: Option<Timestamp> = None;
    let mut applied: Vec<u32> = layers.iter().map(|l| l.bitrate_bps).collect();
    while !control.stop.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
        let frame = source.next_frame().map_err(|e| e.to_string())?;
        if control.muted.load(Ordering::Relaxed) || out.is_closed() {
            if out.is_closed() {
                return Ok(());
            }
            continue;
        }
        // A source faster than the track's rate (a 30 fps screen shared at 15) is thinned here.
        if last_encoded.is_some_and(|t| {
            frame.timestamp.as_micros().saturating_sub(t.as_micros()) + 2_000 < min_interval_us
        }) {
            continue;
        }
        last_encoded = Some(frame.timestamp);
        for (i, (layer, encoder)) in layers.iter().zip(encoders.iter_mut()).enumerate() {
            if control.paused[i].load(Ordering::Relaxed) || control.congested[i].load(Ordering::Relaxed) {
                continue;
            }
            let wanted = match control.bitrate_bps[i].load(Ordering::Relaxed) {
                0 => layer.bitrate_bps,
                granted => granted,
            };
            // Small changes are not worth a rate-control reset.
            if wanted.abs_diff(applied[i]) > applied[i] / 10 {
                match encoder.set_bitrate(wanted) {
                    Ok(()) => applied[i] = wanted,
                    Err(e) => tracing::debug!(layer = layer.rid, error = %e, "bitrate not changed"),
                }
            }
            let picture;
            let input = if frame.width() == layer.width && frame.height() == layer.height {
                &frame
            } else {
                picture = scaler.scale(&frame, layer.width, layer.height).map_err(|e| e.to_string())?;
                &picture
            };
            if control.keyframe[i].swap(false, Ordering::Relaxed) {
                encoder.request_keyframe();
            }
            match encoder.encode(input) {
                Ok(Some(encoded)) => match out.try_send(VideoPacket { layer: i, frame: encoded }) {
                    Ok(()) => {}
                    // The network is behind: this frame is lost, so the next one must stand alone.
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        control.keyframe[i].store(true, Ordering::Relaxed)
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(layer = layer.rid, error = %e, "frame not encoded");
                    control.keyframe[i].store(true, Ordering::Relaxed);
                }
            }
        }
    }
    Ok(())
}

/// Loudness of a block in −dBov (RFC 6464), 127 for digital silence.
pub fn audio_level(samples: &[f32]) -> u8 {
    if samples.is_empty() {
        return 127;
    }
    let mean_square = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
    if mean_square <= 0.0 {
        return 127;
    }
    let dbov = 10.0 * mean_square.log10();
    (-dbov).round().clamp(0.0, 127.0) as u8
}

/// Runs a microphone track's encoding (Opus, mono, FEC, DTX) until told to stop, the writer goes away,
/// or the source fails. Blocking: run it on its own thread.
pub fn encode_audio(
    mut source: Box<dyn AudioSource>,
    control: &Control,
    stop: &AtomicBool,
    out: &mpsc::Sender<AudioPacket>,
) -> Result<(), Failure> {
    let mut encoder = OpusEncoder::new(OpusConfig::default()).map_err(|e| format!("encoder: {e}"))?;
    let mut pending: Vec<f32> = Vec::with_capacity(2 * FRAME_SAMPLES);
    while !control.stop.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
        let frame = source.next_frame().map_err(|e| e.to_string())?;
        let channels = usize::from(frame.channels.max(1));
        let muted = control.muted.load(Ordering::Relaxed);
        // Muted, the microphone still runs (unmuting is instant) but only silence is encoded, which DTX
        // reduces to almost nothing.
        pending.extend(frame.samples.chunks(channels).map(|c| {
            if muted {
                0.0
            } else {
                c.iter().sum::<f32>() / channels as f32
            }
        }));
        while pending.len() >= FRAME_SAMPLES {
            let block: Vec<f32> = pending.drain(..FRAME_SAMPLES).collect();
            let level = audio_level(&block);
            let packet = encoder.encode(&block).map_err(|e| e.to_string())?;
            let payload = (!opus::is_dtx(&packet)).then_some(packet);
            match out.try_send(AudioPacket { payload, level }) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_720p_camera_gets_three_layers_smallest_first() {
        let layers = camera_layers(1280, 720);
        let sizes: Vec<_> = layers.iter().map(|l| (l.rid, l.width, l.height)).collect();
        assert_eq!(sizes, vec![("q", 320, 180), ("h", 640, 360), ("f", 1280, 720)]);
        assert!(layers.windows(2).all(|w| w[0].bitrate_bps < w[1].bitrate_bps));
        assert!((1_500_000..=1_900_000).contains(&layers[2].bitrate_bps));
    }

    #[test]
    fn small_cameras_get_fewer_layers() {
        let rids: Vec<_> = camera_layers(320, 180).iter().map(|l| l.rid).collect();
        assert_eq!(rids, vec!["h", "f"]);
        let single = camera_layers(160, 120);
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].rid, "", "one layer is sent without simulcast");
    }

    #[test]
    fn a_4k_screen_is_shared_at_1080p() {
        let layer = screen_layer(3840, 2160);
        assert_eq!((layer.width, layer.height), (1920, 1080));
        assert!(layer.bitrate_bps <= 2_500_000);
        assert_eq!((screen_layer(1366, 767).width, screen_layer(1366, 767).height), (1366, 766));
    }

    #[test]
    fn audio_level_in_dbov() {
        assert_eq!(audio_level(&[]), 127);
        assert_eq!(audio_level(&[0.0; 480]), 127);
        assert_eq!(audio_level(&[1.0; 480]), 0);
        let quiet: Vec<f32> = (0..480).map(|i| if i % 2 == 0 { 0.01 } else { -0.01 }).collect();
        assert_eq!(audio_level(&quiet), 40);
    }
}
