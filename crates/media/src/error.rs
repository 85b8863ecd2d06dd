//! The crate's error type: one enum per concern, rolled up into [`Error`].
use thiserror::Error;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the media engine.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A capture device could not be listed, opened or read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A codec refused its configuration or its input.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Audio processing (resampling, echo cancellation) failed.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// A frame or buffer does not have the size its format requires.
    #[error("invalid frame: {0}")]
    InvalidFrame(String),
    /// A container file (IVF, Y4M) is malformed.
    #[error("malformed {format} data: {reason}")]
    Container {
        /// Which container.
        format: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Errors of capture devices: camera, screen, microphone, speaker.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// No device of this kind exists on this machine.
    #[error("no {kind} found on this computer")]
    NoDevice {
        /// "camera", "display", "microphone" or "speaker".
        kind: &'static str,
    },
    /// The named device does not exist (any more).
    #[error("{kind} \"{name}\" not found")]
    DeviceNotFound {
        /// Device kind.
        kind: &'static str,
        /// The name or id that was asked for.
        name: String,
    },
    /// The device exists but could not be opened (busy, permission denied, unsupported format).
    #[error("could not open {kind} \"{name}\": {reason}")]
    OpenFailed {
        /// Device kind.
        kind: &'static str,
        /// Device name.
        name: String,
        /// What the system said.
        reason: String,
    },
    /// The device stopped delivering data (unplugged, session lost).
    #[error("{kind} stopped: {reason}")]
    Stopped {
        /// Device kind.
        kind: &'static str,
        /// Why.
        reason: String,
    },
    /// The platform has no backend for this device kind (e.g. screen capture on Wayland).
    #[error("{kind} capture is not available: {reason}")]
    Unavailable {
        /// Device kind.
        kind: &'static str,
        /// Why.
        reason: String,
    },
}

/// Errors of encoders and decoders.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The codec could not be created with these settings.
    #[error("{codec}: invalid configuration: {reason}")]
    Config {
        /// Codec name.
        codec: &'static str,
        /// What was refused.
        reason: String,
    },
    /// Encoding a frame failed.
    #[error("{codec}: encode failed: {reason}")]
    Encode {
        /// Codec name.
        codec: &'static str,
        /// Why.
        reason: String,
    },
    /// A packet could not be decoded (corrupt, truncated, or out of order without a keyframe).
    #[error("{codec}: decode failed: {reason}")]
    Decode {
        /// Codec name.
        codec: &'static str,
        /// Why.
        reason: String,
    },
}

/// Errors of audio processing.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AudioError {
    /// The resampler refused its rates or input.
    #[error("resampler: {0}")]
    Resample(String),
    /// The echo canceller / noise suppressor refused its configuration or input.
    #[error("audio processing: {0}")]
    Processing(String),
    /// A frame of the wrong length or sample rate was given.
    #[error("audio frame: expected {expected} samples, got {got}")]
    FrameLength {
        /// Expected sample count.
        expected: usize,
        /// Actual sample count.
        got: usize,
    },
}
