//! One participant's session: its signalling WebSocket, its two peer connections, the tracks it publishes
//! and the copies it receives. A single task owns all of it and handles, one at a time, the client's
//! requests, the room's commands ([`ToSession`]) and the peer connections' events ([`PeerEvent`]).
// LiveKit marks several fields deprecated in favour of newer ones, but the SDKs in use still read them:
// fill both.
#![allow(deprecated)]
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use bytes::BytesMut;
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as In;
use proto::signal_response::Message as Out;
use rtc::data_channel::RTCDataChannelInit;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::peer_connection::{
    PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::auth::Admission;
use crate::data;
use crate::ids;
use crate::keyframe::VideoCodec;
use crate::link::{close_frame as close, Incoming, Link};
use crate::peer::{self, PeerConfig, PeerEvent};
use crate::room::{Rooms, SessionSender, ToSession};
use crate::track::{self, DownTrack, PublishedTrack};

/// ICE candidates kept while their connection has no remote description yet, at most.
const MAX_EARLY_CANDIDATES: usize = 64;
/// Reliable data waiting for the subscriber's channel to open, at most (LiveKit keeps 100 kB).
const MAX_QUEUED_DATA: usize = 100_000;

/// Query parameters of the `/rtc` request that shape the session.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// The data features the client announces to the others (`client_protocol`: 0 plain text streams, 1
    /// data stream v2 with inline content and compression, …), echoed in its `ParticipantInfo` so that
    /// senders pick a form it reads.
    pub client_protocol: i32,
    /// Subscribe to every track automatically (LiveKit's default).
    pub auto_subscribe: bool,
    /// Video starts at the lowest layer until the client says what size it shows.
    pub adaptive_stream: bool,
    /// How long the session waits for its client to resume after the signalling connection drops.
    pub resume_window: Duration,
}

/// Why a session ends early.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("peer connection: {0}")]
    Peer(#[from] rtc::shared::error::Error),
    #[error("{0}")]
    Protocol(String),
}

struct Subscription {
    track: Arc<PublishedTrack>,
    down: Arc<DownTrack>,
    /// What the copy is sent as.
    payload_type: u8,
    /// The payload type of the codec the copy is declared with (for a RED track: Opus).
    plain_payload_type: u8,
    sender: Arc<dyn RtpSender>,
    relay: tokio::task::JoinHandle<()>,
}

struct PendingTrack {
    cid: String,
    info: proto::TrackInfo,
}

struct Session {
    rooms: Rooms,
    admission: Admission,
    params: Params,
    sid: String,
    tx: SessionSender,
    peer_config: PeerConfig,
    peer_tx: UnboundedSender<PeerEvent>,
    publisher: Option<Arc<dyn PeerConnection>>,
    subscriber: Arc<dyn PeerConnection>,
    publisher_candidates: Vec<RTCIceCandidateInit>,
    subscriber_candidates: Vec<RTCIceCandidateInit>,
    /// RED's payload type on the subscriber connection.
    red_payload_type: u8,
    /// A subscriber offer is out, waiting for its answer.
    negotiating: bool,
    /// Something changed while negotiating: offer again after the answer.
    renegotiate: bool,
    offer_id: u32,
    pending: Vec<PendingTrack>,
    /// The video codec each track asked for (`AddTrackRequest.simulcast_codecs`), by cid: put first in every
    /// publisher offer, so the answer picks it.
    preferred_codecs: HashMap<String, String>,
    /// Published tracks, with the media track id (`msid`) their media came with.
    published: Vec<(Arc<PublishedTrack>, String)>,
    subscriptions: HashMap<String, Subscription>,
    reliable: Arc<dyn DataChannel>,
    lossy: Arc<dyn DataChannel>,
    reliable_open: bool,
    lossy_open: bool,
    queued: VecDeque<Arc<Vec<u8>>>,
    queued_bytes: usize,
    active: bool,
    /// The client's id for the audio-level extension (from its publisher offer).
    audio_level_extension: Option<u8>,
    /// The next subscriber offer restarts ICE (the client resumed).
    ice_restart: bool,
}

fn signal(message: Out) -> ToSession {
    ToSession::Signal(Box::new(proto::SignalResponse { message: Some(message) }))
}

