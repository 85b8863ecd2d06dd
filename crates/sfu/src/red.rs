//! Audio redundancy (RED, RFC 2198) as browsers send it: each packet carries the previous Opus frames
//! again before its own. A subscriber that did not accept RED gets plain Opus: the primary frame of each
//! packet, plus the frames of lost packets rebuilt from the redundancy of the next one (what LiveKit does).
use std::collections::HashMap;

use bytes::Bytes;

/// RED's media type.
pub const MIME: &str = "audio/red";

/// One block of a RED payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block's payload type (Opus's, normally).
    pub payload_type: u8,
    /// How far before the packet's timestamp this frame was (0 for the primary).
    pub timestamp_offset: u16,
    /// The frame.
    pub data: Bytes,
}

/// Why a RED payload could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedError {
    /// The headers or the block lengths run past the end of the payload.
    #[error("RED payload truncated")]
    Truncated,
}

/// The blocks of a RED payload, oldest first, the primary last.
pub fn parse(payload: &Bytes) -> Result<Vec<Block>, RedError> {
    let mut headers = Vec::new();
    let mut at = 0;
    // Redundant blocks have 4-byte headers (F=1 | PT | 14-bit timestamp offset | 10-bit length); the
    // primary's header is 1 byte (F=0 | PT) and its data runs to the end.
    loop {
        let first = *payload.get(at).ok_or(RedError::Truncated)?;
        let payload_type = first & 0x7f;
        if first & 0x80 == 0 {
            headers.push((payload_type, 0u16, None));
            at += 1;
            break;
        }
        let rest = payload.get(at + 1..at + 4).ok_or(RedError::Truncated)?;
        let timestamp_offset = (u16::from(rest[0]) << 6) | (u16::from(rest[1]) >> 2);
        let length = (usize::from(rest[1] & 0x03) << 8) | usize::from(rest[2]);
        headers.push((payload_type, timestamp_offset, Some(length)));
        at += 4;
    }
    let mut blocks = Vec::with_capacity(headers.len());
    for (payload_type, timestamp_offset, length) in headers {
        let end = match length {
            Some(length) => at + length,
            None => payload.len(),
        };
        if end > payload.len() {
            return Err(RedError::Truncated);
        }
        blocks.push(Block { payload_type, timestamp_offset, data: payload.slice(at..end) });
        at = end;
    }
    Ok(blocks)
}

/// A plain packet rebuilt from a RED packet: its sequence number, timestamp and Opus frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped {
    /// Sequence number (the RED packet's, or an earlier lost one's).
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// The Opus frame.
    pub data: Bytes,
}

/// Turns one publisher's RED stream into plain packets, filling gaps from the redundancy.
#[derive(Debug, Default)]
pub struct Unwrapper {
    last: Option<u16>,
}

/// Redundant frames only fill gaps this short (libwebrtc sends at most 2 older frames per packet).
const MAX_RECOVERED: u16 = 2;

impl Unwrapper {
    /// The plain packets for one RED packet, in order: frames of just-lost packets it carries, then its
    /// primary. Old or duplicate packets give their primary only (the forwarder orders them out).
    pub fn unwrap(
        &mut self,
        sequence: u16,
        timestamp: u32,
        payload: &Bytes,
    ) -> Result<Vec<Unwrapped>, RedError> {
        if payload.is_empty() {
            // Padding: passed on as such (the forwarder drops it without leaving a sequence gap).
            return Ok(vec![Unwrapped { sequence, timestamp, data: Bytes::new() }]);
        }
        let mut blocks = parse(payload)?;
        let Some(primary) = blocks.pop() else { return Err(RedError::Truncated) };
        let missing = match self.last {
            Some(last) if is_newer(sequence, last) => sequence.wrapping_sub(last).wrapping_sub(1),
            _ => 0,
        };
        if self.last.is_none_or(|last| is_newer(sequence, last)) {
            self.last = Some(sequence);
        }
        let mut out = Vec::with_capacity(1 + usize::from(missing.min(MAX_RECOVERED)));
        // The k-th block from the end (k = 1 the newest redundant one) repeats packet `sequence - k`.
        let recoverable = missing.min(MAX_RECOVERED).min(blocks.len() as u16);
        for k in (1..=recoverable).rev() {
            let block = &blocks[blocks.len() - usize::from(k)];
            if block.data.is_empty() {
                continue;
            }
            out.push(Unwrapped {
                sequence: sequence.wrapping_sub(k),
                timestamp: timestamp.wrapping_sub(u32::from(block.timestamp_offset)),
                data: block.data.clone(),
            });
        }
        out.push(Unwrapped { sequence, timestamp, data: primary.data });
        Ok(out)
    }
}

