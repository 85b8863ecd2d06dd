//! One subscriber's view of one published track: which simulcast layer it gets, and how the packets of
//! that layer are renumbered so that the subscriber sees a single continuous RTP stream (its own SSRC,
//! sequence numbers without jumps, timestamps that keep moving forward) whatever layer they came from.
//!
//! A pure state machine: the caller feeds it each incoming packet's layer, sequence number, timestamp and
//! payload, and it answers what to send, if anything. Switching layers (and starting) waits for a keyframe
//! of the new layer; [`Forwarder::wanted_keyframe`] tells the caller which layer to ask one from.
use std::time::Instant;

use crate::keyframe::{is_keyframe, VideoCodec};
use crate::vp8::{Descriptor, Numbers, Renumber};

/// What to do with one incoming packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it with these rewritten numbers.
    Forward {
        /// Outgoing sequence number.
        sequence: u16,
        /// Outgoing RTP timestamp.
        timestamp: u32,
        /// VP8 only: the picture numbering to write into the payload descriptor.
        vp8: Option<Numbers>,
    },
    /// Not for this subscriber (another layer, paused, or waiting for a keyframe).
    Drop,
}

/// Per-subscriber layer selection and RTP renumbering.
#[derive(Debug)]
pub struct Forwarder {
    /// `None` for audio: every packet is a valid starting point.
    codec: Option<VideoCodec>,
    clock_rate: u32,
    /// The layer this subscriber should get; `None` = paused.
    target: Option<u8>,
    /// The layer being forwarded now.
    current: Option<u8>,
    /// First incoming sequence number forwarded on the current layer: older ones belong to before the switch.
    switch_sequence: u16,
    sequence_offset: u16,
    timestamp_offset: u32,
    last: Option<Sent>,
    vp8: Renumber,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    sequence: u16,
    timestamp: u32,
    at: Instant,
}

