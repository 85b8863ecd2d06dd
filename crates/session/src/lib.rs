//! One LiveKit meeting, natively: signalling through LiveKit's own client (`livekit-signaling`), media and
//! data on two webrtc-rs peer connections, a room model and one stream of typed [`Event`]s. Knows nothing
//! about the app or its UI. Remote video is decoded (H.264, VP8, VP9) on one thread per track; camera, screen and microphone
//! are encoded (H.264 simulcast, Opus) on one thread per source.
pub mod allocate;
pub mod assemble;
pub mod captions;
pub mod chat;
pub mod encode;
pub mod error;
pub mod event;
mod hear;
pub mod loss_based;
pub mod notify;
mod peer;
mod publish;
mod receive;
pub mod roster;
mod session;
pub mod text_stream;

pub use error::SessionError;
pub use event::{Event, Participant, PublishedTrack};
pub use publish::{Source, SCREEN_FPS};
pub use receive::RemoteVideo;
pub use session::{ConnectOptions, Events, Session};
