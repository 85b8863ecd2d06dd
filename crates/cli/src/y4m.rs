//! Y4M output of the synthetic pattern: the raw input for fixtures made by other encoders (vpxenc, ffmpeg).
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use colloque_media::synthetic::PatternGenerator;
use colloque_media::Timestamp;

/// The timestamp frame `i` of a `fps` stream carries (so a reader can regenerate the exact source frame).
pub fn pattern_timestamp(i: u64, fps: u64) -> Timestamp {
    Timestamp(i * 1_000_000 / fps)
}

/// Writes `frames` pattern frames at 30 fps.
pub fn write_pattern(out: &Path, width: u32, height: u32, frames: u64) -> Result<()> {
    let generator = PatternGenerator::new(width, height)?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = BufWriter::new(file);
    writeln!(w, "YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg")?;
    for i in 0..frames {
        let frame = generator.frame(i, pattern_timestamp(i, 30));
        w.write_all(b"FRAME\n")?;
        w.write_all(frame.data())?;
    }
    w.flush()?;
    Ok(())
}
