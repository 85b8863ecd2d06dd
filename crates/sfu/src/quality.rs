//! Connection quality, as LiveKit reports it (`ConnectionQualityUpdate`): a score from 1 to 5 and a grade
//! per participant, from the packet loss on what it sends (gaps the server sees in its RTP sequence
//! numbers) and on what it receives (the loss its receiver reports say).
use livekit_protocol as proto;

/// Counts packets and the sequence numbers skipped between them, as they first arrive: the network's
/// loss, before retransmissions repair it. Late and repeated packets change nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct LossCounter {
    highest: Option<u16>,
    received: u64,
    lost: u64,
}

/// A jump of more sequence numbers than this is a restarted stream, not loss.
const MAX_GAP: u16 = 1_000;

impl LossCounter {
    /// One packet arrived.
    pub fn on_packet(&mut self, sequence: u16) {
        self.received += 1;
        let Some(highest) = self.highest else {
            self.highest = Some(sequence);
            return;
        };
        let ahead = sequence.wrapping_sub(highest);
        if ahead == 0 || ahead > u16::MAX / 2 {
            return; // a repeat, or late (retransmitted or reordered)
        }
        if ahead <= MAX_GAP {
            self.lost += u64::from(ahead - 1);
        }
        self.highest = Some(sequence);
    }

    /// Packets received and lost since the last call.
    pub fn take(&mut self) -> (u64, u64) {
        let counts = (self.received, self.lost);
        self.received = 0;
        self.lost = 0;
        counts
    }
}

/// Loss fraction of `received` packets with `lost` missing between them (0 when nothing was expected).
pub fn loss_fraction(received: u64, lost: u64) -> f32 {
    let expected = received + lost;
    if expected == 0 {
        return 0.0;
    }
    lost as f32 / expected as f32
}

/// A mean-opinion-like score for a loss fraction: 4.5 on a clean path, 0.2 less per percent lost, at
/// least 1.
pub fn score(loss: f32) -> f32 {
    (4.5 - 20.0 * loss.clamp(0.0, 1.0)).max(1.0)
}

/// LiveKit's grades for a score: above 4.1 excellent, above 3.6 good (that is, under 2 % and 4.5 % loss).
pub fn grade(score: f32) -> proto::ConnectionQuality {
    if score > 4.1 {
        proto::ConnectionQuality::Excellent
    } else if score > 3.6 {
        proto::ConnectionQuality::Good
    } else {
        proto::ConnectionQuality::Poor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_count_as_loss_late_and_repeated_packets_do_not() {
        let mut counter = LossCounter::default();
        for seq in [65_534u16, 65_535, 2, 3, 0, 3, 4] {
            counter.on_packet(seq);
        }
        // 0 and 1 skipped across the wrap; 0 arriving late and 3 again change nothing.
        assert_eq!(counter.take(), (7, 2));
        assert_eq!(counter.take(), (0, 0));
        counter.on_packet(5);
        counter.on_packet(40_000); // a restart, not 34 994 losses
        assert_eq!(counter.take(), (2, 0));
    }

    #[test]
    fn grades_follow_livekit_thresholds() {
        assert_eq!(grade(score(loss_fraction(1000, 0))), proto::ConnectionQuality::Excellent);
        assert_eq!(grade(score(loss_fraction(985, 15))), proto::ConnectionQuality::Excellent);
        assert_eq!(grade(score(loss_fraction(970, 30))), proto::ConnectionQuality::Good);
        assert_eq!(grade(score(loss_fraction(900, 100))), proto::ConnectionQuality::Poor);
        assert_eq!(score(1.0), 1.0);
        assert_eq!(loss_fraction(0, 0), 0.0);
    }
}
