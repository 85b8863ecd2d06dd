//! A minimal synthetic LiveKit client for load: joins over the signalling WebSocket, answers the server's
//! subscriber offers, publishes RTP it makes up (VP8-shaped video with a keyframe every second, Opus-sized
//! audio), and records, for every packet it receives, the delay since its sender stamped it.
//!
//! Not a product client (issue 4 builds that): no resume, no simulcast, no data channels of its own.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use colloque_sfu::peer::{self, PeerConfig, PeerEvent};
use futures_util::{SinkExt, StreamExt};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as In;
use proto::signal_response::Message as Out;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::TrackRemoteEvent;
use webrtc::peer_connection::{RTCIceCandidateInit, RTCSessionDescription};

/// What one client publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Nothing (a pure subscriber).
    Nothing,
    /// A 20 ms-paced audio track.
    Audio,
    /// Audio and a 30 fps video track.
    AudioVideo,
}

/// Video: 30 frames/s of 3 packets of 1100 bytes ≈ 790 kbit/s, a 360p camera's budget.
const VIDEO_FPS: u64 = 30;
const VIDEO_PACKETS_PER_FRAME: usize = 3;
const VIDEO_PACKET_BYTES: usize = 1100;
/// Audio: 50 packets/s of 80 bytes ≈ 32 kbit/s, a voice Opus stream.
const AUDIO_PACKET_BYTES: usize = 80;

/// Shared receive statistics of every client.
#[derive(Debug, Default)]
pub struct Received {
    /// Packets received.
    pub packets: AtomicU64,
    /// Payload bytes received.
    pub bytes: AtomicU64,
    /// Delays in microseconds since the sender stamped the packet, while recording.
    pub delays_us: Mutex<Vec<u32>>,
    recording: std::sync::atomic::AtomicBool,
}

impl Received {
    /// Starts or stops recording delays (counters always run).
    pub fn record(&self, on: bool) {
        self.recording.store(on, Ordering::Relaxed);
    }
}

/// The instant every stamp counts from (one process, one clock).
pub fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn stamp_now() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(socket: &mut Socket, message: In) -> Result<()> {
    let bytes = proto::SignalRequest { message: Some(message) }.encode_to_vec();
    socket.send(Message::Binary(bytes.into())).await.context("signalling send")
}

