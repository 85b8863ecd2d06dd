//! Colour conversion and scaling on SIMD crates: `yuvutils-rs` for RGB↔YUV, `fast_image_resize` for
//! scaling each I420 plane. Colour is BT.601 limited range throughout, as H.264/VP8 expect by default.
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use yuvutils_rs::{
    BufferStoreMut, YuvConversionMode, YuvPackedImage, YuvPlanarImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

use crate::error::{Error, Result};
use crate::frame::{Timestamp, VideoFrame};

const RANGE: YuvRange = YuvRange::Limited;
const MATRIX: YuvStandardMatrix = YuvStandardMatrix::Bt601;

fn check_packed(buf: &[u8], stride: usize, width: u32, height: u32, bpp: usize, what: &str) -> Result<()> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || stride < w * bpp || buf.len() < stride * (h - 1) + w * bpp {
        return Err(Error::InvalidFrame(format!(
            "{what} buffer of {} bytes (stride {stride}) too small for {width}x{height}",
            buf.len()
        )));
    }
    Ok(())
}

fn yuv_err(e: yuvutils_rs::YuvError) -> Error {
    Error::InvalidFrame(format!("colour conversion: {e}"))
}

/// Runs `convert` into a fresh I420 frame of the given size.
fn into_i420(
    width: u32,
    height: u32,
    timestamp: Timestamp,
    convert: impl FnOnce(&mut YuvPlanarImageMut<'_, u8>) -> std::result::Result<(), yuvutils_rs::YuvError>,
) -> Result<VideoFrame> {
    let mut frame = VideoFrame::black(width, height, timestamp);
    let (cw, _) = frame.chroma_size();
    {
        let (y, u, v) = frame.planes_mut();
        let mut planar = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(y),
            y_stride: width,
            u_plane: BufferStoreMut::Borrowed(u),
            u_stride: cw as u32,
            v_plane: BufferStoreMut::Borrowed(v),
            v_stride: cw as u32,
            width,
            height,
        };
        convert(&mut planar).map_err(yuv_err)?;
    }
    Ok(frame)
}

/// BGRA (as X11/scrap and Windows capture deliver) to I420. `stride` is in bytes.
pub fn bgra_to_i420(
    bgra: &[u8],
    stride: usize,
    width: u32,
    height: u32,
    ts: Timestamp,
) -> Result<VideoFrame> {
    check_packed(bgra, stride, width, height, 4, "BGRA")?;
    into_i420(width, height, ts, |p| {
        yuvutils_rs::bgra_to_yuv420(p, bgra, stride as u32, RANGE, MATRIX, YuvConversionMode::Balanced)
    })
}

/// Packed RGB24 to I420. `stride` is in bytes.
pub fn rgb_to_i420(rgb: &[u8], stride: usize, width: u32, height: u32, ts: Timestamp) -> Result<VideoFrame> {
    check_packed(rgb, stride, width, height, 3, "RGB")?;
    into_i420(width, height, ts, |p| {
        yuvutils_rs::rgb_to_yuv420(p, rgb, stride as u32, RANGE, MATRIX, YuvConversionMode::Balanced)
    })
}

/// Packed YUYV 4:2:2 (the usual uncompressed webcam format) to I420. `stride` is in bytes.
pub fn yuyv_to_i420(
    yuyv: &[u8],
    stride: usize,
    width: u32,
    height: u32,
    ts: Timestamp,
) -> Result<VideoFrame> {
    check_packed(yuyv, stride, width.div_ceil(2) * 2, height, 2, "YUYV")?;
    // yuvutils reads exactly `row × height` bytes: padded rows (device buffers, odd-width crops) are repacked.
    let row = width.div_ceil(2) as usize * 4;
    let repacked;
    let tight = if stride == row {
        &yuyv[..row * height as usize]
    } else {
        repacked = yuyv
            .chunks(stride)
            .take(height as usize)
            .flat_map(|line| &line[..row])
            .copied()
            .collect::<Vec<u8>>();
        &repacked[..]
    };
    let packed = YuvPackedImage { yuy: tight, yuy_stride: row as u32, width, height };
    into_i420(width, height, ts, |p| yuvutils_rs::yuyv422_to_yuv420(p, &packed))
}

/// I420 to RGBA (for PNG snapshots and test checks).
pub fn i420_to_rgba(frame: &VideoFrame) -> Result<Vec<u8>> {
    let (cw, _) = frame.chroma_size();
    let planar = YuvPlanarImage {
        y_plane: frame.y(),
        y_stride: frame.width(),
        u_plane: frame.u(),
        u_stride: cw as u32,
        v_plane: frame.v(),
        v_stride: cw as u32,
        width: frame.width(),
        height: frame.height(),
    };
    let mut rgba = vec![0u8; frame.width() as usize * frame.height() as usize * 4];
    yuvutils_rs::yuv420_to_rgba(&planar, &mut rgba, frame.width() * 4, RANGE, MATRIX).map_err(yuv_err)?;
    Ok(rgba)
}

