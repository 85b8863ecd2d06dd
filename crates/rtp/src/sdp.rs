//! Reading a negotiated session description: which payload type the other side accepted for a codec.
//!
//! An answer keeps the offer's payload-type numbers but may drop or reorder codecs; a sender must stamp
//! its packets with a type the answer kept, in the answer's order of preference.

/// The payload type an answer gives codec `name` (`"H264"`, `"opus"`, case-insensitive) in its first
/// media section of `kind` (`"audio"`, `"video"`), or in the section with `mid` when given. Among several
/// (H.264 profiles) the first in the section's preference order whose format parameters contain every
/// `key=value` of `fmtp_wanted` wins, else the first of that name.
pub fn payload_type(
    sdp: &str,
    kind: &str,
    mid: Option<&str>,
    name: &str,
    fmtp_wanted: &[&str],
) -> Option<u8> {
    let section = sections(sdp).find(|s| {
        s.kind == kind && mid.is_none_or(|m| s.lines.iter().any(|l| l.strip_prefix("a=mid:") == Some(m)))
    })?;
    let named: Vec<u8> = section.order.iter().copied().filter(|pt| section.is_codec(*pt, name)).collect();
    let fits = |pt: &u8| {
        let fmtp = section.attribute("a=fmtp:", *pt).unwrap_or("");
        let params: Vec<&str> = fmtp.split(';').map(str::trim).collect();
        fmtp_wanted.iter().all(|w| params.iter().any(|p| p.eq_ignore_ascii_case(w)))
    };
    named.iter().copied().find(fits).or(named.first().copied())
}

/// The `mid` of the media section that carries track `track_id` (its `a=msid:<stream> <track>` line).
pub fn mid_of_track(sdp: &str, track_id: &str) -> Option<String> {
    let section = sections(sdp).find(|s| carries_track(&s.lines, track_id))?;
    section.lines.iter().find_map(|l| l.strip_prefix("a=mid:")).map(str::to_owned)
}

/// Whether `sdp` still sends track `track_id`: a media section carries it (`a=msid:`) with a sending
/// direction (`sendonly`, `sendrecv` or none). A publisher that stops a track renegotiates with its section
/// `recvonly` or `inactive`, and without the `msid` line.
pub fn sends_track(sdp: &str, track_id: &str) -> bool {
    sections(sdp).any(|s| {
        let sending = !s.lines.iter().any(|l| matches!(*l, "a=recvonly" | "a=inactive"));
        sending && carries_track(&s.lines, track_id)
    })
}

/// `sdp` with codec `name` (`"VP9"`, case-insensitive) moved to the front of the `m=` line of the section
/// carrying track `track_id`, its retransmission types (`rtx` with `apt=` one of them) right after it: what
/// LiveKit's server does to a publisher's offer so that its answer picks the codec the client asked for in
/// `AddTrackRequest` (livekit-client leaves its offer in the browser's order, VP8 first). Unchanged when the
/// section or the codec is not there.
pub fn prefer_codec(sdp: &str, track_id: &str, name: &str) -> String {
    let mut out = Vec::new();
    let lines: Vec<&str> = sdp.split("\r\n").collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(m) = line.strip_prefix("m=") else {
            out.push(line.to_owned());
            i += 1;
            continue;
        };
        let end = lines[i + 1..].iter().position(|l| l.starts_with("m=")).map_or(lines.len(), |p| i + 1 + p);
        let body = &lines[i + 1..end];
        out.push(if carries_track(body, track_id) {
            reorder(m, body, name).unwrap_or_else(|| line.to_owned())
        } else {
            line.to_owned()
        });
        out.extend(body.iter().map(|l| (*l).to_owned()));
        i = end;
    }
    out.join("\r\n")
}

/// The `m=` line with `name`'s payload types (and their `rtx`) first.
fn reorder(m: &str, body: &[&str], name: &str) -> Option<String> {
    // m=<kind> <port> <proto> <fmt>…
    let head: Vec<&str> = m.split_whitespace().take(3).collect();
    if head.len() < 3 {
        return None;
    }
    let section = Section::new(m, body.to_vec());
    let preferred: Vec<u8> = section.order.iter().copied().filter(|pt| section.is_codec(*pt, name)).collect();
    if preferred.is_empty() {
        return None;
    }
    let rtx: Vec<u8> = section
        .order
        .iter()
        .copied()
        .filter(|pt| section.is_codec(*pt, "rtx"))
        .filter(|pt| {
            section
                .attribute("a=fmtp:", *pt)
                .and_then(|f| f.strip_prefix("apt="))
                .and_then(|a| a.parse().ok())
                .is_some_and(|apt: u8| preferred.contains(&apt))
        })
        .collect();
    let first: Vec<u8> = preferred.iter().chain(&rtx).copied().collect();
    let rest = section.order.iter().filter(|pt| !first.contains(pt));
    let formats: Vec<String> = first.iter().chain(rest).map(u8::to_string).collect();
    Some(format!("m={} {}", head.join(" "), formats.join(" ")))
}

struct Section<'a> {
    kind: &'a str,
    /// Payload types in the `m=` line's order (preference).
    order: Vec<u8>,
    lines: Vec<&'a str>,
}

/// Whether a section's lines carry track `track_id` (its `a=msid:<stream> <track>` line).
fn carries_track(lines: &[&str], track_id: &str) -> bool {
    lines
        .iter()
        .any(|l| l.strip_prefix("a=msid:").and_then(|v| v.split_whitespace().nth(1)) == Some(track_id))
}

