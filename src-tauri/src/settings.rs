//! The user's settings (name, devices, video quality, noise suppression, language), kept as JSON in the
//! user's configuration directory (`~/.config/fr.colloque.desktop/settings.json` on Linux, `%APPDATA%` on
//! Windows), so each account on a shared workstation has its own.
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The longest display name kept (Visio cuts longer ones too).
const MAX_NAME_CHARS: usize = 64;

/// The language of the interface; `None` in [`Settings`] follows the system's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Français.
    Fr,
    /// English.
    En,
}

/// How much video to send or receive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum VideoQuality {
    /// Sending: the camera at 1280×720 (three simulcast layers). Receiving: each video at its tile's size.
    #[default]
    High,
    /// At most 640×360.
    Standard,
    /// At most 320×180 (a poor connection, or to save the processor).
    Low,
}

impl VideoQuality {
    /// The largest picture this quality allows.
    pub fn max_size(self) -> (u32, u32) {
        match self {
            Self::High => (1280, 720),
            Self::Standard => (640, 360),
            Self::Low => (320, 180),
        }
    }

    /// `size` shrunk (aspect kept) to fit this quality.
    pub fn cap(self, (width, height): (u32, u32)) -> (u32, u32) {
        let (max_w, max_h) = self.max_size();
        if width <= max_w && height <= max_h {
            return (width, height);
        }
        let scale = f64::min(f64::from(max_w) / f64::from(width), f64::from(max_h) / f64::from(height));
        let shrink = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
        (shrink(width), shrink(height))
    }
}

/// Everything the user chose; what is missing from the file takes its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct Settings {
    /// The name the others see.
    pub display_name: String,
    /// `None`: the system's language.
    pub language: Option<Language>,
    /// Camera id (from `list_devices`); `None`: the first camera.
    pub camera: Option<String>,
    /// Microphone id; `None`: the system's default.
    pub microphone: Option<String>,
    /// Speaker id; `None`: the system's default.
    pub speaker: Option<String>,
    /// Join with the camera on.
    pub camera_on_at_start: bool,
    /// Join with the microphone on.
    pub microphone_on_at_start: bool,
    /// What the camera sends.
    pub send_quality: VideoQuality,
    /// What is asked of the server for the others' videos.
    pub receive_quality: VideoQuality,
    /// Noise suppression on the microphone (echo cancellation is always on).
    pub noise_suppression: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            display_name: String::new(),
            language: None,
            camera: None,
            microphone: None,
            speaker: None,
            camera_on_at_start: false,
            microphone_on_at_start: true,
            send_quality: VideoQuality::High,
            receive_quality: VideoQuality::High,
            noise_suppression: true,
        }
    }
}

impl Settings {
    /// Trims what the user typed; refuses what cannot be kept.
    fn validated(mut self) -> Result<Self, AppError> {
        self.display_name = self.display_name.trim().to_owned();
        if self.display_name.chars().count() > MAX_NAME_CHARS {
            return Err(AppError::InvalidInput(format!(
                "a display name has at most {MAX_NAME_CHARS} characters"
            )));
        }
        for id in [&mut self.camera, &mut self.microphone, &mut self.speaker] {
            if id.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *id = None;
            }
        }
        Ok(self)
    }
}

/// The settings in memory and the file they live in.
#[derive(Debug)]
pub struct SettingsStore {
    path: Option<PathBuf>,
    current: Mutex<Settings>,
}

