//! Screen capture through scrap: X11 (XCB + MIT-SHM) on Linux, DXGI on Windows, Quartz on macOS.
//!
//! [`list_displays`] names the monitors; [`ScreenCapture`] grabs one of them as a paced
//! [`VideoSource`]: each [`next_frame`](VideoSource::next_frame) sleeps until the next tick of a fixed
//! grid (`start + n / fps`, so pacing never drifts; a late caller skips the ticks it missed instead of
//! bursting), grabs the screen, converts BGRA to I420 cropped to even width and height (encoders want
//! even sizes) and, with [`ScreenCapture::with_max_size`], scales it down keeping the aspect ratio.
//!
//! scrap's capturers are neither `Send` nor safe to share, so each `ScreenCapture` owns one worker
//! thread that opens the display, grabs and converts on request; the capturer never leaves it.
//!
//! On Linux the X server is checked before scrap touches it (scrap 0.5 crashes on a server without
//! RandR 1.5, and silently returns garbage at other depths or without MIT-SHM): such servers, and a
//! missing X display (no `DISPLAY`, e.g. a Wayland-only session), give [`CaptureError::Unavailable`].
//! Under XWayland only X11 windows are visible. While capturing, the monitor layout is re-checked once
//! a second; if the captured monitor was resized, moved or unplugged the capture ends with
//! [`CaptureError::Stopped`] and must be reopened.
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use crate::convert::{self, Scaler};
use crate::error::{CaptureError, Result};
use crate::frame::{Timestamp, VideoFrame};
use crate::source::{VideoSource, VideoSourceInfo};

#[cfg(not(target_os = "linux"))]
mod generic;
#[cfg(not(target_os = "linux"))]
use generic as platform;
#[cfg(target_os = "linux")]
mod shm_guard;
#[cfg(target_os = "linux")]
mod x11;
#[cfg(target_os = "linux")]
use x11 as platform;

/// Device kind in errors about which display (none, not found).
const DEVICE_KIND: &str = "display";
/// Device kind in errors about screen capture as a whole (unavailable, stopped).
const KIND: &str = "screen";

/// Highest frame rate [`ScreenCapture::open`] accepts.
pub const MAX_FPS: u32 = 60;

/// How long opening a display may take before it is reported as failed.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one grab may take before the capture is declared stuck.
const GRAB_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the very first picture when the platform reports "no new frame" (DXGI).
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between two polls when the platform reports "no new frame yet".
const RETRY_PAUSE: Duration = Duration::from_millis(2);

/// One monitor that can be captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayInfo {
    /// Index to pass to [`ScreenCapture::open`].
    pub index: u32,
    /// The system's name for it (the RandR monitor name on X11, e.g. `DP-1`), or "Display N".
    pub name: String,
    /// Left edge in desktop coordinates (0 where the platform does not say).
    pub x: i32,
    /// Top edge in desktop coordinates (0 where the platform does not say).
    pub y: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether this is the primary monitor. When the system marks none as primary (e.g. Xvfb), the
    /// first one is reported as primary, so that exactly one display is the natural default.
    pub primary: bool,
}

/// Lists the monitors that can be captured, primary or not, in the order [`ScreenCapture::open`]
/// indexes them.
///
/// Fails with [`CaptureError::Unavailable`] when there is no usable display server (no X display on
/// Linux, e.g. a Wayland-only session or a headless machine).
pub fn list_displays() -> Result<Vec<DisplayInfo>> {
    platform::list_displays()
}

fn stopped(reason: impl Into<String>) -> crate::Error {
    CaptureError::Stopped { kind: KIND, reason: reason.into() }.into()
}

/// One request to the worker: grab a picture and deliver it at this size.
#[derive(Debug, Clone, Copy)]
struct Request {
    width: u32,
    height: u32,
    /// How long to poll for a new picture before repeating the previous one (platforms that only
    /// deliver a picture when the screen changed).
    patience: Duration,
}

/// A paced screen capture of one monitor, delivering I420 frames of even size.
#[derive(Debug)]
pub struct ScreenCapture {
    display: DisplayInfo,
    fps: u32,
    /// Captured size: the display's size rounded down to even numbers.
    crop: (u32, u32),
    /// Delivered size: `crop`, or smaller with [`ScreenCapture::with_max_size`].
    out: (u32, u32),
    /// Time of tick 0 of the pacing grid (set by the first frame).
    start: Option<Instant>,
    /// Index on the grid of the next frame.
    next_tick: u64,
    last_ts: Timestamp,
    requests: Option<Sender<Request>>,
    replies: Receiver<Result<VideoFrame>>,
    worker: Option<JoinHandle<()>>,
    /// The worker did not answer in time: it may be blocked in the platform, so it is not joined.
    wedged: bool,
}

