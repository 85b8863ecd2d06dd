//! RTP/RTCP pieces that both the SFU and the client need on top of webrtc-rs.
//!
//! - [`keyframe_requests`]: an interceptor that hands PLI/FIR to the application (a sender must answer
//!   them with a keyframe; the SFU relays them to the publisher).
//! - [`peer_events`]: a peer connection's callbacks as one stream of events for the task that owns it.
//! - [`sdes`]: the `mid` and `rid` header extensions a simulcast sender stamps on its packets.
//! - [`sdp`]: which payload type a negotiated description gives a codec, which media section a track has.
pub mod interceptors;
pub mod keyframe_requests;
pub mod peer_events;
pub mod sdes;
pub mod sdp;

pub use keyframe_requests::KeyframeRequests;
pub use peer_events::{PeerEvent, PeerEvents};

/// The audio-level header extension (RFC 6464): senders stamp their loudness, the SFU derives active
/// speakers from it.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
