//! The client side of LiveKit's two peer connections: what they negotiate (codecs a Colloque client sends
//! and decodes); their callbacks reach the session task as `colloque_rtp`'s [`PeerEvent`]s.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use colloque_rtp::{KeyframeRequests, PeerEvent, PeerEvents};
use livekit_protocol as proto;
use rtc::interceptor::{BandwidthEstimator, EstimatorStats, Gcc, PacketReport};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_congestion_control, CongestionFeedback,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::shared::error::Error as RtcError;
use tokio::sync::mpsc::UnboundedSender;

use crate::loss_based::LossBased;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, RTCConfigurationBuilder, RTCIceServer, Registry,
};

/// Which of the two connections.
pub type Target = proto::SignalTarget;

/// Opus with in-band FEC, as LiveKit's clients offer it.
pub(crate) const OPUS_FMTP: &str = "minptime=10;useinbandfec=1";

fn codecs() -> Vec<(RtpCodecKind, RTCRtpCodecParameters)> {
    let feedback = |list: &[&str]| {
        list.iter()
            .map(|f| {
                let (typ, parameter) = f.split_once(':').unwrap_or((f, ""));
                RTCPFeedback { typ: typ.to_owned(), parameter: parameter.to_owned() }
            })
            .collect::<Vec<_>>()
    };
    let audio = |mime: &str, fmtp: &str, payload_type: u8| {
        (
            RtpCodecKind::Audio,
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: mime.to_owned(),
                    clock_rate: 48_000,
                    channels: 2,
                    sdp_fmtp_line: fmtp.to_owned(),
                    rtcp_feedback: feedback(&["transport-cc:"]),
                },
                payload_type,
            },
        )
    };
    let video = |mime: &str, fmtp: &str, payload_type: u8| {
        (
            RtpCodecKind::Video,
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: mime.to_owned(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: fmtp.to_owned(),
                    rtcp_feedback: feedback(&["goog-remb:", "transport-cc:", "ccm:fir", "nack:", "nack:pli"]),
                },
                payload_type,
            },
        )
    };
    vec![
        audio("audio/opus", OPUS_FMTP, 111),
        // OpenH264 sends constrained baseline; every H.264 profile LiveKit forwards is decoded.
        video("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 125),
        video("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", 102),
        video("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f", 104),
        video("video/VP8", "", 96),
        video("video/VP9", "profile-id=0", 98),
    ]
}

/// Where the client's ICE sockets bind: loopback for a server on this machine, every interface otherwise.
pub fn local_addrs(server_host: Option<IpAddr>) -> Vec<String> {
    let ip = match server_host {
        Some(ip) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    vec![SocketAddr::new(ip, 0).to_string()]
}

/// The ICE servers a `JoinResponse` (or `ReconnectResponse`) gives.
pub fn ice_servers(servers: &[proto::IceServer]) -> Vec<RTCIceServer> {
    servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect()
}

/// Where the estimate starts: enough for a 720p simulcast camera and a microphone, so a call starts
/// sharp on a good network; GCC lowers it within seconds on a poor one.
const INITIAL_ESTIMATE: f64 = 2_500_000.0;
const MIN_ESTIMATE: f64 = 100_000.0;
/// A camera and a shared screen at their presets, with room to spare.
const MAX_ESTIMATE: f64 = 8_000_000.0;
/// The pacer runs this much faster than the estimate (libwebrtc's factor).
const PACING_FACTOR: f64 = 2.5;
/// And never slower than this: webrtc-rs's pacer drops what overflows its queue, so a pacer starved by a
/// low estimate would make the loss that keeps the estimate low.
const PACING_FLOOR: f64 = 1_000_000.0;

/// The send-side bandwidth estimate: the lower of GCC's delay-based half (queues building up, from
/// transport-wide feedback) and a loss-based half fed by the server's receiver reports (a full drop-tail
/// queue shows as loss, not delay). Shared by the interceptor chain, the tracks' RTCP listeners and the
/// session task.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// GCC's delay-based estimate (`f64` bits: written inside the interceptor chain).
    delay_based: Arc<AtomicU64>,
    loss_based: Arc<Mutex<LossBased>>,
}

