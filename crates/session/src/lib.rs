//! One LiveKit meeting, natively: signalling through LiveKit's own client (`livekit-signaling`), media and
//! data on two webrtc-rs peer connections, a room model and one stream of typed [`Event`]s. Knows nothing
//! about the app or its UI.
pub mod chat;
pub mod error;
pub mod event;
mod peer;
pub mod roster;
mod session;
pub mod text_stream;

pub use error::SessionError;
pub use event::{Event, Participant};
pub use session::{ConnectOptions, Events, Session};
