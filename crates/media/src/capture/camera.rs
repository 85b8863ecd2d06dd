//! Camera capture through nokhwa: V4L2 on Linux, Media Foundation on Windows, AVFoundation on macOS.
//!
//! [`list_cameras`] lists the devices; [`Camera::open`] opens one, picks a mode (1280×720 at 30 fps,
//! else the closest, see [`Camera::open_with`]) and delivers I420 frames of even size as a
//! [`VideoSource`]. YUYV, NV12, MJPEG (decoded by `zune-jpeg`), RGB24 and grey cameras are supported.
//!
//! nokhwa's camera is not `Send`, so each [`Camera`] owns a thread that opens the device and dequeues
//! every frame as it arrives, keeping only the newest (a slow consumer gets fresh frames, never a
//! backlog); [`next_frame`](VideoSource::next_frame) converts that newest frame on the caller's thread.
//! nokhwa and v4l panic on some device errors (a failed `STREAMOFF`, a non-UTF-8 device name): those
//! panics are caught and reported as errors.
//!
//! On Linux the list has one entry per `/dev/videoN` node, so a UVC camera's metadata node shows up
//! next to it; it cannot be opened (no picture format), and `Camera::open(None)` skips it.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
};
use nokhwa::{Buffer, NokhwaError};
use tracing::{debug, info, warn};
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::convert;
use crate::error::{CaptureError, Error, Result};
use crate::frame::{Timestamp, VideoFrame};
use crate::source::{VideoSource, VideoSourceInfo};

const KIND: &str = "camera";

/// Pixel formats asked of the camera, in no particular order (the mode choice ranks them).
const SUPPORTED: [FrameFormat; 5] =
    [FrameFormat::YUYV, FrameFormat::NV12, FrameFormat::MJPEG, FrameFormat::RAWRGB, FrameFormat::GRAY];

/// How long opening may take, including the first picture (cameras need a moment to start).
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`VideoSource::next_frame`] waits for a picture before reporting the camera stopped.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// How long dropping a camera waits for its thread to release the device.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Consecutive read errors after which the camera is considered gone.
const MAX_READ_ERRORS: u32 = 3;
/// Consecutive undecodable frames (corrupt MJPEG) skipped before giving up.
const MAX_BAD_FRAMES: u32 = 30;
/// The mode [`Camera::open`] looks for.
const DEFAULT_TARGET: (u32, u32, u32) = (1280, 720, 30);

/// One camera of the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    /// Index to pass to [`Camera::open`] (on Linux the `N` of `/dev/videoN`).
    pub index: u32,
    /// Human-readable name, e.g. "Integrated Camera".
    pub name: String,
    /// What the back end says about it (e.g. its device path).
    pub description: String,
}

/// How a camera encodes its pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PixelFormat {
    /// Packed YUV 4:2:2 (YUY2), the usual uncompressed webcam format.
    Yuyv,
    /// Semi-planar YUV 4:2:0.
    Nv12,
    /// Motion JPEG: one JPEG picture per frame.
    Mjpeg,
    /// Packed 8-bit RGB.
    Rgb,
    /// 8-bit grey.
    Gray,
}

impl PixelFormat {
    fn from_nokhwa(format: FrameFormat) -> Option<Self> {
        match format {
            FrameFormat::YUYV => Some(Self::Yuyv),
            FrameFormat::NV12 => Some(Self::Nv12),
            FrameFormat::MJPEG => Some(Self::Mjpeg),
            FrameFormat::RAWRGB => Some(Self::Rgb),
            FrameFormat::GRAY => Some(Self::Gray),
            FrameFormat::RAWBGR => None,
        }
    }

    fn to_nokhwa(self) -> FrameFormat {
        match self {
            Self::Yuyv => FrameFormat::YUYV,
            Self::Nv12 => FrameFormat::NV12,
            Self::Mjpeg => FrameFormat::MJPEG,
            Self::Rgb => FrameFormat::RAWRGB,
            Self::Gray => FrameFormat::GRAY,
        }
    }

    /// Preference when everything else is equal: cheapest to convert first.
    fn rank(self) -> u8 {
        match self {
            Self::Yuyv => 0,
            Self::Nv12 => 1,
            Self::Mjpeg => 2,
            Self::Rgb => 3,
            Self::Gray => 4,
        }
    }
}

