//! The commands the UI sends, typed (their TypeScript bindings are generated into `ui/src/bindings.ts`).
use tauri::ipc::Channel;
use tauri::State;

use crate::devices::{self, on_device_thread, DeviceList, Preview, PreviewEvent};
use crate::error::AppError;
use crate::frames::{FrameEndpoint, FrameServer};
use crate::meeting::{Device, JoinRequest, JoinTarget, MeetingEvent, Meetings};
use crate::screens::{self, Screen};
use crate::settings::{Settings, SettingsStore};
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
    settings: State<'_, SettingsStore>,
    preview: State<'_, Preview>,
    frames: State<'_, FrameServer>,
    request: JoinRequest,
    events: Channel<MeetingEvent>,
) -> Result<(), AppError> {
    // The meeting needs the devices the preview holds.
    stop_preview(preview, frames).await?;
    meetings.join(request, settings.get(), events).await
}

/// The user's settings.
#[tauri::command]
#[specta::specta]
pub fn get_settings(settings: State<'_, SettingsStore>) -> Settings {
    settings.get()
}

/// Keeps new settings (written to the user's configuration) and applies them to the meeting, if any;
/// returns them as kept (trimmed).
#[tauri::command]
#[specta::specta]
pub async fn save_settings(
    store: State<'_, SettingsStore>,
    meetings: State<'_, Meetings>,
    settings: Settings,
) -> Result<Settings, AppError> {
    let kept = store.set(settings)?;
    meetings.apply_settings(kept.clone()).await?;
    Ok(kept)
}

/// The cameras, microphones and speakers the pickers offer.
#[tauri::command]
#[specta::specta]
pub async fn list_devices() -> Result<DeviceList, AppError> {
    on_device_thread(devices::list).await
}

/// Previews the chosen camera (as the self view) and microphone (its level on `events`) before joining.
#[tauri::command]
#[specta::specta]
pub async fn start_preview(
    preview: State<'_, Preview>,
    settings: State<'_, SettingsStore>,
    frames: State<'_, FrameServer>,
    camera: bool,
    microphone: bool,
    events: Channel<PreviewEvent>,
) -> Result<(), AppError> {
    let (settings, hub) = (settings.get(), frames.hub().clone());
    let preview = preview.inner().clone();
    on_device_thread(move || preview.start(&settings, camera, microphone, &hub, events)).await
}

/// Stops the preview and releases its devices.
#[tauri::command]
#[specta::specta]
pub async fn stop_preview(
    preview: State<'_, Preview>,
    frames: State<'_, FrameServer>,
) -> Result<(), AppError> {
    let (preview, hub) = (preview.inner().clone(), frames.hub().clone());
    on_device_thread(move || preview.stop(&hub)).await
}

/// Plays a short tone on the chosen speaker (or the default one); returns once it has played.
#[tauri::command]
#[specta::specta]
pub async fn test_speaker(settings: State<'_, SettingsStore>) -> Result<(), AppError> {
    let speaker = settings.get().speaker;
    on_device_thread(move || devices::play_test_sound(speaker.as_deref())).await?
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
    on_device_thread(move || screens::list(&hub)).await?
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

/// The longest notification text shown (a desktop notification is a glance, not the message).
const NOTIFICATION_CHARS: usize = 200;

/// Shows a desktop notification (a chat message, a raised hand, someone joining) unless the window is in
/// front: the user already sees the meeting then.
#[tauri::command]
#[specta::specta]
pub async fn notify(window: tauri::WebviewWindow, title: String, body: String) {
    use tauri_plugin_notification::NotificationExt;
    if window.is_focused().unwrap_or(false) {
        return;
    }
    let cut = |text: &str| text.chars().take(NOTIFICATION_CHARS).collect::<String>();
    let shown = window.notification().builder().title(cut(&title)).body(cut(&body)).show();
    if let Err(e) = shown {
        // No notification service (a bare X session): the meeting shows it anyway.
        tracing::debug!(error = %e, "desktop notification not shown");
    }
}