impl SettingsStore {
    /// Reads `path`. A missing file gives the defaults; an unreadable one is set aside as `….bad` (so that
    /// nothing the user had is destroyed) and the defaults are used.
    pub fn load(path: PathBuf) -> Self {
        let current = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Settings>(&bytes).map(Settings::validated) {
                Ok(Ok(settings)) => settings,
                Ok(Err(e)) => set_aside(&path, &e.to_string()),
                Err(e) => set_aside(&path, &e.to_string()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "settings unreadable, defaults used");
                Settings::default()
            }
        };
        Self { path: Some(path), current: Mutex::new(current) }
    }

    /// Settings kept in memory only (no configuration directory).
    pub fn in_memory() -> Self {
        Self { path: None, current: Mutex::default() }
    }

    /// What is in force.
    pub fn get(&self) -> Settings {
        self.current.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Validates, keeps and writes `settings` (atomically: a crash leaves the old file or the new one).
    pub fn set(&self, settings: Settings) -> Result<Settings, AppError> {
        let settings = settings.validated()?;
        if let Some(path) = &self.path {
            write_atomically(path, &settings)?;
        }
        if let Ok(mut current) = self.current.lock() {
            *current = settings.clone();
        }
        Ok(settings)
    }
}

fn set_aside(path: &Path, why: &str) -> Settings {
    let bad = path.with_extension("json.bad");
    tracing::warn!(path = %path.display(), error = why, kept_as = %bad.display(), "settings unreadable, defaults used");
    if let Err(e) = std::fs::rename(path, &bad) {
        tracing::warn!(error = %e, "the unreadable settings could not be set aside");
    }
    Settings::default()
}

fn write_atomically(path: &Path, settings: &Settings) -> Result<(), AppError> {
    let failed = |e: std::io::Error| AppError::Settings(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let json = serde_json::to_vec_pretty(settings).map_err(|e| AppError::Settings(e.to_string()))?;
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, json).map_err(failed)?;
    std::fs::rename(&partial, path).map_err(failed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("colloque-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn settings_survive_a_restart() {
        let path = temp_dir("restart").join("nested").join("settings.json");
        let store = SettingsStore::load(path.clone());
        assert_eq!(store.get(), Settings::default());
        let chosen = Settings {
            display_name: "  Agnès Dupont ".into(),
            language: Some(Language::En),
            microphone: Some("alsa_input.usb".into()),
            speaker: Some("  ".into()),
            receive_quality: VideoQuality::Low,
            noise_suppression: false,
            ..Settings::default()
        };
        let kept = store.set(chosen).unwrap();
        assert_eq!(kept.display_name, "Agnès Dupont");
        assert_eq!(kept.speaker, None, "a blank device id means the default device");
        let again = SettingsStore::load(path);
        assert_eq!(again.get(), kept);
    }

    #[test]
    fn a_garbled_file_is_set_aside_and_defaults_are_used() {
        let dir = temp_dir("garbled");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("settings.json");
        std::fs::write(&path, b"{\"display_name\": 42,").unwrap();
        let store = SettingsStore::load(path.clone());
        assert_eq!(store.get(), Settings::default());
        assert_eq!(std::fs::read(dir.join("settings.json.bad")).unwrap(), b"{\"display_name\": 42,");
        assert!(!path.exists());
    }

    #[test]
    fn missing_and_unknown_fields_are_tolerated() {
        let dir = temp_dir("partial");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("settings.json");
        std::fs::write(&path, r#"{"display_name":"Léa","from_a_newer_version":1}"#).unwrap();
        let settings = SettingsStore::load(path).get();
        assert_eq!(settings.display_name, "Léa");
        assert!(settings.noise_suppression && settings.microphone_on_at_start);
    }

    #[test]
    fn an_overlong_name_is_refused_and_nothing_changes() {
        let store = SettingsStore::in_memory();
        let long = Settings { display_name: "x".repeat(65), ..Settings::default() };
        assert!(matches!(store.set(long), Err(AppError::InvalidInput(_))));
        assert_eq!(store.get(), Settings::default());
    }

    #[test]
    fn quality_caps_keep_the_aspect() {
        assert_eq!(VideoQuality::High.cap((960, 540)), (960, 540));
        assert_eq!(VideoQuality::Standard.cap((1920, 1080)), (640, 360));
        assert_eq!(VideoQuality::Low.cap((400, 400)), (180, 180));
        assert_eq!(VideoQuality::Low.cap((100, 50)), (100, 50));
    }
}
