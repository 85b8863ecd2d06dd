//! This client's published tracks: how each is announced (`AddTrackRequest`), the webrtc-rs track it is
//! sent on, and the tasks that feed it. Encoding runs on a thread per source ([`crate::encode`]); an async
//! writer per track turns its output into RTP; a listener turns keyframe requests into [`Control`] flags.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use colloque_media::codec::h264::ContentMode;
use colloque_media::{AudioSource, VideoSource};
use livekit_protocol as proto;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtp;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::rtp_transceiver::RtpSender;

use crate::encode::{self, AudioPacket, Control, Layer, VideoPacket};
use crate::event::Event;
use crate::peer::Estimate;

/// What is published: LiveKit's track sources this client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The camera, H.264 with simulcast.
    Camera,
    /// The microphone, Opus.
    Microphone,
    /// A shared screen, H.264 tuned for screen content, one layer.
    Screen,
}

impl Source {
    /// LiveKit's enum.
    pub fn proto(self) -> proto::TrackSource {
        match self {
            Self::Camera => proto::TrackSource::Camera,
            Self::Microphone => proto::TrackSource::Microphone,
            Self::Screen => proto::TrackSource::ScreenShare,
        }
    }

    /// The name events and logs use (`camera`, `microphone`, `screen_share`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Camera => "camera",
            Self::Microphone => "microphone",
            Self::Screen => "screen_share",
        }
    }

    fn video(self) -> bool {
        !matches!(self, Self::Microphone)
    }
}

/// Frames waiting between an encoding thread and its writer, at most: a few frames, so a slow network
/// drops stale frames (and asks for a keyframe) instead of queueing latency.
const QUEUE: usize = 4;
/// Screen sharing runs at up to this rate; text needs sharpness more than motion.
pub const SCREEN_FPS: f32 = 15.0;
/// H.264 parameters this client encodes (OpenH264: constrained baseline, non-interleaved).
const H264_FMTP: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

/// What negotiation decided for a track: writes wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Negotiated {
    payload_type: u8,
    /// The track's media section, stamped on every packet (with the layer's rid).
    mid: String,
}

/// The media a track carries: the webrtc-rs track, and where its encoding thread's output goes (kept so
/// that a replacement source feeds the same writer).
enum Media {
    Video(Arc<TrackLocalStaticSample>, mpsc::Sender<VideoPacket>),
    Audio(Arc<TrackLocalStaticRTP>, mpsc::Sender<AudioPacket>),
}

/// A published (or being published) track.
pub struct LocalTrack {
    /// Which source.
    pub source: Source,
    /// Client id, also the track id in the SDP (how the server ties the two together).
    pub cid: String,
    /// Server-assigned sid once `TrackPublishedResponse` arrived.
    pub sid: Option<String>,
    /// Its encodings (one for audio and screen).
    pub layers: Vec<Layer>,
    /// Flags the encoding thread reads.
    pub control: Arc<Control>,
    ssrcs: Vec<u32>,
    media: Media,
    /// Payload type and mid once the publisher's answer is in.
    negotiated: watch::Sender<Option<Negotiated>>,
    /// The sender once added to the publisher connection.
    pub sender: Option<Arc<dyn RtpSender>>,
    muted: bool,
    /// Raised to end the current encoding thread (on a source switch, or with the track).
    thread_stop: Arc<AtomicBool>,
    /// Keyframe requests are being listened for.
    listening: AtomicBool,
    /// Where the server's receiver reports on a video track go (congestion control).
    estimate: Option<Estimate>,
}

impl std::fmt::Debug for LocalTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTrack")
            .field("source", &self.source)
            .field("cid", &self.cid)
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

fn h264_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "video/H264".into(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: H264_FMTP.into(),
        rtcp_feedback: Vec::new(),
    }
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "audio/opus".into(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: crate::peer::OPUS_FMTP.into(),
        rtcp_feedback: Vec::new(),
    }
}

