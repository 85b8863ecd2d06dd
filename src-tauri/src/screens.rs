//! Screen sharing: the displays to choose from, each with a thumbnail (a picture on the picture server, so
//! the picker draws it like any video), and the tee that shows the shared screen to its sharer.
use std::sync::Arc;

use colloque_media::capture::screen::{list_displays, ScreenCapture};
use colloque_media::frame::VideoFrame;
use colloque_media::source::VideoSourceInfo;
use colloque_media::VideoSource;
use serde::Serialize;

use crate::error::AppError;
use crate::frames::FrameHub;

/// Thumbnails are at most this large.
const THUMBNAIL: (u32, u32) = (320, 180);

/// A display that can be shared.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct Screen {
    /// What to pass to `share_screen`.
    pub index: u32,
    /// The system's name for it.
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The primary display.
    pub primary: bool,
    /// The video id of its thumbnail on the picture server (empty when none could be taken).
    pub thumbnail: String,
}

/// The video id of display `index`'s thumbnail.
pub fn thumbnail_id(index: u32) -> String {
    format!("screen-thumbnail:{index}")
}

/// Lists the displays and publishes a fresh thumbnail of each. Blocking (one capture per display).
pub fn list(hub: &FrameHub) -> Result<Vec<Screen>, AppError> {
    let displays = list_displays().map_err(|e| AppError::Device(e.to_string()))?;
    Ok(displays
        .into_iter()
        .map(|d| {
            let thumbnail = match ScreenCapture::open(d.index, 1)
                .map(|c| c.with_max_size(THUMBNAIL.0, THUMBNAIL.1))
                .and_then(|mut c| c.next_frame())
            {
                Ok(frame) => {
                    let id = thumbnail_id(d.index);
                    hub.publish(&id, Arc::new(frame));
                    id
                }
                Err(e) => {
                    tracing::warn!(display = d.index, error = %e, "no thumbnail");
                    String::new()
                }
            };
            Screen {
                index: d.index,
                name: d.name,
                width: d.width,
                height: d.height,
                primary: d.primary,
                thumbnail,
            }
        })
        .collect())
}

/// A video source whose pictures are also shown locally (the self view, the shared screen's preview).
pub struct Tee {
    inner: Box<dyn VideoSource>,
    hub: FrameHub,
    id: &'static str,
}

impl std::fmt::Debug for Tee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tee").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Tee {
    /// Pictures of `inner` also go to `hub` as video `id`.
    pub fn new(inner: Box<dyn VideoSource>, hub: FrameHub, id: &'static str) -> Self {
        Self { inner, hub, id }
    }
}

impl VideoSource for Tee {
    fn info(&self) -> VideoSourceInfo {
        self.inner.info()
    }

    fn next_frame(&mut self) -> colloque_media::Result<VideoFrame> {
        let frame = self.inner.next_frame()?;
        self.hub.publish(self.id, Arc::new(frame.clone()));
        Ok(frame)
    }
}