impl Default for Estimate {
    fn default() -> Self {
        Self {
            delay_based: Arc::new(AtomicU64::new(INITIAL_ESTIMATE.to_bits())),
            loss_based: Arc::new(Mutex::new(LossBased::new(INITIAL_ESTIMATE, MIN_ESTIMATE, MAX_ESTIMATE))),
        }
    }
}

impl Estimate {
    /// Bits per second.
    pub fn get(&self) -> f64 {
        let delay_based = f64::from_bits(self.delay_based.load(Ordering::Relaxed));
        let loss_based = self.loss_based.lock().map_or(delay_based, |l| l.rate());
        delay_based.min(loss_based)
    }

    /// A receiver report on what this client sends said `loss` (0 to 1) was lost.
    pub fn on_receiver_report(&self, loss: f32) {
        if let Ok(mut l) = self.loss_based.lock() {
            l.on_report(loss, Instant::now());
            tracing::trace!(loss, rate = l.rate(), "receiver report");
        }
    }
}

/// GCC's delay-based estimate. Its own loss-based half is not used: over webrtc-rs's transport-wide
/// feedback it kept seeing 40–80 % loss on a clean path after a bottleneck was lifted (NACK
/// retransmissions of old packets seem to be reported again), pinning the estimate at its minimum.
fn delay_based(gcc: &impl BandwidthEstimator) -> f64 {
    gcc.stats().delay_based_bitrate.unwrap_or_else(|| gcc.target_bitrate())
}

/// An estimator that publishes its target after every change (the chain owns it; this is the only way
/// the number gets out).
struct Published<E> {
    inner: E,
    estimate: Estimate,
}

impl<E: BandwidthEstimator> Published<E> {
    fn publish(&self) {
        self.estimate.delay_based.store(delay_based(&self.inner).to_bits(), Ordering::Relaxed);
    }
}

impl<E: BandwidthEstimator> BandwidthEstimator for Published<E> {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        self.inner.on_reports(now, reports);
        tracing::trace!(reports = reports.len(), stats = ?self.inner.stats(), "congestion feedback");
        self.publish();
    }

    /// What the pacer is told: the estimate times libwebrtc's pacing factor. The allocator keeps the
    /// encoders under the estimate; the pacer only smooths bursts (a keyframe). Pacing at the estimate
    /// itself queues whatever the encoders overshoot, the queue's delay reads as loss in the feedback,
    /// and the loss-based half then pins the estimate at its minimum for good.
    fn target_bitrate(&self) -> f64 {
        (delay_based(&self.inner) * PACING_FACTOR).max(PACING_FLOOR)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
        self.publish();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.inner.stats()
    }
}

/// Builds one of the two connections; its events go to `tx`. With `estimate`, the connection runs
/// send-side congestion control and publishes its estimate there.
pub async fn build(
    target: Target,
    ice: Vec<RTCIceServer>,
    addrs: Vec<String>,
    tx: UnboundedSender<PeerEvent>,
    estimate: Option<Estimate>,
) -> Result<Arc<dyn PeerConnection>, RtcError> {
    let mut media = MediaEngine::default();
    for (kind, codec) in codecs() {
        media.register_codec(codec, kind)?;
    }
    media.register_header_extension(
        RTCRtpHeaderExtensionCapability { uri: colloque_rtp::AUDIO_LEVEL_URI.to_owned() },
        RtpCodecKind::Audio,
        None,
    )?;
    let congestion_controlled = estimate.is_some();
    let registry = match estimate {
        // Send-side congestion control on the connection that sends media: Google Congestion Control
        // over transport-wide feedback, a pacer at its target; the target is published for the encoders.
        Some(estimate) => {
            let gcc = Gcc::new(INITIAL_ESTIMATE, MIN_ESTIMATE, MAX_ESTIMATE);
            configure_congestion_control(
                Registry::new(),
                Published { inner: gcc, estimate },
                CongestionFeedback::Twcc,
                &mut media,
            )?
        }
        None => Registry::new(),
    };
    // Keyframe requests on this client's video reach its encoders, the server's receiver reports its
    // congestion control.
    let registry = colloque_rtp::interceptors::register(
        registry,
        &mut media,
        KeyframeRequests::with_receiver_reports(),
        congestion_controlled,
    )?;
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().with_ice_servers(ice).build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(PeerEvents::new(target, tx, None)))
        .with_udp_addrs(addrs)
        .build()
        .await?;
    Ok(Arc::new(pc))
}
