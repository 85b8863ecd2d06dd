//! A published track and its subscribers' copies. One task per published track reads the publisher's RTP
//! and hands each packet to every [`DownTrack`], whose [`Forwarder`] decides what that subscriber gets.
// LiveKit marks several fields deprecated in favour of newer ones, but the SDKs in use still read them:
// fill both.
#![allow(deprecated)]
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use rtc::peer_connection::event::RTCTrackEventInit;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::dynacast::{self, Dynacast};
use crate::forward::{Forwarder, Verdict};
use crate::keyframe::VideoCodec;
use crate::quality::LossCounter;
use crate::red::{self, Unwrapper};
use crate::speakers::{self, AudioLevels};
use crate::vp8::Descriptor;

/// Whether `codec` is audio redundancy (RED).
pub fn is_red(codec: &RTCRtpCodec) -> bool {
    codec.mime_type.eq_ignore_ascii_case(red::MIME)
}

/// Simulcast layers: LOW, MEDIUM, HIGH.
pub const LAYERS: usize = 3;

/// The layer of a simulcast RID (`q`/`h`/`f` as LiveKit's SDKs send them); a plain stream is layer 0.
pub fn layer_of_rid(rid: &str) -> u8 {
    match rid {
        "h" => 1,
        "f" => 2,
        _ => 0,
    }
}

/// Which layer a subscriber's `UpdateTrackSettings` asks for (LiveKit's rule): disabled → none; a size →
/// the lowest layer at least 90 % as tall as asked (the track's layer heights, LOW/MEDIUM/HIGH); else the
/// quality given.
pub fn requested_layer(layers: &[proto::VideoLayer], settings: &proto::UpdateTrackSettings) -> Option<u8> {
    if settings.disabled {
        return None;
    }
    if settings.width > 0 || settings.height > 0 {
        let wanted = f64::from(settings.height.max(1)) * 0.9;
        let mut sorted: Vec<&proto::VideoLayer> = layers.iter().collect();
        sorted.sort_by_key(|l| l.quality);
        let pick = sorted
            .iter()
            .find(|l| f64::from(l.height) >= wanted)
            .or(sorted.last())
            .map(|l| l.quality as u8)
            .unwrap_or(2);
        return Some(pick.min(2));
    }
    Some((settings.quality.clamp(0, 2)) as u8)
}

/// The best layer at most `requested` that the publisher sends, else the lowest it sends.
pub fn available_layer(requested: u8, sending: [bool; LAYERS]) -> Option<u8> {
    (0..=requested.min(2))
        .rev()
        .find(|&l| sending[l as usize])
        .or_else(|| (0..3u8).find(|&l| sending[l as usize]))
}

/// One subscriber's copy of a published track.
pub struct DownTrack {
    /// The subscriber's participant sid.
    pub subscriber: String,
    /// What the subscriber's connection sends.
    pub local: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    /// Negotiated payload type on the subscriber's connection; 0 until known.
    payload_type: AtomicU8,
    /// The layer the subscriber asked for (`u8::MAX` = paused).
    requested: AtomicU8,
    /// The track is RED and this subscriber takes plain Opus.
    unwrap_red: AtomicBool,
    forwarder: Mutex<Forwarder>,
    /// The worst loss the subscriber's receiver reports gave since last asked (RFC 3550 fraction, /256).
    reported_loss: AtomicU8,
}

impl DownTrack {
    /// A copy for `subscriber` sending on `ssrc`, starting at `requested` (`None` = paused).
    pub fn new(
        subscriber: String,
        local: Arc<TrackLocalStaticRTP>,
        ssrc: u32,
        codec: Option<VideoCodec>,
        clock_rate: u32,
        requested: Option<u8>,
    ) -> Self {
        Self {
            subscriber,
            local,
            ssrc,
            payload_type: AtomicU8::new(0),
            requested: AtomicU8::new(requested.unwrap_or(u8::MAX)),
            unwrap_red: AtomicBool::new(true),
            forwarder: Mutex::new(Forwarder::new(codec, clock_rate, None)),
            reported_loss: AtomicU8::new(0),
        }
    }