/// One capture mode a camera offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CameraMode {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Pixel format.
    pub format: PixelFormat,
}

impl CameraMode {
    fn from_nokhwa(format: CameraFormat) -> Option<Self> {
        Some(Self {
            width: format.width(),
            height: format.height(),
            fps: format.frame_rate(),
            format: PixelFormat::from_nokhwa(format.format())?,
        })
    }

    fn to_nokhwa(self) -> CameraFormat {
        CameraFormat::new(Resolution::new(self.width, self.height), self.format.to_nokhwa(), self.fps)
    }
}

/// Lists the cameras, sorted by index. An empty list when there is none.
///
/// Fails with [`CaptureError::Unavailable`] only when the system cannot be asked at all.
pub fn list_cameras() -> Result<Vec<CameraInfo>> {
    let listed =
        catch_unwind(|| nokhwa::query(ApiBackend::Auto)).map_err(|panic| CaptureError::Unavailable {
            kind: KIND,
            reason: format!("the camera back end crashed while listing devices: {}", panic_message(&*panic)),
        })?;
    let devices = listed
        .map_err(|e| CaptureError::Unavailable { kind: KIND, reason: format!("cannot list cameras: {e}") })?;
    let mut cameras: Vec<CameraInfo> = devices
        .iter()
        .filter_map(|d| match d.index().as_index() {
            Ok(index) => {
                Some(CameraInfo { index, name: d.human_name(), description: d.description().to_string() })
            }
            Err(e) => {
                warn!(name = %d.human_name(), error = %e, "skipping a camera without a numeric index");
                None
            }
        })
        .collect();
    cameras.sort_by_key(|c| c.index);
    cameras.dedup_by_key(|c| c.index);
    Ok(cameras)
}

/// The mode closest to `target` (width, height, fps): first a frame rate that is not too low
/// (at least `min(target fps, 24)`), then the nearest size, then the nearest frame rate, then the
/// cheapest pixel format (YUYV, NV12, MJPEG, RGB, grey).
fn choose_mode(modes: &[CameraMode], (width, height, fps): (u32, u32, u32)) -> Option<CameraMode> {
    modes.iter().copied().filter(|m| m.width >= 2 && m.height >= 2 && m.fps > 0).min_by_key(|m| {
        (
            m.fps < fps.min(24),
            m.width.abs_diff(width) + m.height.abs_diff(height),
            m.fps.abs_diff(fps),
            m.format.rank(),
        )
    })
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn open_failed(name: &str, reason: impl Into<String>) -> Error {
    CaptureError::OpenFailed { kind: KIND, name: name.to_string(), reason: reason.into() }.into()
}

fn stopped(reason: impl Into<String>) -> Error {
    CaptureError::Stopped { kind: KIND, reason: reason.into() }.into()
}

/// Maps nokhwa's open errors: a missing device node is `DeviceNotFound`, anything else (busy,
/// permission denied, no usable format) `OpenFailed` with the system's reason.
fn open_error(index: u32, e: &NokhwaError) -> Error {
    if let NokhwaError::OpenDeviceError(_, reason) = e {
        if reason.contains("No such file or directory") || reason.contains("os error 2)") {
            return CaptureError::DeviceNotFound { kind: KIND, name: index.to_string() }.into();
        }
    }
    open_failed(&format!("camera {index}"), e.to_string())
}

/// Opens the device (without streaming) and lists its supported modes.
fn open_device(index: u32) -> Result<(nokhwa::Camera, String, Vec<CameraMode>)> {
    let request = RequestedFormat::with_formats(RequestedFormatType::None, &SUPPORTED);
    let mut camera =
        nokhwa::Camera::new(CameraIndex::Index(index), request).map_err(|e| open_error(index, &e))?;
    let name = camera.info().human_name();
    let formats = camera.compatible_camera_formats().map_err(|e| open_failed(&name, e.to_string()))?;
    let mut modes: Vec<CameraMode> = formats.into_iter().filter_map(CameraMode::from_nokhwa).collect();
    modes.sort_by_key(|m| {
        (std::cmp::Reverse(m.width * m.height), m.width, std::cmp::Reverse(m.fps), m.format)
    });
    modes.dedup();
    Ok((camera, name, modes))
}

/// What the camera thread reports once the device is open and has delivered its first picture.
struct Opened {
    info: CameraInfo,
    mode: CameraMode,
    modes: Vec<CameraMode>,
}

/// The newest frame from the camera thread, and how the thread is doing.
#[derive(Default)]
struct Slot {
    frame: Option<Buffer>,
    /// Set by the camera thread when the camera failed.
    error: Option<String>,
    /// Set by [`Camera`]'s drop: the thread should release the device.
    stop: bool,
    /// Set by the thread when it has released the device.
    ended: bool,
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_until<'a>(&self, guard: MutexGuard<'a, Slot>, deadline: Instant) -> MutexGuard<'a, Slot> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.changed.wait_timeout(guard, left).unwrap_or_else(PoisonError::into_inner).0
    }
}

