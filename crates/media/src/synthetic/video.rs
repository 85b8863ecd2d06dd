//! A moving test pattern whose top two rows of cells encode a frame counter and the capture time, so that a
//! receiver can read them back after any codec and scaling: latency is `now - stamp`, a freeze is a counter
//! that stops, a skipped frame is a counter that jumps.
//!
//! Layout: the top `2 × cell` pixel rows hold 64 cells (32 per row, `cell = width / 32`), black for 0 and
//! white for 1: a 24-bit frame counter, the low 32 bits of the capture time in milliseconds and an 8-bit
//! checksum. Below, smooth moving colour gradients and a moving box give an encoder real work to do.
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::frame::{Timestamp, VideoFrame};
use crate::source::{VideoSource, VideoSourceInfo};

const CELLS_PER_ROW: u32 = 32;
const BLACK: u8 = 16;
const WHITE: u8 = 235;

/// What a pattern frame carries in its pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternStamp {
    /// Frame counter modulo 2^24.
    pub counter: u32,
    /// Capture time in ms since the Unix epoch, modulo 2^32.
    pub millis: u32,
}

impl PatternStamp {
    /// The stamp of frame `counter` captured at `ts`.
    pub fn new(counter: u64, ts: Timestamp) -> Self {
        Self { counter: (counter & 0xFF_FFFF) as u32, millis: (ts.as_millis() & 0xFFFF_FFFF) as u32 }
    }

    fn bits(self) -> u64 {
        let payload = (u64::from(self.counter) << 32) | u64::from(self.millis);
        (payload << 8) | u64::from(checksum(payload))
    }

    /// Milliseconds from this stamp's capture time to `now`, handling the 2^32 ms wrap.
    pub fn age_ms(self, now: Timestamp) -> i64 {
        let now_low = (now.as_millis() & 0xFFFF_FFFF) as u32;
        i64::from(now_low.wrapping_sub(self.millis) as i32)
    }
}

/// CRC-8 (polynomial 0x07, initial value 0xFF so that an all-black picture does not check out) over the
/// 7 payload bytes: rejects misreads after heavy compression.
fn checksum(payload: u64) -> u8 {
    let mut crc = 0xFFu8;
    for byte in payload.to_be_bytes()[1..].iter() {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 { (crc << 1) ^ 0x07 } else { crc << 1 };
        }
    }
    crc
}

/// Draws pattern frames of one size. Deterministic: the same counter and timestamp give the same picture,
/// so a receiver can regenerate the source frame to compare against.
#[derive(Debug, Clone)]
pub struct PatternGenerator {
    width: u32,
    height: u32,
    // Precomputed one-period sine table (256 entries, amplitude 1.0) for the separable gradients.
    sine: Vec<f32>,
}

impl PatternGenerator {
    /// A generator for `width × height` frames; the width must be at least 64 and both even.
    pub fn new(width: u32, height: u32) -> Result<Self> {
        if width < 64 || height < 32 || width % 2 != 0 || height % 2 != 0 {
            return Err(Error::InvalidFrame(format!(
                "pattern needs an even size of at least 64x32, got {width}x{height}"
            )));
        }
        let sine = (0..256).map(|i| (i as f32 / 256.0 * std::f32::consts::TAU).sin()).collect();
        Ok(Self { width, height, sine })
    }

    /// Side of one code cell in pixels.
    pub fn cell_size(&self) -> u32 {
        self.width / CELLS_PER_ROW
    }

    fn sin(&self, phase: f32) -> f32 {
        let idx = (phase.rem_euclid(1.0) * 256.0) as usize & 255;
        self.sine[idx]
    }

