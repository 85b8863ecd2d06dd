//! The Colloque desktop app: wiring only. The meeting engine is `colloque-session`; this crate hands its
//! events to the web UI, pictures to the picture server, and the UI's intents back.
pub mod bench_frames;
pub mod bindings;
pub mod commands;
pub mod devices;
pub mod error;
pub mod frames;
pub mod local_meeting;
pub mod meeting;
pub mod screens;
pub mod settings;
pub mod startup;
mod tray;

use tauri::Manager;

use crate::bench_frames::{BenchPlan, BenchState};
use crate::devices::Preview;
use crate::frames::{FrameHub, FrameServer};
use crate::meeting::Meetings;
use crate::settings::SettingsStore;
use crate::startup::Startup;

/// Runs the app until its window closes.
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COLLOQUE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,webrtc=warn,rtc=warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let args: Vec<String> = std::env::args().collect();
    let bench = match BenchPlan::from_args(&args) {
        Ok(plan) => BenchState::new(plan),
        Err(e) => {
            eprintln!("colloque: {e}");
            std::process::exit(2);
        }
    };
    let startup = match Startup::from_args(&args) {
        Ok(startup) => startup,
        Err(e) => {
            eprintln!("colloque: {e}");
            std::process::exit(2);
        }
    };
    let quit_after = startup.quit_after;
    let bridge = bindings::builder();
    let typed = bridge.invoke_handler();
    let raw = bench_frames::raw_handler();
    let app = tauri::Builder::default()
        .invoke_handler(move |invoke| match invoke.message.command() {
            "bench_start_ipc" => raw(invoke),
            _ => typed(invoke),
        })
        .plugin(tauri_plugin_notification::init())
        .manage(bench)
        .manage(startup)
        .setup(move |app| {
            bridge.mount_events(app);
            let hub = FrameHub::default();
            let frames = tauri::async_runtime::block_on(FrameServer::start(hub.clone()))?;
            app.manage(frames);
            app.manage(Meetings::new(hub));
            app.manage(Preview::default());
            app.manage(match app.path().app_config_dir() {
                Ok(dir) => SettingsStore::load(dir.join("settings.json")),
                Err(e) => {
                    tracing::warn!(error = %e, "no configuration directory: settings are not kept");
                    SettingsStore::in_memory()
                }
            });
            if let Err(e) = tray::install(app.handle()) {
                tracing::warn!(error = %e, "no tray icon");
            }
            if let Some(after) = quit_after {
                let handle = app.handle().clone();
                tauri::async_runtime::spawn(async move {
                    tokio::time::sleep(after).await;
                    // Leave properly (the others see a departure, not a lost connection), then quit.
                    let _ = handle.state::<Meetings>().leave().await;
                    handle.exit(0);
                });
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = app {
        tracing::error!(error = %e, "the app could not run");
        std::process::exit(1);
    }
}