    /// The worst loss fraction the subscriber reported since the last call.
    fn take_reported_loss(&self) -> f32 {
        f32::from(self.reported_loss.swap(0, Ordering::Relaxed)) / 256.0
    }

    /// Sets the payload type negotiated for this copy.
    pub fn set_payload_type(&self, pt: u8) {
        self.payload_type.store(pt, Ordering::Relaxed);
    }

    /// For a RED track: whether this subscriber gets plain Opus (the default, until its answer shows it
    /// accepted RED).
    pub fn set_unwrap_red(&self, unwrap: bool) {
        self.unwrap_red.store(unwrap, Ordering::Relaxed);
    }

    /// Sets the layer this subscriber wants (`None` pauses).
    pub fn request(&self, layer: Option<u8>) {
        self.requested.store(layer.unwrap_or(u8::MAX), Ordering::Relaxed);
    }

    /// Sends `out` as this copy's packet `sequence`, `timestamp`, payload type `pt`.
    async fn send(&self, mut out: rtp::Packet, sequence: u16, timestamp: u32, pt: u8) {
        out.header.ssrc = self.ssrc;
        out.header.sequence_number = sequence;
        out.header.timestamp = timestamp;
        out.header.payload_type = pt;
        // The publisher's extension ids mean nothing on the subscriber's connection.
        out.header.extension = false;
        out.header.extensions.clear();
        out.header.extension_profile = 0;
        if let Err(e) = self.local.write_rtp(out).await {
            tracing::trace!(error = %e, subscriber = self.subscriber, "packet not sent");
        }
    }

    fn forwarder(&self) -> std::sync::MutexGuard<'_, Forwarder> {
        self.forwarder.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for DownTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownTrack").field("subscriber", &self.subscriber).field("ssrc", &self.ssrc).finish()
    }
}

/// A track a participant publishes, with its subscribers.
pub struct PublishedTrack {
    /// The publisher's participant sid.
    pub publisher: String,
    /// What clients are told about it.
    pub info: Mutex<proto::TrackInfo>,
    /// The codec the publisher sends.
    pub codec: RTCRtpCodec,
    video: Option<VideoCodec>,
    remote: Arc<dyn TrackRemote>,
    downtracks: RwLock<Vec<Arc<DownTrack>>>,
    layers: Mutex<Layers>,
    /// The publisher's id for the audio-level header extension (audio tracks).
    audio_level_extension: Option<u8>,
    /// Levels seen in the current speaker-detection window.
    pub levels: AudioLevels,
    dynacast: Mutex<Dynacast>,
    /// For a RED track: the plain-Opus view for subscribers that did not accept RED.
    red: Option<Mutex<Unwrapper>>,
}

impl std::fmt::Debug for PublishedTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedTrack")
            .field("sid", &self.sid())
            .field("publisher", &self.publisher)
            .field("mime", &self.codec.mime_type)
            .finish()
    }
}

#[derive(Default)]
struct Layers {
    ssrc: [Option<u32>; LAYERS],
    last_keyframe_request: [Option<Instant>; LAYERS],
    /// When each layer's last packet came: a layer silent for [`LAYER_TIMEOUT`] counts as not sent (the
    /// publisher's congestion control or dynacast turned it off), and its subscribers go down a layer.
    last_packet: [Option<Instant>; LAYERS],
    /// Loss on the way in, per layer.
    loss: [LossCounter; LAYERS],
}

/// A layer with no packet for this long is taken as stopped.
const LAYER_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

