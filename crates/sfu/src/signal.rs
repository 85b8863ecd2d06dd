//! The client-facing HTTP surface: `/rtc` (the signalling WebSocket), `/rtc/validate` (why a join would be
//! refused) and `/rtc/v1` (the newer single-connection protocol, answered 404 so that clients fall back).
use std::collections::HashMap;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::{AuthError, KeyStore};
use crate::peer::PeerConfig;
use crate::room::Rooms;
use crate::session;

/// Largest signalling message accepted; bigger ones close the sender's connection.
pub const MAX_SIGNAL_MESSAGE: usize = 1 << 20;

/// Shared server state for the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// API keys.
    pub keys: KeyStore,
    /// Rooms.
    pub rooms: Rooms,
    /// Where media sockets go.
    pub peer: PeerConfig,
    /// How long a session without its signalling connection waits for the client to resume.
    pub resume_window: std::time::Duration,
}

/// The access token: an `Authorization` header wins and must be `Bearer <token>`; else `?access_token=`.
fn token<'a>(query: &'a HashMap<String, String>, headers: &'a HeaderMap) -> Result<&'a str, AuthError> {
    match headers.get(axum::http::header::AUTHORIZATION) {
        Some(value) => {
            value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or(AuthError::BadHeader)
        }
        None => Ok(query.get("access_token").map(String::as_str).unwrap_or("")),
    }
}

fn refuse(err: &AuthError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    tracing::info!(%status, reason = ?err, "join refused");
    (status, err.to_string()).into_response()
}

/// `GET /rtc/validate`: 200 "success" when the token would be admitted, else the refusal.
pub async fn validate(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match token(&query, &headers).and_then(|t| app.keys.admit(t, None)) {
        Ok(_) => ([(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], "success").into_response(),
        Err(e) => refuse(&e),
    }
}

/// `/rtc/v1`: not served, so that clients fall back to `/rtc`.
pub async fn v1_not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// `GET /rtc`: admits the token, then upgrades to the signalling WebSocket.
pub async fn rtc(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let admission = match token(&query, &headers).and_then(|t| app.keys.admit(t, None)) {
        Ok(a) => a,
        Err(e) => return refuse(&e),
    };
    let flag = |name: &str, default: bool| {
        query.get(name).map(|v| v == "1" || v.eq_ignore_ascii_case("true")).unwrap_or(default)
    };
    if flag("reconnect", false) {
        // Resume: the session keeps its peer connections and takes this socket as its signalling link. A
        // session the server no longer has gets LiveKit's answer for that, and the client joins anew.
        let sid = query.get("sid").cloned().unwrap_or_default();
        tracing::info!(room = admission.room, identity = admission.identity, sid, "resume asked");
        return upgrade.max_message_size(MAX_SIGNAL_MESSAGE).on_upgrade(move |socket| async move {
            if let Err(socket) =
                app.rooms.resume(&admission.room, &sid, &admission.identity, Box::new(socket))
            {
                tracing::info!(room = admission.room, sid, "nothing to resume: full reconnect");
                session::refuse_resume(*socket).await;
            }
        });
    }
    if app.rooms.is_full(&admission.room) {
        // What LiveKit answers when a room is at its max_participants (docs/sfu-protocol.md §1).
        tracing::info!(room = admission.room, identity = admission.identity, "join refused: room full");
        return (StatusCode::INTERNAL_SERVER_ERROR, "connection closed by media").into_response();
    }
    let params = session::Params {
        client_protocol: query.get("client_protocol").and_then(|p| p.parse().ok()).unwrap_or(0),
        auto_subscribe: flag("auto_subscribe", true),
        adaptive_stream: flag("adaptive_stream", false),
        resume_window: app.resume_window,
    };
    upgrade
        .max_message_size(MAX_SIGNAL_MESSAGE)
        .on_upgrade(move |socket| session::run(socket, app.rooms, app.peer, admission, params))
}
