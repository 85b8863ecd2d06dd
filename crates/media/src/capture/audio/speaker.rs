//! Speaker playback: 48 kHz frames queued into a lock-free ring that a cpal output stream drains.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SizedSample};

use super::devices::{self, with_sample_type, AudioStreamOptions, DeviceKind};
use super::presence::PresenceWatch;
use crate::audio::resample::Resampler;
use crate::error::{CaptureError, Error, Result};
use crate::frame::{AudioFrame, SAMPLE_RATE};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Callback period asked of the device.
const PERIOD_MS: u32 = 20;
/// Queue beyond which the oldest audio is dropped.
const MAX_QUEUE_MS: usize = 200;
/// Ring size; larger than `MAX_QUEUE_MS` so that bursts are trimmed from the old end.
const RING_MS: usize = 500;

const KIND: &str = "speaker";

/// Counters shared with the callback.
#[derive(Debug, Default)]
struct Stats {
    underrun_frames: AtomicU64,
    dropped_samples: AtomicU64,
}

/// A playback device fed with 48 kHz [`AudioFrame`]s.
///
/// [`play`](Self::play) converts each frame to the device's channel count and rate and queues it;
/// the cpal callback drains the queue and plays silence when it runs dry. At most about 200 ms
/// stay queued: beyond that the oldest audio is dropped, so latency cannot build up.
pub struct Speaker {
    name: String,
    device_id: String,
    device_rate: u32,
    channels: u16,
    ring: HeapProd<f32>,
    stats: Arc<Stats>,
    resampler: Resampler,
    remixed: Vec<f32>,
    converted: Vec<f32>,
    errors: Receiver<cpal::Error>,
    stopped: Option<String>,
    stream: cpal::Stream,
    /// Reports the removal of an explicitly chosen device (PulseAudio would move the stream).
    _presence: Option<PresenceWatch>,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("name", &self.name)
            .field("device_rate", &self.device_rate)
            .field("channels", &self.channels)
            .field("queued", &self.queued())
            .field("stopped", &self.stopped)
            .finish()
    }
}

impl Speaker {
    /// Opens a playback device by id or name (see [`super::list_output_devices`]), or the system's
    /// default one for `None`, and starts playing silence.
    ///
    /// If a device chosen by name is removed, [`play`](Self::play) fails with
    /// [`CaptureError::Stopped`]; the default device is followed when it is removed (PulseAudio
    /// moves the stream to the new default).
    pub fn open(device: Option<&str>) -> Result<Self> {
        Self::open_with(device, AudioStreamOptions::default())
    }

    /// Like [`open`](Self::open), with the device-side rate and channel count forced.
    pub fn open_with(device: Option<&str>, options: AudioStreamOptions) -> Result<Self> {
        let host = devices::open_host(DeviceKind::Output)?;
        let requested = device.is_some();
        let (device, label) = devices::find_device(&host, DeviceKind::Output, device)?;
        let device_id = devices::device_id(&device).unwrap_or_else(|| label.clone());
        let chosen = devices::choose_config(&device, DeviceKind::Output, &label, options, PERIOD_MS)?;
        let (rate, channels) = (chosen.config.sample_rate, chosen.config.channels);
        let frame_len = usize::from(channels);
        let per_ms = rate as usize * frame_len / 1000;
        let stats = Arc::new(Stats::default());
        let max_queue = per_ms * MAX_QUEUE_MS / frame_len * frame_len;

        let start = |config: cpal::StreamConfig| {
            let (error_tx, errors) = mpsc::channel();
            let presence_tx = error_tx.clone();
            let on_error = move |e: cpal::Error| {
                if devices::is_fatal(&e) {
                    tracing::warn!(error = %e, "speaker stream error");
                } else {
                    tracing::debug!(error = %e, "speaker stream glitch");
                }
                let _ = error_tx.send(e);
            };
            // A fresh ring per attempt: a failed attempt drops its consumer with its callback.
            let (ring, consumer) = HeapRb::<f32>::new(per_ms * RING_MS).split();
            let playback = Playback {
                ring: consumer,
                stats: Arc::clone(&stats),
                max_queue,
                channels: frame_len,
                scratch: vec![0.0; per_ms * 2 * PERIOD_MS as usize],
                was_playing: false,
            };
            let stream = with_sample_type!(
                chosen.format,
                T => build_typed::<T>(&device, config, playback, on_error),
                Err(cpal::Error::with_message(
                    cpal::ErrorKind::UnsupportedConfig,
                    format!("sample format {} is not supported", chosen.format),
                ))
            )?;
            stream.play()?;
            Ok::<_, cpal::Error>((stream, errors, presence_tx, ring))
        };
        let (stream, errors, presence_tx, ring) = match start(chosen.config) {
            Err(e) if matches!(chosen.config.buffer_size, cpal::BufferSize::Fixed(_)) => {
                tracing::debug!(error = %e, "fixed period refused, retrying with the device's default");
                start(cpal::StreamConfig { buffer_size: cpal::BufferSize::Default, ..chosen.config })
            }
            other => other,
        }
        .map_err(|e| CaptureError::OpenFailed {
            kind: KIND,
            name: label.clone(),
            reason: format!("cannot start playback: {e}"),
        })?;
        tracing::info!(device = %label, rate, channels, format = %chosen.format, buffer = ?chosen.config.buffer_size, "speaker opened");
        let presence = if requested {
            PresenceWatch::spawn(DeviceKind::Output, device_id.clone(), presence_tx)
        } else {
            None
        };

        Ok(Self {
            name: label,
            device_id,
            device_rate: rate,
            channels,
            ring,
            stats,
            resampler: Resampler::with_rates(SAMPLE_RATE, rate, channels)?,
            remixed: Vec::new(),
            converted: Vec::new(),
            errors,
            stopped: None,
            stream,
            _presence: presence,
        })
    }

