//! The native session against LiveKit's own Node SDK (`@livekit/rtc-node`, tests/peers/chat_peer.mjs) on
//! Colloque's SFU: each sees the other, chat goes both ways exactly once, the SDK peer's leave is seen;
//! each decodes the other's video and the SDK hears the native microphone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use colloque_session::{ConnectOptions, Event, Session};
use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
use colloque_testkit::{node_scenario, token, Grants};

async fn server() -> SfuServer {
    SfuServer::start(ServerConfig::from_args("127.0.0.1:0", &colloque_testkit::keys()).unwrap())
        .await
        .unwrap()
}

/// Starts tests/peers/chat_peer.mjs as "node" in `room`: it waits for "native", sends `send`, stays until
/// `wait_for` arrives, publishing its picture in `publish` if given. Resolves to its report.
fn chat_peer(
    url: &str,
    room: &str,
    send: &'static str,
    wait_for: &'static str,
    publish: Option<&'static str>,
    extra: Vec<String>,
) -> tokio::task::JoinHandle<serde_json::Value> {
    // A peer that sends captions joins as what sends them in a meeting: an agent.
    let agent = extra.iter().any(|a| a == "--captions");
    let (url, node_token) = (url.to_owned(), token("node", room, &Grants { agent, ..Grants::default() }));
    tokio::spawn(async move {
        let mut args = vec![
            "--url",
            &url,
            "--token",
            &node_token,
            "--expect",
            "native",
            "--send",
            send,
            "--await",
            wait_for,
        ];
        if let Some(codec) = publish {
            args.extend(["--publish", codec]);
        }
        args.extend(extra.iter().map(String::as_str));
        node_scenario("chat_peer.mjs", &args).await
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers: run through `make test`"]
async fn native_and_sdk_peers_chat_both_ways_exactly_once() {
    let server = server().await;
    let url = server.url();
    let (session, mut events) =
        Session::connect(ConnectOptions::new(&url, token("native", "interop", &Grants::default())))
            .await
            .unwrap();
    let node = chat_peer(&url, "interop", "hello from node", "hello from native", None, Vec::new());

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

/// The quadrant colours of the SDK peer's picture (peer A of tests/peers/scenario.mjs): top-left,
/// top-right, bottom-left, bottom-right.
const QUADRANTS: [[f64; 3]; 4] = [[255., 0., 0.], [0., 255., 0.], [0., 0., 255.], [255., 255., 255.]];

/// Mean RGB of a 20×20 patch at the centre of each quadrant.
fn quadrants(frame: &colloque_media::frame::VideoFrame) -> Vec<[f64; 3]> {
    let rgba = colloque_media::convert::i420_to_rgba(frame).unwrap();
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    [(w / 4, h / 4), (3 * w / 4, h / 4), (w / 4, 3 * h / 4), (3 * w / 4, 3 * h / 4)]
        .iter()
        .map(|&(cx, cy)| {
            let mut sum = [0f64; 3];
            for y in cy - 10..cy + 10 {
                for x in cx - 10..cx + 10 {
                    for (c, s) in sum.iter_mut().enumerate() {
                        *s += f64::from(rgba[(y * w + x) * 4 + c]);
                    }
                }
            }
            sum.map(|s| s / 400.0)
        })
        .collect()
}

/// LiveKit's Node SDK publishes its picture in VP8, VP9 (what Visio's browsers send) and H.264: the native
/// client decodes each to the right size and colours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers: run through `make test`"]
async fn native_decodes_sdk_video_in_vp8_vp9_and_h264() {
    let server = server().await;
    for codec in ["vp8", "vp9", "h264"] {
        let url = server.url();
        let room = format!("video-{codec}");
        let (frames_tx, mut frames) = tokio::sync::mpsc::channel(16);
        let mut options = ConnectOptions::new(&url, token("native", &room, &Grants::default()));
        options.video = Some(frames_tx);
        let (session, mut events) = Session::connect(options).await.unwrap();
        let node = chat_peer(&url, &room, "hi", "seen", Some(codec), Vec::new());
        // The first pictures may be blurry (a keyframe at a low bitrate): judge one 1.5 s later.
        let mut first_at = None;
        let mut last = None;
        let mut subscribed = None;
        let mut first_frame = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while first_at.is_none_or(|t: tokio::time::Instant| t.elapsed() < Duration::from_millis(1500)) {
            tokio::select! {
                event = events.recv() => match event.expect("events ended") {
                    Event::TrackSubscribed { participant, kind, codec, .. } if kind == "video" => subscribed = Some((participant, codec)),
                    Event::FirstFrame { width, height, .. } => first_frame = Some((width, height)),
                    _ => {}
                },
                Some(video) = frames.recv() => {
                    first_at.get_or_insert_with(tokio::time::Instant::now);
                    last = Some(video);
                }
                _ = tokio::time::sleep_until(deadline) => panic!("{codec}: no pictures in 30 s"),
            }
        }
        session.send_chat("seen").unwrap();
        let report = node.await.unwrap();
        assert_eq!(report["errors"], serde_json::json!([]), "{codec}: {report}");
        let (from, mime) = subscribed.expect("no TrackSubscribed for the video");
        assert_eq!((from.as_str(), mime.to_ascii_lowercase()), ("node", format!("video/{codec}")));
        assert_eq!(first_frame, Some((640, 360)), "{codec}");
        let last = last.unwrap();
        assert_eq!((last.frame.width(), last.frame.height()), (640, 360));
        for (got, want) in quadrants(&last.frame).iter().zip(QUADRANTS) {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() <= 24.0, "{codec}: quadrant {got:?}, expected {want:?}");
            }
        }
        session.leave().await;
    }
}

/// A tile that is hidden asks for nothing: `show_video(None)` stops the SDK peer's video at the server,
/// showing it again brings it back (keyframe requested by the server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers: run through `make test`"]
async fn a_hidden_video_is_not_sent_and_comes_back_when_shown() {
    let server = server().await;
    let url = server.url();
    let (frames_tx, mut frames) = tokio::sync::mpsc::channel(64);
    let mut options = ConnectOptions::new(&url, token("native", "tiles", &Grants::default()));
    options.video = Some(frames_tx);
    let (session, mut events) = Session::connect(options).await.unwrap();
    let node = chat_peer(&url, "tiles", "hi", "done", Some("vp8"), Vec::new());
    let track = loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await.unwrap().unwrap() {
            Event::FirstFrame { track_sid, .. } => break track_sid,
            _ => continue,
        }
    };
    let count = |frames: &mut tokio::sync::mpsc::Receiver<colloque_session::RemoteVideo>| {
        let mut n = 0;
        while frames.try_recv().is_ok() {
            n += 1;
        }
        n
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(count(&mut frames) >= 5, "video flows while shown");
    session.show_video(&track, None).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await; // what was in flight
    count(&mut frames);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&mut frames), 0, "nothing arrives for a hidden tile");
    session.show_video(&track, Some((640, 360))).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(count(&mut frames) >= 5, "video is back once shown");
    session.send_chat("done").unwrap();
    let report = node.await.unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    session.leave().await;
}

