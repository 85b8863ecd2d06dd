//! A subscribed video track: an async task reads its RTP and assembles frames; a decoder thread (decoding
//! is seconds of CPU per minute, not for the async runtime) turns them into pictures for the application.
//! Lost frames and decoder errors ask the sender for a keyframe (PLI, at most every 500 ms).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use colloque_media::codec::{self, VideoCodec};
use colloque_media::frame::{Timestamp, VideoFrame};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::assemble::{self, Assembler};
use crate::event::Event;

/// A decoded picture of a remote video track.
#[derive(Debug)]
pub struct RemoteVideo {
    /// Sender's participant sid.
    pub participant_sid: String,
    /// Track sid.
    pub track_sid: String,
    /// The picture.
    pub frame: VideoFrame,
}

/// Keyframe requests at most this often.
const PLI_INTERVAL: Duration = Duration::from_millis(500);
/// Encoded frames waiting for the decoder at most; beyond, the newest are dropped and a keyframe asked.
const DECODE_QUEUE: usize = 8;

/// Where a track's pictures and events go.
#[derive(Debug, Clone)]
pub struct Sinks {
    /// Pictures (dropped when the application is behind: the next one matters more).
    pub video: mpsc::Sender<RemoteVideo>,
    /// Events (first frame).
    pub events: mpsc::UnboundedSender<Event>,
}

/// Receives and decodes one video track until it ends.
pub async fn video(
    remote: Arc<dyn TrackRemote>,
    ssrc: u32,
    codec: assemble::Codec,
    participant_sid: String,
    identity: String,
    track_sid: String,
    sinks: Sinks,
) {
    let wants_keyframe = Arc::new(AtomicBool::new(false));
    let (frames, decode_rx) = std::sync::mpsc::sync_channel::<assemble::Frame>(DECODE_QUEUE);
    let decoder = {
        let wants_keyframe = wants_keyframe.clone();
        let track_sid = track_sid.clone();
        std::thread::Builder::new().name(format!("decode-{track_sid}")).spawn(move || {
            decode(codec, decode_rx, wants_keyframe, participant_sid, identity, track_sid, sinks)
        })
    };
    if let Err(e) = decoder {
        tracing::error!(error = %e, "cannot start a decoder thread");
        return;
    }
    let mut assembler = Assembler::new(codec);
    let mut last_pli: Option<Instant> = None;
    while let Some(event) = remote.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
        for frame in assembler.push(&packet) {
            if frame.lost_before > 0 {
                wants_keyframe.store(true, Ordering::Relaxed);
            }
            if frames.try_send(frame).is_err() {
                wants_keyframe.store(true, Ordering::Relaxed);
            }
        }
        if wants_keyframe.load(Ordering::Relaxed) && last_pli.is_none_or(|t| t.elapsed() >= PLI_INTERVAL) {
            wants_keyframe.store(false, Ordering::Relaxed);
            last_pli = Some(Instant::now());
            let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
            if let Err(e) = remote.write_rtcp(vec![Box::new(pli)]).await {
                tracing::debug!(error = %e, "keyframe request not sent");
            }
        }
    }
    tracing::debug!(track = track_sid, "remote video ended");
}

fn decode(
    codec: assemble::Codec,
    frames: std::sync::mpsc::Receiver<assemble::Frame>,
    wants_keyframe: Arc<AtomicBool>,
    participant_sid: String,
    identity: String,
    track_sid: String,
    sinks: Sinks,
) {
    let kind = match codec {
        assemble::Codec::H264 => VideoCodec::H264,
        assemble::Codec::Vp8 => VideoCodec::Vp8,
        assemble::Codec::Vp9 => VideoCodec::Vp9,
    };
    let mut decoder = match codec::video_decoder(kind) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(track = track_sid, error = %e, "no decoder for this track");
            return;
        }
    };
    let mut first = true;
    while let Ok(frame) = frames.recv() {
        // Every layer frame goes through the decoder; the picture of the last one is shown.
        let mut decoded = Ok(None);
        for part in &frame.parts {
            match decoder.decode(part, Timestamp::now()) {
                Ok(Some(picture)) => decoded = Ok(Some(picture)),
                Ok(None) => {}
                Err(e) => {
                    decoded = Err(e);
                    break;
                }
            }
        }
        match decoded {
            Ok(Some(picture)) => {
                if first {
                    first = false;
                    let _ = sinks.events.send(Event::FirstFrame {
                        participant: identity.clone(),
                        track_sid: track_sid.clone(),
                        width: picture.width(),
                        height: picture.height(),
                    });
                }
                let remote = RemoteVideo {
                    participant_sid: participant_sid.clone(),
                    track_sid: track_sid.clone(),
                    frame: picture,
                };
                if let Err(mpsc::error::TrySendError::Closed(_)) = sinks.video.try_send(remote) {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(track = track_sid, error = %e, "undecodable frame: asking for a keyframe");
                wants_keyframe.store(true, Ordering::Relaxed);
            }
        }
    }
}