fn is_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// For each track the server offered a subscriber (by `a=msid` in `offer`), whether the subscriber's
/// `answer` accepted RED in that media section (matched by `a=mid`).
pub fn accepted_by_track(offer: &str, answer: &str) -> HashMap<String, bool> {
    let red_by_mid: HashMap<&str, bool> = sections(answer)
        .filter_map(|s| {
            let red = s.lines().filter_map(|l| l.strip_prefix("a=rtpmap:")).any(is_red_rtpmap);
            Some((attribute(s, "a=mid:")?, red))
        })
        .collect();
    sections(offer)
        .filter_map(|s| {
            let mid = attribute(s, "a=mid:")?;
            let track = attribute(s, "a=msid:")?.split_whitespace().nth(1)?;
            Some((track.to_owned(), *red_by_mid.get(mid)?))
        })
        .collect()
}

/// The server's answer to a publisher, rewritten so that the client sends RED: in each audio section whose
/// track (`a=msid` of the `offer`, by `a=mid`) `wants_red`, RED's payload type moves to the front of the
/// `m=` line, which is what the client's sender picks (LiveKit does the same). Sections without RED are
/// left alone.
pub fn prefer_in_answer(offer: &str, answer: &str, wants_red: impl Fn(&str) -> bool) -> String {
    let red_mids: Vec<&str> = sections(offer)
        .filter(|s| s.starts_with("audio"))
        .filter_map(|s| {
            let track = attribute(s, "a=msid:")?.split_whitespace().nth(1)?;
            wants_red(track).then_some(attribute(s, "a=mid:")?)
        })
        .collect();
    if red_mids.is_empty() {
        return answer.to_owned();
    }
    let mut out = String::with_capacity(answer.len());
    let mut parts = answer.split("\nm=");
    out.push_str(parts.next().unwrap_or_default());
    for section in parts {
        out.push_str("\nm=");
        let wanted = attribute(section, "a=mid:").is_some_and(|mid| red_mids.contains(&mid));
        let red_pt = section
            .lines()
            .filter_map(|l| l.strip_prefix("a=rtpmap:"))
            .find(|r| is_red_rtpmap(r))
            .and_then(|r| r.split_whitespace().next());
        match (wanted, red_pt, section.split_once("\r\n")) {
            (true, Some(pt), Some((m_line, rest))) => {
                // `audio 9 UDP/TLS/RTP/SAVPF 111 63` → `audio 9 UDP/TLS/RTP/SAVPF 63 111`
                let mut fields: Vec<&str> = m_line.split(' ').collect();
                if let Some(pos) = fields.iter().skip(3).position(|f| *f == pt) {
                    let red = fields.remove(pos + 3);
                    fields.insert(3, red);
                }
                out.push_str(&fields.join(" "));
                out.push_str("\r\n");
                out.push_str(rest);
            }
            _ => out.push_str(section),
        }
    }
    out
}

fn sections(sdp: &str) -> impl Iterator<Item = &str> {
    sdp.split("\nm=").skip(1)
}

fn attribute<'a>(section: &'a str, prefix: &str) -> Option<&'a str> {
    section.lines().find_map(|l| l.trim_end().strip_prefix(prefix))
}

