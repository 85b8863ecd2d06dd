//! Synthetic sources for tests, demos and bots: a moving video pattern that carries its own frame counter
//! and capture time in its pixels, and tones / speech-like audio with markers.
mod audio;
mod video;

pub use audio::{estimate_frequency, goertzel_power, speech_like, SyntheticAudio, ToneGenerator};
pub use video::{read_stamp, PatternGenerator, PatternStamp, SyntheticVideo};
