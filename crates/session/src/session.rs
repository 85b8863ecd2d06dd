//! One meeting: LiveKit signalling (livekit-signaling) and the two peer connections, owned by a single
//! task that handles, one at a time, server messages, peer-connection events, incoming data and the
//! application's commands, and reports everything as [`Event`]s.
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use colloque_media::{AudioFrame, AudioSource, VideoSource};
use livekit_protocol as proto;
use livekit_signaling::{SignalClient, SignalError, SignalEvent, SignalEvents, SignalOptions};
use prost::Message as _;
use proto::signal_request::Message as Out;
use proto::signal_response::Message as In;
use rtc::data_channel::RTCDataChannelInit;
use rtc::peer_connection::configuration::RTCOfferOptions;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription,
};

use crate::allocate::{self, Grant};
use crate::captions::{self, Captions};
use crate::chat::{self, Chat};
use crate::error::SessionError;
use crate::event::Event;
use crate::hear::Speakers;
use crate::peer::{self, Target};
use crate::publish::{LocalTrack, Source};
use crate::receive::{self, RemoteVideo};
use crate::roster::Roster;
use crate::text_stream::Assembler;
use colloque_rtp::PeerEvent;

/// How to join.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `ws://` or `wss://` address of the LiveKit server.
    pub url: String,
    /// Access token.
    pub token: String,
    /// Subscribe to every track as it is published (LiveKit's default).
    pub auto_subscribe: bool,
    /// Where decoded remote video goes; without it, remote video is not decoded.
    pub video: Option<mpsc::Sender<RemoteVideo>>,
    /// Where the remote audio goes, every participant mixed: mono 48 kHz blocks of 20 ms on a steady
    /// clock, for the speaker and for echo cancellation's reference. Without it, audio is not decoded.
    pub audio: Option<mpsc::Sender<AudioFrame>>,
    /// Remote video is sent only once the application shows it ([`Session::show_video`]; LiveKit's
    /// adaptive stream): a window with 150 participants receives only the videos on screen.
    pub adaptive_stream: bool,
}

impl ConnectOptions {
    /// Joins `url` with `token`, auto-subscribing.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: token.into(),
            auto_subscribe: true,
            video: None,
            audio: None,
            adaptive_stream: false,
        }
    }
}

/// Signalling protocol version spoken: 16 keeps the two-connection flow every LiveKit server (and
/// Colloque's own) serves, with data channels negotiated in-band.
const PROTOCOL: u32 = 16;
/// ICE candidates kept while their connection has no remote description yet, at most.
const MAX_EARLY_CANDIDATES: usize = 64;
/// How often the bandwidth estimate is shared out again between the video layers.
const ALLOCATION_PERIOD: Duration = Duration::from_millis(500);
/// Data waiting for the publisher's reliable channel to open, at most.
const MAX_OUTBOX: usize = 256;
/// Signalling messages held while the session reconnects, at most.
const MAX_HELD: usize = 256;
/// Waits before each attempt to get a lost session back (LiveKit's clients wait about as long).
const RETRY_DELAYS_MS: [u64; 10] = [0, 300, 1_200, 2_700, 4_800, 7_000, 7_000, 7_000, 7_000, 7_000];
/// After this long without success, attempts join the meeting again instead of resuming (the server
/// keeps a session that long, 15 s on LiveKit's).
const RESUME_LIMIT: Duration = Duration::from_secs(15);

enum Command {
    Chat { id: String, text: String },
    Reaction(String),
    Caption { segment_id: String, track_sid: String, text: String, is_final: bool },
    Attributes(HashMap<String, String>),
    PublishVideo { kind: Source, source: Box<dyn VideoSource> },
    PublishAudio(Box<dyn AudioSource>),
    Mute { kind: Source, muted: bool },
    Unpublish(Source),
    Show { track_sid: String, size: Option<(u32, u32)> },
    Leave(oneshot::Sender<()>),
}

/// A joined meeting. Events arrive on the receiver [`Session::connect`] returns; dropping the session
/// leaves the meeting.
#[derive(Debug)]
pub struct Session {
    commands: UnboundedSender<Command>,
    identity: String,
}

/// The session's events, in order.
pub type Events = UnboundedReceiver<Event>;

/// What the data channels report to the session task.
enum Data {
    /// A channel of this connection opened (its label).
    Open(Target, String),
    Packet(Box<proto::DataPacket>),
}

impl Session {
    /// Joins a meeting. The first event is [`Event::Joined`].
    pub async fn connect(options: ConnectOptions) -> Result<(Self, Events), SessionError> {
        let (data_tx, data_rx) = mpsc::unbounded_channel();
        let estimate = peer::Estimate::default();
        let connection = Connection::open(&options, &data_tx, &estimate).await?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let mut roster = Roster::default();
        let _ = events_tx.send(roster.join(&connection.join));
        let identity = roster.local_identity().unwrap_or_default().to_owned();
        let Connection { signal, signal_events, publisher, subscriber, reliable, peer_rx, .. } = connection;
        let mut engine = Engine {
            signal,
            signal_events,
            peer_rx,
            options,
            events: events_tx,
            publisher,
            subscriber,
            reliable,
            publisher_candidates: Vec::new(),
            subscriber_candidates: Vec::new(),
            reliable_open: false,
            outbox: VecDeque::new(),
            roster,
            chat: Chat::default(),
            captions: Captions::default(),
            streams: Assembler::default(),
            data_tx,
            speakers: HashMap::new(),
            offer_id: 0,
            last_subscriber_offer_id: 0,
            local: HashMap::new(),
            negotiating: false,
            renegotiate: false,
            publisher_connected: false,
            publisher_negotiated: None,
            hearing: Speakers::default(),
            estimate,
            last_grants: Vec::new(),
            upper_layers: allocate::UpperLayers::default(),
            recovery: None,
            held: Vec::new(),
            resend: Vec::new(),
            shown: HashMap::new(),
            qualities: HashMap::new(),
        };
        if let Some(out) = engine.options.audio.clone() {
            engine.hearing.play(out);
        }
        engine.offer_publisher(false).await?;
        tokio::spawn(engine.run(data_rx, command_rx));
        Ok((Self { commands, identity }, events))
    }

