//! The SFU against LiveKit's own client stack: two `@livekit/rtc-node` peers (libwebrtc inside) join, each
//! publishes a tone and a coloured picture, and each must receive the other's: the right resolution and
//! colours after VP8 encode/decode, the right tone, chat once, data, attribute and metadata changes, and the
//! leave. The peers run in tests/peers/scenario.mjs (installed by `make test`: `npm ci` in tests/peers).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{node_scenario, token, Grants};
use serde_json::Value;

/// The colours each peer paints in its four quadrants (scenario.mjs), top-left, top-right, bottom-left,
/// bottom-right.
const A_QUADRANTS: [[f64; 3]; 4] = [[255., 0., 0.], [0., 255., 0.], [0., 0., 255.], [255., 255., 255.]];
const B_QUADRANTS: [[f64; 3]; 4] = [[255., 255., 0.], [0., 255., 255.], [255., 0., 255.], [0., 0., 0.]];

fn assert_picture(side: &str, report: &Value, expected: &[[f64; 3]; 4]) {
    let video = &report["video"];
    assert!(video.is_object(), "{side} received no video: {report}");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(640), Some(360)),
        "{side}: {video}"
    );
    assert!(video["frames"].as_u64().unwrap_or(0) >= 20, "{side}: too few frames: {video}");
    let quadrants = video["quadrants"].as_array().unwrap();
    for (got, want) in quadrants.iter().zip(expected) {
        let got: Vec<f64> = got.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 24.0, "{side}: quadrant {got:?}, expected {want:?}");
        }
    }
}

