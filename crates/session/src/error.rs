//! Why a session could not start or do what was asked.
use thiserror::Error;

/// A session error, worded for the person who has to act on it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The meeting address is not a `ws://` or `wss://` URL.
    #[error("invalid meeting server address \"{0}\": expected ws://… or wss://…")]
    Url(String),
    /// The server refused the token (HTTP status and LiveKit's reason).
    #[error("the server refused to let you in ({status}): {reason}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's text.
        reason: String,
    },
    /// The server could not be reached or did not answer the join.
    #[error("cannot reach the meeting server: {0}")]
    Unreachable(String),
    /// A peer connection could not be set up.
    #[error("media connection: {0}")]
    Media(#[from] rtc::shared::error::Error),
    /// The session has ended; nothing more can be sent.
    #[error("the meeting has ended for this client")]
    Ended,
}

impl From<livekit_signaling::SignalError> for SessionError {
    fn from(e: livekit_signaling::SignalError) -> Self {
        use livekit_signaling::SignalError as S;
        match e {
            S::Client(status, reason) | S::Server(status, reason) => {
                SessionError::Refused { status: status.as_u16(), reason }
            }
            S::UrlParse(url) => SessionError::Url(url),
            other => SessionError::Unreachable(other.to_string()),
        }
    }
}
