//! Microphone and speaker through cpal.
//!
//! - [`list_devices`], [`list_input_devices`], [`list_output_devices`]: what is plugged in; on
//!   Linux through PulseAudio (which also fronts PipeWire) when its server is reachable.
//! - [`Microphone`]: an [`AudioSource`](crate::source::AudioSource) of 48 kHz 10 ms frames.
//! - [`Speaker`]: plays 48 kHz frames, converting to the device's rate and channels.
//! - [`DeviceWatcher`]: hot-plug and default-device changes, by polling.
mod devices;
mod microphone;
mod presence;
mod speaker;
mod watcher;

pub use devices::{
    backend_name, list_devices, list_input_devices, list_output_devices, AudioDeviceInfo, AudioStreamOptions,
    DeviceKind,
};
pub use microphone::Microphone;
pub use speaker::{play_on_thread, Speaker};
pub use watcher::{diff_devices, DeviceEvent, DeviceWatcher};
