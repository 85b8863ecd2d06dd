//! Congestion control's last step: sharing the send-side estimate (Google Congestion Control over
//! transport-wide feedback, from webrtc-rs) between the published video tracks. Pure: an estimate and the
//! tracks' layers in, a bitrate or "off" per layer out.
//!
//! The rules are libwebrtc's simulcast allocation, simplified: the microphone is served first; a shared
//! screen before the camera (its text must stay readable); within a track, layers from the smallest up,
//! each at its preset bitrate, the first one that does not fit at full rate running at what is left when
//! that is at least half its preset, and every layer above off. A track's smallest layer never goes off
//! (at a quarter of its preset at worst): a frozen picture reads as a dead connection.
use std::time::{Duration, Instant};

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

/// How long upper layers stay off after congestion turned them off.
const FIRST_HOLD: Duration = Duration::from_secs(8);
/// The longest hold, after repeated failed attempts.
const MAX_HOLD: Duration = Duration::from_secs(64);
/// An upper layer that stays on this long has proven the path has room: the hold goes back to
/// [`FIRST_HOLD`].
const PROBATION: Duration = Duration::from_secs(10);

/// Hysteresis on the upper layers (every layer above a track's smallest). webrtc-rs's congestion
/// control does not probe with padding, and its estimate keeps growing while the encoders send less
/// than it (a 300 kbit/s path read 600 kbit/s seconds after the top layer went off); so turning a layer
/// back on is itself the probe, and a failed probe costs every subscriber of that layer a frozen picture
/// while the server moves them down. Congestion turns layers off at once; they come back only once the
/// hold is over, and a layer that has to go off again within [`PROBATION`] doubles the hold (up to
/// [`MAX_HOLD`]).
#[derive(Debug, Clone)]
pub struct UpperLayers {
    /// How many layers each published video track has (a change of tracks starts afresh).
    tracks: Vec<usize>,
    /// Upper layers allowed on.
    on: usize,
    hold: Duration,
    held_until: Option<Instant>,
    /// When layers last came back on, while on probation.
    raised: Option<Instant>,
}

impl Default for UpperLayers {
    fn default() -> Self {
        Self { tracks: Vec::new(), on: 0, hold: FIRST_HOLD, held_until: None, raised: None }
    }
}

impl UpperLayers {
    /// Caps `grants` (from [`allocate`]) to the upper layers the hold allows, turning off the last ones
    /// granted.
    pub fn limit(&mut self, grants: &mut [Vec<Grant>], now: Instant) {
        let wanted = upper_layers_on(grants);
        if !grants.iter().map(Vec::len).eq(self.tracks.iter().copied()) {
            *self = Self { tracks: grants.iter().map(Vec::len).collect(), on: wanted, ..Self::default() };
            return;
        }
        let allowed = self.decide(wanted, now);
        // `allocate` grants upper layers track by track, smallest first: keep the first `allowed`.
        let mut kept = 0;
        for layer in grants.iter_mut().flat_map(|g| g.iter_mut().skip(1)) {
            if *layer != Grant::Off {
                if kept == allowed {
                    *layer = Grant::Off;
                } else {
                    kept += 1;
                }
            }
        }
    }

    /// How many of `wanted` upper layers may be on at `now`.
    fn decide(&mut self, wanted: usize, now: Instant) -> usize {
        if self.raised.is_some_and(|r| now.saturating_duration_since(r) >= PROBATION) {
            self.raised = None;
            self.hold = FIRST_HOLD;
        }
        if wanted < self.on {
            if self.raised.take().is_some() {
                self.hold = (self.hold * 2).min(MAX_HOLD);
            }
            self.held_until = Some(now + self.hold);
            self.on = wanted;
        } else if wanted > self.on && self.held_until.is_none_or(|until| now >= until) {
            self.on = wanted;
            self.raised = Some(now);
        }
        self.on
    }
}