/// Runs a participant's session until it leaves, is replaced, or its connection dies.
pub async fn run(
    socket: WebSocket,
    rooms: Rooms,
    peer_config: PeerConfig,
    admission: Admission,
    params: Params,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<ToSession>();
    let (peer_tx, mut peer_rx) = mpsc::unbounded_channel::<PeerEvent>();
    let mut link = Link::new(socket);
    let subscriber = match peer::build(&peer_config, proto::SignalTarget::Subscriber, peer_tx.clone()).await {
        Ok(pc) => pc,
        Err(e) => {
            tracing::error!(error = %e, "cannot create a peer connection");
            link.close(1011, "server cannot create a peer connection").await;
            return;
        }
    };
    let channels = async {
        let reliable = subscriber.create_data_channel("_reliable", None).await?;
        let lossy = subscriber
            .create_data_channel(
                "_lossy",
                Some(RTCDataChannelInit { ordered: false, max_retransmits: Some(0), ..Default::default() }),
            )
            .await?;
        Ok::<_, rtc::shared::error::Error>((reliable, lossy))
    };
    let (reliable, lossy) = match channels.await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot create data channels");
            let _ = subscriber.close().await;
            link.close(1011, "server cannot create data channels").await;
            return;
        }
    };
    for dc in [&reliable, &lossy] {
        tokio::spawn(watch_open(dc.clone(), peer_tx.clone()));
    }
    let joined = rooms.join(&admission, tx.clone(), params.client_protocol, params.auto_subscribe);
    let room = admission.room.clone();
    tracing::info!(room, identity = admission.identity, sid = joined.sid, "joined");
    let first = proto::SignalResponse { message: Some(Out::Join(joined.response)) };
    let mut session = Session {
        rooms: rooms.clone(),
        admission,
        params,
        sid: joined.sid,
        tx,
        peer_config,
        peer_tx,
        publisher: None,
        subscriber,
        publisher_candidates: Vec::new(),
        subscriber_candidates: Vec::new(),
        red_payload_type: peer::offered_codec(&RTCRtpCodec {
            mime_type: crate::red::MIME.into(),
            ..Default::default()
        })
        .map_or(0, |c| c.payload_type),
        negotiating: false,
        renegotiate: false,
        offer_id: 0,
        pending: Vec::new(),
        preferred_codecs: HashMap::new(),
        published: Vec::new(),
        subscriptions: HashMap::new(),
        reliable,
        lossy,
        reliable_open: false,
        lossy_open: false,
        queued: VecDeque::new(),
        queued_bytes: 0,
        active: false,
        audio_level_extension: None,
        ice_restart: false,
    };
    let window = params.resume_window;
    let reason = if !link.send(Message::Binary(first.encode_to_vec().into()), window).await || !link.is_up() {
        proto::DisconnectReason::SignalClose
    } else if let Err(e) = session.negotiate().await {
        tracing::warn!(error = %e, "first subscriber offer failed");
        proto::DisconnectReason::StateMismatch
    } else {
        session.serve(&mut link, &mut rx, &mut peer_rx).await
    };
    let sid = session.sid.clone();
    session.close().await;
    rooms.leave(&room, &sid, reason);
    tracing::info!(room, sid, ?reason, "session ended");
}

/// Answers a resume request (`reconnect=1`) with `LeaveRequest{RECONNECT}`: the client then joins anew.
pub async fn refuse_resume(mut socket: WebSocket) {
    let leave = proto::LeaveRequest {
        can_reconnect: true,
        reason: proto::DisconnectReason::StateMismatch as i32,
        action: proto::leave_request::Action::Reconnect as i32,
        ..Default::default()
    };
    let message = proto::SignalResponse { message: Some(Out::Leave(leave)) };
    if socket.send(Message::Binary(message.encode_to_vec().into())).await.is_ok() {
        let _ = socket.send(close(1000, "session not resumable: join again")).await;
    }
}

