//! Congestion control's last step: sharing the send-side estimate (Google Congestion Control over
//! transport-wide feedback, from webrtc-rs) between the published video tracks. Pure: an estimate and the
//! tracks' layers in, a bitrate or "off" per layer out.
//!
//! The rules are libwebrtc's simulcast allocation, simplified: the microphone is served first; a shared
//! screen before the camera (its text must stay readable); within a track, layers from the smallest up,
//! each at its preset bitrate, the first one that does not fit at full rate running at what is left when
//! that is at least half its preset, and every layer above off. A track's smallest layer never goes off
//! (at a quarter of its preset at worst): a frozen picture reads as a dead connection.
use crate::encode::Layer;

/// Share of the estimate given to media payload; the rest covers RTP/SRTP headers, retransmissions and
/// the estimate's own error.
const HEADROOM: f64 = 0.85;
/// What the microphone needs (Opus at 32 kbit/s with FEC, plus headers).
pub const AUDIO_BPS: u32 = 48_000;
/// A layer that does not get its preset runs at no less than this share of it, or is turned off.
const MIN_SHARE: f64 = 0.5;
/// A track's smallest layer never gets less than this share of its preset.
const FLOOR_SHARE: f64 = 0.25;

/// What one layer gets: a bitrate to encode at, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Encode at this many bits per second.
    On(u32),
    /// Not encoded for lack of bandwidth.
    Off,
}

/// Shares `estimate_bps` between tracks, given in priority order (screen before camera), each as its
/// layers smallest first. `audio` says whether a microphone is published.
pub fn allocate(estimate_bps: f64, audio: bool, tracks: &[&[Layer]]) -> Vec<Vec<Grant>> {
    let mut budget = (estimate_bps.max(0.0) * HEADROOM) as i64 - if audio { i64::from(AUDIO_BPS) } else { 0 };
    // Every track's smallest layer first, so that the camera keeps a picture while a screen is shared.
    let mut grants: Vec<Vec<Grant>> = tracks.iter().map(|layers| vec![Grant::Off; layers.len()]).collect();
    for (track, layers) in tracks.iter().enumerate() {
        let Some(first) = layers.first() else { continue };
        let preset = i64::from(first.bitrate_bps);
        let floor = (preset as f64 * FLOOR_SHARE) as i64;
        let rate = budget.clamp(floor, preset);
        grants[track][0] = Grant::On(rate as u32);
        budget -= rate;
    }
    for (track, layers) in tracks.iter().enumerate() {
        for (i, layer) in layers.iter().enumerate().skip(1) {
            let preset = i64::from(layer.bitrate_bps);
            if budget >= preset {
                grants[track][i] = Grant::On(layer.bitrate_bps);
                budget -= preset;
            } else {
                if budget as f64 >= preset as f64 * MIN_SHARE {
                    grants[track][i] = Grant::On(budget as u32);
                    budget = 0;
                }
                break;
            }
        }
    }
    grants
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{camera_layers, screen_layer};

    fn on(grants: &[Grant]) -> Vec<Option<u32>> {
        grants
            .iter()
            .map(|g| match g {
                Grant::On(b) => Some(*b),
                Grant::Off => None,
            })
            .collect()
    }

    #[test]
    fn plenty_of_bandwidth_sends_every_layer_at_its_preset() {
        let camera = camera_layers(1280, 720);
        let grants = allocate(5_000_000.0, true, &[&camera]);
        let presets: Vec<_> = camera.iter().map(|l| Some(l.bitrate_bps)).collect();
        assert_eq!(on(&grants[0]), presets);
    }

    #[test]
    fn less_bandwidth_turns_the_top_layers_off_smallest_kept() {
        let camera = camera_layers(1280, 720); // ~110 k, ~450 k, ~1.7 M
                                               // 1 Mbit/s: q and h fit, f (needs ≥ 0.85 M) does not.
        let grants = on(&allocate(1_000_000.0, true, &[&camera])[0]);
        assert_eq!(grants[0], Some(camera[0].bitrate_bps));
        assert_eq!(grants[1], Some(camera[1].bitrate_bps));
        assert_eq!(grants[2], None);
        // A starved link keeps the smallest layer at its floor and nothing else.
        let grants = on(&allocate(50_000.0, true, &[&camera])[0]);
        assert_eq!(grants, vec![Some(camera[0].bitrate_bps / 4), None, None]);
    }

    #[test]
    fn a_layer_runs_below_its_preset_when_at_least_half_fits() {
        let camera = camera_layers(1280, 720);
        let needed = f64::from(camera[0].bitrate_bps + camera[1].bitrate_bps) + f64::from(AUDIO_BPS);
        let estimate = (needed + f64::from(camera[2].bitrate_bps) * 0.7) / HEADROOM;
        let grants = on(&allocate(estimate, true, &[&camera])[0]);
        let top = grants[2].unwrap_or_default();
        assert!(
            top < camera[2].bitrate_bps && f64::from(top) >= f64::from(camera[2].bitrate_bps) * 0.65,
            "{grants:?}"
        );
    }

    #[test]
    fn a_shared_screen_comes_before_the_cameras_upper_layers() {
        let screen = [screen_layer(1920, 1080)];
        let camera = camera_layers(1280, 720);
        let grants = allocate(3_000_000.0, true, &[&screen, &camera]);
        assert_eq!(on(&grants[0]), vec![Some(screen[0].bitrate_bps)]);
        assert!(on(&grants[1])[0].is_some(), "the camera keeps a picture");
        assert_eq!(on(&grants[1])[2], None);
    }

    #[test]
    fn the_estimate_coming_back_turns_layers_back_on() {
        let camera = camera_layers(1280, 720);
        let low = on(&allocate(300_000.0, true, &[&camera])[0]);
        let high = on(&allocate(4_000_000.0, true, &[&camera])[0]);
        assert_eq!(low.iter().filter(|g| g.is_some()).count(), 1);
        assert_eq!(high.iter().filter(|g| g.is_some()).count(), 3);
    }
}
