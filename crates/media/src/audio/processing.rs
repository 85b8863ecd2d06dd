//! Voice processing on the microphone path: echo cancellation (WebRTC's AEC3, ported to Rust by the `aec3`
//! crate), high-pass filter, noise suppression and automatic gain control, in 10 ms mono blocks at 48 kHz.
//! The speaker mix is fed in as the far-end reference with [`VoiceProcessor::analyze_render`].
use aec3::nodes::audio::AudioFormat;
use aec3::pipelines::linear::{self, LinearPipeline};

use crate::error::{AudioError, Result};
use crate::frame::SAMPLE_RATE;

/// Samples in one 10 ms mono block.
pub const BLOCK_SAMPLES: usize = (SAMPLE_RATE / 100) as usize;

/// Which stages run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceProcessingConfig {
    /// Noise suppression (fans, keyboards, street noise).
    pub noise_suppression: bool,
    /// Automatic gain control (quiet or distant speakers).
    pub gain_control: bool,
    /// A first guess of the speaker→microphone delay; AEC3 finds the real one by itself.
    pub initial_delay_ms: Option<i32>,
}

impl Default for VoiceProcessingConfig {
    fn default() -> Self {
        Self { noise_suppression: true, gain_control: true, initial_delay_ms: None }
    }
}

/// Echo cancellation, noise suppression and gain control for one microphone.
pub struct VoiceProcessor {
    pipeline: LinearPipeline,
    config: VoiceProcessingConfig,
}

impl std::fmt::Debug for VoiceProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceProcessor").field("config", &self.config).finish_non_exhaustive()
    }
}

fn processing_error(e: impl std::fmt::Debug) -> AudioError {
    AudioError::Processing(format!("{e:?}"))
}

fn check_block(block: &[f32]) -> Result<()> {
    if block.len() != BLOCK_SAMPLES {
        return Err(AudioError::FrameLength { expected: BLOCK_SAMPLES, got: block.len() }.into());
    }
    Ok(())
}

impl VoiceProcessor {
    /// Builds the processing chain.
    pub fn new(config: VoiceProcessingConfig) -> Result<Self> {
        let format = AudioFormat::ten_ms(SAMPLE_RATE, 1);
        let mut builder = linear::builder(format, format)
            .enable_noise_suppression(config.noise_suppression)
            .enable_gain_controller2(config.gain_control);
        if let Some(delay) = config.initial_delay_ms {
            builder = builder.initial_delay_ms(delay);
        }
        let pipeline = builder.build().map_err(processing_error)?;
        Ok(Self { pipeline, config })
    }

    /// The stages this processor runs.
    pub fn config(&self) -> VoiceProcessingConfig {
        self.config
    }

    /// Feeds 10 ms of what the speaker is playing (the far end): the echo to remove.
    pub fn analyze_render(&mut self, far_end: &[f32]) -> Result<()> {
        check_block(far_end)?;
        self.pipeline.handle_render_frame(far_end).map_err(processing_error)?;
        Ok(())
    }

    /// Processes 10 ms of microphone audio in place into `out`. Returns `false` while the chain is still
    /// filling (then `out` is silence).
    pub fn process_capture(&mut self, near_end: &[f32], out: &mut [f32]) -> Result<bool> {
        check_block(near_end)?;
        check_block(out)?;
        self.pipeline.process_capture_frame(near_end, out).map_err(processing_error).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_block_sizes_are_errors() {
        let mut p = VoiceProcessor::new(VoiceProcessingConfig::default()).unwrap();
        let mut out = vec![0.0; BLOCK_SAMPLES];
        assert!(p.analyze_render(&[0.0; 100]).is_err());
        assert!(p.process_capture(&[0.0; 100], &mut out).is_err());
        p.analyze_render(&[0.0; BLOCK_SAMPLES]).unwrap();
        p.process_capture(&[0.0; BLOCK_SAMPLES], &mut out).unwrap();
    }
}