/// Scales I420 frames plane by plane. Keeps its resizer's buffers between calls, so reuse one per stream.
#[derive(Debug)]
pub struct Scaler {
    resizer: Resizer,
    options: ResizeOptions,
}

impl Default for Scaler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scaler {
    /// A bilinear scaler: the usual choice for video, cheap and free of ringing.
    pub fn new() -> Self {
        Self {
            resizer: Resizer::new(),
            options: ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)),
        }
    }

    /// Returns `frame` scaled to `width × height` (a copy even when the size is unchanged).
    pub fn scale(&mut self, frame: &VideoFrame, width: u32, height: u32) -> Result<VideoFrame> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidFrame(format!("cannot scale to {width}x{height}")));
        }
        if (width, height) == (frame.width(), frame.height()) {
            return Ok(frame.clone());
        }
        let mut out = VideoFrame::black(width, height, frame.timestamp);
        let (scw, sch) = frame.chroma_size();
        let (dcw, dch) = out.chroma_size();
        let (src_w, src_h) = (frame.width(), frame.height());
        let (dy, du, dv) = out.planes_mut();
        let planes = [
            (frame.y(), src_w, src_h, dy, width, height),
            (frame.u(), scw as u32, sch as u32, du, dcw as u32, dch as u32),
            (frame.v(), scw as u32, sch as u32, dv, dcw as u32, dch as u32),
        ];
        for (src, sw, sh, dst, dw, dh) in planes {
            let src = ImageRef::new(sw, sh, src, PixelType::U8)
                .map_err(|e| Error::InvalidFrame(format!("scale source: {e}")))?;
            let mut dst = Image::from_slice_u8(dw, dh, dst, PixelType::U8)
                .map_err(|e| Error::InvalidFrame(format!("scale destination: {e}")))?;
            self.resizer
                .resize(&src, &mut dst, &self.options)
                .map_err(|e| Error::InvalidFrame(format!("scale: {e}")))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid_bgra(w: u32, h: u32, bgra: [u8; 4]) -> Vec<u8> {
        bgra.iter().copied().cycle().take((w * h * 4) as usize).collect()
    }

    #[test]
    fn bgra_red_becomes_bt601_red() {
        // Pure red in BT.601 limited range is Y≈81, U≈90, V≈240.
        let frame = bgra_to_i420(&solid_bgra(8, 8, [0, 0, 255, 255]), 32, 8, 8, Timestamp(0)).unwrap();
        let (y, u, v) = (frame.y()[0], frame.u()[0], frame.v()[0]);
        assert!((i32::from(y) - 81).abs() <= 2, "Y={y}");
        assert!((i32::from(u) - 90).abs() <= 2, "U={u}");
        assert!((i32::from(v) - 240).abs() <= 2, "V={v}");
    }

    #[test]
    fn rgba_round_trip_keeps_colour() {
        let frame = bgra_to_i420(&solid_bgra(16, 16, [40, 160, 220, 255]), 64, 16, 16, Timestamp(0)).unwrap();
        let rgba = i420_to_rgba(&frame).unwrap();
        for (got, want) in rgba[..3].iter().zip([220u8, 160, 40]) {
            assert!((i32::from(*got) - i32::from(want)).abs() <= 4, "{rgba:?}");
        }
    }

    #[test]
    fn short_buffers_are_errors() {
        assert!(bgra_to_i420(&[0; 10], 32, 8, 8, Timestamp(0)).is_err());
        assert!(rgb_to_i420(&[0; 10], 24, 8, 8, Timestamp(0)).is_err());
        assert!(yuyv_to_i420(&[0; 10], 16, 8, 8, Timestamp(0)).is_err());
    }

    #[test]
    fn yuyv_with_padded_rows() {
        // 4x2 picture, rows padded to 12 bytes: Y=100, U=90, V=200 everywhere.
        let line = [100u8, 90, 100, 200, 100, 90, 100, 200, 0xEE, 0xEE, 0xEE, 0xEE];
        let data: Vec<u8> = line.iter().chain(line.iter()).copied().collect();
        let frame = yuyv_to_i420(&data, 12, 4, 2, Timestamp(0)).unwrap();
        assert!(frame.y().iter().all(|&y| y == 100), "{:?}", frame.y());
        assert!(frame.u().iter().all(|&u| u == 90) && frame.v().iter().all(|&v| v == 200));
    }

    #[test]
    fn scaling_keeps_a_flat_picture_flat() {
        let frame = bgra_to_i420(&solid_bgra(64, 36, [0, 255, 0, 255]), 256, 64, 36, Timestamp(5)).unwrap();
        let mut scaler = Scaler::new();
        let small = scaler.scale(&frame, 32, 18).unwrap();
        assert_eq!((small.width(), small.height(), small.timestamp), (32, 18, Timestamp(5)));
        assert!(small.y().iter().all(|&y| (i32::from(y) - i32::from(frame.y()[0])).abs() <= 1));
        assert!(small.v().iter().all(|&v| (i32::from(v) - i32::from(frame.v()[0])).abs() <= 1));
        assert!(scaler.scale(&frame, 0, 10).is_err());
    }
}
