//! Two native sessions in a meeting on Colloque's SFU (real signalling, real WebRTC data channels on
//! loopback): each sees the other arrive, chat goes both ways exactly once, an attribute set through the
//! server API (Visio's raised hand) reaches the other, a leave is seen with its reason, a refused token
//! says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use colloque_session::{ConnectOptions, Event, Events, Participant, Session, SessionError};
use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
use livekit_api::access_token::{AccessToken, VideoGrants};

use colloque_testkit::{API_KEY, API_SECRET as SECRET};

async fn server() -> SfuServer {
    SfuServer::start(ServerConfig::from_args("127.0.0.1:0", &colloque_testkit::keys()).unwrap())
        .await
        .unwrap()
}

/// A token signed with `secret` (a wrong one to be refused), named after the identity in capitals.
fn token(identity: &str, room: &str, secret: &str) -> String {
    AccessToken::with_api_key(API_KEY, secret)
        .with_identity(identity)
        .with_name(&identity.to_uppercase())
        .with_grants(VideoGrants { room_join: true, room: room.into(), ..Default::default() })
        .to_jwt()
        .unwrap()
}

/// The next event matching `pick`, skipping others; fails after 10 s.
async fn wait_for<T>(events: &mut Events, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("events ended while waiting for {what}"));
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}

/// Alice, who publishes, and Bob, who watches: his decoded pictures arrive on `frames`.
struct Watched {
    alice: Session,
    alice_events: Events,
    bob: Session,
    bob_events: Events,
    frames: tokio::sync::mpsc::Receiver<colloque_session::RemoteVideo>,
}

async fn watched(url: &str, room: &str, adaptive_stream: bool) -> Watched {
    let (alice, alice_events) =
        Session::connect(ConnectOptions::new(url, token("alice", room, SECRET))).await.unwrap();
    let (frames_tx, frames) = tokio::sync::mpsc::channel(64);
    let mut options = ConnectOptions::new(url, token("bob", room, SECRET));
    options.video = Some(frames_tx);
    options.adaptive_stream = adaptive_stream;
    let (bob, bob_events) = Session::connect(options).await.unwrap();
    Watched { alice, alice_events, bob, bob_events, frames }
}

/// The first event, which must be `Joined`: room name, this client, everyone already there.
async fn joined(events: &mut Events) -> (String, Participant, Vec<Participant>) {
    match events.recv().await.unwrap() {
        Event::Joined { room, local, participants } => (room, local, participants),
        other => panic!("expected Joined first, got {other:?}"),
    }
}

/// Like [`wait_for`], keeping the chat messages it skips in `chats`.
async fn wait_noting_chat<T>(
    events: &mut Events,
    chats: &mut Vec<String>,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    wait_for(events, what, |e| {
        if let Event::Chat { text, .. } = e {
            chats.push(text.clone());
        }
        pick(e)
    })
    .await
}

/// The pattern's frame counters in the next `want` pictures `pick` accepts (others, a layer switch in
/// progress or another track, are skipped); each must be readable. Fails after 15 s.
async fn counters(
    frames: &mut tokio::sync::mpsc::Receiver<colloque_session::RemoteVideo>,
    want: usize,
    what: &str,
    pick: impl Fn(&colloque_session::RemoteVideo) -> bool,
) -> Vec<u32> {
    let mut counters = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while counters.len() < want {
        let video = tokio::time::timeout_at(deadline, frames.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} pictures of {what} in 15 s", counters.len()))
            .unwrap();
        if pick(&video) {
            let stamp = colloque_media::synthetic::read_stamp(&video.frame)
                .unwrap_or_else(|| panic!("{what}: unreadable picture"));
            counters.push(stamp.counter);
        }
    }
    counters
}

