//! Who is speaking, from the audio-level header extension (RFC 6464) publishers put on every audio packet:
//! the level is −dBov, 0 the loudest and 127 silence. Each audio track accumulates its packets' levels over
//! an observation window; at the end of the window a participant speaks when enough of its packets were
//! louder than the threshold (LiveKit's active-speaker rule, with its defaults).
use std::sync::Mutex;
use std::sync::PoisonError;

/// Packets at least this loud (−dBov ≤ 35) count as voice.
pub const ACTIVE_LEVEL: u8 = 35;
/// Share of voice packets in a window for its participant to be speaking.
pub const MIN_ACTIVE_SHARE: f32 = 0.4;

/// One track's levels over the current window.
#[derive(Debug, Default)]
pub struct AudioLevels {
    window: Mutex<Window>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    packets: u32,
    active: u32,
    /// Sum of the linear levels of the active packets.
    active_linear: f32,
}

/// RFC 6464 level (−dBov) to a linear 0..1 amplitude.
pub fn linear(level: u8) -> f32 {
    10f32.powf(-f32::from(level.min(127)) / 20.0)
}

impl AudioLevels {
    /// Counts one packet's level.
    pub fn observe(&self, level: u8) {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        w.packets += 1;
        if level <= ACTIVE_LEVEL {
            w.active += 1;
            w.active_linear += linear(level);
        }
    }

    /// Ends the window: the speaking level (0..1) if this track carried speech, and starts a new window.
    pub fn take(&self) -> Option<f32> {
        let w = std::mem::take(&mut *self.window.lock().unwrap_or_else(PoisonError::into_inner));
        if w.packets == 0 || (w.active as f32) < MIN_ACTIVE_SHARE * w.packets as f32 {
            return None;
        }
        Some(w.active_linear / w.active as f32)
    }
}

/// The audio level of an RTP packet, from the extension's one byte (V bit and 7-bit level).
pub fn level_of(extension: &[u8]) -> Option<u8> {
    extension.first().map(|b| b & 0x7f)
}

/// The `a=extmap` id a session description gives the audio-level extension, if any.
pub fn extension_id(sdp: &str) -> Option<u8> {
    sdp.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("a=extmap:")?;
        let (id, uri) = rest.split_once(' ')?;
        let uri = uri.split_whitespace().next()?;
        if uri != crate::peer::AUDIO_LEVEL_URI {
            return None;
        }
        id.split('/').next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_needs_enough_loud_packets() {
        let levels = AudioLevels::default();
        assert_eq!(levels.take(), None, "no packets");
        for i in 0..25 {
            levels.observe(if i % 2 == 0 { 20 } else { 127 });
        }
        let speaking = levels.take().unwrap();
        assert!((speaking - linear(20)).abs() < 1e-6);
        // The window restarted: silence now.
        for _ in 0..25 {
            levels.observe(90);
        }
        assert_eq!(levels.take(), None);
        // A short click in silence is not speech.
        for i in 0..25 {
            levels.observe(if i == 3 { 10 } else { 127 });
        }
        assert_eq!(levels.take(), None);
    }

    #[test]
    fn extension_ids_from_sdp() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
                   a=extmap:3/sendrecv http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n";
        assert_eq!(extension_id(sdp), Some(1));
        assert_eq!(
            extension_id("a=extmap:4/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on"),
            Some(4)
        );
        assert_eq!(extension_id("a=extmap:x urn:ietf:params:rtp-hdrext:ssrc-audio-level"), None);
        assert_eq!(level_of(&[0x80 | 42]), Some(42));
        assert_eq!(level_of(&[]), None);
    }
}
