//! `colloque --bench-frames websocket|ipc [--bench-seconds N]`: the picture path into the web view under a
//! meeting's load — nine 640×360 tiles at 30 fps and one 1080p screen share at 15 fps — through one of the
//! two candidate transports: the loopback WebSocket ([`crate::frames`]) or Tauri IPC channels with raw
//! bodies. The window draws every picture it gets with WebGL2 and counts; at the end the app prints one JSON
//! line (`bench_frames`: pictures sent, received and drawn per video) and exits. `colloque-cli bench frames`
//! runs both and measures the CPU of the app and its web view.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use colloque_media::frame::{Timestamp, VideoFrame};
use colloque_media::synthetic::PatternGenerator;
use serde::{Deserialize, Serialize};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{AppHandle, State};

use crate::frames::{encode, FrameHub, FrameServer};

/// Pictures prepared per video before the run (drawing them would otherwise be what is measured).
const PREPARED: u64 = 30;

/// How pictures reach the web view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// The loopback WebSocket (latest picture per video; a slow reader skips pictures).
    Websocket,
    /// A Tauri IPC channel, one raw body per picture (every picture is delivered, in order).
    Ipc,
}

/// One video of the load.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct BenchVideo {
    /// Video id.
    pub id: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Pictures per second.
    pub fps: u32,
}

/// What the window is asked to do.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct BenchPlan {
    /// The transport under test.
    pub transport: Transport,
    /// Seconds of load.
    pub seconds: u32,
    /// The videos.
    pub videos: Vec<BenchVideo>,
}

/// What the window counted for one video.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct VideoCount {
    /// Video id.
    pub id: String,
    /// Pictures that reached the page.
    pub received: u32,
    /// Pictures drawn (at most one per display frame).
    pub drawn: u32,
}

/// Why the command line asked for something impossible.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// Not a transport.
    #[error("--bench-frames takes websocket or ipc, not {0:?}")]
    Transport(String),
    /// Not a duration.
    #[error("--bench-seconds takes a whole number of seconds from 1 to 600, not {0:?}")]
    Seconds(String),
}

impl BenchPlan {
    /// The plan the command line asks for, if it asks for one.
    pub fn from_args(args: &[String]) -> Result<Option<Self>, PlanError> {
        let value = |name: &str| crate::startup::flag(args, name);
        let Some(transport) = value("--bench-frames") else { return Ok(None) };
        let transport = match transport.as_str() {
            "websocket" | "ws" => Transport::Websocket,
            "ipc" => Transport::Ipc,
            other => return Err(PlanError::Transport(other.to_owned())),
        };
        let seconds = match value("--bench-seconds") {
            None => 10,
            Some(s) => s.parse().ok().filter(|s| (1..=600).contains(s)).ok_or(PlanError::Seconds(s))?,
        };
        let mut videos: Vec<BenchVideo> = (1..=9)
            .map(|i| BenchVideo { id: format!("bench-tile-{i}"), width: 640, height: 360, fps: 30 })
            .collect();
        videos.push(BenchVideo { id: "bench-screen".into(), width: 1920, height: 1080, fps: 15 });
        Ok(Some(Self { transport, seconds, videos }))
    }
}

/// Where the generated pictures go.
pub enum Sink {
    /// The picture server's hub (WebSocket candidate).
    Hub(FrameHub),
    /// An IPC channel (raw bodies).
    Channel(Channel<InvokeResponseBody>),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hub(_) => "Sink::Hub",
            Self::Channel(_) => "Sink::Channel",
        })
    }
}

