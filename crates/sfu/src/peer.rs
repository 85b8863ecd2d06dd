//! Building the server's side of a participant's two peer connections (LiveKit's publisher and subscriber
//! transports), and turning their callbacks into [`PeerEvent`]s for the participant's session task.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use colloque_rtp::peer_events::CandidateRewrite;
use colloque_rtp::{KeyframeRequests, PeerEvents};
use livekit_protocol::SignalTarget;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::shared::error::Error as RtcError;
use tokio::sync::mpsc::UnboundedSender;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, RTCConfigurationBuilder, Registry,
};

/// What a peer connection tells its participant's session (shared with the client).
pub use colloque_rtp::PeerEvent;

/// Opus with in-band FEC, as browsers and LiveKit offer it.
pub const OPUS_FMTP: &str = "minptime=10;useinbandfec=1";

/// The codecs the SFU accepts and forwards. No RTX: retransmissions then arrive on the media SSRC and the
/// NACK interceptors answer subscribers from their own packet cache.
fn codecs() -> Vec<(RtpCodecKind, RTCRtpCodecParameters)> {
    let video_feedback = || {
        ["goog-remb:", "transport-cc:", "ccm:fir", "nack:", "nack:pli"]
            .iter()
            .map(|f| {
                let (typ, parameter) = f.split_once(':').unwrap_or((f, ""));
                RTCPFeedback { typ: typ.to_owned(), parameter: parameter.to_owned() }
            })
            .collect::<Vec<_>>()
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
                    rtcp_feedback: video_feedback(),
                },
                payload_type,
            },
        )
    };
    vec![
        (
            RtpCodecKind::Audio,
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: "audio/opus".to_owned(),
                    clock_rate: 48_000,
                    channels: 2,
                    sdp_fmtp_line: OPUS_FMTP.to_owned(),
                    rtcp_feedback: vec![RTCPFeedback {
                        typ: "transport-cc".to_owned(),
                        parameter: String::new(),
                    }],
                },
                payload_type: 111,
            },
        ),
        // Browsers put RED first when the server offers it (livekit-client does): redundancy against
        // loss, unwrapped for subscribers that do not take it (red.rs).
        (
            RtpCodecKind::Audio,
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: crate::red::MIME.to_owned(),
                    clock_rate: 48_000,
                    channels: 2,
                    sdp_fmtp_line: "111/111".to_owned(),
                    rtcp_feedback: Vec::new(),
                },
                payload_type: 63,
            },
        ),
        video("video/VP8", "", 96),
        video("video/VP9", "profile-id=0", 98),
        video("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 125),
        video("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", 102),
        video("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f", 104),
    ]
}

/// The codec (and payload type) the server offers a subscriber for media a publisher sends as `codec`: the
/// same name, and for H.264 the same profile when there is one.
pub fn offered_codec(codec: &RTCRtpCodec) -> Option<RTCRtpCodecParameters> {
    let profile = |fmtp: &str| {
        fmtp.split(';')
            .find_map(|kv| kv.trim().strip_prefix("profile-level-id="))
            .map(|p| p[..p.len().min(4)].to_ascii_lowercase())
    };
    let same_name: Vec<RTCRtpCodecParameters> = codecs()
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&codec.mime_type))
        .collect();
    let wanted = profile(&codec.sdp_fmtp_line);
    same_name
        .iter()
        .find(|c| wanted.is_some() && profile(&c.rtp_codec.sdp_fmtp_line) == wanted)
        .or(same_name.first())
        .cloned()
}

/// The audio-level header extension (RFC 6464) that `SpeakersChanged` is computed from.
pub use colloque_rtp::AUDIO_LEVEL_URI;

/// What the server tells clients its media address is, given the socket it bound: the public side of a
/// NAT, or a test's impairment relay in front of it.
#[derive(Clone)]
pub struct AddressMap(pub Arc<dyn Fn(SocketAddr) -> SocketAddr + Send + Sync>);

impl std::fmt::Debug for AddressMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AddressMap")
    }
}

impl PartialEq for AddressMap {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for AddressMap {}

/// An ICE candidate line (`candidate:F 1 udp P IP PORT typ host …`) with its address mapped; anything
/// unparsable is left as it is.
pub fn advertised(candidate: &str, map: &AddressMap) -> String {
    let fields: Vec<&str> = candidate.split(' ').collect();
    let (Some(ip), Some(port)) = (fields.get(4), fields.get(5)) else { return candidate.to_owned() };
    let Ok(addr) = format!("{ip}:{port}").parse::<SocketAddr>() else { return candidate.to_owned() };
    let mapped = (map.0)(addr);
    let mut out: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    out[4] = mapped.ip().to_string();
    out[5] = mapped.port().to_string();
    out.join(" ")
}

/// Where the server's ICE sockets go.
#[derive(Debug, Clone, Default)]
pub struct PeerConfig {
    /// Local addresses to gather host candidates on (port 0). An unspecified address means every
    /// non-loopback interface.
    pub ips: Vec<IpAddr>,
    /// Offer and accept audio redundancy (RED). The server does; a client without it (a test, a plain
    /// Opus peer) leaves it out.
    pub red: bool,
    /// Candidates are advertised through this map (none: as bound).
    pub advertise: Option<AddressMap>,
}

/// Builds one of a participant's two connections; its events go to `tx`.
pub async fn build(
    config: &PeerConfig,
    target: SignalTarget,
    tx: UnboundedSender<PeerEvent>,
) -> Result<Arc<dyn PeerConnection>, RtcError> {
    let mut media = MediaEngine::default();
    for (kind, codec) in codecs() {
        if !config.red && codec.rtp_codec.mime_type.eq_ignore_ascii_case(crate::red::MIME) {
            continue;
        }
        media.register_codec(codec, kind)?;
    }
    media.register_header_extension(
        RTCRtpHeaderExtensionCapability { uri: AUDIO_LEVEL_URI.to_owned() },
        RtpCodecKind::Audio,
        None,
    )?;
    // Subscribers' keyframe requests reach the session, which relays them to the publisher; their receiver
    // reports grade their connections.
    let registry = colloque_rtp::interceptors::register(
        Registry::new(),
        &mut media,
        KeyframeRequests::with_receiver_reports(),
        false,
    )?;
    let addrs: Vec<String> =
        config.ips.iter().map(|ip| std::net::SocketAddr::new(*ip, 0).to_string()).collect();
    let rewrite = config
        .advertise
        .clone()
        .map(|map| -> CandidateRewrite { Arc::new(move |candidate: &str| advertised(candidate, &map)) });
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(PeerEvents::new(target, tx, rewrite)))
        .with_udp_addrs(addrs)
        .build()
        .await?;
    Ok(Arc::new(pc))
}