/// An open camera, delivering I420 frames of even size.
pub struct Camera {
    info: CameraInfo,
    mode: CameraMode,
    modes: Vec<CameraMode>,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    /// Conversion scratch (MJPEG decoding output, repacked rows), reused from frame to frame.
    scratch: Vec<u8>,
    last_ts: Timestamp,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera").field("info", &self.info).field("mode", &self.mode).finish_non_exhaustive()
    }
}

impl Camera {
    /// Lists the modes camera `index` offers in a supported pixel format (the first camera for
    /// `None`), largest first. Opens the device briefly without streaming.
    pub fn list_formats(index: Option<u32>) -> Result<Vec<CameraMode>> {
        let index = match index {
            Some(index) => index,
            None => list_cameras()?.first().map(|c| c.index).ok_or(CaptureError::NoDevice { kind: KIND })?,
        };
        let probed = catch_unwind(|| open_device(index).map(|(_camera, _name, modes)| modes));
        probed.unwrap_or_else(|panic| {
            Err(open_failed(
                &format!("camera {index}"),
                format!("the camera back end crashed: {}", panic_message(&*panic)),
            ))
        })
    }

    /// Opens camera `index` (see [`list_cameras`]), or for `None` the first camera that opens, in the
    /// mode closest to 1280×720 at 30 fps.
    ///
    /// Errors: [`CaptureError::NoDevice`] when there is no camera, [`CaptureError::DeviceNotFound`]
    /// for an unknown index, [`CaptureError::OpenFailed`] with the system's reason when the camera is
    /// busy, forbidden, offers no supported format or delivers no picture.
    pub fn open(index: Option<u32>) -> Result<Self> {
        let (width, height, fps) = DEFAULT_TARGET;
        Self::open_with(index, width, height, fps)
    }