impl PublishedTrack {
    /// Wraps a remote track whose first packets arrived with `codec`.
    pub fn new(
        publisher: String,
        info: proto::TrackInfo,
        codec: RTCRtpCodec,
        remote: Arc<dyn TrackRemote>,
        first: &RTCTrackEventInit,
        audio_level_extension: Option<u8>,
    ) -> Self {
        let video = VideoCodec::from_mime(&codec.mime_type);
        let mut layers = Layers::default();
        layers.ssrc[usize::from(layer_of_rid(first.rid.as_deref().unwrap_or("")))] = Some(first.ssrc);
        Self {
            publisher,
            info: Mutex::new(info),
            video,
            remote,
            downtracks: RwLock::new(Vec::new()),
            layers: Mutex::new(layers),
            audio_level_extension: if video.is_none() { audio_level_extension } else { None },
            levels: AudioLevels::default(),
            dynacast: Mutex::new(Dynacast::new(Instant::now())),
            red: is_red(&codec).then(|| Mutex::new(Unwrapper::default())),
            codec,
        }
    }

    /// Whether the publisher sends RED.
    pub fn is_red(&self) -> bool {
        self.red.is_some()
    }

    /// The track sid.
    pub fn sid(&self) -> String {
        self.info().sid
    }

    /// A copy of the track info.
    pub fn info(&self) -> proto::TrackInfo {
        self.info.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Audio or video.
    pub fn is_video(&self) -> bool {
        self.video.is_some()
    }

    /// Starts sending to a subscriber.
    pub fn add(&self, down: Arc<DownTrack>) {
        self.downtracks.write().unwrap_or_else(PoisonError::into_inner).push(down);
    }

    /// Stops sending to a subscriber.
    pub fn remove(&self, subscriber: &str) -> Option<Arc<DownTrack>> {
        let mut downs = self.downtracks.write().unwrap_or_else(PoisonError::into_inner);
        let pos = downs.iter().position(|d| d.subscriber == subscriber)?;
        Some(downs.remove(pos))
    }

    /// A subscriber's copy.
    pub fn downtrack(&self, subscriber: &str) -> Option<Arc<DownTrack>> {
        self.downtracks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|d| d.subscriber == subscriber)
            .cloned()
    }

    /// For a simulcast track, the `SubscribedQualityUpdate` its publisher must get now, if any: the highest
    /// layer any subscriber asks for (dynacast).
    pub fn quality_update(&self, now: Instant) -> Option<proto::SubscribedQualityUpdate> {
        let info = self.info();
        if self.video.is_none() || info.layers.len() < 2 {
            return None;
        }
        let wanted = self
            .snapshot()
            .iter()
            .map(|d| d.requested.load(Ordering::Relaxed))
            .filter(|&r| r != u8::MAX)
            .max();
        let decided = self.dynacast.lock().unwrap_or_else(PoisonError::into_inner).decide(wanted, now)?;
        Some(dynacast::update(&info.sid, &self.codec.mime_type, decided))
    }

    /// Packets received and lost (sequence gaps) on the way in since the last call.
    pub fn take_loss(&self) -> (u64, u64) {
        let mut layers = self.layers.lock().unwrap_or_else(PoisonError::into_inner);
        layers.loss.iter_mut().map(LossCounter::take).fold((0, 0), |(r, l), (r2, l2)| (r + r2, l + l2))
    }

    /// Each subscriber's sid and the worst loss its receiver reports gave since the last call.
    pub fn take_reported_losses(&self) -> Vec<(String, f32)> {
        self.snapshot().iter().map(|d| (d.subscriber.clone(), d.take_reported_loss())).collect()
    }