/// Whether an `a=rtpmap:` value (`63 red/48000/2`) is RED.
fn is_red_rtpmap(value: &str) -> bool {
    value.split_whitespace().nth(1).is_some_and(|codec| codec.to_ascii_lowercase().starts_with("red/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A RED payload: `(timestamp offset, frame)` redundant blocks, then the primary frame.
    fn red(redundant: &[(u16, &[u8])], primary: &[u8]) -> Bytes {
        let mut out = Vec::new();
        for (offset, data) in redundant {
            let length = data.len();
            out.extend([
                0x80 | 111,
                (offset >> 6) as u8,
                ((offset << 2) as u8) | (length >> 8) as u8,
                length as u8,
            ]);
        }
        out.push(111);
        for (_, data) in redundant {
            out.extend_from_slice(data);
        }
        out.extend_from_slice(primary);
        Bytes::from(out)
    }

    #[test]
    fn parses_redundant_and_primary_blocks() {
        let payload = red(&[(1920, b"older"), (960, b"old")], b"primary");
        let blocks = parse(&payload).unwrap();
        let got: Vec<(u16, &[u8])> = blocks.iter().map(|b| (b.timestamp_offset, &b.data[..])).collect();
        assert_eq!(got, [(1920, &b"older"[..]), (960, b"old"), (0, b"primary")]);
        assert!(blocks.iter().all(|b| b.payload_type == 111));
        assert_eq!(parse(&red(&[], b"alone")).unwrap()[0].data, Bytes::from_static(b"alone"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(parse(&Bytes::new()), Err(RedError::Truncated));
        assert_eq!(parse(&Bytes::from_static(&[0x80 | 111, 0, 0])), Err(RedError::Truncated));
        // A block length past the end.
        assert_eq!(
            parse(&Bytes::from_static(&[0x80 | 111, 0, 0x03, 0xff, 111, 1, 2])),
            Err(RedError::Truncated)
        );
        // Headers that never end.
        assert_eq!(parse(&Bytes::from_static(&[0xff; 64])), Err(RedError::Truncated));
    }

    #[test]
    fn primaries_pass_and_lost_packets_come_back_from_redundancy() {
        let mut u = Unwrapper::default();
        let first = u.unwrap(10, 9600, &red(&[], b"f10")).unwrap();
        assert_eq!(first, [Unwrapped { sequence: 10, timestamp: 9600, data: Bytes::from_static(b"f10") }]);
        // 11 and 12 lost; 13 carries them.
        let next = u.unwrap(13, 12480, &red(&[(1920, b"f11"), (960, b"f12")], b"f13")).unwrap();
        let got: Vec<(u16, u32, &[u8])> =
            next.iter().map(|p| (p.sequence, p.timestamp, &p.data[..])).collect();
        assert_eq!(got, [(11, 10560, &b"f11"[..]), (12, 11520, b"f12"), (13, 12480, b"f13")]);
        // No loss: the redundant copies are not sent again.
        let next = u.unwrap(14, 13440, &red(&[(1920, b"f12"), (960, b"f13")], b"f14")).unwrap();
        assert_eq!(next.len(), 1);
        // A gap of 4 with 2 redundant frames: the two newest lost ones come back.
        let next = u.unwrap(19, 18240, &red(&[(1920, b"f17"), (960, b"f18")], b"f19")).unwrap();
        assert_eq!(next.iter().map(|p| p.sequence).collect::<Vec<_>>(), [17, 18, 19]);
        // Across the sequence wrap.
        let mut u = Unwrapper::default();
        u.unwrap(65535, 0, &red(&[], b"a")).unwrap();
        let next = u.unwrap(1, 1920, &red(&[(960, b"b")], b"c")).unwrap();
        assert_eq!(next.iter().map(|p| p.sequence).collect::<Vec<_>>(), [0, 1]);
        // A late packet gives its primary only.
        assert_eq!(u.unwrap(65534, 0, &red(&[(960, b"x")], b"y")).unwrap().len(), 1);
        // Padding passes as an empty packet.
        assert_eq!(u.unwrap(2, 2880, &Bytes::new()).unwrap()[0].data, Bytes::new());
    }

    #[test]
    fn the_answer_asks_publishers_for_red_where_they_want_it() {
        let offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=mid:0\r\na=msid:s mic\r\n\
                     m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=mid:1\r\na=msid:s stereo\r\n\
                     m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=msid:s cam\r\n";
        let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
                      a=rtpmap:63 red/48000/2\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=mid:1\r\n\
                      a=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2\r\n\
                      m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=rtpmap:96 VP8/90000\r\n";
        let munged = prefer_in_answer(offer, answer, |track| track != "stereo");
        assert!(munged.contains("m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\na=mid:0"), "{munged}");
        assert!(munged.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=mid:1"), "{munged}");
        assert_eq!(munged.len(), answer.len());
        assert_eq!(munged.replace("63 111\r\na=mid:0", "111 63\r\na=mid:0"), answer);
        // Nobody wants RED, or the answer has none: unchanged.
        assert_eq!(prefer_in_answer(offer, answer, |_| false), answer);
        let no_red = answer.replace(" 63", "").replace("a=rtpmap:63 red/48000/2\r\n", "");
        assert_eq!(prefer_in_answer(offer, &no_red, |_| true), no_red);
    }

    #[test]
    fn which_tracks_a_subscriber_takes_as_red() {
        let offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=mid:0\r\na=msid:PA_a|TR_1 TR_1\r\n\
                     m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=mid:1\r\na=msid:PA_b|TR_2 TR_2\r\n\
                     m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n";
        let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\na=mid:0\r\na=rtpmap:63 red/48000/2\r\n\
                      a=rtpmap:111 opus/48000/2\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n\
                      a=rtpmap:111 opus/48000/2\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n";
        let by_track = accepted_by_track(offer, answer);
        assert_eq!(by_track.get("TR_1"), Some(&true));
        assert_eq!(by_track.get("TR_2"), Some(&false));
        assert_eq!(by_track.len(), 2);
    }
}
