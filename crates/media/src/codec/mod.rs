//! Video and audio codecs: H.264 encode/decode (OpenH264), Opus encode/decode, VP8/VP9 decode (libvpx).
pub mod h264;
pub mod opus;
#[cfg(feature = "vpx")]
pub mod vpx;

use crate::error::Result;
use crate::frame::{Timestamp, VideoFrame};

/// One encoded video frame (for H.264: Annex B NAL units with start codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedVideo {
    /// The bitstream.
    pub data: Vec<u8>,
    /// Whether a decoder can start here.
    pub keyframe: bool,
    /// Capture time of the source frame.
    pub timestamp: Timestamp,
}

/// Video codecs a remote participant may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264 (Colloque's own encoder; Safari and native clients).
    H264,
    /// VP8 (browsers' simulcast backup).
    Vp8,
    /// VP9 (what Chromium-based browsers in Visio send by default).
    Vp9,
}

/// Anything that turns encoded frames of one stream back into pictures.
pub trait VideoDecoder: Send {
    /// Decodes one frame; `Ok(None)` when the decoder needs more data before it can output a picture.
    /// A corrupt frame is an error that leaves the decoder usable after the next keyframe.
    fn decode(&mut self, data: &[u8], timestamp: Timestamp) -> Result<Option<VideoFrame>>;
}

/// A decoder for `codec`.
pub fn video_decoder(codec: VideoCodec) -> Result<Box<dyn VideoDecoder>> {
    Ok(match codec {
        VideoCodec::H264 => Box::new(h264::H264Decoder::new()?),
        #[cfg(feature = "vpx")]
        VideoCodec::Vp8 => Box::new(vpx::VpxDecoder::new(vpx::VpxCodec::Vp8)?),
        #[cfg(feature = "vpx")]
        VideoCodec::Vp9 => Box::new(vpx::VpxDecoder::new(vpx::VpxCodec::Vp9)?),
        #[cfg(not(feature = "vpx"))]
        other => {
            return Err(crate::error::CodecError::Config {
                codec: "video",
                reason: format!("{other:?} decoding needs the `vpx` feature"),
            }
            .into())
        }
    })
}