impl ScreenCapture {
    /// Opens display `display_index` (see [`list_displays`]) for capture at `fps` frames per second
    /// (1 to [`MAX_FPS`]).
    ///
    /// Errors: [`CaptureError::Unavailable`] without a usable display server,
    /// [`CaptureError::NoDevice`] when the server has no monitor, [`CaptureError::DeviceNotFound`]
    /// for an index out of range, [`CaptureError::OpenFailed`] for a bad frame rate or when the
    /// capturer cannot be set up.
    pub fn open(display_index: u32, fps: u32) -> Result<Self> {
        let name = format!("display {display_index}");
        if fps == 0 || fps > MAX_FPS {
            return Err(CaptureError::OpenFailed {
                kind: DEVICE_KIND,
                name,
                reason: format!("frame rate {fps} is outside 1..={MAX_FPS}"),
            }
            .into());
        }
        let (ready_tx, ready_rx) = mpsc::channel();
        let (request_tx, request_rx) = mpsc::channel();
        let (reply_tx, reply_rx) = mpsc::channel();
        let worker = thread::Builder::new()
            .name(format!("screen-capture-{display_index}"))
            .spawn(move || worker_main(display_index, &ready_tx, &request_rx, &reply_tx))
            .map_err(|e| CaptureError::OpenFailed {
                kind: DEVICE_KIND,
                name: name.clone(),
                reason: format!("cannot start the capture thread: {e}"),
            })?;
        let display = match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => {
                if worker.join().is_err() {
                    warn!("screen capture thread panicked while failing to open {name}");
                }
                return Err(e);
            }
            Err(RecvTimeoutError::Timeout) => {
                // Dropping the request sender lets the worker end on its own once it gets unstuck.
                return Err(CaptureError::OpenFailed {
                    kind: DEVICE_KIND,
                    name,
                    reason: format!("the display server did not answer within {OPEN_TIMEOUT:?}"),
                }
                .into());
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = worker.join();
                return Err(CaptureError::OpenFailed {
                    kind: DEVICE_KIND,
                    name,
                    reason: "the capture thread ended while opening the display".into(),
                }
                .into());
            }
        };
        let crop = (display.width & !1, display.height & !1);
        let name = display.name.as_str();
        info!(name, width = crop.0, height = crop.1, fps, "screen capture opened");
        Ok(Self {
            display,
            fps,
            crop,
            out: crop,
            start: None,
            next_tick: 0,
            last_ts: Timestamp(0),
            requests: Some(request_tx),
            replies: reply_rx,
            worker: Some(worker),
            wedged: false,
        })
    }

    /// Scales frames down, keeping the aspect ratio, so that they fit in `max_width × max_height`
    /// (rounded down to even sizes, at least 2×2). Frames that already fit are not scaled.
    pub fn with_max_size(mut self, max_width: u32, max_height: u32) -> Self {
        self.out = fit_within(self.crop, (max_width, max_height));
        if self.out != self.crop {
            debug!(from = ?self.crop, to = ?self.out, "screen capture scales its output");
        }
        self
    }

    /// The display being captured.
    pub fn display(&self) -> &DisplayInfo {
        &self.display
    }

    /// Sleeps until the next tick of the pacing grid and returns that tick's time.
    fn wait_for_tick(&mut self) -> Instant {
        let Some(start) = self.start else {
            let now = Instant::now();
            self.start = Some(now);
            self.next_tick = 0;
            return now;
        };
        let due = tick_time(start, self.next_tick, self.fps);
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        due
    }

    /// Moves to the next tick of the grid, skipping ticks that have already passed (a slow consumer
    /// gets fewer frames, never a burst of catch-up frames).
    fn advance_tick(&mut self) {
        let Some(start) = self.start else { return };
        let elapsed = start.elapsed();
        let passed =
            u64::try_from(elapsed.as_nanos() * u128::from(self.fps) / 1_000_000_000).unwrap_or(u64::MAX);
        self.next_tick = (self.next_tick + 1).max(passed.saturating_add(1));
    }

    fn request_frame(&mut self) -> Result<VideoFrame> {
        let requests =
            self.requests.as_ref().ok_or_else(|| stopped("the capture thread is not answering"))?;
        let patience = Duration::from_secs(1) / self.fps / 2;
        requests
            .send(Request { width: self.out.0, height: self.out.1, patience })
            .map_err(|_| stopped("the capture thread ended"))?;
        match self.replies.recv_timeout(GRAB_TIMEOUT) {
            Ok(frame) => frame,
            Err(RecvTimeoutError::Timeout) => {
                warn!(name = %self.display.name, "screen grab did not complete within {GRAB_TIMEOUT:?}");
                self.wedged = true;
                self.requests = None;
                Err(stopped(format!("the display did not deliver a picture within {GRAB_TIMEOUT:?}")))
            }
            Err(RecvTimeoutError::Disconnected) => Err(stopped("the capture thread ended")),
        }
    }
}

