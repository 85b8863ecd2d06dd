//! The real app in a real window (WebKitGTK under Xvfb), driven through tauri-driver and WebKitWebDriver as
//! a user would: a local meeting with its synthetic participants (live pictures, a chat reply, captions),
//! and a meeting on a LiveKit server with another participant (a `colloque-session` peer) who sees this
//! user mute and whose mute this user sees. Screenshots go to `target/tmp/app-screenshots/`.
//!
//! Needs the test environment (`scripts/test-env.sh`: DISPLAY, PulseAudio) and `tauri-driver` on PATH or
//! in ~/.cargo/bin (`scripts/setup-tauri-driver.sh` installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use colloque_session::{ConnectOptions, Event, Session, Source};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// One app window at a time: the display, the microphone and the CPU are shared.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(45);

fn tauri_driver() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let installed = home.join(".cargo/bin/tauri-driver");
    if installed.exists() {
        installed
    } else {
        PathBuf::from("tauri-driver")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap()
}

/// tauri-driver and the app it starts, with a profile of their own (no name or settings left by another
/// run), ended when dropped.
struct Driver {
    process: Child,
    port: u16,
    profile: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("colloque-e2e-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Driver {
    fn start(name: &str) -> Self {
        let profile = tempdir::Dir::new(name);
        let port = free_port();
        let process = Command::new(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &free_port().to_string()])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .env("XDG_DATA_HOME", profile.0.join("data"))
            .env("XDG_CONFIG_HOME", profile.0.join("config"))
            .env("XDG_CACHE_HOME", profile.0.join("cache"))
            .env("COLLOQUE_LOG", "info,webrtc=warn,rtc=warn")
            .stdout(Stdio::null())
            // A group of its own: WebKitWebDriver and the app go with it.
            .process_group(0)
            .spawn()
            .expect("tauri-driver (scripts/setup-tauri-driver.sh installs it)");
        Self { process, port, profile }
    }

    async fn open_app(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("wry"));
        capabilities.insert("tauri:options".into(), json!({ "application": env!("CARGO_BIN_EXE_colloque") }));
        let url = format!("http://127.0.0.1:{}", self.port);
        // Several TLS back ends are linked (fantoccini's, the signalling's): say which one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let builder = ClientBuilder::rustls()
                .expect("TLS roots")
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match builder {
                Ok(client) => return client,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("waiting for the app window: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("the app window never came: {e}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.process.id())]).status();
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.process.id())]).status();
        let _ = self.process.wait();
    }
}