/// Upper layers `grants` turn on, all tracks together.
fn upper_layers_on(grants: &[Vec<Grant>]) -> usize {
    grants.iter().map(|g| g.iter().skip(1).filter(|g| **g != Grant::Off).count()).sum()
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

    /// The camera's layers as `allocate` gives them at `estimate`, through `gate` at `now`.
    fn gated(gate: &mut UpperLayers, estimate: f64, now: Instant) -> usize {
        let camera = camera_layers(640, 360);
        let mut grants = allocate(estimate, true, &[&camera]);
        gate.limit(&mut grants, now);
        upper_layers_on(&grants)
    }

    #[test]
    fn congestion_turns_upper_layers_off_at_once_and_they_wait_out_the_hold() {
        let t0 = Instant::now();
        let mut gate = UpperLayers::default();
        assert_eq!(gated(&mut gate, 2_000_000.0, t0), 2);
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(gated(&mut gate, 400_000.0, t1), 1, "off at once");
        // The estimate drifts back up over a path that has not changed: held.
        assert_eq!(gated(&mut gate, 2_000_000.0, t1 + Duration::from_secs(3)), 1);
        assert_eq!(gated(&mut gate, 2_000_000.0, t1 + FIRST_HOLD - Duration::from_millis(1)), 1);
        assert_eq!(gated(&mut gate, 2_000_000.0, t1 + FIRST_HOLD), 2, "back once the hold is over");
    }

    #[test]
    fn a_failed_attempt_doubles_the_hold_and_a_lasting_one_resets_it() {
        let t0 = Instant::now();
        let mut gate = UpperLayers::default();
        gated(&mut gate, 2_000_000.0, t0);
        let mut now = t0 + Duration::from_secs(30);
        gated(&mut gate, 400_000.0, now);
        // Two attempts that fail within their probation: 16 s, then 32 s.
        for hold in [16, 32] {
            now += FIRST_HOLD.max(Duration::from_secs(hold / 2));
            assert_eq!(gated(&mut gate, 2_000_000.0, now), 2);
            now += Duration::from_secs(2);
            assert_eq!(gated(&mut gate, 400_000.0, now), 1);
            let held = now + Duration::from_secs(hold) - Duration::from_millis(1);
            assert_eq!(gated(&mut gate, 2_000_000.0, held), 1, "held {hold} s");
        }
        now += Duration::from_secs(32);
        assert_eq!(gated(&mut gate, 2_000_000.0, now), 2);
        // It lasts: the next congestion holds for the first hold again.
        now += PROBATION;
        assert_eq!(gated(&mut gate, 2_000_000.0, now), 2);
        gated(&mut gate, 400_000.0, now);
        assert_eq!(gated(&mut gate, 2_000_000.0, now + FIRST_HOLD), 2);
    }

    #[test]
    fn the_hold_keeps_the_first_upper_layers_granted_and_a_new_track_starts_afresh() {
        let t0 = Instant::now();
        let mut gate = UpperLayers::default();
        let camera = camera_layers(1280, 720);
        let mut grants = allocate(4_000_000.0, true, &[&camera]);
        gate.limit(&mut grants, t0);
        let t1 = t0 + Duration::from_secs(1);
        let mut grants = allocate(1_000_000.0, true, &[&camera]);
        gate.limit(&mut grants, t1);
        assert_eq!(upper_layers_on(&grants), 1);
        let mut grants = allocate(4_000_000.0, true, &[&camera]);
        gate.limit(&mut grants, t1 + Duration::from_secs(1));
        assert_eq!(on(&grants[0])[1..], [Some(camera[1].bitrate_bps), None], "the middle layer kept");
        // A shared screen is a new set of tracks: whatever fits is on at once.
        let screen = [screen_layer(1920, 1080)];
        let mut grants = allocate(8_000_000.0, true, &[&screen, &camera]);
        gate.limit(&mut grants, t1 + Duration::from_secs(2));
        assert_eq!(upper_layers_on(&grants), 2);
    }
}
