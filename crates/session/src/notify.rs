//! Visio's in-meeting notifications: reliable user packets with no topic carrying JSON `{type, data?}`.
//! Reactions are `{"type": "reactionReceived", "data": {"emoji": "👍"}}`; the lobby's knock is
//! `{"type": "participantWaiting"}`; other types are passed on as they are, for the app to show or ignore.
use livekit_protocol as proto;
use serde::{Deserialize, Serialize};

use crate::event::Event;

/// Type of a reaction.
pub const REACTION: &str = "reactionReceived";
/// Longest notification read (a reaction is ~60 bytes).
const MAX_PAYLOAD: usize = 16 * 1024;
/// Longest emoji accepted: one grapheme with modifiers and joiners fits easily.
const MAX_EMOJI: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
struct Notification {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    data: serde_json::Value,
}

/// A user packet; an event if it is a Visio notification.
pub fn from_packet(from: &str, packet: &proto::UserPacket) -> Option<Event> {
    if packet.topic.as_deref().is_some_and(|t| !t.is_empty()) || packet.payload.len() > MAX_PAYLOAD {
        return None;
    }
    let notification: Notification = match serde_json::from_slice(&packet.payload) {
        Ok(n) => n,
        Err(e) => {
            tracing::debug!(from, error = %e, "unreadable notification");
            return None;
        }
    };
    if notification.kind == REACTION {
        let emoji = notification.data.get("emoji")?.as_str()?;
        if emoji.is_empty() || emoji.len() > MAX_EMOJI {
            return None;
        }
        return Some(Event::Reaction { from: from.to_owned(), emoji: emoji.to_owned() });
    }
    Some(Event::Notification { from: from.to_owned(), kind: notification.kind, data: notification.data })
}

/// The packet that sends a reaction to everyone.
#[allow(deprecated)] // `kind`: still read by servers and clients that predate per-channel kinds
pub fn reaction(emoji: &str) -> proto::DataPacket {
    let notification = Notification { kind: REACTION.into(), data: serde_json::json!({ "emoji": emoji }) };
    proto::DataPacket {
        kind: proto::data_packet::Kind::Reliable as i32,
        value: Some(proto::data_packet::Value::User(proto::UserPacket {
            payload: serde_json::to_vec(&notification).unwrap_or_default(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(payload: &str, topic: Option<&str>) -> proto::UserPacket {
        proto::UserPacket { payload: payload.into(), topic: topic.map(Into::into), ..Default::default() }
    }

    #[test]
    fn a_reaction_round_trips() {
        let Some(proto::data_packet::Value::User(packet)) = reaction("🎉").value else {
            panic!("not a user packet")
        };
        assert_eq!(
            from_packet("alice", &packet),
            Some(Event::Reaction { from: "alice".into(), emoji: "🎉".into() })
        );
    }

    #[test]
    fn other_notifications_pass_with_their_data() {
        let event = from_packet("server", &user(r#"{"type":"participantWaiting"}"#, None));
        assert_eq!(
            event,
            Some(Event::Notification {
                from: "server".into(),
                kind: "participantWaiting".into(),
                data: serde_json::Value::Null
            })
        );
    }

    #[test]
    fn chat_topics_garbage_and_bad_reactions_are_not_notifications() {
        assert_eq!(from_packet("a", &user(r#"{"type":"x"}"#, Some("lk-chat-topic"))), None);
        assert_eq!(from_packet("a", &user("not json", None)), None);
        assert_eq!(from_packet("a", &user(r#"{"type":"reactionReceived"}"#, None)), None);
        assert_eq!(from_packet("a", &user(r#"{"type":"reactionReceived","data":{"emoji":""}}"#, None)), None);
        let long = format!(r#"{{"type":"reactionReceived","data":{{"emoji":"{}"}}}}"#, "x".repeat(40));
        assert_eq!(from_packet("a", &user(&long, None)), None);
    }
}
