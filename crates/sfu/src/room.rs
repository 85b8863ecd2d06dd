//! Rooms and their participants: created on the first join, each member with the channel its signalling
//! connection drains. Membership changes are announced to the others as `ParticipantUpdate`s.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use livekit_protocol as proto;
use proto::signal_response::Message as Out;
use tokio::sync::mpsc::UnboundedSender;

use crate::auth::Admission;
use crate::data::Relay;
use crate::ids;
use crate::quality;
use crate::track::PublishedTrack;
use crate::webhook::Notifier;

/// The LiveKit server version whose protocol behaviour this server follows (docs/sfu-protocol.md).
pub const LIVEKIT_COMPAT_VERSION: &str = "1.9.0";

/// What the room asks of a participant's session task. One channel per participant keeps the order the
/// SDKs rely on: a publisher's `ParticipantUpdate` always reaches a subscriber before the offer that
/// carries the track.
pub enum ToSession {
    /// Send this signalling message to the client.
    Signal(Box<proto::SignalResponse>),
    /// Start forwarding this track to the participant.
    Subscribe(Arc<PublishedTrack>),
    /// Stop forwarding the track with this sid.
    Unsubscribe(String),
    /// Deliver a data packet (already stamped) on the participant's data channel of this kind.
    Data(Arc<Vec<u8>>, proto::data_packet::Kind),
    /// The client resumed: this socket is the session's signalling link from now on.
    Resume(Box<axum::extract::ws::WebSocket>),
}

impl std::fmt::Debug for ToSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Signal(m) => write!(f, "Signal({:?})", m.message.as_ref().map(std::mem::discriminant)),
            Self::Subscribe(t) => write!(f, "Subscribe({})", t.sid()),
            Self::Unsubscribe(sid) => write!(f, "Unsubscribe({sid})"),
            Self::Data(b, k) => write!(f, "Data({} bytes, {k:?})", b.len()),
            Self::Resume(_) => write!(f, "Resume"),
        }
    }
}

/// Where the room sends a participant's commands.
pub type SessionSender = UnboundedSender<ToSession>;

struct Member {
    info: proto::ParticipantInfo,
    tx: SessionSender,
    tracks: Vec<Arc<PublishedTrack>>,
    auto_subscribe: bool,
    /// Speaking level (0..1) at the last speaker update, if speaking.
    speaking: Option<f32>,
}

struct Room {
    info: proto::Room,
    /// In join order.
    members: Vec<Member>,
    created: Instant,
    /// When the last member left; `None` while someone is in.
    emptied: Option<Instant>,
}

impl Room {
    fn new(name: &str) -> Self {
        let (secs, millis) = now();
        Self {
            info: proto::Room {
                sid: ids::room(),
                name: name.to_owned(),
                empty_timeout: DEFAULT_EMPTY_TIMEOUT,
                departure_timeout: DEFAULT_DEPARTURE_TIMEOUT,
                creation_time: secs,
                creation_time_ms: millis,
                ..Default::default()
            },
            members: Vec::new(),
            created: Instant::now(),
            emptied: None,
        }
    }

    /// Empty for longer than it may be: 'departure_timeout' after the last leave, 'empty_timeout' after
    /// creation when nobody ever came.
    fn expired(&self, now: Instant) -> bool {
        if !self.members.is_empty() {
            return false;
        }
        match self.emptied {
            Some(t) => now.duration_since(t) >= Duration::from_secs(u64::from(self.info.departure_timeout)),
            None => {
                now.duration_since(self.created) >= Duration::from_secs(u64::from(self.info.empty_timeout))
            }
        }
    }

    fn member(&self, identity: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.info.identity == identity)
    }
}

/// LiveKit's defaults: a room nobody joined closes after 5 minutes, an emptied one 20 s after the last leave.
pub const DEFAULT_EMPTY_TIMEOUT: u32 = 300;
/// See [`DEFAULT_EMPTY_TIMEOUT`].
pub const DEFAULT_DEPARTURE_TIMEOUT: u32 = 20;

/// Why a room operation (from the server API) failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoomError {
    /// No room of that name.
    #[error("requested room does not exist")]
    NoRoom,
    /// No participant of that identity in the room.
    #[error("participant does not exist")]
    NoParticipant,
    /// The participant has no track of that sid.
    #[error("track is not found")]
    NoTrack,
}