/// The native client publishes its camera (H.264 simulcast from the synthetic pattern) and microphone
/// (a 440 Hz tone through Opus): LiveKit's Node SDK decodes the pictures, whose frame counters advance and
/// read back intact, at the size of the top layer, and hears the tone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers: run through `make test`"]
async fn the_sdk_sees_the_native_camera_and_hears_its_microphone() {
    use colloque_media::synthetic::{read_stamp, SyntheticAudio, SyntheticVideo, ToneGenerator};

    let server = server().await;
    let url = server.url();
    let (session, mut events) =
        Session::connect(ConnectOptions::new(&url, token("native", "publish", &Grants::default())))
            .await
            .unwrap();
    session.publish_camera(Box::new(SyntheticVideo::new(640, 360, 30).unwrap())).unwrap();
    session.publish_microphone(Box::new(SyntheticAudio::new(ToneGenerator::new(440.0, 0.5)))).unwrap();
    let dump = std::env::temp_dir().join(format!("colloque-publish-{}", std::process::id()));
    std::fs::create_dir_all(&dump).unwrap();
    let extra = vec!["--stay".into(), "5".into(), "--dump".into(), dump.display().to_string()];
    let node = chat_peer(&url, "publish", "hi", "seen", None, extra);

    let mut published = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event =
            tokio::time::timeout_at(deadline, events.recv()).await.expect("timed out").expect("events ended");
        match event {
            Event::TrackPublished { source, .. } => published.push(source),
            Event::PublishFailed { source, reason } => panic!("{source}: {reason}"),
            Event::ParticipantJoined { participant } if participant.identity == "node" => {
                session.send_chat("seen").unwrap();
                break;
            }
            _ => {}
        }
    }
    let report = node.await.unwrap();
    published.sort();
    assert_eq!(published, ["camera", "microphone"]);
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    let video = &report["video"];
    assert_eq!((video["width"].as_u64(), video["height"].as_u64()), (Some(640), Some(360)), "{report}");
    let audio = &report["audio"];
    let frequency = audio["frequency"].as_f64().unwrap_or_default();
    assert!((frequency - 440.0).abs() < 10.0, "heard {frequency} Hz: {report}");

    // The pattern's stamps read back from what the SDK decoded: the pictures are right and move on.
    let mut counters = Vec::new();
    for file in video["dumped"].as_array().unwrap() {
        let path = file.as_str().unwrap();
        let name = std::path::Path::new(path).file_stem().unwrap().to_string_lossy().into_owned();
        let (w, h) = name.rsplit('-').next().unwrap().split_once('x').unwrap();
        let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
        let frame = colloque_media::VideoFrame::from_i420(
            w,
            h,
            std::fs::read(path).unwrap(),
            colloque_media::Timestamp(0),
        )
        .unwrap();
        if let Some(stamp) = read_stamp(&frame) {
            counters.push(stamp.counter);
        }
    }
    let _ = std::fs::remove_dir_all(&dump);
    assert!(counters.len() >= 4, "readable pictures: {counters:?} of {}", video["dumped"]);
    assert!(counters.windows(2).all(|w| w[0] < w[1]), "frame counters advance: {counters:?}");
    session.leave().await;
}

