//! Reading and writing IVF, the plain container libvpx's tools use for VP8/VP9 (and our H.264 clips'
//! sibling). Used for test fixtures and offline clips.
use std::io::{Read, Write};

use crate::error::{Error, Result};

fn malformed(reason: impl Into<String>) -> Error {
    Error::Container { format: "IVF", reason: reason.into() }
}

/// The file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfHeader {
    /// Codec FourCC, e.g. `VP80`, `VP90`, `H264`.
    pub fourcc: [u8; 4],
    /// Picture width.
    pub width: u16,
    /// Picture height.
    pub height: u16,
    /// Time base numerator (frame rate), e.g. 30.
    pub rate: u32,
    /// Time base denominator, e.g. 1.
    pub scale: u32,
    /// Frame count announced by the writer (may be 0 when unknown).
    pub frames: u32,
}

/// One frame of an IVF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvfFrame {
    /// Presentation timestamp in time-base units.
    pub pts: u64,
    /// The compressed frame.
    pub data: Vec<u8>,
}

/// Largest frame accepted when reading (a 4K keyframe fits comfortably); guards against corrupt sizes.
const MAX_FRAME: usize = 16 << 20;

/// Parses a whole IVF file held in memory.
pub fn read_ivf(mut input: impl Read) -> Result<(IvfHeader, Vec<IvfFrame>)> {
    let mut head = [0u8; 32];
    input.read_exact(&mut head).map_err(|_| malformed("shorter than its 32-byte header"))?;
    if &head[0..4] != b"DKIF" {
        return Err(malformed("missing DKIF signature"));
    }
    let u16_at = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let header_len = usize::from(u16_at(6));
    if header_len < 32 {
        return Err(malformed(format!("header length {header_len}")));
    }
    let mut skip = vec![0u8; header_len - 32];
    input.read_exact(&mut skip).map_err(|_| malformed("truncated header"))?;
    let header = IvfHeader {
        fourcc: [head[8], head[9], head[10], head[11]],
        width: u16_at(12),
        height: u16_at(14),
        rate: u32_at(16),
        scale: u32_at(20),
        frames: u32_at(24),
    };
    let mut frames = Vec::new();
    loop {
        let mut fh = [0u8; 12];
        match input.read(&mut fh[..1])? {
            0 => break,
            _ => input.read_exact(&mut fh[1..]).map_err(|_| malformed("truncated frame header"))?,
        }
        let size = u32::from_le_bytes([fh[0], fh[1], fh[2], fh[3]]) as usize;
        if size > MAX_FRAME {
            return Err(malformed(format!("frame of {size} bytes")));
        }
        let pts = u64::from_le_bytes([fh[4], fh[5], fh[6], fh[7], fh[8], fh[9], fh[10], fh[11]]);
        let mut data = vec![0u8; size];
        input.read_exact(&mut data).map_err(|_| malformed("truncated frame"))?;
        frames.push(IvfFrame { pts, data });
    }
    Ok((header, frames))
}

/// Writes an IVF file.
pub fn write_ivf(mut out: impl Write, header: &IvfHeader, frames: &[IvfFrame]) -> Result<()> {
    let mut head = Vec::with_capacity(32);
    head.extend_from_slice(b"DKIF");
    head.extend_from_slice(&0u16.to_le_bytes());
    head.extend_from_slice(&32u16.to_le_bytes());
    head.extend_from_slice(&header.fourcc);
    head.extend_from_slice(&header.width.to_le_bytes());
    head.extend_from_slice(&header.height.to_le_bytes());
    head.extend_from_slice(&header.rate.to_le_bytes());
    head.extend_from_slice(&header.scale.to_le_bytes());
    head.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    out.write_all(&head)?;
    for frame in frames {
        let size = u32::try_from(frame.data.len()).map_err(|_| malformed("frame too large"))?;
        out.write_all(&size.to_le_bytes())?;
        out.write_all(&frame.pts.to_le_bytes())?;
        out.write_all(&frame.data)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let header = IvfHeader { fourcc: *b"VP80", width: 320, height: 180, rate: 30, scale: 1, frames: 2 };
        let frames = vec![IvfFrame { pts: 0, data: vec![1, 2, 3] }, IvfFrame { pts: 1, data: vec![4] }];
        let mut buf = Vec::new();
        write_ivf(&mut buf, &header, &frames).unwrap();
        let (h, f) = read_ivf(&buf[..]).unwrap();
        assert_eq!((h, f), (header, frames));
        assert!(read_ivf(&buf[..buf.len() - 1]).is_err());
        assert!(read_ivf(&buf[..20]).is_err());
        let mut bad = buf.clone();
        bad[0] = b'X';
        assert!(read_ivf(&bad[..]).is_err());
        let mut huge = buf.clone();
        huge[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_ivf(&huge[..]).is_err());
    }
}