/// All rooms of the server.
#[derive(Clone, Default)]
pub struct Rooms {
    inner: Arc<Mutex<HashMap<String, Room>>>,
    webhooks: Option<Notifier>,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms").field("count", &self.lock().len()).finish()
    }
}

fn now() -> (i64, i64) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() as i64, d.as_millis() as i64)
}

fn send(to: &SessionSender, message: Out) {
    // A closed channel means that connection is going away; its own task cleans up.
    let _ = to.send(ToSession::Signal(Box::new(proto::SignalResponse { message: Some(message) })));
}

fn can_subscribe(info: &proto::ParticipantInfo) -> bool {
    info.permission.as_ref().is_none_or(|p| p.can_subscribe)
}

fn permission(admission: &Admission) -> proto::ParticipantPermission {
    let p = &admission.permissions;
    let sources = p
        .can_publish_sources
        .iter()
        .filter_map(|s| proto::TrackSource::from_str_name(&s.to_uppercase()).map(|t| t as i32))
        .collect();
    proto::ParticipantPermission {
        can_subscribe: p.can_subscribe,
        can_publish: p.can_publish,
        can_publish_data: p.can_publish_data,
        can_publish_sources: sources,
        hidden: p.hidden,
        can_update_metadata: p.can_update_own_metadata,
        ..Default::default()
    }
}

/// What a join gives the new participant.
#[derive(Debug)]
pub struct Joined {
    /// The first message of the session.
    pub response: proto::JoinResponse,
    /// The participant's sid (to leave with).
    pub sid: String,
}

impl Rooms {
    /// Rooms that post `webhooks`.
    pub fn with_webhooks(webhooks: Option<Notifier>) -> Self {
        Self { inner: Arc::default(), webhooks }
    }

    fn notify(
        &self,
        event: &str,
        room: &proto::Room,
        participant: Option<&proto::ParticipantInfo>,
        track: Option<&proto::TrackInfo>,
    ) {
        if let Some(webhooks) = &self.webhooks {
            webhooks.notify(event, room, participant, track);
        }
    }

