//! The meeting the window shows: joins a LiveKit server or the local meeting, forwards the session's events
//! to the UI on the channel the UI gave, sends decoded pictures to the picture server, plays the meeting on
//! the speaker, and carries out the UI's intents (chat, mute, which videos are shown and how large).
use std::collections::HashSet;
use std::sync::Arc;

use colloque_media::audio::voice::FarEnd;
use colloque_media::capture::audio::play_on_thread;
use colloque_media::capture::screen::ScreenCapture;
use colloque_media::AudioFrame;
use colloque_session::{ConnectOptions, Event, Session, Source};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tokio::sync::Mutex;

use crate::devices;
use crate::error::AppError;
use crate::frames::{FrameHub, SCREEN_PREVIEW, SELF_VIEW};
use crate::local_meeting::LocalMeeting;
use crate::screens::Tee;
use crate::settings::Settings;

/// Visio's raised-hand attribute.
const HAND_RAISED_AT: &str = "handRaisedAt";

/// Which meeting to join.
#[derive(Clone, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JoinTarget {
    /// The local meeting (embedded server, synthetic participants).
    Local,
    /// A LiveKit server, with an access token for it.
    Server {
        /// `wss://…` (or `ws://…` on a local network).
        url: String,
        /// The access token.
        token: String,
    },
}

impl std::fmt::Debug for JoinTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local => f.write_str("Local"),
            Self::Server { url, .. } => f.debug_struct("Server").field("url", url).finish_non_exhaustive(),
        }
    }
}

/// What the pre-join screen decided.
#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct JoinRequest {
    /// Where.
    pub target: JoinTarget,
    /// Display name (the local meeting's token carries it; a server's token has its own).
    pub name: String,
    /// Start with the camera on.
    pub camera: bool,
    /// Start with the microphone on.
    pub microphone: bool,
}

/// A camera, microphone or screen, as the UI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// The camera.
    Camera,
    /// The microphone.
    Microphone,
    /// The speaker.
    Speaker,
}

/// What the UI hears about its meeting, in order.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MeetingEvent {
    /// Something happened in the meeting.
    Session {
        /// What.
        event: Event,
    },
    /// A device could not be used; the meeting goes on without it.
    DeviceProblem {
        /// Which.
        device: Device,
        /// What the system said.
        message: String,
    },
}

/// The window's meeting, if any, and where its pictures go.
#[derive(Debug)]
pub struct Meetings {
    current: Arc<Mutex<Option<Meeting>>>,
    hub: FrameHub,
    /// Numbers meetings, so that the end of an old one never clears a newer one.
    joins: std::sync::atomic::AtomicU64,
}

struct Meeting {
    id: u64,
    session: Session,
    local: Option<LocalMeeting>,
    /// Sources published so far (muted or not).
    published: HashSet<Device>,
    /// Published sources muted now.
    muted: HashSet<Device>,
    far_end: FarEnd,
    speaker: SpeakerOutput,
    /// The settings the devices were opened with.
    settings: Settings,
    events: Channel<MeetingEvent>,
}

impl std::fmt::Debug for Meeting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meeting").field("session", &self.session).field("published", &self.published).finish()
    }
}

/// The meeting's sound on the chosen speaker; switching speakers starts a new player that takes over the
/// same stream (the old one ends at its next block).
struct SpeakerOutput {
    received: Arc<std::sync::Mutex<tokio::sync::mpsc::Receiver<AudioFrame>>>,
    generation: Arc<std::sync::atomic::AtomicU64>,
    far_end: FarEnd,
}

impl SpeakerOutput {
    fn play(&self, device: Option<String>) -> Result<(), AppError> {
        use std::sync::atomic::Ordering;
        let mine = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let (received, generation) = (self.received.clone(), self.generation.clone());
        let next = move || {
            if generation.load(Ordering::SeqCst) != mine {
                return None;
            }
            received.lock().ok()?.blocking_recv()
        };
        play_on_thread(device, next, self.far_end.clone()).map_err(devices::device_error)
    }
}

fn problem(events: &Channel<MeetingEvent>, device: Device, error: &AppError) {
    tracing::warn!(?device, %error, "device unavailable");
    let _ = events.send(MeetingEvent::DeviceProblem { device, message: error.to_string() });
}

impl Meetings {
    /// No meeting yet; pictures will go to `hub`.
    pub fn new(hub: FrameHub) -> Self {
        Self { current: Arc::default(), hub, joins: Default::default() }
    }

