//! Who is in the meeting: the room model built from `JoinResponse` and `ParticipantUpdate`s, as a pure
//! state machine that turns each update into the events the application needs.
use std::collections::HashMap;

use livekit_protocol as proto;

use crate::event::{Event, Participant, PublishedTrack};

/// The participants of one meeting, local one included.
#[derive(Debug, Default)]
pub struct Roster {
    local_sid: String,
    /// By sid; the version is the server's, to ignore stale updates.
    members: HashMap<String, (Participant, u32)>,
    /// Published track sid → its publisher's identity (captions name the speaker by track).
    track_owners: HashMap<String, String>,
}

fn participant(info: &proto::ParticipantInfo) -> Participant {
    Participant {
        sid: info.sid.clone(),
        identity: info.identity.clone(),
        name: info.name.clone(),
        metadata: info.metadata.clone(),
        attributes: info.attributes.clone(),
        tracks: info.tracks.iter().map(published_track).collect(),
    }
}

fn published_track(track: &proto::TrackInfo) -> PublishedTrack {
    let kind = match proto::TrackType::try_from(track.r#type) {
        Ok(proto::TrackType::Video) => "video",
        Ok(proto::TrackType::Audio) => "audio",
        _ => "data",
    };
    let source = match proto::TrackSource::try_from(track.source) {
        Ok(proto::TrackSource::Camera) => "camera",
        Ok(proto::TrackSource::Microphone) => "microphone",
        Ok(proto::TrackSource::ScreenShare) => "screen_share",
        Ok(proto::TrackSource::ScreenShareAudio) => "screen_share_audio",
        _ => "unknown",
    };
    PublishedTrack {
        sid: track.sid.clone(),
        kind: kind.into(),
        source: source.into(),
        muted: track.muted,
        width: track.width,
        height: track.height,
    }
}

fn is_hidden(info: &proto::ParticipantInfo) -> bool {
    info.permission.as_ref().is_some_and(|p| p.hidden)
}

impl Roster {
    /// The room as the join found it; the `Joined` event.
    pub fn join(&mut self, join: &proto::JoinResponse) -> Event {
        let (local, participants) = self.load(join);
        Event::Joined {
            room: join.room.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
            local,
            participants,
        }
    }

    /// Replaces the roster with the join's: this client and everyone else visible.
    fn load(&mut self, join: &proto::JoinResponse) -> (Participant, Vec<Participant>) {
        let local = join.participant.as_ref().map(participant).unwrap_or_else(|| Participant {
            sid: String::new(),
            identity: String::new(),
            name: String::new(),
            metadata: String::new(),
            attributes: HashMap::new(),
            tracks: Vec::new(),
        });
        self.local_sid = local.sid.clone();
        self.members.clear();
        self.track_owners.clear();
        for info in join.participant.iter().chain(&join.other_participants) {
            self.note_tracks(info);
        }
        if let Some(info) = &join.participant {
            self.members.insert(info.sid.clone(), (local.clone(), info.version));
        }
        let mut participants = Vec::new();
        for info in join.other_participants.iter().filter(|p| !is_hidden(p)) {
            let p = participant(info);
            self.members.insert(info.sid.clone(), (p.clone(), info.version));
            participants.push(p);
        }
        (local, participants)
    }

    /// The room as a new join (after a session could not be resumed) finds it: this client as it now is,
    /// and who left or arrived meanwhile, by identity.
    pub fn rejoin(&mut self, join: &proto::JoinResponse) -> (Participant, Vec<Event>) {
        let before: HashMap<String, Participant> = self
            .members
            .iter()
            .filter(|(sid, _)| **sid != self.local_sid)
            .map(|(_, (p, _))| (p.identity.clone(), p.clone()))
            .collect();
        let (local, participants) = self.load(join);
        let mut events: Vec<Event> = before
            .values()
            .filter(|old| !participants.iter().any(|p| p.identity == old.identity))
            .map(|old| Event::ParticipantLeft {
                participant: old.clone(),
                reason: proto::DisconnectReason::UnknownReason.as_str_name().into(),
            })
            .collect();
        events.extend(
            participants
                .into_iter()
                .filter(|p| !before.contains_key(&p.identity))
                .map(|participant| Event::ParticipantJoined { participant }),
        );
        (local, events)
    }