    /// The room called `name`, created (and announced by webhook) if needed.
    fn open<'a>(&self, rooms: &'a mut HashMap<String, Room>, name: &str) -> &'a mut Room {
        rooms.entry(name.to_owned()).or_insert_with(|| {
            let room = Room::new(name);
            tracing::info!(room = name, sid = room.info.sid, "room started");
            self.notify("room_started", &room.info, None, None);
            room
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        // A panic while holding the lock cannot leave the map half-updated in a way that matters more
        // than losing the server: keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an admitted participant to its room (creating the room), replacing an earlier connection with
    /// the same identity (which is told `DUPLICATE_IDENTITY`), and announces it to the others. With
    /// `auto_subscribe`, the tracks already published are queued to it right after.
    pub fn join(
        &self,
        admission: &Admission,
        tx: SessionSender,
        client_protocol: i32,
        auto_subscribe: bool,
    ) -> Joined {
        let (secs, millis) = now();
        let mut rooms = self.lock();
        let room = self.open(&mut rooms, &admission.room);
        room.emptied = None;
        let mut replaced = None;
        if let Some(pos) = room.members.iter().position(|m| m.info.identity == admission.identity) {
            let old = room.members.remove(pos);
            send(&old.tx, Out::Leave(leave(proto::DisconnectReason::DuplicateIdentity)));
            replaced = Some(old);
        }
        let info = proto::ParticipantInfo {
            sid: ids::participant(),
            identity: admission.identity.clone(),
            name: admission.name.clone(),
            metadata: admission.metadata.clone(),
            attributes: admission.attributes.clone(),
            state: proto::participant_info::State::Joined as i32,
            joined_at: secs,
            joined_at_ms: millis,
            version: 1,
            permission: Some(permission(admission)),
            kind: if admission.agent {
                proto::participant_info::Kind::Agent
            } else {
                proto::participant_info::Kind::Standard
            } as i32,
            client_protocol,
            ..Default::default()
        };
        if let Some(old) = replaced {
            self.unpublish_all(room, old);
        }
        let others: Vec<proto::ParticipantInfo> =
            room.members.iter().filter(|m| !is_hidden(&m.info)).map(|m| m.info.clone()).collect();
        if !admission.permissions.hidden {
            broadcast(room, None, &info);
        }
        if auto_subscribe && admission.permissions.can_subscribe {
            for member in &room.members {
                for track in &member.tracks {
                    let _ = tx.send(ToSession::Subscribe(track.clone()));
                }
            }
        }
        let sid = info.sid.clone();
        room.members.push(Member {
            info: info.clone(),
            tx,
            tracks: Vec::new(),
            auto_subscribe,
            speaking: None,
        });
        room.info.num_participants = room.members.len() as u32;
        let response = proto::JoinResponse {
            room: Some(room.info.clone()),
            participant: Some(info),
            other_participants: others,
            // SDKs compare this with LiveKit's releases (the Rust SDK panics below 1.8, JS refuses an empty
            // one): announce the LiveKit version whose behaviour this server follows.
            server_version: LIVEKIT_COMPAT_VERSION.to_string(),
            server_info: Some(proto::ServerInfo {
                version: LIVEKIT_COMPAT_VERSION.to_string(),
                protocol: 16,
                node_id: format!("colloque-sfu-{}", env!("CARGO_PKG_VERSION")),
                ..Default::default()
            }),
            // As LiveKit: the server offers the subscriber connection (with its data channels) at once, and
            // data to the client goes there.
            subscriber_primary: true,
            ping_interval: 5,
            ping_timeout: 15,
            ..Default::default()
        };
        Joined { response, sid }
    }

    /// Hands a resuming client's socket to its session: participant `sid` of `room_name`, with the same
    /// identity. The socket comes back when there is no such session (it ended, or the identity differs).
    pub fn resume(
        &self,
        room_name: &str,
        sid: &str,
        identity: &str,
        socket: Box<axum::extract::ws::WebSocket>,
    ) -> Result<(), Box<axum::extract::ws::WebSocket>> {
        let tx = {
            let rooms = self.lock();
            rooms
                .get(room_name)
                .and_then(|room| {
                    room.members.iter().find(|m| m.info.sid == sid && m.info.identity == identity)
                })
                .map(|m| m.tx.clone())
        };
        let Some(tx) = tx else { return Err(socket) };
        match tx.send(ToSession::Resume(socket)) {
            // The session ended between the lookup and the send.
            Err(tokio::sync::mpsc::error::SendError(ToSession::Resume(socket))) => Err(socket),
            _ => Ok(()),
        }
    }

    /// Removes participant `sid` (if it is still the current connection of its identity), unpublishes its
    /// tracks and tells the others it left. Empty rooms are dropped.
    pub fn leave(&self, room_name: &str, sid: &str, reason: proto::DisconnectReason) {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_name) else { return };
        let Some(pos) = room.members.iter().position(|m| m.info.sid == sid) else { return };
        let mut member = room.members.remove(pos);
        member.info.state = proto::participant_info::State::Disconnected as i32;
        member.info.disconnect_reason = reason as i32;
        member.info.tracks.clear();
        member.info.version += 1;
        room.info.num_participants = room.members.len() as u32;
        let info = member.info.clone();
        self.unpublish_all(room, member);
        if !is_hidden(&info) {
            broadcast(room, None, &info);
        }
        self.notify("participant_left", &room.info, Some(&info), None);
        if room.members.is_empty() {
            room.emptied = Some(Instant::now());
        }
    }

    /// Ends a speaker-detection window: tells each room who started or stopped speaking
    /// (`SpeakersChanged` carries only the changes).
    pub fn update_speakers(&self) {
        let mut rooms = self.lock();
        for room in rooms.values_mut() {
            let mut changes = Vec::new();
            for member in &mut room.members {
                let level = member
                    .tracks
                    .iter()
                    .filter(|t| !t.is_video())
                    .filter_map(|t| t.levels.take())
                    .fold(None, |best: Option<f32>, l| Some(best.map_or(l, |b| b.max(l))));
                if level.is_some() != member.speaking.is_some() && !is_hidden(&member.info) {
                    changes.push(proto::SpeakerInfo {
                        sid: member.info.sid.clone(),
                        level: level.unwrap_or(0.0),
                        active: level.is_some(),
                    });
                }
                member.speaking = level;
            }
            if !changes.is_empty() {
                for member in &room.members {
                    send(
                        &member.tx,
                        Out::SpeakersChanged(proto::SpeakersChanged { speakers: changes.clone() }),
                    );
                }
            }
        }
    }

    /// Grades every participant's connection from the loss on what it sent and received since the last
    /// call, and tells the whole room (`ConnectionQualityUpdate`).
    pub fn update_quality(&self) {
        let rooms = self.lock();
        for room in rooms.values() {
            // Per subscriber, the worst loss its receiver reports gave on any track it receives.
            let mut downstream: HashMap<String, f32> = HashMap::new();
            let mut upstream = Vec::new();
            for member in &room.members {
                let (mut received, mut lost) = (0, 0);
                for track in &member.tracks {
                    let (r, l) = track.take_loss();
                    (received, lost) = (received + r, lost + l);
                    for (subscriber, reported) in track.take_reported_losses() {
                        let worst = downstream.entry(subscriber).or_default();
                        *worst = worst.max(reported);
                    }
                }
                upstream.push(quality::loss_fraction(received, lost));
            }
            let updates: Vec<proto::ConnectionQualityInfo> = room
                .members
                .iter()
                .zip(upstream)
                .filter(|(m, _)| !is_hidden(&m.info))
                .map(|(member, up)| {
                    let down = downstream.get(member.info.sid.as_str()).copied().unwrap_or(0.0);
                    let score = quality::score(up.max(down));
                    proto::ConnectionQualityInfo {
                        participant_sid: member.info.sid.clone(),
                        quality: quality::grade(score) as i32,
                        score,
                    }
                })
                .collect();
            if updates.is_empty() {
                continue;
            }
            for member in &room.members {
                send(
                    &member.tx,
                    Out::ConnectionQuality(proto::ConnectionQualityUpdate { updates: updates.clone() }),
                );
            }
        }
    }

    /// Tells simulcast publishers which layers their subscribers still need (dynacast).
    pub fn update_dynacast(&self) {
        let now = Instant::now();
        let rooms = self.lock();
        for member in rooms.values().flat_map(|r| r.members.iter()) {
            for track in &member.tracks {
                if let Some(update) = track.quality_update(now) {
                    send(&member.tx, Out::SubscribedQualityUpdate(update));
                }
            }
        }
    }

    /// Closes the rooms empty for longer than their timeouts; returns how many.
    pub fn close_idle(&self) -> usize {
        let now = Instant::now();
        let mut rooms = self.lock();
        let expired: Vec<String> =
            rooms.iter().filter(|(_, r)| r.expired(now)).map(|(n, _)| n.clone()).collect();
        for name in &expired {
            if let Some(room) = rooms.remove(name) {
                tracing::info!(room = name, "room closed: empty");
                self.notify("room_finished", &room.info, None, None);
            }
        }
        expired.len()
    }

    /// Marks a participant ACTIVE (its primary connection is up) and tells the others.
    pub fn set_active(&self, room_name: &str, sid: &str) {
        self.update(room_name, sid, false, |info| {
            info.state = proto::participant_info::State::Active as i32;
        });
        let rooms = self.lock();
        if let Some(room) = rooms.get(room_name) {
            if let Some(m) = room.members.iter().find(|m| m.info.sid == sid) {
                self.notify("participant_joined", &room.info, Some(&m.info), None);
            }
        }
    }

    /// Changes a participant's info with `change`, bumps its version and announces it (to itself too when
    /// `tell_self`, as for metadata and attribute changes).
    pub fn update(
        &self,
        room_name: &str,
        sid: &str,
        tell_self: bool,
        change: impl FnOnce(&mut proto::ParticipantInfo),
    ) {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_name) else { return };
        let Some(member) = room.members.iter_mut().find(|m| m.info.sid == sid) else { return };
        change(&mut member.info);
        member.info.version += 1;
        let info = member.info.clone();
        if is_hidden(&info) {
            return;
        }
        broadcast(room, if tell_self { None } else { Some(sid) }, &info);
        if tell_self {
            if let Some(me) = room.members.iter().find(|m| m.info.sid == sid) {
                send(&me.tx, Out::Update(proto::ParticipantUpdate { participants: vec![info] }));
            }
        }
    }

    /// Adds a published track to its publisher, announces it, and subscribes every auto-subscribing member.
    pub fn publish(&self, room_name: &str, sid: &str, track: Arc<PublishedTrack>) {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_name) else { return };
        let Some(member) = room.members.iter_mut().find(|m| m.info.sid == sid) else { return };
        member.info.tracks.push(track.info());
        member.info.is_publisher = true;
        member.info.version += 1;
        member.tracks.push(track.clone());
        let info = member.info.clone();
        let hidden = is_hidden(&info);
        if !hidden {
            broadcast(room, Some(sid), &info);
        }
        for other in room.members.iter().filter(|m| m.info.sid != sid) {
            if other.auto_subscribe && can_subscribe(&other.info) {
                let _ = other.tx.send(ToSession::Subscribe(track.clone()));
            }
        }
        let who = proto::ParticipantInfo {
            sid: info.sid.clone(),
            identity: info.identity.clone(),
            ..Default::default()
        };
        self.notify("track_published", &room.info, Some(&who), Some(&track.info()));
    }

    /// Takes one of `sid`'s tracks away (its publisher stopped sending it): its subscribers stop receiving
    /// it and everyone sees the participant without it.
    pub fn unpublish(&self, room_name: &str, sid: &str, track_sid: &str) {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_name) else { return };
        let Some(member) = room.members.iter_mut().find(|m| m.info.sid == sid) else { return };
        let Some(pos) = member.tracks.iter().position(|t| t.sid() == track_sid) else { return };
        let track = member.tracks.remove(pos);
        member.info.tracks.retain(|t| t.sid != track_sid);
        member.info.version += 1;
        let info = member.info.clone();
        for subscriber in track.subscribers() {
            if let Some(m) = room.members.iter().find(|m| m.info.sid == subscriber) {
                let _ = m.tx.send(ToSession::Unsubscribe(track_sid.to_owned()));
            }
        }
        if !is_hidden(&info) {
            broadcast(room, Some(sid), &info);
        }
        let who = proto::ParticipantInfo { sid: info.sid, identity: info.identity, ..Default::default() };
        self.notify("track_unpublished", &room.info, Some(&who), Some(&track.info()));
    }

    /// Mutes or unmutes a published track; `None` when the participant has no such track.
    pub fn set_muted(
        &self,
        room_name: &str,
        sid: &str,
        track_sid: &str,
        muted: bool,
    ) -> Option<proto::TrackInfo> {
        let track = self.track(room_name, track_sid).filter(|t| t.publisher == sid)?;
        let info = {
            let mut info = track.info.lock().unwrap_or_else(PoisonError::into_inner);
            info.muted = muted;
            info.clone()
        };
        self.update(room_name, sid, false, |p| {
            if let Some(t) = p.tracks.iter_mut().find(|t| t.sid == track_sid) {
                t.muted = muted;
            }
        });
        Some(info)
    }

    /// A published track by sid.
    pub fn track(&self, room_name: &str, track_sid: &str) -> Option<Arc<PublishedTrack>> {
        let rooms = self.lock();
        let room = rooms.get(room_name)?;
        room.members.iter().flat_map(|m| m.tracks.iter()).find(|t| t.sid() == track_sid).cloned()
    }

    /// Sends a stamped data packet to its destinations (everyone but the sender when none are named).
    pub fn relay(&self, room_name: &str, from_sid: &str, relay: Relay) {
        let rooms = self.lock();
        let Some(room) = rooms.get(room_name) else { return };
        let bytes = Arc::new(relay.bytes);
        for member in room.members.iter().filter(|m| m.info.sid != from_sid) {
            if relay.destinations.is_empty() || relay.destinations.contains(&member.info.identity) {
                let _ = member.tx.send(ToSession::Data(bytes.clone(), relay.kind));
            }
        }
    }

    /// Identities in a room, in join order.
    pub fn identities(&self, room_name: &str) -> Vec<String> {
        self.lock()
            .get(room_name)
            .map(|r| r.members.iter().map(|m| m.info.identity.clone()).collect())
            .unwrap_or_default()
    }
}

