//! Chat as LiveKit's clients (and Visio's web app) send it: a text stream on `lk.chat`, plus a legacy
//! `UserPacket` on `lk-chat-topic` for older clients, flagged `ignoreLegacy` when the stream went too. Each
//! message is shown once, whichever copies arrive.
// `DataPacket.kind` is deprecated upstream, but LiveKit's SDKs still read it: set it.
#![allow(deprecated)]
use std::collections::{HashSet, VecDeque};

use livekit_protocol as proto;
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::text_stream::{self, Text};

/// Topic of chat text streams.
pub const TOPIC: &str = "lk.chat";
/// Topic of the legacy chat packets.
pub const LEGACY_TOPIC: &str = "lk-chat-topic";
/// Message ids remembered to drop second copies.
const REMEMBERED: usize = 1024;

/// The legacy packet's JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Legacy {
    id: String,
    timestamp: i64,
    message: String,
    #[serde(default)]
    ignore_legacy: bool,
}

/// Incoming chat, deduplicated.
#[derive(Debug, Default)]
pub struct Chat {
    seen: HashSet<String>,
    order: VecDeque<String>,
}

impl Chat {
    fn first_time(&mut self, id: &str) -> bool {
        if !self.seen.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back(id.to_owned());
        if self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    /// A finished text stream on `lk.chat`.
    pub fn from_stream(&mut self, text: Text) -> Option<Event> {
        if text.topic != TOPIC || !self.first_time(&text.id) {
            return None;
        }
        Some(Event::Chat { id: text.id, from: text.sender, text: text.text, timestamp: text.timestamp })
    }

    /// A user packet; a chat event if it is a legacy chat message not sent as a stream too.
    pub fn from_legacy(&mut self, from: &str, packet: &proto::UserPacket) -> Option<Event> {
        if packet.topic.as_deref() != Some(LEGACY_TOPIC) {
            return None;
        }
        let legacy: Legacy = match serde_json::from_slice(&packet.payload) {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(from, error = %e, "unreadable legacy chat packet");
                return None;
            }
        };
        if legacy.ignore_legacy || !self.first_time(&legacy.id) {
            return None;
        }
        Some(Event::Chat {
            id: legacy.id,
            from: from.to_owned(),
            text: legacy.message,
            timestamp: legacy.timestamp,
        })
    }
}

/// The packets that send one chat message: the stream, then the legacy copy for older clients.
pub fn packets(id: &str, text: &str, timestamp: i64) -> Vec<proto::DataPacket> {
    let mut out = text_stream::packets(id, TOPIC, text, Default::default(), timestamp, &[]);
    let legacy = Legacy { id: id.to_owned(), timestamp, message: text.to_owned(), ignore_legacy: true };
    let payload = serde_json::to_vec(&legacy).unwrap_or_default();
    out.push(proto::DataPacket {
        kind: proto::data_packet::Kind::Reliable as i32,
        value: Some(proto::data_packet::Value::User(proto::UserPacket {
            payload,
            topic: Some(LEGACY_TOPIC.to_owned()),
            ..Default::default()
        })),
        ..Default::default()
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_stream::Assembler;

    #[test]
    fn a_message_sent_both_ways_is_shown_once() {
        let mut out = packets("M1", "bonjour", 7);
        for p in &mut out {
            p.participant_identity = "alice".into();
        }
        let mut assembler = Assembler::default();
        let mut chat = Chat::default();
        let mut events = Vec::new();
        for p in &out {
            match &p.value {
                Some(proto::data_packet::Value::User(user)) => events.extend(chat.from_legacy("alice", user)),
                _ => events.extend(assembler.push(p).unwrap().and_then(|t| chat.from_stream(t))),
            }
        }
        assert_eq!(
            events,
            [Event::Chat { id: "M1".into(), from: "alice".into(), text: "bonjour".into(), timestamp: 7 }]
        );
    }

    #[test]
    fn an_old_client_legacy_only_message_is_shown_and_garbage_is_not() {
        let mut chat = Chat::default();
        let old = proto::UserPacket {
            payload: br#"{"id":"L1","timestamp":5,"message":"salut"}"#.to_vec(),
            topic: Some(LEGACY_TOPIC.into()),
            ..Default::default()
        };
        assert!(matches!(chat.from_legacy("bob", &old), Some(Event::Chat { text, .. }) if text == "salut"));
        assert_eq!(chat.from_legacy("bob", &old), None);
        let garbage = proto::UserPacket {
            payload: b"{not json".to_vec(),
            topic: Some(LEGACY_TOPIC.into()),
            ..Default::default()
        };
        assert_eq!(chat.from_legacy("bob", &garbage), None);
    }
}