/// Sends the plan's load into `sink` on a thread of its own until the plan's time is up or `stop` is set;
/// returns pictures sent per video.
pub fn run_load(plan: &BenchPlan, sink: Sink, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u32>> {
    let plan = plan.clone();
    std::thread::spawn(move || {
        // Prepared once: the load is the transport's, not the pattern's.
        let prepared: Vec<Vec<Arc<VideoFrame>>> = plan
            .videos
            .iter()
            .map(|v| match PatternGenerator::new(v.width, v.height) {
                Ok(pattern) => (0..PREPARED).map(|n| Arc::new(pattern.frame(n, Timestamp::now()))).collect(),
                Err(_) => Vec::new(),
            })
            .collect();
        let started = Instant::now();
        let end = started + Duration::from_secs(u64::from(plan.seconds));
        let mut sent = vec![0u32; plan.videos.len()];
        while Instant::now() < end && !stop.load(Ordering::Relaxed) {
            let elapsed = started.elapsed().as_secs_f64();
            for (index, video) in plan.videos.iter().enumerate() {
                let due = (elapsed * f64::from(video.fps)) as u32;
                while sent[index] < due {
                    let frames = &prepared[index];
                    let Some(frame) = frames.get(sent[index] as usize % frames.len().max(1)) else { break };
                    match &sink {
                        Sink::Hub(hub) => hub.publish(&video.id, frame.clone()),
                        Sink::Channel(channel) => {
                            if channel.send(InvokeResponseBody::Raw(encode(&video.id, frame))).is_err() {
                                return sent;
                            }
                        }
                    }
                    sent[index] += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        sent
    })
}

/// The run the command line asked for, if any, and its load once started.
#[derive(Debug, Default)]
pub struct BenchState {
    plan: Option<BenchPlan>,
    stop: Arc<AtomicBool>,
    load: std::sync::Mutex<Option<std::thread::JoinHandle<Vec<u32>>>>,
}

impl BenchState {
    /// A run of `plan` (none: the app as usual).
    pub fn new(plan: Option<BenchPlan>) -> Self {
        Self { plan, ..Self::default() }
    }

    fn start(&self, transport: Transport, sink: Sink) -> Result<(), String> {
        let plan = self.plan.as_ref().filter(|p| p.transport == transport).ok_or("no such benchmark run")?;
        let mut load = self.load.lock().map_err(|_| "benchmark state poisoned")?;
        if load.is_none() {
            *load = Some(run_load(plan, sink, self.stop.clone()));
            // What `colloque-cli bench frames` starts measuring from.
            println!("{}", serde_json::json!({ "event": "bench_frames_started", "transport": transport }));
        }
        Ok(())
    }
}

/// The benchmark run the window should do, if the app was started for one.
#[tauri::command]
#[specta::specta]
pub fn bench_plan(bench: State<'_, BenchState>) -> Option<BenchPlan> {
    bench.plan.clone()
}

/// Starts the load through the picture server.
#[tauri::command]
#[specta::specta]
pub fn bench_start_websocket(
    bench: State<'_, BenchState>,
    frames: State<'_, FrameServer>,
) -> Result<(), String> {
    bench.start(Transport::Websocket, Sink::Hub(frames.hub().clone()))
}

/// Starts the load through an IPC channel of raw bodies. Not in the typed bindings: a channel of raw
/// bytes has no TypeScript type to generate (the page reads `ArrayBuffer`s).
#[tauri::command]
pub fn bench_start_ipc(
    bench: State<'_, BenchState>,
    pictures: Channel<InvokeResponseBody>,
) -> Result<(), String> {
    bench.start(Transport::Ipc, Sink::Channel(pictures))
}

/// The commands outside the typed bindings (see [`bench_start_ipc`]).
pub fn raw_handler() -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![bench_start_ipc]
}

/// The window's counts: the result line is printed and the app exits.
#[tauri::command]
#[specta::specta]
pub fn bench_finished(app: AppHandle, bench: State<'_, BenchState>, counts: Vec<VideoCount>) {
    bench.stop.store(true, Ordering::Relaxed);
    let load = bench.load.lock().ok().and_then(|mut l| l.take());
    let sent = load.and_then(|l| l.join().ok()).unwrap_or_default();
    let plan = bench.plan.clone();
    let videos: Vec<serde_json::Value> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let video = plan.as_ref().and_then(|p| p.videos.iter().find(|v| v.id == c.id));
            serde_json::json!({
                "id": c.id,
                "width": video.map(|v| v.width),
                "height": video.map(|v| v.height),
                "sent": sent.get(i),
                "received": c.received,
                "drawn": c.drawn,
            })
        })
        .collect();
    let line = serde_json::json!({
        "event": "bench_frames",
        "transport": plan.as_ref().map(|p| p.transport),
        "seconds": plan.as_ref().map(|p| p.seconds),
        "videos": videos,
    });
    println!("{line}");
    app.exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::args;

    #[test]
    fn the_command_line_chooses_the_transport_and_the_length() {
        assert!(BenchPlan::from_args(&args("colloque")).unwrap().is_none());
        let plan =
            BenchPlan::from_args(&args("colloque --bench-frames ipc --bench-seconds 3")).unwrap().unwrap();
        assert_eq!((plan.transport, plan.seconds, plan.videos.len()), (Transport::Ipc, 3, 10));
        let pixels: u32 = plan.videos.iter().map(|v| v.width * v.height * v.fps).sum();
        assert_eq!(pixels, 9 * 640 * 360 * 30 + 1920 * 1080 * 15);
        assert_eq!(
            BenchPlan::from_args(&args("colloque --bench-frames carrier-pigeon")).unwrap_err(),
            PlanError::Transport("carrier-pigeon".into())
        );
        assert!(BenchPlan::from_args(&args("colloque --bench-frames ws --bench-seconds 0")).is_err());
        assert!(BenchPlan::from_args(&args("colloque --bench-frames ws --bench-seconds")).is_err());
    }

    #[test]
    fn the_load_goes_out_at_each_videos_rate() {
        let mut plan = BenchPlan::from_args(&args("x --bench-frames ws --bench-seconds 1")).unwrap().unwrap();
        plan.videos.truncate(2);
        plan.videos[1] = BenchVideo { id: "slow".into(), width: 64, height: 32, fps: 5 };
        let hub = FrameHub::default();
        let sent = run_load(&plan, Sink::Hub(hub), Arc::default()).join().unwrap();
        assert!((28..=30).contains(&sent[0]), "{sent:?}");
        assert!((4..=5).contains(&sent[1]), "{sent:?}");
    }
}
