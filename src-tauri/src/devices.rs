//! The user's devices before and during a meeting: listing them for the pickers, opening the chosen ones,
//! the pre-join preview (camera picture and microphone level) and the speaker test sound.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use colloque_media::audio::processing::VoiceProcessingConfig;
use colloque_media::audio::voice::{FarEnd, ProcessedMicrophone};
use colloque_media::capture::audio::{
    list_input_devices, list_output_devices, AudioDeviceInfo, Microphone, Speaker,
};
use colloque_media::capture::camera::{list_cameras, Camera};
use colloque_media::synthetic::{SyntheticAudio, ToneGenerator};
use colloque_media::{AudioSource, VideoSource};
use serde::Serialize;
use tauri::ipc::Channel;

use crate::error::AppError;
use crate::frames::{FrameHub, SELF_VIEW};
use crate::meeting::Device;
use crate::screens::Tee;
use crate::settings::Settings;

/// The test sound's pitch (A4) and length.
pub const TEST_SOUND_HZ: f32 = 440.0;
const TEST_SOUND: Duration = Duration::from_millis(1200);
/// How often the preview reports the microphone's level.
const LEVEL_EVERY: Duration = Duration::from_millis(50);

/// One device a picker offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct DeviceChoice {
    /// What to keep in the settings.
    pub id: String,
    /// What the user reads.
    pub name: String,
    /// The system's default of its kind.
    pub is_default: bool,
}

/// A device kind that could not be listed, and why.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct DeviceProblem {
    /// Which kind.
    pub device: Device,
    /// What the system said.
    pub message: String,
}

/// What the pickers offer.
#[derive(Debug, Clone, Default, Serialize, specta::Type)]
pub struct DeviceList {
    /// Cameras (none is a normal answer: a desktop without a webcam).
    pub cameras: Vec<DeviceChoice>,
    /// Microphones (not the monitors of the speakers, which PulseAudio lists as inputs).
    pub microphones: Vec<DeviceChoice>,
    /// Speakers and headsets.
    pub speakers: Vec<DeviceChoice>,
    /// Kinds the system could not list.
    pub problems: Vec<DeviceProblem>,
}

/// Lists every device (blocking: the camera back end probes each one).
pub fn list() -> DeviceList {
    let mut list = DeviceList::default();
    match list_cameras() {
        Ok(cameras) => {
            list.cameras = cameras
                .into_iter()
                .enumerate()
                .map(|(i, c)| DeviceChoice { id: c.index.to_string(), name: c.name, is_default: i == 0 })
                .collect()
        }
        Err(e) => list.problems.push(DeviceProblem { device: Device::Camera, message: e.to_string() }),
    }
    match list_input_devices() {
        Ok(inputs) => {
            list.microphones =
                inputs.into_iter().filter(|d| !d.id.ends_with(".monitor")).map(audio_choice).collect()
        }
        Err(e) => list.problems.push(DeviceProblem { device: Device::Microphone, message: e.to_string() }),
    }
    match list_output_devices() {
        Ok(outputs) => list.speakers = outputs.into_iter().map(audio_choice).collect(),
        Err(e) => list.problems.push(DeviceProblem { device: Device::Speaker, message: e.to_string() }),
    }
    list
}

fn audio_choice(d: AudioDeviceInfo) -> DeviceChoice {
    DeviceChoice { id: d.id, name: d.name, is_default: d.is_default }
}

/// A device's failure, as the UI shows it.
pub fn device_error(e: impl std::fmt::Display) -> AppError {
    AppError::Device(e.to_string())
}

/// Runs `work` (opening, listing or playing on a device: blocking calls) off the async threads.
pub async fn on_device_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work).await.map_err(device_error)
}

/// Opens the chosen camera at the chosen sending quality; its pictures also go to the self view.
pub fn open_camera(settings: &Settings, hub: &FrameHub) -> Result<Box<dyn VideoSource>, AppError> {
    let index = match settings.camera.as_deref() {
        Some(id) => Some(id.parse::<u32>().map_err(|_| AppError::Device(format!("no camera {id:?}")))?),
        None => None,
    };
    let (width, height) = settings.send_quality.max_size();
    let camera = Camera::open_with(index, width, height, 30).map_err(device_error)?;
    Ok(Box::new(Tee::new(Box::new(camera), hub.clone(), SELF_VIEW)))
}

/// Opens the chosen microphone behind echo cancellation (fed with what the speaker plays), gain control
/// and, if chosen, noise suppression.
pub fn open_microphone(settings: &Settings, far_end: &FarEnd) -> Result<Box<dyn AudioSource>, AppError> {
    let device = Microphone::open(settings.microphone.as_deref()).map_err(device_error)?;
    let config = VoiceProcessingConfig {
        noise_suppression: settings.noise_suppression,
        ..VoiceProcessingConfig::default()
    };
    let processed =
        ProcessedMicrophone::new(Box::new(device), far_end.clone(), config).map_err(device_error)?;
    Ok(Box::new(processed))
}

