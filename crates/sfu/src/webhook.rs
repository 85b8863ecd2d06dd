//! Webhooks, as LiveKit sends them: a `WebhookEvent` in protobuf JSON (camelCase, defaults omitted), POSTed
//! as `application/webhook+json` with an `Authorization` JWT (no "Bearer") signed with the API secret whose
//! `sha256` claim is the base64 SHA-256 of the exact body. Room backends verify it with LiveKit's SDKs.
//!
//! Events are queued and posted in order by one task per server; a slow or dead endpoint delays webhooks,
//! never the meeting.
use std::time::Duration;

use base64::Engine as _;
use livekit_api::access_token::AccessToken;
use livekit_protocol as proto;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// Events waiting beyond this are dropped (and logged).
const QUEUE: usize = 1000;
/// LiveKit's webhook tokens live five minutes.
const TOKEN_TTL: Duration = Duration::from_secs(300);

/// Where and how to post webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Endpoints, each gets every event.
    pub urls: Vec<String>,
    /// The API key whose secret signs the requests.
    pub api_key: String,
    /// Its secret.
    pub api_secret: String,
}

/// Queues events for posting.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: mpsc::Sender<proto::WebhookEvent>,
}

/// The body and `Authorization` value of one webhook request.
pub fn sign(
    event: &proto::WebhookEvent,
    api_key: &str,
    api_secret: &str,
) -> Result<(String, String), String> {
    let body = serde_json::to_string(event).map_err(|e| e.to_string())?;
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()));
    let token = AccessToken::with_api_key(api_key, api_secret)
        .with_sha256(&digest)
        .with_ttl(TOKEN_TTL)
        .to_jwt()
        .map_err(|e| e.to_string())?;
    Ok((body, token))
}

/// An HTTP(S) client on rustls with the ring provider (the one WebRTC already uses) and the system's trust
/// store, for endpoints behind an institution's own certificate authority.
fn http_client() -> Result<reqwest::Client, String> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| e.to_string())?
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())
}

impl Notifier {
    /// Starts the posting task on the current runtime.
    pub fn start(config: WebhookConfig) -> Self {
        let (tx, mut rx) = mpsc::channel::<proto::WebhookEvent>(QUEUE);
        let client = http_client();
        tokio::spawn(async move {
            let client = match client {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "webhooks disabled: no HTTP client");
                    return;
                }
            };
            while let Some(event) = rx.recv().await {
                let (body, token) = match sign(&event, &config.api_key, &config.api_secret) {
                    Ok(signed) => signed,
                    Err(e) => {
                        tracing::error!(error = %e, "webhook not signed");
                        continue;
                    }
                };
                for url in &config.urls {
                    let sent = client
                        .post(url)
                        .header(reqwest::header::CONTENT_TYPE, "application/webhook+json")
                        .header(reqwest::header::AUTHORIZATION, &token)
                        .header(reqwest::header::USER_AGENT, "LiveKit")
                        .body(body.clone())
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => {}
                        Ok(r) => {
                            tracing::warn!(url, event = event.event, status = %r.status(), "webhook refused")
                        }
                        Err(e) => {
                            tracing::warn!(url, event = event.event, error = %e, "webhook not delivered")
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Queues `event` (`room_started`, `participant_joined`, …) about `room`, and optionally a participant
    /// and a track.
    pub fn notify(
        &self,
        event: &str,
        room: &proto::Room,
        participant: Option<&proto::ParticipantInfo>,
        track: Option<&proto::TrackInfo>,
    ) {
        let event = proto::WebhookEvent {
            event: event.to_owned(),
            room: Some(room.clone()),
            participant: participant.cloned(),
            track: track.cloned(),
            id: crate::ids::event(),
            created_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default(),
            ..Default::default()
        };
        if let Err(e) = self.tx.try_send(event) {
            tracing::warn!(error = %e, "webhook queue full: event dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_like_livekit_and_verified_by_its_receiver() {
        let event = proto::WebhookEvent {
            event: "room_started".into(),
            room: Some(proto::Room { name: "salle".into(), ..Default::default() }),
            id: "EV_test".into(),
            created_at: 1_700_000_000,
            ..Default::default()
        };
        let (body, token) = sign(&event, "devkey", "secret-secret-secret-secret-secret").unwrap();
        // camelCase protobuf JSON with int64 as a string, defaults left out.
        assert!(body.contains("\"createdAt\":\"1700000000\""), "{body}");
        assert!(!body.contains("numDropped"), "{body}");
        let verifier = livekit_api::access_token::TokenVerifier::with_api_key(
            "devkey",
            "secret-secret-secret-secret-secret",
        );
        let receiver = livekit_api::webhooks::WebhookReceiver::new(verifier);
        let received = receiver.receive(&body, &token).unwrap();
        assert_eq!(received.event, "room_started");
        // A body changed after signing is refused.
        assert!(receiver.receive(&body.replace("salle", "autre"), &token).is_err());
    }
}
