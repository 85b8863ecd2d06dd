//! LiveKit text streams (chat on `lk.chat`, captions on `lk.transcription`): a header, chunks, a trailer,
//! each a `DataPacket`. Incoming streams are assembled per sender; outgoing text is cut into packets.
// `DataPacket.kind` is deprecated upstream, but LiveKit's SDKs still read it: set it.
#![allow(deprecated)]
use std::collections::{BTreeMap, HashMap};

use livekit_protocol as proto;
use proto::data_packet::Value;
use proto::data_stream;

/// Largest chunk LiveKit's SDKs send (bytes of UTF-8).
pub const MAX_CHUNK: usize = 15_000;
/// Streams open at once from all senders, at most: a sender that never finishes cannot grow memory.
const MAX_OPEN: usize = 64;
/// Largest text accepted in one stream.
const MAX_TEXT: usize = 1 << 20;

/// A finished text stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The stream id (LiveKit's SDKs use it as the chat message id).
    pub id: String,
    /// Who sent it (stamped by the server).
    pub sender: String,
    /// Its topic.
    pub topic: String,
    /// The text.
    pub text: String,
    /// Header attributes, updated by the trailer's.
    pub attributes: HashMap<String, String>,
    /// Sender's timestamp (ms since the epoch).
    pub timestamp: i64,
}

/// Why a stream was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// Too many streams open at once.
    #[error("too many text streams open at once")]
    TooManyOpen,
    /// The text grew past the limit.
    #[error("text stream {0} is larger than {MAX_TEXT} bytes")]
    TooLarge(String),
    /// The finished stream is not UTF-8.
    #[error("text stream {0} is not valid UTF-8")]
    NotUtf8(String),
}

struct Open {
    topic: String,
    attributes: HashMap<String, String>,
    timestamp: i64,
    chunks: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
}

/// Assembles incoming text streams.
#[derive(Default)]
pub struct Assembler {
    open: HashMap<(String, String), Open>,
}

impl std::fmt::Debug for Assembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembler").field("open", &self.open.len()).finish()
    }
}

impl Assembler {
    /// Takes one data packet; returns the stream it completes, if any. Packets that are not part of a text
    /// stream are ignored (`Ok(None)`).
    pub fn push(&mut self, packet: &proto::DataPacket) -> Result<Option<Text>, StreamError> {
        let sender = packet.participant_identity.clone();
        match &packet.value {
            Some(Value::StreamHeader(header)) => {
                let is_text =
                    matches!(header.content_header, Some(data_stream::header::ContentHeader::TextHeader(_)));
                if !is_text {
                    return Ok(None);
                }
                if self.open.len() >= MAX_OPEN {
                    return Err(StreamError::TooManyOpen);
                }
                let mut chunks = BTreeMap::new();
                let inline = header.inline_content.clone().unwrap_or_default();
                let bytes = inline.len();
                if !inline.is_empty() {
                    chunks.insert(0, inline);
                }
                let open = Open {
                    topic: header.topic.clone(),
                    attributes: header.attributes.clone(),
                    timestamp: header.timestamp,
                    chunks,
                    bytes,
                };
                self.open.insert((sender, header.stream_id.clone()), open);
                Ok(None)
            }
            Some(Value::StreamChunk(chunk)) => {
                let key = (sender, chunk.stream_id.clone());
                let Some(open) = self.open.get_mut(&key) else { return Ok(None) };
                open.bytes += chunk.content.len();
                if open.bytes > MAX_TEXT {
                    self.open.remove(&key);
                    return Err(StreamError::TooLarge(chunk.stream_id.clone()));
                }
                open.chunks.insert(chunk.chunk_index, chunk.content.clone());
                Ok(None)
            }
            Some(Value::StreamTrailer(trailer)) => {
                let Some(open) = self.open.remove(&(sender.clone(), trailer.stream_id.clone())) else {
                    return Ok(None);
                };
                let bytes: Vec<u8> = open.chunks.into_values().flatten().collect();
                let text =
                    String::from_utf8(bytes).map_err(|_| StreamError::NotUtf8(trailer.stream_id.clone()))?;
                let mut attributes = open.attributes;
                attributes.extend(trailer.attributes.clone());
                Ok(Some(Text {
                    id: trailer.stream_id.clone(),
                    sender,
                    topic: open.topic,
                    text,
                    attributes,
                    timestamp: open.timestamp,
                }))
            }
            _ => Ok(None),
        }
    }

    /// A stream of `topic` still open, as far as it arrived (its chunks from the first without a gap), for
    /// topics shown while they grow (captions). `None` for an unknown stream, another topic, or text cut
    /// inside a character.
    pub fn progress(&self, sender: &str, stream_id: &str, topic: &str) -> Option<Text> {
        let (key, open) = self.open.iter().find(|((s, id), _)| s == sender && id == stream_id)?;
        if open.topic != topic {
            return None;
        }
        let mut bytes = Vec::with_capacity(open.bytes);
        for (expected, (index, chunk)) in open.chunks.iter().enumerate() {
            if *index != expected as u64 {
                break;
            }
            bytes.extend_from_slice(chunk);
        }
        let text = String::from_utf8(bytes).ok()?;
        Some(Text {
            id: key.1.clone(),
            sender: key.0.clone(),
            topic: open.topic.clone(),
            text,
            attributes: open.attributes.clone(),
            timestamp: open.timestamp,
        })
    }

    /// Forgets everything a participant had in flight (it left).
    pub fn forget(&mut self, identity: &str) {
        self.open.retain(|(sender, _), _| sender != identity);
    }
}

