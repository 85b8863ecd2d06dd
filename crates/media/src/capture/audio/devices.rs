//! Audio hosts and devices: which backend to use, listing devices, finding one by name, and
//! choosing a stream configuration for it.
use std::fmt;

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{BufferSize, SampleFormat, StreamConfig, SupportedBufferSize, SupportedStreamConfigRange};

use crate::error::{CaptureError, Result};
use crate::frame::SAMPLE_RATE;

/// Whether a device records or plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKind {
    /// A capture device (microphone, line in, a sink's monitor).
    Input,
    /// A playback device (speaker, headphones).
    Output,
}

impl DeviceKind {
    /// The word used in error messages: "microphone" or "speaker".
    pub fn noun(self) -> &'static str {
        match self {
            DeviceKind::Input => "microphone",
            DeviceKind::Output => "speaker",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// One audio device as listed by the system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AudioDeviceInfo {
    /// Stable backend identifier (PulseAudio: the sink or source name, e.g. `alsa_input.usb-…`).
    /// Pass it to `Microphone::open` / `Speaker::open`.
    pub id: String,
    /// Human-readable name (PulseAudio: the description, e.g. "Built-in Audio Analog Stereo").
    pub name: String,
    /// Input or output.
    pub kind: DeviceKind,
    /// Whether this is the system's default device of its kind.
    pub is_default: bool,
}

/// Sample rate, channel count and the period the stream asks for; see `Microphone::open_with`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioStreamOptions {
    /// Device-side sample rate. `None` prefers 48 kHz when the device supports it (no resampling),
    /// else the device's default rate. Audio is converted from/to 48 kHz either way.
    pub sample_rate: Option<u32>,
    /// Device-side channel count. `None` uses the device's default channel count.
    pub channels: Option<u16>,
}

/// Name of the audio backend in use ("PulseAudio", "ALSA", "WASAPI", "CoreAudio", …).
pub fn backend_name() -> Result<&'static str> {
    Ok(open_host(DeviceKind::Input)?.id().name())
}

/// Every input and output device, inputs first.
pub fn list_devices() -> Result<Vec<AudioDeviceInfo>> {
    let host = open_host(DeviceKind::Input)?;
    list_with(&host).map_err(|e| unavailable(DeviceKind::Input, &e).into())
}

/// Capture devices (microphones; on PulseAudio also the monitors of the sinks).
pub fn list_input_devices() -> Result<Vec<AudioDeviceInfo>> {
    let host = open_host(DeviceKind::Input)?;
    list_kind(&host, DeviceKind::Input).map_err(|e| unavailable(DeviceKind::Input, &e).into())
}

/// Playback devices.
pub fn list_output_devices() -> Result<Vec<AudioDeviceInfo>> {
    let host = open_host(DeviceKind::Output)?;
    list_kind(&host, DeviceKind::Output).map_err(|e| unavailable(DeviceKind::Output, &e).into())
}

/// The audio host: PulseAudio on Linux when its server is reachable (it also fronts PipeWire),
/// else the first other available host.
pub(crate) fn open_host(kind: DeviceKind) -> Result<cpal::Host, CaptureError> {
    let available = cpal::available_hosts();
    let mut order = Vec::with_capacity(available.len());
    #[cfg(target_os = "linux")]
    if available.contains(&cpal::HostId::PulseAudio) {
        order.push(cpal::HostId::PulseAudio);
    }
    for id in &available {
        if !order.contains(id) {
            order.push(*id);
        }
    }
    let mut reasons = Vec::new();
    for id in order {
        match cpal::host_from_id(id) {
            Ok(host) => {
                tracing::trace!(host = id.name(), "audio host opened");
                return Ok(host);
            }
            Err(e) => {
                tracing::debug!(host = id.name(), error = %e, "audio host unavailable");
                reasons.push(format!("{}: {e}", id.name()));
            }
        }
    }
    let reason =
        if reasons.is_empty() { "no audio backend on this system".to_owned() } else { reasons.join("; ") };
    Err(CaptureError::Unavailable { kind: kind.noun(), reason })
}