/// `a` comes after `b` in 16-bit sequence space.
fn seq_after(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// `a` comes after `b` in 32-bit timestamp space.
fn ts_after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

impl Forwarder {
    /// A forwarder for a track of `codec` (`None` = audio) clocked at `clock_rate` Hz, starting on `target`.
    pub fn new(codec: Option<VideoCodec>, clock_rate: u32, target: Option<u8>) -> Self {
        Self {
            codec,
            clock_rate,
            target,
            current: None,
            switch_sequence: 0,
            sequence_offset: 0,
            timestamp_offset: 0,
            last: None,
            vp8: Renumber::default(),
        }
    }

    /// Chooses the layer to forward (`None` pauses). The switch happens on the new layer's next keyframe;
    /// until then the current layer keeps flowing.
    pub fn set_target(&mut self, target: Option<u8>) {
        self.target = target;
        if target.is_none() {
            self.current = None;
        }
    }

    /// The layer wanted.
    pub fn target(&self) -> Option<u8> {
        self.target
    }

    /// The layer being forwarded now.
    pub fn current(&self) -> Option<u8> {
        self.current
    }

    /// The layer a keyframe is needed from before this subscriber can start or switch, if any.
    pub fn wanted_keyframe(&self) -> Option<u8> {
        match (self.target, self.current) {
            (Some(t), c) if c != Some(t) && self.codec.is_some() => Some(t),
            _ => None,
        }
    }

    /// Decides the fate of one incoming packet of layer `layer`.
    pub fn on_packet(
        &mut self,
        layer: u8,
        sequence: u16,
        timestamp: u32,
        payload: &[u8],
        now: Instant,
    ) -> Verdict {
        let Some(target) = self.target else { return Verdict::Drop };
        let numbers = match self.codec {
            Some(VideoCodec::Vp8) => Descriptor::parse(payload).map(|d| d.read(payload)),
            _ => None,
        };
        if self.current != Some(target) && layer == target {
            let startable = match self.codec {
                None => true,
                Some(codec) => is_keyframe(codec, payload),
            };
            if startable {
                self.switch_to(layer, sequence, timestamp, now);
                if let Some(n) = numbers {
                    self.vp8.switch(n);
                }
            }
        }
        if self.current != Some(layer) {
            return Verdict::Drop;
        }
        if seq_after(self.switch_sequence, sequence) {
            // A late packet from before the switch point: its numbers would collide with the old layer's.
            return Verdict::Drop;
        }
        if payload.is_empty() {
            // Padding only (bandwidth probing by the publisher): nothing to decode. Drop it and close the
            // sequence gap it would leave, when it is the newest packet.
            if let Some(last) = self.last {
                if sequence.wrapping_sub(self.sequence_offset) == last.sequence.wrapping_add(1) {
                    self.sequence_offset = self.sequence_offset.wrapping_add(1);
                }
            }
            return Verdict::Drop;
        }
        let out_sequence = sequence.wrapping_sub(self.sequence_offset);
        let out_timestamp = timestamp.wrapping_sub(self.timestamp_offset);
        match self.last {
            Some(last) if !seq_after(out_sequence, last.sequence) => {}
            _ => self.last = Some(Sent { sequence: out_sequence, timestamp: out_timestamp, at: now }),
        }
        let vp8 = numbers.map(|n| self.vp8.apply(n));
        Verdict::Forward { sequence: out_sequence, timestamp: out_timestamp, vp8 }
    }

    /// Starts forwarding `layer` at this packet, continuing the outgoing numbering.
    fn switch_to(&mut self, layer: u8, sequence: u16, timestamp: u32, now: Instant) {
        match self.last {
            None => {
                self.sequence_offset = 0;
                self.timestamp_offset = 0;
            }
            Some(last) => {
                self.sequence_offset = sequence.wrapping_sub(last.sequence.wrapping_add(1));
                // Timestamps go on from where they were, by the wall-clock time elapsed (at least one tick),
                // so that the subscriber's jitter buffer sees the real pacing across the switch.
                let elapsed = now.saturating_duration_since(last.at).as_secs_f64();
                let ticks = ((elapsed * f64::from(self.clock_rate)) as u32).max(1);
                let out = last.timestamp.wrapping_add(ticks);
                self.timestamp_offset = timestamp.wrapping_sub(out);
            }
        }
        self.current = Some(layer);
        self.switch_sequence = sequence;
    }
}

/// Whether outgoing timestamps of a forwarder only move forward (for tests and debug checks).
pub fn timestamps_monotonic(sent: &[(u16, u32)]) -> bool {
    sent.windows(2).all(|w| ts_after(w[1].1, w[0].1) || w[1].1 == w[0].1)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const KEY: &[u8] = &[0x10, 0x50];
    const DELTA: &[u8] = &[0x10, 0x51];

    /// A simulcast source: per layer its own sequence and timestamp spaces, 30 fps, one packet per frame.
    struct Source {
        seq: [u16; 3],
        ts: [u32; 3],
    }

    impl Source {
        fn new() -> Self {
            Self { seq: [100, 40_000, 65_530], ts: [1_000, 3_000_000_000, 4_294_960_000] }
        }
        fn next(&mut self, layer: usize) -> (u16, u32) {
            let out = (self.seq[layer], self.ts[layer]);
            self.seq[layer] = self.seq[layer].wrapping_add(1);
            self.ts[layer] = self.ts[layer].wrapping_add(3000);
            out
        }
    }

    #[test]
    fn audio_passes_through_unchanged() {
        let mut f = Forwarder::new(None, 48_000, Some(0));
        let t = Instant::now();
        assert_eq!(
            f.on_packet(0, 7, 960, &[1], t),
            Verdict::Forward { sequence: 7, timestamp: 960, vp8: None }
        );
        assert_eq!(
            f.on_packet(0, 8, 1920, &[1], t),
            Verdict::Forward { sequence: 8, timestamp: 1920, vp8: None }
        );
        assert_eq!(f.wanted_keyframe(), None);
    }

    #[test]
    fn video_starts_on_a_keyframe_only() {
        let mut f = Forwarder::new(Some(VideoCodec::Vp8), 90_000, Some(0));
        let t = Instant::now();
        assert_eq!(f.on_packet(0, 1, 0, DELTA, t), Verdict::Drop);
        assert_eq!(f.wanted_keyframe(), Some(0));
        assert!(matches!(f.on_packet(0, 2, 3000, KEY, t), Verdict::Forward { .. }));
        assert_eq!(f.wanted_keyframe(), None);
        assert!(matches!(f.on_packet(0, 3, 6000, DELTA, t), Verdict::Forward { .. }));
    }

    #[test]
    fn layer_switches_keep_one_continuous_stream() {
        let mut f = Forwarder::new(Some(VideoCodec::Vp8), 90_000, Some(0));
        let mut src = Source::new();
        let mut now = Instant::now();
        let mut sent = Vec::new();
        // 90 frames; all three layers send every frame, a keyframe on each layer every 30 frames (offset
        // per layer); the subscriber asks for layer 2 at frame 20 and for layer 1 at frame 50.
        for frame in 0..90u32 {
            if frame == 20 {
                f.set_target(Some(2));
            }
            if frame == 50 {
                f.set_target(Some(1));
            }
            for layer in 0..3usize {
                let (seq, ts) = src.next(layer);
                let key = (frame + layer as u32 * 7) % 30 == 0;
                if let Verdict::Forward { sequence, timestamp, .. } =
                    f.on_packet(layer as u8, seq, ts, if key { KEY } else { DELTA }, now)
                {
                    sent.push((sequence, timestamp));
                }
            }
            now += Duration::from_millis(33);
        }
        assert_eq!(f.current(), Some(1));
        // Sequence numbers without a gap or repeat, timestamps never going back.
        for w in sent.windows(2) {
            assert_eq!(w[1].0, w[0].0.wrapping_add(1), "sequence jump in {w:?}");
        }
        assert!(timestamps_monotonic(&sent));
        // One packet per frame, plus one where the old and new layers both carried the switching frame.
        assert!((90..=92).contains(&sent.len()), "{} packets", sent.len());
        // The timestamps span the 89 frame intervals, whatever layer each came from.
        let span = sent[sent.len() - 1].1.wrapping_sub(sent[0].1);
        assert!((88 * 2900..=90 * 3100).contains(&span), "timestamp span {span}");
    }

    #[test]
    fn pause_and_resume_waits_for_a_keyframe_and_continues_numbering() {
        let mut f = Forwarder::new(Some(VideoCodec::H264), 90_000, Some(0));
        let t = Instant::now();
        let Verdict::Forward { sequence: first, .. } = f.on_packet(0, 500, 0, &[0x65], t) else { panic!() };
        f.set_target(None);
        assert_eq!(f.on_packet(0, 501, 3000, &[0x41], t), Verdict::Drop);
        assert_eq!(f.wanted_keyframe(), None);
        f.set_target(Some(0));
        assert_eq!(f.on_packet(0, 502, 6000, &[0x41], t), Verdict::Drop);
        assert_eq!(f.wanted_keyframe(), Some(0));
        let Verdict::Forward { sequence, .. } =
            f.on_packet(0, 503, 9000, &[0x65], t + Duration::from_secs(1))
        else {
            panic!()
        };
        assert_eq!(sequence, first.wrapping_add(1));
    }

    #[test]
    fn late_packets_from_before_a_switch_and_padding_are_dropped() {
        let mut f = Forwarder::new(Some(VideoCodec::Vp8), 90_000, Some(0));
        let t = Instant::now();
        assert!(matches!(f.on_packet(0, 10, 0, KEY, t), Verdict::Forward { sequence: 10, .. }));
        assert_eq!(f.on_packet(0, 9, 0, DELTA, t), Verdict::Drop);
        // Padding at 11 is dropped and the next packet takes its number.
        assert_eq!(f.on_packet(0, 11, 0, &[], t), Verdict::Drop);
        assert!(matches!(f.on_packet(0, 12, 3000, DELTA, t), Verdict::Forward { sequence: 11, .. }));
        // Reordered packets inside the layer keep their relative numbers.
        assert!(matches!(f.on_packet(0, 14, 6000, DELTA, t), Verdict::Forward { sequence: 13, .. }));
        assert!(matches!(f.on_packet(0, 13, 6000, DELTA, t), Verdict::Forward { sequence: 12, .. }));
    }
}
