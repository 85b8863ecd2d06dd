//! Mixes the decoded audio of every remote speaker into one speaker feed, with a smooth limiter so that
//! many loud talkers at once never clip.
/// Level above which the limiter starts to reduce gain.
const CEILING: f32 = 0.95;
/// Per-sample gain recovery towards 1.0 after a peak (~50 ms at 48 kHz).
const RELEASE: f32 = 1.0 / 2400.0;

/// Sums streams and limits the result.
#[derive(Debug, Clone)]
pub struct Mixer {
    gain: f32,
    mix: Vec<f32>,
}

impl Default for Mixer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mixer {
    /// A mixer with unity gain.
    pub fn new() -> Self {
        Self { gain: 1.0, mix: Vec::new() }
    }

    /// Mixes `inputs` (each interleaved, same layout; shorter inputs count as silence at their end)
    /// into a block of `len` samples.
    pub fn mix<'a>(&mut self, len: usize, inputs: impl IntoIterator<Item = &'a [f32]>) -> &[f32] {
        self.mix.clear();
        self.mix.resize(len, 0.0);
        for input in inputs {
            for (acc, &x) in self.mix.iter_mut().zip(input) {
                *acc += x;
            }
        }
        // Instant attack (never exceed the ceiling), slow release (no pumping on short peaks).
        for sample in self.mix.iter_mut() {
            let peak = sample.abs() * self.gain;
            if peak > CEILING {
                self.gain = CEILING / sample.abs();
            }
            *sample *= self.gain;
            self.gain = (self.gain + RELEASE).min(1.0);
        }
        &self.mix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_streams_add_up_exactly() {
        let mut m = Mixer::new();
        let a = [0.1f32, 0.2, -0.1];
        let b = [0.05f32, -0.2];
        assert_eq!(m.mix(3, [&a[..], &b[..]]), &[0.15f32, 0.0, -0.1][..]);
    }

    #[test]
    fn many_loud_streams_never_clip() {
        let mut m = Mixer::new();
        let loud: Vec<f32> = (0..4800).map(|i| 0.8 * (i as f32 * 0.05).sin()).collect();
        let inputs: Vec<&[f32]> = (0..10).map(|_| &loud[..]).collect();
        let out = m.mix(4800, inputs);
        assert!(out.iter().all(|x| x.abs() <= CEILING + 1e-6));
        assert!(out.iter().any(|x| x.abs() > 0.5), "the mix must stay audible");
    }
}