    /// Applies one `ParticipantUpdate`.
    pub fn update(&mut self, update: &proto::ParticipantUpdate) -> Vec<Event> {
        let mut events = Vec::new();
        for info in &update.participants {
            let gone = info.state == proto::participant_info::State::Disconnected as i32;
            if gone {
                self.track_owners.retain(|_, identity| *identity != info.identity);
            } else {
                self.note_tracks(info);
            }
            match self.members.get(&info.sid) {
                _ if gone => {
                    if info.sid == self.local_sid {
                        continue; // the server tells this client it left through a LeaveRequest
                    }
                    if let Some((p, _)) = self.members.remove(&info.sid) {
                        let reason = proto::DisconnectReason::try_from(info.disconnect_reason)
                            .unwrap_or(proto::DisconnectReason::UnknownReason);
                        events.push(Event::ParticipantLeft {
                            participant: p,
                            reason: reason.as_str_name().into(),
                        });
                    }
                }
                None if is_hidden(info) => {}
                None => {
                    // The same identity may come back under a new sid (a rejoin): the old one is gone.
                    let stale: Vec<String> = self
                        .members
                        .iter()
                        .filter(|(sid, (p, _))| p.identity == info.identity && **sid != self.local_sid)
                        .map(|(sid, _)| sid.clone())
                        .collect();
                    for sid in stale {
                        if let Some((p, _)) = self.members.remove(&sid) {
                            events.push(Event::ParticipantLeft {
                                participant: p,
                                reason: proto::DisconnectReason::DuplicateIdentity.as_str_name().into(),
                            });
                        }
                    }
                    let p = participant(info);
                    self.members.insert(info.sid.clone(), (p.clone(), info.version));
                    events.push(Event::ParticipantJoined { participant: p });
                }
                Some((_, version)) if info.version != 0 && info.version < *version => {}
                Some((old, _)) => {
                    let new = participant(info);
                    let mut changed_attributes: Vec<String> = new
                        .attributes
                        .iter()
                        .filter(|(k, v)| old.attributes.get(*k) != Some(*v))
                        .map(|(k, _)| k.clone())
                        .chain(old.attributes.keys().filter(|k| !new.attributes.contains_key(*k)).cloned())
                        .collect();
                    changed_attributes.sort();
                    let metadata_changed = old.metadata != new.metadata;
                    let name_changed = old.name != new.name;
                    let tracks_changed = old.tracks != new.tracks;
                    self.members.insert(info.sid.clone(), (new.clone(), info.version));
                    if metadata_changed || name_changed || tracks_changed || !changed_attributes.is_empty() {
                        events.push(Event::ParticipantUpdated {
                            participant: new,
                            changed_attributes,
                            metadata_changed,
                            tracks_changed,
                        });
                    }
                }
            }
        }
        events
    }

    fn note_tracks(&mut self, info: &proto::ParticipantInfo) {
        for track in &info.tracks {
            self.track_owners.insert(track.sid.clone(), info.identity.clone());
        }
    }

    /// Who published this track.
    pub fn track_owner(&self, track_sid: &str) -> Option<&str> {
        self.track_owners.get(track_sid).map(String::as_str)
    }

    /// The participant with this sid.
    pub fn by_sid(&self, sid: &str) -> Option<&Participant> {
        self.members.get(sid).map(|(p, _)| p)
    }

    /// Identities of these sids, in order, skipping unknown ones.
    pub fn identities(&self, sids: impl IntoIterator<Item = String>) -> Vec<String> {
        sids.into_iter().filter_map(|sid| self.by_sid(&sid).map(|p| p.identity.clone())).collect()
    }

    /// This client's identity.
    pub fn local_identity(&self) -> Option<&str> {
        self.by_sid(&self.local_sid).map(|p| p.identity.as_str())
    }