    /// Frame number `counter`, stamped with `ts`.
    pub fn frame(&self, counter: u64, ts: Timestamp) -> VideoFrame {
        let mut frame = VideoFrame::black(self.width, self.height, ts);
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = frame.chroma_size();
        let t = counter as f32;
        let (y_plane, u_plane, v_plane) = frame.planes_mut();

        // Separable smooth gradients that drift with time: cheap to draw, camera-like to encode.
        let col: Vec<f32> = (0..w).map(|x| 50.0 * self.sin(x as f32 / w as f32 + t / 120.0)).collect();
        let row: Vec<f32> = (0..h).map(|y| 40.0 * self.sin(y as f32 / h as f32 * 0.5 - t / 200.0)).collect();
        for (y, line) in y_plane.chunks_exact_mut(w).enumerate() {
            let r = 126.0 + row[y];
            for (px, c) in line.iter_mut().zip(&col) {
                *px = (r + c).clamp(16.0, 235.0) as u8;
            }
        }
        let ucol: Vec<f32> =
            (0..cw).map(|x| 40.0 * self.sin(x as f32 / cw as f32 * 0.7 + t / 300.0)).collect();
        let vrow: Vec<f32> =
            (0..ch).map(|y| 40.0 * self.sin(y as f32 / ch as f32 * 0.8 + t / 250.0)).collect();
        for (y, (uline, vline)) in u_plane.chunks_exact_mut(cw).zip(v_plane.chunks_exact_mut(cw)).enumerate()
        {
            for (x, (u, v)) in uline.iter_mut().zip(vline.iter_mut()).enumerate() {
                *u = (128.0 + ucol[x]) as u8;
                *v = (128.0 + vrow[y] - ucol[x] * 0.3) as u8;
            }
        }

        // A textured band (bottom quarter) scrolling 2 px per frame: fine detail and real motion, like the
        // texture and noise of camera pictures, so that quality and speed figures are not flattered.
        let band = h - h / 4;
        let shift = counter as usize * 2;
        for (y, line) in y_plane[band * w..].chunks_exact_mut(w).enumerate() {
            for (x, px) in line.iter_mut().enumerate() {
                let grain = texture((x + shift) / 2, (band + y) / 2);
                *px = (i32::from(*px) + i32::from(grain) / 4 - 32).clamp(16, 235) as u8;
            }
        }

        // A box that crosses the picture every 4 s at 30 fps: sharp moving edges.
        let box_w = w / 6;
        let box_h = h / 4;
        let travel = w - box_w;
        let period = 2 * travel.max(1);
        let step = (counter as usize * w / 60) % period;
        let bx = if step < travel { step } else { period - step };
        let by = h / 2;
        for line in y_plane[by * w..(by + box_h) * w].chunks_exact_mut(w) {
            for (i, px) in line[bx..bx + box_w].iter_mut().enumerate() {
                *px = if i < 4 || i + 4 >= box_w { BLACK } else { 200 };
            }
        }

        // The code cells, drawn last so nothing covers them.
        let cell = self.cell_size() as usize;
        let bits = PatternStamp::new(counter, ts).bits();
        for i in 0..64usize {
            let bit = (bits >> (63 - i)) & 1 == 1;
            let (cx, cy) = ((i % CELLS_PER_ROW as usize) * cell, (i / CELLS_PER_ROW as usize) * cell);
            let value = if bit { WHITE } else { BLACK };
            for line in y_plane[cy * w..(cy + cell) * w].chunks_exact_mut(w) {
                line[cx..cx + cell].fill(value);
            }
            for yy in cy / 2..(cy + cell).div_ceil(2).min(ch) {
                u_plane[yy * cw + cx / 2..(yy * cw + (cx + cell).div_ceil(2)).min((yy + 1) * cw)].fill(128);
                v_plane[yy * cw + cx / 2..(yy * cw + (cx + cell).div_ceil(2)).min((yy + 1) * cw)].fill(128);
            }
        }
        frame
    }
}

/// A deterministic pseudo-random texture value for a 2×2 pixel cell.
fn texture(x: usize, y: usize) -> u8 {
    let mut v = (x as u32).wrapping_mul(0x9E37_79B1) ^ (y as u32).wrapping_mul(0x85EB_CA77);
    v ^= v >> 15;
    v = v.wrapping_mul(0x2C1B_3C6D);
    v ^= v >> 12;
    (v & 0xFF) as u8
}

/// Reads the stamp a [`PatternGenerator`] drew into `frame`, at any size it was scaled to.
/// Returns `None` if the picture is not a pattern frame or the code does not check out.
pub fn read_stamp(frame: &VideoFrame) -> Option<PatternStamp> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let cell = w / CELLS_PER_ROW as usize;
    if cell < 2 || h < 2 * cell {
        return None;
    }
    let y_plane = frame.y();
    let mut bits = 0u64;
    for i in 0..64usize {
        let (cx, cy) = ((i % CELLS_PER_ROW as usize) * cell, (i / CELLS_PER_ROW as usize) * cell);
        // Average the middle half of the cell, away from edges that codecs and scalers blur.
        let (x0, x1) = (cx + cell / 4, cx + cell - cell / 4);
        let (y0, y1) = (cy + cell / 4, cy + cell - cell / 4);
        let mut sum = 0u32;
        let mut n = 0u32;
        for yy in y0..y1.max(y0 + 1) {
            for &px in &y_plane[yy * w + x0..yy * w + x1.max(x0 + 1)] {
                sum += u32::from(px);
                n += 1;
            }
        }
        let bit = sum / n.max(1) > u32::from(BLACK + WHITE) / 2;
        bits = (bits << 1) | u64::from(bit);
    }
    let payload = bits >> 8;
    if checksum(payload) != (bits & 0xFF) as u8 {
        return None;
    }
    Some(PatternStamp { counter: (payload >> 32) as u32, millis: (payload & 0xFFFF_FFFF) as u32 })
}

