//! A meeting over a bad network: Colloque's SFU advertises a userspace impairment relay
//! (`colloque_testkit::ImpairedNetwork`) in front of each of its media sockets, so every packet between
//! the native clients and the server is dropped, delayed or rate-limited as the test says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use colloque_media::synthetic::{
    estimate_frequency, read_stamp, SyntheticAudio, SyntheticVideo, ToneGenerator,
};
use colloque_session::{ConnectOptions, Event, Events, RemoteVideo, Session};
use colloque_sfu::config::ServerConfig;
use colloque_sfu::peer::AddressMap;
use colloque_sfu::SfuServer;
use colloque_testkit::{token, Grants, ImpairedNetwork, Impairment};
use tokio::sync::mpsc::Receiver;

async fn server(network: &ImpairedNetwork) -> SfuServer {
    let mut config = ServerConfig::from_args("127.0.0.1:0", &colloque_testkit::keys()).unwrap();
    config.advertise = Some(AddressMap(network.advertise()));
    SfuServer::start(config).await.unwrap()
}

/// Alice publishes a 440 Hz microphone and a 640×360 camera; Bob receives both.
struct Call {
    _server: SfuServer,
    alice: Session,
    alice_events: Events,
    bob: Session,
    bob_events: Events,
    video: Receiver<RemoteVideo>,
    audio: Receiver<colloque_media::AudioFrame>,
}

/// The calls of this file run one at a time: each is a timing-sensitive network simulation, and two at
/// once on a 2-core machine starve each other's encoders and relays.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn call(network: &ImpairedNetwork, room: &str) -> Call {
    let server = server(network).await;
    let url = server.url();
    let (alice, alice_events) =
        Session::connect(ConnectOptions::new(&url, token("alice", room, &Grants::default()))).await.unwrap();
    alice.publish_microphone(Box::new(SyntheticAudio::new(ToneGenerator::new(440.0, 0.5)))).unwrap();
    alice.publish_camera(Box::new(SyntheticVideo::new(640, 360, 30).unwrap())).unwrap();
    let (video_tx, video) = tokio::sync::mpsc::channel(256);
    let (audio_tx, audio) = tokio::sync::mpsc::channel(512);
    let mut options = ConnectOptions::new(&url, token("bob", room, &Grants::default()));
    options.video = Some(video_tx);
    options.audio = Some(audio_tx);
    let (bob, bob_events) = Session::connect(options).await.unwrap();
    Call { _server: server, alice, alice_events, bob, bob_events, video, audio }
}

/// The first event `pick` accepts within `within`.
async fn wait_for<T>(
    events: &mut Events,
    within: Duration,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let Some(found) = pick(&event) {
            return Some(found);
        }
    }
    None
}

/// Frame counters of Bob's readable pictures over `window` (unreadable ones count as `None`).
async fn pictures(video: &mut Receiver<RemoteVideo>, window: Duration) -> Vec<Option<u32>> {
    let deadline = tokio::time::Instant::now() + window;
    let mut out = Vec::new();
    while let Ok(Some(v)) = tokio::time::timeout_at(deadline, video.recv()).await {
        out.push(read_stamp(&v.frame).map(|s| s.counter));
    }
    out
}

/// Audio Bob hears over `window`, as 20 ms blocks.
async fn listen(audio: &mut Receiver<colloque_media::AudioFrame>, window: Duration) -> Vec<Vec<f32>> {
    while audio.try_recv().is_ok() {} // what queued before
    let deadline = tokio::time::Instant::now() + window;
    let mut blocks = Vec::new();
    while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, audio.recv()).await {
        blocks.push(frame.samples);
    }
    blocks
}

/// 5 % loss and 80 ms each way: the tone stays continuous (FEC and concealment fill the gaps) and the
/// picture keeps moving; after a second with every packet lost, video comes back by itself (the receiver
/// asks for a keyframe, the sender makes one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_stays_continuous_and_video_recovers_through_loss_delay_and_a_blackout() {
    let lossy = Impairment { loss: 0.05, delay: Duration::from_millis(80), ..Default::default() };
    let network = ImpairedNetwork::new(Impairment::default());
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut call = call(&network, "lossy").await;
    wait_for(&mut call.bob_events, Duration::from_secs(20), |e| {
        matches!(e, Event::FirstFrame { .. }).then_some(())
    })
    .await
    .expect("no picture");
    // The network turns bad mid-call; the jitter buffer settles on the delay, then Bob listens.
    network.set(lossy);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (blocks, before) = tokio::join!(
        listen(&mut call.audio, Duration::from_secs(3)),
        pictures(&mut call.video, Duration::from_secs(3))
    );
    let samples: Vec<f32> = blocks.concat();
    let frequency = estimate_frequency(&samples, 48_000).unwrap_or_default();
    assert!((frequency - 440.0).abs() < 5.0, "heard {frequency} Hz");
    let silent = blocks
        .iter()
        .filter(|b| (b.iter().map(|s| s * s).sum::<f32>() / b.len().max(1) as f32).sqrt() < 0.1)
        .count();
    assert!(blocks.len() >= 100, "{} blocks in 3 s", blocks.len());
    assert!(silent * 20 <= blocks.len(), "{silent} of {} blocks silent", blocks.len());
    let readable: Vec<u32> = before.iter().flatten().copied().collect();
    assert!(readable.len() >= 20, "{} readable pictures in 3 s of {}", readable.len(), before.len());

    // A blackout: nothing gets through for a second.
    network.set(Impairment { loss: 1.0, ..Default::default() });
    tokio::time::sleep(Duration::from_secs(1)).await;
    network.set(lossy);
    while call.video.try_recv().is_ok() {}
    let after: Vec<u32> =
        pictures(&mut call.video, Duration::from_secs(6)).await.into_iter().flatten().collect();
    let last_before = readable.iter().max().copied().unwrap_or_default();
    let fresh: Vec<u32> = after.into_iter().filter(|c| *c > last_before + 30).collect();
    assert!(fresh.len() >= 20, "video did not recover after the blackout: {fresh:?}");
    // Alice's encoders never failed, and congestion control kept at least her smallest layer on.
    while let Ok(event) = call.alice_events.try_recv() {
        match event {
            Event::PublishFailed { source, reason } => panic!("{source}: {reason}"),
            Event::SendBandwidth { video_layers, .. } => assert!(video_layers >= 1),
            _ => {}
        }
    }
    call.alice.leave().await;
    call.bob.leave().await;
}

