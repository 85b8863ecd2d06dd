//! A peer connection's callbacks as one stream of [`PeerEvent`]s for the task that owns the connection:
//! the same for the SFU's two connections per participant and the client's two.
use std::sync::Arc;

use livekit_protocol::SignalTarget;
use rtc::peer_connection::event::RTCTrackEventInit;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;
use tokio::sync::mpsc::UnboundedSender;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
};

/// What a peer connection tells its owner.
pub enum PeerEvent {
    /// A local ICE candidate to trickle, as `RTCIceCandidateInit` JSON.
    Candidate {
        /// Which of the two connections.
        target: SignalTarget,
        /// The candidate.
        init: String,
    },
    /// The connection state changed.
    State {
        /// Which of the two connections.
        target: SignalTarget,
        /// New state.
        state: RTCPeerConnectionState,
    },
    /// The other side opened a data channel.
    DataChannel(Arc<dyn DataChannel>),
    /// The other side started sending a track; its first layer is open and its codec known.
    Track {
        /// The incoming track.
        remote: Arc<dyn TrackRemote>,
        /// Its first layer (SSRC, RID, msid stream and track ids).
        first: RTCTrackEventInit,
        /// The codec it arrives with.
        codec: RTCRtpCodec,
    },
    /// One of this side's own data channels opened (its label); sent by the owner's channel readers.
    ChannelOpen(String),
}

impl std::fmt::Debug for PeerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Candidate { target, .. } => write!(f, "Candidate({target:?})"),
            Self::State { target, state } => write!(f, "State({target:?}, {state})"),
            Self::DataChannel(_) => f.write_str("DataChannel"),
            Self::Track { first, codec, .. } => write!(f, "Track({}, {})", first.track_id, codec.mime_type),
            Self::ChannelOpen(label) => write!(f, "ChannelOpen({label})"),
        }
    }
}

/// Rewrites a local candidate line before it is trickled (the SFU's advertised address).
pub type CandidateRewrite = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// The handler to build a connection with: its callbacks become [`PeerEvent`]s on `tx`.
pub struct PeerEvents {
    target: SignalTarget,
    tx: UnboundedSender<PeerEvent>,
    rewrite: Option<CandidateRewrite>,
}

impl std::fmt::Debug for PeerEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerEvents").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PeerEvents {
    /// Events of connection `target` go to `tx`; local candidates pass through `rewrite` when given.
    pub fn new(
        target: SignalTarget,
        tx: UnboundedSender<PeerEvent>,
        rewrite: Option<CandidateRewrite>,
    ) -> Self {
        Self { target, tx, rewrite }
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PeerEvents {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let json = event.candidate.to_json().map(|mut init| {
            if let Some(rewrite) = &self.rewrite {
                init.candidate = rewrite(&init.candidate);
            }
            serde_json::to_string(&init)
        });
        match json {
            Ok(Ok(init)) => {
                let _ = self.tx.send(PeerEvent::Candidate { target: self.target, init });
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "local candidate not serialisable"),
            Err(e) => tracing::warn!(error = %e, "local candidate not serialisable"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.tx.send(PeerEvent::State { target: self.target, state });
    }

    async fn on_data_channel(&self, data_channel: Arc<dyn DataChannel>) {
        let _ = self.tx.send(PeerEvent::DataChannel(data_channel));
    }

    async fn on_track(&self, remote: Arc<dyn TrackRemote>) {
        // The first event of a track is its first layer opening; its codec is known from then on.
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(event) = remote.poll().await {
                if let TrackRemoteEvent::OnOpen(first) = event {
                    match remote.codec(first.ssrc).await {
                        Some(codec) => {
                            let _ = tx.send(PeerEvent::Track { remote, first, codec });
                        }
                        None => {
                            tracing::warn!(track = first.track_id, "incoming track without a codec: ignored")
                        }
                    }
                    return;
                }
            }
        });
    }
}
