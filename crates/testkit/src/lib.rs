//! Test-only helpers shared by the integration tests of several crates: the test API key, join tokens, and
//! the Node scenarios of `tests/peers` (LiveKit's official SDKs). Never a dependency of shipped code.
// Test support: a failure here is a failed test, said as plainly as possible.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod impair;
pub use impair::{ImpairedNetwork, Impairment};

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
    /// Joins as an agent (`kind: "agent"`), as transcription agents do.
    pub agent: bool,
}

/// A join token for `identity` (also its name) in `room`.
pub fn token(identity: &str, room: &str, grants: &Grants) -> String {
    let token = AccessToken::with_api_key(API_KEY, API_SECRET)
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
        });
    let token = if grants.agent { token.with_kind("agent") } else { token };
    token.to_jwt().unwrap()
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

/// A TCP relay in front of a server, for cutting a client's connections mid-call (a signalling WebSocket
/// dropped by a NAT or a proxy) while the server and the client both stay up.
#[derive(Debug)]
pub struct TcpRelay {
    addr: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<u64>,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    refusing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpRelay {
    /// Listens on a free loopback port and relays every connection to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        let refusing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let refuse = refusing.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                if refuse.load(Ordering::Relaxed) {
                    continue; // dropped: the client sees its connection closed at once
                }
                let mut cuts = cuts.clone();
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self { addr, cut, accepted, refusing, task }
    }

    /// `ws://` address of the relay.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Drops every connection open now (new ones still pass).
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// While on, new connections are closed as soon as they are accepted (the server unreachable).
    pub fn refuse(&self, on: bool) {
        self.refusing.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