impl VideoSource for ScreenCapture {
    fn info(&self) -> VideoSourceInfo {
        VideoSourceInfo {
            name: self.display.name.clone(),
            width: self.out.0,
            height: self.out.1,
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<VideoFrame> {
        self.wait_for_tick();
        let result = self.request_frame();
        self.advance_tick();
        let mut frame = result?;
        if frame.timestamp <= self.last_ts {
            frame.timestamp = Timestamp(self.last_ts.0.saturating_add(1));
        }
        self.last_ts = frame.timestamp;
        Ok(frame)
    }
}

impl Drop for ScreenCapture {
    fn drop(&mut self) {
        // Closing the request channel ends the worker, which releases the capturer.
        self.requests = None;
        if let Some(worker) = self.worker.take() {
            if self.wedged {
                warn!("screen capture thread is stuck; leaving it to end on its own");
            } else if worker.join().is_err() {
                warn!("screen capture thread panicked");
            }
        }
    }
}

/// Time of tick `n` on a grid of `fps` ticks per second from `start`, exact (no accumulated rounding).
fn tick_time(start: Instant, n: u64, fps: u32) -> Instant {
    let nanos = u128::from(n) * 1_000_000_000 / u128::from(fps.max(1));
    let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
    start.checked_add(offset).unwrap_or(start)
}

/// The largest even size with the aspect ratio of `size` that fits in `max` (`size` if it fits).
fn fit_within(size: (u32, u32), max: (u32, u32)) -> (u32, u32) {
    let (w, h) = size;
    let (mw, mh) = (max.0.max(2), max.1.max(2));
    if w <= mw && h <= mh {
        return size;
    }
    let (w64, h64, mw64, mh64) = (u64::from(w), u64::from(h), u64::from(mw), u64::from(mh));
    // Compare w/h with mw/mh without floating point: the tighter side decides.
    let (nw, nh) = if w64 * mh64 >= h64 * mw64 { (mw64, h64 * mw64 / w64) } else { (w64 * mh64 / h64, mh64) };
    let even = |v: u64| (u32::try_from(v).unwrap_or(u32::MAX) & !1).max(2);
    (even(nw), even(nh))
}

fn worker_main(
    index: u32,
    ready: &Sender<Result<DisplayInfo>>,
    requests: &Receiver<Request>,
    replies: &Sender<Result<VideoFrame>>,
) {
    let mut grabber = match platform::Grabber::open(index) {
        Ok((grabber, display)) => {
            if ready.send(Ok(display)).is_err() {
                return;
            }
            grabber
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut scaler = Scaler::new();
    let mut last: Option<VideoFrame> = None;
    for request in requests {
        let frame = grab_frame(&mut grabber, &mut scaler, &mut last, request);
        if replies.send(frame).is_err() {
            break;
        }
    }
    debug!(index, "screen capture thread ends");
}

/// Grabs one picture, converts it to I420 (even-cropped) and scales it to the requested size.
fn grab_frame(
    grabber: &mut platform::Grabber,
    scaler: &mut Scaler,
    last: &mut Option<VideoFrame>,
    request: Request,
) -> Result<VideoFrame> {
    let (width, height) = grabber.size();
    let (crop_w, crop_h) = (width & !1, height & !1);
    let started = Instant::now();
    loop {
        let ts = Timestamp::now();
        let converted = grabber.grab(|bgra| {
            // scrap's real stride: rows may be padded (DXGI pitch).
            let stride = bgra.len() / height.max(1) as usize;
            convert::bgra_to_i420(bgra, stride, crop_w, crop_h, ts)
        })?;
        if let Some(full) = converted {
            let full = full?;
            let frame = if (request.width, request.height) == (crop_w, crop_h) {
                full
            } else {
                scaler.scale(&full, request.width, request.height)?
            };
            if platform::Grabber::MAY_REPEAT {
                *last = Some(frame.clone());
            }
            return Ok(frame);
        }
        // No new picture since the previous grab: the screen has not changed (DXGI).
        let waited = started.elapsed();
        match last.as_ref() {
            Some(previous)
                if waited >= request.patience
                    && (previous.width(), previous.height()) == (request.width, request.height) =>
            {
                let mut frame = previous.clone();
                frame.timestamp = ts;
                return Ok(frame);
            }
            None if waited >= FIRST_FRAME_TIMEOUT => {
                return Err(stopped(format!("no picture from the display within {FIRST_FRAME_TIMEOUT:?}")));
            }
            _ => thread::sleep(RETRY_PAUSE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_aspect_and_even_sizes() {
        assert_eq!(fit_within((1920, 1080), (1280, 720)), (1280, 720));
        assert_eq!(fit_within((1920, 1080), (1280, 1280)), (1280, 720));
        assert_eq!(fit_within((1920, 1080), (640, 720)), (640, 360));
        assert_eq!(fit_within((1366, 768), (1000, 1000)), (1000, 562));
        assert_eq!(fit_within((800, 600), (1920, 1080)), (800, 600));
        assert_eq!(fit_within((1920, 1080), (0, 0)), (2, 2));
    }

    #[test]
    fn tick_grid_is_exact() {
        let start = Instant::now();
        // 30 fps: tick 30 000 is exactly 1000 s after the start, without accumulated rounding.
        assert_eq!(tick_time(start, 30_000, 30) - start, Duration::from_secs(1000));
        assert_eq!(tick_time(start, 1, 30) - start, Duration::from_nanos(33_333_333));
    }
}
