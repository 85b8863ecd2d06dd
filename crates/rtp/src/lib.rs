//! RTP/RTCP pieces that both the SFU and the client need on top of webrtc-rs.
//!
//! - [`keyframe_requests`]: an interceptor that hands PLI/FIR to the application (a sender must answer
//!   them with a keyframe; the SFU relays them to the publisher).
//! - [`sdp`]: which payload type a negotiated description gives a codec.
pub mod keyframe_requests;
pub mod sdp;

pub use keyframe_requests::KeyframeRequests;
