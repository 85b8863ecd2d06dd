//! The Colloque desktop app: wiring only. The meeting engine is `colloque-session`; this crate hands its
//! events to the web UI, pictures to the picture server, and the UI's intents back.
pub mod bindings;
pub mod commands;
pub mod error;
pub mod frames;
pub mod local_meeting;
pub mod meeting;

use tauri::Manager;

use crate::frames::{FrameHub, FrameServer};
use crate::meeting::Meetings;

/// Runs the app until its window closes.
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COLLOQUE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,webrtc=warn,rtc=warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let bridge = bindings::builder();
    let app = tauri::Builder::default()
        .invoke_handler(bridge.invoke_handler())
        .setup(move |app| {
            bridge.mount_events(app);
            let hub = FrameHub::default();
            let frames = tauri::async_runtime::block_on(FrameServer::start(hub.clone()))?;
            app.manage(frames);
            app.manage(Meetings::new(hub));
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = app {
        tracing::error!(error = %e, "the app could not run");
        std::process::exit(1);
    }
}
