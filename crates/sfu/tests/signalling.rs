//! The signalling WebSocket against a real client connection: join, see the others, ping/pong, leave,
//! refused tokens with LiveKit's statuses, and garbage that closes only the sender's connection.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
use futures_util::{SinkExt, StreamExt};
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as In;
use proto::signal_response::Message as Out;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn token(identity: &str, room: &str, secret: &str) -> String {
    AccessToken::with_api_key("devkey", secret)
        .with_identity(identity)
        .with_name(&format!("{identity} (test)"))
        .with_grants(VideoGrants { room_join: true, room: room.into(), ..Default::default() })
        .to_jwt()
        .unwrap()
}

async fn server() -> SfuServer {
    SfuServer::start(ServerConfig::from_args("127.0.0.1:0", "devkey:secret").unwrap()).await.unwrap()
}

async fn connect(server: &SfuServer, jwt: &str) -> Socket {
    let url = format!("{}/rtc?access_token={jwt}&protocol=16&auto_subscribe=1", server.url());
    connect_async(url).await.unwrap().0
}

/// The next signalling message, skipping media negotiation (the subscriber offer every join gets and ICE
/// candidates): these tests have no peer connection; tests/sdk_peers.rs covers media.
async fn next(socket: &mut Socket) -> Out {
    loop {
        let frame =
            tokio::time::timeout(Duration::from_secs(5), socket.next()).await.unwrap().unwrap().unwrap();
        if let Message::Binary(data) = frame {
            match proto::SignalResponse::decode(&data[..]).unwrap().message.unwrap() {
                Out::Offer(_) | Out::Trickle(_) => continue,
                other => return other,
            }
        }
    }
}

async fn send(socket: &mut Socket, message: In) {
    let bytes = proto::SignalRequest { message: Some(message) }.encode_to_vec();
    socket.send(Message::Binary(bytes.into())).await.unwrap();
}

fn joined(message: Out) -> proto::JoinResponse {
    match message {
        Out::Join(j) => j,
        other => panic!("expected JoinResponse first, got {other:?}"),
    }
}

#[tokio::test]
async fn two_participants_see_each_other_and_the_leave() {
    let server = server().await;
    let mut alice = connect(&server, &token("alice", "salle", "secret")).await;
    let a = joined(next(&mut alice).await);
    let room = a.room.unwrap();
    let me = a.participant.unwrap();
    assert_eq!(
        (room.name.as_str(), me.identity.as_str(), me.name.as_str()),
        ("salle", "alice", "alice (test)")
    );
    assert!(room.sid.starts_with("RM_") && me.sid.starts_with("PA_"));
    assert!(a.other_participants.is_empty());
    assert!(a.ping_interval > 0 && a.ping_timeout > a.ping_interval);
    // The official SDKs parse these as a LiveKit version (the Rust SDK panics below 1.8).
    let version = a.server_info.as_ref().map(|i| i.version.clone()).unwrap_or_default();
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(parts.len() == 3 && (parts[0], parts[1]) >= (1, 8), "server version {version}");
    assert_eq!(a.server_version, version);

    let mut bob = connect(&server, &token("bob", "salle", "secret")).await;
    let b = joined(next(&mut bob).await);
    assert_eq!(b.room.unwrap().sid, room.sid, "same room");
    let others: Vec<_> = b.other_participants.iter().map(|p| p.identity.as_str()).collect();
    assert_eq!(others, ["alice"]);
    match next(&mut alice).await {
        Out::Update(u) => assert_eq!(u.participants[0].identity, "bob"),
        other => panic!("alice expected bob's arrival, got {other:?}"),
    }

    // Ping, both forms.
    send(&mut bob, In::Ping(1234)).await;
    assert_eq!(next(&mut bob).await, Out::Pong(1234));
    send(&mut bob, In::PingReq(proto::Ping { timestamp: 99, rtt: 0 })).await;
    match next(&mut bob).await {
        Out::PongResp(p) => assert_eq!(p.last_ping_timestamp, 99),
        other => panic!("expected PongResp, got {other:?}"),
    }

    send(&mut bob, In::Leave(proto::LeaveRequest::default())).await;
    match next(&mut alice).await {
        Out::Update(u) => {
            assert_eq!(u.participants[0].identity, "bob");
            assert_eq!(u.participants[0].state, proto::participant_info::State::Disconnected as i32);
        }
        other => panic!("alice expected bob's leave, got {other:?}"),
    }
    assert_eq!(server.rooms().identities("salle"), ["alice"]);
}

