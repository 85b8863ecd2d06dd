//! Video to the web view: a loopback WebSocket (127.0.0.1, a port the system picks) that sends each
//! video's latest picture as one binary message — a small header, then the I420 planes — for WebGL2 to
//! draw. The first message a client sends must be this launch's secret; anyone else is closed on. Only the
//! latest picture of each video is kept: a slow renderer skips pictures instead of building a queue.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use colloque_media::frame::VideoFrame;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// First bytes of every picture message (format version 1).
pub const MAGIC: [u8; 4] = *b"CQV1";
/// Header bytes before the video id.
pub const HEADER_LEN: usize = 24;
/// How long a new client has to prove it knows the secret.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// The video id of this client's own camera (its self view).
pub const SELF_VIEW: &str = "local:camera";
/// The video id of this client's own screen share (its preview).
pub const SCREEN_PREVIEW: &str = "local:screen";

/// Where the UI connects for pictures. The secret is shown to the UI only; it is never logged.
#[derive(Clone, Serialize, specta::Type)]
pub struct FrameEndpoint {
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    /// What the client must send first.
    pub secret: String,
}

impl std::fmt::Debug for FrameEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEndpoint").field("url", &self.url).field("secret", &"<redacted>").finish()
    }
}

/// A picture as its header describes it (what a client reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Video id: a track sid, or [`SELF_VIEW`] / [`SCREEN_PREVIEW`].
    pub id: String,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Capture time, µs (the frame's own clock).
    pub timestamp_us: u64,
    /// Where the planes start in the message.
    pub planes_at: usize,
}

/// Why a picture message could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// Not a picture message of this version.
    #[error("not a Colloque picture (bad magic)")]
    Magic,
    /// Shorter than its header and planes say.
    #[error("picture message truncated: {got} bytes, {needed} needed")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes the header promises.
        needed: usize,
    },
    /// The id is not UTF-8.
    #[error("picture id is not UTF-8")]
    Id,
}

/// Bytes of the three planes of a `width`×`height` I420 picture.
pub fn planes_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