    /// This client's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Sends a chat message to everyone; returns its id.
    pub fn send_chat(&self, text: &str) -> Result<String, SessionError> {
        let id = new_id("CH");
        self.commands
            .send(Command::Chat { id: id.clone(), text: text.to_owned() })
            .map_err(|_| SessionError::Ended)?;
        Ok(id)
    }

    /// Sends a reaction (an emoji) to everyone, as Visio's web client does.
    pub fn send_reaction(&self, emoji: &str) -> Result<(), SessionError> {
        self.command(Command::Reaction(emoji.to_owned()))
    }

    /// Sends a caption to everyone, as a transcription agent does: the text of segment `segment_id` of
    /// what was said on `track_sid` so far (`is_final` once it is settled). Receivers name the track's
    /// publisher as the speaker.
    pub fn send_caption(
        &self,
        segment_id: &str,
        track_sid: &str,
        text: &str,
        is_final: bool,
    ) -> Result<(), SessionError> {
        self.command(Command::Caption {
            segment_id: segment_id.to_owned(),
            track_sid: track_sid.to_owned(),
            text: text.to_owned(),
            is_final,
        })
    }

    /// Sets this participant's attributes (merged with the others; an empty value removes a key): Visio's
    /// raised hand is `handRaisedAt` set to the time (RFC 3339), removed when lowered. Everyone, this client
    /// included, then sees [`Event::ParticipantUpdated`]. The token must allow updating one's own metadata.
    pub fn set_attributes(&self, attributes: HashMap<String, String>) -> Result<(), SessionError> {
        self.command(Command::Attributes(attributes))
    }

    /// Says how large a remote video track is shown (`Some((width, height))` in pixels), or that it is not
    /// shown at all (`None`: the server stops sending it). The server then forwards the smallest simulcast
    /// layer that covers the size (LiveKit's adaptive stream).
    pub fn show_video(&self, track_sid: &str, size: Option<(u32, u32)>) -> Result<(), SessionError> {
        self.commands
            .send(Command::Show { track_sid: track_sid.to_owned(), size })
            .map_err(|_| SessionError::Ended)
    }

    /// Publishes the camera (H.264 simulcast: up to three layers from the source's size), or switches the
    /// published camera to another source without renegotiating. [`Event::TrackPublished`] follows.
    pub fn publish_camera(&self, source: Box<dyn VideoSource>) -> Result<(), SessionError> {
        self.command(Command::PublishVideo { kind: Source::Camera, source })
    }

    /// Shares a screen (H.264 screen-content encoding, one layer of at most 1080 lines, up to 15 fps), or
    /// switches the shared screen.
    pub fn publish_screen(&self, source: Box<dyn VideoSource>) -> Result<(), SessionError> {
        self.command(Command::PublishVideo { kind: Source::Screen, source })
    }

    /// Publishes the microphone (Opus with FEC and DTX), or switches to another microphone.
    pub fn publish_microphone(&self, source: Box<dyn AudioSource>) -> Result<(), SessionError> {
        self.command(Command::PublishAudio(source))
    }

    /// Mutes or unmutes a published source, without renegotiation: nothing is encoded while muted and
    /// the others see the track muted.
    pub fn set_muted(&self, source: Source, muted: bool) -> Result<(), SessionError> {
        self.command(Command::Mute { kind: source, muted })
    }

    /// Stops publishing a source (ends a screen share).
    pub fn unpublish(&self, source: Source) -> Result<(), SessionError> {
        self.command(Command::Unpublish(source))
    }

    fn command(&self, command: Command) -> Result<(), SessionError> {
        self.commands.send(command).map_err(|_| SessionError::Ended)
    }

    /// Leaves the meeting and waits (briefly) until the server was told.
    pub async fn leave(self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Leave(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(3), wait).await;
        }
    }
}