fn encoding(rid: &str, codec: RTCRtpCodec) -> RTCRtpEncodingParameters {
    RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            rid: rid.into(),
            ssrc: Some(rand::random()),
            ..Default::default()
        },
        codec,
        ..Default::default()
    }
}

impl LocalTrack {
    fn new(source: Source, cid: String, layers: Vec<Layer>, ssrcs: Vec<u32>, media: Media) -> Self {
        Self {
            source,
            cid,
            sid: None,
            layers,
            control: Arc::new(Control::default()),
            ssrcs,
            media,
            negotiated: watch::Sender::new(None),
            sender: None,
            muted: false,
            thread_stop: Arc::new(AtomicBool::new(false)),
            listening: AtomicBool::new(false),
            estimate: None,
        }
    }

    /// A video track (camera or screen) fed by `source`; its encoding thread starts now.
    pub fn video(
        kind: Source,
        source: Box<dyn VideoSource>,
        events: &mpsc::UnboundedSender<Event>,
        estimate: Estimate,
    ) -> Result<Self, webrtc::error::Error> {
        let info = source.info();
        let layers = match kind {
            Source::Screen => vec![encode::screen_layer(info.width, info.height)],
            _ => encode::camera_layers(info.width, info.height),
        };
        let cid = crate::session::new_id("TR_local");
        let encodings: Vec<_> = layers.iter().map(|l| encoding(l.rid, h264_codec())).collect();
        let ssrcs = encodings.iter().filter_map(|e| e.rtp_coding_parameters.ssrc).collect();
        let track = MediaStreamTrack::new(
            crate::session::new_id("ST"),
            cid.clone(),
            kind.name().to_owned(),
            RtpCodecKind::Video,
            encodings,
        );
        let sample_track = Arc::new(TrackLocalStaticSample::new(Instant::now(), track)?);
        let (out, frames) = mpsc::channel(QUEUE);
        let mut local = Self::new(kind, cid, layers, ssrcs, Media::Video(sample_track.clone(), out));
        local.estimate = Some(estimate);
        let rids = local.layers.iter().map(|l| l.rid).collect();
        let negotiated = local.negotiated.subscribe();
        tokio::spawn(write_video(
            sample_track,
            local.ssrcs.clone(),
            rids,
            negotiated,
            local.control.clone(),
            frames,
        ));
        local.start_video(source, events.clone());
        Ok(local)
    }

    /// A microphone track fed by `source`; its encoding thread starts now.
    pub fn audio(source: Box<dyn AudioSource>, events: &mpsc::UnboundedSender<Event>) -> Self {
        let cid = crate::session::new_id("TR_local");
        let coding = encoding("", opus_codec());
        let ssrcs = coding.rtp_coding_parameters.ssrc.into_iter().collect();
        let track = MediaStreamTrack::new(
            crate::session::new_id("ST"),
            cid.clone(),
            Source::Microphone.name().to_owned(),
            RtpCodecKind::Audio,
            vec![coding],
        );
        let rtp_track = Arc::new(TrackLocalStaticRTP::new(track));
        let (out, packets) = mpsc::channel(QUEUE * 4);
        let mut local =
            Self::new(Source::Microphone, cid, Vec::new(), ssrcs, Media::Audio(rtp_track.clone(), out));
        let ssrc = local.ssrcs.first().copied().unwrap_or_default();
        tokio::spawn(write_audio(rtp_track, ssrc, local.negotiated.subscribe(), packets));
        local.start_audio(source, events.clone());
        local
    }

    /// Switches to another device (or display) without renegotiation: the old thread stops, a new one
    /// feeds the same track, starting with a keyframe. A video source of another size is scaled to the
    /// track's layers.
    pub fn replace_video(&mut self, source: Box<dyn VideoSource>, events: &mpsc::UnboundedSender<Event>) {
        self.control.keyframes();
        self.start_video(source, events.clone());
    }

