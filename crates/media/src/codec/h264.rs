//! H.264 through OpenH264 (built from source with nasm): a rate-controlled encoder for camera and screen
//! content, and a decoder.
use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    SpsPpsStrategy, UsageType,
};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use super::{EncodedVideo, VideoDecoder};
use crate::error::{CodecError, Result};
use crate::frame::{Timestamp, VideoFrame};

const CODEC: &str = "H.264";

/// What the encoder is tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    /// Camera video: natural pictures, motion.
    Camera,
    /// Screen sharing: text and flat areas, mostly static; OpenH264's screen-content tools.
    Screen,
}

/// Encoder settings. The frame size comes from the frames themselves and may change between frames
/// (the encoder re-initialises and emits a keyframe).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct H264Config {
    /// Camera or screen content.
    pub mode: ContentMode,
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
    /// Highest frame rate the stream will carry.
    pub max_fps: f32,
    /// Let rate control drop frames to hold the bitrate (needed for screen content).
    pub frame_skipping: bool,
    /// A keyframe every this many frames; `None` for keyframes on request only (the WebRTC way).
    pub keyframe_interval: Option<u32>,
    /// Encoder threads; 1 keeps the encode on the caller's thread.
    pub threads: u16,
}

impl H264Config {
    /// Camera defaults: frame skipping on, keyframes on request.
    pub fn camera(bitrate_bps: u32, max_fps: f32) -> Self {
        Self {
            mode: ContentMode::Camera,
            bitrate_bps,
            max_fps,
            frame_skipping: true,
            keyframe_interval: None,
            threads: 1,
        }
    }

    /// Screen-sharing defaults.
    pub fn screen(bitrate_bps: u32, max_fps: f32) -> Self {
        Self { mode: ContentMode::Screen, ..Self::camera(bitrate_bps, max_fps) }
    }
}

/// Wraps a [`VideoFrame`] as OpenH264's input.
struct I420Input<'a>(&'a VideoFrame);

impl YUVSource for I420Input<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width() as usize, self.0.height() as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let (cw, _) = self.0.chroma_size();
        (self.0.width() as usize, cw, cw)
    }

    fn y(&self) -> &[u8] {
        self.0.y()
    }

    fn u(&self) -> &[u8] {
        self.0.u()
    }

    fn v(&self) -> &[u8] {
        self.0.v()
    }
}

/// A rate-controlled H.264 encoder (constrained baseline, as WebRTC expects).
pub struct H264Encoder {
    encoder: Encoder,
    config: H264Config,
    first_timestamp: Option<Timestamp>,
    keyframe_requested: bool,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder").field("config", &self.config).finish_non_exhaustive()
    }
}

fn config_error(reason: impl std::fmt::Display) -> CodecError {
    CodecError::Config { codec: CODEC, reason: reason.to_string() }
}

impl H264Encoder {
    /// Creates an encoder; fails on a zero bitrate or frame rate.
    pub fn new(config: H264Config) -> Result<Self> {
        if config.bitrate_bps < 10_000 || !(1.0..=120.0).contains(&config.max_fps) {
            return Err(config_error(format!(
                "bitrate {} bps and frame rate {} out of range",
                config.bitrate_bps, config.max_fps
            ))
            .into());
        }
        let encoder = Self::build(config)?;
        Ok(Self { encoder, config, first_timestamp: None, keyframe_requested: false })
    }

    fn build(config: H264Config) -> Result<Encoder> {
        let usage = match config.mode {
            ContentMode::Camera => UsageType::CameraVideoRealTime,
            ContentMode::Screen => UsageType::ScreenContentRealTime,
        };
        let encoder_config = EncoderConfig::new()
            .usage_type(usage)
            .bitrate(BitRate::from_bps(config.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(config.max_fps))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(config.frame_skipping)
            .complexity(Complexity::Low)
            // One SPS/PPS id for the whole stream: a receiver that joins late decodes from any keyframe.
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .intra_frame_period(IntraFramePeriod::from_num_frames(config.keyframe_interval.unwrap_or(0)))
            .num_threads(config.threads);
        Ok(Encoder::with_api_config(OpenH264API::from_source(), encoder_config).map_err(config_error)?)
    }

    /// OpenH264 initialises on the first frame; until then, settings changes rebuild the encoder.
    fn started(&self) -> bool {
        self.first_timestamp.is_some()
    }

    /// Current settings (after any runtime changes).
    pub fn config(&self) -> H264Config {
        self.config
    }

    /// The next frame will be a keyframe (after a PLI/FIR from a receiver).
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
    }

    /// Changes the target bitrate without restarting the stream (congestion control).
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<()> {
        if bitrate_bps < 10_000 {
            return Err(config_error(format!("bitrate {bitrate_bps} bps too low")).into());
        }
        if !self.started() {
            self.config.bitrate_bps = bitrate_bps;
            self.encoder = Self::build(self.config)?;
            return Ok(());
        }
        let bitrate = i32::try_from(bitrate_bps).map_err(config_error)?;
        // Raise the ceiling first when going up, so the target is never above it.
        let mut max =
            openh264_sys2::SBitrateInfo { iLayer: openh264_sys2::SPATIAL_LAYER_ALL, iBitrate: bitrate };
        let mut target =
            openh264_sys2::SBitrateInfo { iLayer: openh264_sys2::SPATIAL_LAYER_ALL, iBitrate: bitrate };
        // SAFETY: the encoder is initialised (created in `new`), and both options take an SBitrateInfo that
        // lives across the call; OpenH264 copies the values.
        let (rc_max, rc_target) = unsafe {
            let api = self.encoder.raw_api();
            let rc_max = api.set_option(openh264_sys2::ENCODER_OPTION_MAX_BITRATE, (&raw mut max).cast());
            let rc_target = api.set_option(openh264_sys2::ENCODER_OPTION_BITRATE, (&raw mut target).cast());
            (rc_max, rc_target)
        };
        if rc_max != 0 || rc_target != 0 {
            return Err(config_error(format!(
                "OpenH264 refused bitrate {bitrate_bps} ({rc_max}/{rc_target})"
            ))
            .into());
        }
        self.config.bitrate_bps = bitrate_bps;
        Ok(())
    }