/// The microphone's loudness as a meter shows it: 0 at −60 dBFS or below, 1 at full scale.
pub fn meter_level(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
    let dbfs = 20.0 * rms.max(1e-9).log10();
    ((dbfs + 60.0) / 60.0).clamp(0.0, 1.0)
}

/// Plays the test sound on `speaker` (`None`: the default one) and returns once it was heard.
pub fn play_test_sound(speaker: Option<&str>) -> Result<(), AppError> {
    let mut device = Speaker::open(speaker).map_err(device_error)?;
    // Paced in real time, so that the speaker's queue never overflows.
    let mut tone = SyntheticAudio::new(ToneGenerator::new(TEST_SOUND_HZ, 0.3));
    let blocks = TEST_SOUND.as_millis() / 10;
    for _ in 0..blocks {
        let frame = tone.next_frame().map_err(device_error)?;
        device.play(&frame).map_err(device_error)?;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while device.queued() > Duration::ZERO && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// What the pre-join preview tells the UI.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PreviewEvent {
    /// The microphone's level now (see [`meter_level`]).
    Level {
        /// 0 to 1.
        level: f32,
    },
    /// A device could not be opened or stopped working.
    DeviceProblem {
        /// Which.
        device: Device,
        /// What the system said.
        message: String,
    },
}

/// The pre-join preview: the camera to the self view, the microphone's level to the UI.
#[derive(Debug, Default, Clone)]
pub struct Preview {
    running: Arc<std::sync::Mutex<Option<PreviewRun>>>,
}

#[derive(Debug)]
struct PreviewRun {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Preview {
    /// Starts previewing the chosen devices (stopping any preview before).
    pub fn start(
        &self,
        settings: &Settings,
        camera: bool,
        microphone: bool,
        hub: &FrameHub,
        events: Channel<PreviewEvent>,
    ) {
        self.stop(hub);
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        if camera {
            let (settings, hub, events, stop) = (settings.clone(), hub.clone(), events.clone(), stop.clone());
            let spawned = std::thread::Builder::new()
                .name("camera-preview".into())
                .spawn(move || preview_camera(&settings, &hub, &events, &stop));
            threads.extend(spawned.ok());
        }
        if microphone {
            let (device, stop) = (settings.microphone.clone(), stop.clone());
            let spawned = std::thread::Builder::new()
                .name("microphone-preview".into())
                .spawn(move || preview_microphone(device.as_deref(), &events, &stop));
            threads.extend(spawned.ok());
        }
        if let Ok(mut running) = self.running.lock() {
            *running = Some(PreviewRun { stop, threads });
        }
    }

    /// Stops the preview and releases its devices (blocks until they are closed).
    pub fn stop(&self, hub: &FrameHub) {
        let run = self.running.lock().ok().and_then(|mut running| running.take());
        if let Some(run) = run {
            run.stop.store(true, Ordering::Relaxed);
            for thread in run.threads {
                let _ = thread.join();
            }
            hub.remove(SELF_VIEW);
        }
    }
}

fn report(events: &Channel<PreviewEvent>, device: Device, error: &AppError) {
    tracing::warn!(?device, %error, "preview device unavailable");
    let _ = events.send(PreviewEvent::DeviceProblem { device, message: error.to_string() });
}

fn preview_camera(settings: &Settings, hub: &FrameHub, events: &Channel<PreviewEvent>, stop: &AtomicBool) {
    // The preview shows what will be sent (the chosen camera at the chosen quality).
    let mut camera = match open_camera(settings, hub) {
        Ok(camera) => camera,
        Err(e) => return report(events, Device::Camera, &e),
    };
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = camera.next_frame() {
            return report(events, Device::Camera, &device_error(e));
        }
    }
}

fn preview_microphone(device: Option<&str>, events: &Channel<PreviewEvent>, stop: &AtomicBool) {
    let mut microphone = match Microphone::open(device) {
        Ok(microphone) => microphone,
        Err(e) => return report(events, Device::Microphone, &device_error(e)),
    };
    let mut block = Vec::new();
    let mut since = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match microphone.next_frame() {
            Ok(frame) => block.extend_from_slice(&frame.samples),
            Err(e) => return report(events, Device::Microphone, &device_error(e)),
        }
        if since.elapsed() >= LEVEL_EVERY {
            if events.send(PreviewEvent::Level { level: meter_level(&block) }).is_err() {
                return;
            }
            block.clear();
            since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_spans_sixty_decibels() {
        assert_eq!(meter_level(&[]), 0.0);
        assert_eq!(meter_level(&[0.0; 480]), 0.0);
        let full: Vec<f32> = (0..480).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert!((meter_level(&full) - 1.0).abs() < 1e-6);
        // −20 dBFS (RMS 0.1) sits two thirds of the way up.
        assert!((meter_level(&[0.1; 480]) - 2.0 / 3.0).abs() < 1e-3);
        assert_eq!(meter_level(&[1e-4; 480]), 0.0, "−80 dBFS is silence on the meter");
    }
}
