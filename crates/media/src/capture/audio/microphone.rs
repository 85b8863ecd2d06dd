//! Microphone capture: a cpal input stream feeding a bounded channel, converted to 48 kHz
//! 10 ms [`AudioFrame`]s.
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SizedSample};

use super::devices::{self, with_sample_type, AudioStreamOptions, DeviceKind};
use super::presence::PresenceWatch;
use crate::audio::resample::Resampler;
use crate::error::{CaptureError, Result};
use crate::frame::{AudioFrame, Timestamp, SAMPLE_RATE};
use crate::source::AudioSource;

/// Frames per channel of each delivered block: 10 ms at 48 kHz.
const FRAME_SAMPLES: usize = SAMPLE_RATE as usize / 100;
/// Callback period asked of the device.
const PERIOD_MS: u32 = 10;
/// Most callback blocks in flight between the callback and `next_frame`.
const QUEUE_BLOCKS: usize = 64;
/// Most audio in flight between the callback and `next_frame`, in milliseconds.
const QUEUE_MS: usize = 1_000;
/// `next_frame` reports the device as stopped after this long without data.
const SILENCE_TIMEOUT: Duration = Duration::from_secs(3);
/// Timestamps follow the sample count and are nudged towards the measured capture time by this
/// fraction of the difference per frame...
const CLOCK_SLEW: i64 = 32;
/// ...unless they differ by more than this (audio was dropped, or the device clock jumped).
const CLOCK_RESYNC_US: i64 = 40_000;
/// How often a waiting `next_frame` checks for stream errors.
const POLL: Duration = Duration::from_millis(100);

const KIND: &str = "microphone";

/// One callback's worth of samples, already f32, with the wall-clock time of its last sample.
struct Block {
    samples: Vec<f32>,
    end: Timestamp,
}

/// A microphone (any capture device) as an [`AudioSource`] of 48 kHz, 10 ms frames with the
/// device's channel count.
///
/// The cpal callback only converts samples to f32 into a recycled buffer and hands it over a
/// bounded channel; when the reader falls behind by more than about a second, new audio is
/// dropped and counted ([`dropped_samples`](Self::dropped_samples)).
pub struct Microphone {
    name: String,
    device_id: String,
    device_rate: u32,
    channels: u16,
    blocks: Receiver<Block>,
    /// Empty buffers handed back to the callback, so that it does not allocate.
    recycle: SyncSender<Vec<f32>>,
    errors: Receiver<cpal::Error>,
    queued: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
    dropped_reported: u64,
    resampler: Resampler,
    /// Wall-clock time of the last sample pushed into the resampler.
    last_end: Option<Timestamp>,
    /// Timestamp of the previous frame.
    last_timestamp: Option<Timestamp>,
    /// Set once the stream died; every later `next_frame` fails with it.
    stopped: Option<String>,
    stream: cpal::Stream,
    /// Reports the removal of an explicitly chosen device (PulseAudio would move the stream).
    _presence: Option<PresenceWatch>,
}

impl std::fmt::Debug for Microphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microphone")
            .field("name", &self.name)
            .field("device_rate", &self.device_rate)
            .field("channels", &self.channels)
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .field("stopped", &self.stopped)
            .finish()
    }
}

impl Microphone {
    /// Opens a capture device by id or name (see [`super::list_input_devices`]), or the system's
    /// default one for `None`, and starts capturing.
    ///
    /// `None` resolves the default when called. If that device is removed, PulseAudio moves the
    /// stream to the new default and capture goes on; if the default merely changes (see
    /// [`super::DeviceWatcher`]), open the microphone again to follow it. A device chosen by name
    /// that is removed ends the capture: `next_frame` fails with [`CaptureError::Stopped`].
    pub fn open(device: Option<&str>) -> Result<Self> {
        Self::open_with(device, AudioStreamOptions::default())
    }