/// The next grade of alice's connection among `wanted`, within 12 s.
async fn grade_of_alice(events: &mut Events, wanted: &[&str]) -> Option<(String, f32)> {
    wait_for(events, Duration::from_secs(12), |e| match e {
        Event::ConnectionQuality { participant, quality, score } if participant == "alice" => {
            wanted.contains(&quality.as_str()).then(|| (quality.clone(), *score))
        }
        _ => None,
    })
    .await
}

/// The server grades each connection from its packet loss: on a clean path alice's (the publisher's) is
/// excellent; at 10 % loss bob sees it turn poor; once the path is clean again, excellent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_quality_follows_the_packet_loss() {
    let network = ImpairedNetwork::new(Impairment::default());
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut call = call(&network, "quality").await;
    let clean = grade_of_alice(&mut call.bob_events, &["EXCELLENT"]).await;
    assert!(clean.is_some(), "alice's clean connection was never graded excellent");
    network.set(Impairment { loss: 0.10, ..Default::default() });
    let lossy = grade_of_alice(&mut call.bob_events, &["POOR"]).await;
    let (_, score) = lossy.expect("10 % loss never graded poor");
    assert!(score < 3.6, "score {score}");
    network.set(Impairment::default());
    let back = grade_of_alice(&mut call.bob_events, &["EXCELLENT"]).await;
    assert!(back.is_some(), "not excellent again once the path was clean");
    call.alice.leave().await;
    call.bob.leave().await;
}

/// The next `SendBandwidth` whose layer count `pick` accepts, within `within` seconds, and how long it took.
async fn layers(
    events: &mut Events,
    within: u64,
    pick: fn(usize) -> bool,
) -> (Option<(usize, u64)>, Duration) {
    let started = tokio::time::Instant::now();
    let found = wait_for(events, Duration::from_secs(within), |e| match e {
        Event::SendBandwidth { estimate_bps, video_layers } if pick(*video_layers) => {
            Some((*video_layers, *estimate_bps))
        }
        _ => None,
    })
    .await;
    (found, started.elapsed())
}

/// Widths of the pictures bob decodes within `window`.
async fn widths(video: &mut Receiver<RemoteVideo>, window: Duration) -> Vec<u32> {
    while video.try_recv().is_ok() {}
    let deadline = tokio::time::Instant::now() + window;
    let mut widths = Vec::new();
    while let Ok(Some(v)) = tokio::time::timeout_at(deadline, video.recv()).await {
        widths.push(v.frame.width());
    }
    widths
}

/// Congestion control: at a 300 kbit/s bottleneck alice's encoders turn the top simulcast layer off (bob,
/// who asked for the full picture, gets a smaller one); once the bottleneck is lifted the layers come back
/// by themselves and bob gets the full picture again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn congestion_control_turns_layers_off_at_a_bottleneck_and_back_on_after() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let network = ImpairedNetwork::new(Impairment::default());
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut call = call(&network, "bottleneck").await;
    let (all, _) = layers(&mut call.alice_events, 10, |n| n >= 3).await;
    let (full, _) = all.expect("alice's camera never ran its three layers");
    let before = widths(&mut call.video, Duration::from_secs(2)).await;
    assert!(before.contains(&640), "bob gets the full picture at first: {before:?}");

    network.set(Impairment {
        rate_bps: Some(300_000),
        queue: Duration::from_millis(200),
        ..Default::default()
    });
    let (narrowed, took) = layers(&mut call.alice_events, 30, |n| n < 3).await;
    let (fewer, estimate) = narrowed.expect("layers stayed on through a 300 kbit/s bottleneck");
    eprintln!("bottleneck: {full} → {fewer} layers after {took:?} (estimate {estimate} bit/s)");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = widths(&mut call.video, Duration::from_secs(2)).await;
    assert!(!during.is_empty(), "bob got no picture at all through the bottleneck");
    assert!(during.iter().all(|w| *w < 640), "the top layer still reached bob: {during:?}");

    network.set(Impairment::default());
    let (restored, took) = layers(&mut call.alice_events, 40, |n| n >= 3).await;
    let (back, estimate) = restored.expect("layers did not come back once the bottleneck was lifted");
    eprintln!("lifted: {back} layers after {took:?} (estimate {estimate} bit/s)");
    let after = widths(&mut call.video, Duration::from_secs(4)).await;
    assert!(after.contains(&640), "bob gets the full picture again: {after:?}");
    call.alice.leave().await;
    call.bob.leave().await;
}