/// The native client hears LiveKit's Node SDK: its 440 Hz tone comes out of the session's mixed audio
/// (jitter buffer, Opus decode, mixer) in 20 ms mono blocks, at the right pitch and a clear level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers: run through `make test`"]
async fn native_hears_the_sdk_microphone() {
    use colloque_media::synthetic::estimate_frequency;

    let server = server().await;
    let url = server.url();
    let (audio_tx, mut audio) = tokio::sync::mpsc::channel(256);
    let mut options = ConnectOptions::new(&url, token("native", "hear", &Grants::default()));
    options.audio = Some(audio_tx);
    let (session, mut events) = Session::connect(options).await.unwrap();
    let node = chat_peer(&url, "hear", "hi", "heard", Some("vp8"), Vec::new());
    loop {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap() {
            Event::TrackSubscribed { kind, codec, .. } if kind == "audio" => {
                assert_eq!(codec.to_ascii_lowercase(), "audio/opus");
                break;
            }
            _ => continue,
        }
    }
    // Let the jitter buffer fill and Opus settle, then listen for two seconds.
    let mut heard = Vec::new();
    let started = tokio::time::Instant::now();
    while heard.len() < 2 * 48_000 {
        let frame = tokio::time::timeout(Duration::from_secs(5), audio.recv()).await.unwrap().unwrap();
        assert_eq!((frame.channels, frame.samples.len()), (1, 960), "20 ms mono blocks");
        if started.elapsed() > Duration::from_secs(1) {
            heard.extend_from_slice(&frame.samples);
        }
    }
    session.send_chat("heard").unwrap();
    let report = node.await.unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    let rms = (heard.iter().map(|s| s * s).sum::<f32>() / heard.len() as f32).sqrt();
    let frequency = estimate_frequency(&heard, 48_000).unwrap_or_default();
    assert!((frequency - 440.0).abs() < 5.0, "heard {frequency} Hz");
    assert!(rms > 0.05, "rms {rms}");
    session.leave().await;
}

/// An SDK peer acting as a transcription agent for its own microphone: segment SG_1 as `lk.transcription`
/// text streams (interim, then final), SG_2 as a legacy transcription packet. The native client shows
/// each change once, with the speaker and the final flag, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers: run through `make test`"]
async fn captions_from_text_streams_and_legacy_packets_arrive_once_with_their_speaker() {
    let server = server().await;
    let url = server.url();
    let (session, mut events) =
        Session::connect(ConnectOptions::new(&url, token("native", "captions", &Grants::default())))
            .await
            .unwrap();
    let node = chat_peer(&url, "captions", "after captions", "done", Some("vp8"), vec!["--captions".into()]);
    let mut captions = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap();
        match event {
            Event::Caption { speaker, segment_id, text, is_final, .. } => {
                captions.push((speaker, segment_id, text, is_final))
            }
            // The chat message follows the captions on the same reliable channel.
            Event::Chat { text, .. } if text == "after captions" => break,
            _ => {}
        }
    }
    session.send_chat("done").unwrap();
    let report = node.await.unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    // A one-shot stream shows as interim when its chunk arrives, final with its trailer.
    let expected = [
        ("node", "SG_1", "bonjour", false),
        ("node", "SG_1", "bonjour à tous", false),
        ("node", "SG_1", "bonjour à tous", true),
        ("node", "SG_2", "deuxième phrase", true),
    ];
    let got: Vec<_> =
        captions.iter().map(|(s, id, t, f)| (s.as_str(), id.as_str(), t.as_str(), *f)).collect();
    assert_eq!(got, expected);
    session.leave().await;
}
