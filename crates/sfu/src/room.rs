//! Rooms and their participants: created on the first join, each member with the channel its signalling
//! connection drains. Membership changes are announced to the others as `ParticipantUpdate`s.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use livekit_protocol as proto;
use proto::signal_response::Message as Out;
use tokio::sync::mpsc::UnboundedSender;

use crate::auth::Admission;
use crate::data::Relay;
use crate::ids;
use crate::track::PublishedTrack;

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
}

impl std::fmt::Debug for ToSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Signal(m) => write!(f, "Signal({:?})", m.message.as_ref().map(std::mem::discriminant)),
            Self::Subscribe(t) => write!(f, "Subscribe({})", t.sid()),
            Self::Unsubscribe(sid) => write!(f, "Unsubscribe({sid})"),
            Self::Data(b, k) => write!(f, "Data({} bytes, {k:?})", b.len()),
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
}

struct Room {
    info: proto::Room,
    /// In join order.
    members: Vec<Member>,
}

/// All rooms of the server.
#[derive(Clone, Default)]
pub struct Rooms {
    inner: Arc<Mutex<HashMap<String, Room>>>,
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
        protocol: i32,
        auto_subscribe: bool,
    ) -> Joined {
        let (secs, millis) = now();
        let mut rooms = self.lock();
        let room = rooms.entry(admission.room.clone()).or_insert_with(|| Room {
            info: proto::Room {
                sid: ids::room(),
                name: admission.room.clone(),
                empty_timeout: 300,
                departure_timeout: 20,
                creation_time: secs,
                creation_time_ms: millis,
                ..Default::default()
            },
            members: Vec::new(),
        });
        let mut replaced = None;
        if let Some(pos) = room.members.iter().position(|m| m.info.identity == admission.identity) {
            let old = room.members.remove(pos);
            send(
                &old.tx,
                Out::Leave(proto::LeaveRequest {
                    can_reconnect: false,
                    reason: proto::DisconnectReason::DuplicateIdentity as i32,
                    action: proto::leave_request::Action::Disconnect as i32,
                    ..Default::default()
                }),
            );
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
            client_protocol: protocol,
            ..Default::default()
        };
        if let Some(old) = replaced {
            unpublish_all(room, old);
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
        room.members.push(Member { info: info.clone(), tx, tracks: Vec::new(), auto_subscribe });
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
        unpublish_all(room, member);
        if !is_hidden(&info) {
            broadcast(room, None, &info);
        }
        if room.members.is_empty() {
            rooms.remove(room_name);
        }
    }

    /// Marks a participant ACTIVE (its primary connection is up) and tells the others.
    pub fn set_active(&self, room_name: &str, sid: &str) {
        self.update(room_name, sid, false, |info| {
            info.state = proto::participant_info::State::Active as i32;
        });
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

/// Sends `info` to every member but `except`.
fn broadcast(room: &Room, except: Option<&str>, info: &proto::ParticipantInfo) {
    for member in room.members.iter().filter(|m| Some(m.info.sid.as_str()) != except) {
        send(&member.tx, Out::Update(proto::ParticipantUpdate { participants: vec![info.clone()] }));
    }
}

/// Stops every subscription to a departing member's tracks.
fn unpublish_all(room: &Room, member: Member) {
    for track in member.tracks {
        let sid = track.sid();
        for subscriber in track.subscribers() {
            if let Some(m) = room.members.iter().find(|m| m.info.sid == subscriber) {
                let _ = m.tx.send(ToSession::Unsubscribe(sid.clone()));
            }
        }
    }
}

fn is_hidden(info: &proto::ParticipantInfo) -> bool {
    info.permission.as_ref().is_some_and(|p| p.hidden)
}
