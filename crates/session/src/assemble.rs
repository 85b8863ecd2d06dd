//! RTP packets of one video stream → whole encoded frames, for H.264, VP8 and VP9. Packets are grouped by
//! RTP timestamp and reordered by sequence number; a frame is complete once its first packet (the codec's
//! partition head), its last (marker bit) and everything between are there. A frame that can no longer
//! complete (a newer one did) is dropped and reported, so that the receiver asks for a keyframe.
//!
//! Unlike webrtc-rs's `SampleBuilder` (two 65 536-slot tables per stream, several MB each), this keeps
//! only the packets of the frames in flight.
use std::collections::BTreeMap;

use bytes::Bytes;
use rtc::rtp;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::codec::vp9::Vp9Packet;
use rtc::rtp::packetizer::Depacketizer;

/// Frames in flight at most; older incomplete ones are given up.
const MAX_PENDING: usize = 8;
/// Packets in one frame at most (a 1080p keyframe is ~200).
const MAX_PACKETS: usize = 1500;

/// The video codecs a stream can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// H.264 (Annex B out).
    H264,
    /// VP8.
    Vp8,
    /// VP9.
    Vp9,
}

impl Codec {
    /// From an RTP mime type (`video/VP8`, …).
    pub fn from_mime(mime: &str) -> Option<Self> {
        match mime.to_ascii_lowercase().as_str() {
            "video/h264" => Some(Self::H264),
            "video/vp8" => Some(Self::Vp8),
            "video/vp9" => Some(Self::Vp9),
            _ => None,
        }
    }
}

enum Depack {
    H264(H264Packet),
    Vp8(Vp8Packet),
    Vp9(Vp9Packet),
}

impl Depack {
    fn new(codec: Codec) -> Self {
        match codec {
            Codec::H264 => Self::H264(H264Packet::default()),
            Codec::Vp8 => Self::Vp8(Vp8Packet::default()),
            Codec::Vp9 => Self::Vp9(Vp9Packet::default()),
        }
    }

    /// One packet's payload. The VP9 depacketizer keeps the reference list of every packet it ever read
    /// (rtc-rtp 0.21.1 never clears it) and fails from the fourth inter frame on: it gets a fresh state per
    /// packet, which it needs nothing from anyway.
    fn depacketize(&mut self, payload: &Bytes) -> Option<Bytes> {
        if let Self::Vp9(d) = self {
            *d = Vp9Packet::default();
        }
        self.inner().depacketize(payload).ok()
    }

    fn inner(&mut self) -> &mut dyn Depacketizer {
        match self {
            Self::H264(d) => d,
            Self::Vp8(d) => d,
            Self::Vp9(d) => d,
        }
    }
}

/// A complete encoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// RTP timestamp.
    pub timestamp: u32,
    /// The bitstream (H.264: Annex B). For VP9 with spatial layers (LiveKit's SDKs send L3T3), one entry
    /// per layer frame, lowest first, to be decoded in turn: the last one gives the picture.
    pub parts: Vec<Vec<u8>>,
    /// Frames given up on before this one (lost packets): the decoder needs a keyframe.
    pub lost_before: usize,
}

#[derive(Default)]
struct Pending {
    /// By extended sequence number.
    packets: BTreeMap<u64, (Bytes, bool)>,
}

/// Assembles one stream's frames.
pub struct Assembler {
    depack: Depack,
    pending: BTreeMap<u64, Pending>,
    /// Extended timestamp of the last frame handed out.
    last_out: Option<u64>,
    seq: Unwrapper,
    ts: Unwrapper,
    lost: usize,
}

impl std::fmt::Debug for Assembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembler").field("pending", &self.pending.len()).finish()
    }
}

/// Extends 16- or 32-bit wrapping counters to 64 bits.
#[derive(Default)]
struct Unwrapper {
    last: Option<u64>,
}

impl Unwrapper {
    fn extend(&mut self, value: u64, bits: u32) -> u64 {
        let span = 1u64 << bits;
        let Some(last) = self.last else {
            // Start well above zero so that values just before the first one stay positive.
            self.last = Some(value + span);
            return value + span;
        };
        let base = last - (last % span);
        let candidates = [base.wrapping_sub(span), base, base + span].map(|b| b.wrapping_add(value));
        let best = candidates.into_iter().min_by_key(|c| c.abs_diff(last)).unwrap_or(base + value);
        if best > last {
            self.last = Some(best);
        }
        best
    }
}

impl Assembler {
    /// An assembler for `codec`.
    pub fn new(codec: Codec) -> Self {
        Self {
            depack: Depack::new(codec),
            pending: BTreeMap::new(),
            last_out: None,
            seq: Unwrapper::default(),
            ts: Unwrapper::default(),
            lost: 0,
        }
    }

