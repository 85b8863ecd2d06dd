//! Echo cancellation on a simulated echo path: the far end's speech comes back into the microphone delayed,
//! attenuated and coloured. After convergence the echo must drop by at least 20 dB (ERLE), while the local
//! talker's speech goes through; the same through the microphone wrapper a call uses, fed by the speaker's
//! hand-off.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use colloque_media::audio::processing::{VoiceProcessingConfig, VoiceProcessor, BLOCK_SAMPLES};
use colloque_media::audio::voice::{FarEnd, ProcessedMicrophone};
use colloque_media::frame::{AudioFrame, Timestamp};
use colloque_media::synthetic::speech_like;
use colloque_media::AudioSource;

const ECHO_DELAY: usize = 48 * 60; // 60 ms from speaker to microphone
const ECHO_GAIN: f32 = 0.5; // -6 dB

/// The room: delay, attenuation and a short reverberant tail.
fn echo_path(far: &[f32]) -> Vec<f32> {
    let taps = [(0usize, 1.0f32), (48 * 3, 0.35), (48 * 7, -0.2), (48 * 13, 0.1)];
    (0..far.len())
        .map(|i| {
            taps.iter().filter_map(|&(d, g)| i.checked_sub(ECHO_DELAY + d).map(|j| far[j] * g)).sum::<f32>()
                * ECHO_GAIN
        })
        .collect()
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum()
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
    dot / (energy(a) * energy(b)).sqrt().max(1e-12)
}

#[test]
fn echo_is_removed_and_near_end_speech_is_kept() {
    // AEC alone, so the figures are about echo removal rather than gain control.
    let mut apm = VoiceProcessor::new(VoiceProcessingConfig {
        noise_suppression: false,
        gain_control: false,
        initial_delay_ms: None,
    })
    .unwrap();
    let seconds = 14.0;
    let far = speech_like(seconds, 1);
    // The local talker speaks alone from 10 s to 14 s (far end silent then), a different voice.
    let near_talk = speech_like(seconds, 9);
    let n = far.len();
    let double_start = 48_000 * 10;
    let mut far_played = far.clone();
    far_played[double_start..].fill(0.0);
    let echo_played = echo_path(&far_played);
    let mut mic = echo_played.clone();
    for i in double_start..n {
        mic[i] += near_talk[i] * 0.5;
    }

    let mut out = vec![0.0f32; n];
    for (k, (far_block, mic_block)) in
        far_played.chunks_exact(BLOCK_SAMPLES).zip(mic.chunks_exact(BLOCK_SAMPLES)).enumerate()
    {
        apm.analyze_render(far_block).unwrap();
        let range = k * BLOCK_SAMPLES..(k + 1) * BLOCK_SAMPLES;
        apm.process_capture(mic_block, &mut out[range]).unwrap();
    }

    // ERLE over the far-end-only span after 4 s of convergence (pauses in speech included).
    let span = 48_000 * 4..double_start;
    let erle = 10.0 * (energy(&mic[span.clone()]) / energy(&out[span.clone()]).max(1e-12)).log10();
    // Near end alone: its speech must come through (allow for the processor's block delay).
    let near_ref: Vec<f32> = near_talk[double_start..n].iter().map(|x| x * 0.5).collect();
    let best = (0..=4)
        .map(|d| {
            correlation(
                &near_ref[..near_ref.len() - 4 * BLOCK_SAMPLES],
                &out[double_start + d * BLOCK_SAMPLES..n - (4 - d) * BLOCK_SAMPLES],
            )
        })
        .fold(f64::MIN, f64::max);
    let kept = 10.0 * (energy(&out[double_start..]) / energy(&near_ref)).log10();
    println!("ERLE {erle:.1} dB after convergence; near-end speech correlation {best:.3}, level change {kept:.1} dB");
    assert!(erle >= 20.0, "ERLE {erle:.1} dB");
    assert!(best >= 0.8, "near-end speech damaged: correlation {best:.3}");
    assert!(kept > -6.0, "near-end speech attenuated by {kept:.1} dB");
}

/// Plays the far end through the speaker's hand-off (`FarEnd`) block by block while the microphone
/// captures its echo, as a call does.
struct EchoRoom {
    far: Vec<f32>,
    mic: Vec<f32>,
    at: usize,
    speaker: FarEnd,
}

impl AudioSource for EchoRoom {
    fn channels(&self) -> u16 {
        1
    }

    fn next_frame(&mut self) -> colloque_media::Result<AudioFrame> {
        let range = self.at..(self.at + BLOCK_SAMPLES).min(self.mic.len());
        // Stereo to the speaker, as a device may take it: the reference is mixed down again.
        let stereo: Vec<f32> = self.far[range.clone()].iter().flat_map(|&s| [s, s]).collect();
        self.speaker.push(&AudioFrame { samples: stereo, channels: 2, timestamp: Timestamp(0) });
        self.at = range.end;
        Ok(AudioFrame { samples: self.mic[range].to_vec(), channels: 1, timestamp: Timestamp(0) })
    }
}

#[test]
fn a_processed_microphone_removes_the_echo_of_what_the_speaker_plays() {
    let seconds = 10.0;
    let far = speech_like(seconds, 3);
    let mic = echo_path(&far);
    let speaker = FarEnd::default();
    let room = EchoRoom { far, mic: mic.clone(), at: 0, speaker: speaker.clone() };
    let config =
        VoiceProcessingConfig { noise_suppression: false, gain_control: false, initial_delay_ms: None };
    let mut microphone = ProcessedMicrophone::new(Box::new(room), speaker, config).unwrap();
    assert_eq!(microphone.channels(), 1);
    let mut out = Vec::with_capacity(mic.len());
    while out.len() < mic.len() {
        out.extend(microphone.next_frame().unwrap().samples);
    }
    let span = 48_000 * 4..mic.len();
    let erle = 10.0 * (energy(&mic[span.clone()]) / energy(&out[span]).max(1e-12)).log10();
    println!("ERLE through the processed microphone {erle:.1} dB");
    assert!(erle >= 20.0, "ERLE {erle:.1} dB");
}
