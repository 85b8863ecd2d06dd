//! Relaying `DataPacket`s (chat, captions, reactions, RPC, user data) the way LiveKit does: the sender is
//! stamped by the server (a client cannot speak for someone else), destinations are honoured, and what is
//! not for other clients is dropped. Pure: bytes in, a stamped packet and its recipients out.
// LiveKit marks several fields deprecated in favour of newer ones, but the SDKs in use still read them:
// fill both.
#![allow(deprecated)]
use livekit_protocol as proto;
use prost::Message as _;
use proto::data_packet::{Kind, Value};

/// Who sent a packet, as the server knows them.
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    /// Participant sid.
    pub sid: &'a str,
    /// Identity.
    pub identity: &'a str,
    /// Hidden participants relay without a name.
    pub hidden: bool,
    /// Agents may publish transcriptions.
    pub agent: bool,
}

/// Why a packet was not relayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DataError {
    /// The bytes are not a `DataPacket`.
    #[error("data packet does not parse: {0}")]
    Malformed(String),
    /// The sender's token does not allow data.
    #[error("sender may not publish data")]
    NotAllowed,
    /// A kind the server consumes or refuses to relay (metrics, transcriptions from non-agents, empty).
    #[error("data packet not relayed: {0}")]
    NotRelayed(&'static str),
}

/// A packet ready to send, and to whom.
#[derive(Debug, Clone, PartialEq)]
pub struct Relay {
    /// Re-encoded, stamped packet.
    pub bytes: Vec<u8>,
    /// Reliable or lossy, as it came in.
    pub kind: Kind,
    /// Identities to deliver to; empty = everyone but the sender.
    pub destinations: Vec<String>,
}

/// Checks and stamps a packet received from `sender` on a channel of `kind`.
pub fn stamp(
    bytes: &[u8],
    kind: Kind,
    sender: &Sender<'_>,
    can_publish_data: bool,
) -> Result<Relay, DataError> {
    if !can_publish_data {
        return Err(DataError::NotAllowed);
    }
    let mut packet = proto::DataPacket::decode(bytes).map_err(|e| DataError::Malformed(e.to_string()))?;
    let identity = if sender.hidden { String::new() } else { sender.identity.to_owned() };
    match &mut packet.value {
        None => return Err(DataError::NotRelayed("empty")),
        Some(Value::Metrics(_)) => return Err(DataError::NotRelayed("metrics")),
        Some(Value::Transcription(_)) if !sender.agent => {
            return Err(DataError::NotRelayed("transcription from a non-agent"))
        }
        Some(Value::User(user)) => {
            user.participant_sid = sender.sid.to_owned();
            user.participant_identity = identity.clone();
            // Old clients name destinations inside the user packet, new ones on the packet: mirror both.
            if packet.destination_identities.is_empty() {
                packet.destination_identities = user.destination_identities.clone();
            } else {
                user.destination_identities = packet.destination_identities.clone();
            }
        }
        Some(_) => {}
    }
    packet.participant_identity = identity;
    packet.participant_sid = sender.sid.to_owned();
    packet.kind = kind as i32;
    let destinations = packet.destination_identities.clone();
    Ok(Relay { bytes: packet.encode_to_vec(), kind, destinations })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender<'static> {
        Sender { sid: "PA_alice", identity: "alice", hidden: false, agent: false }
    }

    fn chat_header() -> proto::DataPacket {
        proto::DataPacket {
            participant_identity: "mallory".into(),
            value: Some(Value::StreamHeader(proto::data_stream::Header {
                stream_id: "s1".into(),
                topic: "lk.chat".into(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn the_server_stamps_the_real_sender() {
        let relay = stamp(&chat_header().encode_to_vec(), Kind::Reliable, &sender(), true).unwrap();
        let out = proto::DataPacket::decode(&relay.bytes[..]).unwrap();
        assert_eq!(out.participant_identity, "alice");
        assert_eq!(out.participant_sid, "PA_alice");
        assert_eq!(out.kind, Kind::Reliable as i32);
        assert!(relay.destinations.is_empty());
    }

    #[test]
    fn user_packets_mirror_destinations_and_sender() {
        let packet = proto::DataPacket {
            value: Some(Value::User(proto::UserPacket {
                payload: b"hi".to_vec(),
                destination_identities: vec!["bob".into()],
                topic: Some("t".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        let relay = stamp(&packet.encode_to_vec(), Kind::Lossy, &sender(), true).unwrap();
        assert_eq!(relay.destinations, vec!["bob".to_string()]);
        let out = proto::DataPacket::decode(&relay.bytes[..]).unwrap();
        let Some(Value::User(user)) = out.value else { panic!("not a user packet") };
        assert_eq!(user.participant_identity, "alice");
        assert_eq!(user.payload, b"hi");
        assert_eq!(out.destination_identities, vec!["bob".to_string()]);
    }

    #[test]
    fn refusals_say_why() {
        let bytes = chat_header().encode_to_vec();
        assert_eq!(stamp(&bytes, Kind::Reliable, &sender(), false), Err(DataError::NotAllowed));
        assert!(matches!(
            stamp(&[0xff, 0xff, 0xff], Kind::Reliable, &sender(), true),
            Err(DataError::Malformed(_))
        ));
        let transcription =
            proto::DataPacket { value: Some(Value::Transcription(Default::default())), ..Default::default() };
        assert!(matches!(
            stamp(&transcription.encode_to_vec(), Kind::Reliable, &sender(), true),
            Err(DataError::NotRelayed(_))
        ));
        let agent = Sender { agent: true, ..sender() };
        assert!(stamp(&transcription.encode_to_vec(), Kind::Reliable, &agent, true).is_ok());
    }

    #[test]
    fn hidden_senders_stay_anonymous() {
        let hidden = Sender { hidden: true, ..sender() };
        let relay = stamp(&chat_header().encode_to_vec(), Kind::Reliable, &hidden, true).unwrap();
        let out = proto::DataPacket::decode(&relay.bytes[..]).unwrap();
        assert_eq!(out.participant_identity, "");
    }
}
