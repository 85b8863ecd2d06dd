//! The loss-based half of send-side congestion control, as libwebrtc's classic estimator does it from
//! RTCP receiver reports: over 10 % loss the rate drops by half the loss, under 2 % it grows by 8 % a
//! second, in between it holds. Receiver reports count the packets that really arrived (after
//! retransmissions), which webrtc-rs's transport-wide feedback does not: its loss figure stays high
//! long after a bottleneck is gone and would pin the estimate at its minimum.
use std::time::{Duration, Instant};

/// Loss under which the rate grows.
const LOW_LOSS: f32 = 0.02;
/// Loss over which the rate drops.
const HIGH_LOSS: f32 = 0.10;
/// Growth per second on a clean path.
const GROWTH_PER_SECOND: f64 = 1.08;
/// Reports this close together describe the same moment (one per simulcast layer): they make one
/// decrease, by the worst loss among them, so one burst is not counted twice.
const DECREASE_INTERVAL: Duration = Duration::from_millis(300);

/// A rate that follows the loss receiver reports give.
#[derive(Debug, Clone)]
pub struct LossBased {
    rate: f64,
    min: f64,
    max: f64,
    last_report: Option<Instant>,
    /// The last decrease: when, from which rate, for which loss.
    last_decrease: Option<(Instant, f64, f32)>,
}

impl LossBased {
    /// Starts at `initial`, kept within `min..=max` (bits per second).
    pub fn new(initial: f64, min: f64, max: f64) -> Self {
        Self { rate: initial.clamp(min, max), min, max, last_report: None, last_decrease: None }
    }

    /// Bits per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// A receiver report said `loss` (0 to 1) of the packets since the previous one were lost.
    pub fn on_report(&mut self, loss: f32, now: Instant) {
        let since = self.last_report.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        self.last_report = Some(now);
        if loss < LOW_LOSS {
            self.rate *= GROWTH_PER_SECOND.powf(since.as_secs_f64().min(1.0));
        } else if loss > HIGH_LOSS {
            let loss = loss.min(1.0);
            let from = match self.last_decrease {
                Some((at, from, applied)) if now.saturating_duration_since(at) < DECREASE_INTERVAL => {
                    if loss <= applied {
                        return;
                    }
                    from
                }
                _ => self.rate,
            };
            self.last_decrease = Some((now, from, loss));
            self.rate = from * (1.0 - 0.5 * f64::from(loss));
        }
        self.rate = self.rate.clamp(self.min, self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_loss_halves_by_the_loss_clean_reports_grow_eight_percent_a_second() {
        let start = Instant::now();
        let mut rate = LossBased::new(1_000_000.0, 100_000.0, 8_000_000.0);
        rate.on_report(0.4, start);
        assert!((rate.rate() - 800_000.0).abs() < 1.0, "{}", rate.rate());
        // A second report of the same moment counts once; a worse one (another layer) deepens it.
        rate.on_report(0.4, start + Duration::from_millis(100));
        assert!((rate.rate() - 800_000.0).abs() < 1.0);
        rate.on_report(0.6, start + Duration::from_millis(120));
        assert!((rate.rate() - 700_000.0).abs() < 1.0, "{}", rate.rate());
        rate.on_report(0.2, start + Duration::from_millis(150));
        assert!((rate.rate() - 700_000.0).abs() < 1.0);
        // Moderate loss holds.
        rate.on_report(0.05, start + Duration::from_millis(1150));
        assert!((rate.rate() - 700_000.0).abs() < 1.0);
        // Ten clean seconds: ×1.08^10.
        for s in 2..=11 {
            rate.on_report(0.0, start + Duration::from_millis(150 + 1000 * s));
        }
        assert!((rate.rate() - 700_000.0 * 1.08f64.powi(10)).abs() < 10.0, "{}", rate.rate());
        // Total loss floors at the minimum, and the maximum caps growth.
        for s in 0..20 {
            rate.on_report(1.0, start + Duration::from_secs(20 + s));
        }
        assert_eq!(rate.rate(), 100_000.0);
        for s in 0..100 {
            rate.on_report(0.0, start + Duration::from_secs(40 + s));
        }
        assert_eq!(rate.rate(), 8_000_000.0);
    }
}
