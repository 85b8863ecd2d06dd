//! Sample-rate conversion to 48 kHz (rubato).
//!
//! [`Resampler`] is a streaming converter: push interleaved blocks of any length at the device's
//! rate, pop fixed-size blocks at the output rate (48 kHz unless built with
//! [`Resampler::with_rates`]). Internally it feeds rubato's synchronous FFT resampler one 10 ms
//! chunk at a time, falling back to the asynchronous sinc resampler for rate pairs whose FFT
//! block would be long (coprime rates such as 44 101 Hz). Equal rates are a passthrough: the
//! samples come out bit-exact and without delay.
use std::collections::VecDeque;
use std::fmt;

use rubato::{
    FftFixedIn, Resampler as _, SincFixedIn, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use crate::error::{AudioError, Result};
use crate::frame::SAMPLE_RATE;

/// Rates above this are refused (rubato would accept them, but no audio device runs faster).
const MAX_RATE: u32 = 768_000;
/// Most channels a stream may have (PulseAudio's own limit is 32).
const MAX_CHANNELS: usize = 64;

/// A streaming sample-rate converter for interleaved f32 audio.
pub struct Resampler {
    in_rate: u32,
    out_rate: u32,
    channels: usize,
    /// `None` when the rates are equal.
    engine: Option<Engine>,
    /// Interleaved output at `out_rate`, waiting to be popped.
    output: VecDeque<f32>,
}

/// One of the two rubato resamplers.
enum Rubato {
    /// Synchronous FFT resampler, for rates with a short common period.
    Fft(Box<FftFixedIn<f32>>),
    /// Asynchronous sinc resampler, for nearly coprime rates.
    Sinc(Box<SincFixedIn<f32>>),
}

/// Calls the same `rubato::Resampler` method on whichever resampler runs.
macro_rules! dispatch {
    ($rubato:expr, $r:ident => $body:expr) => {
        match $rubato {
            Rubato::Fft($r) => $body,
            Rubato::Sinc($r) => $body,
        }
    };
}

/// The rubato state used when the rates differ.
struct Engine {
    inner: Rubato,
    /// Per-channel input waiting until a full rubato chunk is there.
    pending: Vec<Vec<f32>>,
    /// Per-channel output scratch, sized for the largest rubato output.
    scratch: Vec<Vec<f32>>,
    /// Which rubato resampler runs, for `Debug`.
    kind: &'static str,
}

impl fmt::Debug for Resampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resampler")
            .field("in_rate", &self.in_rate)
            .field("out_rate", &self.out_rate)
            .field("channels", &self.channels)
            .field("engine", &self.engine.as_ref().map(|e| e.kind).unwrap_or("passthrough"))
            .field("buffered_out", &(self.output.len() / self.channels))
            .finish()
    }
}

impl Resampler {
    /// A resampler from `in_rate` to 48 kHz ([`SAMPLE_RATE`]) for `channels` interleaved channels.
    pub fn new(in_rate: u32, channels: u16) -> Result<Self> {
        Self::with_rates(in_rate, SAMPLE_RATE, channels)
    }

    /// A resampler between two arbitrary rates (e.g. 48 kHz to a speaker's 44.1 kHz).
    pub fn with_rates(in_rate: u32, out_rate: u32, channels: u16) -> Result<Self> {
        let channels = usize::from(channels);
        for rate in [in_rate, out_rate] {
            if rate == 0 || rate > MAX_RATE {
                return Err(AudioError::Resample(format!("unsupported sample rate {rate} Hz")).into());
            }
        }
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(AudioError::Resample(format!("unsupported channel count {channels}")).into());
        }
        let engine = if in_rate == out_rate { None } else { Some(Engine::new(in_rate, out_rate, channels)?) };
        tracing::debug!(
            in_rate,
            out_rate,
            channels,
            engine = engine.as_ref().map(|e| e.kind).unwrap_or("passthrough"),
            "resampler created"
        );
        Ok(Self { in_rate, out_rate, channels, engine, output: VecDeque::new() })
    }

    /// Input sample rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.in_rate
    }

    /// Output sample rate in Hz.
    pub fn output_rate(&self) -> u32 {
        self.out_rate
    }

    /// Channel count (the same on both sides).
    pub fn channels(&self) -> u16 {
        // `with_rates` caps channels at MAX_CHANNELS, so this never saturates.
        u16::try_from(self.channels).unwrap_or(u16::MAX)
    }

    /// Whether samples are copied through unchanged (equal rates).
    pub fn is_passthrough(&self) -> bool {
        self.engine.is_none()
    }

    /// Appends interleaved input samples at the input rate. Their length must be a multiple of
    /// the channel count. Full rubato chunks are converted immediately; the rest waits for the
    /// next push.
    pub fn push(&mut self, interleaved: &[f32]) -> Result<()> {
        if interleaved.len() % self.channels != 0 {
            return Err(AudioError::Resample(format!(
                "{} samples is not a whole number of {}-channel frames",
                interleaved.len(),
                self.channels
            ))
            .into());
        }
        match &mut self.engine {
            None => self.output.extend(interleaved.iter().copied()),
            Some(engine) => engine.push(interleaved, self.channels, &mut self.output)?,
        }
        Ok(())
    }

    /// Output frames (samples per channel) ready to be popped.
    pub fn available_frames(&self) -> usize {
        self.output.len() / self.channels
    }

    /// Removes and returns exactly `frames_per_channel` interleaved output frames, or `None` if
    /// fewer are buffered (they stay for a later call).
    pub fn pop_frame(&mut self, frames_per_channel: usize) -> Option<Vec<f32>> {
        let n = frames_per_channel.checked_mul(self.channels)?;
        if n == 0 || self.output.len() < n {
            return None;
        }
        Some(self.output.drain(..n).collect())
    }

    /// Moves every buffered output frame to the end of `out`.
    pub fn drain_into(&mut self, out: &mut Vec<f32>) {
        out.extend(self.output.drain(..));
    }

    /// How far the output lags the input, in output frames: the filter delay plus the input that
    /// waits for a full chunk. Zero for a passthrough.
    pub fn latency_frames(&self) -> usize {
        match &self.engine {
            None => 0,
            Some(engine) => {
                let pending = engine.pending.first().map_or(0, Vec::len) as u64;
                let pending_out = pending * u64::from(self.out_rate) / u64::from(self.in_rate);
                dispatch!(&engine.inner, r => r.output_delay())
                    + usize::try_from(pending_out).unwrap_or(usize::MAX)
            }
        }
    }

    /// Forgets all buffered input and output and the filter state.
    pub fn reset(&mut self) {
        self.output.clear();
        if let Some(engine) = &mut self.engine {
            dispatch!(&mut engine.inner, r => r.reset());
            engine.pending.iter_mut().for_each(Vec::clear);
        }
    }
}

