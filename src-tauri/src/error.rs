//! What a command tells the UI when it fails: a kind the UI can act on (and translate), and the detail.
use serde::Serialize;

/// A command's failure.
#[derive(Debug, thiserror::Error, Serialize, specta::Type)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum AppError {
    /// What the user typed cannot be used (a malformed address, an empty token).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The meeting address is not one (`ws://…`, `wss://…`).
    #[error("{0}")]
    InvalidAddress(String),
    /// The server refused to let this user in (a wrong or expired token, a full room).
    #[error("{0}")]
    Refused(String),
    /// The server could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// The media connection could not be set up.
    #[error("{0}")]
    Media(String),
    /// The embedded meeting server could not start.
    #[error("the local meeting could not start: {0}")]
    LocalMeeting(String),
    /// A device could not be opened (missing, busy, permission denied).
    #[error("{0}")]
    Device(String),
    /// The settings could not be saved.
    #[error("the settings could not be saved: {0}")]
    Settings(String),
    /// There is no meeting to act on.
    #[error("not in a meeting")]
    NotInMeeting,
    /// A meeting is already joined.
    #[error("already in a meeting")]
    AlreadyInMeeting,
}

impl From<colloque_session::SessionError> for AppError {
    fn from(e: colloque_session::SessionError) -> Self {
        use colloque_session::SessionError as S;
        let detail = e.to_string();
        match e {
            S::Url(_) => Self::InvalidAddress(detail),
            S::Refused { .. } => Self::Refused(detail),
            S::Unreachable(_) => Self::Unreachable(detail),
            S::Ended => Self::NotInMeeting,
            _ => Self::Media(detail),
        }
    }
}