    /// The id or name the device was opened with (the resolved id for the default device).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backend id of the device in use (PulseAudio: the sink name).
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The device's sample rate (frames are converted to it).
    pub fn device_rate(&self) -> u32 {
        self.device_rate
    }

    /// The device's channel count (frames are up- or down-mixed to it).
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Audio queued and not yet handed to the device.
    pub fn queued(&self) -> Duration {
        let frames =
            self.ring.occupied_len() / usize::from(self.channels.max(1)) + self.resampler.available_frames();
        Duration::from_micros(frames as u64 * 1_000_000 / u64::from(self.device_rate.max(1)))
    }

    /// Frames of silence played because the queue ran dry in the middle of playback.
    pub fn underrun_frames(&self) -> u64 {
        self.stats.underrun_frames.load(Ordering::Relaxed)
    }

    /// Samples dropped because more than ~200 ms was queued.
    pub fn dropped_samples(&self) -> u64 {
        self.stats.dropped_samples.load(Ordering::Relaxed)
    }

    /// Queues one 48 kHz frame (any length, mono or multichannel). Fails with
    /// [`CaptureError::Stopped`] once the device is gone.
    pub fn play(&mut self, frame: &AudioFrame) -> Result<()> {
        self.poll_errors();
        if let Some(reason) = &self.stopped {
            return Err(CaptureError::Stopped { kind: KIND, reason: reason.clone() }.into());
        }
        let in_channels = usize::from(frame.channels);
        if in_channels == 0 || frame.samples.len() % in_channels != 0 {
            return Err(Error::InvalidFrame(format!(
                "{} samples is not a whole number of {}-channel frames",
                frame.samples.len(),
                frame.channels
            )));
        }
        let out_channels = usize::from(self.channels);
        remix(&frame.samples, in_channels, out_channels, &mut self.remixed);
        self.resampler.push(&self.remixed)?;
        self.converted.clear();
        self.resampler.drain_into(&mut self.converted);
        let free = self.ring.vacant_len();
        let n = self.converted.len().min(free / out_channels * out_channels);
        let written = self.ring.push_slice(&self.converted[..n]);
        let lost = self.converted.len() - written;
        if lost > 0 {
            self.stats.dropped_samples.fetch_add(lost as u64, Ordering::Relaxed);
            tracing::debug!(lost, "speaker queue full, newest audio dropped");
        }
        Ok(())
    }

    fn poll_errors(&mut self) {
        loop {
            match self.errors.try_recv() {
                Ok(e) if devices::is_fatal(&e) => {
                    self.stopped.get_or_insert_with(|| e.to_string());
                }
                Ok(_) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.stopped.get_or_insert_with(|| "the audio stream closed".to_owned());
                    break;
                }
            }
        }
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        if let Err(e) = self.stream.pause() {
            tracing::debug!(error = %e, "pausing the speaker stream failed");
        }
        tracing::debug!(
            device = %self.name,
            underruns = self.underrun_frames(),
            dropped = self.dropped_samples(),
            "speaker closed"
        );
    }
}

/// Converts interleaved audio between channel counts: mono is copied to every channel, anything
/// to mono is averaged, otherwise channels are matched by position (extra outputs get silence).
fn remix(input: &[f32], in_channels: usize, out_channels: usize, out: &mut Vec<f32>) {
    out.clear();
    if in_channels == out_channels {
        out.extend_from_slice(input);
        return;
    }
    out.reserve(input.len() / in_channels * out_channels);
    for frame in input.chunks_exact(in_channels) {
        if in_channels == 1 {
            out.extend(std::iter::repeat_n(frame[0], out_channels));
        } else if out_channels == 1 {
            out.push(frame.iter().sum::<f32>() / in_channels as f32);
        } else {
            out.extend((0..out_channels).map(|c| frame.get(c).copied().unwrap_or(0.0)));
        }
    }
}

/// What the realtime callback owns.
struct Playback {
    ring: HeapCons<f32>,
    stats: Arc<Stats>,
    /// Samples (whole frames) beyond which the oldest are skipped.
    max_queue: usize,
    channels: usize,
    scratch: Vec<f32>,
    /// Whether the previous callback was filled entirely from the queue.
    was_playing: bool,
}

