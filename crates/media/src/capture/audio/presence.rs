//! Notices when an explicitly chosen device disappears.
//!
//! PulseAudio does not kill the streams of a removed device: it moves them to the default device,
//! so no stream error ever arrives and a headset's audio would silently switch to the laptop.
//! A small thread therefore checks every second that the device is still listed and reports its
//! removal as a `DeviceNotAvailable` stream error.
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};

use super::devices::{self, DeviceKind};

/// How often the device list is checked.
const INTERVAL: Duration = Duration::from_secs(1);

/// The checking thread; it stops when this is dropped.
#[derive(Debug)]
pub(crate) struct PresenceWatch {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PresenceWatch {
    /// Watches for the device `id` of `kind`; sends one error to `errors` when it is gone.
    pub(crate) fn spawn(kind: DeviceKind, id: String, errors: Sender<cpal::Error>) -> Option<Self> {
        let (stop, stop_rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("{}-presence", kind.noun()))
            .spawn(move || run(kind, &id, &errors, &stop_rx));
        match spawned {
            Ok(thread) => Some(Self { stop: Some(stop), thread: Some(thread) }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch for the device's removal");
                None
            }
        }
    }
}

impl Drop for PresenceWatch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(kind: DeviceKind, id: &str, errors: &Sender<cpal::Error>, stop: &Receiver<()>) {
    let mut host = None;
    // Nothing is ever sent on `stop`: dropping its sender ends the wait early.
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(INTERVAL) {
        let h = match host.take() {
            Some(h) => h,
            None => match devices::open_host(kind) {
                Ok(h) => h,
                Err(e) => {
                    tracing::debug!(error = %e, "presence check: no audio host");
                    continue;
                }
            },
        };
        let listed: Result<Vec<cpal::Device>, _> = match kind {
            DeviceKind::Input => h.input_devices().map(Iterator::collect),
            DeviceKind::Output => h.output_devices().map(Iterator::collect),
        };
        let Ok(listed) = listed else {
            // The server may be restarting; the stream reports its own errors then.
            continue;
        };
        host = Some(h);
        if !listed.iter().any(|d| d.id().is_ok_and(|d| d.id() == id)) {
            tracing::info!(device = id, kind = kind.noun(), "audio device removed");
            let _ = errors.send(cpal::Error::with_message(
                cpal::ErrorKind::DeviceNotAvailable,
                format!("{} \"{id}\" was removed", kind.noun()),
            ));
            return;
        }
    }
}