    /// Takes one packet; returns the frames it completes, oldest first.
    pub fn push(&mut self, packet: &rtp::Packet) -> Vec<Frame> {
        if packet.payload.is_empty() {
            return Vec::new(); // padding
        }
        let seq = self.seq.extend(u64::from(packet.header.sequence_number), 16);
        let ts = self.ts.extend(u64::from(packet.header.timestamp), 32);
        if self.last_out.is_some_and(|last| ts <= last) {
            return Vec::new(); // late: its frame was handed out or given up
        }
        let frame = self.pending.entry(ts).or_default();
        if frame.packets.len() < MAX_PACKETS {
            frame.packets.insert(seq, (packet.payload.clone(), packet.header.marker));
        }
        while self.pending.len() > MAX_PENDING {
            self.pending.pop_first();
            self.lost += 1;
        }
        let mut out = Vec::new();
        // Complete frames go out in timestamp order; older incomplete ones before them are lost.
        let complete: Vec<u64> =
            self.pending.iter().filter(|(_, f)| self.is_complete(f)).map(|(t, _)| *t).collect();
        for ts in complete {
            while let Some((&older, _)) = self.pending.first_key_value() {
                if older >= ts {
                    break;
                }
                self.pending.pop_first();
                self.lost += 1;
            }
            let Some(frame) = self.pending.remove(&ts) else { continue };
            self.last_out = Some(ts);
            let split_layers = matches!(self.depack, Depack::Vp9(_));
            let mut parts: Vec<Vec<u8>> = Vec::new();
            let mut ok = true;
            for (payload, _) in frame.packets.values() {
                let head = split_layers && self.depack.inner().is_partition_head(payload);
                match self.depack.depacketize(payload) {
                    Some(bytes) => match parts.last_mut() {
                        Some(part) if !head => part.extend_from_slice(&bytes),
                        _ => parts.push(bytes.to_vec()),
                    },
                    None => ok = false,
                }
            }
            parts.retain(|p| !p.is_empty());
            if ok && !parts.is_empty() {
                out.push(Frame { timestamp: ts as u32, parts, lost_before: std::mem::take(&mut self.lost) });
            } else {
                self.lost += 1;
            }
        }
        out
    }

    fn is_complete(&self, frame: &Pending) -> bool {
        let (Some((&first, (head, _))), Some((&last, (tail, marker)))) =
            (frame.packets.first_key_value(), frame.packets.last_key_value())
        else {
            return false;
        };
        let depack: &Depack = &self.depack;
        let (is_head, is_tail) = match depack {
            Depack::H264(d) => (d.is_partition_head(head), d.is_partition_tail(*marker, tail)),
            Depack::Vp8(d) => (d.is_partition_head(head), d.is_partition_tail(*marker, tail)),
            Depack::Vp9(d) => (d.is_partition_head(head), d.is_partition_tail(*marker, tail)),
        };
        is_head && is_tail && (last - first + 1) as usize == frame.packets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 packet: descriptor byte (start bit on the frame's first packet) and a body (VP8 needs ≥ 3 bytes).
    fn vp8(seq: u16, ts: u32, start: bool, marker: bool, body: &[u8]) -> rtp::Packet {
        let mut payload = vec![if start { 0x10 } else { 0x00 }];
        payload.extend_from_slice(body);
        rtp::Packet {
            header: rtp::Header { sequence_number: seq, timestamp: ts, marker, ..Default::default() },
            payload: Bytes::from(payload),
        }
    }

    #[test]
    fn reordered_packets_make_one_frame_and_a_loss_is_reported() {
        let mut a = Assembler::new(Codec::Vp8);
        // Frame 1 in three packets, arriving 3, 1, 2.
        assert!(a.push(&vp8(3, 100, false, true, b"CCC")).is_empty());
        assert!(a.push(&vp8(1, 100, true, false, b"AAA")).is_empty());
        let out = a.push(&vp8(2, 100, false, false, b"BBB"));
        assert_eq!(out, [Frame { timestamp: 100, parts: vec![b"AAABBBCCC".to_vec()], lost_before: 0 }]);
        // Frame 2 loses its middle packet; frame 3 completes: frame 2 is given up and reported.
        assert!(a.push(&vp8(4, 200, true, false, b"DDD")).is_empty());
        assert!(a.push(&vp8(6, 200, false, true, b"FFF")).is_empty());
        let out = a.push(&vp8(7, 300, true, true, b"GGG"));
        assert_eq!(out, [Frame { timestamp: 300, parts: vec![b"GGG".to_vec()], lost_before: 1 }]);
        // The missing packet arriving late changes nothing.
        assert!(a.push(&vp8(5, 200, false, false, b"EEE")).is_empty());
    }

    #[test]
    fn sequence_and_timestamp_wrap() {
        let mut a = Assembler::new(Codec::Vp8);
        assert_eq!(a.push(&vp8(65535, u32::MAX - 10, true, false, b"xxx")).len(), 0);
        let out = a.push(&vp8(0, u32::MAX - 10, false, true, b"yyy"));
        assert_eq!(out[0].parts, [b"xxxyyy".to_vec()]);
        let out = a.push(&vp8(1, 2990, true, true, b"zzz"));
        assert_eq!((out[0].timestamp, out[0].lost_before), (2990, 0));
    }

    #[test]
    fn vp9_inter_frames_keep_coming() {
        // Flexible mode, one reference (P_DIFF 1) per frame, as libwebrtc sends: rtc-rtp 0.21.1 alone
        // fails from the fourth such frame.
        let mut a = Assembler::new(Codec::Vp9);
        for i in 0..10u8 {
            let payload = Bytes::from(vec![0xdd, 0xe9, i, 0x02, 0x86, 0x00, 0x40, 0x92]);
            let header = rtp::Header {
                sequence_number: u16::from(i),
                timestamp: 3000 * u32::from(i),
                marker: true,
                ..Default::default()
            };
            let out = a.push(&rtp::Packet { header, payload });
            assert_eq!(out.len(), 1, "frame {i}");
            assert_eq!(out[0].parts, [vec![0x86, 0x00, 0x40, 0x92]]);
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut a = Assembler::new(Codec::H264);
        for i in 0..2000u16 {
            let payload = Bytes::from(vec![(i % 256) as u8; usize::from(i % 7)]);
            let header = rtp::Header {
                sequence_number: i.wrapping_mul(7919),
                timestamp: u32::from(i / 3),
                marker: i % 5 == 0,
                ..Default::default()
            };
            let _ = a.push(&rtp::Packet { header, payload });
        }
        assert!(a.pending.len() <= MAX_PENDING);
    }
}
