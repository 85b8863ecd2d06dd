//! Admission: checks a LiveKit access token (HS256 JWT signed with one of the server's API secrets) and turns
//! it into what the room needs to know about the participant. Verification is the official `livekit-api`
//! token verifier (signature, expiry, not-before, issuer = API key); this module adds the key lookup, the
//! room-join rules and the HTTP status a refusal gets.
use std::collections::HashMap;

use livekit_api::access_token::{AccessTokenError, Claims, TokenVerifier};
use thiserror::Error;

/// What a participant may do in the room, from the token's video grant (LiveKit's defaults when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// May publish tracks.
    pub can_publish: bool,
    /// May subscribe to others' tracks.
    pub can_subscribe: bool,
    /// May send data packets (defaults to `can_publish`).
    pub can_publish_data: bool,
    /// Track sources it may publish ("camera", "microphone", "screen_share", "screen_share_audio");
    /// empty means any.
    pub can_publish_sources: Vec<String>,
    /// May change its own name, metadata and attributes.
    pub can_update_own_metadata: bool,
    /// Invisible to the others (bots, recorders).
    pub hidden: bool,
    /// May administer the room (RoomService calls for this room).
    pub room_admin: bool,
}

/// An admitted participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The API key that signed the token.
    pub api_key: String,
    /// The room to join.
    pub room: String,
    /// Unique identity in the room.
    pub identity: String,
    /// Display name.
    pub name: String,
    /// Opaque metadata.
    pub metadata: String,
    /// Key-value attributes.
    pub attributes: HashMap<String, String>,
    /// What it may do.
    pub permissions: Permissions,
    /// Joined as an agent (token `kind: "agent"`): a transcription or AI participant, the only kind whose
    /// legacy transcription packets are relayed.
    pub agent: bool,
}

/// Why a join was refused; [`AuthError::status`] is the HTTP status LiveKit answers with.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No token in the query (`access_token`) or the `Authorization: Bearer` header.
    #[error("no permissions to access the room")]
    MissingToken,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("invalid authorization header. Must start with Bearer ")]
    BadHeader,
    /// Not a JWT, or its claims do not parse (the detail is for logs; clients get LiveKit's text).
    #[error("invalid authorization token")]
    Malformed(String),
    /// Signed with an API key this server does not know.
    #[error("invalid API key")]
    UnknownKey,
    /// The signature does not match the key's secret.
    #[error("invalid authorization token: token signature is invalid: signature is invalid")]
    BadSignature,
    /// Past its expiry (or before its not-before time).
    #[error("invalid authorization token: token has invalid claims: token is expired")]
    Expired,
    /// The grant does not allow joining a room.
    #[error("permissions denied")]
    NoJoinGrant,
    /// The grant names no room.
    #[error("no room name")]
    NoRoom,
    /// The grant is for another room than the one asked for.
    #[error("the token is for room \"{granted}\", not \"{requested}\"")]
    WrongRoom {
        /// Room in the token.
        granted: String,
        /// Room asked for.
        requested: String,
    },
    /// No identity (`sub`).
    #[error("identity cannot be empty")]
    NoIdentity,
}

impl AuthError {
    /// The HTTP status of the refusal, as LiveKit answers (docs/sfu-protocol.md §1): 401 for tokens that do
    /// not authenticate or authorise, 400 for tokens that are valid but incomplete. The `Display` text is
    /// LiveKit's body, word for word.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::MissingToken
            | AuthError::BadHeader
            | AuthError::Malformed(_)
            | AuthError::UnknownKey
            | AuthError::BadSignature
            | AuthError::Expired
            | AuthError::NoJoinGrant
            | AuthError::WrongRoom { .. } => 401,
            AuthError::NoRoom | AuthError::NoIdentity => 400,
        }
    }
}

/// The server's API keys.
#[derive(Debug, Clone)]
pub struct KeyStore {
    keys: HashMap<String, String>,
}

fn verify_error(e: AccessTokenError) -> AuthError {
    use jsonwebtoken::errors::ErrorKind;
    match e {
        AccessTokenError::Encoding(inner) => match inner.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => AuthError::Expired,
            ErrorKind::InvalidIssuer => AuthError::UnknownKey,
            _ => AuthError::Malformed(inner.to_string()),
        },
        other => AuthError::Malformed(other.to_string()),
    }
}

impl KeyStore {
    /// A store of API key → secret.
    pub fn new(keys: HashMap<String, String>) -> Self {
        Self { keys }
    }

