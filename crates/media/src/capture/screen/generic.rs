//! Back end on scrap's portable API (DXGI on Windows, Quartz on macOS).
//!
//! DXGI delivers a picture only when the screen changed and reports "would block" otherwise, so the
//! caller repeats the previous frame ([`Grabber::MAY_REPEAT`]).
use std::io::ErrorKind;

use tracing::debug;

use super::{stopped, DisplayInfo, DEVICE_KIND, KIND};
use crate::error::{CaptureError, Result};

fn unavailable(e: &std::io::Error) -> crate::Error {
    CaptureError::Unavailable { kind: KIND, reason: format!("cannot list displays: {e}") }.into()
}

fn info(index: usize, display: &scrap::Display) -> DisplayInfo {
    DisplayInfo {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        name: format!("Display {}", index + 1),
        x: 0,
        y: 0,
        width: u32::try_from(display.width()).unwrap_or(0),
        height: u32::try_from(display.height()).unwrap_or(0),
        // scrap lists the primary display first.
        primary: index == 0,
    }
}

pub(super) fn list_displays() -> Result<Vec<DisplayInfo>> {
    let displays = scrap::Display::all().map_err(|e| unavailable(&e))?;
    Ok(displays
        .iter()
        .enumerate()
        .map(|(i, d)| info(i, d))
        .filter(|d| d.width >= 2 && d.height >= 2)
        .collect())
}

/// One open capture of one display. Lives on the capture thread only (scrap's types are not `Send`).
pub(super) struct Grabber {
    capturer: scrap::Capturer,
    width: u32,
    height: u32,
}

impl Grabber {
    /// DXGI reports "no new frame" while the screen does not change.
    pub(super) const MAY_REPEAT: bool = true;

    pub(super) fn open(index: u32) -> Result<(Self, DisplayInfo)> {
        let mut displays = scrap::Display::all().map_err(|e| unavailable(&e))?;
        if displays.is_empty() {
            return Err(CaptureError::NoDevice { kind: DEVICE_KIND }.into());
        }
        let position = index as usize;
        if position >= displays.len() {
            return Err(CaptureError::DeviceNotFound { kind: DEVICE_KIND, name: index.to_string() }.into());
        }
        let display = displays.swap_remove(position);
        let info = info(position, &display);
        if info.width < 2 || info.height < 2 {
            return Err(CaptureError::OpenFailed {
                kind: DEVICE_KIND,
                name: info.name,
                reason: format!("size {}x{} is too small", info.width, info.height),
            }
            .into());
        }
        let capturer = scrap::Capturer::new(display).map_err(|e| CaptureError::OpenFailed {
            kind: DEVICE_KIND,
            name: info.name.clone(),
            reason: e.to_string(),
        })?;
        debug!(name = %info.name, "screen capturer ready");
        Ok((Self { capturer, width: info.width, height: info.height }, info))
    }

    /// Width and height of the captured area.
    pub(super) fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Grabs the screen and hands the BGRA picture (rows of `len / height` bytes) to `use_frame`;
    /// `None` when there is no new picture since the previous grab.
    pub(super) fn grab<R>(&mut self, use_frame: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        match self.capturer.frame() {
            Ok(frame) => {
                let bytes: &[u8] = &frame;
                if bytes.len() < self.width as usize * self.height as usize * 4 {
                    return Err(stopped(format!(
                        "short picture: {} bytes for {}x{}",
                        bytes.len(),
                        self.width,
                        self.height
                    )));
                }
                Ok(Some(use_frame(bytes)))
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(stopped(e.to_string())),
        }
    }
}