/// A [`VideoSource`] that produces the pattern in real time at a fixed rate.
#[derive(Debug)]
pub struct SyntheticVideo {
    generator: PatternGenerator,
    fps: u32,
    counter: u64,
    started: Option<Instant>,
    paced: bool,
}

impl SyntheticVideo {
    /// A paced source of `width × height` pattern frames at `fps`.
    pub fn new(width: u32, height: u32, fps: u32) -> Result<Self> {
        if fps == 0 || fps > 240 {
            return Err(Error::InvalidFrame(format!("frame rate {fps} out of range 1..=240")));
        }
        Ok(Self {
            generator: PatternGenerator::new(width, height)?,
            fps,
            counter: 0,
            started: None,
            paced: true,
        })
    }

    /// Produces frames as fast as they are asked for (benchmarks, offline encodes).
    pub fn unpaced(mut self) -> Self {
        self.paced = false;
        self
    }
}

impl VideoSource for SyntheticVideo {
    fn info(&self) -> VideoSourceInfo {
        VideoSourceInfo {
            name: "Synthetic pattern".into(),
            width: self.generator.width,
            height: self.generator.height,
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<VideoFrame> {
        let started = *self.started.get_or_insert_with(Instant::now);
        if self.paced {
            // Sleep to the frame's slot on an absolute schedule so that pacing never drifts.
            let due = started + Duration::from_secs_f64(self.counter as f64 / f64::from(self.fps));
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let frame = self.generator.frame(self.counter, Timestamp::now());
        self.counter += 1;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Scaler;

    #[test]
    fn stamp_survives_drawing_and_reading() {
        let generator = PatternGenerator::new(640, 360).unwrap();
        let ts = Timestamp(1_764_000_123_456_000);
        for counter in [0u64, 1, 4242, 0xFF_FFFF, 0x1_000_005] {
            let frame = generator.frame(counter, ts);
            let stamp = read_stamp(&frame).unwrap();
            assert_eq!(stamp, PatternStamp::new(counter, ts));
        }
    }

    #[test]
    fn stamp_survives_scaling_to_simulcast_layers() {
        let generator = PatternGenerator::new(1280, 720).unwrap();
        let ts = Timestamp::now();
        let frame = generator.frame(77, ts);
        let mut scaler = Scaler::new();
        for (w, h) in [(640, 360), (320, 180)] {
            let small = scaler.scale(&frame, w, h).unwrap();
            assert_eq!(read_stamp(&small), Some(PatternStamp::new(77, ts)), "{w}x{h}");
        }
    }

    #[test]
    fn frames_differ_over_time_and_non_patterns_are_rejected() {
        let generator = PatternGenerator::new(320, 180).unwrap();
        let a = generator.frame(0, Timestamp(0));
        let b = generator.frame(15, Timestamp(0));
        let p = a.psnr_y(&b).unwrap();
        assert!(p < 30.0, "the pattern must move: PSNR {p}");
        assert_eq!(read_stamp(&VideoFrame::black(320, 180, Timestamp(0))), None);
        let mut noisy = a.clone();
        noisy.planes_mut().0.iter_mut().take(320 * 10).for_each(|p| *p = 255 - *p);
        assert_eq!(read_stamp(&noisy), None);
    }

    #[test]
    fn age_handles_wrap() {
        let stamp = PatternStamp { counter: 0, millis: u32::MAX - 5 };
        assert_eq!(stamp.age_ms(Timestamp((1u64 << 32) * 1000 + 10_000)), 16);
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(PatternGenerator::new(63, 32).is_err());
        assert!(PatternGenerator::new(65, 40).is_err());
        assert!(SyntheticVideo::new(320, 180, 0).is_err());
    }
}