    /// Verifies `token` and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.trim().is_empty() {
            return Err(AuthError::MissingToken);
        }
        let unverified = Claims::from_unverified(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let secret = self.keys.get(&unverified.iss).ok_or(AuthError::UnknownKey)?;
        TokenVerifier::with_api_key(&unverified.iss, secret).verify(token).map_err(verify_error)
    }

    /// Admits a participant to a room: the token must verify, grant `roomJoin`, name a room (the one asked
    /// for, when the caller asks for one) and an identity.
    pub fn admit(&self, token: &str, requested_room: Option<&str>) -> Result<Admission, AuthError> {
        let claims = self.verify(token)?;
        let video = &claims.video;
        if !video.room_join {
            return Err(AuthError::NoJoinGrant);
        }
        if video.room.is_empty() {
            return Err(AuthError::NoRoom);
        }
        if let Some(requested) = requested_room {
            if requested != video.room {
                return Err(AuthError::WrongRoom {
                    granted: video.room.clone(),
                    requested: requested.to_string(),
                });
            }
        }
        if claims.sub.is_empty() {
            return Err(AuthError::NoIdentity);
        }
        let permissions = Permissions {
            can_publish: video.can_publish(),
            can_subscribe: video.can_subscribe(),
            can_publish_data: video.can_publish_data(),
            can_publish_sources: video.can_publish_sources.clone(),
            can_update_own_metadata: video.can_update_own_metadata(),
            hidden: video.hidden,
            room_admin: video.room_admin,
        };
        Ok(Admission {
            api_key: claims.iss.clone(),
            room: video.room.clone(),
            identity: claims.sub.clone(),
            name: claims.name.clone(),
            metadata: claims.metadata.clone(),
            attributes: claims.attributes.clone(),
            permissions,
            agent: claims.kind == "agent",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use livekit_api::access_token::{AccessToken, VideoGrants};

    use super::*;

    fn store() -> KeyStore {
        KeyStore::new(HashMap::from([("devkey".to_string(), "secret".to_string())]))
    }

    fn token(key: &str, secret: &str, grants: VideoGrants, identity: &str, ttl: Duration) -> String {
        AccessToken::with_api_key(key, secret)
            .with_identity(identity)
            .with_name("Alice Martin")
            .with_metadata("{\"role\":\"agent\"}")
            .with_attributes([("handRaisedAt", "")])
            .with_grants(grants)
            .with_ttl(ttl)
            .to_jwt()
            .unwrap()
    }

    fn join(room: &str) -> VideoGrants {
        VideoGrants { room_join: true, room: room.into(), ..Default::default() }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_valid_token_is_admitted_with_its_grants() {
        let grants =
            VideoGrants { can_publish: Some(false), can_update_own_metadata: Some(true), ..join("salle") };
        let a = store().admit(&token("devkey", "secret", grants, "alice", HOUR), Some("salle")).unwrap();
        assert_eq!(
            (a.room.as_str(), a.identity.as_str(), a.name.as_str()),
            ("salle", "alice", "Alice Martin")
        );
        assert_eq!(a.metadata, "{\"role\":\"agent\"}");
        assert_eq!(a.attributes.get("handRaisedAt").map(String::as_str), Some(""));
        assert!(!a.permissions.can_publish && !a.permissions.can_publish_data && a.permissions.can_subscribe);
        assert!(a.permissions.can_update_own_metadata && !a.permissions.room_admin);
    }

    #[test]
    fn refusals_say_why_with_livekit_statuses() {
        let s = store();
        let cases = [
            (token("devkey", "wrong", join("salle"), "a", HOUR), None, AuthError::BadSignature, 401),
            (token("otherkey", "secret", join("salle"), "a", HOUR), None, AuthError::UnknownKey, 401),
            (token("devkey", "secret", VideoGrants::default(), "a", HOUR), None, AuthError::NoJoinGrant, 401),
            // The SDK refuses to make these two; other issuers may not.
            (hand_made(serde_json::json!({"roomJoin": true}), "a"), None, AuthError::NoRoom, 400),
            (
                hand_made(serde_json::json!({"roomJoin": true, "room": "salle"}), ""),
                None,
                AuthError::NoIdentity,
                400,
            ),
            (
                token("devkey", "secret", join("salle"), "a", HOUR),
                Some("autre"),
                AuthError::WrongRoom { granted: "salle".into(), requested: "autre".into() },
                401,
            ),
        ];
        for (jwt, room, expected, status) in cases {
            let err = s.admit(&jwt, room).unwrap_err();
            assert_eq!(err, expected);
            assert_eq!(err.status(), status, "{err}");
        }
        assert_eq!(s.admit("", None).unwrap_err(), AuthError::MissingToken);
        assert!(matches!(s.admit("not.a.jwt", None).unwrap_err(), AuthError::Malformed(_)));
    }

    /// Signs claims by hand (independently of the SDK), for tokens the SDK will not make.
    fn sign(claims: serde_json::Value, secret: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        use hmac::{Hmac, Mac};
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{header}.{payload}").as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{header}.{payload}.{signature}")
    }

    fn hand_made(video: serde_json::Value, identity: &str) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        sign(
            serde_json::json!({"iss": "devkey", "sub": identity, "exp": now + 600, "video": video}),
            "secret",
        )
    }

    #[test]
    fn an_expired_token_is_refused_and_a_fresh_hand_made_one_admitted() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let claims = |exp: u64| {
            serde_json::json!({"iss": "devkey", "sub": "bob", "exp": exp, "nbf": 0,
                "video": {"roomJoin": true, "room": "salle"}})
        };
        // Expired an hour ago (beyond the verifier's clock leeway).
        assert_eq!(store().admit(&sign(claims(now - 3600), "secret"), None).unwrap_err(), AuthError::Expired);
        let admitted = store().admit(&sign(claims(now + 600), "secret"), None).unwrap();
        assert_eq!(admitted.identity, "bob");
        assert_eq!(
            store().admit(&sign(claims(now + 600), "other"), None).unwrap_err(),
            AuthError::BadSignature
        );
    }
}