/// The server API's room operations (RoomService), by room name and participant identity.
impl Rooms {
    /// Creates a room (or returns the existing one) with the request's settings.
    pub fn create(&self, request: &proto::CreateRoomRequest) -> proto::Room {
        let mut rooms = self.lock();
        let room = self.open(&mut rooms, &request.name);
        if request.empty_timeout > 0 {
            room.info.empty_timeout = request.empty_timeout;
        }
        if request.departure_timeout > 0 {
            room.info.departure_timeout = request.departure_timeout;
        }
        if request.max_participants > 0 {
            room.info.max_participants = request.max_participants;
        }
        if !request.metadata.is_empty() {
            room.info.metadata = request.metadata.clone();
        }
        room.info.clone()
    }

    /// Rooms, all or those named.
    pub fn list(&self, names: &[String]) -> Vec<proto::Room> {
        let rooms = self.lock();
        let mut list: Vec<proto::Room> = rooms
            .values()
            .filter(|r| names.is_empty() || names.contains(&r.info.name))
            .map(|r| r.info.clone())
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Whether a room has reached its participant limit.
    pub fn is_full(&self, room_name: &str) -> bool {
        self.lock().get(room_name).is_some_and(|r| {
            r.info.max_participants > 0 && r.members.len() >= r.info.max_participants as usize
        })
    }

    /// Closes a room now: everyone is disconnected with `ROOM_DELETED`.
    pub fn delete(&self, room_name: &str) -> Result<(), RoomError> {
        let mut rooms = self.lock();
        let mut room = rooms.remove(room_name).ok_or(RoomError::NoRoom)?;
        for member in std::mem::take(&mut room.members) {
            send(&member.tx, Out::Leave(leave(proto::DisconnectReason::RoomDeleted)));
            let mut info = member.info.clone();
            info.state = proto::participant_info::State::Disconnected as i32;
            self.notify("participant_left", &room.info, Some(&info), None);
        }
        tracing::info!(room = room_name, "room deleted");
        self.notify("room_finished", &room.info, None, None);
        Ok(())
    }

    /// The participants of a room (hidden ones included, as LiveKit lists them).
    pub fn participants(&self, room_name: &str) -> Result<Vec<proto::ParticipantInfo>, RoomError> {
        let rooms = self.lock();
        let room = rooms.get(room_name).ok_or(RoomError::NoRoom)?;
        Ok(room.members.iter().map(|m| m.info.clone()).collect())
    }

    /// One participant.
    pub fn participant(&self, room_name: &str, identity: &str) -> Result<proto::ParticipantInfo, RoomError> {
        let rooms = self.lock();
        let room = rooms.get(room_name).ok_or(RoomError::NoRoom)?;
        room.member(identity).map(|m| m.info.clone()).ok_or(RoomError::NoParticipant)
    }

    fn sid_of(&self, room_name: &str, identity: &str) -> Result<String, RoomError> {
        self.participant(room_name, identity).map(|p| p.sid)
    }

    /// Disconnects a participant with `PARTICIPANT_REMOVED`.
    pub fn remove(&self, room_name: &str, identity: &str) -> Result<(), RoomError> {
        let sid = self.sid_of(room_name, identity)?;
        {
            let rooms = self.lock();
            if let Some(m) = rooms.get(room_name).and_then(|r| r.member(identity)) {
                send(&m.tx, Out::Leave(leave(proto::DisconnectReason::ParticipantRemoved)));
            }
        }
        self.leave(room_name, &sid, proto::DisconnectReason::ParticipantRemoved);
        Ok(())
    }

    /// Mutes (or unmutes) a participant's track, and tells its client to do the same.
    pub fn mute_track(
        &self,
        room_name: &str,
        identity: &str,
        track_sid: &str,
        muted: bool,
    ) -> Result<proto::TrackInfo, RoomError> {
        let sid = self.sid_of(room_name, identity)?;
        let info = self.set_muted(room_name, &sid, track_sid, muted).ok_or(RoomError::NoTrack)?;
        let rooms = self.lock();
        if let Some(m) = rooms.get(room_name).and_then(|r| r.member(identity)) {
            send(&m.tx, Out::Mute(proto::MuteTrackRequest { sid: track_sid.to_owned(), muted }));
        }
        Ok(info)
    }

    /// Changes a participant's name, metadata, attributes (an empty value deletes one) or permission.
    pub fn update_participant(
        &self,
        request: &proto::UpdateParticipantRequest,
    ) -> Result<proto::ParticipantInfo, RoomError> {
        let sid = self.sid_of(&request.room, &request.identity)?;
        self.update(&request.room, &sid, true, |info| {
            if !request.name.is_empty() {
                info.name = request.name.clone();
            }
            if !request.metadata.is_empty() {
                info.metadata = request.metadata.clone();
            }
            apply_attributes(&mut info.attributes, &request.attributes);
            if let Some(permission) = &request.permission {
                info.permission = Some(permission.clone());
            }
        });
        self.participant(&request.room, &request.identity)
    }

    /// Sends data from the server to everyone in the room, or to the identities named.
    pub fn send_data(&self, request: &proto::SendDataRequest) -> Result<(), RoomError> {
        if !self.lock().contains_key(&request.room) {
            return Err(RoomError::NoRoom);
        }
        let kind =
            proto::data_packet::Kind::try_from(request.kind).unwrap_or(proto::data_packet::Kind::Reliable);
        #[allow(deprecated)] // `kind` and the user packet's destinations: still read by the SDKs
        let packet = proto::DataPacket {
            kind: kind as i32,
            destination_identities: request.destination_identities.clone(),
            value: Some(proto::data_packet::Value::User(proto::UserPacket {
                payload: request.data.clone(),
                topic: request.topic.clone(),
                destination_identities: request.destination_identities.clone(),
                nonce: request.nonce.clone(),
                ..Default::default()
            })),
            ..Default::default()
        };
        use prost::Message as _;
        let relay = Relay {
            bytes: packet.encode_to_vec(),
            kind,
            destinations: request.destination_identities.clone(),
        };
        self.relay(&request.room, "", relay);
        Ok(())
    }

    /// Subscribes a participant to tracks, or unsubscribes it, on the server's initiative.
    pub fn update_subscriptions(
        &self,
        room_name: &str,
        identity: &str,
        track_sids: &[String],
        subscribe: bool,
    ) -> Result<(), RoomError> {
        let rooms = self.lock();
        let room = rooms.get(room_name).ok_or(RoomError::NoRoom)?;
        let member = room.member(identity).ok_or(RoomError::NoParticipant)?;
        for sid in track_sids {
            if subscribe {
                let track = room.members.iter().flat_map(|m| m.tracks.iter()).find(|t| &t.sid() == sid);
                let track = track.ok_or(RoomError::NoTrack)?;
                let _ = member.tx.send(ToSession::Subscribe(track.clone()));
            } else {
                let _ = member.tx.send(ToSession::Unsubscribe(sid.clone()));
            }
        }
        Ok(())
    }

    /// Replaces a room's metadata and tells everyone in it.
    pub fn update_room_metadata(&self, room_name: &str, metadata: &str) -> Result<proto::Room, RoomError> {
        let mut rooms = self.lock();
        let room = rooms.get_mut(room_name).ok_or(RoomError::NoRoom)?;
        room.info.metadata = metadata.to_owned();
        for member in &room.members {
            send(&member.tx, Out::RoomUpdate(proto::RoomUpdate { room: Some(room.info.clone()) }));
        }
        Ok(room.info.clone())
    }

    /// Stops every subscription to a departing member's tracks.
    fn unpublish_all(&self, room: &Room, member: Member) {
        let who = proto::ParticipantInfo {
            sid: member.info.sid.clone(),
            identity: member.info.identity.clone(),
            ..Default::default()
        };
        for track in member.tracks {
            let sid = track.sid();
            for subscriber in track.subscribers() {
                if let Some(m) = room.members.iter().find(|m| m.info.sid == subscriber) {
                    let _ = m.tx.send(ToSession::Unsubscribe(sid.clone()));
                }
            }
            self.notify("track_unpublished", &room.info, Some(&who), Some(&track.info()));
        }
    }
}

/// Sends `info` to every member but `except`.
fn broadcast(room: &Room, except: Option<&str>, info: &proto::ParticipantInfo) {
    for member in room.members.iter().filter(|m| Some(m.info.sid.as_str()) != except) {
        send(&member.tx, Out::Update(proto::ParticipantUpdate { participants: vec![info.clone()] }));
    }
}

/// A server-initiated disconnection.
fn leave(reason: proto::DisconnectReason) -> proto::LeaveRequest {
    proto::LeaveRequest {
        can_reconnect: false,
        reason: reason as i32,
        action: proto::leave_request::Action::Disconnect as i32,
        ..Default::default()
    }
}

/// Merges attribute changes: an empty value deletes the key (LiveKit's rule).
pub fn apply_attributes(attributes: &mut HashMap<String, String>, changes: &HashMap<String, String>) {
    for (k, v) in changes {
        if v.is_empty() {
            attributes.remove(k);
        } else {
            attributes.insert(k.clone(), v.clone());
        }
    }
}

fn is_hidden(info: &proto::ParticipantInfo) -> bool {
    info.permission.as_ref().is_some_and(|p| p.hidden)
}