/// One picture message: header (magic, id length, reserved, width, height, timestamp, all little-endian),
/// the id, the Y, U and V planes.
pub fn encode(id: &str, frame: &VideoFrame) -> Vec<u8> {
    let id = &id.as_bytes()[..id.len().min(u16::MAX as usize)];
    let planes = frame.data();
    let mut out = Vec::with_capacity(HEADER_LEN + id.len() + planes.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&frame.width().to_le_bytes());
    out.extend_from_slice(&frame.height().to_le_bytes());
    out.extend_from_slice(&frame.timestamp.as_micros().to_le_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(planes);
    out
}

/// Reads a picture message's header and checks the planes are all there.
pub fn decode_header(message: &[u8]) -> Result<Header, FrameError> {
    let field = |at: usize, len: usize| message.get(at..at + len).ok_or(FrameError::Magic);
    if field(0, 4)? != MAGIC {
        return Err(FrameError::Magic);
    }
    let le_u16 = |at| field(at, 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let le_u32 = |at| field(at, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let id_len = le_u16(4)? as usize;
    let (width, height) = (le_u32(8)?, le_u32(12)?);
    let timestamp_us = u64::from(le_u32(16)?) | (u64::from(le_u32(20)?) << 32);
    let planes_at = HEADER_LEN + id_len;
    let needed = planes_at + planes_len(width, height);
    if message.len() < needed {
        return Err(FrameError::Truncated { got: message.len(), needed });
    }
    let id = std::str::from_utf8(&message[HEADER_LEN..planes_at]).map_err(|_| FrameError::Id)?.to_owned();
    Ok(Header { id, width, height, timestamp_us, planes_at })
}

/// Each video's latest picture, with the generation it was published at.
type Latest = HashMap<String, (u64, Arc<VideoFrame>)>;

/// The latest picture of every video, shared by who decodes and who sends.
#[derive(Debug, Clone)]
pub struct FrameHub {
    latest: Arc<Mutex<Latest>>,
    generation: Arc<watch::Sender<u64>>,
}

impl Default for FrameHub {
    fn default() -> Self {
        Self { latest: Arc::default(), generation: Arc::new(watch::channel(0).0) }
    }
}

impl FrameHub {
    /// A new picture of video `id` (replaces the one not yet sent, if any).
    pub fn publish(&self, id: &str, frame: Arc<VideoFrame>) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = 0;
        self.generation.send_modify(|g| {
            *g += 1;
            next = *g;
        });
        latest.insert(id.to_owned(), (next, frame));
    }

    /// Video `id` ended.
    pub fn remove(&self, id: &str) {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    /// Forgets every video (the meeting ended).
    pub fn clear(&self) {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Pictures newer than what `seen` says was sent, marked as sent.
    fn newer(&self, seen: &mut HashMap<String, u64>) -> Vec<(String, Arc<VideoFrame>)> {
        let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|id, _| latest.contains_key(id));
        let mut newer = Vec::new();
        for (id, (generation, frame)) in latest.iter() {
            if seen.get(id).is_none_or(|s| s < generation) {
                seen.insert(id.clone(), *generation);
                newer.push((id.clone(), frame.clone()));
            }
        }
        newer
    }
}

/// The picture server: listening on loopback, a secret of its own.
#[derive(Debug)]
pub struct FrameServer {
    addr: SocketAddr,
    secret: Arc<String>,
    hub: FrameHub,
}

impl FrameServer {
    /// Listens on 127.0.0.1 (a free port) and serves `hub`'s pictures to clients that know the secret.
    pub async fn start(hub: FrameHub) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let secret = Arc::new(format!("{:032x}{:032x}", rand::random::<u128>(), rand::random::<u128>()));
        tracing::info!(%addr, "picture server listening");
        let (serving, served) = (secret.clone(), hub.clone());
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        tokio::spawn(serve(stream, peer, serving.clone(), served.clone()));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "picture server stopped accepting");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(Self { addr, secret, hub })
    }

    /// Where to connect and what to say first.
    pub fn endpoint(&self) -> FrameEndpoint {
        FrameEndpoint { url: format!("ws://{}", self.addr), secret: self.secret.to_string() }
    }

    /// The pictures it serves.
    pub fn hub(&self) -> &FrameHub {
        &self.hub
    }
}

/// Compares without stopping at the first difference (the time taken says nothing of the secret).
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    given.len() == secret.len() && given.iter().zip(secret).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

async fn serve(stream: TcpStream, peer: SocketAddr, secret: Arc<String>, hub: FrameHub) {
    let _ = stream.set_nodelay(true);
    let mut socket = match tokio_tungstenite::accept_async(stream).await {
        Ok(socket) => socket,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "not a WebSocket client");
            return;
        }
    };
    let hello = tokio::time::timeout(HELLO_TIMEOUT, socket.next()).await;
    let known = match &hello {
        Ok(Some(Ok(Message::Text(text)))) => same_secret(text.as_bytes(), secret.as_bytes()),
        _ => false,
    };
    if !known {
        tracing::warn!(%peer, "picture client refused: it did not give the secret");
        let close = CloseFrame { code: CloseCode::Policy, reason: "secret required".into() };
        let _ = socket.close(Some(close)).await;
        return;
    }
    tracing::debug!(%peer, "picture client connected");
    let (mut sink, mut incoming) = socket.split();
    let mut generation = hub.generation.subscribe();
    let mut seen = HashMap::new();
    loop {
        for (id, frame) in hub.newer(&mut seen) {
            let message = encode(&id, &frame);
            if sink.send(Message::Binary(message.into())).await.is_err() {
                return;
            }
        }
        tokio::select! {
            changed = generation.changed() => if changed.is_err() { return },
            message = incoming.next() => match message {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use colloque_media::frame::Timestamp;

    fn picture(width: u32, height: u32, fill: u8) -> VideoFrame {
        let data = vec![fill; VideoFrame::buffer_len(width, height)];
        VideoFrame::from_i420(width, height, data, Timestamp(1_234_567)).unwrap()
    }

    #[test]
    fn a_picture_round_trips_through_its_header() {
        let frame = picture(33, 17, 7); // odd sizes: chroma rounds up
        let message = encode("TR_abc", &frame);
        let header = decode_header(&message).unwrap();
        assert_eq!(
            header,
            Header { id: "TR_abc".into(), width: 33, height: 17, timestamp_us: 1_234_567, planes_at: 30 }
        );
        assert_eq!(&message[header.planes_at..], frame.data());
        assert_eq!(planes_len(33, 17), frame.data().len());
    }

    #[test]
    fn garbage_and_truncated_messages_are_refused() {
        assert_eq!(decode_header(b"nope"), Err(FrameError::Magic));
        assert_eq!(decode_header(b""), Err(FrameError::Magic));
        let message = encode("x", &picture(4, 4, 1));
        assert_eq!(
            decode_header(&message[..message.len() - 1]),
            Err(FrameError::Truncated { got: message.len() - 1, needed: message.len() })
        );
        let mut bad_id = message.clone();
        bad_id[HEADER_LEN] = 0xff;
        assert_eq!(decode_header(&bad_id), Err(FrameError::Id));
    }

    #[test]
    fn only_the_latest_picture_of_each_video_is_sent() {
        let hub = FrameHub::default();
        let mut seen = HashMap::new();
        hub.publish("a", Arc::new(picture(2, 2, 1)));
        hub.publish("a", Arc::new(picture(2, 2, 2)));
        hub.publish("b", Arc::new(picture(2, 2, 3)));
        let mut sent: Vec<(String, u8)> =
            hub.newer(&mut seen).into_iter().map(|(id, f)| (id, f.y()[0])).collect();
        sent.sort();
        assert_eq!(sent, [("a".to_owned(), 2), ("b".to_owned(), 3)]);
        assert!(hub.newer(&mut seen).is_empty(), "nothing new");
        hub.remove("b");
        hub.publish("a", Arc::new(picture(2, 2, 4)));
        let sent: Vec<String> = hub.newer(&mut seen).into_iter().map(|(id, _)| id).collect();
        assert_eq!(sent, ["a"]);
        assert_eq!(seen.len(), 1, "a removed video is forgotten");
    }

    async fn connect(
        endpoint: &FrameEndpoint,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>> {
        tokio_tungstenite::connect_async(endpoint.url.as_str()).await.unwrap().0
    }

    #[tokio::test]
    async fn a_client_with_the_secret_gets_pictures_and_one_without_is_closed_on() {
        let hub = FrameHub::default();
        let server = FrameServer::start(hub.clone()).await.unwrap();
        let endpoint = server.endpoint();
        assert!(!format!("{endpoint:?}").contains(&endpoint.secret), "no secret in logs");

        let mut intruder = connect(&endpoint).await;
        intruder.send(Message::Text("guess".into())).await.unwrap();
        match intruder.next().await {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Policy),
            other => panic!("expected a policy close, got {other:?}"),
        }

        let mut client = connect(&endpoint).await;
        client.send(Message::Text(endpoint.secret.clone().into())).await.unwrap();
        hub.publish("TR_1", Arc::new(picture(64, 36, 99)));
        let message = tokio::time::timeout(Duration::from_secs(5), client.next()).await.unwrap();
        let Some(Ok(Message::Binary(bytes))) = message else { panic!("{message:?}") };
        let header = decode_header(&bytes).unwrap();
        assert_eq!((header.id.as_str(), header.width, header.height), ("TR_1", 64, 36));
        assert!(bytes[header.planes_at..].iter().all(|&b| b == 99));
    }
}
