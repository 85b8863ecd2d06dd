//! X11 back end: x11rb checks the server and names the monitors, scrap's XCB + MIT-SHM capturer grabs.
//!
//! scrap 0.5 assumes things it does not check: it dereferences the RandR `GetMonitors` reply without
//! checking it (a crash on servers without RandR 1.5), and it reads 32-bit little-endian pixels from a
//! shared-memory segment whatever the server's depth, ignoring request errors. Everything it assumes
//! is checked here first, over a separate pure-Rust connection.
use std::io::ErrorKind;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tracing::{debug, warn};
use x11rb::connection::{Connection, RequestConnection};
use x11rb::errors::ConnectError;
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ConnectionExt as _, ImageOrder, Window};
use x11rb::rust_connection::RustConnection;

use super::{stopped, DisplayInfo, DEVICE_KIND, KIND};
use crate::error::{CaptureError, Result};

/// How often the monitor layout is re-checked while capturing.
const LAYOUT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Attempts after a connection dropped during setup (server reset in progress).
const CONNECT_RETRIES: u32 = 6;

type Rect = (i16, i16, u16, u16);

fn unavailable(reason: impl Into<String>) -> crate::Error {
    CaptureError::Unavailable { kind: KIND, reason: reason.into() }.into()
}

/// Connects to the X server named by `DISPLAY`, or explains why there is none.
fn connect() -> Result<RustConnection> {
    let display = std::env::var("DISPLAY").unwrap_or_default();
    if display.is_empty() {
        let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty());
        return Err(unavailable(if wayland {
            "this is a Wayland session without X11 (DISPLAY is not set); screen capture needs an X11 display"
        } else {
            "there is no X11 display (DISPLAY is not set)"
        }));
    }
    // An X server that just lost its last client resets itself and drops the connections that arrive
    // meanwhile (Xvfb without -noreset does this between test runs): retry those briefly.
    let mut attempt = 0;
    loop {
        match x11rb::connect(None) {
            Ok((conn, _screen)) => return Ok(conn),
            Err(ConnectError::IoError(e))
                if attempt < CONNECT_RETRIES
                    && matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof) =>
            {
                attempt += 1;
                debug!(attempt, error = %e, "X11 connection dropped during setup; retrying");
                std::thread::sleep(Duration::from_millis(50) * attempt);
            }
            Err(e) => {
                return Err(unavailable(format!("cannot connect to the X11 display \"{display}\": {e}")));
            }
        }
    }
}

/// Checks everything scrap assumes about the server.
fn check_server(conn: &RustConnection) -> Result<()> {
    let x11 = |e: &dyn std::fmt::Display| unavailable(format!("X11 request failed: {e}"));
    if conn.extension_information(randr::X11_EXTENSION_NAME).map_err(|e| x11(&e))?.is_none() {
        return Err(unavailable("the X server has no RandR extension"));
    }
    let version = conn.randr_query_version(1, 5).map_err(|e| x11(&e))?.reply().map_err(|e| x11(&e))?;
    if (version.major_version, version.minor_version) < (1, 5) {
        return Err(unavailable(format!(
            "the X server has RandR {}.{}; 1.5 is needed",
            version.major_version, version.minor_version
        )));
    }
    if conn.extension_information("MIT-SHM").map_err(|e| x11(&e))?.is_none() {
        return Err(unavailable("the X server has no MIT-SHM extension (is it a remote display?)"));
    }
    let setup = conn.setup();
    if setup.image_byte_order != ImageOrder::LSB_FIRST {
        return Err(unavailable("the X server uses big-endian images"));
    }
    for screen in &setup.roots {
        let bpp =
            setup.pixmap_formats.iter().find(|f| f.depth == screen.root_depth).map(|f| f.bits_per_pixel);
        if !matches!(screen.root_depth, 24 | 32) || bpp != Some(32) {
            return Err(unavailable(format!(
                "screen depth {} ({} bits per pixel) is not supported; 24-bit colour is needed",
                screen.root_depth,
                bpp.unwrap_or(0)
            )));
        }
    }
    Ok(())
}

struct Monitor {
    info: DisplayInfo,
    root: Window,
    rect: Rect,
}

/// The monitors in scrap's order: root windows in setup order, then RandR's active monitors of each.
fn monitors(conn: &RustConnection) -> Result<Vec<Monitor>> {
    let x11 = |e: &dyn std::fmt::Display| unavailable(format!("X11 request failed: {e}"));
    let mut out: Vec<Monitor> = Vec::new();
    for screen in &conn.setup().roots {
        let reply =
            conn.randr_get_monitors(screen.root, true).map_err(|e| x11(&e))?.reply().map_err(|e| x11(&e))?;
        for m in reply.monitors {
            let index = u32::try_from(out.len()).unwrap_or(u32::MAX);
            let name = conn
                .get_atom_name(m.name)
                .ok()
                .and_then(|cookie| cookie.reply().ok())
                .map(|r| String::from_utf8_lossy(&r.name).into_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("Display {}", index + 1));
            out.push(Monitor {
                info: DisplayInfo {
                    index,
                    name,
                    x: i32::from(m.x),
                    y: i32::from(m.y),
                    width: u32::from(m.width),
                    height: u32::from(m.height),
                    primary: m.primary,
                },
                root: screen.root,
                rect: (m.x, m.y, m.width, m.height),
            });
        }
    }
    if !out.iter().any(|m| m.info.primary) {
        if let Some(first) = out.first_mut() {
            first.info.primary = true;
        }
    }
    Ok(out)
}

