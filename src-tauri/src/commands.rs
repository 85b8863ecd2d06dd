//! The commands the UI sends, typed (their TypeScript bindings are generated into `ui/src/bindings.ts`).
use tauri::ipc::Channel;
use tauri::State;

use crate::error::AppError;
use crate::frames::{FrameEndpoint, FrameServer};
use crate::meeting::{Device, JoinRequest, JoinTarget, MeetingEvent, Meetings};
use crate::screens::{self, Screen};
use crate::startup::Startup;

/// Where the UI gets pictures (address and this launch's secret).
#[tauri::command]
#[specta::specta]
pub fn frame_endpoint(frames: State<'_, FrameServer>) -> FrameEndpoint {
    frames.endpoint()
}

/// Joins a meeting; its events follow on `events`.
#[tauri::command]
#[specta::specta]
pub async fn join(
    meetings: State<'_, Meetings>,
    request: JoinRequest,
    events: Channel<MeetingEvent>,
) -> Result<(), AppError> {
    meetings.join(request, events).await
}

/// Leaves the meeting.
#[tauri::command]
#[specta::specta]
pub async fn leave(meetings: State<'_, Meetings>) -> Result<(), AppError> {
    meetings.leave().await
}

/// Turns the camera or the microphone on or off.
#[tauri::command]
#[specta::specta]
pub async fn set_device_enabled(
    meetings: State<'_, Meetings>,
    device: Device,
    enabled: bool,
) -> Result<(), AppError> {
    meetings.set_enabled(device, enabled).await
}

/// Sends a chat message; returns its id.
#[tauri::command]
#[specta::specta]
pub async fn send_chat(meetings: State<'_, Meetings>, text: String) -> Result<String, AppError> {
    meetings.send_chat(&text).await
}

/// Sends a reaction (an emoji).
#[tauri::command]
#[specta::specta]
pub async fn send_reaction(meetings: State<'_, Meetings>, emoji: String) -> Result<(), AppError> {
    meetings.send_reaction(&emoji).await
}

/// Says how large a remote video is drawn, in device pixels; 0×0 when it is not drawn at all (the server
/// then stops sending it).
#[tauri::command]
#[specta::specta]
pub async fn show_video(
    meetings: State<'_, Meetings>,
    track_sid: String,
    width: u32,
    height: u32,
) -> Result<(), AppError> {
    let size = (width > 0 && height > 0).then_some((width, height));
    meetings.show_video(&track_sid, size).await
}

/// The displays that can be shared, each with a fresh thumbnail on the picture server.
#[tauri::command]
#[specta::specta]
pub async fn list_screens(frames: State<'_, FrameServer>) -> Result<Vec<Screen>, AppError> {
    let hub = frames.hub().clone();
    tokio::task::spawn_blocking(move || screens::list(&hub))
        .await
        .map_err(|e| AppError::Device(e.to_string()))?
}

/// Shares a display (its index from `list_screens`).
#[tauri::command]
#[specta::specta]
pub async fn share_screen(meetings: State<'_, Meetings>, index: u32) -> Result<(), AppError> {
    meetings.share_screen(index).await
}

/// Stops sharing the screen.
#[tauri::command]
#[specta::specta]
pub async fn stop_screen_share(meetings: State<'_, Meetings>) -> Result<(), AppError> {
    meetings.stop_screen_share().await
}

/// Raises or lowers this user's hand.
#[tauri::command]
#[specta::specta]
pub async fn raise_hand(meetings: State<'_, Meetings>, raised: bool) -> Result<(), AppError> {
    meetings.raise_hand(raised).await
}

/// The meeting the command line asked to join at once, if any (given once).
#[tauri::command]
#[specta::specta]
pub fn startup_join(startup: State<'_, Startup>) -> Option<JoinTarget> {
    startup.join.lock().ok().and_then(|mut join| join.take())
}
