//! `colloque-cli join`: one meeting without a window. Prints one JSON line per event on stdout (joined,
//! participants joining and leaving, chat, attributes, speakers, tracks published, reconnecting, …),
//! publishes the camera, microphone and screen it is given, sends the chat messages it is given, leaves
//! after `--duration` or when the meeting ends for it.
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use colloque_media::audio::processing::VoiceProcessingConfig;
use colloque_media::audio::voice::{FarEnd, ProcessedMicrophone};
use colloque_media::capture::audio::{play_on_thread, Microphone};
use colloque_media::capture::camera::Camera;
use colloque_media::capture::screen::ScreenCapture;
use colloque_media::synthetic::{SyntheticAudio, SyntheticVideo, ToneGenerator};
use colloque_media::{AudioFrame, AudioSource, VideoSource};
use colloque_session::{ConnectOptions, Event, Session};
use livekit_api::access_token::{AccessToken, VideoGrants};

/// Arguments of `join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// LiveKit server address (ws://… or wss://…).
    #[arg(long)]
    url: String,
    /// Access token. Without it, one is minted from --api-key/--api-secret/--room/--identity.
    #[arg(long, env = "COLLOQUE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// API key to mint a token with (development servers).
    #[arg(long)]
    api_key: Option<String>,
    /// API secret to mint a token with.
    #[arg(long, env = "COLLOQUE_API_SECRET", hide_env_values = true)]
    api_secret: Option<String>,
    /// Room to join (minted token).
    #[arg(long)]
    room: Option<String>,
    /// Identity to join as (minted token).
    #[arg(long)]
    identity: Option<String>,
    /// Display name (minted token; default: the identity).
    #[arg(long)]
    name: Option<String>,
    /// Chat message to send once joined (repeatable, sent in order).
    #[arg(long)]
    chat: Vec<String>,
    /// Leave after this many seconds (default: stay until the meeting ends or Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Decode remote video and write one picture per track per second there, as PNG
    /// (`PARTICIPANT_SID-TRACK_SID-N.png`), and everything heard, mixed, as `audio.wav` (48 kHz mono).
    #[arg(long)]
    record_dir: Option<std::path::PathBuf>,
    /// Decode remote video and audio as a meeting window would, read the test pattern's stamps in the
    /// pictures, and print at the end a `measured` line: time to the first remote picture, pictures
    /// decoded, glass-to-glass latency p50/p95 (remote participants must publish the synthetic pattern).
    #[arg(long, conflicts_with = "record_dir")]
    measure: bool,
    /// Publish a camera: `synthetic` (the 720p test pattern), `default`, or a device index.
    #[arg(long)]
    camera: Option<String>,
    /// Publish a microphone: `synthetic` (a 440 Hz tone), `default`, or a device name. A device's sound goes
    /// through echo cancellation (of what `--speaker` plays), noise suppression and gain control.
    #[arg(long)]
    mic: Option<String>,
    /// Play everyone else, mixed, on a speaker: `default` or a device name.
    #[arg(long, conflicts_with_all = ["record_dir", "measure"])]
    speaker: Option<String>,
    /// Share a screen: the display's index (0 is the first).
    #[arg(long)]
    screen: Option<u32>,
}

/// Opens the camera `--camera` names.
fn camera(spec: &str) -> Result<Box<dyn VideoSource>> {
    Ok(match spec {
        "synthetic" => Box::new(SyntheticVideo::new(1280, 720, 30)?),
        "default" => Box::new(Camera::open(None).context("opening the default camera")?),
        index => {
            let index: u32 = index
                .parse()
                .with_context(|| format!("--camera {index:?}: synthetic, default or an index"))?;
            Box::new(Camera::open(Some(index)).with_context(|| format!("opening camera {index}"))?)
        }
    })
}

/// Opens the microphone `--mic` names; a device's sound is processed, with `far_end` as the echo reference.
fn microphone(spec: &str, far_end: &FarEnd) -> Result<Box<dyn AudioSource>> {
    let device: Box<dyn AudioSource> = match spec {
        "synthetic" => return Ok(Box::new(SyntheticAudio::new(ToneGenerator::new(440.0, 0.3)))),
        "default" => Box::new(Microphone::open(None).context("opening the default microphone")?),
        name => {
            Box::new(Microphone::open(Some(name)).with_context(|| format!("opening microphone {name:?}"))?)
        }
    };
    let processed = ProcessedMicrophone::new(device, far_end.clone(), VoiceProcessingConfig::default())
        .context("starting voice processing")?;
    Ok(Box::new(processed))
}

