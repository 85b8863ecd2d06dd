//! A session's signalling link: the client's WebSocket while it is there; while it is away (its
//! connection dropped and it has not resumed yet), a backlog of what the server would have sent, delivered
//! in order when it comes back, and a deadline after which it is gone.
use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;

/// No message at all from a client for this long: its connection is dead.
pub const PING_TIMEOUT: Duration = Duration::from_secs(15);
/// Messages kept for an away client, at most; a client that misses more rejoins in full.
const MAX_BACKLOG: usize = 2048;

/// What the link got from the client.
#[derive(Debug)]
pub enum Incoming {
    /// A frame (never `Close`).
    Frame(Message),
    /// The socket closed, failed, or stayed silent past the ping timeout.
    Lost(&'static str),
    /// The client stayed away past the resume window.
    Expired,
}

/// The signalling link of one session.
pub struct Link {
    socket: Option<(SplitSink<WebSocket, Message>, SplitStream<WebSocket>)>,
    backlog: VecDeque<Message>,
    /// While away: when the client is given up.
    deadline: Option<Instant>,
}

/// A close frame with a reason.
pub fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

impl Link {
    /// A link on the client's first socket.
    pub fn new(socket: WebSocket) -> Self {
        Self { socket: Some(socket.split()), backlog: VecDeque::new(), deadline: None }
    }

    /// Whether the client is connected.
    pub fn is_up(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends a frame, or keeps it for when the client resumes. False when the backlog is full: the client
    /// has missed too much to resume.
    pub async fn send(&mut self, frame: Message, window: Duration) -> bool {
        if let Some((sink, _)) = &mut self.socket {
            if sink.send(frame.clone()).await.is_ok() {
                return true;
            }
            self.go_away(window);
        }
        if self.backlog.len() >= MAX_BACKLOG {
            return false;
        }
        self.backlog.push_back(frame);
        true
    }

    /// Waits for the client's next frame (or for the resume window to pass while it is away).
    pub async fn recv(&mut self) -> Incoming {
        match (&mut self.socket, self.deadline) {
            (Some((_, stream)), _) => match tokio::time::timeout(PING_TIMEOUT, stream.next()).await {
                Err(_) => Incoming::Lost("no message within the ping timeout"),
                Ok(None) | Ok(Some(Err(_))) => Incoming::Lost("connection dropped"),
                Ok(Some(Ok(Message::Close(_)))) => Incoming::Lost("closed by the client"),
                Ok(Some(Ok(frame))) => Incoming::Frame(frame),
            },
            (None, Some(deadline)) => {
                tokio::time::sleep_until(deadline).await;
                Incoming::Expired
            }
            (None, None) => std::future::pending().await,
        }
    }

    /// The client is away from now on; it has `window` to resume.
    pub fn go_away(&mut self, window: Duration) {
        self.socket = None;
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + window);
        }
    }

    /// The client is back on `socket`: `first` goes out, then everything it missed, in order. A socket it
    /// still had (the server had not noticed it was dead) is closed. False when the new socket fails at
    /// once (the client is away again, with its backlog intact).
    pub async fn resume(&mut self, socket: WebSocket, first: Message, window: Duration) -> bool {
        if let Some((mut sink, _)) = self.socket.take() {
            let _ = sink.send(close_frame(1000, "resumed on a new connection")).await;
        }
        let (mut sink, stream) = socket.split();
        if sink.send(first).await.is_err() {
            self.go_away(window);
            return false;
        }
        while let Some(frame) = self.backlog.pop_front() {
            if sink.send(frame.clone()).await.is_err() {
                self.backlog.push_front(frame);
                self.go_away(window);
                return false;
            }
        }
        self.socket = Some((sink, stream));
        self.deadline = None;
        true
    }

    /// Closes the socket (if the client is there) with a reason.
    pub async fn close(&mut self, code: u16, reason: &str) {
        if let Some((mut sink, _)) = self.socket.take() {
            let _ = sink.send(close_frame(code, reason)).await;
        }
    }
}