    /// Changes the maximum frame rate while running.
    pub fn set_max_fps(&mut self, fps: f32) -> Result<()> {
        if !(1.0..=120.0).contains(&fps) {
            return Err(config_error(format!("frame rate {fps} out of range")).into());
        }
        if !self.started() {
            self.config.max_fps = fps;
            self.encoder = Self::build(self.config)?;
            return Ok(());
        }
        let mut value = fps;
        // SAFETY: as in `set_bitrate`; the option takes a float.
        let rc = unsafe {
            self.encoder
                .raw_api()
                .set_option(openh264_sys2::ENCODER_OPTION_FRAME_RATE, (&raw mut value).cast())
        };
        if rc != 0 {
            return Err(config_error(format!("OpenH264 refused frame rate {fps} ({rc})")).into());
        }
        self.config.max_fps = fps;
        Ok(())
    }

    /// Encodes one frame. Returns `None` when rate control skipped it. Width and height must be even.
    pub fn encode(&mut self, frame: &VideoFrame) -> Result<Option<EncodedVideo>> {
        if frame.width() % 2 != 0 || frame.height() % 2 != 0 {
            return Err(CodecError::Encode {
                codec: CODEC,
                reason: format!("odd frame size {}x{}", frame.width(), frame.height()),
            }
            .into());
        }
        if std::mem::take(&mut self.keyframe_requested) {
            self.encoder.force_intra_frame();
        }
        // Rate control works on the capture clock, relative to the first frame.
        let first = *self.first_timestamp.get_or_insert(frame.timestamp);
        let millis = frame.timestamp.saturating_since(first).as_millis() as u64;
        let stream = self
            .encoder
            .encode_at(&I420Input(frame), openh264::Timestamp::from_millis(millis))
            .map_err(|e| CodecError::Encode { codec: CODEC, reason: e.to_string() })?;
        let keyframe = match stream.frame_type() {
            FrameType::Skip | FrameType::Invalid => return Ok(None),
            FrameType::IDR | FrameType::I => true,
            FrameType::P | FrameType::IPMixed => false,
        };
        let data = stream.to_vec();
        if data.is_empty() {
            return Ok(None);
        }
        Ok(Some(EncodedVideo { data, keyframe, timestamp: frame.timestamp }))
    }
}

/// An H.264 decoder (Annex B input: one access unit per call).
pub struct H264Decoder {
    decoder: Decoder,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Decoder").finish_non_exhaustive()
    }
}

impl H264Decoder {
    /// Creates a decoder.
    pub fn new() -> Result<Self> {
        let decoder = Decoder::new().map_err(config_error)?;
        Ok(Self { decoder })
    }
}

impl VideoDecoder for H264Decoder {
    fn decode(&mut self, data: &[u8], timestamp: Timestamp) -> Result<Option<VideoFrame>> {
        let decoded = self
            .decoder
            .decode(data)
            .map_err(|e| CodecError::Decode { codec: CODEC, reason: e.to_string() })?;
        let Some(yuv) = decoded else { return Ok(None) };
        let (w, h) = yuv.dimensions();
        let (ys, us, vs) = yuv.strides();
        let (w, h) = (u32::try_from(w).map_err(config_error)?, u32::try_from(h).map_err(config_error)?);
        Ok(Some(VideoFrame::from_planes(w, h, yuv.y(), ys, yuv.u(), us, yuv.v(), vs, timestamp)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_decode_error_or_nothing_never_a_panic() {
        let mut decoder = H264Decoder::new().unwrap();
        for garbage in [&[][..], &[0, 0, 0, 1, 0x65, 0xff, 0x00, 0x13][..], &[0xde, 0xad, 0xbe, 0xef][..]] {
            if let Ok(Some(frame)) = decoder.decode(garbage, Timestamp(0)) {
                panic!("decoded a picture from garbage: {frame:?}");
            }
        }
    }

    #[test]
    fn refuses_bad_settings_and_odd_frames() {
        assert!(H264Encoder::new(H264Config::camera(0, 30.0)).is_err());
        assert!(H264Encoder::new(H264Config::camera(500_000, 0.0)).is_err());
        let mut encoder = H264Encoder::new(H264Config::camera(500_000, 30.0)).unwrap();
        assert!(encoder.encode(&VideoFrame::black(65, 64, Timestamp(0))).is_err());
        assert!(encoder.set_bitrate(5).is_err());
        encoder.set_bitrate(800_000).unwrap();
        assert_eq!(encoder.config().bitrate_bps, 800_000);
        encoder.encode(&VideoFrame::black(64, 64, Timestamp(0))).unwrap();
        encoder.set_bitrate(300_000).unwrap();
        encoder.set_max_fps(15.0).unwrap();
        assert_eq!((encoder.config().bitrate_bps, encoder.config().max_fps), (300_000, 15.0));
    }
}