impl<'a> Section<'a> {
    /// The section an `m=` line (without its `m=`) opens, with the lines that follow it.
    fn new(m: &'a str, lines: Vec<&'a str>) -> Self {
        let mut words = m.split_whitespace();
        let kind = words.next().unwrap_or("");
        // m=<kind> <port> <proto> <fmt>…
        let order = words.skip(2).filter_map(|w| w.parse().ok()).collect();
        Self { kind, order, lines }
    }

    /// Whether payload type `pt` is codec `name` (`a=rtpmap:<pt> <name>/…`, case-insensitive).
    fn is_codec(&self, pt: u8, name: &str) -> bool {
        self.attribute("a=rtpmap:", pt)
            .is_some_and(|map| map.split('/').next().is_some_and(|c| c.eq_ignore_ascii_case(name)))
    }

    /// The value of `prefix<pt> value` (`a=rtpmap:96 VP8/90000` → `VP8/90000`).
    fn attribute(&self, prefix: &str, pt: u8) -> Option<&'a str> {
        self.lines.iter().find_map(|l| {
            let rest = l.strip_prefix(prefix)?;
            let (number, value) = rest.split_once(' ')?;
            (number.parse::<u8>().ok()? == pt).then_some(value.trim())
        })
    }
}

fn sections(sdp: &str) -> impl Iterator<Item = Section<'_>> {
    let mut out = Vec::new();
    for line in sdp.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            out.push(Section::new(m, Vec::new()));
        } else if let Some(section) = out.last_mut() {
            section.lines.push(line);
        }
    }
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\n\
        o=- 1 1 IN IP4 0.0.0.0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n\
        a=mid:0\r\n\
        a=rtpmap:63 red/48000/2\r\n\
        a=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10;useinbandfec=1\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 104 102 125\r\n\
        a=mid:1\r\n\
        a=rtpmap:104 H264/90000\r\n\
        a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n\
        a=rtpmap:102 H264/90000\r\n\
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
        a=rtpmap:125 H264/90000\r\n\
        a=fmtp:125 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
        a=mid:2\r\n\
        a=rtpmap:96 VP8/90000\r\n";

    #[test]
    fn a_stopped_track_is_no_longer_sent() {
        let offer = "v=0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=mid:0\r\n\
            a=sendonly\r\n\
            a=msid:stream mic-1\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
            a=mid:1\r\n\
            a=sendrecv\r\n\
            a=msid:stream cam-1\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
            a=mid:2\r\n\
            a=inactive\r\n\
            a=msid:stream screen-1\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
            a=mid:3\r\n\
            a=recvonly\r\n";
        assert!(sends_track(offer, "mic-1"));
        assert!(sends_track(offer, "cam-1"));
        assert!(!sends_track(offer, "screen-1"), "an inactive section");
        assert!(!sends_track(offer, "share-2"), "a section without the track");
    }

    #[test]
    fn finds_the_codec_in_the_sections_preference_order() {
        assert_eq!(payload_type(ANSWER, "audio", None, "opus", &[]), Some(111));
        assert_eq!(payload_type(ANSWER, "audio", None, "RED", &[]), Some(63));
        assert_eq!(payload_type(ANSWER, "video", None, "h264", &[]), Some(104));
        assert_eq!(payload_type(ANSWER, "video", None, "H264", &["profile-level-id=42e01f"]), Some(125));
        // A wish the answer cannot meet falls back to the first of that name.
        assert_eq!(payload_type(ANSWER, "video", None, "H264", &["profile-level-id=640c1f"]), Some(104));
    }

    #[test]
    fn a_mid_picks_the_section() {
        assert_eq!(payload_type(ANSWER, "video", Some("2"), "VP8", &[]), Some(96));
        assert_eq!(payload_type(ANSWER, "video", Some("2"), "H264", &[]), None);
        assert_eq!(payload_type(ANSWER, "video", Some("9"), "VP8", &[]), None);
    }

    #[test]
    fn a_tracks_section_is_found_by_its_msid() {
        let offer =
            "m=audio 9 X 111\r\na=mid:0\r\na=msid:S1 mic\r\nm=video 9 X 96\r\na=mid:1\r\na=msid:S2 cam\r\n";
        assert_eq!(mid_of_track(offer, "cam").as_deref(), Some("1"));
        assert_eq!(mid_of_track(offer, "mic").as_deref(), Some("0"));
        assert_eq!(mid_of_track(offer, "screen"), None);
    }

    #[test]
    fn the_codec_asked_for_goes_first_in_its_tracks_section_only() {
        let offer = "v=0\r\nm=audio 9 X 111\r\na=msid:S mic\r\na=rtpmap:111 opus/48000/2\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 102\r\na=mid:1\r\na=msid:S cam\r\n\
            a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
            a=rtpmap:98 VP9/90000\r\na=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98\r\na=rtpmap:102 H264/90000\r\n";
        let munged = prefer_codec(offer, "cam", "vp9");
        assert!(munged.contains("m=video 9 UDP/TLS/RTP/SAVPF 98 99 96 97 102\r\n"), "{munged}");
        assert_eq!(munged.replace("98 99 96 97 102", "96 97 98 99 102"), offer, "nothing else changes");
        assert_eq!(payload_type(&munged, "video", None, "VP9", &[]), Some(98));
        assert_eq!(prefer_codec(offer, "screen", "vp9"), offer);
        assert_eq!(prefer_codec(offer, "cam", "av1"), offer);
        assert_eq!(prefer_codec("garbage\r\nm=\r\nm=video", "cam", "vp9"), "garbage\r\nm=\r\nm=video");
    }

    #[test]
    fn garbage_finds_nothing() {
        assert_eq!(payload_type("", "video", None, "VP8", &[]), None);
        assert_eq!(
            payload_type("m=video\r\na=rtpmap:x\r\na=rtpmap:300 VP8/90000", "video", None, "VP8", &[]),
            None
        );
    }
}
