//! An adaptive jitter buffer for one remote Opus stream.
//!
//! A pure state machine: packets go in with their arrival time, and the playout clock pulls 20 ms at a time.
//! Packets are slotted by RTP timestamp, so DTX gaps are silence rather than loss. A missing slot is rebuilt
//! from the next packet's in-band FEC when that packet is already here, else concealed by Opus PLC. The
//! target depth follows the arrival jitter seen over the last few seconds: deep enough that late packets
//! are rare, shallow enough to keep latency low; excess depth is shed by dropping a frame.
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::codec::opus::{OpusDecoder, FRAME_SAMPLES};
use crate::error::Result;

const FRAME: Duration = Duration::from_millis(20);
/// Most frames the buffer will hold; beyond that the stream is far ahead of playout.
const MAX_FRAMES: usize = 50;
/// Arrival-delay samples kept for the target estimate (~4 s of packets).
const DELAY_WINDOW: usize = 200;
/// Consecutive concealed frames after which the stream counts as stopped and re-buffers.
const MAX_CONCEAL: u32 = 10;

/// Counters for the UI's connection statistics and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Frames played from their own packet.
    pub decoded: u64,
    /// Lost frames rebuilt from the next packet (from its FEC data when it carries any).
    pub fec_recovered: u64,
    /// Lost frames concealed (PLC).
    pub concealed: u64,
    /// Packets that arrived after their playout time.
    pub late: u64,
    /// Duplicate packets dropped.
    pub duplicates: u64,
    /// Frames dropped to shed excess delay.
    pub dropped_for_latency: u64,
    /// Current target depth in frames.
    pub target_frames: usize,
}

/// Where the playout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for enough packets to start (or restart after the stream stopped).
    Buffering,
    /// Playing slot `next`.
    Playing { next: i64, concealed_run: u32 },
}

