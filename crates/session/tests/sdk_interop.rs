//! The native session against LiveKit's own Node SDK (`@livekit/rtc-node`, tests/peers/chat_peer.mjs) on
//! Colloque's SFU: each sees the other, chat goes both ways exactly once, the SDK peer's leave is seen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use colloque_session::{ConnectOptions, Event, Session};
use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
use colloque_testkit::{node_scenario, token, Grants};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers: run through `make test`"]
async fn native_and_sdk_peers_chat_both_ways_exactly_once() {
    let server = SfuServer::start(ServerConfig::from_args("127.0.0.1:0", &colloque_testkit::keys()).unwrap())
        .await
        .unwrap();
    let url = server.url();
    let (session, mut events) =
        Session::connect(ConnectOptions::new(&url, token("native", "interop", &Grants::default())))
            .await
            .unwrap();
    let node_token = token("node", "interop", &Grants::default());
    let node = tokio::spawn(async move {
        let args = [
            "--url",
            &url,
            "--token",
            &node_token,
            "--expect",
            "native",
            "--send",
            "hello from node",
            "--await",
            "hello from native",
        ];
        node_scenario("chat_peer.mjs", &args).await
    });

    let mut joined = false;
    let mut chats_from_node = Vec::new();
    let mut left = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while left.is_none() {
        let event =
            tokio::time::timeout_at(deadline, events.recv()).await.expect("timed out").expect("events ended");
        match event {
            Event::ParticipantJoined { participant } if participant.identity == "node" => {
                joined = true;
                session.send_chat("hello from native").unwrap();
            }
            Event::Chat { from, text, .. } if from == "node" => chats_from_node.push(text),
            Event::ParticipantLeft { participant, reason } if participant.identity == "node" => {
                left = Some(reason)
            }
            _ => {}
        }
    }
    assert!(joined);
    assert_eq!(chats_from_node, ["hello from node"], "exactly once");
    assert_eq!(left.as_deref(), Some("CLIENT_INITIATED"));
    let report = node.await.unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert_eq!(report["remoteParticipants"], serde_json::json!(["native"]));
    assert_eq!(
        report["chat"],
        serde_json::json!([{"from": "native", "text": "hello from native"}]),
        "exactly once"
    );
    session.leave().await;
}
