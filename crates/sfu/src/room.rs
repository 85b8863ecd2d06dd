//! Rooms and their participants: created on the first join, each member with the channel its signalling
//! connection drains. Membership changes are announced to the others as `ParticipantUpdate`s.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use livekit_protocol as proto;
use proto::signal_response::Message as Out;
use tokio::sync::mpsc::UnboundedSender;

use crate::auth::Admission;
use crate::ids;

/// The LiveKit server version whose protocol behaviour this server follows (docs/sfu-protocol.md).
pub const LIVEKIT_COMPAT_VERSION: &str = "1.9.0";

/// Where a participant's outgoing signalling messages go.
pub type SignalSender = UnboundedSender<proto::SignalResponse>;

#[derive(Debug)]
struct Member {
    info: proto::ParticipantInfo,
    signal: SignalSender,
}

#[derive(Debug)]
struct Room {
    info: proto::Room,
    /// By identity, in join order.
    members: Vec<Member>,
}

/// All rooms of the server.
#[derive(Debug, Clone, Default)]
pub struct Rooms {
    inner: Arc<Mutex<HashMap<String, Room>>>,
}

fn now() -> (i64, i64) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() as i64, d.as_millis() as i64)
}

fn send(to: &SignalSender, message: Out) {
    // A closed channel means that connection is going away; its own task cleans up.
    let _ = to.send(proto::SignalResponse { message: Some(message) });
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
    /// the same identity (which is told `DUPLICATE_IDENTITY`), and announces it to the others.
    pub fn join(&self, admission: &Admission, signal: SignalSender, protocol: i32) -> Joined {
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
        if let Some(pos) = room.members.iter().position(|m| m.info.identity == admission.identity) {
            let old = room.members.remove(pos);
            send(
                &old.signal,
                Out::Leave(proto::LeaveRequest {
                    can_reconnect: false,
                    reason: proto::DisconnectReason::DuplicateIdentity as i32,
                    action: proto::leave_request::Action::Disconnect as i32,
                    ..Default::default()
                }),
            );
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
        let others: Vec<proto::ParticipantInfo> =
            room.members.iter().filter(|m| !is_hidden(&m.info)).map(|m| m.info.clone()).collect();
        if !admission.permissions.hidden {
            for member in &room.members {
                send(
                    &member.signal,
                    Out::Update(proto::ParticipantUpdate { participants: vec![info.clone()] }),
                );
            }
        }
        let sid = info.sid.clone();
        room.members.push(Member { info: info.clone(), signal });
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
            // Media runs on two peer connections; the subscriber side is not primary until media exists.
            subscriber_primary: false,
            ping_interval: 5,
            ping_timeout: 15,
            ..Default::default()
        };
        Joined { response, sid }
    }

    /// Removes participant `sid` (if it is still the current connection of its identity) and tells the
    /// others it left. Empty rooms are dropped.
    pub fn leave(&self, room_name: &str, sid: &str) {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_name) else { return };
        let Some(pos) = room.members.iter().position(|m| m.info.sid == sid) else { return };
        let mut gone = room.members.remove(pos).info;
        gone.state = proto::participant_info::State::Disconnected as i32;
        gone.version += 1;
        room.info.num_participants = room.members.len() as u32;
        if !is_hidden(&gone) {
            for member in &room.members {
                send(
                    &member.signal,
                    Out::Update(proto::ParticipantUpdate { participants: vec![gone.clone()] }),
                );
            }
        }
        if room.members.is_empty() {
            rooms.remove(room_name);
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

fn is_hidden(info: &proto::ParticipantInfo) -> bool {
    info.permission.as_ref().is_some_and(|p| p.hidden)
}
