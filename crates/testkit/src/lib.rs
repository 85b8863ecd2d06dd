//! Test-only helpers shared by the integration tests of several crates: the test API key, join tokens, and
//! the Node scenarios of `tests/peers` (LiveKit's official SDKs). Never a dependency of shipped code.
// Test support: a failure here is a failed test, said as plainly as possible.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};
use serde_json::Value;

/// The API key every test server accepts.
pub const API_KEY: &str = "devkey";
/// Its secret.
pub const API_SECRET: &str = "colloque-test-secret-at-least-32-chars";

/// `--keys` for a test server.
pub fn keys() -> String {
    format!("{API_KEY}:{API_SECRET}")
}

/// What a test token grants beyond joining (LiveKit's defaults otherwise).
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// `canUpdateOwnMetadata`.
    pub update_own_metadata: bool,
    /// No `canPublish`.
    pub no_publish: bool,
}

/// A join token for `identity` (also its name) in `room`.
pub fn token(identity: &str, room: &str, grants: &Grants) -> String {
    AccessToken::with_api_key(API_KEY, API_SECRET)
        .with_identity(identity)
        .with_name(identity)
        .with_grants(VideoGrants {
            room_join: true,
            room: room.into(),
            can_publish: Some(!grants.no_publish),
            can_subscribe: Some(true),
            can_publish_data: Some(true),
            can_update_own_metadata: Some(grants.update_own_metadata),
            ..Default::default()
        })
        .to_jwt()
        .unwrap()
}

/// Where the Node test peers live (`tests/peers`, installed by `scripts/setup-peers.sh`).
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

/// Runs a Node scenario of `tests/peers` and returns the JSON report it prints last. Its stderr (the peers'
/// logs) is passed through to the test output.
///
/// Scenarios of one test binary run one at a time: each runs several libwebrtc peers (and perhaps
/// Chromium) that encode video, and two at once on a 2-core machine starve each other into timeouts.
pub async fn node_scenario(script: &str, args: &[&str]) -> Value {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = peers_dir();
    assert!(
        dir.join("node_modules/@livekit/rtc-node").is_dir(),
        "the LiveKit SDK test peers are not installed: run `make test`, or `npm ci --prefix {}`",
        dir.display()
    );
    let run = tokio::process::Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(150), run)
        .await
        .expect("the scenario ran past its own timeout")
        .expect("node could not be started: is Node.js installed (scripts/setup-system.sh)?");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(output.status.success(), "{script} failed ({}): {stdout}", output.status);
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script} printed no JSON report ({e}): {stdout}"))
}