/// Plays the remote mix on the speaker `spec` names, on a thread of its own (an audio stream stays on the
/// thread that opened it), handing each block to `far_end` as it goes out. Fails if the device does not
/// open.
fn play(spec: &str, mut mix: tokio::sync::mpsc::Receiver<AudioFrame>, far_end: FarEnd) -> Result<()> {
    let device = (spec != "default").then(|| spec.to_owned());
    play_on_thread(device, move || mix.blocking_recv(), far_end)
        .with_context(|| format!("opening speaker {spec:?}"))
}

async fn measure(
    mut pictures: tokio::sync::mpsc::Receiver<colloque_session::RemoteVideo>,
    started: std::time::Instant,
) -> serde_json::Value {
    let mut first_picture_ms = None;
    let mut ages = Vec::new();
    let (mut count, mut unreadable) = (0u64, 0u64);
    let mut tracks = std::collections::HashSet::new();
    while let Some(video) = pictures.recv().await {
        let now = colloque_media::frame::Timestamp::now();
        count += 1;
        first_picture_ms.get_or_insert(started.elapsed().as_millis() as u64);
        tracks.insert(video.track_sid);
        match colloque_media::synthetic::read_stamp(&video.frame) {
            Some(stamp) => ages.push(stamp.age_ms(now)),
            None => unreadable += 1,
        }
    }
    ages.sort_unstable();
    let quantile = |q| crate::quantile::quantile(&ages, q);
    serde_json::json!({
        "event": "measured",
        "first_picture_ms": first_picture_ms,
        "pictures": count,
        "unreadable": unreadable,
        "tracks": tracks.len(),
        "latency_ms": { "p50": quantile(0.5), "p95": quantile(0.95) },
    })
}

/// Writes one picture as PNG.
fn write_png(path: &std::path::Path, frame: &colloque_media::frame::VideoFrame) -> Result<()> {
    let rgba = colloque_media::convert::i420_to_rgba(frame)?;
    let file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    let mut encoder = png::Encoder::new(file, frame.width(), frame.height());
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgba)?;
    Ok(())
}

/// Saves a picture per track per second into `dir`.
async fn record(
    dir: std::path::PathBuf,
    mut frames: tokio::sync::mpsc::Receiver<colloque_session::RemoteVideo>,
) {
    let mut last: std::collections::HashMap<String, (tokio::time::Instant, u32)> = Default::default();
    while let Some(video) = frames.recv().await {
        let now = tokio::time::Instant::now();
        let entry = last.entry(video.track_sid.clone()).or_insert((now - Duration::from_secs(1), 0));
        if now.duration_since(entry.0) < Duration::from_secs(1) {
            continue;
        }
        *entry = (now, entry.1 + 1);
        let path = dir.join(format!("{}-{}-{}.png", video.participant_sid, video.track_sid, entry.1));
        let frame = video.frame;
        let written = tokio::task::spawn_blocking(move || write_png(&path, &frame).map(|()| path)).await;
        match written {
            Ok(Ok(path)) => print(
                &serde_json::json!({ "event": "picture_saved", "track_sid": video.track_sid, "path": path }),
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "picture not saved"),
            Err(e) => tracing::warn!(error = %e, "picture not saved"),
        }
    }
}

/// Writes the mixed remote audio to `path` as it arrives; the file is finalised when the session ends.
async fn record_audio(
    path: std::path::PathBuf,
    mut blocks: tokio::sync::mpsc::Receiver<colloque_media::AudioFrame>,
) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: colloque_media::frame::SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = match hound::WavWriter::create(&path, spec) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "audio not recorded");
            return;
        }
    };
    while let Some(block) = blocks.recv().await {
        for sample in block.samples {
            if wav.write_sample((sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16).is_err() {
                tracing::warn!("audio recording stopped: write failed");
                return;
            }
        }
    }
    match wav.finalize() {
        Ok(()) => print(&serde_json::json!({ "event": "audio_saved", "path": path })),
        Err(e) => tracing::warn!(error = %e, "audio recording not finalised"),
    }
}

