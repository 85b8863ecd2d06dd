//! VP8 and VP9 decoding through libvpx. Browsers in Visio meetings publish VP9 (with a VP8 simulcast
//! backup): without these decoders a native client would see none of them.
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::ptr;

use vpx_sys as ffi;

use super::VideoDecoder;
use crate::error::{CodecError, Result};
use crate::frame::{Timestamp, VideoFrame};

/// Which VPx codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VpxCodec {
    /// VP8.
    Vp8,
    /// VP9 (profile 0, 8-bit 4:2:0, which is what browsers send).
    Vp9,
}

impl VpxCodec {
    fn name(self) -> &'static str {
        match self {
            VpxCodec::Vp8 => "VP8",
            VpxCodec::Vp9 => "VP9",
        }
    }
}

/// A libvpx decoder context.
pub struct VpxDecoder {
    ctx: Box<ffi::vpx_codec_ctx_t>,
    codec: VpxCodec,
}

// SAFETY: the context is owned exclusively by this value and libvpx keeps no thread affinity; it is only
// ever used through `&mut self`.
unsafe impl Send for VpxDecoder {}

impl std::fmt::Debug for VpxDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpxDecoder").field("codec", &self.codec).finish_non_exhaustive()
    }
}

impl VpxDecoder {
    /// Creates a decoder (single-threaded: one per remote track, many tracks at once).
    pub fn new(codec: VpxCodec) -> Result<Self> {
        // SAFETY: a zeroed context is what vpx_codec_dec_init expects; the iface functions return static data.
        let mut ctx: Box<ffi::vpx_codec_ctx_t> = Box::new(unsafe { MaybeUninit::zeroed().assume_init() });
        let iface = unsafe {
            match codec {
                VpxCodec::Vp8 => ffi::vpx_codec_vp8_dx(),
                VpxCodec::Vp9 => ffi::vpx_codec_vp9_dx(),
            }
        };
        let cfg = ffi::vpx_codec_dec_cfg_t { threads: 1, w: 0, h: 0 };
        // SAFETY: ctx and cfg outlive the call; the ABI version is the one the bindings were generated for.
        let rc = unsafe {
            ffi::vpx_codec_dec_init_ver(&mut *ctx, iface, &cfg, 0, ffi::VPX_DECODER_ABI_VERSION as i32)
        };
        if rc != ffi::VPX_CODEC_OK {
            return Err(
                CodecError::Config { codec: codec.name(), reason: format!("init failed: {rc:?}") }.into()
            );
        }
        Ok(Self { ctx, codec })
    }

    fn last_error(&mut self) -> String {
        // SAFETY: ctx is initialised; libvpx returns a static or context-owned C string.
        unsafe {
            let msg = ffi::vpx_codec_error(&mut *self.ctx);
            let detail = ffi::vpx_codec_error_detail(&mut *self.ctx);
            let mut text = if msg.is_null() {
                String::new()
            } else {
                CStr::from_ptr(msg).to_string_lossy().into_owned()
            };
            if !detail.is_null() {
                text.push_str(": ");
                text.push_str(&CStr::from_ptr(detail).to_string_lossy());
            }
            text
        }
    }
}

impl VideoDecoder for VpxDecoder {
    fn decode(&mut self, data: &[u8], timestamp: Timestamp) -> Result<Option<VideoFrame>> {
        let name = self.codec.name();
        if data.is_empty() {
            return Err(CodecError::Decode { codec: name, reason: "empty frame".into() }.into());
        }
        let len = u32::try_from(data.len())
            .map_err(|_| CodecError::Decode { codec: name, reason: "frame too large".into() })?;
        // SAFETY: data is valid for len bytes during the call; libvpx copies what it keeps.
        let rc = unsafe { ffi::vpx_codec_decode(&mut *self.ctx, data.as_ptr(), len, ptr::null_mut(), 0) };
        if rc != ffi::VPX_CODEC_OK {
            let reason = self.last_error();
            return Err(CodecError::Decode { codec: name, reason }.into());
        }
        let mut iter: ffi::vpx_codec_iter_t = ptr::null();
        let mut latest = None;
        loop {
            // SAFETY: iterating frames of the context we just decoded into.
            let img = unsafe { ffi::vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
            if img.is_null() {
                break;
            }
            // SAFETY: libvpx returned a valid image that stays alive until the next decode call.
            let img = unsafe { &*img };
            if img.fmt != ffi::vpx_img_fmt::VPX_IMG_FMT_I420 {
                return Err(CodecError::Decode {
                    codec: name,
                    reason: format!("unsupported pixel format {:?}", img.fmt),
                }
                .into());
            }
            let (w, h) = (img.d_w, img.d_h);
            let (cw, ch) = ((w as usize).div_ceil(2), (h as usize).div_ceil(2));
            let strides =
                [img.stride[0], img.stride[1], img.stride[2]].map(|s| usize::try_from(s).unwrap_or(0));
            if strides.contains(&0) || img.planes[..3].iter().any(|p| p.is_null()) {
                return Err(CodecError::Decode { codec: name, reason: "image without planes".into() }.into());
            }
            // SAFETY: each plane holds `stride × rows` bytes for the displayed size (libvpx allocates the
            // aligned size, which is at least that).
            let (y, u, v) = unsafe {
                (
                    std::slice::from_raw_parts(img.planes[0], strides[0] * (h as usize - 1) + w as usize),
                    std::slice::from_raw_parts(img.planes[1], strides[1] * (ch - 1) + cw),
                    std::slice::from_raw_parts(img.planes[2], strides[2] * (ch - 1) + cw),
                )
            };
            latest =
                Some(VideoFrame::from_planes(w, h, y, strides[0], u, strides[1], v, strides[2], timestamp)?);
        }
        Ok(latest)
    }
}

impl Drop for VpxDecoder {
    fn drop(&mut self) {
        // SAFETY: ctx was initialised in `new` and is destroyed once.
        unsafe {
            ffi::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in [VpxCodec::Vp8, VpxCodec::Vp9] {
            let mut decoder = VpxDecoder::new(codec).unwrap();
            assert!(decoder.decode(&[], Timestamp(0)).is_err());
            let result =
                decoder.decode(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22], Timestamp(0));
            assert!(!matches!(result, Ok(Some(_))), "{codec:?} decoded garbage");
        }
    }
}