    /// Everyone else.
    pub fn remote(&self) -> impl Iterator<Item = &Participant> {
        self.members.iter().filter(|(sid, _)| **sid != self.local_sid).map(|(_, (p, _))| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sid: &str, identity: &str, version: u32) -> proto::ParticipantInfo {
        proto::ParticipantInfo {
            sid: sid.into(),
            identity: identity.into(),
            name: identity.to_uppercase(),
            version,
            state: proto::participant_info::State::Active as i32,
            ..Default::default()
        }
    }

    fn joined() -> Roster {
        let mut roster = Roster::default();
        let join = proto::JoinResponse {
            room: Some(proto::Room { name: "salle".into(), ..Default::default() }),
            participant: Some(info("PA_me", "me", 1)),
            other_participants: vec![info("PA_a", "alice", 1)],
            ..Default::default()
        };
        match roster.join(&join) {
            Event::Joined { room, local, participants } => {
                assert_eq!((room.as_str(), local.identity.as_str()), ("salle", "me"));
                assert_eq!(participants.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        roster
    }

    #[test]
    fn a_track_published_then_muted_updates_the_participant() {
        let mut roster = joined();
        let mut alice = info("PA_a", "alice", 2);
        alice.tracks.push(proto::TrackInfo {
            sid: "TR_cam".into(),
            r#type: proto::TrackType::Video as i32,
            source: proto::TrackSource::Camera as i32,
            width: 1280,
            height: 720,
            ..Default::default()
        });
        let events = roster.update(&proto::ParticipantUpdate { participants: vec![alice.clone()] });
        let [Event::ParticipantUpdated { participant, tracks_changed: true, .. }] = &events[..] else {
            panic!("{events:?}")
        };
        let camera = &participant.tracks[0];
        assert_eq!((camera.kind.as_str(), camera.source.as_str(), camera.muted), ("video", "camera", false));
        assert_eq!((camera.width, camera.height), (1280, 720));
        alice.version = 3;
        alice.tracks[0].muted = true;
        let events = roster.update(&proto::ParticipantUpdate { participants: vec![alice] });
        assert!(
            matches!(&events[..], [Event::ParticipantUpdated { participant, tracks_changed: true, metadata_changed: false, .. }] if participant.tracks[0].muted)
        );
    }

    #[test]
    fn joins_changes_and_leaves_become_events_once() {
        let mut roster = joined();
        let bob = info("PA_b", "bob", 1);
        let update = proto::ParticipantUpdate { participants: vec![bob.clone()] };
        assert!(
            matches!(&roster.update(&update)[..], [Event::ParticipantJoined { participant }] if participant.identity == "bob")
        );
        // The same info again: nothing new.
        assert!(roster.update(&update).is_empty());
        // An attribute set (Visio's raised hand), then an older version that must not undo it.
        let mut raised = bob.clone();
        raised.version = 3;
        raised.attributes.insert("handRaisedAt".into(), "2026-11-28T10:00:00Z".into());
        let events = roster.update(&proto::ParticipantUpdate { participants: vec![raised.clone()] });
        assert!(
            matches!(&events[..], [Event::ParticipantUpdated { changed_attributes, metadata_changed: false, .. }] if changed_attributes == &["handRaisedAt"])
        );
        let mut stale = bob.clone();
        stale.version = 2;
        assert!(roster.update(&proto::ParticipantUpdate { participants: vec![stale] }).is_empty());
        assert_eq!(roster.by_sid("PA_b").unwrap().attributes["handRaisedAt"], "2026-11-28T10:00:00Z");
        // Lowered: the key is reported as changed.
        let mut lowered = raised;
        lowered.version = 4;
        lowered.attributes.clear();
        let events = roster.update(&proto::ParticipantUpdate { participants: vec![lowered.clone()] });
        assert!(
            matches!(&events[..], [Event::ParticipantUpdated { changed_attributes, .. }] if changed_attributes == &["handRaisedAt"])
        );
        // Leaves.
        let mut gone = lowered;
        gone.state = proto::participant_info::State::Disconnected as i32;
        gone.disconnect_reason = proto::DisconnectReason::ClientInitiated as i32;
        let events = roster.update(&proto::ParticipantUpdate { participants: vec![gone.clone()] });
        assert!(
            matches!(&events[..], [Event::ParticipantLeft { reason, .. }] if reason == "CLIENT_INITIATED")
        );
        assert!(roster.update(&proto::ParticipantUpdate { participants: vec![gone] }).is_empty());
        assert_eq!(roster.remote().count(), 1);
    }

    #[test]
    fn a_rejoin_under_a_new_sid_replaces_the_old_participant_and_hidden_ones_stay_hidden() {
        let mut roster = joined();
        let events =
            roster.update(&proto::ParticipantUpdate { participants: vec![info("PA_a2", "alice", 1)] });
        assert!(
            matches!(&events[..], [Event::ParticipantLeft { .. }, Event::ParticipantJoined { participant }] if participant.sid == "PA_a2")
        );
        let mut recorder = info("PA_r", "egress", 1);
        recorder.permission = Some(proto::ParticipantPermission { hidden: true, ..Default::default() });
        assert!(roster.update(&proto::ParticipantUpdate { participants: vec![recorder] }).is_empty());
        assert_eq!(roster.identities(["PA_a2".to_string(), "PA_r".into(), "PA_me".into()]), ["alice", "me"]);
    }

    #[test]
    fn joining_again_reports_who_left_and_arrived_meanwhile() {
        let mut roster = joined();
        let join = proto::JoinResponse {
            participant: Some(info("PA_me2", "me", 1)),
            other_participants: vec![info("PA_c", "claire", 1)],
            ..Default::default()
        };
        let (local, events) = roster.rejoin(&join);
        assert_eq!(local.sid, "PA_me2");
        assert!(
            matches!(&events[..], [Event::ParticipantLeft { participant: a, .. }, Event::ParticipantJoined { participant: c }] if a.identity == "alice" && c.identity == "claire")
        );
        assert_eq!(roster.local_identity(), Some("me"));
        assert_eq!(roster.identities(["PA_c".to_string(), "PA_a".into()]), ["claire"]);
    }
}