#[tokio::test]
async fn refused_joins_get_livekit_statuses_and_the_room_is_untouched() {
    let server = server().await;
    let mut alice = connect(&server, &token("alice", "salle", "secret")).await;
    joined(next(&mut alice).await);
    let no_join = AccessToken::with_api_key("devkey", "secret")
        .with_identity("eve")
        .with_grants(VideoGrants { room_list: true, ..Default::default() })
        .to_jwt()
        .unwrap();
    let cases = [
        (
            token("eve", "salle", "wrong"),
            401,
            "invalid authorization token: token signature is invalid: signature is invalid",
        ),
        (no_join, 401, "permissions denied"),
        (String::new(), 401, "no permissions to access the room"),
    ];
    for (jwt, status, reason) in cases {
        let (got_status, body) = refusal(format!("{}/rtc?access_token={jwt}", server.url())).await;
        assert_eq!(got_status, status);
        assert_eq!(body, reason, "LiveKit's refusal text, word for word");
    }
    // /rtc/validate says the same over plain HTTP, and /rtc/v1 is not served.
    let ok = get(&server, &format!("/rtc/validate?access_token={}", token("carol", "salle", "secret"))).await;
    assert!(ok.starts_with("HTTP/1.1 200") && ok.ends_with("success"), "{ok}");
    let bad = get(&server, &format!("/rtc/validate?access_token={}", token("carol", "salle", "nope"))).await;
    assert!(bad.starts_with("HTTP/1.1 401") && bad.contains("signature is invalid"), "{bad}");
    let v1 = get(&server, "/rtc/v1?access_token=x").await;
    assert!(v1.starts_with("HTTP/1.1 404"), "{v1}");
    // Alice never noticed: still alone and connected.
    assert_eq!(server.rooms().identities("salle"), ["alice"]);
    send(&mut alice, In::Ping(7)).await;
    assert_eq!(next(&mut alice).await, Out::Pong(7));
}

/// The HTTP status and body of a WebSocket upgrade the server refuses.
async fn refusal(url: String) -> (u16, String) {
    match connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).to_string();
            (response.status().as_u16(), body)
        }
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

/// A plain HTTP/1.1 GET; returns the whole response (status line, headers, body).
async fn get(server: &SfuServer, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn garbage_closes_only_the_sender() {
    let server = server().await;
    let mut alice = connect(&server, &token("alice", "salle", "secret")).await;
    joined(next(&mut alice).await);
    let mut mallory = connect(&server, &token("mallory", "salle", "secret")).await;
    joined(next(&mut mallory).await);
    let _ = next(&mut alice).await; // mallory's arrival
    mallory.send(Message::Binary(vec![0xff, 0xff, 0xff, 0x0f, 0x01].into())).await.unwrap();
    // Mallory's connection is closed with a reason.
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), mallory.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(closed.unwrap().reason.as_str(), "malformed signal message");
    // Alice sees mallory leave and keeps working.
    match next(&mut alice).await {
        Out::Update(u) => {
            assert_eq!(u.participants[0].state, proto::participant_info::State::Disconnected as i32)
        }
        other => panic!("expected mallory's departure, got {other:?}"),
    }
    send(&mut alice, In::Ping(8)).await;
    assert_eq!(next(&mut alice).await, Out::Pong(8));
}

#[tokio::test]
async fn a_second_connection_with_the_same_identity_replaces_the_first() {
    let server = server().await;
    let mut first = connect(&server, &token("alice", "salle", "secret")).await;
    joined(next(&mut first).await);
    let mut second = connect(&server, &token("alice", "salle", "secret")).await;
    joined(next(&mut second).await);
    match next(&mut first).await {
        Out::Leave(l) => assert_eq!(l.reason, proto::DisconnectReason::DuplicateIdentity as i32),
        other => panic!("expected a duplicate-identity leave, got {other:?}"),
    }
    assert_eq!(server.rooms().identities("salle"), ["alice"]);
}

#[tokio::test]
async fn a_full_room_refuses_the_next_join_and_keeps_its_members() {
    let server = server().await;
    server.rooms().create(&proto::CreateRoomRequest {
        name: "petite".into(),
        max_participants: 1,
        ..Default::default()
    });
    let mut alice = connect(&server, &token("alice", "petite", "secret")).await;
    joined(next(&mut alice).await);
    let url = format!("{}/rtc?access_token={}", server.url(), token("bob", "petite", "secret"));
    assert_eq!(refusal(url).await, (500, "connection closed by media".to_string()));
    assert_eq!(server.rooms().identities("petite"), ["alice"]);
    send(&mut alice, In::Ping(3)).await;
    assert_eq!(next(&mut alice).await, Out::Pong(3));
}