/// Runs `script` every 250 ms until `done` says yes; panics with `what` and the last value otherwise.
async fn wait_for_js(client: &Client, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        match client.execute(script, vec![]).await {
            Ok(value) if done(&value) => return value,
            Ok(value) => last = value,
            Err(e) => last = json!(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut last = last.to_string();
    last.truncate(400);
    screenshot(client, "timed-out").await;
    panic!("timed out waiting for {what}; last: {last}");
}

/// The element `css` selects, once it is there.
async fn element(client: &Client, css: &str) -> fantoccini::elements::Element {
    client.wait().at_most(WAIT).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"))
}

async fn click(client: &Client, css: &str) {
    let element = element(client, css).await;
    if let Err(e) = element.click().await {
        screenshot(client, "failed-click").await;
        panic!("click {css}: {e:?}");
    }
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let element = element(client, css).await;
    element.send_keys(text).await.unwrap_or_else(|e| panic!("typing into {css}: {e}"));
}

async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("app-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    match client.screenshot().await {
        Ok(png) => {
            let path = dir.join(format!("{name}.png"));
            std::fs::write(&path, png).unwrap();
            eprintln!("screenshot: {}", path.display());
        }
        Err(e) => eprintln!("no screenshot {name}: {e}"),
    }
}

/// A 32×18 sample of a video canvas: mean brightness (0–255), every pixel's brightness, pictures drawn.
const SAMPLE_CANVAS: &str = r#"
const c = document.querySelector(arguments[0]);
if (!c || !c.width) return null;
const t = document.createElement('canvas'); t.width = 32; t.height = 18;
const x = t.getContext('2d'); x.drawImage(c, 0, 0, 32, 18);
const d = x.getImageData(0, 0, 32, 18).data;
const px = []; let sum = 0;
for (let i = 0; i < d.length; i += 4) { const l = (d[i] + d[i + 1] + d[i + 2]) / 3; px.push(l); sum += l; }
return { mean: sum / px.length, px, drawn: Number(c.dataset.drawn || 0), width: c.width, height: c.height };
"#;

async fn sample(client: &Client, css: &str) -> Value {
    client.execute(SAMPLE_CANVAS, vec![json!(css)]).await.unwrap_or(Value::Null)
}

/// Waits until the video in `css` shows a picture that is not black; `Err` when it does not change.
async fn assert_live_video(client: &Client, css: &str) -> Result<(), String> {
    let first = wait_for_js(
        client,
        &format!("a picture in {css}"),
        &SAMPLE_CANVAS.replace("arguments[0]", &format!("{css:?}")),
        |v| v["drawn"].as_u64().unwrap_or(0) >= 5,
    )
    .await;
    // Not black: some of it is bright (a dark desktop with a window on it counts as a picture).
    let bright = first["px"].as_array().unwrap().iter().filter(|p| p.as_f64().unwrap() > 60.0).count();
    assert!(bright >= 5, "{css} is black: {bright} of 576 sample pixels are bright, mean {}", first["mean"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = sample(client, css).await;
    assert!(second["drawn"].as_u64().unwrap() > first["drawn"].as_u64().unwrap(), "{css} stopped drawing");
    let changed = first["px"]
        .as_array()
        .unwrap()
        .iter()
        .zip(second["px"].as_array().unwrap())
        .filter(|(a, b)| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() > 8.0)
        .count();
    if changed < 5 {
        return Err(format!("{css} shows a still picture ({changed} of 576 sample pixels changed)"));
    }
    Ok(())
}

/// A helper process (pacat, parec) killed when dropped.
struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Plays a 300 Hz tone into the virtual microphone (`vmic` records the sink `micfeed`) for `seconds`.
fn speak_into_microphone(seconds: f64) -> Helper {
    let pcm: Vec<u8> = (0..(48_000.0 * seconds) as usize)
        .flat_map(|i| {
            let s = 0.3 * (std::f64::consts::TAU * 300.0 * i as f64 / 48_000.0).sin();
            ((s * 32_767.0) as i16).to_le_bytes()
        })
        .collect();
    let mut child = Command::new("pacat")
        .args(["--device=micfeed", "--format=s16le", "--rate=48000", "--channels=1", "--latency-msec=150"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("pacat (scripts/test-env.sh)");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&pcm);
    });
    Helper(child)
}

/// Records what the speaker (`spk`) plays, as mono f32 at 48 kHz, until the helper is dropped.
fn record_speaker() -> (Helper, std::thread::JoinHandle<Vec<f32>>) {
    let mut child = Command::new("parec")
        .args(["--device=spk.monitor", "--format=s16le", "--rate=48000", "--channels=1", "--raw"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("parec (scripts/test-env.sh)");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0).collect()
    });
    (Helper(child), reader)
}

async fn choose(client: &Client, css: &str, value: &str) {
    let element = element(client, css).await;
    element.select_by_value(value).await.unwrap_or_else(|e| panic!("choosing {value} in {css}: {e}"));
}

fn meter_level() -> String {
    "return Number(document.querySelector('[role=meter]')?.getAttribute('aria-valuenow') ?? -1);".into()
}

fn count(css: &str) -> String {
    format!("return document.querySelectorAll({css:?}).length;")
}

fn text_of(css: &str) -> String {
    format!("return Array.from(document.querySelectorAll({css:?})).map(e => e.textContent).join('\\n');")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_meeting_shows_live_bots_answers_chat_shows_captions_and_leaves() {
    let _one = ONE_AT_A_TIME.lock().await;
    let driver = Driver::start("local");
    let client = driver.open_app().await;

    // Pre-join: this machine has no camera, and says so; the microphone's level follows what it hears.
    wait_for_js(&client, "no camera", &text_of("[data-none=camera]"), |v| {
        v == "Aucune caméra détectée" || v == "No camera found"
    })
    .await;
    let voice = speak_into_microphone(6.0);
    wait_for_js(&client, "the meter up", &meter_level(), |v| v.as_f64() > Some(50.0)).await;
    screenshot(&client, "local-1-prejoin").await;
    drop(voice);
    wait_for_js(&client, "the meter down", &meter_level(), |v| {
        v.as_f64().is_some_and(|l| (0.0..10.0).contains(&l))
    })
    .await;

    // The speaker test plays its tone on the speaker.
    let (recording, recorded) = record_speaker();
    tokio::time::sleep(Duration::from_millis(300)).await;
    click(&client, "[data-action=test-speaker]").await;
    wait_for_js(
        &client,
        "the test sound played",
        "return document.querySelector('[data-action=test-speaker]').disabled;",
        |v| v == false,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(recording);
    let heard = recorded.join().unwrap();
    let tone = colloque_media::synthetic::goertzel_power(&heard, colloque_app::devices::TEST_SOUND_HZ);
    let elsewhere = colloque_media::synthetic::goertzel_power(&heard, 1000.0);
    assert!(
        tone > 100.0 * elsewhere.max(1e-12) && tone > 1e-4,
        "the test tone: {tone} at 440 Hz, {elsewhere} at 1 kHz"
    );

    // Settings: English and the lowest receiving quality, kept in the user's configuration.
    click(&client, "[data-action=open-settings]").await;
    choose(&client, ".dialog select[name=language]", "en").await;
    choose(&client, ".dialog select[name=receive_quality]", "low").await;
    wait_for_js(&client, "the settings in English", &text_of("#settings-title"), |v| v == "Settings").await;
    click(&client, "[data-action=close-settings]").await;
    // Closed, and the focus back on the button that opened it (keys typed next go where they should).
    wait_for_js(
        &client,
        "the settings closed",
        "return !document.querySelector('.dialog') && document.activeElement?.dataset.action;",
        |v| v == "open-settings",
    )
    .await;
    let file = driver.profile.0.join("config/fr.colloque.desktop/settings.json");
    let kept: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        (kept["language"].as_str(), kept["receive_quality"].as_str()),
        (Some("en"), Some("low")),
        "{kept}"
    );

    type_into(&client, "input[name=name]", "Alice Testeuse").await;
    click(&client, "[data-action=start-local]").await;

    // Three tiles: this user and the two synthetic participants, whose pictures are live.
    wait_for_js(&client, "three tiles", &count("figure.tile"), |v| v == 3).await;
    for bot in ["bot-camille", "bot-louis"] {
        assert_live_video(&client, &format!("figure[data-identity={bot}] canvas")).await.unwrap();
    }
    screenshot(&client, "local-2-tiles").await;

    // A reaction shows with this user's name (recorded as it appears: it fades after a few seconds).
    client
        .execute(
            "window.seenReactions = []; new MutationObserver(() => document.querySelectorAll('.reactions li')\
             .forEach(li => window.seenReactions.push(li.dataset.reaction + ' ' + li.textContent)))\
             .observe(document.body, { subtree: true, childList: true });",
            vec![],
        )
        .await
        .unwrap();
    click(&client, "[data-control=reactions]").await;
    click(&client, ".reaction-bar [data-reaction='👏']").await;
    wait_for_js(&client, "the reaction", "return window.seenReactions.join('\\n');", |v| {
        v.as_str().is_some_and(|t| t.contains("👏") && t.contains("Alice Testeuse"))
    })
    .await;

    // No camera on this machine: turning it on says so and offers the device settings.
    click(&client, "[data-control=camera]").await;
    wait_for_js(
        &client,
        "the camera's notice",
        &count("[data-notice=camera] [data-action=device-settings]"),
        |v| v == 1,
    )
    .await;
    click(&client, "[data-notice=camera] [data-action=device-settings]").await;
    wait_for_js(&client, "the settings", &count(".dialog.settings [data-none=camera]"), |v| v == 1).await;
    click(&client, "[data-action=close-settings]").await;
    wait_for_js(&client, "the settings closed", &count(".dialog"), |v| v == 0).await;

    // Speaker view, then Louis pinned large (live), then back to the grid.
    click(&client, "[data-control=layout]").await;
    wait_for_js(&client, "the speaker view", &count("[data-layout=speaker] .featured figure.tile"), |v| {
        v == 1
    })
    .await;
    click(&client, "figure[data-identity=bot-louis] [data-action=pin]").await;
    assert_live_video(&client, ".featured figure[data-identity=bot-louis] canvas").await.unwrap();
    screenshot(&client, "local-2b-pinned").await;
    // A window too narrow for the strip's two others (the narrowest allowed, the chat open): it pages, one
    // at a time.
    let (width, height) = client.get_window_size().await.unwrap();
    client.set_window_size(720, height as u32).await.unwrap();
    click(&client, "[data-control=chat]").await;
    // "who,is,shown Page n / m"
    let strip = "return [...document.querySelectorAll('[data-layout=speaker] .strip figure.tile')].map(f => f.dataset.identity).join(',') + ' ' + document.querySelector('.strip .pager span')?.textContent";
    let shown = |v: &Value| v.as_str().and_then(|s| s.split(' ').next()).map(str::to_owned);
    let first = wait_for_js(&client, "the strip paged", strip, |v| {
        v.as_str().is_some_and(|s| s.ends_with("1 / 2"))
            && shown(v).is_some_and(|who| !who.is_empty() && !who.contains(','))
    })
    .await;
    screenshot(&client, "local-2c-strip-paged").await;
    click(&client, ".strip .pager button:last-child").await;
    wait_for_js(&client, "the strip's second page", strip, |v| {
        v.as_str().is_some_and(|s| s.ends_with("2 / 2"))
            && shown(v).is_some_and(|who| !who.is_empty())
            && shown(v) != shown(&first)
    })
    .await;
    click(&client, "[data-control=chat]").await;
    client.set_window_size(width as u32, height as u32).await.unwrap();
    wait_for_js(&client, "the strip whole again", &count(".strip .pager"), |v| v == 0).await;
    click(&client, ".featured figure[data-identity=bot-louis] [data-action=pin]").await;
    click(&client, "[data-control=layout]").await;
    wait_for_js(&client, "the grid again", &count("[data-layout=grid] figure.tile"), |v| v == 3).await;

    // Chat: the message goes out, the bot's reply comes back, once.
    click(&client, "[data-control=chat]").await;
    type_into(&client, ".compose input", "Bonjour les robots").await;
    click(&client, ".compose button[type=submit]").await;
    let messages = wait_for_js(&client, "the bot's reply", &text_of(".messages li"), |v| {
        v.as_str().is_some_and(|t| t.contains("Bien reçu : « Bonjour les robots »"))
    })
    .await;
    assert_eq!(messages.as_str().unwrap().matches("Bien reçu").count(), 1, "{messages}");
    let mine = client.execute(&text_of(".messages li.mine p"), vec![]).await.unwrap();
    assert_eq!(mine, json!("Bonjour les robots"), "this user's own message, shown once");
    screenshot(&client, "local-3-chat").await;

    // Captions: off, then on again, and the scripted caption is read with its speaker's name.
    click(&client, "[data-control=captions]").await;
    wait_for_js(&client, "captions hidden", &count(".captions"), |v| v == 0).await;
    click(&client, "[data-control=captions]").await;
    let caption = wait_for_js(&client, "a final caption", &text_of(".caption.final"), |v| {
        v.as_str().is_some_and(|t| !t.is_empty())
    })
    .await;
    let caption = caption.as_str().unwrap();
    assert!(caption.contains("Camille Martin"), "the speaker is named: {caption}");
    assert!(
        colloque_app::local_meeting::SCRIPT.iter().any(|line| caption.contains(line)),
        "a scripted line: {caption}"
    );
    screenshot(&client, "local-4-captions").await;

    // Share the (Xvfb) screen: the picker shows a thumbnail of it, the stage its live preview.
    click(&client, "[data-control=screen]").await;
    let thumbnail = SAMPLE_CANVAS.replace("arguments[0]", "\".screens button[data-screen='0'] canvas\"");
    let thumbnail =
        wait_for_js(&client, "the display's thumbnail", &thumbnail, |v| v["drawn"].as_u64() >= Some(1)).await;
    assert!(thumbnail["mean"].as_f64().unwrap() > 10.0, "the thumbnail is black");
    click(&client, ".screens button[data-screen='0']").await;
    assert_live_video(&client, "[data-stage='local:screen'] canvas")
        .await
        .expect("the shared screen is live");
    screenshot(&client, "local-5-screen").await;
    click(&client, "[data-control=screen]").await;
    wait_for_js(&client, "the stage gone", &count("[data-stage]"), |v| v == 0).await;

    click(&client, "[data-control=leave]").await;
    wait_for_js(&client, "the meeting left", &count(".ended"), |v| v == 1).await;
    let _ = client.close().await;
}

/// Waits until Bob's session reports Alice as `done` says.
async fn bob_sees_alice(
    events: &mut colloque_session::Events,
    what: &str,
    done: impl Fn(&colloque_session::Participant) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("Bob never saw {what}"));
        match event {
            Some(Event::ParticipantUpdated { participant, .. })
                if participant.identity == "alice" && done(&participant) =>
            {
                return
            }
            Some(_) => {}
            None => panic!("Bob's session ended before he saw {what}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_livekit_server_a_bad_token_is_explained_and_mutes_are_seen_both_ways() {
    let _one = ONE_AT_A_TIME.lock().await;
    let config = colloque_sfu::config::ServerConfig::from_args(
        "127.0.0.1:0",
        "e2ekey:e2e-secret-e2e-secret-e2e-secret-e2e",
    )
    .unwrap();
    let server = colloque_sfu::SfuServer::start(config).await.unwrap();
    let token = |identity: &str, name: &str, secret: &str| {
        livekit_api::access_token::AccessToken::with_api_key("e2ekey", secret)
            .with_identity(identity)
            .with_name(name)
            .with_grants(livekit_api::access_token::VideoGrants {
                room_join: true,
                room: "salle".into(),
                can_update_own_metadata: Some(true),
                ..Default::default()
            })
            .to_jwt()
            .unwrap()
    };
    // Bob, another participant: a synthetic camera and microphone.
    let (pictures, mut bob_sees) = tokio::sync::mpsc::channel(64);
    let options = ConnectOptions {
        video: Some(pictures),
        ..ConnectOptions::new(server.url(), token("bob", "Bob Pair", "e2e-secret-e2e-secret-e2e-secret-e2e"))
    };
    let (bob, mut bob_events) = Session::connect(options).await.unwrap();
    bob.publish_camera(Box::new(colloque_media::synthetic::SyntheticVideo::new(640, 360, 30).unwrap()))
        .unwrap();
    bob.publish_microphone(Box::new(colloque_media::synthetic::SyntheticAudio::new(
        colloque_media::synthetic::ToneGenerator::new(440.0, 0.1),
    )))
    .unwrap();

    let driver = Driver::start("server");
    let client = driver.open_app().await;
    type_into(&client, "input[name=name]", "Alice").await;
    type_into(&client, "input[name=url]", &server.url()).await;

    // A token signed with another secret: refused, and said so.
    type_into(
        &client,
        "input[name=token]",
        &token("alice", "Alice", "not-the-servers-secret-not-the-servers"),
    )
    .await;
    click(&client, "form button[type=submit]").await;
    let error = wait_for_js(&client, "the refusal", &text_of(".error[data-error=refused]"), |v| {
        v.as_str().is_some_and(|t| !t.is_empty())
    })
    .await;
    eprintln!("refusal shown: {error}");
    screenshot(&client, "server-1-refused").await;

    let field = client.find(Locator::Css("input[name=token]")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(&token("alice", "Alice", "e2e-secret-e2e-secret-e2e-secret-e2e")).await.unwrap();
    click(&client, "form button[type=submit]").await;
    assert_live_video(&client, "figure[data-identity=bob] canvas").await.unwrap();
    screenshot(&client, "server-2-joined").await;

    // Alice mutes (the M shortcut): Bob sees her microphone muted.
    wait_for_js(
        &client,
        "the microphone on",
        "return document.querySelector('[data-control=microphone]')?.getAttribute('aria-pressed');",
        |v| v == "true",
    )
    .await;
    click(&client, "[data-control=microphone]").await;
    bob_sees_alice(&mut bob_events, "Alice muted", |alice| {
        alice.tracks.iter().any(|t| t.source == "microphone" && t.muted)
    })
    .await;

    // Alice raises her hand (H): Bob sees Visio's attribute, her own tile shows the hand.
    click(&client, "[data-control=hand]").await;
    bob_sees_alice(&mut bob_events, "the hand", |alice| {
        alice.attributes.get("handRaisedAt").is_some_and(|at| at.starts_with("20"))
    })
    .await;
    wait_for_js(
        &client,
        "Alice's hand badge",
        &count("figure[data-identity=alice] [data-badge=hand]"),
        |v| v == 1,
    )
    .await;

    // Alice reacts: Bob gets Visio's reaction, once.
    click(&client, "[data-control=reactions]").await;
    click(&client, ".reaction-bar [data-reaction='🎉']").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, bob_events.recv()).await.expect("Bob never got the reaction")
        {
            Some(Event::Reaction { from, emoji }) => {
                assert_eq!((from.as_str(), emoji.as_str()), ("alice", "🎉"));
                break;
            }
            Some(_) => {}
            None => panic!("Bob's session ended"),
        }
    }

    // Bob mutes: Alice's window shows the badge on his tile.
    wait_for_js(&client, "Bob unmuted", &count("figure[data-identity=bob] [data-badge=muted]"), |v| v == 0)
        .await;
    bob.set_muted(Source::Microphone, true).unwrap();
    wait_for_js(&client, "Bob's muted badge", &count("figure[data-identity=bob] [data-badge=muted]"), |v| {
        v == 1
    })
    .await;
    screenshot(&client, "server-3-muted").await;

    // Bob shares a screen: it takes the stage in Alice's window, live.
    bob.publish_screen(Box::new(colloque_media::synthetic::SyntheticVideo::new(1280, 720, 15).unwrap()))
        .unwrap();
    assert_live_video(&client, "section.stage canvas").await.unwrap();
    screenshot(&client, "server-4-bob-shares").await;
    // Bob stops sharing: the stage goes, his camera stays live.
    bob.unpublish(Source::Screen).unwrap();
    wait_for_js(&client, "Bob's share gone", &count("section.stage"), |v| v == 0).await;
    assert_live_video(&client, "figure[data-identity=bob] canvas").await.unwrap();

    // Alice shares her (Xvfb) screen: Bob decodes it at the display's size.
    while bob_sees.try_recv().is_ok() {}
    click(&client, "[data-control=screen]").await;
    click(&client, ".screens button[data-screen='0']").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let picture =
            tokio::time::timeout_at(deadline, bob_sees.recv()).await.expect("Bob never saw Alice's screen");
        let picture = picture.expect("Bob's session ended");
        if picture.frame.width() >= 1280 {
            assert_eq!((picture.frame.width(), picture.frame.height()), (1920, 1080), "the display's size");
            break;
        }
    }
    screenshot(&client, "server-5-alice-shares").await;

    click(&client, "[data-control=leave]").await;
    wait_for_js(&client, "the meeting left", &count(".ended"), |v| v == 1).await;
    let _ = client.close().await;
    bob.leave().await;
    server.stop().await;
}