/// The packets that send `text` as stream `id` on `topic` (header, chunks cut on character boundaries,
/// trailer), to `destinations` (everyone when empty).
pub fn packets(
    id: &str,
    topic: &str,
    text: &str,
    attributes: HashMap<String, String>,
    timestamp: i64,
    destinations: &[String],
) -> Vec<proto::DataPacket> {
    let wrap = |value: Value| proto::DataPacket {
        kind: proto::data_packet::Kind::Reliable as i32,
        destination_identities: destinations.to_vec(),
        value: Some(value),
        ..Default::default()
    };
    let header = data_stream::Header {
        stream_id: id.to_owned(),
        timestamp,
        topic: topic.to_owned(),
        mime_type: "text/plain".to_owned(),
        total_length: Some(text.len() as u64),
        attributes,
        content_header: Some(data_stream::header::ContentHeader::TextHeader(data_stream::TextHeader {
            operation_type: data_stream::OperationType::Create as i32,
            ..Default::default()
        })),
        ..Default::default()
    };
    let mut out = vec![wrap(Value::StreamHeader(header))];
    for (index, chunk) in chunks(text, MAX_CHUNK).enumerate() {
        out.push(wrap(Value::StreamChunk(data_stream::Chunk {
            stream_id: id.to_owned(),
            chunk_index: index as u64,
            content: chunk.as_bytes().to_vec(),
            ..Default::default()
        })));
    }
    out.push(wrap(Value::StreamTrailer(data_stream::Trailer {
        stream_id: id.to_owned(),
        ..Default::default()
    })));
    out
}

/// `text` in pieces of at most `max` bytes, never splitting a character.
fn chunks(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(identity: &str, mut packets: Vec<proto::DataPacket>) -> Vec<proto::DataPacket> {
        for p in &mut packets {
            p.participant_identity = identity.to_owned();
        }
        packets
    }

    #[test]
    fn a_long_text_goes_out_in_pieces_and_comes_back_whole() {
        let text = "é".repeat(MAX_CHUNK) + "fin"; // 2-byte characters straddle every chunk boundary
        let out = packets("S1", "lk.chat", &text, HashMap::new(), 42, &[]);
        assert_eq!(out.len(), 1 + 3 + 1);
        let mut assembler = Assembler::default();
        let mut done = None;
        for p in from("alice", out) {
            if let Some(t) = assembler.push(&p).unwrap() {
                done = Some(t);
            }
        }
        let done = done.unwrap();
        assert_eq!((done.id.as_str(), done.sender.as_str(), done.topic.as_str()), ("S1", "alice", "lk.chat"));
        assert_eq!(done.text, text);
        assert_eq!(done.timestamp, 42);
    }

    #[test]
    fn chunks_out_of_order_and_trailer_attributes() {
        let mut attributes = HashMap::new();
        attributes.insert("lk.segment_id".to_owned(), "seg-1".to_owned());
        let text = "bonjour à tous ".repeat(1500); // 2 chunks
        let mut out = from("bob", packets("S2", "lk.transcription", &text, attributes, 1, &[]));
        assert_eq!(out.len(), 4);
        if let Some(Value::StreamTrailer(t)) = &mut out.last_mut().unwrap().value {
            t.attributes.insert("lk.transcription_final".into(), "true".into());
        }
        let mut assembler = Assembler::default();
        for p in [&out[0], &out[2], &out[1]] {
            assert_eq!(assembler.push(p), Ok(None));
        }
        let done = assembler.push(&out[3]).unwrap().unwrap();
        assert_eq!(done.text, text);
        assert_eq!(done.attributes["lk.segment_id"], "seg-1");
        assert_eq!(done.attributes["lk.transcription_final"], "true");
    }

    #[test]
    fn two_senders_with_the_same_stream_id_stay_apart_and_garbage_is_refused() {
        let mut assembler = Assembler::default();
        let a = from("a", packets("same", "lk.chat", "from a", HashMap::new(), 0, &[]));
        let b = from("b", packets("same", "lk.chat", "from b", HashMap::new(), 0, &[]));
        for p in [&a[0], &b[0], &b[1]] {
            assert_eq!(assembler.push(p), Ok(None));
        }
        assert_eq!(assembler.push(&a[1]), Ok(None));
        assert_eq!(assembler.push(&b[2]).unwrap().unwrap().text, "from b");
        assert_eq!(assembler.push(&a[2]).unwrap().unwrap().text, "from a");
        // A chunk or trailer of an unknown stream is ignored; invalid UTF-8 is an error, not a panic.
        assert_eq!(assembler.push(&a[2]), Ok(None));
        let mut bad = from("c", packets("bad", "lk.chat", "x", HashMap::new(), 0, &[]));
        if let Some(Value::StreamChunk(c)) = &mut bad[1].value {
            c.content = vec![0xff, 0xfe];
        }
        assembler.push(&bad[0]).unwrap();
        assembler.push(&bad[1]).unwrap();
        assert_eq!(assembler.push(&bad[2]), Err(StreamError::NotUtf8("bad".into())));
        // Streams that never end are capped.
        for i in 0..MAX_OPEN {
            let p = from("d", packets(&format!("s{i}"), "t", "x", HashMap::new(), 0, &[]));
            assembler.push(&p[0]).unwrap();
        }
        let p = from("d", packets("one-more", "t", "x", HashMap::new(), 0, &[]));
        assert_eq!(assembler.push(&p[0]), Err(StreamError::TooManyOpen));
        assembler.forget("d");
        assert_eq!(assembler.push(&p[0]), Ok(None));
    }
}