    /// Joins; the session's events follow on `events`, `Joined` first.
    pub async fn join(
        &self,
        request: JoinRequest,
        settings: Settings,
        events: Channel<MeetingEvent>,
    ) -> Result<(), AppError> {
        let mut current = self.current.lock().await;
        if current.is_some() {
            return Err(AppError::AlreadyInMeeting);
        }
        let name = request.name.trim();
        let (local, url, token) = match request.target {
            JoinTarget::Local => {
                if name.is_empty() {
                    return Err(AppError::InvalidInput("a display name is needed".into()));
                }
                let local = LocalMeeting::start().await?;
                let identity = format!("user-{:08x}", rand::random::<u32>());
                let token = local.token(&identity, name)?;
                let url = local.url();
                (Some(local), url, token)
            }
            JoinTarget::Server { url, token } => {
                let (url, token) = (url.trim().to_owned(), token.trim().to_owned());
                if token.is_empty() {
                    return Err(AppError::InvalidInput("an access token is needed".into()));
                }
                (None, url, token)
            }
        };
        let mut options = ConnectOptions::new(url, token);
        // Only the videos on screen are received (each tile says its size when it appears).
        options.adaptive_stream = true;
        let (video_tx, mut video_rx) = tokio::sync::mpsc::channel::<colloque_session::RemoteVideo>(16);
        options.video = Some(video_tx);
        let hub = self.hub.clone();
        tokio::spawn(async move {
            while let Some(video) = video_rx.recv().await {
                hub.publish(&video.track_sid, Arc::new(video.frame));
            }
        });
        // What the speaker plays is echo cancellation's reference.
        let far_end = FarEnd::default();
        let (audio_tx, audio_rx) = tokio::sync::mpsc::channel(50);
        let speaker_output = SpeakerOutput {
            received: Arc::new(std::sync::Mutex::new(audio_rx)),
            generation: Default::default(),
            far_end: far_end.clone(),
        };
        let speaker = speaker_output.play(settings.speaker.clone());
        if speaker.is_ok() {
            options.audio = Some(audio_tx);
        }
        let connected = Session::connect(options).await;
        let (session, mut session_events) = match connected {
            Ok(joined) => joined,
            Err(e) => {
                if let Some(local) = local {
                    local.stop().await;
                }
                return Err(e.into());
            }
        };
        if let Err(e) = speaker {
            problem(&events, Device::Speaker, &e);
        }
        let id = self.joins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let forward = events.clone();
        let hub = self.hub.clone();
        let meetings = self.current.clone();
        tokio::spawn(async move {
            while let Some(event) = session_events.recv().await {
                let ended = matches!(event, Event::Disconnected { .. });
                if let Event::ParticipantLeft { participant, .. } = &event {
                    for track in &participant.tracks {
                        hub.remove(&track.sid);
                    }
                }
                if let Event::FirstFrame { participant, track_sid, width, height } = &event {
                    tracing::info!(%participant, %track_sid, width, height, "first picture");
                }
                if forward.send(MeetingEvent::Session { event }).is_err() {
                    tracing::debug!("the window stopped listening to the meeting");
                }
                if ended {
                    break;
                }
            }
            // Over (the server ended it, or the connection could not be recovered): a new join may follow.
            let mut current = meetings.lock().await;
            if current.as_ref().is_some_and(|m| m.id == id) {
                if let Some(meeting) = current.take() {
                    drop(current);
                    if let Some(local) = meeting.local {
                        local.stop().await;
                    }
                    hub.clear();
                }
            }
        });
        let mut meeting = Meeting {
            id,
            session,
            local,
            published: HashSet::new(),
            muted: HashSet::new(),
            far_end,
            speaker: speaker_output,
            settings,
            events,
        };
        if request.microphone {
            meeting.turn_on(Device::Microphone, &self.hub);
        }
        if request.camera {
            meeting.turn_on(Device::Camera, &self.hub);
        }
        *current = Some(meeting);
        Ok(())
    }

    /// Leaves the meeting (and stops the local one).
    pub async fn leave(&self) -> Result<(), AppError> {
        let meeting = self.current.lock().await.take().ok_or(AppError::NotInMeeting)?;
        meeting.session.leave().await;
        if let Some(local) = meeting.local {
            local.stop().await;
        }
        self.hub.clear();
        Ok(())
    }

    /// Turns the camera or microphone on (opening and publishing it the first time) or off (muted).
    pub async fn set_enabled(&self, device: Device, enabled: bool) -> Result<(), AppError> {
        let mut current = self.current.lock().await;
        let meeting = current.as_mut().ok_or(AppError::NotInMeeting)?;
        let source = match device {
            Device::Camera => Source::Camera,
            Device::Microphone => Source::Microphone,
            Device::Speaker => return Err(AppError::InvalidInput("the speaker cannot be muted here".into())),
        };
        if !meeting.published.contains(&device) {
            // Not published (never, or given up for another quality): on publishes it, off has nothing to do.
            return if enabled { meeting.try_turn_on(device, &self.hub) } else { Ok(()) };
        }
        if device == Device::Camera && !enabled {
            self.hub.remove(SELF_VIEW);
        }
        meeting.session.set_muted(source, !enabled)?;
        if enabled {
            meeting.muted.remove(&device);
        } else {
            meeting.muted.insert(device);
        }
        Ok(())
    }

