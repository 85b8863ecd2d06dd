//! `colloque-sfu`: the LiveKit-compatible server on its own.
//! `colloque-sfu --bind 127.0.0.1:7880 --keys devkey:secret` or `colloque-sfu --config sfu.toml`.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use colloque_sfu::config::{ServerConfig, DEFAULT_BIND};
use colloque_sfu::SfuServer;

#[derive(Debug, Parser)]
#[command(
    name = "colloque-sfu",
    version,
    about = "A LiveKit-protocol-compatible SFU for local meetings and tests"
)]
struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = DEFAULT_BIND)]
    bind: String,
    /// API keys as key:secret pairs, comma-separated (LiveKit's development convention: devkey:secret).
    #[arg(long, env = "COLLOQUE_SFU_KEYS", conflicts_with = "config")]
    keys: Option<String>,
    /// A TOML configuration file (`bind`, `[keys]`, `[webhook] urls = [...]`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Post webhooks (room_started, participant_joined, …) to this URL; repeatable.
    #[arg(long = "webhook", conflicts_with = "config")]
    webhooks: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let config = match (&args.config, &args.keys) {
        (Some(path), _) => ServerConfig::from_file(path)?,
        (None, Some(keys)) => {
            ServerConfig::from_args(&args.bind, keys)?.with_webhooks(args.webhooks, None)?
        }
        (None, None) => anyhow::bail!("give API keys with --keys key:secret or a --config file"),
    };
    let server = SfuServer::start(config).await.context("starting the server")?;
    println!("colloque-sfu listening on {}", server.url());
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    server.stop().await;
    Ok(())
}