    /// Same for a microphone.
    pub fn replace_audio(&mut self, source: Box<dyn AudioSource>, events: &mpsc::UnboundedSender<Event>) {
        self.start_audio(source, events.clone());
    }

    /// A stop flag for a new encoding thread; the previous thread's is raised.
    fn next_thread(&mut self) -> Arc<AtomicBool> {
        self.thread_stop.store(true, Ordering::Relaxed);
        self.thread_stop = Arc::new(AtomicBool::new(false));
        self.thread_stop.clone()
    }

    fn start_video(&mut self, source: Box<dyn VideoSource>, events: mpsc::UnboundedSender<Event>) {
        let Media::Video(_, out) = &self.media else { return };
        let out = out.clone();
        let (layers, kind) = (self.layers.clone(), self.source);
        let (mode, fps) = match kind {
            Source::Screen => (ContentMode::Screen, SCREEN_FPS),
            _ => (ContentMode::Camera, source.info().fps.clamp(1, 30) as f32),
        };
        self.spawn_encoder(events, move |control, stop| {
            encode::encode_video(source, &layers, mode, fps, control, stop, &out)
        });
    }

    fn start_audio(&mut self, source: Box<dyn AudioSource>, events: mpsc::UnboundedSender<Event>) {
        let Media::Audio(_, out) = &self.media else { return };
        let out = out.clone();
        self.spawn_encoder(events, move |control, stop| encode::encode_audio(source, control, stop, &out));
    }