impl Engine {
    fn new(in_rate: u32, out_rate: u32, channels: usize) -> Result<Self> {
        let (in_rate, out_rate) = (in_rate as usize, out_rate as usize);
        let gcd = gcd(in_rate, out_rate);
        let min_chunk_in = in_rate / gcd;
        let ten_ms = (in_rate / 100).max(1);
        // Smallest multiple of the FFT's period that holds 10 ms: then every rubato call consumes
        // exactly one FFT block and yields exactly `chunk * out / in` frames.
        let chunk = ten_ms.div_ceil(min_chunk_in) * min_chunk_in;
        let err = |e: rubato::ResamplerConstructionError| AudioError::Resample(e.to_string());
        let (inner, kind) = if chunk <= in_rate / 10 {
            let fft = FftFixedIn::<f32>::new(in_rate, out_rate, chunk, 1, channels).map_err(err)?;
            (Rubato::Fft(Box::new(fft)), "fft")
        } else {
            // Nearly coprime rates: an FFT block would be longer than 100 ms of latency.
            let params = SincInterpolationParameters {
                sinc_len: 128,
                f_cutoff: rubato::calculate_cutoff(128, WindowFunction::BlackmanHarris2),
                oversampling_factor: 256,
                interpolation: SincInterpolationType::Quadratic,
                window: WindowFunction::BlackmanHarris2,
            };
            let ratio = out_rate as f64 / in_rate as f64;
            let sinc = SincFixedIn::<f32>::new(ratio, 1.0, params, ten_ms, channels).map_err(err)?;
            (Rubato::Sinc(Box::new(sinc)), "sinc")
        };
        let max_in = dispatch!(&inner, r => r.input_frames_max());
        let pending = (0..channels).map(|_| Vec::with_capacity(2 * max_in)).collect();
        let scratch = dispatch!(&inner, r => r.output_buffer_allocate(true));
        Ok(Self { inner, pending, scratch, kind })
    }

