//! `colloque-cli bots`: synthetic participants for load and for testing a meeting by hand. Each bot
//! joins with its own identity (`bot-1`, `bot-2`, …), publishes the moving test pattern (H.264 simulcast)
//! and a tone of its own pitch, subscribes to nothing, and stays until `--duration` or Ctrl-C. One JSON
//! line per bot joined, failed or gone.
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use colloque_media::synthetic::{SyntheticAudio, SyntheticVideo, ToneGenerator};
use colloque_session::{ConnectOptions, Event, Session};

use crate::join::{mint, print};

/// Arguments of `bots`.
#[derive(Debug, Args)]
pub struct BotsArgs {
    /// LiveKit server address (ws://… or wss://…).
    #[arg(long)]
    url: String,
    /// API key to mint the bots' tokens with.
    #[arg(long)]
    api_key: String,
    /// API secret.
    #[arg(long, env = "COLLOQUE_API_SECRET", hide_env_values = true)]
    api_secret: String,
    /// Room to join.
    #[arg(long)]
    room: String,
    /// How many bots.
    #[arg(long, default_value_t = 3)]
    count: usize,
    /// Camera size, WIDTHxHEIGHT (simulcast layers follow from it).
    #[arg(long, default_value = "640x360")]
    size: String,
    /// Audio only.
    #[arg(long)]
    no_video: bool,
    /// Leave after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
}

/// Most bots one command starts (each encodes video on its own thread).
const MAX_BOTS: usize = 150;

fn size(spec: &str) -> Result<(u32, u32)> {
    let (w, h) = spec.split_once('x').with_context(|| format!("--size {spec:?}: WIDTHxHEIGHT"))?;
    Ok((w.parse().context("--size width")?, h.parse().context("--size height")?))
}

/// Runs `bots`.
pub fn run(args: &BotsArgs) -> Result<()> {
    if args.count == 0 || args.count > MAX_BOTS {
        bail!("--count must be between 1 and {MAX_BOTS}");
    }
    let (width, height) = size(&args.size)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut bots = Vec::new();
        for i in 1..=args.count {
            let identity = format!("bot-{i}");
            let token = mint(&args.api_key, &args.api_secret, &args.room, &identity, &format!("Bot {i}"))?;
            let mut options = ConnectOptions::new(&args.url, token);
            options.auto_subscribe = false;
            let (session, mut events) =
                Session::connect(options).await.with_context(|| format!("{identity} could not join"))?;
            // A pitch of its own, so that bots can be told apart by ear and in recordings.
            let tone = ToneGenerator::new(300.0 + 40.0 * i as f32, 0.2);
            session.publish_microphone(Box::new(SyntheticAudio::new(tone)))?;
            if !args.no_video {
                session.publish_camera(Box::new(SyntheticVideo::new(width, height, 30)?))?;
            }
            print(&serde_json::json!({ "event": "bot_joined", "identity": identity }));
            let name = identity.clone();
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    match event {
                        Event::PublishFailed { source, reason } => print(
                            &serde_json::json!({ "event": "bot_publish_failed", "identity": name, "source": source, "reason": reason }),
                        ),
                        Event::Disconnected { reason } => {
                            print(&serde_json::json!({ "event": "bot_left", "identity": name, "reason": reason }));
                        }
                        _ => {}
                    }
                }
            });
            bots.push(session);
        }
        match args.duration {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        for bot in bots {
            bot.leave().await;
        }
        Ok(())
    })
}
