//! Remote audio: each subscribed Opus track feeds its own jitter buffer (decoding, FEC, concealment,
//! adaptive depth: `colloque_media::audio::jitter`); one playout task pulls 20 ms from every buffer on a
//! steady clock, mixes them with a limiter and hands the block to the application, which plays it and
//! gives the same block to echo cancellation as its far-end reference.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use colloque_media::audio::jitter::JitterBuffer;
use colloque_media::audio::mixer::Mixer;
use colloque_media::codec::opus::FRAME_SAMPLES;
use colloque_media::{AudioFrame, Timestamp};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Playout period: one Opus frame.
const PERIOD: Duration = Duration::from_millis(20);

/// Every remote audio stream being played, by track sid.
#[derive(Debug, Clone, Default)]
pub struct Speakers {
    streams: Arc<Mutex<HashMap<String, JitterBuffer>>>,
    /// Raised when the session ends: the playout task lets go of the application's channel.
    stopped: Arc<AtomicBool>,
}

impl Speakers {
    /// Starts the playout clock: mixed mono 20 ms blocks go to `out` until it is dropped. A block the
    /// application did not take in time is dropped (its device queue is the one that must not starve).
    pub fn play(&self, out: mpsc::Sender<AudioFrame>) {
        let (streams, stopped) = (self.streams.clone(), self.stopped.clone());
        tokio::spawn(async move {
            let mut clock = tokio::time::interval(PERIOD);
            // A late tick (a busy runtime) is caught up, not skipped: the device consumes real time.
            clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut mixer = Mixer::new();
            let mut blocks: Vec<Vec<f32>> = Vec::new();
            while !out.is_closed() && !stopped.load(Ordering::Relaxed) {
                clock.tick().await;
                blocks.clear();
                if let Ok(mut streams) = streams.lock() {
                    for (track, buffer) in streams.iter_mut() {
                        match buffer.pop() {
                            Ok(block) => blocks.push(block),
                            Err(e) => tracing::debug!(track, error = %e, "audio block lost"),
                        }
                    }
                }
                let samples = mixer.mix(FRAME_SAMPLES, blocks.iter().map(Vec::as_slice)).to_vec();
                let frame = AudioFrame { samples, channels: 1, timestamp: Timestamp::now() };
                if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(frame) {
                    return;
                }
            }
        });
    }

    /// Stops the playout (the session ended).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Receives one remote Opus track into its jitter buffer until the track ends.
    pub async fn receive(&self, remote: Arc<dyn TrackRemote>, track_sid: String) {
        match JitterBuffer::new(1) {
            Ok(buffer) => {
                if let Ok(mut streams) = self.streams.lock() {
                    streams.insert(track_sid.clone(), buffer);
                }
            }
            Err(e) => {
                tracing::warn!(track = track_sid, error = %e, "no decoder for remote audio");
                return;
            }
        }
        while let Some(event) = remote.poll().await {
            let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
            let Ok(mut streams) = self.streams.lock() else { break };
            if let Some(buffer) = streams.get_mut(&track_sid) {
                buffer.push(packet.header.timestamp, packet.payload.to_vec(), Instant::now());
            }
        }
        if let Ok(mut streams) = self.streams.lock() {
            streams.remove(&track_sid);
        }
    }
}