/// Everything that arrives within `window`.
async fn drain(events: &mut Events, window: Duration) -> Vec<Event> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        out.push(event);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_native_clients_meet_chat_once_react_see_attributes_and_the_leave() {
    let server = server().await;
    let url = server.url();
    let (alice, mut alice_events) =
        Session::connect(ConnectOptions::new(&url, token("alice", "salle", SECRET))).await.unwrap();
    let (room, local, participants) = joined(&mut alice_events).await;
    assert_eq!((room.as_str(), local.identity.as_str(), local.name.as_str()), ("salle", "alice", "ALICE"));
    assert!(participants.is_empty());
    let (bob, mut bob_events) =
        Session::connect(ConnectOptions::new(&url, token("bob", "salle", SECRET))).await.unwrap();
    // Sent at once, before bob's data channel is open: queued, then delivered.
    bob.send_chat("me voilà").unwrap();
    let (_, _, participants) = joined(&mut bob_events).await;
    assert_eq!(participants.iter().map(|p| p.identity.as_str()).collect::<Vec<_>>(), ["alice"]);
    wait_for(&mut alice_events, "bob's arrival", |e| match e {
        Event::ParticipantJoined { participant } if participant.identity == "bob" => Some(()),
        _ => None,
    })
    .await;

    let early = wait_for(&mut alice_events, "bob's first chat", |e| match e {
        Event::Chat { from, text, .. } if from == "bob" => Some(text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(early, "me voilà");

    // Chat both ways; each message exactly once (it goes as a text stream and as a legacy packet).
    let id = alice.send_chat("bonjour Bob, ça va ?").unwrap();
    let (from, text, got_id) = wait_for(&mut bob_events, "alice's chat", |e| match e {
        Event::Chat { from, text, id, .. } => Some((from.clone(), text.clone(), id.clone())),
        _ => None,
    })
    .await;
    assert_eq!((from.as_str(), text.as_str(), got_id), ("alice", "bonjour Bob, ça va ?", id));
    bob.send_chat(&"très bien ".repeat(2000)).unwrap(); // 22 kB: more than one chunk
    let long = wait_for(&mut alice_events, "bob's chat", |e| match e {
        Event::Chat { from, text, .. } if from == "bob" => Some(text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(long, "très bien ".repeat(2000));

    // Visio raises a hand through the server API: bob sees alice's attribute.
    let mut raise = livekit_protocol::UpdateParticipantRequest {
        room: "salle".into(),
        identity: "alice".into(),
        ..Default::default()
    };
    raise.attributes.insert("handRaisedAt".into(), "2026-11-28T10:00:00.000Z".into());
    server.rooms().update_participant(&raise).unwrap();
    let changed = wait_for(&mut bob_events, "the raised hand", |e| match e {
        Event::ParticipantUpdated { participant, changed_attributes, .. }
            if participant.identity == "alice" =>
        {
            Some((changed_attributes.clone(), participant.attributes.get("handRaisedAt").cloned()))
        }
        _ => None,
    })
    .await;
    assert_eq!(changed, (vec!["handRaisedAt".to_string()], Some("2026-11-28T10:00:00.000Z".to_string())));

    // A reaction, in Visio's notification format; and the lobby's knock sent by the server API.
    alice.send_reaction("👏").unwrap();
    let reaction = wait_for(&mut bob_events, "alice's reaction", |e| match e {
        Event::Reaction { from, emoji } => Some((from.clone(), emoji.clone())),
        _ => None,
    })
    .await;
    assert_eq!(reaction, ("alice".to_string(), "👏".to_string()));
    server
        .rooms()
        .send_data(&livekit_protocol::SendDataRequest {
            room: "salle".into(),
            data: br#"{"type":"participantWaiting"}"#.to_vec(),
            kind: livekit_protocol::data_packet::Kind::Reliable as i32,
            ..Default::default()
        })
        .unwrap();
    let knock = wait_for(&mut bob_events, "the lobby notification", |e| match e {
        Event::Notification { kind, .. } => Some(kind.clone()),
        _ => None,
    })
    .await;
    assert_eq!(knock, "participantWaiting");

    // No second copy of any chat message or reaction turned up meanwhile.
    let later = drain(&mut bob_events, Duration::from_millis(500)).await;
    assert!(!later.iter().any(|e| matches!(e, Event::Chat { .. } | Event::Reaction { .. })), "{later:?}");

    alice.leave().await;
    let reason = wait_for(&mut bob_events, "alice's leave", |e| match e {
        Event::ParticipantLeft { participant, reason } if participant.identity == "alice" => {
            Some(reason.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(reason, "CLIENT_INITIATED");
    let end = wait_for(&mut alice_events, "alice's own end", |e| match e {
        Event::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(end, "CLIENT_INITIATED");
    bob.leave().await;
}

#[tokio::test]
async fn a_refused_token_and_a_bad_address_say_what_went_wrong() {
    let server = server().await;
    let refused = Session::connect(ConnectOptions::new(
        server.url(),
        token("eve", "salle", "wrong-secret-wrong-secret-wrong!"),
    ))
    .await;
    match refused {
        Err(SessionError::Refused { status, reason }) => {
            assert_eq!(status, 401);
            assert!(reason.contains("signature is invalid"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let bad = Session::connect(ConnectOptions::new("not a url", "x")).await;
    assert!(matches!(bad, Err(SessionError::Url(_))), "{bad:?}");
    let nobody =
        Session::connect(ConnectOptions::new("ws://127.0.0.1:9", token("eve", "salle", SECRET))).await;
    assert!(matches!(nobody, Err(SessionError::Unreachable(_))), "{nobody:?}");
}

/// The signalling connection is cut mid-meeting (a relay between client and server drops it): the session
/// resumes on a new connection (same participant, the other side never sees it leave), chat sent by the
/// other side meanwhile arrives once, and chat flows both ways afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_signalling_connection_is_resumed_without_losing_or_doubling_chat() {
    let server = server().await;
    let relay = colloque_testkit::TcpRelay::start(server.addr()).await;
    let (alice, mut alice_events) =
        Session::connect(ConnectOptions::new(relay.url(), token("alice", "reprise", SECRET))).await.unwrap();
    let alice_sid = joined(&mut alice_events).await.1.sid;
    let (bob, mut bob_events) =
        Session::connect(ConnectOptions::new(server.url(), token("bob", "reprise", SECRET))).await.unwrap();
    wait_for(&mut alice_events, "bob's arrival", |e| {
        matches!(e, Event::ParticipantJoined { .. }).then_some(())
    })
    .await;
    alice.send_chat("avant").unwrap();
    wait_for(&mut bob_events, "alice's first chat", |e| match e {
        Event::Chat { text, .. } if text == "avant" => Some(()),
        _ => None,
    })
    .await;

    relay.cut();
    wait_for(&mut alice_events, "reconnecting", |e| matches!(e, Event::Reconnecting).then_some(())).await;
    // Sent while alice's signalling is down: data channels do not depend on it.
    bob.send_chat("pendant").unwrap();
    // Data keeps flowing while the signalling is away: bob's chat may arrive before the resume completes.
    let mut seen = Vec::new();
    wait_noting_chat(&mut alice_events, &mut seen, "reconnected", |e| {
        matches!(e, Event::Reconnected).then_some(())
    })
    .await;
    assert!(relay.accepted() >= 2, "the resume went through a new connection");
    assert_eq!(server.rooms().participant("reprise", "alice").unwrap().sid, alice_sid, "same session");
    bob.send_chat("après").unwrap();
    alice.send_chat("de retour").unwrap();
    while seen.len() < 2 {
        let text = wait_for(&mut alice_events, "bob's chats", |e| match e {
            Event::Chat { from, text, .. } if from == "bob" => Some(text.clone()),
            _ => None,
        })
        .await;
        seen.push(text);
    }
    assert_eq!(seen, ["pendant", "après"]);
    wait_for(&mut bob_events, "alice's chat after the resume", |e| match e {
        Event::Chat { text, .. } if text == "de retour" => Some(()),
        _ => None,
    })
    .await;
    let later = drain(&mut alice_events, Duration::from_millis(500)).await;
    let later_bob = drain(&mut bob_events, Duration::from_millis(10)).await;
    assert!(!later.iter().any(|e| matches!(e, Event::Chat { .. })), "no second copies: {later:?}");
    assert!(
        !later_bob.iter().any(|e| matches!(e, Event::ParticipantLeft { .. })),
        "bob never saw alice leave: {later_bob:?}"
    );
    alice.leave().await;
    bob.leave().await;
}

/// Native to native: Alice publishes her camera (the synthetic pattern at 720p, three H.264 simulcast
/// layers). Bob decodes it; asking for a small then a large picture changes the layer he receives, and
/// every picture reads back as the pattern with its counter moving on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_camera_is_received_in_the_simulcast_layer_asked_for() {
    use colloque_media::synthetic::SyntheticVideo;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();

    let server = server().await;
    let url = server.url();
    let Watched { alice, mut alice_events, bob, mut bob_events, mut frames } =
        watched(&url, "layers", false).await;
    alice.publish_camera(Box::new(SyntheticVideo::new(1280, 720, 30).unwrap())).unwrap();
    let published = wait_for(&mut alice_events, "camera published", |e| match e {
        Event::TrackPublished { source, track_sid } if source == "camera" => Some(track_sid.clone()),
        _ => None,
    })
    .await;
    let (track, codec) = wait_for(&mut bob_events, "camera subscribed", |e| match e {
        Event::TrackSubscribed { participant, track_sid, codec, .. } if participant == "alice" => {
            Some((track_sid.clone(), codec.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(track, published);
    assert_eq!(codec.to_ascii_lowercase(), "video/h264");

    bob.show_video(&track, Some((320, 180))).unwrap();
    let small = counters(&mut frames, 10, "320-wide", |v| v.frame.width() == 320).await;
    bob.show_video(&track, Some((1280, 720))).unwrap();
    let large = counters(&mut frames, 10, "1280-wide", |v| v.frame.width() == 1280).await;
    for counters in [&small, &large] {
        assert!(counters.windows(2).all(|w| w[0] < w[1]), "counters advance: {counters:?}");
    }
    assert!(large[0] > small[small.len() - 1], "{small:?} then {large:?}");
    alice.leave().await;
    bob.leave().await;
}

/// Adaptive stream: a subscriber that shows nothing receives no pictures (the server pauses the video as
/// soon as it arrives), and pictures flow once the video is shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_adaptive_stream_a_video_flows_only_once_shown() {
    use colloque_media::synthetic::SyntheticVideo;
    let server = server().await;
    let url = server.url();
    let Watched { alice, alice_events: _alice_events, bob, mut bob_events, mut frames } =
        watched(&url, "adaptive", true).await;
    alice.publish_camera(Box::new(SyntheticVideo::new(640, 360, 30).unwrap())).unwrap();
    let track = wait_for(&mut bob_events, "camera subscribed", |e| match e {
        Event::TrackSubscribed { participant, track_sid, kind, .. }
            if participant == "alice" && kind == "video" =>
        {
            Some(track_sid.clone())
        }
        _ => None,
    })
    .await;
    // What arrived before the pause took effect, then nothing for 2 s.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while frames.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut while_hidden = 0;
    while frames.try_recv().is_ok() {
        while_hidden += 1;
    }
    assert!(while_hidden <= 2, "{while_hidden} pictures of a video nobody shows");
    bob.show_video(&track, Some((640, 360))).unwrap();
    let shown = counters(&mut frames, 10, "the shown video", |v| v.track_sid == track).await;
    assert!(shown.windows(2).all(|w| w[0] < w[1]), "counters advance: {shown:?}");
    alice.leave().await;
    bob.leave().await;
}

/// The server forgot alice while she was unreachable (away longer than its resume window): her resume is
/// refused, she joins the meeting again as a new participant and publishes her camera again, and the
/// meeting goes on. Bob sees her leave and come back and decodes her new camera track; chat sent by alice
/// while she was away arrives once, and chat flows both ways afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_server_forgot_joins_again_and_publishes_again() {
    use colloque_media::synthetic::SyntheticVideo;
    let mut config = ServerConfig::from_args("127.0.0.1:0", &colloque_testkit::keys()).unwrap();
    config.resume_window = Duration::from_millis(800);
    let server = SfuServer::start(config).await.unwrap();
    let relay = colloque_testkit::TcpRelay::start(server.addr()).await;
    let (alice, mut alice_events) =
        Session::connect(ConnectOptions::new(relay.url(), token("alice", "retour", SECRET))).await.unwrap();
    let first_sid = joined(&mut alice_events).await.1.sid;
    alice.publish_camera(Box::new(SyntheticVideo::new(640, 360, 30).unwrap())).unwrap();
    let first_track = wait_for(&mut alice_events, "camera published", |e| match e {
        Event::TrackPublished { source, track_sid } if source == "camera" => Some(track_sid.clone()),
        _ => None,
    })
    .await;
    let (frames_tx, mut frames) = tokio::sync::mpsc::channel(64);
    let mut options = ConnectOptions::new(server.url(), token("bob", "retour", SECRET));
    options.video = Some(frames_tx);
    let (bob, mut bob_events) = Session::connect(options).await.unwrap();

    counters(&mut frames, 5, &first_track, |v| v.track_sid == first_track).await;

    // Alice's network goes away for longer than the server waits for her.
    relay.refuse(true);
    relay.cut();
    wait_for(&mut alice_events, "reconnecting", |e| matches!(e, Event::Reconnecting).then_some(())).await;
    alice.send_chat("pendant la coupure").unwrap();
    let mut bob_chats = Vec::new();
    wait_noting_chat(&mut bob_events, &mut bob_chats, "alice gone", |e| match e {
        Event::ParticipantLeft { participant, .. } if participant.identity == "alice" => Some(()),
        _ => None,
    })
    .await;
    relay.refuse(false);

    let local = wait_for(&mut alice_events, "rejoined", |e| match e {
        Event::Rejoined { local } => Some(local.clone()),
        Event::Disconnected { reason } => panic!("gave up: {reason}"),
        _ => None,
    })
    .await;
    assert_ne!(local.sid, first_sid, "a new participant");
    assert_eq!(local.identity, "alice");
    wait_for(&mut alice_events, "reconnected", |e| matches!(e, Event::Reconnected).then_some(())).await;
    let second_track = wait_for(&mut alice_events, "camera published again", |e| match e {
        Event::TrackPublished { source, track_sid } if source == "camera" => Some(track_sid.clone()),
        _ => None,
    })
    .await;
    assert_ne!(second_track, first_track);
    wait_noting_chat(&mut bob_events, &mut bob_chats, "alice back", |e| match e {
        Event::ParticipantJoined { participant } if participant.sid == local.sid => Some(()),
        _ => None,
    })
    .await;
    let moving = counters(&mut frames, 10, &second_track, |v| v.track_sid == second_track).await;
    // (A picture may come twice when the server moves up a simulcast layer at a keyframe.)
    assert!(
        moving.windows(2).all(|w| w[0] <= w[1]) && moving[9] >= moving[0] + 5,
        "the pattern moves on: {moving:?}"
    );

    bob.send_chat("bon retour").unwrap();
    for event in drain(&mut bob_events, Duration::from_secs(2)).await {
        if let Event::Chat { text, .. } = event {
            bob_chats.push(text);
        }
    }
    assert_eq!(bob_chats, ["pendant la coupure"], "sent while away, received once");
    wait_for(&mut alice_events, "bob's chat", |e| match e {
        Event::Chat { text, .. } if text == "bon retour" => Some(()),
        _ => None,
    })
    .await;
    alice.leave().await;
    bob.leave().await;
}

/// A stopped screen share is gone for the others (the server unpublishes the track the renegotiation no
/// longer sends), and the camera beside it goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_screen_share_disappears_for_the_others_and_the_camera_goes_on() {
    use colloque_media::synthetic::SyntheticVideo;
    let server = server().await;
    let url = server.url();
    let Watched { alice, mut alice_events, bob, mut bob_events, mut frames } =
        watched(&url, "share", false).await;
    alice.publish_camera(Box::new(SyntheticVideo::new(640, 360, 30).unwrap())).unwrap();
    alice.publish_screen(Box::new(SyntheticVideo::new(1280, 720, 15).unwrap())).unwrap();
    let mut published = std::collections::HashMap::new();
    while published.len() < 2 {
        let (source, sid) = wait_for(&mut alice_events, "both videos published", |e| match e {
            Event::TrackPublished { source, track_sid } => Some((source.clone(), track_sid.clone())),
            _ => None,
        })
        .await;
        published.insert(source, sid);
    }
    let (camera, screen) = (published["camera"].clone(), published["screen_share"].clone());
    let mut subscribed = std::collections::HashSet::new();
    while subscribed.len() < 2 {
        let sid = wait_for(&mut bob_events, "alice's two videos", |e| match e {
            Event::TrackSubscribed { participant, track_sid, kind, .. }
                if participant == "alice" && kind == "video" =>
            {
                Some(track_sid.clone())
            }
            _ => None,
        })
        .await;
        subscribed.insert(sid);
    }
    assert!(subscribed.contains(&camera) && subscribed.contains(&screen), "{subscribed:?}");
    bob.show_video(&camera, Some((640, 360))).unwrap();
    bob.show_video(&screen, Some((1280, 720))).unwrap();
    counters(&mut frames, 5, "the screen", |v| v.track_sid == screen).await;

    alice.unpublish(colloque_session::Source::Screen).unwrap();
    wait_for(&mut bob_events, "alice without her screen", |e| match e {
        Event::ParticipantUpdated { participant, .. }
            if participant.identity == "alice"
                && participant.tracks.iter().any(|t| t.sid == camera)
                && !participant.tracks.iter().any(|t| t.sid == screen) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    while frames.try_recv().is_ok() {}
    let after = counters(&mut frames, 10, "the camera after the share", |v| v.track_sid == camera).await;
    // (A layer switch under load may repeat or skip a picture: what matters is that it goes on.)
    assert!(after.last() > after.first(), "the camera goes on: {after:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut late = 0;
    while let Ok(v) = frames.try_recv() {
        late += usize::from(v.track_sid == screen);
    }
    assert!(late <= 2, "{late} screen pictures arrived after the share stopped");
    drop(alice_events);
    alice.leave().await;
    bob.leave().await;
}
