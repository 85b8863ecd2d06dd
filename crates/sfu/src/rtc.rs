//! The client-facing HTTP surface: `/rtc` (the signalling WebSocket), `/rtc/validate` (why a join would be
//! refused) and `/rtc/v1` (the newer single-connection protocol, answered 404 so that clients fall back).
use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as In;
use proto::signal_response::Message as Out;
use tokio::sync::mpsc;

use crate::auth::{Admission, AuthError, KeyStore};
use crate::room::Rooms;

/// Largest signalling message accepted; bigger ones close the sender's connection.
pub const MAX_SIGNAL_MESSAGE: usize = 1 << 20;
/// No message at all from a client for this long: its connection is dead.
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// Shared server state for the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// API keys.
    pub keys: KeyStore,
    /// Rooms.
    pub rooms: Rooms,
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
    let protocol = query.get("protocol").and_then(|p| p.parse().ok()).unwrap_or(0);
    upgrade
        .max_message_size(MAX_SIGNAL_MESSAGE)
        .on_upgrade(move |socket| session(socket, app, admission, protocol))
}

/// Why a session ended, for the close frame.
fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// One participant's signalling connection.
async fn session(socket: WebSocket, app: AppState, admission: Admission, protocol: i32) {
    let (tx, mut rx) = mpsc::unbounded_channel::<proto::SignalResponse>();
    let joined = app.rooms.join(&admission, tx.clone(), protocol);
    let (room, sid) = (admission.room.clone(), joined.sid.clone());
    tracing::info!(room, identity = admission.identity, sid, "joined");
    let (mut sink, mut stream) = socket.split();
    let first = proto::SignalResponse { message: Some(Out::Join(joined.response)) };
    if sink.send(Message::Binary(first.encode_to_vec().into())).await.is_err() {
        app.rooms.leave(&room, &sid);
        return;
    }
    loop {
        tokio::select! {
            outgoing = rx.recv() => {
                let Some(message) = outgoing else { break };
                let leaving = matches!(message.message, Some(Out::Leave(_)));
                if sink.send(Message::Binary(message.encode_to_vec().into())).await.is_err() || leaving {
                    break;
                }
            }
            incoming = tokio::time::timeout(PING_TIMEOUT, stream.next()) => {
                let frame = match incoming {
                    Err(_) => {
                        tracing::info!(sid, "no message within the ping timeout: connection dead");
                        break;
                    }
                    Ok(None) | Ok(Some(Err(_))) => break,
                    Ok(Some(Ok(frame))) => frame,
                };
                let data = match frame {
                    Message::Binary(data) => data,
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                    Message::Text(_) => {
                        let _ = sink.send(close(1003, "signalling messages are binary protobuf")).await;
                        break;
                    }
                };
                let request = match proto::SignalRequest::decode(&data[..]) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::info!(sid, error = %e, "malformed signal message: closing this connection");
                        let _ = sink.send(close(1007, "malformed signal message")).await;
                        break;
                    }
                };
                match request.message {
                    Some(In::Ping(ts)) => {
                        let _ = tx.send(proto::SignalResponse { message: Some(Out::Pong(ts)) });
                    }
                    Some(In::PingReq(ping)) => {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis() as i64)
                            .unwrap_or_default();
                        let pong = proto::Pong { last_ping_timestamp: ping.timestamp, timestamp: now };
                        let _ = tx.send(proto::SignalResponse { message: Some(Out::PongResp(pong)) });
                    }
                    Some(In::Leave(_)) => {
                        tracing::info!(sid, "left");
                        break;
                    }
                    Some(other) => tracing::debug!(sid, message = ?std::mem::discriminant(&other), "not handled yet"),
                    None => {}
                }
            }
        }
    }
    app.rooms.leave(&room, &sid);
    tracing::info!(room, sid, "session ended");
}