fn usable(info: &DisplayInfo) -> bool {
    info.width >= 2 && info.height >= 2
}

pub(super) fn list_displays() -> Result<Vec<DisplayInfo>> {
    let conn = connect()?;
    check_server(&conn)?;
    Ok(monitors(&conn)?.into_iter().map(|m| m.info).filter(usable).collect())
}

/// One open capture of one monitor. Lives on the capture thread only (scrap's types are not `Send`).
pub(super) struct Grabber {
    capturer: scrap::x11::Capturer,
    conn: RustConnection,
    root: Window,
    rect: Rect,
    last_check: Instant,
    /// Set once the layout changed: the capturer then reads the wrong area, so it is not used again.
    broken: Option<String>,
    /// scrap's shared-memory buffer, locked down to this user.
    segments: Vec<i32>,
    /// Whether the buffer's users were counted once the X server had attached (after the first picture).
    attachments_checked: bool,
}

impl Grabber {
    /// X11 always delivers a fresh picture, never "nothing new".
    pub(super) const MAY_REPEAT: bool = false;

    pub(super) fn open(index: u32) -> Result<(Self, DisplayInfo)> {
        let conn = connect()?;
        check_server(&conn)?;
        let monitors = monitors(&conn)?;
        if monitors.is_empty() {
            return Err(CaptureError::NoDevice { kind: DEVICE_KIND }.into());
        }
        let monitor = monitors
            .into_iter()
            .nth(index as usize)
            .ok_or_else(|| CaptureError::DeviceNotFound { kind: DEVICE_KIND, name: index.to_string() })?;
        let open_failed = |reason: String| CaptureError::OpenFailed {
            kind: DEVICE_KIND,
            name: monitor.info.name.clone(),
            reason,
        };
        if !usable(&monitor.info) {
            return Err(open_failed(format!(
                "size {}x{} is too small",
                monitor.info.width, monitor.info.height
            ))
            .into());
        }
        // scrap enumerates the same way; the server was checked above, so this cannot hit its crash.
        let server = scrap::x11::Server::default()
            .map_err(|e| open_failed(format!("cannot connect to the X11 display: {e:?}")))?;
        let display = scrap::x11::Server::displays(Rc::new(server))
            .nth(index as usize)
            .ok_or_else(|| open_failed("the monitor disappeared while opening it".into()))?;
        let r = display.rect();
        if (r.x, r.y, r.w, r.h) != monitor.rect || display.root() != monitor.root {
            return Err(open_failed("the monitor layout changed while opening it".into()).into());
        }
        let capturer = scrap::x11::Capturer::new(display)
            .map_err(|e| open_failed(format!("cannot set up shared-memory capture: {e}")))?;
        // scrap asks for two pictures' worth of shared memory, readable by everyone: lock it down at once.
        let buffer_size = usize::from(monitor.rect.2) * usize::from(monitor.rect.3) * 4 * 2;
        let segments = super::shm_guard::lock_down(buffer_size)
            .map_err(|e| open_failed(format!("cannot protect the screen buffer: {e}")))?;
        if segments.is_empty() {
            return Err(open_failed("the screen buffer to protect was not found".into()).into());
        }
        debug!(name = %monitor.info.name, rect = ?monitor.rect, "X11 screen capturer ready");
        let grabber = Self {
            capturer,
            conn,
            root: monitor.root,
            rect: monitor.rect,
            last_check: Instant::now(),
            broken: None,
            segments,
            attachments_checked: false,
        };
        Ok((grabber, monitor.info))
    }

    /// Width and height of the captured area.
    pub(super) fn size(&self) -> (u32, u32) {
        (u32::from(self.rect.2), u32::from(self.rect.3))
    }

    /// Grabs the screen and hands the BGRA picture (rows of `len / height` bytes) to `use_frame`.
    /// Always `Some` on X11.
    pub(super) fn grab<R>(&mut self, use_frame: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        if let Some(reason) = &self.broken {
            return Err(stopped(reason.clone()));
        }
        if self.last_check.elapsed() >= LAYOUT_CHECK_INTERVAL {
            self.last_check = Instant::now();
            if let Err(reason) = self.check_layout() {
                warn!(%reason, "screen capture stops");
                self.broken = Some(reason.clone());
                return Err(stopped(reason));
            }
        }
        let (w, h) = self.size();
        let frame = self.capturer.frame();
        if frame.len() < w as usize * h as usize * 4 {
            return Err(stopped(format!("short picture: {} bytes for {w}x{h}", frame.len())));
        }
        if !self.attachments_checked {
            // The X server has attached by now (it wrote the picture): nobody else may have.
            if let Err(reason) = super::shm_guard::check_attachments(&self.segments) {
                warn!(%reason, "screen capture stops");
                self.broken = Some(reason.clone());
                return Err(stopped(reason));
            }
            self.attachments_checked = true;
        }
        Ok(Some(use_frame(frame)))
    }

    /// Checks that the captured monitor still exists with the same position and size, and that the
    /// server still answers (scrap would otherwise repeat its last picture forever).
    fn check_layout(&self) -> std::result::Result<(), String> {
        let reply = self
            .conn
            .randr_get_monitors(self.root, true)
            .map_err(|e| format!("lost the X11 display: {e}"))?
            .reply()
            .map_err(|e| format!("lost the X11 display: {e}"))?;
        if reply.monitors.iter().any(|m| (m.x, m.y, m.width, m.height) == self.rect) {
            Ok(())
        } else {
            Err("the captured monitor was resized, moved or unplugged; reopen the capture".into())
        }
    }
}
