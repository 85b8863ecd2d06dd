//! "Start a local meeting": the embedded SFU on loopback and two synthetic participants, so that a new user
//! sees a working meeting at once — moving pictures, a tone each, a chat reply, live captions.
use std::time::Duration;

use colloque_media::synthetic::{SyntheticAudio, SyntheticVideo, ToneGenerator};
use colloque_session::{ConnectOptions, Event, Session};
use colloque_sfu::config::ServerConfig;
use colloque_sfu::SfuServer;
use livekit_api::access_token::{AccessToken, VideoGrants};

use crate::error::AppError;

/// The room every local meeting uses.
pub const ROOM: &str = "reunion-locale";
const API_KEY: &str = "colloque-local";

/// The synthetic participants: identity, display name, tone.
const BOTS: [(&str, &str, f32); 2] =
    [("bot-camille", "Camille Martin", 330.0), ("bot-louis", "Louis Bernard", 494.0)];

/// What the first bot "says", as live captions (French: the meetings this app is made for are).
pub const SCRIPT: [&str; 4] = [
    "Bonjour à tous, bienvenue dans cette réunion locale.",
    "Ces sous-titres arrivent comme ceux de la transcription de Visio.",
    "Écrivez un message dans la discussion : je vous répondrai.",
    "Partagez votre écran pour le montrer à tout le monde.",
];
/// Pause between two captions, and between two words of one (interim text grows word by word).
const BETWEEN_LINES: Duration = Duration::from_secs(3);
const BETWEEN_WORDS: Duration = Duration::from_millis(250);

/// A running local meeting: the server and its synthetic participants.
#[derive(Debug)]
pub struct LocalMeeting {
    server: SfuServer,
    secret: String,
    bots: Vec<tokio::task::JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl LocalMeeting {
    /// Starts the server on 127.0.0.1 (a free port) with a key of its own, and the bots in it.
    pub async fn start() -> Result<Self, AppError> {
        let secret = format!("{:032x}{:032x}", rand::random::<u128>(), rand::random::<u128>());
        let config = ServerConfig::from_args("127.0.0.1:0", &format!("{API_KEY}:{secret}"))
            .map_err(|e| AppError::LocalMeeting(e.to_string()))?;
        let server = SfuServer::start(config).await.map_err(|e| AppError::LocalMeeting(e.to_string()))?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut meeting = Self { server, secret, bots: Vec::new(), stop };
        for (index, (identity, name, pitch)) in BOTS.into_iter().enumerate() {
            let token = meeting.token(identity, name)?;
            let options =
                ConnectOptions { auto_subscribe: false, ..ConnectOptions::new(meeting.url(), token) };
            let (session, events) = Session::connect(options)
                .await
                .map_err(|e| AppError::LocalMeeting(format!("{name} could not join: {e}")))?;
            session.publish_microphone(Box::new(SyntheticAudio::new(ToneGenerator::new(pitch, 0.05))))?;
            let camera =
                SyntheticVideo::new(640, 360, 30).map_err(|e| AppError::LocalMeeting(e.to_string()))?;
            session.publish_camera(Box::new(camera))?;
            let role = if index == 0 { Role::Speaker } else { Role::Listener };
            meeting.bots.push(tokio::spawn(run_bot(session, events, role, stopped.clone())));
        }
        tracing::info!(url = %meeting.url(), "local meeting started");
        Ok(meeting)
    }

    /// The server's address.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A token to join the local meeting as `identity`.
    pub fn token(&self, identity: &str, name: &str) -> Result<String, AppError> {
        AccessToken::with_api_key(API_KEY, &self.secret)
            .with_identity(identity)
            .with_name(name)
            .with_grants(VideoGrants {
                room_join: true,
                room: ROOM.into(),
                can_update_own_metadata: Some(true),
                ..Default::default()
            })
            .with_ttl(Duration::from_secs(24 * 3600))
            .to_jwt()
            .map_err(|e| AppError::LocalMeeting(format!("minting a token: {e}")))
    }

    /// The bots leave and the server stops.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for bot in self.bots {
            let _ = tokio::time::timeout(Duration::from_secs(3), bot).await;
        }
        self.server.stop().await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Speaks the captions script and answers chat.
    Speaker,
    /// Only there.
    Listener,
}

async fn run_bot(
    session: Session,
    mut events: colloque_session::Events,
    role: Role,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut microphone = None;
    let mut line = 0usize;
    let mut next_line = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                None | Some(Event::Disconnected { .. }) => break,
                Some(Event::TrackPublished { source, track_sid }) if source == "microphone" => {
                    microphone = Some(track_sid);
                }
                Some(Event::Chat { from, text, .. }) if role == Role::Speaker && !from.starts_with("bot-") => {
                    let _ = session.send_chat(&format!("Bien reçu : « {} »", text.trim()));
                }
                Some(_) => {}
            },
            _ = tokio::time::sleep_until(next_line), if role == Role::Speaker && microphone.is_some() => {
                let track = microphone.clone().unwrap_or_default();
                speak(&session, &track, line, SCRIPT[line % SCRIPT.len()]).await;
                line += 1;
                next_line = tokio::time::Instant::now() + BETWEEN_LINES;
            }
            _ = stopped.changed() => break,
        }
    }
    session.leave().await;
}

/// One caption: interim text growing a word at a time, then final.
async fn speak(session: &Session, track_sid: &str, line: usize, text: &str) {
    let segment = format!("SG_local_{line}");
    let words: Vec<&str> = text.split(' ').collect();
    for n in 1..words.len() {
        if session.send_caption(&segment, track_sid, &words[..n].join(" "), false).is_err() {
            return;
        }
        tokio::time::sleep(BETWEEN_WORDS).await;
    }
    let _ = session.send_caption(&segment, track_sid, text, true);
}
