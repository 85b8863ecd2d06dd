//! `colloque-cli bots` against the local SFU: a native client sees the bots arrive, receives their
//! pictures (the pattern) and leave when their time is up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use colloque_session::{ConnectOptions, Event, Session};
use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
use colloque_testkit::{token, Grants, API_KEY, API_SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_join_publish_the_pattern_and_leave() {
    let server = SfuServer::start(ServerConfig::from_args("127.0.0.1:0", &colloque_testkit::keys()).unwrap())
        .await
        .unwrap();
    let url = server.url();
    let (frames_tx, mut frames) = tokio::sync::mpsc::channel(64);
    let mut options = ConnectOptions::new(&url, token("watcher", "load", &Grants::default()));
    options.video = Some(frames_tx);
    let (session, mut events) = Session::connect(options).await.unwrap();
    let bots = tokio::process::Command::new(env!("CARGO_BIN_EXE_colloque-cli"))
        .args(["bots", "--url", &url, "--api-key", API_KEY, "--room", "load", "--count", "2"])
        .args(["--size", "320x180", "--duration", "8"])
        .env("COLLOQUE_API_SECRET", API_SECRET)
        .output();
    let watch = async {
        let (mut joined, mut left, mut readable) = (Vec::new(), Vec::new(), 0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
        while left.len() < 2 {
            tokio::select! {
                event = events.recv() => match event.unwrap() {
                    Event::ParticipantJoined { participant } => joined.push(participant.identity),
                    Event::ParticipantLeft { participant, .. } => left.push(participant.identity),
                    _ => {}
                },
                Some(video) = frames.recv() => {
                    if colloque_media::synthetic::read_stamp(&video.frame).is_some() {
                        readable += 1;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        (joined, left, readable)
    };
    let (output, (mut joined, mut left, readable)) = tokio::join!(bots, watch);
    let output = output.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches("\"bot_joined\"").count(), 2, "{stdout}");
    joined.sort();
    left.sort();
    assert_eq!(joined, ["bot-1", "bot-2"]);
    assert_eq!(left, ["bot-1", "bot-2"]);
    assert!(readable >= 10, "{readable} readable pictures from the bots");
    session.leave().await;
}
