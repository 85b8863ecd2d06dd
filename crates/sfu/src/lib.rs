//! A LiveKit-protocol-compatible selective forwarding unit: the embedded default server for Colloque's local
//! meetings and for every end-to-end test. Production meetings run on LiveKit itself.
//!
//! Built so far: the server's configuration ([`config`]) and the admission of access tokens ([`auth`]).
//! Signalling, rooms and media forwarding follow (issue 3).
#![deny(missing_docs)]

pub mod auth;
pub mod config;
