//! `colloque-cli join --speaker`: what the others say comes out of the speaker. Alice publishes the
//! synthetic 440 Hz microphone; Bob plays the meeting on the PulseAudio null sink `spk` that
//! `scripts/test-env.sh` sets up; the sink's monitor is recorded with `parec` and must carry the tone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use colloque_media::synthetic::estimate_frequency;
use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
use colloque_testkit::{API_KEY, API_SECRET};

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn join(url: &str, identity: &str, extra: &[&str]) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_colloque-cli"))
        .args([
            "join",
            "--url",
            url,
            "--api-key",
            API_KEY,
            "--api-secret",
            API_SECRET,
            "--room",
            "haut-parleur",
        ])
        .args(["--identity", identity, "--duration", "30"])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .expect("colloque-cli runs");
    Killed(child)
}

#[test]
#[ignore = "needs PulseAudio's virtual devices (scripts/test-env.sh): run through `make test`"]
fn the_meeting_is_heard_on_the_speaker() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(SfuServer::start(
            ServerConfig::from_args("127.0.0.1:0", &colloque_testkit::keys()).unwrap(),
        ))
        .unwrap();
    let url = server.url();
    let _alice = join(&url, "alice", &["--mic", "synthetic"]);
    let _bob = join(&url, "bob", &["--speaker", "spk"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.rooms().participants("haut-parleur").map(|p| p.len()).unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "alice and bob did not both join");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Media up, the jitter buffer filled.
    std::thread::sleep(Duration::from_secs(4));

    let mut parec = Killed(
        Command::new("parec")
            .args(["-d", "spk.monitor", "--raw", "--format=float32le", "--rate=48000", "--channels=1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("parec runs (pulseaudio-utils)"),
    );
    let mut stdout = parec.0.stdout.take().unwrap();
    let mut bytes = vec![0u8; 48_000 * 4 * 2];
    stdout.read_exact(&mut bytes).expect("two seconds from spk.monitor");
    let samples: Vec<f32> =
        bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
    let frequency = estimate_frequency(&samples, 48_000).unwrap_or_default();
    println!("the speaker played {frequency:.1} Hz at rms {rms:.3}");
    assert!(rms > 0.05, "the speaker is silent (rms {rms:.4})");
    assert!((frequency - 440.0).abs() < 5.0, "the speaker played {frequency} Hz, not alice's 440 Hz");
}
