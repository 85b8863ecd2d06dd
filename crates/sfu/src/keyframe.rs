//! Is this RTP payload the start of a keyframe? A subscriber can only start (or switch layers) on one.
//! Pure functions over the payload bytes; anything malformed is "not a keyframe", never a panic.

/// Video codecs the SFU forwards, as far as payload parsing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// H.264, RFC 6184 packetization.
    H264,
    /// VP8, RFC 7741.
    Vp8,
    /// VP9, the RTP payload format draft used by browsers.
    Vp9,
}

impl VideoCodec {
    /// From an SDP mime type (`video/VP8`, any case); `None` for audio and codecs without parsing here.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let name = mime.rsplit('/').next().unwrap_or(mime);
        match name.to_ascii_uppercase().as_str() {
            "H264" => Some(Self::H264),
            "VP8" => Some(Self::Vp8),
            "VP9" => Some(Self::Vp9),
            _ => None,
        }
    }
}

/// Whether `payload` is the first packet of a keyframe.
pub fn is_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::H264 => h264(payload),
        VideoCodec::Vp8 => vp8(payload),
        VideoCodec::Vp9 => vp9(payload),
    }
}

const H264_IDR: u8 = 5;
const H264_SPS: u8 = 7;
const H264_STAP_A: u8 = 24;
const H264_FU_A: u8 = 28;

/// An IDR slice or an SPS (encoders send SPS/PPS right before the IDR, often in one STAP-A).
fn h264(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else { return false };
    match first & 0x1f {
        H264_IDR | H264_SPS => true,
        H264_STAP_A => {
            let mut rest = &payload[1..];
            while rest.len() >= 3 {
                let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                if size == 0 || rest.len() < 2 + size {
                    return false;
                }
                if matches!(rest[2] & 0x1f, H264_IDR | H264_SPS) {
                    return true;
                }
                rest = &rest[2 + size..];
            }
            false
        }
        H264_FU_A => payload.get(1).is_some_and(|fu| fu & 0x80 != 0 && (fu & 0x1f) == H264_IDR),
        _ => false,
    }
}

/// The start of partition 0 of a frame whose header has the P (inter-frame) bit clear.
fn vp8(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else { return false };
    let start_of_partition = first & 0x10 != 0;
    let partition_id = first & 0x07;
    if !start_of_partition || partition_id != 0 {
        return false;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        // Extension byte: I (picture id), L (TL0PICIDX), T/K (TID/KEYIDX).
        let Some(&ext) = payload.get(at) else { return false };
        at += 1;
        if ext & 0x80 != 0 {
            let Some(&pid) = payload.get(at) else { return false };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1;
        }
        if ext & 0x30 != 0 {
            at += 1;
        }
    }
    payload.get(at).is_some_and(|header| header & 0x01 == 0)
}

/// Start of a frame (B) that is not inter-predicted (P clear), on the base spatial layer.
fn vp9(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else { return false };
    let inter_predicted = first & 0x40 != 0;
    let begins_frame = first & 0x08 != 0;
    if inter_predicted || !begins_frame {
        return false;
    }
    if first & 0x20 == 0 {
        // No layer indices: a single-layer stream.
        return true;
    }
    // Layer indices follow the optional picture id: TID(3) U(1) SID(3) D(1).
    let mut at = 1;
    if first & 0x80 != 0 {
        let Some(&pid) = payload.get(at) else { return false };
        at += if pid & 0x80 != 0 { 2 } else { 1 };
    }
    payload.get(at).is_some_and(|layers| (layers >> 1) & 0x07 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_single_nal_stap_a_and_fu_a() {
        assert!(is_keyframe(VideoCodec::H264, &[0x65, 0x88]));
        assert!(!is_keyframe(VideoCodec::H264, &[0x41, 0x9a]));
        // STAP-A carrying SPS (7) then PPS (8).
        assert!(is_keyframe(VideoCodec::H264, &[0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68]));
        // STAP-A with only a non-IDR slice.
        assert!(!is_keyframe(VideoCodec::H264, &[0x78, 0, 2, 0x41, 0x9a]));
        // FU-A: start of an IDR, middle of an IDR, start of a P slice.
        assert!(is_keyframe(VideoCodec::H264, &[0x7c, 0x85, 0]));
        assert!(!is_keyframe(VideoCodec::H264, &[0x7c, 0x05, 0]));
        assert!(!is_keyframe(VideoCodec::H264, &[0x7c, 0x81, 0]));
    }

    #[test]
    fn vp8_descriptor_variants() {
        // Minimal descriptor, S=1 PID=0, then a key frame header (P bit 0).
        assert!(is_keyframe(VideoCodec::Vp8, &[0x10, 0x50]));
        assert!(!is_keyframe(VideoCodec::Vp8, &[0x10, 0x51]));
        // Not the start of the partition.
        assert!(!is_keyframe(VideoCodec::Vp8, &[0x00, 0x50]));
        // X=1, I=1 with a 15-bit picture id, L=1, T=1 (as Chrome sends), then the key frame header.
        assert!(is_keyframe(VideoCodec::Vp8, &[0x90, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x50]));
        assert!(!is_keyframe(VideoCodec::Vp8, &[0x90, 0xe0, 0x81, 0x23, 0x05, 0x20, 0x51]));
    }

    #[test]
    fn vp9_descriptor_variants() {
        // B=1, P=0, no layers.
        assert!(is_keyframe(VideoCodec::Vp9, &[0x08]));
        assert!(!is_keyframe(VideoCodec::Vp9, &[0x48]));
        // I=1 (7-bit id), L=1, SID 0 / SID 1.
        assert!(is_keyframe(VideoCodec::Vp9, &[0xa8, 0x12, 0x00, 0x00]));
        assert!(!is_keyframe(VideoCodec::Vp9, &[0xa8, 0x12, 0x02, 0x00]));
    }

    #[test]
    fn garbage_is_never_a_keyframe_and_never_panics() {
        for codec in [VideoCodec::H264, VideoCodec::Vp8, VideoCodec::Vp9] {
            assert!(!is_keyframe(codec, &[]));
            for len in 1..12 {
                let _ = is_keyframe(codec, &vec![0xff; len]);
                let _ = is_keyframe(codec, &vec![0x80; len]);
            }
        }
        assert!(!is_keyframe(VideoCodec::H264, &[0x78, 0xff, 0xff, 0x65]));
    }

    #[test]
    fn mime_names() {
        assert_eq!(VideoCodec::from_mime("video/VP8"), Some(VideoCodec::Vp8));
        assert_eq!(VideoCodec::from_mime("video/h264"), Some(VideoCodec::H264));
        assert_eq!(VideoCodec::from_mime("audio/opus"), None);
    }
}