    /// Subscribers' sids.
    pub fn subscribers(&self) -> Vec<String> {
        self.downtracks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|d| d.subscriber.clone())
            .collect()
    }

    fn snapshot(&self) -> Vec<Arc<DownTrack>> {
        self.downtracks.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Asks the publisher for a keyframe on `layer`, at most every 500 ms per layer.
    pub async fn request_keyframe(&self, layer: u8) {
        let ssrc = {
            let mut layers = self.layers.lock().unwrap_or_else(PoisonError::into_inner);
            let i = usize::from(layer.min(2));
            let Some(ssrc) = layers.ssrc[i] else { return };
            let now = Instant::now();
            if layers.last_keyframe_request[i]
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(500))
            {
                return;
            }
            layers.last_keyframe_request[i] = Some(now);
            ssrc
        };
        let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
        if let Err(e) = self.remote.write_rtcp(vec![Box::new(pli)]).await {
            tracing::debug!(error = %e, "keyframe request not sent");
        }
    }

    /// Reads the publisher's packets until the track ends, forwarding each to every subscriber.
    pub async fn run(self: Arc<Self>) {
        while let Some(event) = self.remote.poll().await {
            match event {
                TrackRemoteEvent::OnOpen(init) => {
                    let layer = layer_of_rid(init.rid.as_deref().unwrap_or(""));
                    tracing::debug!(ssrc = init.ssrc, layer, "layer opened");
                    self.layers.lock().unwrap_or_else(PoisonError::into_inner).ssrc[usize::from(layer)] =
                        Some(init.ssrc);
                }
                TrackRemoteEvent::OnRtpPacket(packet) => self.forward(packet).await,
                TrackRemoteEvent::OnEnded => break,
                _ => {}
            }
        }
        tracing::debug!(track = self.sid(), "published track ended");
    }

    async fn forward(&self, packet: rtp::Packet) {
        // One look at the layer table per packet: which layer this is, and which layers are being sent.
        let now = Instant::now();
        let (layer, sending) = {
            let mut layers = self.layers.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(l) = layers.ssrc.iter().position(|s| *s == Some(packet.header.ssrc)) else { return };
            layers.last_packet[l] = Some(now);
            layers.loss[l].on_packet(packet.header.sequence_number);
            let live = |t: Option<Instant>| t.is_some_and(|t| now.duration_since(t) < LAYER_TIMEOUT);
            (l as u8, layers.last_packet.map(live))
        };
        if let Some(id) = self.audio_level_extension {
            if let Some(level) = packet.header.get_extension(id).as_deref().and_then(speakers::level_of) {
                self.levels.observe(level);
            }
        }
        let mut keyframe_wanted = [false; LAYERS];
        // RED: the plain packets this one stands for (a garbage RED payload gives none).
        let plain = self.red.as_ref().map(|unwrapper| {
            let mut unwrapper = unwrapper.lock().unwrap_or_else(PoisonError::into_inner);
            let seq = packet.header.sequence_number;
            unwrapper.unwrap(seq, packet.header.timestamp, &packet.payload).unwrap_or_else(|e| {
                tracing::debug!(track = self.sid(), error = %e, "RED packet not unwrapped");
                Vec::new()
            })
        });
        for down in self.snapshot() {
            let pt = down.payload_type.load(Ordering::Relaxed);
            if pt == 0 {
                continue;
            }
            let requested = down.requested.load(Ordering::Relaxed);
            let target = if requested == u8::MAX { None } else { available_layer(requested, sending) };
            {
                let mut forwarder = down.forwarder();
                if forwarder.target() != target {
                    tracing::debug!(
                        track = self.sid(),
                        subscriber = down.subscriber,
                        ?target,
                        ?sending,
                        "layer switch"
                    );
                    forwarder.set_target(target);
                }
            }
            if let Some(plain) = plain.as_ref().filter(|_| down.unwrap_red.load(Ordering::Relaxed)) {
                for p in plain {
                    let verdict = down.forwarder().on_packet(layer, p.sequence, p.timestamp, &p.data, now);
                    if let Verdict::Forward { sequence, timestamp, .. } = verdict {
                        let header = rtp::Header {
                            sequence_number: p.sequence,
                            timestamp: p.timestamp,
                            ..packet.header.clone()
                        };
                        down.send(rtp::Packet { header, payload: p.data.clone() }, sequence, timestamp, pt)
                            .await;
                    }
                }
                continue;
            }
            let verdict = {
                let mut forwarder = down.forwarder();
                let verdict = forwarder.on_packet(
                    layer,
                    packet.header.sequence_number,
                    packet.header.timestamp,
                    &packet.payload,
                    now,
                );
                if let Some(l) = forwarder.wanted_keyframe() {
                    keyframe_wanted[usize::from(l)] = true;
                }
                verdict
            };
            if let Verdict::Forward { sequence, timestamp, vp8 } = verdict {
                let payload = match (vp8, Descriptor::parse(&packet.payload)) {
                    (Some(numbers), Some(descriptor)) => {
                        let mut rewritten = bytes::BytesMut::from(&packet.payload[..]);
                        descriptor.write(&mut rewritten, numbers);
                        rewritten.freeze()
                    }
                    _ => packet.payload.clone(),
                };
                down.send(rtp::Packet { header: packet.header.clone(), payload }, sequence, timestamp, pt)
                    .await;
            }
        }
        for (layer, wanted) in keyframe_wanted.iter().enumerate() {
            if *wanted {
                self.request_keyframe(layer as u8).await;
            }
        }
    }
}

