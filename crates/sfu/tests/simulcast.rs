//! Simulcast from a browser: LiveKit's `livekit-client` in headless Chromium (fake camera, two peer
//! connections) publishes 1280x720 VP8 in three layers; an `@livekit/rtc-node` subscriber asks for the low
//! layer, then the high one, then the low one again, and the resolution it decodes follows; held on the low
//! layer, dynacast pauses the browser's upper layers, and asking for the high layer again brings them back.
//! The browser's fake microphone goes out as RED and is heard; at the end the browser loses its signalling
//! connection and resumes its session while its video keeps flowing (tests/peers/simulcast.mjs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{node_scenario, token, Grants};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Node test peers (and Chromium): run through `make test`"]
async fn a_subscriber_switches_simulcast_layers_of_a_browser_publisher() {
    let server = common::server().await;
    let publisher = token("browser", "simulcast", &Grants::default());
    let subscriber = token("native", "simulcast", &Grants { no_publish: true, ..Default::default() });
    let report = node_scenario(
        "simulcast.mjs",
        &["--url", &server.url(), "--token-pub", &publisher, "--token-sub", &subscriber],
    )
    .await;
    assert_eq!(report["publisher"]["connected"], true, "{}", report["publisher"]);
    let sub = &report["subscriber"];
    assert_eq!(sub["connected"], true, "{sub}");
    let steps = sub["steps"].as_array().unwrap();
    let asked: Vec<&str> = steps.iter().map(|s| s["asked"].as_str().unwrap()).collect();
    assert_eq!(asked, ["LOW", "HIGH", "LOW", "HIGH"], "{sub}");
    // LOW is the 320x180 layer. HIGH is the best layer the browser sends: 1280x720, or 640x360 while its
    // bandwidth estimate has not yet allowed the top layer.
    let size = |i: usize| (steps[i]["width"].as_u64().unwrap_or(0), steps[i]["height"].as_u64().unwrap_or(0));
    assert_eq!(size(0), (320, 180), "{sub}");
    assert!(matches!(size(1), (1280, 720) | (640, 360)), "{sub}");
    assert_eq!(size(2), (320, 180), "{sub}");
    assert!(matches!(size(3), (1280, 720) | (640, 360)), "{sub}");
    // While only LOW was wanted, the server's SubscribedQualityUpdate made the browser stop encoding its
    // h and f layers (their RTCRtpEncodingParameters inactive), keeping q.
    let stats = report["publisher"]["senderStats"].as_array().unwrap();
    let held =
        stats.iter().find(|s| s["label"] == "held LOW").unwrap_or_else(|| panic!("no held stats: {stats:?}"));
    let active = |rid: &str| {
        held["layers"].as_array().unwrap().iter().find(|l| l["rid"] == rid).map(|l| l["active"].clone())
    };
    assert_eq!(active("q"), Some(serde_json::json!(true)), "{held}");
    assert_eq!(active("h"), Some(serde_json::json!(false)), "{held}");
    assert_eq!(active("f"), Some(serde_json::json!(false)), "{held}");
    for step in steps {
        assert!(step["frames"].as_u64().unwrap_or(0) >= 5, "no frames after the switch: {step}");
        // Without VP8 picture-id renumbering, the decoder stalled for 2-3 s after a switch, until the next
        // keyframe; with it, frames keep coming at the layer's rate (15-20 fps, gaps of ~100 ms).
        let gap = step["maxGapMs"].as_f64().unwrap_or(f64::MAX);
        assert!(gap < 1500.0, "video froze for {gap} ms after switching to {}: {step}", step["asked"]);
    }
    // livekit-client publishes its microphone as RED when the server offers it; the SDK subscriber takes
    // RED too and decodes the fake microphone's beeps.
    let audio = &sub["audio"];
    assert_eq!(audio["mime"], "audio/red", "{audio}");
    assert!(audio["frames"].as_u64().unwrap_or(0) > 100, "{audio}");
    assert!(audio["peakRms"].as_f64().unwrap_or(0.0) > 0.01, "silence: {audio}");
    // The resume: same session, the subscriber never saw the browser leave, and its video kept coming.
    let publisher = &report["publisher"];
    let resume = &publisher["resume"];
    assert_eq!(resume["reconnected"], 1, "{publisher}");
    assert_eq!(resume["sidAfter"], resume["sidBefore"], "the browser rejoined instead of resuming: {resume}");
    assert_eq!(sub["sawLeaveOf"], serde_json::json!([]), "{sub}");
    assert!(
        sub["afterResume"]["frames"].as_u64().unwrap_or(0) >= 10,
        "video stopped after the resume: {sub}"
    );
    assert_eq!(publisher["errors"], serde_json::json!([]), "{publisher}");
}