fn token(args: &JoinArgs) -> Result<String> {
    if let Some(token) = &args.token {
        return Ok(token.clone());
    }
    let (Some(key), Some(secret), Some(room), Some(identity)) =
        (&args.api_key, &args.api_secret, &args.room, &args.identity)
    else {
        bail!("give --token, or all of --api-key, --api-secret, --room and --identity");
    };
    mint(key, secret, room, identity, args.name.as_deref().unwrap_or(identity))
}

/// A join token signed with a development server's API key.
pub fn mint(key: &str, secret: &str, room: &str, identity: &str, name: &str) -> Result<String> {
    AccessToken::with_api_key(key, secret)
        .with_identity(identity)
        .with_name(name)
        .with_grants(VideoGrants { room_join: true, room: room.to_owned(), ..Default::default() })
        .to_jwt()
        .context("minting the access token")
}

pub fn print(line: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (piped into `head`) is not an error worth dying for.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs `join`.
pub fn run(args: &JoinArgs) -> Result<()> {
    let token = token(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut options = ConnectOptions::new(&args.url, token);
        let mut recording_audio = None;
        if let Some(dir) = &args.record_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let (tx, rx) = tokio::sync::mpsc::channel(8);
            options.video = Some(tx);
            tokio::spawn(record(dir.clone(), rx));
            let (tx, rx) = tokio::sync::mpsc::channel(50);
            options.audio = Some(tx);
            recording_audio = Some(tokio::spawn(record_audio(dir.join("audio.wav"), rx)));
        }
        // Devices open before joining: a missing one is an error, not a silent meeting.
        let camera = args.camera.as_deref().map(camera).transpose()?;
        // What the speaker plays is the echo canceller's reference.
        let far_end = FarEnd::default();
        if let Some(spec) = &args.speaker {
            let (tx, rx) = tokio::sync::mpsc::channel(50);
            options.audio = Some(tx);
            play(spec, rx, far_end.clone())?;
        }
        let microphone = args.mic.as_deref().map(|spec| microphone(spec, &far_end)).transpose()?;
        let screen = args
            .screen
            .map(|display| {
                ScreenCapture::open(display, colloque_session::SCREEN_FPS as u32)
                    .with_context(|| format!("opening display {display}"))
            })
            .transpose()?;
        let started = std::time::Instant::now();
        let measuring = args.measure.then(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            options.video = Some(tx);
            let (audio_tx, mut audio_rx) = tokio::sync::mpsc::channel::<colloque_media::AudioFrame>(50);
            options.audio = Some(audio_tx);
            // Heard and thrown away: the mix is made as for a speaker.
            tokio::spawn(async move { while audio_rx.recv().await.is_some() {} });
            tokio::spawn(measure(rx, started))
        });
        let (session, mut events) = Session::connect(options).await?;
        if let Some(source) = camera {
            session.publish_camera(source)?;
        }
        if let Some(source) = microphone {
            session.publish_microphone(source)?;
        }
        if let Some(source) = screen {
            session.publish_screen(Box::new(source))?;
        }
        let deadline =
            args.duration.map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
        let mut to_send = args.chat.iter();
        let mut joined = false;
        let mut ended = false;
        while !ended {
            let next = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, events.recv()).await.ok(),
                    None => Some(events.recv().await),
                }
            };
            tokio::select! {
                got = next => match got {
                    None => break, // duration over
                    Some(None) => ended = true,
                    Some(Some(event)) => {
                        print(&serde_json::to_value(&event)?);
                        match event {
                            Event::Joined { .. } => joined = true,
                            Event::Disconnected { .. } => ended = true,
                            _ => {}
                        }
                    }
                },
                _ = tokio::signal::ctrl_c() => break,
            }
            if joined {
                for text in to_send.by_ref() {
                    let id = session.send_chat(text)?;
                    print(&serde_json::json!({ "event": "chat_sent", "id": id, "text": text }));
                }
            }
        }
        if !ended {
            session.leave().await;
            // The session's last event says how it ended.
            while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await {
                print(&serde_json::to_value(&event)?);
                if matches!(event, Event::Disconnected { .. }) {
                    break;
                }
            }
        }
        if let Some(measuring) = measuring {
            if let Ok(Ok(measured)) = tokio::time::timeout(Duration::from_secs(2), measuring).await {
                print(&measured);
            }
        }
        // The session is over and has let go of the audio: the WAV file is finalised.
        if let Some(recording) = recording_audio {
            let _ = tokio::time::timeout(Duration::from_secs(2), recording).await;
        }
        Ok(())
    })
}
