//! The server API room backends call (LiveKit's RoomService over Twirp): `POST /twirp/livekit.RoomService/<Method>`
//! with an admin token, in protobuf or JSON, answered in the same format. Errors are Twirp's JSON
//! `{"code","msg"}` with Twirp's statuses; a token that does not verify is refused before Twirp, as plain
//! text, like LiveKit's auth middleware does.
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use livekit_api::access_token::Claims;
use livekit_protocol as proto;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::AuthError;
use crate::room::{RoomError, Rooms};
use crate::signal::AppState;

/// Largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Protobuf,
}

/// A Twirp error: its code decides the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwirpError {
    code: &'static str,
    msg: String,
}

impl TwirpError {
    fn new(code: &'static str, msg: impl Into<String>) -> Self {
        Self { code, msg: msg.into() }
    }

    fn denied() -> Self {
        Self::new("unauthenticated", "permissions denied")
    }

    fn status(&self) -> StatusCode {
        match self.code {
            "invalid_argument" | "malformed" | "out_of_range" => StatusCode::BAD_REQUEST,
            "unauthenticated" => StatusCode::UNAUTHORIZED,
            "permission_denied" | "resource_exhausted" => StatusCode::FORBIDDEN,
            "not_found" | "bad_route" => StatusCode::NOT_FOUND,
            "already_exists" | "aborted" => StatusCode::CONFLICT,
            "failed_precondition" => StatusCode::PRECONDITION_FAILED,
            "unimplemented" => StatusCode::NOT_IMPLEMENTED,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for TwirpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.code, "msg": self.msg }).to_string();
        (self.status(), [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

impl From<RoomError> for TwirpError {
    fn from(e: RoomError) -> Self {
        Self::new("not_found", e.to_string())
    }
}

fn format_of(headers: &HeaderMap) -> Option<Format> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Some(Format::Json),
        "application/protobuf" => Some(Format::Protobuf),
        _ => None,
    }
}

fn decode<T: prost::Message + Default + DeserializeOwned>(
    format: Format,
    body: &[u8],
) -> Result<T, TwirpError> {
    match format {
        Format::Protobuf => {
            T::decode(body).map_err(|e| TwirpError::new("malformed", format!("bad protobuf: {e}")))
        }
        // An empty JSON body is an empty message.
        Format::Json if body.iter().all(u8::is_ascii_whitespace) => Ok(T::default()),
        Format::Json => {
            serde_json::from_slice(body).map_err(|e| TwirpError::new("malformed", format!("bad JSON: {e}")))
        }
    }
}

fn encode<T: prost::Message + Serialize>(format: Format, message: &T) -> Response {
    match format {
        Format::Protobuf => {
            ([(header::CONTENT_TYPE, "application/protobuf")], message.encode_to_vec()).into_response()
        }
        Format::Json => match serde_json::to_string(message) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(e) => TwirpError::new("internal", e.to_string()).into_response(),
        },
    }
}

/// `POST /twirp/livekit.RoomService/{method}`.
pub async fn room_service(
    State(app): State<AppState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // LiveKit's auth middleware runs first: a bad token is a plain-text 401, not a Twirp error.
    let claims = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let token =
                value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or(AuthError::BadHeader);
            match token.and_then(|t| app.keys.verify(t)) {
                Ok(claims) => Some(claims),
                Err(e) => {
                    tracing::info!(method, reason = ?e, "server API call refused");
                    return (
                        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED),
                        e.to_string(),
                    )
                        .into_response();
                }
            }
        }
    };
    let Some(format) = format_of(&headers) else {
        return TwirpError::new(
            "bad_route",
            "unexpected Content-Type: use application/json or application/protobuf",
        )
        .into_response();
    };
    match call(&app.rooms, &method, claims.as_ref(), format, &body) {
        Ok(response) => response,
        Err(e) => {
            tracing::info!(method, code = e.code, msg = e.msg, "server API call failed");
            e.into_response()
        }
    }
}

