//! Live captions: what a transcription agent sends, as the application shows it — one event per change
//! of a segment (interim text growing, then final), with the speaker resolved.
//!
//! Two ways in, both sent by LiveKit's agents (older clients read only the second): text streams on topic
//! `lk.transcription` (attributes `lk.segment_id`, `lk.transcribed_track_id`, `lk.transcription_final`)
//! and legacy `Transcription` data packets. The same segment arriving both ways is shown once.
use std::collections::VecDeque;

use livekit_protocol as proto;

use crate::event::Event;
use crate::text_stream::Text;

/// Text-stream topic of captions.
pub const TOPIC: &str = "lk.transcription";
const SEGMENT: &str = "lk.segment_id";
const TRACK: &str = "lk.transcribed_track_id";
const FINAL: &str = "lk.transcription_final";
/// Segments remembered for de-duplication.
const REMEMBERED: usize = 256;

/// The packets a transcription agent sends for one caption: a text stream on [`TOPIC`] naming the segment
/// and the transcribed track (LiveKit's agents send the same).
pub fn packets(
    stream_id: &str,
    segment_id: &str,
    track_sid: &str,
    text: &str,
    is_final: bool,
    timestamp: i64,
) -> Vec<proto::DataPacket> {
    let attributes = [
        (SEGMENT.to_owned(), segment_id.to_owned()),
        (TRACK.to_owned(), track_sid.to_owned()),
        (FINAL.to_owned(), is_final.to_string()),
    ]
    .into();
    crate::text_stream::packets(stream_id, TOPIC, text, attributes, timestamp, &[])
}

/// Caption state: the last text shown per recent segment.
#[derive(Debug, Default)]
pub struct Captions {
    shown: VecDeque<(String, String, bool)>,
}

impl Captions {
    /// A text stream on [`TOPIC`], complete (`partial == false`) or as far as it arrived. `speaker_of`
    /// names the owner of a track sid, when known; otherwise the stream's sender is the speaker.
    pub fn from_stream(
        &mut self,
        text: &Text,
        partial: bool,
        speaker_of: impl Fn(&str) -> Option<String>,
    ) -> Option<Event> {
        if text.topic != TOPIC {
            return None;
        }
        let track = text.attributes.get(TRACK).cloned().unwrap_or_default();
        let segment = text.attributes.get(SEGMENT).cloned().unwrap_or_else(|| text.id.clone());
        let is_final = !partial && text.attributes.get(FINAL).is_some_and(|v| v == "true");
        let speaker = speaker_of(&track).unwrap_or_else(|| text.sender.clone());
        self.show(speaker, track, segment, text.text.clone(), is_final)
    }

    /// A legacy transcription packet: one event per changed segment.
    pub fn from_legacy(&mut self, transcription: &proto::Transcription) -> Vec<Event> {
        transcription
            .segments
            .iter()
            .filter_map(|s| {
                self.show(
                    transcription.transcribed_participant_identity.clone(),
                    transcription.track_id.clone(),
                    s.id.clone(),
                    s.text.clone(),
                    s.r#final,
                )
            })
            .collect()
    }

    fn show(
        &mut self,
        speaker: String,
        track_sid: String,
        segment_id: String,
        text: String,
        is_final: bool,
    ) -> Option<Event> {
        if segment_id.is_empty() || text.trim().is_empty() {
            return None;
        }
        match self.shown.iter_mut().find(|(id, _, _)| *id == segment_id) {
            // A final segment is settled: later copies (the other way in, a repeat) change nothing.
            Some((_, _, true)) => return None,
            Some((_, shown, _)) if *shown == text && !is_final => return None,
            Some(entry) => *entry = (segment_id.clone(), text.clone(), is_final),
            None => {
                if self.shown.len() == REMEMBERED {
                    self.shown.pop_front();
                }
                self.shown.push_back((segment_id.clone(), text.clone(), is_final));
            }
        }
        Some(Event::Caption { speaker, track_sid, segment_id, text, is_final })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn stream(id: &str, text: &str, segment: &str, is_final: bool) -> Text {
        Text {
            id: id.into(),
            sender: "agent".into(),
            topic: TOPIC.into(),
            text: text.into(),
            attributes: HashMap::from([
                (SEGMENT.to_owned(), segment.to_owned()),
                (TRACK.to_owned(), "TR_mic".to_owned()),
                (FINAL.to_owned(), is_final.to_string()),
            ]),
            timestamp: 0,
        }
    }

    fn caption(event: Option<Event>) -> Option<(String, String, bool)> {
        match event? {
            Event::Caption { speaker, text, is_final, .. } => Some((speaker, text, is_final)),
            _ => None,
        }
    }

    #[test]
    fn interim_then_final_with_the_tracks_owner_as_speaker() {
        let mut captions = Captions::default();
        let owner = |track: &str| (track == "TR_mic").then(|| "alice".to_owned());
        let got = caption(captions.from_stream(&stream("S1", "bon", "SG1", false), true, owner));
        assert_eq!(got, Some(("alice".into(), "bon".into(), false)));
        assert_eq!(
            caption(captions.from_stream(&stream("S1", "bon", "SG1", false), true, owner)),
            None,
            "unchanged"
        );
        let got = caption(captions.from_stream(&stream("S1", "bonjour", "SG1", true), false, owner));
        assert_eq!(got, Some(("alice".into(), "bonjour".into(), true)));
        // The legacy copy of a final segment is not shown again.
        let legacy = proto::Transcription {
            transcribed_participant_identity: "alice".into(),
            track_id: "TR_mic".into(),
            segments: vec![proto::TranscriptionSegment {
                id: "SG1".into(),
                text: "bonjour".into(),
                r#final: true,
                ..Default::default()
            }],
        };
        assert!(captions.from_legacy(&legacy).is_empty());
    }

    #[test]
    fn a_stream_still_open_is_never_final_and_unknown_tracks_name_the_sender() {
        let mut captions = Captions::default();
        let got = caption(captions.from_stream(&stream("S2", "hello", "SG2", true), true, |_| None));
        assert_eq!(got, Some(("agent".into(), "hello".into(), false)));
    }

    #[test]
    fn what_an_agent_sends_reads_back_as_a_final_caption_of_the_tracks_owner() {
        let mut assembler = crate::text_stream::Assembler::default();
        let mut texts = Vec::new();
        for mut packet in packets("TS_1", "SG9", "TR_bot", "Bonjour à tous", true, 5) {
            packet.participant_identity = "bot-1".into();
            if let Some(text) = assembler.push(&packet).unwrap() {
                texts.push(text);
            }
        }
        let [text] = &texts[..] else { panic!("{texts:?}") };
        let owner = |track: &str| (track == "TR_bot").then(|| "bot-1".to_owned());
        let event = Captions::default().from_stream(text, false, owner);
        assert!(
            matches!(&event, Some(Event::Caption { speaker, segment_id, text, is_final: true, .. }) if speaker == "bot-1" && segment_id == "SG9" && text == "Bonjour à tous"),
            "{event:?}"
        );
    }

    #[test]
    fn other_topics_and_empty_text_are_not_captions() {
        let mut captions = Captions::default();
        let mut chat = stream("S3", "hi", "SG3", true);
        chat.topic = "lk.chat".into();
        assert!(captions.from_stream(&chat, false, |_| None).is_none());
        assert!(captions.from_stream(&stream("S4", "  ", "SG4", true), false, |_| None).is_none());
    }
}