/// Relays a subscriber's keyframe requests (PLI/FIR on its copy) to the publisher, for the layer it gets.
/// Also notes the loss its receiver reports say, for connection quality.
pub async fn relay_keyframe_requests(track: Arc<PublishedTrack>, down: Arc<DownTrack>) {
    while let Some(event) = down.local.poll().await {
        let TrackLocalEvent::OnRtcpPacket(packets) = event else { continue };
        let mut keyframe = false;
        for packet in &packets {
            if colloque_rtp::keyframe_requests::is_keyframe_request(packet.as_ref()) {
                keyframe = true;
            } else if let Some(report) = packet.as_any().downcast_ref::<ReceiverReport>() {
                for block in report.reports.iter().filter(|b| b.ssrc == down.ssrc) {
                    down.reported_loss.fetch_max(block.fraction_lost, Ordering::Relaxed);
                }
            }
        }
        let layer = down.forwarder().current();
        if let (true, Some(layer)) = (keyframe, layer) {
            track.request_keyframe(layer).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Vec<proto::VideoLayer> {
        [(0, 320, 180), (1, 640, 360), (2, 1280, 720)]
            .iter()
            .map(|&(q, w, h)| proto::VideoLayer { quality: q, width: w, height: h, ..Default::default() })
            .collect()
    }

    #[test]
    fn settings_pick_layers_like_livekit() {
        let by = |width, height, quality, disabled| {
            requested_layer(
                &layers(),
                &proto::UpdateTrackSettings { width, height, quality, disabled, ..Default::default() },
            )
        };
        assert_eq!(by(0, 0, 0, true), None);
        assert_eq!(by(320, 180, 0, false), Some(0));
        // 200 px tall: 180 is below 90 % of it? 180 ≥ 180 → LOW still fits.
        assert_eq!(by(356, 200, 0, false), Some(0));
        assert_eq!(by(640, 360, 0, false), Some(1));
        assert_eq!(by(1920, 1080, 0, false), Some(2));
        assert_eq!(by(0, 0, 1, false), Some(1));
        assert_eq!(by(0, 0, 7, false), Some(2));
    }

    #[test]
    fn missing_layers_fall_back() {
        assert_eq!(available_layer(2, [true, true, false]), Some(1));
        assert_eq!(available_layer(0, [false, true, true]), Some(1));
        assert_eq!(available_layer(1, [false, false, false]), None);
        assert_eq!(available_layer(2, [true, false, false]), Some(0));
    }

    #[test]
    fn rids() {
        assert_eq!(layer_of_rid("q"), 0);
        assert_eq!(layer_of_rid("h"), 1);
        assert_eq!(layer_of_rid("f"), 2);
        assert_eq!(layer_of_rid(""), 0);
    }
}