    /// Like [`Camera::open`], choosing the mode closest to `width × height` at `fps`: first a frame
    /// rate that is not too low, then the nearest size, the nearest rate, the cheapest format.
    pub fn open_with(index: Option<u32>, width: u32, height: u32, fps: u32) -> Result<Self> {
        let target = (width, height, fps);
        let cameras = list_cameras()?;
        if cameras.is_empty() {
            return Err(CaptureError::NoDevice { kind: KIND }.into());
        }
        if let Some(index) = index {
            if !cameras.iter().any(|c| c.index == index) {
                return Err(CaptureError::DeviceNotFound { kind: KIND, name: index.to_string() }.into());
            }
            return Self::open_index(index, target);
        }
        let mut first_error = None;
        for camera in &cameras {
            match Self::open_index(camera.index, target) {
                Ok(opened) => return Ok(opened),
                Err(e) => {
                    debug!(index = camera.index, name = %camera.name, error = %e, "camera does not open");
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(CaptureError::NoDevice { kind: KIND }.into()))
    }

    fn open_index(index: u32, target: (u32, u32, u32)) -> Result<Self> {
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let worker_shared = Arc::clone(&shared);
        let worker = thread::Builder::new()
            .name(format!("camera-{index}"))
            .spawn(move || camera_thread(index, target, &ready_tx, &worker_shared))
            .map_err(|e| {
                open_failed(&format!("camera {index}"), format!("cannot start the camera thread: {e}"))
            })?;
        let opened = match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => {
                if worker.join().is_err() {
                    warn!(index, "camera thread panicked");
                }
                return Err(e);
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = worker.join();
                let reason = shared.lock().error.take().unwrap_or_else(|| "the camera thread ended".into());
                return Err(open_failed(&format!("camera {index}"), reason));
            }
            Err(RecvTimeoutError::Timeout) => {
                shared.lock().stop = true;
                return Err(open_failed(
                    &format!("camera {index}"),
                    format!("no picture within {OPEN_TIMEOUT:?} of opening"),
                ));
            }
        };
        let Opened { info, mode, modes } = opened;
        info!(name = %info.name, ?mode, "camera opened");
        Ok(Self {
            info,
            mode,
            modes,
            shared,
            worker: Some(worker),
            scratch: Vec::new(),
            last_ts: Timestamp(0),
        })
    }

    /// The camera being captured.
    pub fn camera(&self) -> &CameraInfo {
        &self.info
    }

    /// The mode it captures in. Frames are this size rounded down to even numbers.
    pub fn mode(&self) -> CameraMode {
        self.mode
    }

    /// Every mode the camera offers in a supported pixel format, largest first.
    pub fn formats(&self) -> &[CameraMode] {
        &self.modes
    }

    /// Waits for a frame newer than the last one taken.
    fn wait_buffer(&self) -> Result<Buffer> {
        let deadline = Instant::now() + FRAME_TIMEOUT;
        let mut slot = self.shared.lock();
        loop {
            if let Some(buffer) = slot.frame.take() {
                return Ok(buffer);
            }
            if let Some(reason) = &slot.error {
                return Err(stopped(reason.clone()));
            }
            if slot.ended {
                return Err(stopped("the camera thread ended"));
            }
            if Instant::now() >= deadline {
                return Err(stopped(format!("no picture from the camera for {FRAME_TIMEOUT:?}")));
            }
            slot = self.shared.wait_until(slot, deadline);
        }
    }
}

impl VideoSource for Camera {
    fn info(&self) -> VideoSourceInfo {
        VideoSourceInfo {
            name: self.info.name.clone(),
            width: self.mode.width & !1,
            height: self.mode.height & !1,
            fps: self.mode.fps,
        }
    }