/// The caller may administer `room`.
fn admin(claims: Option<&Claims>, room: &str) -> Result<(), TwirpError> {
    match claims {
        Some(c) if c.video.room_admin && c.video.room == room => Ok(()),
        _ => Err(TwirpError::denied()),
    }
}

fn call(
    rooms: &Rooms,
    method: &str,
    claims: Option<&Claims>,
    format: Format,
    body: &[u8],
) -> Result<Response, TwirpError> {
    tracing::debug!(method, "server API call");
    Ok(match method {
        "CreateRoom" => {
            let req: proto::CreateRoomRequest = decode(format, body)?;
            if !claims.is_some_and(|c| c.video.room_create) {
                return Err(TwirpError::denied());
            }
            if req.name.is_empty() {
                return Err(TwirpError::new("invalid_argument", "room name is required"));
            }
            encode(format, &rooms.create(&req))
        }
        "ListRooms" => {
            let req: proto::ListRoomsRequest = decode(format, body)?;
            if !claims.is_some_and(|c| c.video.room_list) {
                return Err(TwirpError::denied());
            }
            encode(format, &proto::ListRoomsResponse { rooms: rooms.list(&req.names) })
        }
        "DeleteRoom" => {
            let req: proto::DeleteRoomRequest = decode(format, body)?;
            if !claims.is_some_and(|c| c.video.room_create) {
                return Err(TwirpError::denied());
            }
            rooms.delete(&req.room)?;
            encode(format, &proto::DeleteRoomResponse::default())
        }
        "ListParticipants" => {
            let req: proto::ListParticipantsRequest = decode(format, body)?;
            admin(claims, &req.room)?;
            encode(format, &proto::ListParticipantsResponse { participants: rooms.participants(&req.room)? })
        }
        "GetParticipant" => {
            let req: proto::RoomParticipantIdentity = decode(format, body)?;
            admin(claims, &req.room)?;
            encode(format, &rooms.participant(&req.room, &req.identity)?)
        }
        "RemoveParticipant" => {
            let req: proto::RoomParticipantIdentity = decode(format, body)?;
            admin(claims, &req.room)?;
            rooms.remove(&req.room, &req.identity)?;
            encode(format, &proto::RemoveParticipantResponse::default())
        }
        "MutePublishedTrack" => {
            let req: proto::MuteRoomTrackRequest = decode(format, body)?;
            admin(claims, &req.room)?;
            let track = rooms.mute_track(&req.room, &req.identity, &req.track_sid, req.muted)?;
            encode(format, &proto::MuteRoomTrackResponse { track: Some(track) })
        }
        "UpdateParticipant" => {
            let req: proto::UpdateParticipantRequest = decode(format, body)?;
            admin(claims, &req.room)?;
            encode(format, &rooms.update_participant(&req)?)
        }
        "UpdateSubscriptions" => {
            let req: proto::UpdateSubscriptionsRequest = decode(format, body)?;
            admin(claims, &req.room)?;
            rooms.update_subscriptions(&req.room, &req.identity, &req.track_sids, req.subscribe)?;
            encode(format, &proto::UpdateSubscriptionsResponse::default())
        }
        "SendData" => {
            let req: proto::SendDataRequest = decode(format, body)?;
            admin(claims, &req.room)?;
            if !req.nonce.is_empty() && req.nonce.len() != 16 {
                return Err(TwirpError::new("invalid_argument", "nonce must be 16 bytes"));
            }
            rooms.send_data(&req)?;
            encode(format, &proto::SendDataResponse::default())
        }
        "UpdateRoomMetadata" => {
            let req: proto::UpdateRoomMetadataRequest = decode(format, body)?;
            admin(claims, &req.room)?;
            encode(format, &rooms.update_room_metadata(&req.room, &req.metadata)?)
        }
        other => {
            return Err(TwirpError::new(
                "bad_route",
                format!("no handler for path \"/twirp/livekit.RoomService/{other}\""),
            ))
        }
    })
}
