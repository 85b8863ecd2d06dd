//! Colloque's media engine: everything that touches devices and signal processing, with no networking.
//!
//! - [`frame`]: the video and audio frame types every stage exchanges, with capture timestamps.
//! - [`source`]: one video source and one audio source interface; [`capture`] implements them for the
//!   camera (nokhwa), the screen (scrap), the microphone (cpal); [`synthetic`] for test patterns and tones.
//! - [`convert`]: colour conversion and scaling (SIMD crates, no hand-written pixel loops).
//! - [`codec`]: H.264 encode/decode (OpenH264), Opus encode/decode, VP8/VP9 decode (libvpx).
//! - [`audio`]: resampling, echo cancellation / noise suppression / gain control, jitter buffer, mixer.
//!
//! Errors are returned for every bad input (a missing device, a corrupt packet); the crate never panics
//! on data that comes from outside.
#![deny(missing_docs)]

pub mod audio;
pub mod capture;
pub mod codec;
pub mod convert;
pub mod error;
pub mod frame;
pub mod ivf;
pub mod source;
pub mod synthetic;

pub use error::{Error, Result};
pub use frame::{AudioFrame, Timestamp, VideoFrame};
pub use source::{AudioSource, VideoSource};