    /// Like [`open`](Self::open), with the device-side rate and channel count forced.
    pub fn open_with(device: Option<&str>, options: AudioStreamOptions) -> Result<Self> {
        let host = devices::open_host(DeviceKind::Input)?;
        let requested = device.is_some();
        let (device, label) = devices::find_device(&host, DeviceKind::Input, device)?;
        let device_id = devices::device_id(&device).unwrap_or_else(|| label.clone());
        let chosen = devices::choose_config(&device, DeviceKind::Input, &label, options, PERIOD_MS)?;
        let (rate, channels) = (chosen.config.sample_rate, chosen.config.channels);
        let open_failed =
            |reason: String| CaptureError::OpenFailed { kind: KIND, name: label.clone(), reason };

        let started = match Started::start(&device, chosen) {
            Err(e) if matches!(chosen.config.buffer_size, cpal::BufferSize::Fixed(_)) => {
                tracing::debug!(error = %e, "fixed period refused, retrying with the device's default");
                let mut fallback = chosen;
                fallback.config.buffer_size = cpal::BufferSize::Default;
                Started::start(&device, fallback)
            }
            other => other,
        }
        .map_err(|e| open_failed(format!("cannot start capture: {e}")))?;
        let Started { stream, blocks, recycle, errors, error_tx, queued, dropped } = started;
        let presence = if requested {
            PresenceWatch::spawn(DeviceKind::Input, device_id.clone(), error_tx)
        } else {
            None
        };
        tracing::info!(device = %label, rate, channels, format = %chosen.format, buffer = ?chosen.config.buffer_size, "microphone opened");

        Ok(Self {
            name: label,
            device_id,
            device_rate: rate,
            channels,
            blocks,
            recycle,
            errors,
            queued,
            dropped,
            dropped_reported: 0,
            resampler: Resampler::new(rate, channels)?,
            last_end: None,
            last_timestamp: None,
            stopped: None,
            stream,
            _presence: presence,
        })
    }

    /// The id or name the device was opened with (the resolved id for the default device).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backend id of the device in use (PulseAudio: the source name).
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The rate the device delivers before conversion to 48 kHz.
    pub fn device_rate(&self) -> u32 {
        self.device_rate
    }

    /// Samples dropped because the reader fell behind, since opening.
    pub fn dropped_samples(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Reads pending stream errors; a fatal one marks the microphone stopped.
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

    fn take_block(&mut self, block: Block) -> Result<()> {
        self.queued.fetch_sub(block.samples.len(), Ordering::Relaxed);
        let result = self.resampler.push(&block.samples);
        self.last_end = Some(block.end);
        let mut buffer = block.samples;
        buffer.clear();
        let _ = self.recycle.try_send(buffer);
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.dropped_reported {
            tracing::warn!(total = dropped, "microphone overflow: samples dropped, the reader is too slow");
            self.dropped_reported = dropped;
        }
        result
    }

    /// The capture time of a frame `lag` before the newest sample: follows the sample clock
    /// (exactly 10 ms apart) and slews slowly towards the measured time, which jitters with the
    /// scheduling of the audio callback.
    fn frame_timestamp(&mut self, lag: Duration) -> Timestamp {
        let end = self.last_end.unwrap_or_else(Timestamp::now);
        let measured = end.as_micros().saturating_sub(lag.as_micros() as u64);
        let step = 1_000_000 * FRAME_SAMPLES as u64 / u64::from(SAMPLE_RATE);
        let timestamp = match self.last_timestamp {
            None => measured,
            Some(previous) => {
                let expected = previous.as_micros() + step;
                let diff = measured as i64 - expected as i64;
                if diff.abs() > CLOCK_RESYNC_US {
                    measured.max(previous.as_micros() + 1)
                } else {
                    expected.saturating_add_signed(diff / CLOCK_SLEW)
                }
            }
        };
        self.last_timestamp = Some(Timestamp(timestamp));
        Timestamp(timestamp)
    }

    fn stopped_error(reason: &str) -> crate::Error {
        CaptureError::Stopped { kind: KIND, reason: reason.to_owned() }.into()
    }
}

impl AudioSource for Microphone {
    fn channels(&self) -> u16 {
        self.channels
    }

