//! Synthetic audio: a paced tone source with periodic chirp markers, a speech-like test signal, and the
//! small analyses tests use to check what arrived (frequency, band power).
use std::f32::consts::TAU;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::frame::{AudioFrame, Timestamp, SAMPLE_RATE};
use crate::source::AudioSource;

/// Samples per channel in a 10 ms block at 48 kHz.
const BLOCK: usize = (SAMPLE_RATE / 100) as usize;

/// A sine tone with an optional rising chirp marker (1→4 kHz over 10 ms) every `marker_every` blocks, so a
/// receiver can find a known instant in the stream.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    freq: f32,
    amplitude: f32,
    phase: f32,
    block: u64,
    marker_every: Option<u64>,
}

impl ToneGenerator {
    /// A continuous tone of `freq` Hz at `amplitude` (0..1).
    pub fn new(freq: f32, amplitude: f32) -> Self {
        Self { freq, amplitude: amplitude.clamp(0.0, 1.0), phase: 0.0, block: 0, marker_every: None }
    }

    /// Replaces every `blocks`-th 10 ms block with a chirp marker.
    pub fn with_markers(mut self, blocks: u64) -> Self {
        self.marker_every = (blocks > 0).then_some(blocks);
        self
    }

    /// Whether block number `index` is a marker.
    pub fn is_marker(&self, index: u64) -> bool {
        self.marker_every.is_some_and(|every| index % every == 0)
    }

    /// The next 10 ms of mono audio.
    pub fn next_block(&mut self) -> Vec<f32> {
        let marker = self.is_marker(self.block);
        self.block += 1;
        let mut out = Vec::with_capacity(BLOCK);
        if marker {
            // Linear chirp: instantaneous frequency from 1 kHz to 4 kHz across the block.
            let mut phase = 0.0f32;
            for i in 0..BLOCK {
                let f = 1000.0 + 3000.0 * i as f32 / BLOCK as f32;
                phase = (phase + TAU * f / SAMPLE_RATE as f32) % TAU;
                out.push(self.amplitude * phase.sin());
            }
        } else {
            let step = TAU * self.freq / SAMPLE_RATE as f32;
            for _ in 0..BLOCK {
                out.push(self.amplitude * self.phase.sin());
                self.phase = (self.phase + step) % TAU;
            }
        }
        out
    }
}

/// A paced [`AudioSource`] of a tone (mono, 10 ms blocks in real time).
#[derive(Debug)]
pub struct SyntheticAudio {
    generator: ToneGenerator,
    started: Option<Instant>,
    blocks: u64,
    paced: bool,
}

impl SyntheticAudio {
    /// A real-time source of `generator`'s blocks.
    pub fn new(generator: ToneGenerator) -> Self {
        Self { generator, started: None, blocks: 0, paced: true }
    }

    /// Produces blocks as fast as they are asked for.
    pub fn unpaced(mut self) -> Self {
        self.paced = false;
        self
    }
}

impl AudioSource for SyntheticAudio {
    fn channels(&self) -> u16 {
        1
    }

    fn next_frame(&mut self) -> Result<AudioFrame> {
        let started = *self.started.get_or_insert_with(Instant::now);
        if self.paced {
            let due = started + Duration::from_millis(self.blocks * 10);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        self.blocks += 1;
        Ok(AudioFrame { samples: self.generator.next_block(), channels: 1, timestamp: Timestamp::now() })
    }
}

/// `seconds` of a deterministic speech-like mono signal at 48 kHz: a voiced source whose pitch glides between
/// ~110 and ~220 Hz, with harmonics shaped by two moving formants, syllables at ~4 Hz and short pauses.
/// Not speech, but it has speech's spectrum and dynamics, which is what codecs and echo cancellers care about.
pub fn speech_like(seconds: f32, seed: u32) -> Vec<f32> {
    let n = (seconds * SAMPLE_RATE as f32) as usize;
    let sr = SAMPLE_RATE as f32;
    let mut out = Vec::with_capacity(n);
    let mut phase = 0.0f32;
    let s = seed as f32 * 0.37;
    for i in 0..n {
        let t = i as f32 / sr;
        let f0 = 160.0 + 50.0 * (TAU * 0.7 * t + s).sin() + 15.0 * (TAU * 2.3 * t).sin();
        phase = (phase + TAU * f0 / sr) % TAU;
        let formant1 = 500.0 + 300.0 * (TAU * 1.1 * t + s).sin();
        let formant2 = 1500.0 + 600.0 * (TAU * 0.9 * t + 1.0).sin();
        let mut v = 0.0f32;
        for k in 1..=20 {
            let fk = f0 * k as f32;
            if fk > 7000.0 {
                break;
            }
            let g = 1.0 / (1.0 + ((fk - formant1) / 200.0).powi(2))
                + 0.6 / (1.0 + ((fk - formant2) / 300.0).powi(2));
            v += g * (k as f32 * phase).sin() / k as f32;
        }
        // Syllable envelope (~4 Hz) and a pause of 0.4 s every 2.5 s.
        let syllable = (0.5 - 0.5 * (TAU * 4.0 * t + s).cos()).powf(0.7);
        let pause = if (t + s) % 2.5 > 2.1 { 0.0 } else { 1.0 };
        out.push(0.5 * v * syllable * pause);
    }
    out
}

/// Power of `samples` at `freq` Hz (Goertzel), normalised so a full-scale sine gives about 0.25.
pub fn goertzel_power(samples: &[f32], freq: f32) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = TAU * freq / SAMPLE_RATE as f32;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (samples.len() as f32 * samples.len() as f32)
}

/// Frequency of a (mostly) pure tone from its rising zero crossings, interpolated between samples.
/// Returns `None` when there are fewer than two crossings.
pub fn estimate_frequency(samples: &[f32], sample_rate: u32) -> Option<f32> {
    let mut crossings = Vec::new();
    for (i, pair) in samples.windows(2).enumerate() {
        if pair[0] < 0.0 && pair[1] >= 0.0 {
            let frac = pair[0] / (pair[0] - pair[1]);
            crossings.push(i as f32 + frac);
        }
    }
    let (first, last) = (crossings.first()?, crossings.last()?);
    if crossings.len() < 2 {
        return None;
    }
    Some((crossings.len() - 1) as f32 * sample_rate as f32 / (last - first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_has_its_frequency_and_markers_are_chirps() {
        let mut tone = ToneGenerator::new(440.0, 0.5).with_markers(50);
        let marker = tone.next_block();
        let body: Vec<f32> = (0..49).flat_map(|_| tone.next_block()).collect();
        let f = estimate_frequency(&body, SAMPLE_RATE).unwrap();
        assert!((f - 440.0).abs() < 1.0, "{f}");
        assert!(goertzel_power(&marker, 2500.0) > 10.0 * goertzel_power(&marker, 440.0));
        assert!(goertzel_power(&body, 440.0) > 0.05);
    }

    #[test]
    fn speech_like_is_deterministic_and_voiced() {
        let a = speech_like(1.0, 1);
        assert_eq!(a, speech_like(1.0, 1));
        assert_ne!(a, speech_like(1.0, 2));
        let rms = (a.iter().map(|x| x * x).sum::<f32>() / a.len() as f32).sqrt();
        assert!(rms > 0.02 && rms < 0.5, "{rms}");
        assert!(a.iter().all(|x| x.abs() <= 1.0));
    }

    #[test]
    fn frequency_of_silence_is_none() {
        assert_eq!(estimate_frequency(&[0.0; 480], SAMPLE_RATE), None);
    }
}
