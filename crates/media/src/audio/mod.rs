//! Audio signal processing: resampling, echo cancellation, jitter buffering, mixing.
pub mod jitter;
pub mod mixer;
pub mod processing;
pub mod resample;
