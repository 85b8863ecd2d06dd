//! A microphone as a meeting sends it: the echo of what the speaker plays removed, noise suppressed, gain
//! controlled ([`VoiceProcessor`]). The playback side hands every block it plays to a [`FarEnd`]; the
//! [`ProcessedMicrophone`] feeds those blocks to echo cancellation as its reference before processing
//! each block it captures.
use std::collections::VecDeque;
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use crate::audio::processing::{VoiceProcessingConfig, VoiceProcessor, BLOCK_SAMPLES};
use crate::error::{AudioError, Result};
use crate::frame::{AudioFrame, SAMPLE_RATE};
use crate::source::AudioSource;

/// Reference audio kept at most (1 s): if the microphone stops reading, the oldest goes.
const MAX_FAR_END: usize = SAMPLE_RATE as usize;

/// What the speaker plays, mono, waiting to be given to echo cancellation. Cloned handles share one
/// queue: the playback side pushes, the microphone side takes.
#[derive(Debug, Clone, Default)]
pub struct FarEnd {
    queue: Arc<Mutex<VecDeque<f32>>>,
}

fn mono(frame: &AudioFrame) -> impl Iterator<Item = f32> + '_ {
    let channels = usize::from(frame.channels.max(1));
    frame.samples.chunks_exact(channels).map(move |c| c.iter().sum::<f32>() / channels as f32)
}

impl FarEnd {
    /// A block is being played.
    pub fn push(&self, frame: &AudioFrame) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.extend(mono(frame));
        let excess = queue.len().saturating_sub(MAX_FAR_END);
        queue.drain(..excess);
    }

    /// The whole 10 ms blocks queued, in order.
    fn take_blocks(&self) -> Vec<f32> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let whole = queue.len() / BLOCK_SAMPLES * BLOCK_SAMPLES;
        queue.drain(..whole).collect()
    }
}

/// A microphone (any [`AudioSource`]) with voice processing: mono 48 kHz blocks out, echo of `far_end`
/// removed. The processor runs on a thread of its own (it is not `Send`; a source must be).
pub struct ProcessedMicrophone {
    inner: Box<dyn AudioSource>,
    far_end: FarEnd,
    /// Captured samples not yet a whole block.
    near: Vec<f32>,
    jobs: mpsc::Sender<Job>,
    processed: mpsc::Receiver<Result<Vec<f32>>>,
}

/// Work for the processing thread, in order.
enum Job {
    /// Whole blocks the speaker played.
    Render(Vec<f32>),
    /// Whole blocks captured: processed, sent back.
    Capture(Vec<f32>),
}

impl std::fmt::Debug for ProcessedMicrophone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessedMicrophone").field("pending", &self.near.len()).finish_non_exhaustive()
    }
}

impl ProcessedMicrophone {
    /// Wraps `inner`; `far_end` is what the speaker plays.
    pub fn new(inner: Box<dyn AudioSource>, far_end: FarEnd, config: VoiceProcessingConfig) -> Result<Self> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (processed_tx, processed) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        std::thread::Builder::new()
            .name("voice-processing".into())
            .spawn(move || {
                let mut processor = match VoiceProcessor::new(config) {
                    Ok(p) => {
                        let _ = ready_tx.send(Ok(()));
                        p
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Ends when the microphone is dropped (its sender goes).
                while let Ok(job) = job_rx.recv() {
                    match job {
                        Job::Render(far) => {
                            for block in far.chunks_exact(BLOCK_SAMPLES) {
                                if let Err(e) = processor.analyze_render(block) {
                                    tracing::debug!(error = %e, "far-end block refused");
                                }
                            }
                        }
                        Job::Capture(near) => {
                            let mut out = vec![0.0; near.len()];
                            let result = near
                                .chunks_exact(BLOCK_SAMPLES)
                                .zip(out.chunks_exact_mut(BLOCK_SAMPLES))
                                .try_for_each(|(block, processed)| {
                                    processor.process_capture(block, processed).map(drop)
                                })
                                .map(|()| out);
                            if processed_tx.send(result).is_err() {
                                return;
                            }
                        }
                    }
                }
            })
            .map_err(|e| AudioError::Processing(format!("no voice-processing thread: {e}")))?;
        ready.recv().map_err(|_| AudioError::Processing("the voice-processing thread ended".into()))??;
        Ok(Self { inner, far_end, near: Vec::new(), jobs, processed })
    }
}

impl AudioSource for ProcessedMicrophone {
    fn channels(&self) -> u16 {
        1
    }

    fn next_frame(&mut self) -> Result<AudioFrame> {
        let ended = || AudioError::Processing("the voice-processing thread ended".into());
        loop {
            let frame = self.inner.next_frame()?;
            self.near.extend(mono(&frame));
            let whole = self.near.len() / BLOCK_SAMPLES * BLOCK_SAMPLES;
            if whole == 0 {
                continue;
            }
            // Everything played so far goes in first: the echo in this block can only be of that.
            let far = self.far_end.take_blocks();
            if !far.is_empty() {
                self.jobs.send(Job::Render(far)).map_err(|_| ended())?;
            }
            self.jobs.send(Job::Capture(self.near.drain(..whole).collect())).map_err(|_| ended())?;
            let samples = self.processed.recv().map_err(|_| ended())??;
            return Ok(AudioFrame { samples, channels: 1, timestamp: frame.timestamp });
        }
    }
}