/// The jitter buffer and decoder of one remote audio stream.
#[derive(Debug)]
pub struct JitterBuffer {
    decoder: OpusDecoder,
    packets: BTreeMap<i64, Vec<u8>>,
    state: State,
    last_timestamp: Option<u32>,
    unwrapped_timestamp: i64,
    // Arrival delay of each packet relative to its RTP time, in microseconds (only differences matter).
    delays: VecDeque<i64>,
    epoch: Option<Instant>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A jitter buffer decoding `channels` channels.
    pub fn new(channels: u16) -> Result<Self> {
        Ok(Self {
            decoder: OpusDecoder::new(channels)?,
            packets: BTreeMap::new(),
            state: State::Buffering,
            last_timestamp: None,
            unwrapped_timestamp: 0,
            delays: VecDeque::with_capacity(DELAY_WINDOW),
            epoch: None,
            stats: JitterStats { target_frames: 2, ..Default::default() },
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The current target delay.
    pub fn target_delay(&self) -> Duration {
        FRAME * self.stats.target_frames as u32
    }

    /// Extends a 32-bit RTP timestamp to a monotonic 64-bit one.
    fn unwrap_timestamp(&mut self, ts: u32) -> i64 {
        match self.last_timestamp {
            None => self.unwrapped_timestamp = i64::from(ts),
            Some(last) => self.unwrapped_timestamp += i64::from(ts.wrapping_sub(last) as i32),
        }
        self.last_timestamp = Some(ts);
        self.unwrapped_timestamp
    }

    /// Accepts one RTP payload with its RTP timestamp (48 kHz units) and arrival time.
    pub fn push(&mut self, rtp_timestamp: u32, payload: Vec<u8>, arrival: Instant) {
        if payload.is_empty() {
            return;
        }
        let ts = self.unwrap_timestamp(rtp_timestamp);
        let slot = ts.div_euclid(FRAME_SAMPLES as i64);
        let epoch = *self.epoch.get_or_insert(arrival);
        let arrival_us = arrival.saturating_duration_since(epoch).as_micros() as i64;
        let delay = arrival_us - ts * 1000 / 48;
        if self.delays.len() == DELAY_WINDOW {
            self.delays.pop_front();
        }
        self.delays.push_back(delay);
        self.update_target();

        if let State::Playing { next, .. } = self.state {
            if slot < next {
                self.stats.late += 1;
                return;
            }
        }
        if self.packets.insert(slot, payload).is_some() {
            self.stats.duplicates += 1;
        }
        while self.packets.len() > MAX_FRAMES {
            self.packets.pop_first();
        }
    }

    /// Target depth = spread of the arrival delays (95th percentile above the minimum), plus one frame being
    /// played, plus one frame of look-ahead so that the packet after a loss is usually here to rebuild the
    /// lost frame from its FEC.
    fn update_target(&mut self) {
        let mut sorted: Vec<i64> = self.delays.iter().copied().collect();
        sorted.sort_unstable();
        let (Some(&min), Some(&p95)) = (sorted.first(), sorted.get(sorted.len() * 95 / 100)) else { return };
        let spread_frames = ((p95 - min) as f64 / FRAME.as_micros() as f64).ceil() as usize;
        self.stats.target_frames = (spread_frames + 2).clamp(2, 16);
    }

    /// Buffered span in frames from the first buffered slot to the last.
    fn depth(&self) -> usize {
        match (self.packets.first_key_value(), self.packets.last_key_value()) {
            (Some((&a, _)), Some((&b, _))) => (b - a + 1) as usize,
            _ => 0,
        }
    }

    /// The next 20 ms of audio for the playout clock (silence while buffering).
    pub fn pop(&mut self) -> Result<Vec<f32>> {
        let channels = usize::from(self.decoder.channels());
        let next = match self.state {
            State::Buffering => {
                if self.packets.is_empty() || self.depth() < self.stats.target_frames {
                    return Ok(vec![0.0; FRAME_SAMPLES * channels]);
                }
                let first = self.packets.first_key_value().map(|(&k, _)| k).unwrap_or_default();
                self.state = State::Playing { next: first, concealed_run: 0 };
                first
            }
            State::Playing { next, .. } => next,
        };
        // Shed latency: far more buffered than needed → skip the oldest frame.
        let mut next = next;
        if self.depth() > self.stats.target_frames + 3 && self.packets.contains_key(&(next + 1)) {
            self.packets.remove(&next);
            next += 1;
            self.stats.dropped_for_latency += 1;
        }
        let concealed_run = match self.state {
            State::Playing { concealed_run, .. } => concealed_run,
            State::Buffering => 0,
        };
        let (pcm, concealed) = if let Some(packet) = self.packets.remove(&next) {
            self.stats.decoded += 1;
            (self.decoder.decode(&packet).or_else(|_| self.decoder.conceal(FRAME_SAMPLES))?, false)
        } else if let Some(following) = self.packets.get(&(next + 1)) {
            self.stats.fec_recovered += 1;
            let following = following.clone();
            (self.decoder.decode_fec(&following, FRAME_SAMPLES)?, false)
        } else {
            self.stats.concealed += 1;
            (self.decoder.conceal(FRAME_SAMPLES)?, true)
        };
        let run = if concealed { concealed_run + 1 } else { 0 };
        self.state = if run >= MAX_CONCEAL {
            State::Buffering
        } else {
            State::Playing { next: next + 1, concealed_run: run }
        };
        let mut pcm = pcm;
        pcm.resize(FRAME_SAMPLES * channels, 0.0);
        Ok(pcm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::opus::{OpusConfig, OpusEncoder};
    use crate::synthetic::ToneGenerator;

    fn packets(n: usize) -> Vec<Vec<u8>> {
        let mut enc = OpusEncoder::new(OpusConfig { dtx: false, ..Default::default() }).unwrap();
        let mut tone = ToneGenerator::new(300.0, 0.3);
        (0..n).map(|_| enc.encode(&[tone.next_block(), tone.next_block()].concat()).unwrap()).collect()
    }

    #[test]
    fn in_order_stream_plays_every_packet_once() {
        let mut jb = JitterBuffer::new(1).unwrap();
        let t0 = Instant::now();
        let mut played = 0;
        for (i, p) in packets(50).into_iter().enumerate() {
            jb.push(1000 + (i * FRAME_SAMPLES) as u32, p, t0 + FRAME * i as u32);
            let out = jb.pop().unwrap();
            assert_eq!(out.len(), FRAME_SAMPLES);
            played += 1;
        }
        let s = jb.stats();
        assert!(s.decoded >= 45 && s.concealed == 0 && s.fec_recovered == 0, "{s:?} after {played}");
    }

    #[test]
    fn a_gap_is_rebuilt_from_fec_when_the_next_packet_is_here() {
        let mut jb = JitterBuffer::new(1).unwrap();
        let t0 = Instant::now();
        for (i, p) in packets(12).into_iter().enumerate() {
            if i != 4 {
                jb.push((i * FRAME_SAMPLES) as u32, p, t0 + FRAME * i as u32);
            }
            jb.pop().unwrap();
        }
        let s = jb.stats();
        // Two frames of depth: the first pop is silence, then frames 0..=10 play, 4 rebuilt from 5's FEC.
        assert_eq!((s.fec_recovered, s.decoded, s.concealed), (1, 10, 0), "{s:?}");
    }

    #[test]
    fn late_and_duplicate_packets_are_counted_not_played() {
        let mut jb = JitterBuffer::new(1).unwrap();
        let t0 = Instant::now();
        let ps = packets(6);
        jb.push(0, ps[0].clone(), t0);
        jb.push(0, ps[0].clone(), t0);
        jb.push(960, ps[1].clone(), t0 + FRAME);
        jb.pop().unwrap();
        jb.pop().unwrap();
        jb.push(0, ps[0].clone(), t0 + FRAME * 2);
        let s = jb.stats();
        assert_eq!((s.duplicates, s.late, s.decoded), (1, 1, 2), "{s:?}");
    }

    #[test]
    fn timestamps_wrap_around() {
        let mut jb = JitterBuffer::new(1).unwrap();
        let t0 = Instant::now();
        let start = u32::MAX - 2 * FRAME_SAMPLES as u32;
        for (i, p) in packets(6).into_iter().enumerate() {
            jb.push(start.wrapping_add((i * FRAME_SAMPLES) as u32), p, t0 + FRAME * i as u32);
            jb.pop().unwrap();
        }
        jb.pop().unwrap();
        let s = jb.stats();
        assert_eq!((s.decoded, s.concealed, s.late), (6, 0, 0), "{s:?}");
    }

    #[test]
    fn jittery_arrivals_raise_the_target() {
        let mut jb = JitterBuffer::new(1).unwrap();
        let t0 = Instant::now();
        for (i, p) in packets(100).into_iter().enumerate() {
            let jitter = if i % 5 == 0 { Duration::from_millis(90) } else { Duration::ZERO };
            jb.push((i * FRAME_SAMPLES) as u32, p, t0 + FRAME * i as u32 + jitter);
        }
        assert!(jb.stats().target_frames >= 5, "{:?}", jb.stats());
    }
}