/// Runs one client until `stop` fires.
pub async fn run(
    url: String,
    token: String,
    publish: Publish,
    received: Arc<Received>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{url}/rtc?access_token={token}&protocol=16"))
            .await
            .context("connecting")?;
    let config = PeerConfig {
        ips: vec![std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)],
        red: false,
        ..Default::default()
    };
    let (peer_tx, mut peer_rx) = mpsc::unbounded_channel::<PeerEvent>();
    let subscriber = peer::build(&config, proto::SignalTarget::Subscriber, peer_tx.clone()).await?;
    let publisher = peer::build(&config, proto::SignalTarget::Publisher, peer_tx).await?;
    let mut tracks: Vec<(Arc<TrackLocalStaticRTP>, bool)> = Vec::new();
    let kinds: &[bool] = match publish {
        Publish::Nothing => &[],
        Publish::Audio => &[false],
        Publish::AudioVideo => &[false, true],
    };
    let mut pending = kinds.len();
    for (i, &video) in kinds.iter().enumerate() {
        let cid = format!("bench-{i}");
        let (kind, source) = if video {
            (proto::TrackType::Video, proto::TrackSource::Camera)
        } else {
            (proto::TrackType::Audio, proto::TrackSource::Microphone)
        };
        send(
            &mut socket,
            In::AddTrack(proto::AddTrackRequest {
                cid: cid.clone(),
                r#type: kind as i32,
                source: source as i32,
                width: if video { 640 } else { 0 },
                height: if video { 360 } else { 0 },
                ..Default::default()
            }),
        )
        .await?;
        let codec = if video {
            RTCRtpCodec { mime_type: "video/VP8".into(), clock_rate: 90_000, ..Default::default() }
        } else {
            RTCRtpCodec {
                mime_type: "audio/opus".into(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: peer::OPUS_FMTP.into(),
                ..Default::default()
            }
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("stream-{cid}"),
            cid.clone(),
            cid,
            if video { RtpCodecKind::Video } else { RtpCodecKind::Audio },
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(rand::random()),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        )));
        publisher.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
        tracks.push((track, video));
    }
    let mut senders = Vec::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            event = peer_rx.recv() => match event {
                Some(PeerEvent::Candidate { target, init }) => {
                    send(&mut socket, In::Trickle(proto::TrickleRequest { candidate_init: init, target: target as i32, r#final: false })).await?;
                }
                Some(PeerEvent::Track { remote, .. }) => {
                    let received = received.clone();
                    tokio::spawn(async move {
                        let video = remote_is_video(&remote).await;
                        while let Some(event) = remote.poll().await {
                            if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                                account(&received, &packet, video);
                            }
                        }
                    });
                }
                Some(_) => {}
                None => bail!("peer events ended"),
            },
            frame = socket.next() => {
                let data = match frame {
                    Some(Ok(Message::Binary(data))) => data,
                    Some(Ok(Message::Close(_))) | None => bail!("server closed the signalling connection"),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e).context("signalling"),
                };
                let Some(message) = proto::SignalResponse::decode(&data[..])?.message else { continue };
                match message {
                    Out::Offer(offer) => {
                        subscriber.set_remote_description(RTCSessionDescription::offer(offer.sdp)?).await?;
                        let answer = subscriber.create_answer(None).await?;
                        subscriber.set_local_description(answer.clone()).await?;
                        let sdp = subscriber.local_description().await.map(|d| d.sdp).unwrap_or(answer.sdp);
                        send(&mut socket, In::Answer(proto::SessionDescription { r#type: "answer".into(), sdp, id: offer.id, ..Default::default() })).await?;
                    }
                    Out::Answer(answer) => {
                        publisher.set_remote_description(RTCSessionDescription::answer(answer.sdp)?).await?;
                        for (track, video) in &tracks {
                            senders.push(tokio::spawn(pace(track.clone(), *video, stop.clone())));
                        }
                    }
                    Out::TrackPublished(_) => {
                        pending = pending.saturating_sub(1);
                        if pending == 0 {
                            let offer = publisher.create_offer(None).await?;
                            publisher.set_local_description(offer.clone()).await?;
                            send(&mut socket, In::Offer(proto::SessionDescription { r#type: "offer".into(), sdp: offer.sdp, id: 1, ..Default::default() })).await?;
                        }
                    }
                    Out::Trickle(trickle) => {
                        let candidate: RTCIceCandidateInit = serde_json::from_str(&trickle.candidate_init)?;
                        let pc = if trickle.target == proto::SignalTarget::Subscriber as i32 { &subscriber } else { &publisher };
                        pc.add_ice_candidate(candidate).await?;
                    }
                    Out::Leave(leave) => bail!("server asked to leave: {:?}", leave.reason()),
                    Out::RequestResponse(r) => return Err(anyhow!("request refused: {}", r.message)),
                    _ => {}
                }
            }
        }
    }
    for s in senders {
        s.abort();
    }
    let _ = send(&mut socket, In::Leave(proto::LeaveRequest::default())).await;
    let _ = publisher.close().await;
    let _ = subscriber.close().await;
    Ok(())
}

async fn remote_is_video(remote: &Arc<dyn webrtc::media_stream::track_remote::TrackRemote>) -> bool {
    webrtc::media_stream::Track::kind(remote.as_ref()).await == RtpCodecKind::Video
}

/// Where the send stamp sits: after the 2-byte VP8 descriptor and frame header for video, first for audio.
fn stamp_offset(video: bool) -> usize {
    if video {
        2
    } else {
        0
    }
}

fn account(received: &Received, packet: &rtp::Packet, video: bool) {
    received.packets.fetch_add(1, Ordering::Relaxed);
    received.bytes.fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
    if !received.recording.load(Ordering::Relaxed) {
        return;
    }
    let at = stamp_offset(video);
    let Some(bytes) = packet.payload.get(at..at + 8) else { return };
    let mut stamp = [0u8; 8];
    stamp.copy_from_slice(bytes);
    let sent = u64::from_be_bytes(stamp);
    let delay_us = stamp_now().saturating_sub(sent) / 1000;
    if let Ok(mut delays) = received.delays_us.lock() {
        delays.push(delay_us.min(u64::from(u32::MAX)) as u32);
    }
}

/// Sends made-up media on `track` at its real rate until `stop`.
async fn pace(track: Arc<TrackLocalStaticRTP>, video: bool, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(ssrc) = webrtc::media_stream::Track::ssrcs(track.as_ref()).await.first().copied() else {
        return;
    };
    let (period, clock_step) = if video {
        (Duration::from_millis(1000 / VIDEO_FPS), 90_000 / VIDEO_FPS as u32)
    } else {
        (Duration::from_millis(20), 960)
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut sequence, mut timestamp, mut frame) = (rand::random::<u16>(), rand::random::<u32>(), 0u64);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let packets = if video { VIDEO_PACKETS_PER_FRAME } else { 1 };
        for i in 0..packets {
            let mut payload = vec![0u8; if video { VIDEO_PACKET_BYTES } else { AUDIO_PACKET_BYTES }];
            if video {
                // VP8 descriptor: start of partition 0 on the first packet; key frame once a second.
                payload[0] = if i == 0 { 0x10 } else { 0x00 };
                payload[1] = if frame % VIDEO_FPS == 0 { 0x50 } else { 0x51 };
            }
            let at = stamp_offset(video);
            payload[at..at + 8].copy_from_slice(&stamp_now().to_be_bytes());
            let packet = rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    payload_type: if video { 96 } else { 111 },
                    sequence_number: sequence,
                    timestamp,
                    ssrc,
                    marker: i + 1 == packets,
                    ..Default::default()
                },
                payload: payload.into(),
            };
            sequence = sequence.wrapping_add(1);
            if track.write_rtp(packet).await.is_err() {
                return;
            }
        }
        timestamp = timestamp.wrapping_add(clock_step);
        frame += 1;
    }
}