/// Messages until a `ParticipantUpdate` that names `identity`.
async fn update_naming(socket: &mut Socket, identity: &str) -> proto::ParticipantInfo {
    loop {
        if let Out::Update(u) = next(socket).await {
            if let Some(p) = u.participants.into_iter().find(|p| p.identity == identity) {
                return p;
            }
        }
    }
}

#[tokio::test]
async fn a_dropped_client_resumes_its_session_and_learns_what_it_missed() {
    let server = server().await;
    let jwt = token("alice", "salle", "secret");
    let mut first = connect(&server, &jwt).await;
    let sid = joined(next(&mut first).await).participant.unwrap().sid;
    // Alice's signalling connection drops without a leave: she stays in the room, waiting to resume.
    first.close(None).await.unwrap();
    drop(first);
    let mut bob = connect(&server, &token("bob", "salle", "secret")).await;
    let others = joined(next(&mut bob).await).other_participants;
    assert_eq!(others.iter().map(|p| p.identity.as_str()).collect::<Vec<_>>(), ["alice"]);
    // She resumes: same session (same sid), and she learns that bob came while she was away.
    let url = format!("{}/rtc?access_token={jwt}&protocol=16&reconnect=1&sid={sid}", server.url());
    let mut resumed = connect_async(url).await.unwrap().0;
    match next(&mut resumed).await {
        Out::Reconnect(_) => {}
        other => panic!("expected a ReconnectResponse, got {other:?}"),
    }
    assert_eq!(update_naming(&mut resumed, "bob").await.state, proto::participant_info::State::Joined as i32);
    send(&mut resumed, In::Ping(7)).await;
    loop {
        match next(&mut resumed).await {
            Out::Update(_) => continue,
            other => break assert_eq!(other, Out::Pong(7)),
        }
    }
    assert_eq!(server.rooms().identities("salle"), ["alice", "bob"]);
    assert_eq!(server.rooms().participant("salle", "alice").unwrap().sid, sid);
    // Bob never saw her leave. A resume for a session that does not exist gets a full reconnect.
    let url = format!("{}/rtc?access_token={jwt}&protocol=16&reconnect=1&sid=PA_unknown", server.url());
    let mut stale = connect_async(url).await.unwrap().0;
    match next(&mut stale).await {
        Out::Leave(leave) => {
            assert_eq!(leave.action(), proto::leave_request::Action::Reconnect);
            assert_eq!(leave.reason(), proto::DisconnectReason::StateMismatch);
        }
        other => panic!("expected a LeaveRequest, got {other:?}"),
    }
    send(&mut bob, In::Ping(8)).await;
    assert_eq!(next(&mut bob).await, Out::Pong(8));
}

#[tokio::test]
async fn a_client_that_does_not_resume_in_time_is_removed_and_must_rejoin() {
    let mut config = ServerConfig::from_args("127.0.0.1:0", "devkey:secret").unwrap();
    config.resume_window = Duration::from_secs(1);
    let server = SfuServer::start(config).await.unwrap();
    let mut bob = connect(&server, &token("bob", "salle", "secret")).await;
    joined(next(&mut bob).await);
    let jwt = token("alice", "salle", "secret");
    let mut alice = connect(&server, &jwt).await;
    let sid = joined(next(&mut alice).await).participant.unwrap().sid;
    assert_eq!(update_naming(&mut bob, "alice").await.state, proto::participant_info::State::Joined as i32);
    drop(alice);
    // Gone after the window (next() waits up to 5 s for each message).
    let gone = update_naming(&mut bob, "alice").await;
    assert_eq!(gone.state, proto::participant_info::State::Disconnected as i32);
    assert_eq!(server.rooms().identities("salle"), ["bob"]);
    let url = format!("{}/rtc?access_token={jwt}&protocol=16&reconnect=1&sid={sid}", server.url());
    let mut late = connect_async(url).await.unwrap().0;
    assert!(matches!(next(&mut late).await, Out::Leave(_)));
    // The full rejoin works and gets a new sid.
    let mut again = connect(&server, &jwt).await;
    let rejoined = joined(next(&mut again).await).participant.unwrap();
    assert_ne!(rejoined.sid, sid);
    assert_eq!(server.rooms().identities("salle"), ["bob", "alice"]);
}