    fn push(&mut self, interleaved: &[f32], channels: usize, output: &mut VecDeque<f32>) -> Result<()> {
        for frame in interleaved.chunks_exact(channels) {
            for (pending, &sample) in self.pending.iter_mut().zip(frame) {
                pending.push(sample);
            }
        }
        loop {
            let needed = dispatch!(&self.inner, r => r.input_frames_next());
            let have = self.pending.first().map_or(0, Vec::len);
            if needed == 0 || have < needed {
                return Ok(());
            }
            let (consumed, produced) =
                dispatch!(&mut self.inner, r => r.process_into_buffer(&self.pending, &mut self.scratch, None))
                    .map_err(|e| AudioError::Resample(e.to_string()))?;
            for pending in &mut self.pending {
                pending.drain(..consumed);
            }
            output.reserve(produced * channels);
            for i in 0..produced {
                output.extend(self.scratch.iter().map(|ch| ch[i]));
            }
        }
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn sine(freq: f32, rate: u32, frames: usize, channels: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(frames * channels);
        for i in 0..frames {
            let s = 0.5 * (TAU * freq * i as f32 / rate as f32).sin();
            out.extend(std::iter::repeat_n(s, channels));
        }
        out
    }

    /// Frequency from the count of rising zero crossings, with sub-sample interpolation of the
    /// first and last crossing.
    fn zero_crossing_freq(x: &[f32], rate: u32) -> f64 {
        let mut first = None;
        let mut last = 0.0;
        let mut count = 0usize;
        for i in 1..x.len() {
            if x[i - 1] < 0.0 && x[i] >= 0.0 {
                let t = (i - 1) as f64 + f64::from(-x[i - 1] / (x[i] - x[i - 1]));
                if first.is_none() {
                    first = Some(t);
                } else {
                    count += 1;
                }
                last = t;
            }
        }
        let first = first.unwrap_or(0.0);
        count as f64 * f64::from(rate) / (last - first)
    }

    fn channel(x: &[f32], channels: usize, c: usize) -> Vec<f32> {
        x.iter().skip(c).step_by(channels).copied().collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt()
    }

    /// Pushes `input` in irregular slices and pops 10 ms blocks; returns the popped output.
    fn run(resampler: &mut Resampler, input: &[f32], channels: usize) -> Vec<f32> {
        let sizes = [1usize, 7, 441, 100, 1024, 3, 960, 250];
        let mut out = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < input.len() {
            let n = (sizes[k % sizes.len()] * channels).min(input.len() - pos);
            resampler.push(&input[pos..pos + n]).unwrap();
            pos += n;
            k += 1;
            while let Some(block) = resampler.pop_frame(480) {
                assert_eq!(block.len(), 480 * channels);
                out.extend(block);
            }
        }
        out
    }

    #[test]
    fn resample_44100_sine_keeps_frequency_and_length() {
        let mut r = Resampler::new(44_100, 1).unwrap();
        assert!(!r.is_passthrough());
        let input = sine(1000.0, 44_100, 44_100, 1);
        let out = run(&mut r, &input, 1);
        // One second in: 48 000 frames out, minus at most one block still inside the resampler.
        let total = out.len() + r.available_frames();
        assert!((47_520..=48_000).contains(&total), "{total} frames out");
        // Skip the filter's start-up transient.
        let steady = &out[2_400..];
        let f = zero_crossing_freq(steady, 48_000);
        assert!((f - 1000.0).abs() < 0.5, "detected {f} Hz");
        let level = rms(steady);
        assert!((level - 0.5 / 2f32.sqrt()).abs() < 0.01, "rms {level}");
        assert!(r.latency_frames() < 960, "latency {}", r.latency_frames());
    }

    #[test]
    fn resample_stereo_16k_and_96k() {
        for rate in [16_000u32, 96_000, 22_050, 44_101] {
            let mut r = Resampler::new(rate, 2).unwrap();
            let frames = rate as usize / 2;
            // Left 440 Hz, right 1 kHz.
            let left = sine(440.0, rate, frames, 1);
            let right = sine(1000.0, rate, frames, 1);
            let input: Vec<f32> = left.iter().zip(&right).flat_map(|(&l, &r)| [l, r]).collect();
            let out = run(&mut r, &input, 2);
            let total = out.len() / 2 + r.available_frames();
            assert!((23_000..=24_000).contains(&total), "{rate} Hz: {total} frames out");
            let l = channel(&out, 2, 0);
            let rr = channel(&out, 2, 1);
            let fl = zero_crossing_freq(&l[4_800..], 48_000);
            let fr = zero_crossing_freq(&rr[4_800..], 48_000);
            assert!((fl - 440.0).abs() < 0.5, "{rate} Hz left: {fl}");
            assert!((fr - 1000.0).abs() < 0.5, "{rate} Hz right: {fr}");
        }
    }

    #[test]
    fn resample_48k_to_44k1() {
        let mut r = Resampler::with_rates(48_000, 44_100, 1).unwrap();
        assert_eq!((r.input_rate(), r.output_rate(), r.channels()), (48_000, 44_100, 1));
        let out = run(&mut r, &sine(660.0, 48_000, 48_000, 1), 1);
        let f = zero_crossing_freq(&out[2_205..], 44_100);
        assert!((f - 660.0).abs() < 0.5, "detected {f} Hz");
    }

    #[test]
    fn resample_passthrough_is_exact() {
        let mut r = Resampler::new(48_000, 2).unwrap();
        assert!(r.is_passthrough());
        assert_eq!(r.latency_frames(), 0);
        let input: Vec<f32> = (0..2_000).map(|i| (i as f32 * 0.37).sin()).collect();
        r.push(&input[..6]).unwrap();
        assert_eq!(r.pop_frame(4), None);
        r.push(&input[6..]).unwrap();
        let mut out = Vec::new();
        while let Some(block) = r.pop_frame(480) {
            out.extend(block);
        }
        r.drain_into(&mut out);
        assert_eq!(out, input);
    }

    #[test]
    fn resample_rejects_bad_input() {
        assert!(Resampler::new(0, 1).is_err());
        assert!(Resampler::new(44_100, 0).is_err());
        assert!(Resampler::with_rates(44_100, 10_000_000, 1).is_err());
        let mut r = Resampler::new(44_100, 2).unwrap();
        assert!(r.push(&[0.0; 3]).is_err());
        assert_eq!(r.pop_frame(0), None);
        r.push(&[0.0; 2 * 4_410]).unwrap();
        assert!(r.available_frames() > 0);
        r.reset();
        assert_eq!(r.available_frames(), 0);
    }
}
