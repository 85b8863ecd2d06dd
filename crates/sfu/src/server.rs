//! Starting the server: one call binds, serves in the background and returns the URL clients connect to.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::oneshot;

use crate::auth::KeyStore;
use crate::config::ServerConfig;
use crate::peer::PeerConfig;
use crate::room::Rooms;
use crate::signal::{self, AppState};
use crate::twirp;
use crate::webhook::Notifier;

/// Connection quality is graded every this many janitor ticks of 500 ms (3 s).
const QUALITY_TICKS: u64 = 6;

/// A running server. Dropping it (or [`SfuServer::stop`]) stops it.
#[derive(Debug)]
pub struct SfuServer {
    addr: SocketAddr,
    rooms: Rooms,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SfuServer {
    /// Binds `config.bind` and serves on the current tokio runtime.
    pub async fn start(config: ServerConfig) -> std::io::Result<Self> {
        let rooms = Rooms::with_webhooks(config.webhook_config().map(Notifier::start));
        let peer =
            PeerConfig { ips: media_ips(config.bind.ip()), red: true, advertise: config.advertise.clone() };
        let state = AppState {
            keys: KeyStore::new(config.keys),
            rooms: rooms.clone(),
            peer,
            resume_window: config.resume_window,
        };
        let app = Router::new()
            .route("/rtc", get(signal::rtc))
            .route("/rtc/validate", get(signal::validate))
            .route("/rtc/v1", get(signal::v1_not_found))
            .route("/rtc/v1/validate", get(signal::v1_not_found))
            .route("/twirp/livekit.RoomService/{method}", post(twirp::room_service))
            .layer(axum::extract::DefaultBodyLimit::max(twirp::MAX_BODY))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        // Twice a second: who speaks (LiveKit observes 500 ms windows); rooms close a while after they
        // empty (LiveKit's timeouts). Connection quality every few seconds, enough packets to grade.
        let janitor = rooms.clone();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
        let janitor = tokio::spawn(async move {
            for n in 1u64.. {
                tick.tick().await;
                janitor.update_speakers();
                janitor.update_dynacast();
                janitor.close_idle();
                if n % QUALITY_TICKS == 0 {
                    janitor.update_quality();
                }
            }
        });
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "server stopped");
            }
            janitor.abort();
        });
        tracing::info!(%addr, "colloque-sfu listening");
        Ok(Self { addr, rooms, shutdown: Some(shutdown), task: Some(task) })
    }

    /// The WebSocket URL LiveKit clients take (`ws://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Rooms and members, for tests and the admin API.
    pub fn rooms(&self) -> &Rooms {
        &self.rooms
    }

    /// Stops accepting connections and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SfuServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Where media sockets bind: the listener's own address, or on a wildcard listener every interface plus
/// loopback (so that a client on the same machine connects without leaving it).
fn media_ips(bind: IpAddr) -> Vec<IpAddr> {
    if bind.is_unspecified() {
        vec![bind, IpAddr::V4(Ipv4Addr::LOCALHOST)]
    } else {
        vec![bind]
    }
}