    /// Runs `encode` on a new thread in place of the previous one; a failure is reported as an event.
    fn spawn_encoder(
        &mut self,
        events: mpsc::UnboundedSender<Event>,
        encode: impl FnOnce(&Control, &AtomicBool) -> Result<(), encode::Failure> + Send + 'static,
    ) {
        let stop = self.next_thread();
        let (control, kind) = (self.control.clone(), self.source);
        let spawned = std::thread::Builder::new().name(format!("encode-{}", kind.name())).spawn(move || {
            if let Err(reason) = encode(&control, &stop) {
                tracing::warn!(source = kind.name(), reason, "publishing stopped");
                let _ = events.send(Event::PublishFailed { source: kind.name().into(), reason });
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no encoding thread");
        }
    }

    /// How the track is announced to the server.
    pub fn add_track_request(&self) -> proto::AddTrackRequest {
        let top = self.layers.last();
        proto::AddTrackRequest {
            cid: self.cid.clone(),
            name: self.source.name().into(),
            r#type: if self.source.video() { proto::TrackType::Video } else { proto::TrackType::Audio }
                as i32,
            source: self.source.proto() as i32,
            width: top.map_or(0, |l| l.width),
            height: top.map_or(0, |l| l.height),
            muted: self.muted,
            layers: self
                .layers
                .iter()
                .zip(&self.ssrcs)
                .map(|(l, ssrc)| proto::VideoLayer {
                    quality: l.quality as i32,
                    width: l.width,
                    height: l.height,
                    bitrate: l.bitrate_bps,
                    ssrc: *ssrc,
                    rid: l.rid.into(),
                    ..Default::default()
                })
                .collect(),
            // This client sends plain Opus with in-band FEC; the server must not expect RED from it.
            disable_red: true,
            ..Default::default()
        }
    }

    /// The track to add to the publisher connection.
    pub fn track_local(&self) -> Arc<dyn TrackLocal> {
        match &self.media {
            Media::Video(t, _) => t.clone(),
            Media::Audio(t, _) => t.clone(),
        }
    }

    /// Takes the payload type from the publisher's answer and the track's mid from the offer it answers;
    /// writes start with them. Returns whether the answer has the codec at all.
    pub fn negotiate(&self, offer_sdp: &str, answer_sdp: &str) -> bool {
        let pt = if self.source.video() {
            colloque_rtp::sdp::payload_type(
                answer_sdp,
                "video",
                None,
                "H264",
                &["packetization-mode=1", "profile-level-id=42e01f"],
            )
        } else {
            colloque_rtp::sdp::payload_type(answer_sdp, "audio", None, "opus", &[])
        };
        let mid = colloque_rtp::sdp::mid_of_track(offer_sdp, &self.cid);
        tracing::debug!(source = self.source.name(), ?pt, ?mid, "track negotiated");
        if let (Some(payload_type), Some(mid)) = (pt, mid) {
            self.negotiated.send_replace(Some(Negotiated { payload_type, mid }));
            if self.source.video() && !self.listening.swap(true, Ordering::Relaxed) {
                tokio::spawn(listen_rtcp(
                    self.track_local(),
                    self.ssrcs.clone(),
                    self.control.clone(),
                    self.estimate.clone(),
                ));
            }
            self.control.keyframes();
        }
        pt.is_some()
    }

    /// The meeting was joined again: the track waits to be accepted, added and negotiated anew (writes
    /// pause meanwhile), and starts again with a keyframe.
    pub fn rejoin(&mut self) {
        self.sid = None;
        self.sender = None;
        self.negotiated.send_replace(None);
        self.control.keyframes();
    }

    /// Mutes or unmutes (nothing is encoded while muted); the caller tells the server.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
        self.control.muted.store(muted, Ordering::Relaxed);
        if !muted {
            self.control.keyframes();
        }
    }

    /// Whether muted.
    pub fn muted(&self) -> bool {
        self.muted
    }

    /// Applies a `SubscribedQualityUpdate`: layers nobody watches stop being encoded. A codec list (newer
    /// servers) wins over the plain quality list.
    #[allow(deprecated)] // servers before codec lists send only `subscribed_qualities`
    pub fn subscribed(&self, update: &proto::SubscribedQualityUpdate) {
        let qualities = update
            .subscribed_codecs
            .iter()
            .find(|c| c.codec.eq_ignore_ascii_case("h264"))
            .map_or(&update.subscribed_qualities, |c| &c.qualities);
        for (i, layer) in self.layers.iter().enumerate() {
            let Some(q) = qualities.iter().find(|q| q.quality == layer.quality as i32) else { continue };
            let was_paused = self.control.paused[i].swap(!q.enabled, Ordering::Relaxed);
            if was_paused && q.enabled {
                self.control.keyframe[i].store(true, Ordering::Relaxed);
            }
        }
    }

    /// Applies congestion control's share: a bitrate per layer, or off (a layer coming back starts with
    /// a keyframe).
    pub fn apply(&self, grants: &[crate::allocate::Grant]) {
        use crate::allocate::Grant;
        for (i, grant) in grants.iter().enumerate().take(encode::MAX_LAYERS) {
            let (off, bitrate) = match grant {
                Grant::On(bps) => (false, *bps),
                Grant::Off => (true, 0),
            };
            let was_off = self.control.congested[i].swap(off, Ordering::Relaxed);
            self.control.bitrate_bps[i].store(bitrate, Ordering::Relaxed);
            if was_off && !off {
                self.control.keyframe[i].store(true, Ordering::Relaxed);
            }
        }
    }

    /// Stops the encoding thread; the writer ends with it.
    pub fn stop(&self) {
        self.control.stop.store(true, Ordering::Relaxed);
        self.thread_stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for LocalTrack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Packetizes encoded video onto the track, per layer, once the payload type is known.
async fn write_video(
    track: Arc<TrackLocalStaticSample>,
    ssrcs: Vec<u32>,
    rids: Vec<&'static str>,
    negotiated: watch::Receiver<Option<Negotiated>>,
    control: Arc<Control>,
    mut frames: mpsc::Receiver<VideoPacket>,
) {
    let mut previous = [None::<u64>; encode::MAX_LAYERS];
    while let Some(VideoPacket { layer, frame }) = frames.recv().await {
        let (Some(&ssrc), Some(last)) = (ssrcs.get(layer), previous.get_mut(layer)) else { continue };
        let micros = frame.timestamp.as_micros();
        // The RTP clock advances by the time since this layer's previous frame.
        let duration =
            Duration::from_micros(last.map_or(33_333, |p| micros.saturating_sub(p).clamp(1_000, 1_000_000)));
        *last = Some(micros);
        let Some(Negotiated { payload_type, mid }) = negotiated.borrow().clone() else { continue };
        let mut extensions = vec![colloque_rtp::sdes::mid(&mid)];
        if let Some(rid) = rids.get(layer).filter(|r| !r.is_empty()) {
            extensions.push(colloque_rtp::sdes::rid(rid));
        }
        let sample = Sample { data: Bytes::from(frame.data), duration, ..Sample::new(Instant::now()) };
        let result = track.write_sample(ssrc, payload_type, &sample, &extensions).await;
        if let Err(e) = result {
            // Not bound (yet, or any more after a renegotiation): the next frame that goes out must be a keyframe.
            tracing::debug!(error = %e, "video frame not sent");
            control.keyframe[layer].store(true, Ordering::Relaxed);
        }
    }
}

/// One RTP packet per Opus frame; frames DTX leaves out advance the timestamp, not the sequence number
/// (a gap in sequence numbers would read as loss).
async fn write_audio(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    negotiated: watch::Receiver<Option<Negotiated>>,
    mut packets: mpsc::Receiver<AudioPacket>,
) {
    let mut sequence: u16 = rand::random();
    let mut timestamp: u32 = rand::random();
    let mut after_silence = true;
    while let Some(AudioPacket { payload, level }) = packets.recv().await {
        let now = negotiated.borrow().clone();
        if let (Some(payload), Some(Negotiated { payload_type, mid })) = (payload, now) {
            let packet = rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    payload_type,
                    sequence_number: sequence,
                    timestamp,
                    ssrc,
                    // RFC 3551: the first packet of a talk spurt.
                    marker: after_silence,
                    ..Default::default()
                },
                payload: Bytes::from(payload),
            };
            let extensions = [
                colloque_rtp::sdes::mid(&mid),
                HeaderExtension::AudioLevel(AudioLevelExtension { level, voice: level < 127 }),
            ];
            match track.write_rtp_with_extensions(packet, &extensions).await {
                Ok(()) => sequence = sequence.wrapping_add(1),
                Err(e) => tracing::debug!(error = %e, "audio packet not sent"),
            }
            after_silence = false;
        } else {
            after_silence = true;
        }
        timestamp = timestamp.wrapping_add(colloque_media::codec::opus::FRAME_SAMPLES as u32);
    }
}

/// Turns PLI/FIR on the track's SSRCs into keyframe flags for the matching layer, and the loss the
/// server's receiver reports give into the bandwidth estimate, while the track lives.
async fn listen_rtcp(
    track: Arc<dyn TrackLocal>,
    ssrcs: Vec<u32>,
    control: Arc<Control>,
    estimate: Option<Estimate>,
) {
    while !control.stop.load(Ordering::Relaxed) {
        while let Some(event) = track.poll().await {
            let TrackLocalEvent::OnRtcpPacket(packets) = event else { continue };
            for packet in &packets {
                if let Some(report) = packet.as_any().downcast_ref::<ReceiverReport>() {
                    // The worst layer: the largest, sent most, loses most at a bottleneck.
                    let worst = report
                        .reports
                        .iter()
                        .filter(|b| ssrcs.contains(&b.ssrc))
                        .map(|b| b.fraction_lost)
                        .max();
                    if let (Some(worst), Some(estimate)) = (worst, &estimate) {
                        estimate.on_receiver_report(f32::from(worst) / 256.0);
                    }
                    continue;
                }
                if !colloque_rtp::keyframe_requests::is_keyframe_request(packet.as_ref()) {
                    continue;
                }
                for ssrc in packet.destination_ssrc() {
                    if let Some(layer) = ssrcs.iter().position(|s| *s == ssrc) {
                        control.keyframe[layer].store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        // Unbound for a moment (renegotiation): look again shortly.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
