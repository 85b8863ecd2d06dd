//! The two source interfaces every capture device and synthetic generator implements.
//!
//! Sources are pull-based and blocking: `next_frame` waits until the next frame is due (or captured),
//! so a caller runs each source on its own thread and paces nothing itself.
use crate::error::Result;
use crate::frame::{AudioFrame, VideoFrame};

/// What a video source produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoSourceInfo {
    /// Human-readable name ("Synthetic pattern", the camera's or display's name).
    pub name: String,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Nominal frame rate.
    pub fps: u32,
}

/// A source of I420 video frames: camera, screen or synthetic pattern.
pub trait VideoSource: Send {
    /// Size, rate and name of what this source produces.
    fn info(&self) -> VideoSourceInfo;
    /// Blocks until the next frame is available and returns it, stamped with its capture time.
    fn next_frame(&mut self) -> Result<VideoFrame>;
}

/// A source of 48 kHz audio: microphone, speaker loopback or synthetic tone.
pub trait AudioSource: Send {
    /// Channel count of the frames this source produces.
    fn channels(&self) -> u16;
    /// Blocks until the next block of audio (10 ms unless documented otherwise) is available.
    fn next_frame(&mut self) -> Result<AudioFrame>;
}