/// A random id with a prefix, as LiveKit's are (`CH_…`).
pub(crate) fn new_id(prefix: &str) -> String {
    let n: u128 = rand::random();
    format!("{prefix}_{n:032x}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads one data channel of connection `target`: its opening, and every packet on it.
async fn read_channel(target: Target, dc: Arc<dyn DataChannel>, tx: UnboundedSender<Data>) {
    let label = dc.label().await.unwrap_or_default();
    while let Some(event) = dc.poll().await {
        match event {
            DataChannelEvent::OnOpen => {
                let _ = tx.send(Data::Open(target, label.clone()));
            }
            DataChannelEvent::OnMessage(message) => match proto::DataPacket::decode(&message.data[..]) {
                Ok(packet) => {
                    let _ = tx.send(Data::Packet(Box::new(packet)));
                }
                Err(e) => tracing::debug!(label, error = %e, "undecodable data packet"),
            },
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
}

/// One signalling connection and the two peer connections it negotiates: what a full rejoin replaces.
struct Connection {
    signal: Arc<SignalClient>,
    join: proto::JoinResponse,
    signal_events: SignalEvents,
    publisher: Arc<dyn PeerConnection>,
    subscriber: Arc<dyn PeerConnection>,
    reliable: Arc<dyn DataChannel>,
    peer_rx: UnboundedReceiver<PeerEvent>,
}

impl Connection {
    /// Joins the meeting: signalling, then the publisher (with its data channels) and subscriber
    /// connections. Incoming data goes to `data_tx`.
    /// The publisher's congestion control feeds `estimate`.
    async fn open(
        options: &ConnectOptions,
        data_tx: &UnboundedSender<Data>,
        estimate: &peer::Estimate,
    ) -> Result<Self, SessionError> {
        let parsed = url::Url::parse(&options.url).map_err(|_| SessionError::Url(options.url.clone()))?;
        if !matches!(parsed.scheme(), "ws" | "wss" | "http" | "https") {
            return Err(SessionError::Url(options.url.clone()));
        }
        let host_ip = parsed.host_str().and_then(|h| h.trim_matches(['[', ']']).parse().ok());
        let mut signal_options = SignalOptions::default();
        signal_options.auto_subscribe = options.auto_subscribe;
        signal_options.protocol_version = PROTOCOL;
        // Self-hosted servers (Visio) have no LiveKit Cloud regions to fall back on.
        signal_options.region_failover = false;
        // Video trailers and compressed data are newer options this client does not need.
        signal_options.client_capabilities = Vec::new();
        // Plain text streams (header, chunks, trailer), which every client understands.
        signal_options.client_protocol = livekit_signaling::CLIENT_PROTOCOL_DEFAULT;
        signal_options.sdk_options.sdk = "colloque".into();
        signal_options.sdk_options.sdk_version = Some(env!("CARGO_PKG_VERSION").into());
        let (signal, join, signal_events) =
            SignalClient::connect(&options.url, &options.token, signal_options, None).await?;

        let (peer_tx, peer_rx) = mpsc::unbounded_channel();
        let ice = peer::ice_servers(&join.ice_servers);
        let addrs = peer::local_addrs(host_ip);
        let publisher = peer::build(
            Target::Publisher,
            ice.clone(),
            addrs.clone(),
            peer_tx.clone(),
            Some(estimate.clone()),
        )
        .await?;
        let subscriber = peer::build(Target::Subscriber, ice, addrs, peer_tx, None).await?;
        let reliable = publisher.create_data_channel("_reliable", None).await?;
        let lossy = publisher
            .create_data_channel(
                "_lossy",
                Some(RTCDataChannelInit { ordered: false, max_retransmits: Some(0), ..Default::default() }),
            )
            .await?;
        for dc in [&reliable, &lossy] {
            tokio::spawn(read_channel(Target::Publisher, dc.clone(), data_tx.clone()));
        }
        Ok(Self { signal: Arc::new(signal), join, signal_events, publisher, subscriber, reliable, peer_rx })
    }
}

/// How an attempt to get a lost session back ended.
enum Recovery {
    /// Same session, on a new signalling connection.
    Resumed,
    /// The session could not be resumed: joined again, as a new participant.
    Rejoined(Box<Connection>),
    /// Given up; why.
    Failed(String),
}

type RecoveryTask = Pin<Box<dyn Future<Output = Recovery> + Send>>;

/// Resumes the session (same peer connections, `reconnect=1`), or joins the meeting again when the server
/// says it cannot resume or resuming has failed for [`RESUME_LIMIT`]; retries on [`RETRY_DELAYS_MS`].
async fn recover(
    signal: Arc<SignalClient>,
    options: ConnectOptions,
    data_tx: UnboundedSender<Data>,
    estimate: peer::Estimate,
    reason: proto::ReconnectReason,
) -> Recovery {
    let started = Instant::now();
    let mut rejoin = false;
    let mut last = String::from("no attempt made");
    for delay in RETRY_DELAYS_MS {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if !rejoin && started.elapsed() < RESUME_LIMIT {
            match signal.restart(reason).await {
                Ok(_) => return Recovery::Resumed,
                Err(SignalError::LeaveRequest { reason, action }) => {
                    if action == proto::leave_request::Action::Disconnect {
                        return Recovery::Failed(reason.as_str_name().to_owned());
                    }
                    tracing::info!(reason = reason.as_str_name(), "the server cannot resume: joining again");
                    rejoin = true;
                }
                Err(e) => {
                    tracing::info!(error = %e, "resume attempt failed");
                    last = e.to_string();
                    continue;
                }
            }
        }
        match Connection::open(&options, &data_tx, &estimate).await {
            Ok(connection) => return Recovery::Rejoined(Box::new(connection)),
            Err(e @ (SessionError::Refused { .. } | SessionError::Url(_))) => {
                return Recovery::Failed(e.to_string())
            }
            Err(e) => {
                tracing::info!(error = %e, "rejoin attempt failed");
                last = e.to_string();
            }
        }
    }
    Recovery::Failed(format!("could not reconnect: {last}"))
}

/// The recovery under way, if any (never ready otherwise).
async fn recovery_outcome(task: &mut Option<RecoveryTask>) -> Recovery {
    match task {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

struct Engine {
    signal: Arc<SignalClient>,
    signal_events: SignalEvents,
    peer_rx: UnboundedReceiver<PeerEvent>,
    options: ConnectOptions,
    events: UnboundedSender<Event>,
    publisher: Arc<dyn PeerConnection>,
    subscriber: Arc<dyn PeerConnection>,
    reliable: Arc<dyn DataChannel>,
    publisher_candidates: Vec<RTCIceCandidateInit>,
    subscriber_candidates: Vec<RTCIceCandidateInit>,
    reliable_open: bool,
    outbox: VecDeque<Vec<u8>>,
    roster: Roster,
    chat: Chat,
    captions: Captions,
    streams: Assembler,
    data_tx: UnboundedSender<Data>,
    /// Active speakers by sid, with their level.
    speakers: HashMap<String, f32>,
    offer_id: u32,
    last_subscriber_offer_id: u32,
    /// What this client publishes, by source.
    local: HashMap<Source, LocalTrack>,
    /// A publisher offer waits for its answer.
    negotiating: bool,
    /// Something changed meanwhile: offer again once the answer is in.
    renegotiate: bool,
    /// The publisher connection's DTLS is up.
    publisher_connected: bool,
    /// The publisher's latest offer and its answer.
    publisher_negotiated: Option<(String, String)>,
    /// Remote audio being played.
    hearing: Speakers,
    /// The publisher connection's bandwidth estimate.
    estimate: peer::Estimate,
    /// What congestion control last gave the video layers (logged when it changes).
    last_grants: Vec<Vec<Grant>>,
    /// Hysteresis on turning layers back on.
    upper_layers: allocate::UpperLayers,
    /// Getting a lost session back.
    recovery: Option<RecoveryTask>,
    /// Signalling messages waiting for the session to be back.
    held: Vec<Out>,
    /// Data sent while reconnecting, sent again if the session had to be joined anew (receivers drop
    /// copies by message id).
    resend: Vec<Vec<u8>>,
    /// How large each remote video is shown (`None`: hidden), to ask again after a rejoin.
    shown: HashMap<String, Option<(u32, u32)>>,
    /// The connection grade last reported per participant sid.
    qualities: HashMap<String, i32>,
}

/// Why the serving loop ended.
enum End {
    Left,
    Disconnected(String),
}

impl Engine {
    async fn run(mut self, mut data_rx: UnboundedReceiver<Data>, mut commands: UnboundedReceiver<Command>) {
        let mut allocation = tokio::time::interval(ALLOCATION_PERIOD);
        allocation.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let end = loop {
            tokio::select! {
                _ = allocation.tick() => self.allocate(),
                event = self.signal_events.recv() => match event {
                    Some(SignalEvent::Message(message)) => {
                        if let Some(end) = self.server_message(*message).await {
                            break end;
                        }
                    }
                    Some(SignalEvent::Close(why)) => {
                        self.start_recovery(&why, proto::ReconnectReason::RrSignalDisconnected);
                    }
                    None => break End::Disconnected("signalling ended".into()),
                },
                recovery = recovery_outcome(&mut self.recovery) => {
                    self.recovery = None;
                    match recovery {
                        Recovery::Resumed => self.resumed().await,
                        Recovery::Rejoined(connection) => self.rejoined(*connection).await,
                        Recovery::Failed(reason) => break End::Disconnected(reason),
                    }
                }
                Some(event) = self.peer_rx.recv() => self.peer_event(event).await,
                Some(data) = data_rx.recv() => self.data(data).await,
                command = commands.recv() => match command {
                    Some(Command::Chat { id, text }) => {
                        for packet in chat::packets(&id, &text, now_ms()) {
                            self.send_data(packet.encode_to_vec()).await;
                        }
                    }
                    Some(Command::Reaction(emoji)) => {
                        self.send_data(crate::notify::reaction(&emoji).encode_to_vec()).await;
                    }
                    Some(Command::Caption { segment_id, track_sid, text, is_final }) => {
                        let id = new_id("TS");
                        for packet in crate::captions::packets(&id, &segment_id, &track_sid, &text, is_final, now_ms()) {
                            self.send_data(packet.encode_to_vec()).await;
                        }
                    }
                    Some(Command::Attributes(attributes)) => {
                        let update = proto::UpdateParticipantMetadata { attributes, ..Default::default() };
                        self.send_signal(Out::UpdateMetadata(update)).await;
                    }
                    Some(Command::PublishVideo { kind, source }) => self.publish_video(kind, source).await,
                    Some(Command::PublishAudio(source)) => self.publish_audio(source).await,
                    Some(Command::Mute { kind, muted }) => self.mute(kind, muted).await,
                    Some(Command::Unpublish(kind)) => self.unpublish(kind).await,
                    Some(Command::Show { track_sid, size }) => {
                        self.shown.insert(track_sid.clone(), size);
                        self.send_signal(Out::TrackSetting(track_settings(track_sid, size))).await;
                    }
                    Some(Command::Leave(done)) => {
                        self.leave().await;
                        let _ = done.send(());
                        break End::Left;
                    }
                    None => {
                        self.leave().await;
                        break End::Left;
                    }
                },
            }
        };
        self.recovery = None;
        for track in self.local.values() {
            track.stop();
        }
        self.hearing.stop();
        let _ = self.publisher.close().await;
        let _ = self.subscriber.close().await;
        self.signal.close().await;
        let reason = match end {
            End::Left => proto::DisconnectReason::ClientInitiated.as_str_name().to_owned(),
            End::Disconnected(reason) => reason,
        };
        tracing::info!(reason, "session ended");
        let _ = self.events.send(Event::Disconnected { reason });
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Sends to the server, or holds the message while the session reconnects (the signalling client
    /// would block on a connection being re-established).
    async fn send_signal(&mut self, message: Out) {
        if self.recovery.is_some() {
            if self.held.len() < MAX_HELD {
                self.held.push(message);
            }
            return;
        }
        self.signal.send(message).await;
    }

    async fn leave(&mut self) {
        let leave = proto::LeaveRequest {
            reason: proto::DisconnectReason::ClientInitiated as i32,
            action: proto::leave_request::Action::Disconnect as i32,
            ..Default::default()
        };
        self.signal.send(Out::Leave(leave)).await;
    }

    /// A server message; `Some` when it ends the session.
    async fn server_message(&mut self, message: In) -> Option<End> {
        match message {
            In::Offer(offer) => {
                if let Err(e) = self.subscriber_offer(offer).await {
                    tracing::warn!(error = %e, "subscriber offer not answered");
                }
            }
            In::Answer(answer) => {
                let offer = self.publisher.local_description().await.map(|d| d.sdp).unwrap_or_default();
                self.publisher_negotiated = Some((offer, answer.sdp.clone()));
                if self.publisher_connected {
                    self.start_sending();
                }
                let applied = async {
                    self.publisher.set_remote_description(RTCSessionDescription::answer(answer.sdp)?).await?;
                    for candidate in std::mem::take(&mut self.publisher_candidates) {
                        add_candidate(self.publisher.as_ref(), candidate).await;
                    }
                    Ok::<_, rtc::shared::error::Error>(())
                };
                if let Err(e) = applied.await {
                    tracing::warn!(error = %e, "publisher answer not applied");
                }
                self.negotiating = false;
                if std::mem::take(&mut self.renegotiate) {
                    self.negotiate().await;
                }
            }
            In::TrackPublished(published) => self.track_published(published).await,
            In::SubscribedQualityUpdate(update) => {
                if let Some(track) =
                    self.local.values().find(|t| t.sid.as_deref() == Some(update.track_sid.as_str()))
                {
                    track.subscribed(&update);
                }
            }
            In::Mute(request) => {
                // The server (a moderator) muted one of this client's tracks.
                let kind = self
                    .local
                    .values()
                    .find(|t| t.sid.as_deref() == Some(request.sid.as_str()))
                    .map(|t| t.source);
                if let Some(kind) = kind {
                    self.mute(kind, request.muted).await;
                }
            }
            In::Trickle(trickle) => self.remote_candidate(trickle).await,
            In::Update(update) => {
                for event in self.roster.update(&update) {
                    if let Event::ParticipantLeft { participant, .. } = &event {
                        self.streams.forget(&participant.identity);
                        self.speakers.remove(&participant.sid);
                    }
                    self.emit(event);
                }
            }
            In::SpeakersChanged(changed) => self.speakers_changed(changed.speakers),
            In::ConnectionQuality(update) => self.connection_quality(update),
            In::Leave(leave) => {
                let reason = proto::DisconnectReason::try_from(leave.reason)
                    .unwrap_or(proto::DisconnectReason::UnknownReason);
                if leave.action == proto::leave_request::Action::Resume as i32 {
                    self.start_recovery("the server asked to resume", proto::ReconnectReason::RrUnknown);
                    return None;
                }
                if leave.action == proto::leave_request::Action::Reconnect as i32 {
                    self.start_recovery("the server asked to join again", proto::ReconnectReason::RrUnknown);
                    return None;
                }
                return Some(End::Disconnected(reason.as_str_name().to_owned()));
            }
            _ => {}
        }
        None
    }

    async fn subscriber_offer(
        &mut self,
        offer: proto::SessionDescription,
    ) -> Result<(), rtc::shared::error::Error> {
        self.subscriber.set_remote_description(RTCSessionDescription::offer(offer.sdp)?).await?;
        let answer = self.subscriber.create_answer(None).await?;
        self.subscriber.set_local_description(answer.clone()).await?;
        let sdp = self.subscriber.local_description().await.map(|d| d.sdp).unwrap_or(answer.sdp);
        self.last_subscriber_offer_id = offer.id;
        self.send_signal(Out::Answer(description("answer", sdp, offer.id))).await;
        for candidate in std::mem::take(&mut self.subscriber_candidates) {
            add_candidate(self.subscriber.as_ref(), candidate).await;
        }
        Ok(())
    }

    /// Lets the published tracks send, once the publisher connection is up (media written before DTLS
    /// completes is dropped by the stack, noisily) and negotiated.
    fn start_sending(&self) {
        let Some((offer, answer)) = &self.publisher_negotiated else { return };
        for track in self.local.values().filter(|t| t.sender.is_some()) {
            if !track.negotiate(offer, answer) {
                tracing::warn!(
                    source = track.source.name(),
                    "the server's answer has no codec for this track"
                );
            }
        }
    }

    /// Offers the publisher connection again after a change, or once the offer in flight is answered.
    async fn negotiate(&mut self) {
        if self.negotiating {
            self.renegotiate = true;
            return;
        }
        if let Err(e) = self.offer_publisher(false).await {
            tracing::warn!(error = %e, "publisher offer failed");
        }
    }

    /// Offers the publisher connection (its data channels and tracks).
    async fn offer_publisher(&mut self, ice_restart: bool) -> Result<(), rtc::shared::error::Error> {
        self.negotiating = true;
        let options = ice_restart.then_some(RTCOfferOptions { ice_restart: true });
        let offer = self.publisher.create_offer(options).await?;
        self.publisher.set_local_description(offer.clone()).await?;
        let sdp = self.publisher.local_description().await.map(|d| d.sdp).unwrap_or(offer.sdp);
        tracing::trace!(sdp, "publisher offer");
        self.offer_id += 1;
        self.send_signal(Out::Offer(description("offer", sdp, self.offer_id))).await;
        Ok(())
    }

    /// Shares the bandwidth estimate between the published video (screen first, then camera).
    fn allocate(&mut self) {
        let video: Vec<&LocalTrack> = [Source::Screen, Source::Camera]
            .iter()
            .filter_map(|s| self.local.get(s))
            .filter(|t| !t.muted())
            .collect();
        if video.is_empty() {
            return;
        }
        let audio = self.local.get(&Source::Microphone).is_some_and(|t| !t.muted());
        let layers: Vec<&[crate::encode::Layer]> = video.iter().map(|t| t.layers.as_slice()).collect();
        let estimate = self.estimate.get();
        let mut grants = allocate::allocate(estimate, audio, &layers);
        self.upper_layers.limit(&mut grants, Instant::now());
        for (track, grant) in video.iter().zip(&grants) {
            track.apply(grant);
        }
        let layers_on = |g: &[Vec<Grant>]| g.iter().flatten().filter(|g| **g != Grant::Off).count();
        if layers_on(&grants) != layers_on(&self.last_grants) {
            let video_layers = layers_on(&grants);
            tracing::debug!(
                estimate_bps = estimate as u64,
                video_layers,
                "video layers follow the bandwidth estimate"
            );
            self.emit(Event::SendBandwidth { estimate_bps: estimate as u64, video_layers });
        }
        self.last_grants = grants;
    }

    async fn publish_video(&mut self, kind: Source, source: Box<dyn VideoSource>) {
        if let Some(track) = self.local.get_mut(&kind) {
            track.replace_video(source, &self.events);
            return;
        }
        match LocalTrack::video(kind, source, &self.events, self.estimate.clone()) {
            Ok(track) => self.announce(track).await,
            Err(e) => self.emit(Event::PublishFailed { source: kind.name().into(), reason: e.to_string() }),
        }
    }

    async fn publish_audio(&mut self, source: Box<dyn AudioSource>) {
        if let Some(track) = self.local.get_mut(&Source::Microphone) {
            track.replace_audio(source, &self.events);
            return;
        }
        let track = LocalTrack::audio(source, &self.events);
        self.announce(track).await;
    }

    /// Asks the server to accept a track; it is added to the connection once the server says so.
    async fn announce(&mut self, track: LocalTrack) {
        self.send_signal(Out::AddTrack(track.add_track_request())).await;
        self.local.insert(track.source, track);
    }

    /// `TrackPublishedResponse`: the server accepted a track; send it.
    async fn track_published(&mut self, published: proto::TrackPublishedResponse) {
        let Some(track) = self.local.values_mut().find(|t| t.cid == published.cid) else { return };
        if track.sender.is_some() {
            return;
        }
        let sid = published.track.map(|t| t.sid).unwrap_or_default();
        track.sid = Some(sid.clone());
        match self.publisher.add_track(track.track_local()).await {
            Ok(sender) => track.sender = Some(sender),
            Err(e) => {
                let (source, reason) = (track.source.name().to_owned(), e.to_string());
                self.emit(Event::PublishFailed { source, reason });
                return;
            }
        }
        let source = track.source.name().to_owned();
        self.emit(Event::TrackPublished { source, track_sid: sid });
        self.negotiate().await;
    }

    async fn mute(&mut self, kind: Source, muted: bool) {
        let Some(track) = self.local.get_mut(&kind) else { return };
        if track.muted() == muted {
            return;
        }
        track.set_muted(muted);
        if let Some(sid) = track.sid.clone() {
            self.send_signal(Out::Mute(proto::MuteTrackRequest { sid, muted })).await;
        }
        self.emit(Event::LocalMuted { source: kind.name().into(), muted });
    }

    async fn unpublish(&mut self, kind: Source) {
        let Some(track) = self.local.remove(&kind) else { return };
        track.stop();
        if let Some(sender) = &track.sender {
            if let Err(e) = self.publisher.remove_track(sender).await {
                tracing::warn!(error = %e, "track not removed");
            }
            self.negotiate().await;
        }
    }

    async fn remote_candidate(&mut self, trickle: proto::TrickleRequest) {
        let candidate: RTCIceCandidateInit = match serde_json::from_str(&trickle.candidate_init) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "unreadable ICE candidate from the server");
                return;
            }
        };
        if candidate.candidate.is_empty() {
            return;
        }
        let (pc, early) = if trickle.target == Target::Subscriber as i32 {
            (self.subscriber.clone(), &mut self.subscriber_candidates)
        } else {
            (self.publisher.clone(), &mut self.publisher_candidates)
        };
        if pc.remote_description().await.is_some() {
            add_candidate(pc.as_ref(), candidate).await;
        } else if early.len() < MAX_EARLY_CANDIDATES {
            early.push(candidate);
        }
    }

    async fn peer_event(&mut self, event: PeerEvent) {
        match event {
            PeerEvent::Candidate { target, init } => {
                self.signal
                    .send(Out::Trickle(proto::TrickleRequest {
                        candidate_init: init,
                        target: target as i32,
                        r#final: false,
                    }))
                    .await;
            }
            PeerEvent::State { target, state } => {
                tracing::debug!(?target, %state, "connection state");
                if target == Target::Publisher {
                    let connected = state == RTCPeerConnectionState::Connected;
                    if connected && !self.publisher_connected {
                        self.publisher_connected = true;
                        self.start_sending();
                    }
                    self.publisher_connected = connected;
                }
                if state == RTCPeerConnectionState::Failed {
                    tracing::warn!(?target, "media connection failed");
                    let reason = match target {
                        Target::Publisher => proto::ReconnectReason::RrPublisherFailed,
                        Target::Subscriber => proto::ReconnectReason::RrSubscriberFailed,
                    };
                    self.start_recovery("the media connection failed", reason);
                }
            }
            PeerEvent::DataChannel(dc) => {
                tokio::spawn(read_channel(Target::Subscriber, dc, self.data_tx.clone()));
            }
            PeerEvent::Track { remote, first, codec } => {
                let stream_id = first.stream_ids.first().cloned().unwrap_or_default();
                let video = codec.mime_type.to_ascii_lowercase().starts_with("video/");
                self.remote_track(remote, first.ssrc, &stream_id, codec.mime_type);
                // Adaptive stream: a video nobody asked to see yet is paused until it is shown.
                let track_sid = stream_id.split_once('|').map_or(stream_id.as_str(), |(_, t)| t).to_owned();
                if video && self.options.adaptive_stream && !self.shown.contains_key(&track_sid) {
                    self.shown.insert(track_sid.clone(), None);
                    self.send_signal(Out::TrackSetting(track_settings(track_sid, None))).await;
                }
            }
            // The client's own channels report through `Data`.
            PeerEvent::ChannelOpen(_) => {}
        }
    }

    /// A remote track's media arrives: say so, and decode it if it is video and someone wants pictures.
    fn remote_track(
        &mut self,
        remote: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>,
        ssrc: u32,
        stream_id: &str,
        mime: String,
    ) {
        let (participant_sid, track_sid) = stream_id.split_once('|').unwrap_or(("", stream_id));
        let identity = self.roster.by_sid(participant_sid).map(|p| p.identity.clone()).unwrap_or_default();
        let video = mime.to_ascii_lowercase().starts_with("video/");
        self.emit(Event::TrackSubscribed {
            participant: identity.clone(),
            track_sid: track_sid.to_owned(),
            kind: if video { "video" } else { "audio" }.into(),
            codec: mime.clone(),
        });
        if !video {
            if self.options.audio.is_some() && mime.eq_ignore_ascii_case("audio/opus") {
                let hearing = self.hearing.clone();
                let track_sid = track_sid.to_owned();
                tokio::spawn(async move { hearing.receive(remote, track_sid).await });
            }
            return;
        }
        let (Some(sink), Some(codec)) =
            (self.options.video.clone(), crate::assemble::Codec::from_mime(&mime))
        else {
            return;
        };
        let sinks = receive::Sinks { video: sink, events: self.events.clone() };
        tokio::spawn(receive::video(
            remote,
            ssrc,
            codec,
            participant_sid.to_owned(),
            identity,
            track_sid.to_owned(),
            sinks,
        ));
    }

    async fn data(&mut self, data: Data) {
        match data {
            // Only this client's own channel carries what it sends (the server's has the same label).
            Data::Open(Target::Publisher, label) if label == "_reliable" => {
                self.reliable_open = true;
                while let Some(bytes) = self.outbox.pop_front() {
                    if let Err(e) = self.reliable.send(BytesMut::from(&bytes[..])).await {
                        tracing::warn!(error = %e, "queued data not sent");
                    }
                }
            }
            Data::Open(..) => {}
            Data::Packet(packet) => self.data_packet(*packet),
        }
    }

    fn data_packet(&mut self, packet: proto::DataPacket) {
        use proto::data_packet::Value;
        match &packet.value {
            Some(Value::User(user)) => {
                let from = packet.participant_identity.clone();
                let event =
                    self.chat.from_legacy(&from, user).or_else(|| crate::notify::from_packet(&from, user));
                if let Some(event) = event {
                    self.emit(event);
                }
            }
            Some(Value::Transcription(transcription)) => {
                for event in self.captions.from_legacy(transcription) {
                    self.emit(event);
                }
            }
            Some(Value::StreamHeader(_) | Value::StreamChunk(_) | Value::StreamTrailer(_)) => {
                match self.streams.push(&packet) {
                    Ok(Some(text)) if text.topic == captions::TOPIC => self.caption(&text, false),
                    Ok(Some(text)) => {
                        if let Some(event) = self.chat.from_stream(text) {
                            self.emit(event);
                        }
                    }
                    Ok(None) => {
                        // Captions show while they stream in.
                        if let Some(Value::StreamChunk(chunk)) = &packet.value {
                            let sender = &packet.participant_identity;
                            if let Some(text) =
                                self.streams.progress(sender, &chunk.stream_id, captions::TOPIC)
                            {
                                self.caption(&text, true);
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "text stream dropped"),
                }
            }
            _ => {}
        }
    }

    /// A caption stream, complete or `partial`; the speaker is the transcribed track's owner.
    fn caption(&mut self, text: &crate::text_stream::Text, partial: bool) {
        let roster = &self.roster;
        if let Some(event) =
            self.captions.from_stream(text, partial, |t| roster.track_owner(t).map(str::to_owned))
        {
            self.emit(event);
        }
    }

    /// Sends on the publisher's reliable channel, or queues until it opens.
    async fn send_data(&mut self, bytes: Vec<u8>) {
        if !self.reliable_open {
            if self.outbox.len() < MAX_OUTBOX {
                self.outbox.push_back(bytes);
            } else {
                tracing::warn!("data dropped: channel not open and queue full");
            }
            return;
        }
        // What goes out on a channel that may be dead is kept, to go again should the meeting be joined
        // anew (what waits in the outbox goes on the new channel anyway).
        if self.recovery.is_some() && self.resend.len() < MAX_OUTBOX {
            self.resend.push(bytes.clone());
        }
        if let Err(e) = self.reliable.send(BytesMut::from(&bytes[..])).await {
            tracing::warn!(error = %e, "data not sent");
        }
    }

    /// Reports the participants whose connection grade changed.
    fn connection_quality(&mut self, update: proto::ConnectionQualityUpdate) {
        for info in update.updates {
            let Some(participant) = self.roster.by_sid(&info.participant_sid).map(|p| p.identity.clone())
            else {
                continue; // not known yet: reported once it is
            };
            if self.qualities.insert(info.participant_sid.clone(), info.quality) == Some(info.quality) {
                continue;
            }
            let quality = proto::ConnectionQuality::try_from(info.quality)
                .unwrap_or(proto::ConnectionQuality::Poor)
                .as_str_name()
                .to_owned();
            self.emit(Event::ConnectionQuality { participant, quality, score: info.score });
        }
    }

    fn speakers_changed(&mut self, speakers: Vec<proto::SpeakerInfo>) {
        for s in speakers {
            if s.active {
                self.speakers.insert(s.sid, s.level);
            } else {
                self.speakers.remove(&s.sid);
            }
        }
        let mut loudest: Vec<(&String, &f32)> = self.speakers.iter().collect();
        loudest.sort_by(|a, b| b.1.total_cmp(a.1));
        let identities = self.roster.identities(loudest.into_iter().map(|(sid, _)| sid.clone()));
        self.emit(Event::ActiveSpeakers { identities });
    }

    /// The connection to the server dropped (or the server asked): try to get the session back, in the
    /// background, while media and data that still flow keep being handled.
    fn start_recovery(&mut self, why: &str, reason: proto::ReconnectReason) {
        if self.recovery.is_some() {
            return;
        }
        tracing::info!(why, "connection lost: reconnecting");
        self.emit(Event::Reconnecting);
        self.recovery = Some(Box::pin(recover(
            self.signal.clone(),
            self.options.clone(),
            self.data_tx.clone(),
            self.estimate.clone(),
            reason,
        )));
    }

    /// Resumed on a new signalling connection (same peer connections): tell the server what this side
    /// has, restart ICE, send what was held.
    async fn resumed(&mut self) {
        let id = self.last_subscriber_offer_id;
        let sync = proto::SyncState {
            answer: self.subscriber.local_description().await.map(|d| description("answer", d.sdp, id)),
            offer: self.subscriber.remote_description().await.map(|d| description("offer", d.sdp, id)),
            subscription: Some(proto::UpdateSubscription {
                track_sids: Vec::new(),
                subscribe: !self.options.auto_subscribe,
                participant_tracks: Vec::new(),
            }),
            ..Default::default()
        };
        self.signal.send(Out::SyncState(sync)).await;
        if let Err(e) = self.offer_publisher(true).await {
            tracing::warn!(error = %e, "ICE restart offer failed");
        }
        self.signal.set_reconnected().await;
        for message in std::mem::take(&mut self.held) {
            self.signal.send(message).await;
        }
        self.resend.clear();
        tracing::info!("session resumed");
        self.emit(Event::Reconnected);
    }

    /// Joined again as a new participant: the new connections replace the old, the published tracks are
    /// announced again, remote videos are asked for at their sizes, data sent meanwhile goes again.
    async fn rejoined(&mut self, connection: Connection) {
        let Connection { signal, join, signal_events, publisher, subscriber, reliable, peer_rx } = connection;
        let old_signal = std::mem::replace(&mut self.signal, signal);
        let old_publisher = std::mem::replace(&mut self.publisher, publisher);
        let old_subscriber = std::mem::replace(&mut self.subscriber, subscriber);
        tokio::spawn(async move {
            let _ = old_publisher.close().await;
            let _ = old_subscriber.close().await;
            old_signal.close().await;
        });
        self.signal_events = signal_events;
        self.peer_rx = peer_rx;
        self.reliable = reliable;
        self.publisher_candidates.clear();
        self.subscriber_candidates.clear();
        self.reliable_open = false;
        self.negotiating = false;
        self.renegotiate = false;
        self.publisher_connected = false;
        self.publisher_negotiated = None;
        self.last_subscriber_offer_id = 0;
        self.held.clear();
        self.speakers.clear();
        self.qualities.clear();
        let (local, events) = self.roster.rejoin(&join);
        for event in events {
            self.emit(event);
        }
        tracing::info!(sid = local.sid, "joined the meeting again");
        self.emit(Event::Rejoined { local });
        let resend = std::mem::take(&mut self.resend);
        self.outbox.extend(resend);
        let mut requests = Vec::new();
        for track in self.local.values_mut() {
            track.rejoin();
            requests.push(track.add_track_request());
        }
        for request in requests {
            self.signal.send(Out::AddTrack(request)).await;
        }
        for (track_sid, size) in self.shown.clone() {
            self.signal.send(Out::TrackSetting(track_settings(track_sid, size))).await;
        }
        if let Err(e) = self.offer_publisher(false).await {
            tracing::warn!(error = %e, "publisher offer failed after rejoining");
        }
        self.emit(Event::Reconnected);
    }
}

/// Asks for a remote video at the size it is shown, or for nothing when it is hidden.
fn track_settings(track_sid: String, size: Option<(u32, u32)>) -> proto::UpdateTrackSettings {
    let (width, height) = size.unwrap_or((0, 0));
    proto::UpdateTrackSettings {
        track_sids: vec![track_sid],
        disabled: size.is_none(),
        width,
        height,
        ..Default::default()
    }
}

/// A description as LiveKit's signalling carries it (`offer` or `answer`, with the id that pairs them).
fn description(kind: &str, sdp: String, id: u32) -> proto::SessionDescription {
    proto::SessionDescription { r#type: kind.into(), sdp, id, ..Default::default() }
}

/// Adds a remote ICE candidate; one the stack cannot use is skipped (others may still connect).
async fn add_candidate(pc: &dyn PeerConnection, candidate: RTCIceCandidateInit) {
    if let Err(e) = pc.add_ice_candidate(candidate.clone()).await {
        tracing::debug!(candidate = candidate.candidate, error = %e, "remote ICE candidate skipped");
    }
}
