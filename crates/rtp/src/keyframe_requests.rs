//! Keyframe requests (PLI, FIR) on a sent track, handed to the application.
//!
//! webrtc-rs stops inbound RTCP at the end of its interceptor chain unless an interceptor marks it
//! `DeliverToApplication`; this one marks exactly the keyframe requests, so `TrackLocal::poll` yields them
//! and every other report stays with the interceptors that act on it (NACK responder, reports, TWCC).
use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::sansio::Protocol;
use rtc::shared::error::Error as RtcError;

/// Register with `Registry::with(Slot::Custom(…), KeyframeRequests::default())`.
#[derive(Default)]
pub struct KeyframeRequests {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
    receiver_reports: bool,
}

impl KeyframeRequests {
    /// Also hands receiver reports to the application (a server grading its subscribers' connections).
    pub fn with_receiver_reports() -> Self {
        Self { receiver_reports: true, ..Self::default() }
    }
}

impl std::fmt::Debug for KeyframeRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyframeRequests").field("queued", &(self.read.len() + self.write.len())).finish()
    }
}

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = RtcError;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let wanted = |p: &dyn rtc::rtcp::Packet| {
                is_keyframe_request(p) || (self.receiver_reports && p.as_any().is::<ReceiverReport>())
            };
            let requests: Vec<_> = packets.iter().filter(|p| wanted(p.as_ref())).cloned().collect();
            if requests.is_empty() {
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pli_and_fir_are_keyframe_requests() {
        let pli = PictureLossIndication { sender_ssrc: 1, media_ssrc: 2 };
        let fir = FullIntraRequest { sender_ssrc: 1, media_ssrc: 2, fir: vec![] };
        assert!(is_keyframe_request(&pli));
        assert!(is_keyframe_request(&fir));
        assert!(!is_keyframe_request(&ReceiverReport::default()));
    }
}
