//! The server API as a room backend (such as Visio's) uses it, through LiveKit's official server SDK
//! (`livekit-server-sdk` RoomServiceClient, in tests/peers/server_api.mjs): create and list rooms, list and
//! update participants (the other peer sees the change), send data, mute a track, remove a participant,
//! update room metadata, delete the room; errors for an unknown participant and a wrong secret; and
//! webhooks whose signature the SDK's WebhookReceiver verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
use common::{node_scenario, API_KEY, API_SECRET};
use serde_json::{json, Value};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn call<'a>(report: &'a Value, name: &str) -> &'a Value {
    let call = &report["calls"][name];
    assert!(call.is_object(), "no call {name} in the report");
    call
}

fn ok<'a>(report: &'a Value, name: &str) -> &'a Value {
    let call = call(report, name);
    assert_eq!(call["ok"], true, "{name} failed: {call}");
    call
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers (and Chromium): run through `make test`"]
async fn the_official_server_sdk_administers_rooms_and_verifies_webhooks() {
    let hook_port = free_port();
    let config = ServerConfig::from_args("127.0.0.1:0", &format!("{API_KEY}:{API_SECRET}"))
        .unwrap()
        .with_webhooks(vec![format!("http://127.0.0.1:{hook_port}/hook")], None)
        .unwrap();
    let server = SfuServer::start(config).await.unwrap();
    let http = format!("http://{}", server.addr());
    let port = hook_port.to_string();
    let report = node_scenario(
        "server_api.mjs",
        &[
            "--url",
            &http,
            "--ws",
            &server.url(),
            "--api-key",
            API_KEY,
            "--api-secret",
            API_SECRET,
            "--room",
            "salle",
            "--webhook-port",
            &port,
        ],
    )
    .await;

    assert_eq!(ok(&report, "createRoom")["result"]["name"], "salle");
    assert_eq!(ok(&report, "listRooms")["result"], json!(["salle"]));
    let listed = ok(&report, "listParticipants")["result"].as_array().unwrap().clone();
    let mut identities: Vec<&str> = listed.iter().map(|p| p["identity"].as_str().unwrap()).collect();
    identities.sort_unstable();
    assert_eq!(identities, ["alice", "bob"]);
    let alice = &ok(&report, "getParticipant")["result"];
    assert_eq!(
        (alice["identity"].as_str(), alice["numTracks"].as_u64()),
        (Some("alice"), Some(1)),
        "{alice}"
    );

    // Changes made through the API reach the other participant.
    let update = ok(&report, "updateParticipant");
    assert_eq!(update["seenByBob"], json!({"attributes": {"role": "host"}, "metadata": "from-api"}));
    let data = &ok(&report, "sendData")["seenByBob"];
    assert_eq!(
        (data["text"].as_str(), data["topic"].as_str()),
        (Some("server says hi"), Some("colloque.api"))
    );
    assert_eq!(ok(&report, "mutePublishedTrack")["seenByBob"]["type"], "trackMuted");
    assert_eq!(ok(&report, "removeParticipant")["seenByBob"]["reasonName"], "PARTICIPANT_REMOVED");
    assert_eq!(ok(&report, "updateRoomMetadata")["seenByAlice"]["metadata"], "room-meta");
    assert_eq!(ok(&report, "deleteRoom")["seenByAlice"]["reasonName"], "ROOM_DELETED");
    assert_eq!(ok(&report, "listRoomsAfterDelete")["result"], json!([]));

    // Errors say what went wrong, with LiveKit's statuses.
    let missing = &call(&report, "getParticipantMissing")["error"];
    assert_eq!(
        (missing["status"].as_u64(), missing["code"].as_str()),
        (Some(404), Some("not_found")),
        "{missing}"
    );
    assert_eq!(missing["message"], "participant does not exist");
    let wrong = &call(&report, "listParticipantsWrongSecret")["error"];
    assert_eq!(wrong["status"].as_u64(), Some(401), "{wrong}");
    assert!(wrong["message"].as_str().unwrap().contains("signature is invalid"), "{wrong}");

    // Webhooks arrived in order, each verified by the official receiver.
    let hooks = report["webhooks"].as_array().unwrap();
    for hook in hooks {
        assert_eq!(hook["verified"], true, "{hook}");
    }
    let events: Vec<String> = hooks
        .iter()
        .map(|h| format!("{} {}", h["event"].as_str().unwrap(), h["participant"].as_str().unwrap_or("")))
        .collect();
    let position =
        |e: &str| events.iter().position(|x| x.trim() == e).unwrap_or_else(|| panic!("no {e} in {events:?}"));
    assert_eq!(position("room_started"), 0, "{events:?}");
    assert!(position("participant_joined alice") < position("track_published alice"), "{events:?}");
    assert!(position("participant_joined bob") < position("participant_left bob"), "{events:?}");
    assert_eq!(events.last().map(String::as_str), Some("room_finished "), "{events:?}");
}

/// LiveKit's Go server SDK (and `lk`) call RoomService in protobuf, not JSON: the same calls must work
/// there, and a malformed body gets Twirp's JSON error.
#[tokio::test]
async fn room_service_speaks_protobuf() {
    use livekit_api::access_token::{AccessToken, VideoGrants};
    use livekit_protocol as proto;
    use prost::Message as _;

    let server = common::server().await;
    let admin = AccessToken::with_api_key(API_KEY, API_SECRET)
        .with_grants(VideoGrants { room_create: true, room_list: true, ..Default::default() })
        .to_jwt()
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let http = reqwest::Client::builder().tls_backend_preconfigured(tls).build().unwrap();
    let call = |method: &str, body: Vec<u8>| {
        http.post(format!("http://{}/twirp/livekit.RoomService/{method}", server.addr()))
            .bearer_auth(&admin)
            .header("content-type", "application/protobuf")
            .body(body)
            .send()
    };
    let create = proto::CreateRoomRequest { name: "proto".into(), max_participants: 7, ..Default::default() };
    let response = call("CreateRoom", create.encode_to_vec()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/protobuf");
    let room = proto::Room::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!((room.name.as_str(), room.max_participants), ("proto", 7));
    assert!(room.sid.starts_with("RM_"));

    let list = proto::ListRoomsRequest { names: vec!["proto".into()] };
    let response = call("ListRooms", list.encode_to_vec()).await.unwrap();
    let rooms = proto::ListRoomsResponse::decode(response.bytes().await.unwrap()).unwrap().rooms;
    assert_eq!(rooms.iter().map(|r| r.sid.as_str()).collect::<Vec<_>>(), [room.sid.as_str()]);

    let response = call("ListRooms", vec![0xff, 0xff, 0xff]).await.unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(error["code"], "malformed", "{error}");
}
