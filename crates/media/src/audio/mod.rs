//! Audio signal processing: resampling, echo cancellation, jitter buffering, mixing.
pub mod resample;
