//! Device hot-plug detection by polling: cpal has no device-change callbacks on Linux, so a thread
//! lists the devices every interval and reports the differences.
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::devices::{self, AudioDeviceInfo, DeviceKind};
use crate::error::{CaptureError, Result};

/// How long [`DeviceWatcher::spawn`] waits for the first listing.
const FIRST_LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// A change in the audio devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    /// A device appeared.
    DeviceAdded(AudioDeviceInfo),
    /// A device disappeared (the info is as it was last listed).
    DeviceRemoved(AudioDeviceInfo),
    /// The system default of one kind changed; `device` is the new default, if any.
    DefaultChanged {
        /// Input or output.
        kind: DeviceKind,
        /// The new default device, `None` if there is none any more.
        device: Option<AudioDeviceInfo>,
    },
}

/// The events that turn the device list `old` into `new`: removals, then additions, then default
/// changes (inputs before outputs). Devices are identified by kind and id.
pub fn diff_devices(old: &[AudioDeviceInfo], new: &[AudioDeviceInfo]) -> Vec<DeviceEvent> {
    let same = |a: &AudioDeviceInfo, b: &AudioDeviceInfo| a.kind == b.kind && a.id == b.id;
    let mut events: Vec<DeviceEvent> = old
        .iter()
        .filter(|o| !new.iter().any(|n| same(o, n)))
        .map(|o| DeviceEvent::DeviceRemoved(o.clone()))
        .collect();
    events.extend(
        new.iter().filter(|n| !old.iter().any(|o| same(o, n))).map(|n| DeviceEvent::DeviceAdded(n.clone())),
    );
    for kind in [DeviceKind::Input, DeviceKind::Output] {
        let default_of =
            |list: &[AudioDeviceInfo]| list.iter().find(|d| d.kind == kind && d.is_default).cloned();
        let (before, after) = (default_of(old), default_of(new));
        if before.as_ref().map(|d| &d.id) != after.as_ref().map(|d| &d.id) {
            events.push(DeviceEvent::DefaultChanged { kind, device: after });
        }
    }
    events
}

/// Polls the audio devices on a background thread and reports changes as [`DeviceEvent`]s.
/// The thread stops when the watcher is dropped.
#[derive(Debug)]
pub struct DeviceWatcher {
    events: Receiver<DeviceEvent>,
    devices: Arc<Mutex<Vec<AudioDeviceInfo>>>,
    /// Dropping it wakes the thread and tells it to stop.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceWatcher {
    /// Lists the devices once (waiting up to 5 s), then starts polling every `interval`
    /// (1–2 s is sensible). Events describe changes relative to that first listing.
    pub fn spawn(interval: Duration) -> Result<Self> {
        let (event_tx, events) = mpsc::channel();
        let (stop, stop_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let devices = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&devices);
        let interval = interval.max(Duration::from_millis(10));
        let thread = std::thread::Builder::new()
            .name("audio-device-watcher".into())
            .spawn(move || run(interval, &event_tx, &stop_rx, &ready_tx, &shared))?;
        let watcher = Self { events, devices, stop: Some(stop), thread: Some(thread) };
        match ready_rx.recv_timeout(FIRST_LIST_TIMEOUT) {
            Ok(Ok(())) => Ok(watcher),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(CaptureError::Unavailable {
                kind: "audio device",
                reason: "listing the devices timed out".into(),
            }
            .into()),
        }
    }

    /// The channel the events arrive on.
    pub fn events(&self) -> &Receiver<DeviceEvent> {
        &self.events
    }

    /// The next event if one is pending.
    pub fn try_recv(&self) -> Option<DeviceEvent> {
        self.events.try_recv().ok()
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<DeviceEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The device list as of the last successful poll.
    pub fn devices(&self) -> Vec<AudioDeviceInfo> {
        self.devices.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for DeviceWatcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("audio device watcher thread panicked");
            }
        }
    }
}

/// The polling loop. The host connection is reopened after a failed listing (e.g. the sound
/// server restarted); failed polls keep the previous list, so they produce no events.
fn run(
    interval: Duration,
    events: &Sender<DeviceEvent>,
    stop: &Receiver<()>,
    ready: &Sender<std::result::Result<(), CaptureError>>,
    shared: &Mutex<Vec<AudioDeviceInfo>>,
) {
    let mut host = None;
    let poll = |host: &mut Option<cpal::Host>| -> std::result::Result<Vec<AudioDeviceInfo>, CaptureError> {
        let h = match host.take() {
            Some(h) => h,
            None => devices::open_host(DeviceKind::Input)?,
        };
        let list = devices::list_with(&h).map_err(|e| CaptureError::Unavailable {
            kind: "audio device",
            reason: format!("cannot list devices: {e}"),
        })?;
        *host = Some(h);
        Ok(list)
    };
    let mut current = match poll(&mut host) {
        Ok(list) => list,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    *shared.lock().unwrap_or_else(PoisonError::into_inner) = current.clone();
    let _ = ready.send(Ok(()));
    tracing::debug!(devices = current.len(), ?interval, "audio device watcher started");
    let mut failing = false;
    // Nothing is ever sent on `stop`: dropping its sender ends the wait early.
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(interval) {
        let list = match poll(&mut host) {
            Ok(list) => {
                failing = false;
                list
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "audio device poll failed; retrying");
                }
                failing = true;
                continue;
            }
        };
        let changes = diff_devices(&current, &list);
        if changes.is_empty() {
            continue;
        }
        *shared.lock().unwrap_or_else(PoisonError::into_inner) = list.clone();
        current = list;
        for event in changes {
            tracing::info!(?event, "audio device change");
            if events.send(event).is_err() {
                return;
            }
        }
    }
    tracing::debug!("audio device watcher stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(id: &str, kind: DeviceKind, is_default: bool) -> AudioDeviceInfo {
        AudioDeviceInfo { id: id.into(), name: format!("{id} name"), kind, is_default }
    }

    #[test]
    fn diff_reports_nothing_for_equal_lists() {
        let list = [dev("mic", DeviceKind::Input, true), dev("spk", DeviceKind::Output, true)];
        assert!(diff_devices(&list, &list).is_empty());
        assert!(diff_devices(&[], &[]).is_empty());
    }

    #[test]
    fn diff_reports_added_removed_and_default_changes() {
        use DeviceKind::{Input, Output};
        let old = [dev("mic", Input, true), dev("usb", Input, false), dev("spk", Output, true)];
        let new = [dev("mic", Input, false), dev("headset", Input, true), dev("spk", Output, true)];
        assert_eq!(
            diff_devices(&old, &new),
            vec![
                DeviceEvent::DeviceRemoved(dev("usb", Input, false)),
                DeviceEvent::DeviceAdded(dev("headset", Input, true)),
                DeviceEvent::DefaultChanged { kind: Input, device: Some(dev("headset", Input, true)) },
            ]
        );
        // Losing every output: removal and "no default" any more.
        let none = [dev("mic", Input, true), dev("usb", Input, false)];
        assert_eq!(
            diff_devices(&old, &none),
            vec![
                DeviceEvent::DeviceRemoved(dev("spk", Output, true)),
                DeviceEvent::DefaultChanged { kind: Output, device: None },
            ]
        );
    }

    #[test]
    fn diff_tells_kinds_apart() {
        use DeviceKind::{Input, Output};
        // The same id as input and output are two devices.
        let old = [dev("duplex", Input, false)];
        let new = [dev("duplex", Input, false), dev("duplex", Output, false)];
        assert_eq!(diff_devices(&old, &new), vec![DeviceEvent::DeviceAdded(dev("duplex", Output, false))]);
    }
}