    /// Blocks until 10 ms (480 frames per channel) of 48 kHz audio is ready. Fails with
    /// [`CaptureError::Stopped`] once the device is gone, or after 3 s without any audio.
    fn next_frame(&mut self) -> Result<AudioFrame> {
        let mut waited = Duration::ZERO;
        loop {
            let buffered = self.resampler.available_frames() + self.resampler.latency_frames();
            if let Some(samples) = self.resampler.pop_frame(FRAME_SAMPLES) {
                let lag = Duration::from_micros(buffered as u64 * 1_000_000 / u64::from(SAMPLE_RATE));
                let timestamp = self.frame_timestamp(lag);
                return Ok(AudioFrame { samples, channels: self.channels, timestamp });
            }
            self.poll_errors();
            if let Some(reason) = &self.stopped {
                return Err(Self::stopped_error(reason));
            }
            match self.blocks.recv_timeout(POLL) {
                Ok(block) => {
                    waited = Duration::ZERO;
                    self.take_block(block)?;
                    // Take whatever else is already there in one go.
                    while let Ok(block) = self.blocks.try_recv() {
                        self.take_block(block)?;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    waited += POLL;
                    if waited >= SILENCE_TIMEOUT {
                        return Err(Self::stopped_error(&format!(
                            "no audio from the device for {} s",
                            SILENCE_TIMEOUT.as_secs()
                        )));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.stopped.get_or_insert_with(|| "the audio stream closed".to_owned());
                }
            }
        }
    }
}

impl Drop for Microphone {
    fn drop(&mut self) {
        if let Err(e) = self.stream.pause() {
            tracing::debug!(error = %e, "pausing the microphone stream failed");
        }
        tracing::debug!(device = %self.name, dropped = self.dropped_samples(), "microphone closed");
    }
}

/// What the realtime callback owns.
struct Capture {
    blocks: SyncSender<Block>,
    recycled: Receiver<Vec<f32>>,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    dropped: Arc<AtomicU64>,
    rate: u32,
    channels: usize,
}

impl Capture {
    /// Runs in the audio thread: convert, stamp, hand over. Never blocks; allocates only until
    /// enough buffers circulate.
    fn on_data<T>(&mut self, data: &[T], info: &cpal::InputCallbackInfo)
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        if data.is_empty() {
            return;
        }
        if self.queued.load(Ordering::Relaxed) + data.len() > self.max_queued {
            self.dropped.fetch_add(data.len() as u64, Ordering::Relaxed);
            return;
        }
        let now = Timestamp::now();
        let ts = info.timestamp();
        // cpal's capture instant is when the first sample of `data` reached the device.
        let lag = ts.callback.saturating_duration_since(ts.capture);
        let frames = (data.len() / self.channels.max(1)) as u64;
        let span = Duration::from_micros(frames * 1_000_000 / u64::from(self.rate.max(1)));
        let end = Timestamp(now.as_micros().saturating_sub(lag.saturating_sub(span).as_micros() as u64));

        let mut samples = self.recycled.try_recv().unwrap_or_default();
        samples.clear();
        samples.extend(data.iter().map(|&s| f32::from_sample(s)));
        let len = samples.len();
        self.queued.fetch_add(len, Ordering::Relaxed);
        if self.blocks.try_send(Block { samples, end }).is_err() {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            self.dropped.fetch_add(len as u64, Ordering::Relaxed);
        }
    }
}

/// A running stream and the ends of its channels.
struct Started {
    stream: cpal::Stream,
    blocks: Receiver<Block>,
    recycle: SyncSender<Vec<f32>>,
    errors: Receiver<cpal::Error>,
    /// Another way into `errors`, for the presence check.
    error_tx: Sender<cpal::Error>,
    queued: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
}

impl Started {
    fn start(device: &cpal::Device, chosen: devices::ChosenConfig) -> std::result::Result<Self, cpal::Error> {
        let (rate, channels) = (chosen.config.sample_rate, usize::from(chosen.config.channels));
        let (block_tx, blocks) = mpsc::sync_channel(QUEUE_BLOCKS);
        let (recycle, recycled) = mpsc::sync_channel(QUEUE_BLOCKS);
        let (error_tx, errors) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let capture = Capture {
            blocks: block_tx,
            recycled,
            queued: Arc::clone(&queued),
            max_queued: rate as usize * channels * QUEUE_MS / 1000,
            dropped: Arc::clone(&dropped),
            rate,
            channels,
        };
        let stream_error_tx = error_tx.clone();
        let on_error = move |e: cpal::Error| {
            if devices::is_fatal(&e) {
                tracing::warn!(error = %e, "microphone stream error");
            } else {
                tracing::debug!(error = %e, "microphone stream glitch");
            }
            let _ = stream_error_tx.send(e);
        };
        let stream = with_sample_type!(
            chosen.format,
            T => build_typed::<T>(device, chosen.config, capture, on_error),
            Err(cpal::Error::with_message(
                cpal::ErrorKind::UnsupportedConfig,
                format!("sample format {} is not supported", chosen.format),
            ))
        )?;
        stream.play()?;
        Ok(Self { stream, blocks, recycle, errors, error_tx, queued, dropped })
    }
}

fn build_typed<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut capture: Capture,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], info: &cpal::InputCallbackInfo| capture.on_data(data, info),
        on_error,
        None,
    )
}
