//! What a session tells the application (the app, the CLI): one stream of typed events, in order.
use std::collections::HashMap;

use serde::Serialize;

/// A participant as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Participant {
    /// Server-assigned id (`PA_…`), new on every join.
    pub sid: String,
    /// Stable identity from the token.
    pub identity: String,
    /// Display name.
    pub name: String,
    /// Free-form metadata.
    pub metadata: String,
    /// Key/value attributes (Visio's raised hand is `handRaisedAt`).
    pub attributes: HashMap<String, String>,
    /// What it publishes (muted or not), in the server's order.
    pub tracks: Vec<PublishedTrack>,
}

/// A track a participant publishes, as the room sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PublishedTrack {
    /// Track sid (`TR_…`).
    pub sid: String,
    /// `audio` or `video`.
    pub kind: String,
    /// `camera`, `microphone`, `screen_share`, `screen_share_audio` or `unknown`.
    pub source: String,
    /// Muted by its publisher (or a moderator): nothing is sent.
    pub muted: bool,
    /// Largest picture width (video), 0 when unknown.
    pub width: u32,
    /// Largest picture height (video), 0 when unknown.
    pub height: u32,
}

/// Something that happened in the meeting.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The join succeeded.
    Joined {
        /// Room name.
        room: String,
        /// This client.
        local: Participant,
        /// Everyone already there.
        participants: Vec<Participant>,
    },
    /// Someone joined.
    ParticipantJoined {
        /// Who.
        participant: Participant,
    },
    /// Someone left.
    ParticipantLeft {
        /// Who.
        participant: Participant,
        /// LiveKit's reason (`CLIENT_INITIATED`, `PARTICIPANT_REMOVED`, …).
        reason: String,
    },
    /// A participant's name, metadata or attributes changed (the local one included).
    ParticipantUpdated {
        /// Who, as it is now.
        participant: Participant,
        /// Attribute keys that changed (removed ones included).
        changed_attributes: Vec<String>,
        /// Whether the metadata changed.
        metadata_changed: bool,
        /// Whether its tracks changed (published, unpublished, muted or unmuted).
        tracks_changed: bool,
    },
    /// A chat message, shown once whichever way it came (text stream or legacy packet).
    Chat {
        /// Message id.
        id: String,
        /// Sender identity.
        from: String,
        /// Text.
        text: String,
        /// Sender's time (ms since the epoch).
        timestamp: i64,
    },
    /// A remote track started arriving.
    TrackSubscribed {
        /// Publisher identity.
        participant: String,
        /// Track sid.
        track_sid: String,
        /// `audio` or `video`.
        kind: String,
        /// Codec mime type.
        codec: String,
    },
    /// The first picture of a remote video track was decoded.
    FirstFrame {
        /// Publisher identity.
        participant: String,
        /// Track sid.
        track_sid: String,
        /// Picture width.
        width: u32,
        /// Picture height.
        height: u32,
    },
    /// The server accepted one of this client's tracks and it is being sent.
    TrackPublished {
        /// `camera`, `microphone` or `screen_share`.
        source: String,
        /// Track sid.
        track_sid: String,
    },
    /// Publishing a source failed (device lost, encoder refused); the track sends nothing more.
    PublishFailed {
        /// `camera`, `microphone` or `screen_share`.
        source: String,
        /// What went wrong.
        reason: String,
    },
    /// One of this client's tracks was muted or unmuted (by the user or by a moderator).
    LocalMuted {
        /// `camera`, `microphone` or `screen_share`.
        source: String,
        /// Now muted.
        muted: bool,
    },
    /// A caption: a transcription segment appeared or changed (interim text grows, the final one
    /// settles it).
    Caption {
        /// Identity of who spoke.
        speaker: String,
        /// The transcribed track, when the agent said.
        track_sid: String,
        /// Segment id: later events with the same id replace its text.
        segment_id: String,
        /// The text so far.
        text: String,
        /// Whether the segment is settled.
        #[serde(rename = "final")]
        is_final: bool,
    },
    /// Someone reacted (Visio's floating emoji).
    Reaction {
        /// Identity.
        from: String,
        /// The emoji.
        emoji: String,
    },
    /// Another Visio notification (`participantWaiting` when someone knocks at the lobby, …).
    Notification {
        /// Identity of the sender (empty for the server).
        from: String,
        /// Its `type`.
        kind: String,
        /// Its `data`, as sent.
        data: serde_json::Value,
    },
    /// Congestion control changed how many video layers this client sends (a poorer network turns the
    /// larger ones off; they come back with the bandwidth).
    SendBandwidth {
        /// The send-side estimate, bits per second.
        estimate_bps: u64,
        /// Video layers being sent, every published video track together.
        video_layers: usize,
    },
    /// Who is speaking now, loudest first.
    ActiveSpeakers {
        /// Identities.
        identities: Vec<String>,
    },
    /// A participant's connection (this client's included) changed grade, as the server sees it from
    /// packet loss both ways.
    ConnectionQuality {
        /// Identity.
        participant: String,
        /// LiveKit's grade: `EXCELLENT`, `GOOD`, `POOR` or `LOST`.
        quality: String,
        /// 1 to 5 (LiveKit's mean-opinion-like score).
        score: f32,
    },
    /// The signalling connection dropped; the session is trying to resume.
    Reconnecting,
    /// The session could not be resumed and the meeting was joined again, as a new participant (new
    /// sid; published tracks announced again). [`Event::Reconnected`] follows.
    Rejoined {
        /// This client as it now is.
        local: Participant,
    },
    /// Back in the meeting (resumed or joined again), media flowing again.
    Reconnected,
    /// The meeting is over for this client.
    Disconnected {
        /// Why (LiveKit's reason, or what failed).
        reason: String,
    },
}