    fn next_frame(&mut self) -> Result<VideoFrame> {
        let mut bad_frames = 0;
        loop {
            let buffer = self.wait_buffer()?;
            match buffer_to_i420(&buffer, &mut self.scratch) {
                Ok(mut frame) => {
                    if frame.timestamp <= self.last_ts {
                        frame.timestamp = Timestamp(self.last_ts.0.saturating_add(1));
                    }
                    self.last_ts = frame.timestamp;
                    return Ok(frame);
                }
                Err(e) if bad_frames < MAX_BAD_FRAMES => {
                    bad_frames += 1;
                    debug!(error = %e, "skipping an undecodable camera frame");
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        let mut slot = self.shared.lock();
        slot.stop = true;
        while !slot.ended && Instant::now() < deadline {
            slot = self.shared.wait_until(slot, deadline);
        }
        let ended = slot.ended;
        drop(slot);
        if let Some(worker) = self.worker.take() {
            if !ended {
                warn!(name = %self.info.name, "camera thread did not stop within {CLOSE_TIMEOUT:?}; leaving it");
            } else if worker.join().is_err() {
                warn!(name = %self.info.name, "camera thread panicked");
            }
        }
    }
}

/// The camera thread: opens the device, reports, then keeps the newest frame in the slot until told to
/// stop. Panics of the back end are caught and reported.
fn camera_thread(index: u32, target: (u32, u32, u32), ready: &Sender<Result<Opened>>, shared: &Shared) {
    let outcome = catch_unwind(AssertUnwindSafe(|| run_camera(index, target, ready, shared)));
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(reason)) => Some(reason),
        Err(panic) => Some(format!("the camera back end crashed: {}", panic_message(&*panic))),
    };
    let mut slot = shared.lock();
    if let Some(reason) = failure {
        if !slot.stop {
            warn!(index, %reason, "camera stopped");
        }
        slot.error.get_or_insert(reason);
    }
    slot.ended = true;
    shared.changed.notify_all();
    debug!(index, "camera thread ends");
}

fn run_camera(
    index: u32,
    target: (u32, u32, u32),
    ready: &Sender<Result<Opened>>,
    shared: &Shared,
) -> std::result::Result<(), String> {
    let (mut camera, info, mode) = match start_camera(index, target) {
        Ok(started) => started,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    // The first picture proves the camera works (a busy camera fails here, when streaming starts).
    match camera.frame() {
        Ok(first) => shared.lock().frame = Some(first),
        Err(e) => {
            let _ = ready.send(Err(open_failed(&info.0.name, e.to_string())));
            return Ok(());
        }
    }
    let (info, modes) = info;
    if ready.send(Ok(Opened { info, mode, modes })).is_err() {
        return Ok(());
    }
    let mut errors = 0;
    loop {
        if shared.lock().stop {
            return Ok(());
        }
        match camera.frame() {
            Ok(buffer) => {
                errors = 0;
                let mut slot = shared.lock();
                slot.frame = Some(buffer);
                shared.changed.notify_all();
            }
            Err(e) => {
                errors += 1;
                if errors >= MAX_READ_ERRORS {
                    return Err(e.to_string());
                }
                debug!(index, error = %e, "camera read failed; retrying");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Opens the device, chooses and sets the mode, opens the stream.
#[allow(clippy::type_complexity)]
fn start_camera(
    index: u32,
    target: (u32, u32, u32),
) -> Result<(nokhwa::Camera, (CameraInfo, Vec<CameraMode>), CameraMode)> {
    let (mut camera, name, modes) = open_device(index)?;
    let wanted = choose_mode(&modes, target).ok_or_else(|| {
        open_failed(&name, "the camera offers no supported pixel format (YUYV, NV12, MJPEG, RGB or grey)")
    })?;
    let current = CameraMode::from_nokhwa(camera.camera_format());
    if current != Some(wanted) {
        let wanted_format = [wanted.format.to_nokhwa()];
        let request =
            RequestedFormat::with_formats(RequestedFormatType::Exact(wanted.to_nokhwa()), &wanted_format);
        camera
            .set_camera_requset(request)
            .map_err(|e| open_failed(&name, format!("cannot set {wanted:?}: {e}")))?;
    }
    let mode = CameraMode::from_nokhwa(camera.camera_format())
        .ok_or_else(|| open_failed(&name, "the camera switched to an unsupported pixel format"))?;
    if mode.width < 2 || mode.height < 2 {
        return Err(open_failed(&name, format!("frame size {}x{} is too small", mode.width, mode.height)));
    }
    camera.open_stream().map_err(|e| open_failed(&name, e.to_string()))?;
    let description = camera.info().description().to_string();
    let info = CameraInfo { index, name, description };
    Ok((camera, (info, modes), mode))
}

/// The capture time of a buffer: the driver's timestamp when it is plausible, else now.
fn capture_time(buffer: &Buffer) -> Timestamp {
    let now = Timestamp::now();
    let Some(at) = buffer.capture_timestamp() else { return now };
    let Ok(micros) = u64::try_from(at.as_micros()) else { return now };
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let plausible = micros <= now.0 + 1_000_000 && micros + 5_000_000 >= now.0 && !since_epoch.is_zero();
    if plausible {
        Timestamp(micros)
    } else {
        now
    }
}

/// Converts one camera buffer to I420, cropped to even width and height. `scratch` is reused from
/// frame to frame (MJPEG decoding, repacking).
fn buffer_to_i420(buffer: &Buffer, scratch: &mut Vec<u8>) -> Result<VideoFrame> {
    let resolution = buffer.resolution();
    let ts = capture_time(buffer);
    convert_picture(
        buffer.source_frame_format(),
        buffer.buffer(),
        resolution.width(),
        resolution.height(),
        ts,
        scratch,
    )
}

fn convert_picture(
    format: FrameFormat,
    data: &[u8],
    width: u32,
    height: u32,
    ts: Timestamp,
    scratch: &mut Vec<u8>,
) -> Result<VideoFrame> {
    let (even_w, even_h) = (width & !1, height & !1);
    if even_w == 0 || even_h == 0 {
        return Err(Error::InvalidFrame(format!("camera frame of {width}x{height}")));
    }
    let w = width as usize;
    match format {
        // Row strides: V4L2 and Media Foundation deliver tightly packed rows for these formats.
        FrameFormat::YUYV => convert::yuyv_to_i420(data, w.div_ceil(2) * 4, even_w, even_h, ts),
        FrameFormat::RAWRGB => convert::rgb_to_i420(data, w * 3, even_w, even_h, ts),
        FrameFormat::NV12 => nv12_to_i420(data, width, height, ts),
        FrameFormat::GRAY => gray_to_i420(data, width, height, ts),
        FrameFormat::MJPEG => {
            let (jw, jh) = decode_mjpeg(data, scratch)?;
            if jw < 2 || jh < 2 {
                return Err(Error::InvalidFrame(format!("MJPEG picture of {jw}x{jh}")));
            }
            convert::rgb_to_i420(scratch, jw as usize * 3, jw & !1, jh & !1, ts)
        }
        FrameFormat::RAWBGR => Err(Error::InvalidFrame("BGR camera frames are not supported".into())),
    }
}

/// Decodes one MJPEG frame into packed RGB in `rgb` (resized as needed); returns its size.
fn decode_mjpeg(data: &[u8], rgb: &mut Vec<u8>) -> Result<(u32, u32)> {
    let bad = |reason: String| Error::InvalidFrame(format!("MJPEG frame: {reason}"));
    // zune-jpeg is written not to panic, but this is data from a device: make sure.
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        let options = DecoderOptions::new_fast().jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
        decoder.decode_headers().map_err(|e| bad(e.to_string()))?;
        let (w, h) = decoder.dimensions().ok_or_else(|| bad("no dimensions".into()))?;
        let size = decoder.output_buffer_size().ok_or_else(|| bad("size overflows".into()))?;
        if size != w * h * 3 {
            return Err(bad(format!("unexpected output size {size} for {w}x{h} RGB")));
        }
        rgb.resize(size, 0);
        decoder.decode_into(rgb).map_err(|e| bad(e.to_string()))?;
        let to_u32 = |v: usize| u32::try_from(v).map_err(|_| bad(format!("size {w}x{h}")));
        Ok((to_u32(w)?, to_u32(h)?))
    }));
    decoded.unwrap_or_else(|panic| Err(bad(format!("decoder crashed: {}", panic_message(&*panic)))))
}

/// NV12 (Y plane, then interleaved U/V at half resolution) to I420, cropped to even size.
fn nv12_to_i420(data: &[u8], width: u32, height: u32, ts: Timestamp) -> Result<VideoFrame> {
    let (w, h) = (width as usize, height as usize);
    let uv_stride = w.div_ceil(2) * 2;
    let needed = w * h + uv_stride * h.div_ceil(2);
    if data.len() < needed {
        return Err(Error::InvalidFrame(format!(
            "NV12 {width}x{height} needs {needed} bytes, got {}",
            data.len()
        )));
    }
    let mut frame = VideoFrame::black(width & !1, height & !1, ts);
    let (ew, cw) = ((width & !1) as usize, (width / 2) as usize);
    let (luma, chroma) = data.split_at(w * h);
    let (y, u, v) = frame.planes_mut();
    for (dst, src) in y.chunks_exact_mut(ew).zip(luma.chunks_exact(w)) {
        dst.copy_from_slice(&src[..ew]);
    }
    for ((du, dv), src) in
        u.chunks_exact_mut(cw).zip(v.chunks_exact_mut(cw)).zip(chroma.chunks_exact(uv_stride))
    {
        for ((pu, pv), pair) in du.iter_mut().zip(dv.iter_mut()).zip(src.chunks_exact(2)) {
            *pu = pair[0];
            *pv = pair[1];
        }
    }
    Ok(frame)
}

/// 8-bit full-range grey to I420 (limited-range luma, neutral chroma), cropped to even size.
fn gray_to_i420(data: &[u8], width: u32, height: u32, ts: Timestamp) -> Result<VideoFrame> {
    let (w, h) = (width as usize, height as usize);
    if data.len() < w * h {
        return Err(Error::InvalidFrame(format!(
            "grey {width}x{height} needs {} bytes, got {}",
            w * h,
            data.len()
        )));
    }
    let mut lut = [0u8; 256];
    for (value, out) in lut.iter_mut().enumerate() {
        *out = u8::try_from(16 + value * 219 / 255).unwrap_or(235);
    }
    let mut frame = VideoFrame::black(width & !1, height & !1, ts);
    let ew = (width & !1) as usize;
    let (y, _, _) = frame.planes_mut();
    for (dst, src) in y.chunks_exact_mut(ew).zip(data.chunks_exact(w)) {
        for (d, &s) in dst.iter_mut().zip(&src[..ew]) {
            *d = lut[usize::from(s)];
        }
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(width: u32, height: u32, fps: u32, format: PixelFormat) -> CameraMode {
        CameraMode { width, height, fps, format }
    }

    #[test]
    fn mode_choice_prefers_720p30_then_the_closest() {
        use PixelFormat::*;
        let target = DEFAULT_TARGET;
        let typical = [
            mode(1920, 1080, 5, Yuyv),
            mode(1280, 720, 10, Yuyv),
            mode(640, 480, 30, Yuyv),
            mode(1920, 1080, 30, Mjpeg),
            mode(1280, 720, 30, Mjpeg),
            mode(1280, 720, 60, Mjpeg),
        ];
        assert_eq!(choose_mode(&typical, target), Some(mode(1280, 720, 30, Mjpeg)));
        // The same mode uncompressed wins over MJPEG.
        let both = [mode(1280, 720, 30, Mjpeg), mode(1280, 720, 30, Yuyv), mode(1280, 720, 30, Nv12)];
        assert_eq!(choose_mode(&both, target), Some(mode(1280, 720, 30, Yuyv)));
        // A usable frame rate beats the exact size at 10 fps.
        let usb2 = [mode(1280, 720, 10, Yuyv), mode(640, 480, 30, Yuyv), mode(320, 240, 30, Yuyv)];
        assert_eq!(choose_mode(&usb2, target), Some(mode(640, 480, 30, Yuyv)));
        // Only slow modes: the closest size.
        let slow = [mode(1920, 1080, 15, Yuyv), mode(800, 600, 15, Yuyv)];
        assert_eq!(choose_mode(&slow, target), Some(mode(800, 600, 15, Yuyv)));
        assert_eq!(choose_mode(&[], target), None);
    }

    #[test]
    fn a_missing_device_node_is_device_not_found() {
        // Straight to the back end, past the device list: /dev/video57 does not exist.
        match open_device(57) {
            Err(Error::Capture(CaptureError::DeviceNotFound { kind: "camera", name })) => {
                assert_eq!(name, "57")
            }
            Err(other) => panic!("expected DeviceNotFound, got {other:?}"),
            Ok(_) => {} // a machine with 58 video nodes
        }
    }

    fn rgb_of(frame: &VideoFrame, x: usize, y: usize) -> [u8; 3] {
        let rgba = convert::i420_to_rgba(frame).unwrap();
        let i = (y * frame.width() as usize + x) * 4;
        [rgba[i], rgba[i + 1], rgba[i + 2]]
    }

    fn assert_close(got: [u8; 3], want: [u8; 3], tolerance: i32) {
        for (g, w) in got.iter().zip(want) {
            assert!((i32::from(*g) - i32::from(w)).abs() <= tolerance, "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn yuyv_nv12_rgb_and_grey_convert_and_crop_to_even() {
        let ts = Timestamp(7);
        let mut scratch = Vec::new();
        // BT.601 limited-range red: Y=81 U=90 V=240, in a 5x3 picture (odd sizes crop to 4x2).
        let yuyv: Vec<u8> = [81u8, 90, 81, 240].iter().copied().cycle().take(6 * 2 * 3).collect();
        let frame = convert_picture(FrameFormat::YUYV, &yuyv, 5, 3, ts, &mut scratch).unwrap();
        assert_eq!((frame.width(), frame.height(), frame.timestamp), (4, 2, ts));
        assert_close(rgb_of(&frame, 1, 1), [255, 0, 0], 6);

        // Even width, buffer longer than the picture (driver padding at the end).
        let mut padded: Vec<u8> = [81u8, 90, 81, 240].iter().copied().cycle().take(4 * 2 * 2).collect();
        padded.extend([0u8; 100]);
        let frame = convert_picture(FrameFormat::YUYV, &padded, 4, 2, ts, &mut scratch).unwrap();
        assert_close(rgb_of(&frame, 3, 1), [255, 0, 0], 6);

        let mut nv12 = vec![81u8; 5 * 3];
        nv12.extend([90u8, 240].iter().copied().cycle().take(6 * 2));
        let frame = convert_picture(FrameFormat::NV12, &nv12, 5, 3, ts, &mut scratch).unwrap();
        assert_eq!((frame.width(), frame.height()), (4, 2));
        assert!(frame.u().iter().all(|&u| u == 90) && frame.v().iter().all(|&v| v == 240));
        assert!(convert_picture(FrameFormat::NV12, &nv12[..20], 5, 3, ts, &mut scratch).is_err());

        let rgb: Vec<u8> = [0u8, 0, 255].iter().copied().cycle().take(6 * 4 * 3).collect();
        let frame = convert_picture(FrameFormat::RAWRGB, &rgb, 6, 4, ts, &mut scratch).unwrap();
        assert_close(rgb_of(&frame, 3, 2), [0, 0, 255], 6);

        let grey = vec![255u8; 4 * 4];
        let frame = convert_picture(FrameFormat::GRAY, &grey, 4, 4, ts, &mut scratch).unwrap();
        assert!(frame.y().iter().all(|&y| y == 235) && frame.u().iter().all(|&u| u == 128));

        assert!(convert_picture(FrameFormat::YUYV, &yuyv[..10], 5, 3, ts, &mut scratch).is_err());
        assert!(convert_picture(FrameFormat::YUYV, &yuyv, 1, 1, ts, &mut scratch).is_err());
    }

    /// A 16x16 baseline JPEG (4:2:0), left half pure red, right half pure blue, made with
    /// `ffmpeg -f lavfi -i color=red:s=16x16 -vf "drawbox=x=8:y=0:w=8:h=16:color=blue:t=fill,format=yuvj420p"
    /// -frames:v 1 -q:v 2 -fflags +bitexact -flags +bitexact out.jpg`.
    #[rustfmt::skip]
    const RED_BLUE_JPEG: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x02, 0x00, 0x00, 0x01, 0x00, 0x01,
    0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x08, 0x04, 0x04, 0x04, 0x04, 0x04, 0x05, 0x05, 0x05, 0x05, 0x05,
    0x05, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x07, 0x07, 0x07, 0x08,
    0x08, 0x08, 0x07, 0x07, 0x07, 0x06, 0x06, 0x07, 0x07, 0x08, 0x08, 0x08, 0x08, 0x09, 0x09, 0x09, 0x08, 0x08,
    0x08, 0x08, 0x09, 0x09, 0x0a, 0x0a, 0x0a, 0x0c, 0x0c, 0x0b, 0x0b, 0x0e, 0x0e, 0x0e, 0x11, 0x11, 0x14, 0xff,
    0xc4, 0x00, 0x4e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x06, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x06, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x11, 0x00, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x08, 0x46, 0xc4, 0x85, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10, 0x03, 0x01,
    0x22, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00, 0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03,
    0x11, 0x00, 0x3f, 0x00, 0x16, 0x20, 0x5e, 0x20, 0x54, 0xb2, 0xd5, 0xf1, 0xf7, 0x8d, 0x98, 0x59, 0xae, 0xae,
    0x23, 0xff, 0xd9,
    ];

    #[test]
    fn mjpeg_frames_decode_and_corrupt_ones_are_errors() {
        let mut scratch = Vec::new();
        let frame =
            convert_picture(FrameFormat::MJPEG, RED_BLUE_JPEG, 16, 16, Timestamp(1), &mut scratch).unwrap();
        assert_eq!((frame.width(), frame.height()), (16, 16));
        assert_close(rgb_of(&frame, 2, 8), [255, 0, 0], 24);
        assert_close(rgb_of(&frame, 13, 8), [0, 0, 255], 24);
        for len in [0, 2, 20, RED_BLUE_JPEG.len() / 2] {
            assert!(convert_picture(
                FrameFormat::MJPEG,
                &RED_BLUE_JPEG[..len],
                16,
                16,
                Timestamp(1),
                &mut scratch
            )
            .is_err());
        }
        let mut garbage = RED_BLUE_JPEG.to_vec();
        for b in garbage.iter_mut().skip(200) {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        let _ = convert_picture(FrameFormat::MJPEG, &garbage, 16, 16, Timestamp(1), &mut scratch);
    }
}
