//! Audio signal processing: resampling, echo cancellation (and the microphone that applies it), jitter
//! buffering, mixing.
pub mod jitter;
pub mod mixer;
pub mod processing;
pub mod resample;
pub mod voice;
