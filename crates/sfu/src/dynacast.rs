//! Dynacast: telling a simulcast publisher which layers anybody still receives, so that its encoder stops
//! spending CPU and uplink on the others (`SubscribedQualityUpdate`). LiveKit's timing: an upgrade is sent
//! at once, a downgrade only once it has held for 5 s (a subscriber resizing a tile back and forth must not
//! make the publisher restart an encoder each time), and a first update goes 10 s after publishing even when
//! nothing changed.
use std::time::{Duration, Instant};

use livekit_protocol as proto;

/// How long a lower wish must hold before the publisher is told.
pub const DOWNGRADE_DELAY: Duration = Duration::from_secs(5);
/// When the first update goes out regardless.
pub const INITIAL_WAIT: Duration = Duration::from_secs(10);

/// Per published track: what the publisher was last told.
#[derive(Debug, Clone)]
pub struct Dynacast {
    published_at: Instant,
    /// `Some(None)` = told that no layer is needed; `None` = told nothing yet.
    sent: Option<Option<u8>>,
    lower_since: Option<Instant>,
}

impl Dynacast {
    /// For a track published at `published_at`.
    pub fn new(published_at: Instant) -> Self {
        Self { published_at, sent: None, lower_since: None }
    }

    /// Given the highest layer any subscriber wants now (`None`: nobody), the layer to announce, if the
    /// publisher must be told now.
    pub fn decide(&mut self, wanted: Option<u8>, now: Instant) -> Option<Option<u8>> {
        let tell = match self.sent {
            // A publisher starts with every layer on: nothing to say before the first update.
            None => now.duration_since(self.published_at) >= INITIAL_WAIT,
            Some(sent) if rank(wanted) > rank(sent) => true,
            Some(sent) if rank(wanted) < rank(sent) => {
                let since = *self.lower_since.get_or_insert(now);
                now.duration_since(since) >= DOWNGRADE_DELAY
            }
            Some(_) => {
                self.lower_since = None;
                false
            }
        };
        if !tell {
            return None;
        }
        self.sent = Some(wanted);
        self.lower_since = None;
        Some(wanted)
    }
}

fn rank(layer: Option<u8>) -> i16 {
    layer.map_or(-1, i16::from)
}

/// The message for a track whose subscribers want at most `wanted` (`None`: nothing), in codec `mime`.
pub fn update(track_sid: &str, mime: &str, wanted: Option<u8>) -> proto::SubscribedQualityUpdate {
    let qualities: Vec<proto::SubscribedQuality> =
        [proto::VideoQuality::Low, proto::VideoQuality::Medium, proto::VideoQuality::High]
            .into_iter()
            .map(|q| proto::SubscribedQuality {
                quality: q as i32,
                enabled: wanted.is_some_and(|w| q as i32 <= i32::from(w)),
            })
            .collect();
    let codec = mime.rsplit('/').next().unwrap_or(mime).to_ascii_lowercase();
    #[allow(deprecated)] // `subscribed_qualities`: read by SDKs that predate per-codec qualities
    let update = proto::SubscribedQualityUpdate {
        track_sid: track_sid.to_owned(),
        subscribed_qualities: qualities.clone(),
        subscribed_codecs: vec![proto::SubscribedCodec { codec, qualities }],
    };
    update
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_update_after_ten_seconds_then_upgrades_at_once_and_downgrades_after_five() {
        let t0 = Instant::now();
        let mut d = Dynacast::new(t0);
        assert_eq!(d.decide(Some(2), t0 + Duration::from_secs(1)), None);
        assert_eq!(d.decide(Some(0), t0 + INITIAL_WAIT), Some(Some(0)));
        // Upgrade: at once.
        let t1 = t0 + Duration::from_secs(11);
        assert_eq!(d.decide(Some(2), t1), Some(Some(2)));
        // Downgrade: only after it has held for 5 s; a bounce back up cancels it.
        assert_eq!(d.decide(Some(0), t1 + Duration::from_secs(1)), None);
        assert_eq!(d.decide(Some(2), t1 + Duration::from_secs(2)), None);
        assert_eq!(d.decide(Some(0), t1 + Duration::from_secs(3)), None);
        assert_eq!(d.decide(Some(0), t1 + Duration::from_secs(7)), None);
        assert_eq!(d.decide(Some(0), t1 + Duration::from_secs(8)), Some(Some(0)));
        // Everyone left: all layers off, after the delay.
        assert_eq!(d.decide(None, t1 + Duration::from_secs(9)), None);
        assert_eq!(d.decide(None, t1 + Duration::from_secs(14)), Some(None));
    }

    #[test]
    fn the_message_enables_layers_up_to_the_wish() {
        let u = update("TR_x", "video/VP8", Some(1));
        let enabled: Vec<bool> = u.subscribed_codecs[0].qualities.iter().map(|q| q.enabled).collect();
        assert_eq!(enabled, [true, true, false]);
        assert_eq!(u.subscribed_codecs[0].codec, "vp8");
        let off = update("TR_x", "video/VP8", None);
        assert!(off.subscribed_codecs[0].qualities.iter().all(|q| !q.enabled));
    }
}