fn assert_tone(side: &str, report: &Value, hz: f64) {
    let audio = &report["audio"];
    assert!(audio.is_object(), "{side} received no audio: {report}");
    let frequency = audio["frequency"].as_f64().unwrap();
    assert!((frequency - hz).abs() <= 10.0, "{side}: tone at {frequency} Hz, expected {hz}: {audio}");
    // The peers send a sine at 0.3 of full scale: RMS 0.212. Opus keeps it within a few percent.
    let rms = audio["rms"].as_f64().unwrap();
    assert!((0.15..0.3).contains(&rms), "{side}: tone RMS {rms}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers (and Chromium): run through `make test`"]
async fn two_sdk_peers_exchange_media_chat_data_and_attributes() {
    let server = common::server().await;
    let grants = Grants { update_own_metadata: true, ..Default::default() };
    let a = token("A", "salle", &grants);
    let b = token("B", "salle", &grants);
    let report = node_scenario(
        "scenario.mjs",
        &["two-peers", "--url", &server.url(), "--token-a", &a, "--token-b", &b, "--seconds", "5"],
    )
    .await;
    let (ra, rb) = (&report["a"], &report["b"]);
    for (side, r) in [("A", ra), ("B", rb)] {
        assert_eq!(r["connected"], true, "{side} did not connect: {r}");
        assert_eq!(r["errors"].as_array().map(Vec::len), Some(0), "{side} errors: {r}");
    }
    assert_eq!(ra["remoteParticipants"], serde_json::json!(["B"]));
    assert_eq!(rb["remoteParticipants"], serde_json::json!(["A"]));
    // Each gets the other's picture and tone, not its own.
    assert_picture("A", ra, &B_QUADRANTS);
    assert_picture("B", rb, &A_QUADRANTS);
    assert_tone("A", ra, 660.0);
    assert_tone("B", rb, 440.0);
    // The server's answer asks for RED (libwebrtc then sends it), and both take it as such.
    assert_eq!(
        (ra["audio"]["mime"].as_str(), rb["audio"]["mime"].as_str()),
        (Some("audio/red"), Some("audio/red"))
    );
    // Chat on lk.chat and a raw data packet arrive once, stamped with the real sender.
    assert_eq!(rb["chat"], serde_json::json!([{"from": "A", "text": "hello from A"}]));
    let data = rb["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{data:?}");
    assert_eq!((data[0]["from"].as_str(), data[0]["text"].as_str()), (Some("A"), Some("raw from A")));
    assert_eq!(ra["chat"], serde_json::json!([]), "the sender does not get its own chat back");
    // Each one's tone makes it an active speaker for the other (audio-level extension → SpeakersChanged).
    assert!(ra["speakers"].as_array().unwrap().contains(&serde_json::json!("B")), "{}", ra["speakers"]);
    assert!(rb["speakers"].as_array().unwrap().contains(&serde_json::json!("A")), "{}", rb["speakers"]);
    // A's attribute and metadata changes reach B; A's leave is seen.
    assert_eq!(rb["attributes"], serde_json::json!({"hand": "up"}));
    assert_eq!(rb["metadata"], "meta-A");
    assert_eq!(rb["sawDisconnectOf"], serde_json::json!(["A"]));
    // Both left: nobody is in the room (it closes LiveKit's departure timeout later).
    for _ in 0..20 {
        if server.rooms().identities("salle").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(server.rooms().identities("salle").is_empty());
}

/// Visio's browsers publish VP9 (with a VP8 backup); OpenH264 publishes H.264. Both must pass through
/// untouched: A sends H.264, B sends VP9, and each decodes the other's picture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers (and Chromium): run through `make test`"]
async fn h264_and_vp9_pictures_are_forwarded() {
    let server = common::server().await;
    let grants = Grants { update_own_metadata: true, ..Default::default() };
    let a = token("A", "codecs", &grants);
    let b = token("B", "codecs", &grants);
    let report = node_scenario(
        "scenario.mjs",
        &[
            "two-peers",
            "--url",
            &server.url(),
            "--token-a",
            &a,
            "--token-b",
            &b,
            "--seconds",
            "4",
            "--codec-a",
            "h264",
            "--codec-b",
            "vp9",
        ],
    )
    .await;
    let (ra, rb) = (&report["a"], &report["b"]);
    assert_picture("A", ra, &B_QUADRANTS);
    assert_picture("B", rb, &A_QUADRANTS);
    let mime = |r: &Value| r["video"]["mime"].as_str().unwrap_or_default().to_ascii_lowercase();
    assert_eq!(mime(rb), "video/h264", "B received {}", rb["video"]);
    assert_eq!(mime(ra), "video/vp9", "A received {}", ra["video"]);
}

/// A's signalling connection drops mid-call (rtc-node's own simulation closes the socket): the SDK resumes
/// the same session instead of rejoining. B never sees A leave, chat sent to A while it is away arrives
/// once, A's chat afterwards arrives once, and video keeps flowing both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers (and Chromium): run through `make test`"]
async fn a_peer_that_loses_its_signalling_connection_resumes_its_session() {
    let server = common::server().await;
    let grants = Grants::default();
    let a = token("A", "reprise", &grants);
    let b = token("B", "reprise", &grants);
    let report = node_scenario(
        "scenario.mjs",
        &[
            "two-peers",
            "--url",
            &server.url(),
            "--token-a",
            &a,
            "--token-b",
            &b,
            "--seconds",
            "3",
            "--resume",
        ],
    )
    .await;
    let (ra, rb) = (&report["a"], &report["b"]);
    for (side, r) in [("A", ra), ("B", rb)] {
        assert_eq!(r["errors"].as_array().map(Vec::len), Some(0), "{side} errors: {r}");
    }
    let resume = &ra["resume"];
    assert_eq!((ra["reconnecting"].as_u64(), ra["reconnected"].as_u64()), (Some(1), Some(1)), "{ra}");
    assert_eq!(resume["sidAfter"], resume["sidBefore"], "A rejoined instead of resuming: {resume}");
    assert_eq!(resume["bSawALeave"], false, "{resume}");
    for side in ["a", "b"] {
        assert!(resume["framesAfter"][side].as_u64().unwrap_or(0) > 15, "{side}: video stalled: {resume}");
    }
    assert_eq!(ra["chat"], serde_json::json!([{"from": "B", "text": "to A while away"}]));
    let from_a: Vec<&str> =
        rb["chat"].as_array().unwrap().iter().filter_map(|c| c["text"].as_str()).collect();
    assert_eq!(from_a, ["hello from A", "from A after resume"]);
    assert_picture("B", rb, &A_QUADRANTS);
}