/// Lists both kinds on an opened host.
pub(crate) fn list_with(host: &cpal::Host) -> Result<Vec<AudioDeviceInfo>, cpal::Error> {
    let mut all = list_kind(host, DeviceKind::Input)?;
    all.extend(list_kind(host, DeviceKind::Output)?);
    Ok(all)
}

fn list_kind(host: &cpal::Host, kind: DeviceKind) -> Result<Vec<AudioDeviceInfo>, cpal::Error> {
    let (devices, default): (Vec<cpal::Device>, _) = match kind {
        DeviceKind::Input => (host.input_devices()?.collect(), host.default_input_device()),
        DeviceKind::Output => (host.output_devices()?.collect(), host.default_output_device()),
    };
    let default_id = default.and_then(|d| d.id().ok());
    Ok(devices
        .iter()
        .filter_map(|device| {
            let id = device.id().ok()?;
            let name =
                device.description().map(|d| d.name().to_owned()).unwrap_or_else(|_| id.id().to_owned());
            Some(AudioDeviceInfo {
                is_default: default_id.as_ref() == Some(&id),
                id: id.id().to_owned(),
                name,
                kind,
            })
        })
        .collect())
}

/// The device to open: the default one for `None`, else the device whose id (bare like `vmic`
/// or host-qualified like `pulseaudio:vmic`) or human name equals `name`.
pub(crate) fn find_device(
    host: &cpal::Host,
    kind: DeviceKind,
    name: Option<&str>,
) -> Result<(cpal::Device, String), CaptureError> {
    let Some(wanted) = name else {
        let device = match kind {
            DeviceKind::Input => host.default_input_device(),
            DeviceKind::Output => host.default_output_device(),
        };
        let device = device.ok_or(CaptureError::NoDevice { kind: kind.noun() })?;
        let label = device.id().map(|id| id.id().to_owned()).unwrap_or_else(|_| "default".to_owned());
        return Ok((device, label));
    };
    let devices: Vec<cpal::Device> = match kind {
        DeviceKind::Input => host.input_devices().map(Iterator::collect),
        DeviceKind::Output => host.output_devices().map(Iterator::collect),
    }
    .map_err(|e| unavailable(kind, &e))?;
    let id_of = |d: &cpal::Device| d.id().ok();
    let by_id =
        devices.iter().find(|d| id_of(d).is_some_and(|id| id.id() == wanted || id.to_string() == wanted));
    let found =
        by_id.or_else(|| devices.iter().find(|d| d.description().is_ok_and(|desc| desc.name() == wanted)));
    match found {
        Some(device) => Ok((device.clone(), wanted.to_owned())),
        None => Err(CaptureError::DeviceNotFound { kind: kind.noun(), name: wanted.to_owned() }),
    }
}

/// The backend id of a device (PulseAudio: the sink or source name).
pub(crate) fn device_id(device: &cpal::Device) -> Option<String> {
    device.id().ok().map(|id| id.id().to_owned())
}

/// A stream configuration the device accepts and the sample format to request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChosenConfig {
    pub config: StreamConfig,
    pub format: SampleFormat,
}

/// Whether our callbacks can convert this sample format to or from f32.
fn convertible(format: SampleFormat) -> bool {
    use SampleFormat::*;
    matches!(format, I8 | I16 | I24 | I32 | I64 | U8 | U16 | U32 | U64 | F32 | F64)
}

