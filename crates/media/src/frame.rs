//! Frame types exchanged by every stage: I420 video and 48 kHz PCM audio, each with a capture timestamp.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// A capture time in microseconds since the Unix epoch (wall clock), so that two processes on one
/// machine can compare timestamps, e.g. to measure glass-to-glass latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_micros();
        Self(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> u64 {
        self.0 / 1000
    }

    /// The time elapsed from `earlier` to `self` (zero if `earlier` is later).
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    /// This timestamp moved forward by `d`.
    pub fn after(self, d: Duration) -> Self {
        Self(self.0.saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)))
    }
}

/// A video frame in I420 (YUV 4:2:0 planar, BT.601 limited range), tightly packed:
/// Y is `width × height`, U and V are `⌈width/2⌉ × ⌈height/2⌉` each.
#[derive(Clone, PartialEq, Eq)]
pub struct VideoFrame {
    width: u32,
    height: u32,
    data: Vec<u8>,
    /// When the picture was captured.
    pub timestamp: Timestamp,
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

impl VideoFrame {
    /// Bytes an I420 frame of this size needs.
    pub fn buffer_len(width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        w * h + 2 * cw * ch
    }

    /// A frame filled with black (Y=16, U=V=128).
    pub fn black(width: u32, height: u32, timestamp: Timestamp) -> Self {
        let luma = width as usize * height as usize;
        let mut data = vec![128u8; Self::buffer_len(width, height)];
        data[..luma].fill(16);
        Self { width, height, data, timestamp }
    }

    /// Wraps a packed I420 buffer; fails if its length does not match the size.
    pub fn from_i420(width: u32, height: u32, data: Vec<u8>, timestamp: Timestamp) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidFrame(format!("empty frame {width}x{height}")));
        }
        let expected = Self::buffer_len(width, height);
        if data.len() != expected {
            return Err(Error::InvalidFrame(format!(
                "I420 {width}x{height} needs {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(Self { width, height, data, timestamp })
    }

    /// Builds a frame by copying three planes that may have row padding (strides).
    #[allow(clippy::too_many_arguments)]
    pub fn from_planes(
        width: u32,
        height: u32,
        y: &[u8],
        y_stride: usize,
        u: &[u8],
        u_stride: usize,
        v: &[u8],
        v_stride: usize,
        timestamp: Timestamp,
    ) -> Result<Self> {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let fits = |plane: &[u8], stride: usize, pw: usize, ph: usize| {
            stride >= pw && ph > 0 && plane.len() >= stride * (ph - 1) + pw
        };
        if w == 0
            || h == 0
            || !fits(y, y_stride, w, h)
            || !fits(u, u_stride, cw, ch)
            || !fits(v, v_stride, cw, ch)
        {
            return Err(Error::InvalidFrame(format!("planes too small for {width}x{height}")));
        }
        let mut data = Vec::with_capacity(Self::buffer_len(width, height));
        for (plane, stride, pw, ph) in [(y, y_stride, w, h), (u, u_stride, cw, ch), (v, v_stride, cw, ch)] {
            for row in 0..ph {
                data.extend_from_slice(&plane[row * stride..row * stride + pw]);
            }
        }
        Ok(Self { width, height, data, timestamp })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Width and height of the chroma planes.
    pub fn chroma_size(&self) -> (usize, usize) {
        ((self.width as usize).div_ceil(2), (self.height as usize).div_ceil(2))
    }

    /// The whole packed I420 buffer.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The luma plane (stride = width).
    pub fn y(&self) -> &[u8] {
        &self.data[..self.width as usize * self.height as usize]
    }

    /// The U plane (stride = chroma width).
    pub fn u(&self) -> &[u8] {
        let luma = self.width as usize * self.height as usize;
        let (cw, ch) = self.chroma_size();
        &self.data[luma..luma + cw * ch]
    }

    /// The V plane (stride = chroma width).
    pub fn v(&self) -> &[u8] {
        let luma = self.width as usize * self.height as usize;
        let (cw, ch) = self.chroma_size();
        &self.data[luma + cw * ch..]
    }

    /// Mutable Y, U and V planes.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let luma = self.width as usize * self.height as usize;
        let (cw, ch) = self.chroma_size();
        let (y, rest) = self.data.split_at_mut(luma);
        let (u, v) = rest.split_at_mut(cw * ch);
        (y, u, v)
    }

    /// Peak signal-to-noise ratio of the luma plane against another frame of the same size, in dB.
    /// Identical frames give `f64::INFINITY`.
    pub fn psnr_y(&self, other: &VideoFrame) -> Result<f64> {
        if self.width != other.width || self.height != other.height {
            return Err(Error::InvalidFrame(format!(
                "PSNR of {}x{} against {}x{}",
                self.width, self.height, other.width, other.height
            )));
        }
        let sse: u64 = self
            .y()
            .iter()
            .zip(other.y())
            .map(|(&a, &b)| {
                let d = i64::from(a) - i64::from(b);
                (d * d) as u64
            })
            .sum();
        if sse == 0 {
            return Ok(f64::INFINITY);
        }
        let mse = sse as f64 / self.y().len() as f64;
        Ok(10.0 * (255.0f64 * 255.0 / mse).log10())
    }
}

/// Sample rate of every audio frame inside Colloque (Opus's native rate).
pub const SAMPLE_RATE: u32 = 48_000;

/// A block of interleaved f32 PCM at [`SAMPLE_RATE`], usually 10 or 20 ms long.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFrame {
    /// Interleaved samples in [-1, 1].
    pub samples: Vec<f32>,
    /// Channel count (1 = mono, 2 = stereo).
    pub channels: u16,
    /// When the first sample was captured.
    pub timestamp: Timestamp,
}

impl AudioFrame {
    /// Samples per channel.
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Duration of this block.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.frames() as u64 * 1_000_000 / u64::from(SAMPLE_RATE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_i420_checks_length() {
        assert!(VideoFrame::from_i420(4, 4, vec![0; 24], Timestamp(0)).is_ok());
        assert!(VideoFrame::from_i420(4, 4, vec![0; 23], Timestamp(0)).is_err());
        assert!(VideoFrame::from_i420(0, 4, vec![], Timestamp(0)).is_err());
        // Odd sizes round chroma up.
        assert_eq!(VideoFrame::buffer_len(5, 3), 15 + 2 * 3 * 2);
    }

    #[test]
    fn from_planes_strips_padding() {
        let y = [1u8, 2, 0, 3, 4, 0];
        let frame = VideoFrame::from_planes(2, 2, &y, 3, &[5], 1, &[6], 1, Timestamp(0)).unwrap();
        assert_eq!(frame.data(), &[1, 2, 3, 4, 5, 6]);
        assert!(VideoFrame::from_planes(2, 2, &y[..4], 3, &[5], 1, &[6], 1, Timestamp(0)).is_err());
    }

    #[test]
    fn psnr_of_identical_and_different_frames() {
        let a = VideoFrame::black(16, 16, Timestamp(0));
        let mut b = a.clone();
        assert!(a.psnr_y(&b).unwrap().is_infinite());
        b.planes_mut().0[0] = 255;
        let p = a.psnr_y(&b).unwrap();
        assert!(p > 20.0 && p < 40.0, "{p}");
    }
}