impl Playback {
    /// Runs in the audio thread: never blocks, allocates only if the host asks for more than
    /// twice the requested period.
    fn on_data<T>(&mut self, data: &mut [T])
    where
        T: SizedSample + FromSample<f32>,
    {
        let queued = self.ring.occupied_len();
        if queued > self.max_queue {
            let excess = (queued - self.max_queue) / self.channels * self.channels;
            let skipped = self.ring.skip(excess);
            self.stats.dropped_samples.fetch_add(skipped as u64, Ordering::Relaxed);
        }
        if self.scratch.len() < data.len() {
            self.scratch.resize(data.len(), 0.0);
        }
        let n = self.ring.pop_slice(&mut self.scratch[..data.len()]);
        for (out, &s) in data.iter_mut().zip(&self.scratch[..n]) {
            *out = T::from_sample(s.clamp(-1.0, 1.0));
        }
        data[n..].fill(T::EQUILIBRIUM);
        if n < data.len() && (self.was_playing || n > 0) {
            let missing = (data.len() - n) / self.channels.max(1);
            self.stats.underrun_frames.fetch_add(missing as u64, Ordering::Relaxed);
        }
        self.was_playing = n == data.len();
    }
}

fn build_typed<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut playback: Playback,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    device.build_output_stream::<T, _, _>(
        config,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| playback.on_data(data),
        on_error,
        None,
    )
}

/// Plays what `next` gives, on a thread of its own, until it gives `None` or the device fails; every block
/// played is handed to `far_end` (echo cancellation's reference). Returns once the device is open, with
/// its error if it could not be.
pub fn play_on_thread(
    device: Option<String>,
    mut next: impl FnMut() -> Option<AudioFrame> + Send + 'static,
    far_end: crate::audio::voice::FarEnd,
) -> Result<()> {
    let (opened_tx, opened) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("speaker".into())
        .spawn(move || {
            let mut speaker = match Speaker::open(device.as_deref()) {
                Ok(speaker) => {
                    let _ = opened_tx.send(Ok(()));
                    speaker
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            };
            while let Some(frame) = next() {
                far_end.push(&frame);
                if let Err(e) = speaker.play(&frame) {
                    tracing::warn!(error = %e, "speaker stopped");
                    break;
                }
            }
        })
        .map_err(|e| CaptureError::Stopped { kind: "speaker", reason: format!("no thread: {e}") })?;
    opened.recv().map_err(|_| CaptureError::Stopped { kind: "speaker", reason: "its thread ended".into() })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remix_between_channel_counts() {
        let mut out = Vec::new();
        remix(&[0.1, 0.2], 1, 2, &mut out);
        assert_eq!(out, [0.1, 0.1, 0.2, 0.2]);
        remix(&[0.2, 0.4, 0.6, 0.8], 2, 1, &mut out);
        assert!((out[0] - 0.3).abs() < 1e-6 && (out[1] - 0.7).abs() < 1e-6);
        remix(&[0.1, 0.2], 2, 4, &mut out);
        assert_eq!(out, [0.1, 0.2, 0.0, 0.0]);
        remix(&[0.1, 0.2, 0.3], 3, 2, &mut out);
        assert_eq!(out, [0.1, 0.2]);
        remix(&[0.5, 0.6], 2, 2, &mut out);
        assert_eq!(out, [0.5, 0.6]);
    }

    #[test]
    fn playback_callback_trims_and_fills_silence() {
        let (mut ring, consumer) = HeapRb::<f32>::new(64).split();
        let stats = Arc::new(Stats::default());
        let mut pb = Playback {
            ring: consumer,
            stats: Arc::clone(&stats),
            max_queue: 8,
            channels: 2,
            scratch: Vec::new(),
            was_playing: false,
        };
        // Nothing queued: silence, no underrun counted before playback started.
        let mut out = [1i16; 4];
        pb.on_data(&mut out);
        assert_eq!(out, [0; 4]);
        assert_eq!(stats.underrun_frames.load(Ordering::Relaxed), 0);
        // 12 queued, limit 8: the 4 oldest are dropped.
        let samples: Vec<f32> = (0..12).map(|i| i as f32 / 16.0).collect();
        ring.push_slice(&samples);
        let mut out = [0.0f32; 6];
        pb.on_data(&mut out);
        assert_eq!(out, [4.0 / 16.0, 5.0 / 16.0, 6.0 / 16.0, 7.0 / 16.0, 8.0 / 16.0, 9.0 / 16.0]);
        assert_eq!(stats.dropped_samples.load(Ordering::Relaxed), 4);
        // 2 left for 6 requested: 2 frames of underrun.
        pb.on_data(&mut out);
        assert_eq!(&out[2..], &[0.0; 4]);
        assert_eq!(stats.underrun_frames.load(Ordering::Relaxed), 2);
    }
}
