//! A LiveKit-protocol-compatible selective forwarding unit: the embedded default server for Colloque's local
//! meetings and for every end-to-end test. Production meetings run on LiveKit itself.
//!
//! Built so far: configuration ([`config`]), admission of access tokens ([`auth`]), the `/rtc` signalling
//! WebSocket with join, ping/pong and leave ([`rtc`]), rooms with membership updates ([`room`]), and one-call
//! start ([`server::SfuServer`]). Media (the two peer connections), publishing, subscriptions, data relay,
//! resume, the RoomService API and webhooks follow (issue 3).
#![deny(missing_docs)]

pub mod auth;
pub mod config;
pub mod data;
pub mod dynacast;
pub mod forward;
mod ids;
pub mod keyframe;
mod link;
pub mod peer;
pub mod quality;
pub mod red;
pub mod room;
pub mod server;
mod session;
pub mod signal;
pub mod speakers;
pub mod track;
pub mod twirp;
pub mod vp8;
pub mod webhook;

pub use server::SfuServer;