    /// Shares display `index` (or switches the shared display).
    pub async fn share_screen(&self, index: u32) -> Result<(), AppError> {
        let capture = devices::on_device_thread(move || {
            ScreenCapture::open(index, colloque_session::SCREEN_FPS as u32)
        })
        .await?
        .map_err(devices::device_error)?;
        let source = Tee::new(Box::new(capture), self.hub.clone(), SCREEN_PREVIEW);
        self.with_session(|s| s.publish_screen(Box::new(source))).await
    }

    /// Stops sharing the screen.
    pub async fn stop_screen_share(&self) -> Result<(), AppError> {
        self.with_session(|s| s.unpublish(Source::Screen)).await?;
        self.hub.remove(SCREEN_PREVIEW);
        Ok(())
    }

    /// Raises or lowers this user's hand (Visio's `handRaisedAt` attribute: the time it went up).
    pub async fn raise_hand(&self, raised: bool) -> Result<(), AppError> {
        let value = if raised {
            time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| AppError::InvalidInput(e.to_string()))?
        } else {
            String::new()
        };
        self.with_session(|s| s.set_attributes([(HAND_RAISED_AT.to_owned(), value)].into())).await
    }

    /// Sends a chat message; returns its id.
    pub async fn send_chat(&self, text: &str) -> Result<String, AppError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AppError::InvalidInput("an empty message".into()));
        }
        self.with_session(|s| s.send_chat(text)).await
    }

    /// Sends a reaction.
    pub async fn send_reaction(&self, emoji: &str) -> Result<(), AppError> {
        self.with_session(|s| s.send_reaction(emoji)).await
    }

    /// Says how large a remote video is drawn (or that it is not: `None`); the receiving quality caps it.
    pub async fn show_video(&self, track_sid: &str, size: Option<(u32, u32)>) -> Result<(), AppError> {
        let current = self.current.lock().await;
        let meeting = current.as_ref().ok_or(AppError::NotInMeeting)?;
        let size = size.map(|size| meeting.settings.receive_quality.cap(size));
        Ok(meeting.session.show_video(track_sid, size)?)
    }

    /// Applies new settings to the meeting: a device that changed (or the camera's quality, or noise
    /// suppression) is reopened and replaces the published one without renegotiation. A device that fails
    /// to open is reported and the one in use is kept.
    pub async fn apply_settings(&self, settings: Settings) -> Result<(), AppError> {
        let mut current = self.current.lock().await;
        let Some(meeting) = current.as_mut() else {
            return Ok(());
        };
        let old = std::mem::replace(&mut meeting.settings, settings.clone());
        if old.speaker != settings.speaker {
            if let Err(e) = meeting.speaker.play(settings.speaker.clone()) {
                problem(&meeting.events, Device::Speaker, &e);
            }
        }
        if meeting.published.contains(&Device::Camera) {
            if old.send_quality != settings.send_quality {
                // The simulcast layers follow from the camera's size when it is published: another size is
                // another track. A muted camera is published again when it is turned back on.
                meeting.session.unpublish(Source::Camera)?;
                meeting.published.remove(&Device::Camera);
                self.hub.remove(SELF_VIEW);
                if !meeting.muted.remove(&Device::Camera) {
                    meeting.turn_on(Device::Camera, &self.hub);
                }
            } else if old.camera != settings.camera {
                meeting.turn_on(Device::Camera, &self.hub);
            }
        }
        let microphone_changed =
            old.microphone != settings.microphone || old.noise_suppression != settings.noise_suppression;
        if microphone_changed && meeting.published.contains(&Device::Microphone) {
            meeting.turn_on(Device::Microphone, &self.hub);
        }
        Ok(())
    }

    async fn with_session<T, E: Into<AppError>>(
        &self,
        act: impl FnOnce(&Session) -> Result<T, E>,
    ) -> Result<T, AppError> {
        let current = self.current.lock().await;
        let meeting = current.as_ref().ok_or(AppError::NotInMeeting)?;
        act(&meeting.session).map_err(Into::into)
    }
}

impl Meeting {
    /// Opens and publishes a device; a failure is told to the UI, the meeting goes on.
    fn turn_on(&mut self, device: Device, hub: &FrameHub) {
        if let Err(e) = self.try_turn_on(device, hub) {
            problem(&self.events, device, &e);
        }
    }

    fn try_turn_on(&mut self, device: Device, hub: &FrameHub) -> Result<(), AppError> {
        match device {
            Device::Camera => self.session.publish_camera(devices::open_camera(&self.settings, hub)?)?,
            Device::Microphone => {
                self.session.publish_microphone(devices::open_microphone(&self.settings, &self.far_end)?)?
            }
            Device::Speaker => return Ok(()),
        }
        self.published.insert(device);
        Ok(())
    }
}