/// Picks channels, rate, sample format and period. `period_ms` is the callback period asked for
/// (the host may not honour it).
pub(crate) fn choose_config(
    device: &cpal::Device,
    kind: DeviceKind,
    label: &str,
    options: AudioStreamOptions,
    period_ms: u32,
) -> Result<ChosenConfig, CaptureError> {
    let open_failed =
        |reason: String| CaptureError::OpenFailed { kind: kind.noun(), name: label.to_owned(), reason };
    let default = match kind {
        DeviceKind::Input => device.default_input_config(),
        DeviceKind::Output => device.default_output_config(),
    }
    .map_err(|e| open_failed(format!("no default configuration: {e}")))?;
    let ranges: Vec<SupportedStreamConfigRange> = match kind {
        DeviceKind::Input => device.supported_input_configs().map(Iterator::collect),
        DeviceKind::Output => device.supported_output_configs().map(Iterator::collect),
    }
    .map_err(|e| open_failed(format!("cannot list configurations: {e}")))?;

    let channels = options.channels.unwrap_or(default.channels());
    let rates = match options.sample_rate {
        Some(rate) => vec![rate],
        None => vec![SAMPLE_RATE, default.sample_rate()],
    };
    let format_rank = |f: SampleFormat| {
        if f == SampleFormat::F32 {
            0
        } else if f == default.sample_format() {
            1
        } else {
            2
        }
    };
    for rate in rates {
        let best = ranges
            .iter()
            .filter(|r| {
                r.channels() == channels
                    && r.min_sample_rate() <= rate
                    && rate <= r.max_sample_rate()
                    && convertible(r.sample_format())
            })
            .min_by_key(|r| format_rank(r.sample_format()));
        if let Some(range) = best {
            let period = (rate * period_ms / 1000).max(1);
            let buffer_size = match range.buffer_size() {
                SupportedBufferSize::Range { min, max } if (*min..=*max).contains(&period) => {
                    BufferSize::Fixed(period)
                }
                _ => BufferSize::Default,
            };
            return Ok(ChosenConfig {
                config: StreamConfig { channels, sample_rate: rate, buffer_size },
                format: range.sample_format(),
            });
        }
    }
    if options == AudioStreamOptions::default() && convertible(default.sample_format()) {
        return Ok(ChosenConfig { config: default.config(), format: default.sample_format() });
    }
    Err(open_failed(format!(
        "no supported configuration with {channels} channel(s) at {} Hz",
        options.sample_rate.unwrap_or(default.sample_rate())
    )))
}

/// Whether a stream error means the stream is dead (as opposed to a glitch it survives).
pub(crate) fn is_fatal(error: &cpal::Error) -> bool {
    use cpal::ErrorKind::*;
    !matches!(error.kind(), Xrun | RealtimeDenied | DeviceChanged)
}

fn unavailable(kind: DeviceKind, error: &cpal::Error) -> CaptureError {
    CaptureError::Unavailable { kind: kind.noun(), reason: format!("cannot list devices: {error}") }
}

/// Runs `$body` with `$T` aliased to the Rust type of a cpal sample format; `$other` for formats
/// the callbacks cannot convert (DSD, 24-bit unsigned).
macro_rules! with_sample_type {
    ($format:expr, $T:ident => $body:expr, $other:expr) => {
        match $format {
            cpal::SampleFormat::I8 => {
                type $T = i8;
                $body
            }
            cpal::SampleFormat::I16 => {
                type $T = i16;
                $body
            }
            cpal::SampleFormat::I24 => {
                type $T = cpal::I24;
                $body
            }
            cpal::SampleFormat::I32 => {
                type $T = i32;
                $body
            }
            cpal::SampleFormat::I64 => {
                type $T = i64;
                $body
            }
            cpal::SampleFormat::U8 => {
                type $T = u8;
                $body
            }
            cpal::SampleFormat::U16 => {
                type $T = u16;
                $body
            }
            cpal::SampleFormat::U32 => {
                type $T = u32;
                $body
            }
            cpal::SampleFormat::U64 => {
                type $T = u64;
                $body
            }
            cpal::SampleFormat::F32 => {
                type $T = f32;
                $body
            }
            cpal::SampleFormat::F64 => {
                type $T = f64;
                $body
            }
            _ => $other,
        }
    };
}
pub(crate) use with_sample_type;