/// Tells the session when one of its own data channels opens.
async fn watch_open(dc: Arc<dyn DataChannel>, tx: UnboundedSender<PeerEvent>) {
    let label = dc.label().await.unwrap_or_default();
    while let Some(event) = dc.poll().await {
        match event {
            DataChannelEvent::OnOpen => {
                let _ = tx.send(PeerEvent::ChannelOpen(label.clone()));
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
}

impl Session {
    async fn serve(
        &mut self,
        link: &mut Link,
        rx: &mut UnboundedReceiver<ToSession>,
        peer_rx: &mut UnboundedReceiver<PeerEvent>,
    ) -> proto::DisconnectReason {
        let window = self.params.resume_window;
        loop {
            tokio::select! {
                command = rx.recv() => {
                    // The session holds a sender itself: the channel never closes while it runs.
                    let Some(command) = command else { return proto::DisconnectReason::ServerShutdown };
                    match command {
                        ToSession::Signal(message) => {
                            let leaving = matches!(message.message, Some(Out::Leave(_)));
                            let frame = Message::Binary(message.encode_to_vec().into());
                            if leaving {
                                if link.is_up() {
                                    link.send(frame, window).await;
                                    link.close(1000, "disconnected by the server").await;
                                }
                                return proto::DisconnectReason::DuplicateIdentity;
                            }
                            if !link.send(frame, window).await {
                                tracing::info!(sid = self.sid, "away too long to resume: session ended");
                                return proto::DisconnectReason::SignalClose;
                            }
                        }
                        ToSession::Resume(socket) => self.resume(link, *socket).await,
                        other => {
                            if let Err(e) = self.command(other).await {
                                tracing::warn!(sid = self.sid, error = %e, "room command failed");
                            }
                        }
                    }
                }
                Some(event) = peer_rx.recv() => {
                    if let Err(e) = self.peer_event(event).await {
                        tracing::warn!(sid = self.sid, error = %e, "peer event failed");
                    }
                }
                incoming = link.recv() => {
                    let data = match incoming {
                        Incoming::Expired => {
                            tracing::info!(sid = self.sid, "client did not resume in time: gone");
                            return proto::DisconnectReason::SignalClose;
                        }
                        Incoming::Lost(why) => {
                            // Media keeps flowing; the client may resume on a new socket.
                            tracing::info!(sid = self.sid, why, "signalling connection lost: waiting for a resume");
                            link.go_away(window);
                            continue;
                        }
                        Incoming::Frame(Message::Binary(data)) => data,
                        Incoming::Frame(Message::Text(_)) => {
                            link.close(1003, "signalling messages are binary protobuf").await;
                            return proto::DisconnectReason::StateMismatch;
                        }
                        Incoming::Frame(_) => continue,
                    };
                    let request = match proto::SignalRequest::decode(&data[..]) {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::info!(sid = self.sid, error = %e, "malformed signal message: closing this connection");
                            link.close(1007, "malformed signal message").await;
                            return proto::DisconnectReason::StateMismatch;
                        }
                    };
                    if let Some(In::Leave(_)) = request.message {
                        tracing::info!(sid = self.sid, "left");
                        link.close(1000, "left").await;
                        return proto::DisconnectReason::ClientInitiated;
                    }
                    if let Err(e) = self.request(request).await {
                        tracing::info!(sid = self.sid, error = %e, "signal request failed: closing this connection");
                        link.close(1008, &e.to_string()).await;
                        return proto::DisconnectReason::StateMismatch;
                    }
                }
            }
        }
    }

    /// The client came back on a new socket: `ReconnectResponse`, what it missed, then a subscriber offer
    /// that restarts ICE (its network may have changed; it restarts its publisher side itself).
    async fn resume(&mut self, link: &mut Link, socket: WebSocket) {
        let reconnect =
            proto::SignalResponse { message: Some(Out::Reconnect(proto::ReconnectResponse::default())) };
        let frame = Message::Binary(reconnect.encode_to_vec().into());
        if !link.resume(socket, frame, self.params.resume_window).await {
            return;
        }
        tracing::info!(sid = self.sid, "resumed");
        // Whatever went into the dead socket before the server noticed is lost: the room as it is now.
        let mut participants = self.rooms.participants(self.room()).unwrap_or_default();
        participants.retain(|p| p.sid == self.sid || !p.permission.as_ref().is_some_and(|p| p.hidden));
        self.send(Out::Update(proto::ParticipantUpdate { participants }));
        self.ice_restart = true;
        if let Err(e) = self.negotiate().await {
            tracing::warn!(sid = self.sid, error = %e, "ICE restart offer failed");
        }
    }

    fn send(&self, message: Out) {
        let _ = self.tx.send(signal(message));
    }

    fn room(&self) -> &str {
        &self.admission.room
    }

    /// A client request (other than leave).
    async fn request(&mut self, request: proto::SignalRequest) -> Result<(), SessionError> {
        let Some(message) = request.message else { return Ok(()) };
        match message {
            In::Offer(offer) => self.publisher_offer(offer).await?,
            In::Answer(answer) => self.subscriber_answer(answer).await?,
            In::Trickle(trickle) => self.remote_candidate(trickle).await?,
            In::AddTrack(add) => self.add_track(add),
            In::Mute(mute) => {
                if let Some(info) =
                    self.rooms.set_muted(&self.admission.room, &self.sid, &mute.sid, mute.muted)
                {
                    tracing::debug!(track = info.sid, muted = info.muted, "mute");
                }
            }
            In::Subscription(update) => self.update_subscription(update).await?,
            In::SyncState(sync) => self.sync_state(sync).await?,
            In::TrackSetting(settings) => {
                for track_sid in &settings.track_sids {
                    if let Some(sub) = self.subscriptions.get(track_sid) {
                        let layer = track::requested_layer(&sub.track.info().layers, &settings);
                        if let Some(down) = sub.track.downtrack(&self.sid) {
                            down.request(layer);
                        }
                    }
                }
            }
            In::UpdateMetadata(update) => self.update_metadata(update),
            In::Ping(ts) => self.send(Out::Pong(ts)),
            In::PingReq(ping) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or_default();
                self.send(Out::PongResp(proto::Pong { last_ping_timestamp: ping.timestamp, timestamp: now }));
            }
            // Per-track subscription permissions: every participant here may subscribe to every track.
            In::SubscriptionPermission(_) => {}
            other => {
                tracing::debug!(sid = self.sid, message = ?std::mem::discriminant(&other), "not handled");
            }
        }
        Ok(())
    }

    async fn publisher_offer(&mut self, offer: proto::SessionDescription) -> Result<(), SessionError> {
        let pc = match &self.publisher {
            Some(pc) => pc.clone(),
            None => {
                let pc = peer::build(&self.peer_config, proto::SignalTarget::Publisher, self.peer_tx.clone())
                    .await?;
                self.publisher = Some(pc.clone());
                pc
            }
        };
        if let Some(id) = crate::speakers::extension_id(&offer.sdp) {
            self.audio_level_extension = Some(id);
        }
        let mut sdp = offer.sdp.clone();
        for (cid, codec) in &self.preferred_codecs {
            sdp = colloque_rtp::sdp::prefer_codec(&sdp, cid, codec);
        }
        pc.set_remote_description(RTCSessionDescription::offer(sdp)?).await?;
        self.unpublish_stopped(&offer.sdp);
        let answer = pc.create_answer(None).await?;
        pc.set_local_description(answer.clone()).await?;
        let sdp = pc.local_description().await.map(|d| d.sdp).unwrap_or(answer.sdp);
        // The client sends RED for microphones that did not opt out (LiveKit's default).
        let sdp = crate::red::prefer_in_answer(&offer.sdp, &sdp, |cid| self.wants_red(cid));
        self.send(Out::Answer(proto::SessionDescription {
            r#type: "answer".into(),
            sdp,
            id: offer.id,
            ..Default::default()
        }));
        for candidate in std::mem::take(&mut self.publisher_candidates) {
            add_candidate(pc.as_ref(), candidate).await;
        }
        Ok(())
    }

    /// Unpublishes the tracks a renegotiation offer no longer sends (the client stopped a screen share, …):
    /// their subscribers stop, everyone sees the participant without them, the publisher is told.
    fn unpublish_stopped(&mut self, offer: &str) {
        let (stopped, kept): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.published).into_iter().partition(|(_, media_id)| {
                !media_id.is_empty() && !colloque_rtp::sdp::sends_track(offer, media_id)
            });
        self.published = kept;
        for (track, _) in stopped {
            let track_sid = track.sid();
            tracing::info!(sid = self.sid, track = track_sid, "track unpublished");
            self.rooms.unpublish(&self.admission.room, &self.sid, &track_sid);
            self.send(Out::TrackUnpublished(proto::TrackUnpublishedResponse { track_sid }));
        }
    }

    /// Whether the client's track `cid` (announced by `AddTrackRequest`) is to be sent as RED.
    fn wants_red(&self, cid: &str) -> bool {
        let pending = self.pending.iter().find(|p| p.cid == cid).map(|p| !p.info.disable_red);
        pending.unwrap_or_else(|| {
            self.published.iter().any(|(t, _)| {
                let info = t.info();
                !info.disable_red && info.codecs.first().is_some_and(|c| c.cid == cid)
            })
        })
    }

    async fn subscriber_answer(&mut self, answer: proto::SessionDescription) -> Result<(), SessionError> {
        if !self.negotiating {
            // A resumed client may answer an offer twice (in its SyncState, then again): the first counts.
            tracing::debug!(sid = self.sid, id = answer.id, "answer without an offer in flight: ignored");
            return Ok(());
        }
        let offer = self.subscriber.local_description().await.map(|d| d.sdp).unwrap_or_default();
        let red = crate::red::accepted_by_track(&offer, &answer.sdp);
        self.subscriber.set_remote_description(RTCSessionDescription::answer(answer.sdp)?).await?;
        self.negotiating = false;
        for (track_sid, sub) in self.subscriptions.iter_mut().filter(|(_, sub)| sub.track.is_red()) {
            let Some(&accepted) = red.get(track_sid) else { continue };
            sub.down.set_unwrap_red(!accepted);
            sub.payload_type = if accepted { self.red_payload_type } else { sub.plain_payload_type };
            if self.active {
                sub.down.set_payload_type(sub.payload_type);
            }
        }
        for candidate in std::mem::take(&mut self.subscriber_candidates) {
            add_candidate(self.subscriber.as_ref(), candidate).await;
        }
        if std::mem::take(&mut self.renegotiate) {
            self.negotiate().await?;
        }
        Ok(())
    }

    async fn remote_candidate(&mut self, trickle: proto::TrickleRequest) -> Result<(), SessionError> {
        let candidate: RTCIceCandidateInit = serde_json::from_str(&trickle.candidate_init)
            .map_err(|e| SessionError::Protocol(format!("bad ICE candidate: {e}")))?;
        if candidate.candidate.is_empty() {
            return Ok(()); // end of candidates
        }
        if self.subscriber_candidates.len() + self.publisher_candidates.len() >= MAX_EARLY_CANDIDATES {
            return Err(SessionError::Protocol(
                "too many ICE candidates before the session description".into(),
            ));
        }
        if trickle.target == proto::SignalTarget::Subscriber as i32 {
            if self.subscriber.remote_description().await.is_some() {
                add_candidate(self.subscriber.as_ref(), candidate).await;
            } else {
                self.subscriber_candidates.push(candidate);
            }
        } else {
            match &self.publisher {
                Some(pc) if pc.remote_description().await.is_some() => {
                    add_candidate(pc.as_ref(), candidate).await
                }
                _ => self.publisher_candidates.push(candidate),
            }
        }
        Ok(())
    }

    /// `AddTrackRequest`: checks the permission and announces the sid the media will get.
    fn add_track(&mut self, add: proto::AddTrackRequest) {
        let permissions = &self.admission.permissions;
        let source = proto::TrackSource::try_from(add.source).unwrap_or(proto::TrackSource::Unknown);
        let source_allowed = permissions.can_publish_sources.is_empty()
            || permissions.can_publish_sources.iter().any(|s| s.eq_ignore_ascii_case(source.as_str_name()));
        let kind = proto::TrackType::try_from(add.r#type).unwrap_or(proto::TrackType::Data);
        let refusal = if !permissions.can_publish || !source_allowed {
            Some(proto::request_response::Reason::NotAllowed)
        } else if kind == proto::TrackType::Data {
            Some(proto::request_response::Reason::UnsupportedType)
        } else if self.pending.iter().any(|p| p.cid == add.cid) {
            Some(proto::request_response::Reason::Queued)
        } else if self.pending.len() >= 20 {
            Some(proto::request_response::Reason::LimitExceeded)
        } else {
            None
        };
        if let Some(reason) = refusal {
            tracing::info!(sid = self.sid, cid = add.cid, ?reason, "track refused");
            self.send(Out::RequestResponse(proto::RequestResponse {
                reason: reason as i32,
                message: format!("cannot publish track: {}", reason.as_str_name()),
                request: Some(proto::request_response::Request::AddTrack(add)),
                ..Default::default()
            }));
            return;
        }
        let mut layers = add.layers.clone();
        layers.sort_by_key(|l| l.quality);
        let stream = match source {
            proto::TrackSource::ScreenShare | proto::TrackSource::ScreenShareAudio => "screen",
            _ => "camera",
        };
        let info = proto::TrackInfo {
            sid: ids::track(),
            r#type: add.r#type,
            name: add.name.clone(),
            muted: add.muted,
            width: add.width,
            height: add.height,
            simulcast: layers.len() > 1,
            disable_dtx: add.disable_dtx,
            source: add.source,
            layers,
            stereo: add.stereo,
            disable_red: add.disable_red,
            stream: if add.stream.is_empty() { stream.into() } else { add.stream.clone() },
            version: Some(proto::TimedVersion {
                unix_micro: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_micros() as i64)
                    .unwrap_or_default(),
                ticks: 0,
            }),
            ..Default::default()
        };
        self.send(Out::TrackPublished(proto::TrackPublishedResponse {
            cid: add.cid.clone(),
            track: Some(info.clone()),
        }));
        if let Some(codec) = add.simulcast_codecs.first().filter(|c| !c.codec.is_empty()) {
            self.preferred_codecs.insert(add.cid.clone(), codec.codec.clone());
        }
        self.pending.push(PendingTrack { cid: add.cid, info });
    }

    async fn update_subscription(&mut self, update: proto::UpdateSubscription) -> Result<(), SessionError> {
        for track_sid in &update.track_sids {
            if update.subscribe {
                if let Some(track) = self.rooms.track(self.room(), track_sid) {
                    self.subscribe(track).await?;
                }
            } else {
                self.unsubscribe(track_sid).await?;
            }
        }
        Ok(())
    }

    /// A resumed client's view of the session. Its subscriber answer counts if it answers the offer still
    /// waiting here (the original answer was lost with the old socket); its subscriptions are applied.
    async fn sync_state(&mut self, sync: proto::SyncState) -> Result<(), SessionError> {
        if let (true, Some(offer), Some(answer)) = (self.negotiating, &sync.offer, sync.answer) {
            let ours = self.subscriber.local_description().await.map(|d| d.sdp);
            if offer.id == self.offer_id || ours.as_deref() == Some(offer.sdp.as_str()) {
                self.subscriber_answer(answer).await?;
            }
        }
        if let Some(update) = sync.subscription {
            self.update_subscription(update).await?;
        }
        Ok(())
    }

    fn update_metadata(&mut self, update: proto::UpdateParticipantMetadata) {
        if !self.admission.permissions.can_update_own_metadata {
            self.send(Out::RequestResponse(proto::RequestResponse {
                request_id: update.request_id,
                reason: proto::request_response::Reason::NotAllowed as i32,
                message: "does not have permission to update own metadata".into(),
                ..Default::default()
            }));
            return;
        }
        self.rooms.update(&self.admission.room, &self.sid, true, |info| {
            if !update.name.is_empty() {
                info.name = update.name.clone();
            }
            if !update.metadata.is_empty() {
                info.metadata = update.metadata.clone();
            }
            crate::room::apply_attributes(&mut info.attributes, &update.attributes);
        });
        if update.request_id != 0 {
            self.send(Out::RequestResponse(proto::RequestResponse {
                request_id: update.request_id,
                reason: proto::request_response::Reason::Ok as i32,
                ..Default::default()
            }));
        }
    }

    /// Sends a new subscriber offer, or marks one as needed after the answer in flight.
    async fn negotiate(&mut self) -> Result<(), SessionError> {
        if self.negotiating {
            self.renegotiate = true;
            return Ok(());
        }
        let options = std::mem::take(&mut self.ice_restart).then_some(RTCOfferOptions { ice_restart: true });
        let offer = self.subscriber.create_offer(options).await?;
        self.subscriber.set_local_description(offer.clone()).await?;
        let sdp = self.subscriber.local_description().await.map(|d| d.sdp).unwrap_or(offer.sdp);
        self.offer_id += 1;
        self.negotiating = true;
        self.send(Out::Offer(proto::SessionDescription {
            r#type: "offer".into(),
            sdp,
            id: self.offer_id,
            ..Default::default()
        }));
        Ok(())
    }

    async fn command(&mut self, command: ToSession) -> Result<(), SessionError> {
        match command {
            // Handled by the serving loop.
            ToSession::Signal(_) | ToSession::Resume(_) => Ok(()),
            ToSession::Subscribe(track) => self.subscribe(track).await,
            ToSession::Unsubscribe(track_sid) => self.unsubscribe(&track_sid).await,
            ToSession::Data(bytes, kind) => {
                self.deliver(bytes, kind).await;
                Ok(())
            }
        }
    }

    async fn subscribe(&mut self, track: Arc<PublishedTrack>) -> Result<(), SessionError> {
        let track_sid = track.sid();
        if track.publisher == self.sid || self.subscriptions.contains_key(&track_sid) {
            return Ok(());
        }
        // A RED track goes out as Opus until the subscriber's answer shows it takes RED (then it gets RED's
        // payload type; the stream itself stays declared as Opus, which every subscriber negotiates).
        let plain = if track.is_red() {
            RTCRtpCodec { mime_type: "audio/opus".into(), ..track.codec.clone() }
        } else {
            track.codec.clone()
        };
        let Some(codec) = peer::offered_codec(&plain) else {
            tracing::warn!(
                track = track_sid,
                mime = track.codec.mime_type,
                "no codec to forward this track with"
            );
            return Ok(());
        };
        let ssrc = rand::random::<u32>();
        let kind = if track.is_video() { RtpCodecKind::Video } else { RtpCodecKind::Audio };
        // LiveKit clients find the participant and the track from the stream id `PA_…|TR_…`.
        let local = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("{}|{}", track.publisher, track_sid),
            track_sid.clone(),
            track_sid.clone(),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                codec: codec.rtp_codec.clone(),
                ..Default::default()
            }],
        )));
        let sender = self.subscriber.add_track(local.clone() as Arc<dyn TrackLocal>).await?;
        let first_layer = if self.params.adaptive_stream { 0 } else { 2 };
        let down = Arc::new(DownTrack::new(
            self.sid.clone(),
            local,
            ssrc,
            VideoCodec::from_mime(&track.codec.mime_type),
            track.codec.clock_rate,
            Some(first_layer),
        ));
        // Media flows once the connection has its keys (before that, every packet would be refused); a RED
        // track's once the subscriber's answer says whether it takes RED (else its first packets would go
        // out as plain Opus to a subscriber about to take RED).
        if self.active && !track.is_red() {
            down.set_payload_type(codec.payload_type);
        }
        track.add(down.clone());
        let relay = tokio::spawn(track::relay_keyframe_requests(track.clone(), down.clone()));
        let payload_type = codec.payload_type;
        self.subscriptions.insert(
            track_sid,
            Subscription { track, down, payload_type, plain_payload_type: payload_type, sender, relay },
        );
        self.negotiate().await
    }

    async fn unsubscribe(&mut self, track_sid: &str) -> Result<(), SessionError> {
        let Some(sub) = self.subscriptions.remove(track_sid) else { return Ok(()) };
        sub.track.remove(&self.sid);
        sub.relay.abort();
        self.subscriber.remove_track(&sub.sender).await?;
        self.negotiate().await
    }

    /// Sends a relayed data packet on the subscriber connection's channel of its kind; reliable data waits
    /// for the channel to open.
    async fn deliver(&mut self, bytes: Arc<Vec<u8>>, kind: proto::data_packet::Kind) {
        if kind == proto::data_packet::Kind::Lossy {
            if self.lossy_open {
                let _ = self.lossy.send(BytesMut::from(&bytes[..])).await;
            }
            return;
        }
        if !self.reliable_open {
            if self.queued_bytes + bytes.len() <= MAX_QUEUED_DATA {
                self.queued_bytes += bytes.len();
                self.queued.push_back(bytes);
            } else {
                tracing::warn!(sid = self.sid, "reliable data dropped: channel not open and queue full");
            }
            return;
        }
        if let Err(e) = self.reliable.send(BytesMut::from(&bytes[..])).await {
            tracing::warn!(sid = self.sid, error = %e, "reliable data not sent");
        }
    }

    async fn peer_event(&mut self, event: PeerEvent) -> Result<(), SessionError> {
        match event {
            PeerEvent::Candidate { target, init } => {
                self.send(Out::Trickle(proto::TrickleRequest {
                    candidate_init: init,
                    target: target as i32,
                    r#final: false,
                }));
            }
            PeerEvent::State { target, state } => {
                tracing::debug!(sid = self.sid, ?target, %state, "connection state");
                if target == proto::SignalTarget::Subscriber
                    && state == RTCPeerConnectionState::Connected
                    && !self.active
                {
                    self.active = true;
                    for sub in self.subscriptions.values() {
                        sub.down.set_payload_type(sub.payload_type);
                    }
                    self.rooms.set_active(&self.admission.room, &self.sid);
                }
            }
            PeerEvent::ChannelOpen(label) => {
                if label == "_lossy" {
                    self.lossy_open = true;
                } else {
                    self.reliable_open = true;
                    self.queued_bytes = 0;
                    while let Some(bytes) = self.queued.pop_front() {
                        if let Err(e) = self.reliable.send(BytesMut::from(&bytes[..])).await {
                            tracing::warn!(sid = self.sid, error = %e, "queued reliable data not sent");
                        }
                    }
                }
            }
            PeerEvent::DataChannel(dc) => {
                tokio::spawn(relay_data(dc, self.rooms.clone(), self.admission.clone(), self.sid.clone()));
            }
            PeerEvent::Track { remote, first, codec } => {
                // Match the media to its AddTrackRequest by cid (the msid track id), else the first pending
                // track of the same kind (LiveKit's rule).
                let video = codec.mime_type.to_ascii_lowercase().starts_with("video/");
                let kind = if video { proto::TrackType::Video } else { proto::TrackType::Audio } as i32;
                let pos = self
                    .pending
                    .iter()
                    .position(|p| p.cid == first.track_id)
                    .or_else(|| self.pending.iter().position(|p| p.info.r#type == kind));
                let Some(pos) = pos else {
                    tracing::warn!(
                        sid = self.sid,
                        cid = first.track_id,
                        "media without an AddTrackRequest: ignored"
                    );
                    return Ok(());
                };
                let pending = self.pending.remove(pos);
                let mut info = pending.info;
                info.mime_type = codec.mime_type.clone();
                info.mid = String::new();
                info.codecs = vec![proto::SimulcastCodecInfo {
                    mime_type: codec.mime_type.clone(),
                    cid: pending.cid.clone(),
                    layers: info.layers.clone(),
                    ..Default::default()
                }];
                tracing::info!(sid = self.sid, track = info.sid, mime = codec.mime_type, "track published");
                let track = Arc::new(PublishedTrack::new(
                    self.sid.clone(),
                    info,
                    codec,
                    remote,
                    &first,
                    self.audio_level_extension,
                ));
                tokio::spawn(track.clone().run());
                self.published.push((track.clone(), first.track_id.clone()));
                self.rooms.publish(&self.admission.room, &self.sid, track);
            }
        }
        Ok(())
    }

    /// Releases everything: subscriptions, connections.
    async fn close(&mut self) {
        for (_, sub) in self.subscriptions.drain() {
            sub.track.remove(&self.sid);
            sub.relay.abort();
        }
        if let Some(pc) = self.publisher.take() {
            let _ = pc.close().await;
        }
        let _ = self.subscriber.close().await;
    }
}

/// Adds a remote ICE candidate. One the stack cannot use (an mDNS `.local` name it cannot resolve, an
/// unknown transport) is skipped: the other candidates may still connect.
async fn add_candidate(pc: &dyn PeerConnection, candidate: RTCIceCandidateInit) {
    if let Err(e) = pc.add_ice_candidate(candidate.clone()).await {
        tracing::debug!(candidate = candidate.candidate, error = %e, "remote ICE candidate skipped");
    }
}

/// Reads a client's data channel (on its publisher connection) and relays each packet through the room.
async fn relay_data(dc: Arc<dyn DataChannel>, rooms: Rooms, admission: Admission, sid: String) {
    let label = dc.label().await.unwrap_or_default();
    let kind =
        if label == "_lossy" { proto::data_packet::Kind::Lossy } else { proto::data_packet::Kind::Reliable };
    let sender = data::Sender {
        sid: &sid,
        identity: &admission.identity,
        hidden: admission.permissions.hidden,
        agent: admission.agent,
    };
    while let Some(event) = dc.poll().await {
        match event {
            DataChannelEvent::OnMessage(message) => {
                match data::stamp(&message.data, kind, &sender, admission.permissions.can_publish_data) {
                    Ok(relay) => rooms.relay(&admission.room, &sid, relay),
                    Err(e) => tracing::debug!(sid, error = %e, "data packet not relayed"),
                }
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
}
