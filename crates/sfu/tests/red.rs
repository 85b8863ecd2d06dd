//! Audio redundancy (RED) through the SFU, over real WebRTC on loopback: a publisher sends Opus frames
//! wrapped in RED (each packet repeats the two before it), and loses two packets. A subscriber that accepts
//! RED gets the RED stream as sent; one that does not gets plain Opus, every frame once and in order,
//! the lost two rebuilt from the redundancy.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

const FRAME_TICKS: u32 = 960; // 20 ms at 48 kHz

fn frame(n: u16) -> Vec<u8> {
    format!("opus-frame-{n:05}").into_bytes()
}

/// Packet `n`'s RED payload: frames n-2 and n-1 again, then frame n (RFC 2198).
fn red_payload(n: u16) -> Vec<u8> {
    let older: Vec<(u32, Vec<u8>)> =
        [2u16, 1].iter().filter(|&&k| n > k).map(|&k| (u32::from(k) * FRAME_TICKS, frame(n - k))).collect();
    let mut out = Vec::new();
    for (offset, data) in &older {
        let len = data.len() as u32;
        out.extend([0x80 | 111, (offset >> 6) as u8, (((offset << 2) & 0xfc) | (len >> 8)) as u8, len as u8]);
    }
    out.push(111);
    for (_, data) in &older {
        out.extend_from_slice(data);
    }
    out.extend_from_slice(&frame(n));
    out
}

/// What a subscriber got: the track's codec, then its packets.
type Received = mpsc::UnboundedReceiver<(String, rtp::Packet)>;

/// A minimal LiveKit client on the SFU's own peer-connection builder: joins, answers subscriber offers,
/// publishes `publish` (as a microphone) if given, and hands over every packet it receives. Returns when
/// the publication is answered (or at once without one).
async fn client(url: &str, token: &str, red: bool, publish: Option<Arc<TrackLocalStaticRTP>>) -> Received {
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{url}/rtc?access_token={token}&protocol=16"))
            .await
            .unwrap();
    let config = PeerConfig { ips: vec![std::net::Ipv4Addr::LOCALHOST.into()], red, ..Default::default() };
    let (peer_tx, mut peer_rx) = mpsc::unbounded_channel::<PeerEvent>();
    let subscriber = peer::build(&config, proto::SignalTarget::Subscriber, peer_tx.clone()).await.unwrap();
    let publisher = peer::build(&config, proto::SignalTarget::Publisher, peer_tx).await.unwrap();
    let (got_tx, got_rx) = mpsc::unbounded_channel();
    let (published_tx, published_rx) = tokio::sync::oneshot::channel::<()>();
    let mut published_tx = Some(published_tx);
    let send = |m: In| Message::Binary(proto::SignalRequest { message: Some(m) }.encode_to_vec().into());
    if let Some(track) = &publish {
        let add = proto::AddTrackRequest {
            cid: "mic".into(),
            r#type: proto::TrackType::Audio as i32,
            source: proto::TrackSource::Microphone as i32,
            ..Default::default()
        };
        socket.send(send(In::AddTrack(add))).await.unwrap();
        publisher.add_track(track.clone() as Arc<dyn TrackLocal>).await.unwrap();
    } else if let Some(tx) = published_tx.take() {
        let _ = tx.send(());
    }
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(event) = peer_rx.recv() => match event {
                    PeerEvent::Candidate { target, init } => {
                        let trickle = proto::TrickleRequest { candidate_init: init, target: target as i32, r#final: false };
                        if socket.send(send(In::Trickle(trickle))).await.is_err() { return }
                    }
                    PeerEvent::Track { remote, codec, .. } => {
                        let got = got_tx.clone();
                        tokio::spawn(async move {
                            while let Some(event) = remote.poll().await {
                                if let TrackRemoteEvent::OnRtpPacket(p) = event {
                                    let _ = got.send((codec.mime_type.to_ascii_lowercase(), p));
                                }
                            }
                        });
                    }
                    _ => {}
                },
                frame = socket.next() => {
                    let Some(Ok(Message::Binary(data))) = frame else { return };
                    let decoded = proto::SignalResponse::decode(&data[..]).unwrap().message;
                    match decoded {
                        Some(Out::Offer(offer)) => {
                            subscriber.set_remote_description(RTCSessionDescription::offer(offer.sdp).unwrap()).await.unwrap();
                            let answer = subscriber.create_answer(None).await.unwrap();
                            subscriber.set_local_description(answer.clone()).await.unwrap();
                            let sdp = subscriber.local_description().await.map(|d| d.sdp).unwrap_or(answer.sdp);
                            let answer = proto::SessionDescription { r#type: "answer".into(), sdp, id: offer.id, ..Default::default() };
                            if socket.send(send(In::Answer(answer))).await.is_err() { return }
                        }
                        Some(Out::TrackPublished(_)) => {
                            let offer = publisher.create_offer(None).await.unwrap();
                            publisher.set_local_description(offer.clone()).await.unwrap();
                            let offer = proto::SessionDescription { r#type: "offer".into(), sdp: offer.sdp, id: 1, ..Default::default() };
                            if socket.send(send(In::Offer(offer))).await.is_err() { return }
                        }
                        Some(Out::Answer(answer)) => {
                            publisher.set_remote_description(RTCSessionDescription::answer(answer.sdp).unwrap()).await.unwrap();
                            if let Some(tx) = published_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                        Some(Out::Trickle(t)) => {
                            let candidate: RTCIceCandidateInit = serde_json::from_str(&t.candidate_init).unwrap();
                            let pc = if t.target == proto::SignalTarget::Subscriber as i32 { &subscriber } else { &publisher };
                            let _ = pc.add_ice_candidate(candidate).await;
                        }
                        _ => {}
                    }
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), published_rx).await.unwrap().unwrap();
    got_rx
}

/// Waits for `count` packets.
async fn take(rx: &mut Received, count: usize) -> Vec<(String, rtp::Packet)> {
    let mut out = Vec::new();
    while out.len() < count {
        out.push(tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap());
    }
    out
}

/// The frame number a packet carries: plain Opus is `opus-frame-N`, RED ends with its primary, the same.
fn frame_of(packet: &rtp::Packet) -> Option<u16> {
    let tail = packet.payload.get(packet.payload.len().checked_sub(16)?..)?;
    std::str::from_utf8(tail).ok()?.strip_prefix("opus-frame-")?.parse().ok()
}

/// Waits until the packet carrying frame `last` (or a later one) has arrived: subscribers that started at
/// different times are compared over the same frames whatever their lag.
async fn take_through(rx: &mut Received, last: u16) -> Vec<(String, rtp::Packet)> {
    let mut out = Vec::new();
    while out.last().and_then(|(_, p): &(String, rtp::Packet)| frame_of(p)).is_none_or(|n| n < last) {
        out.push(tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_passes_to_subscribers_that_take_it_and_is_unwrapped_with_losses_repaired_for_the_others() {
    let server = common::server().await;
    let url = server.url();
    let token = |id: &str| common::token(id, "red", &common::Grants::default());
    let mut plain = client(&url, &token("plain"), false, None).await;
    let mut redundant = client(&url, &token("redundant"), true, None).await;
    let red_codec = RTCRtpCodec {
        mime_type: "audio/red".into(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "111/111".into(),
        ..Default::default()
    };
    let mic = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "stream".into(),
        "mic".into(),
        "mic".into(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(0x5eed), ..Default::default() },
            codec: red_codec,
            ..Default::default()
        }],
    )));
    let _publisher = client(&url, &token("publisher"), true, Some(mic.clone())).await;

    // 20 ms packets; once both subscribers get media, the two packets after `lost` never leave.
    let lost = Arc::new(AtomicU16::new(u16::MAX));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (lost, stop, mic) = (lost.clone(), stop.clone(), mic.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for n in 1..2000u16 {
                tick.tick().await;
                if stop.load(Ordering::Relaxed) {
                    return n;
                }
                let from = lost.load(Ordering::Relaxed);
                if from != u16::MAX && (from..from + 2).contains(&n) {
                    continue;
                }
                let header = rtp::Header {
                    version: 2,
                    payload_type: 63,
                    sequence_number: 1000 + n,
                    timestamp: 50_000 + u32::from(n) * FRAME_TICKS,
                    ssrc: 0x5eed,
                    ..Default::default()
                };
                let packet = rtp::Packet { header, payload: red_payload(n).into() };
                let _ = mic.write_rtp(packet).await;
            }
            2000
        })
    };
    let mut got_plain = take(&mut plain, 10).await;
    let mut got_red = take(&mut redundant, 10).await;
    let newest = |got: &[(String, rtp::Packet)]| got.last().unwrap().1.header.sequence_number;
    let lose_from = newest(&got_plain).max(newest(&got_red)) - 1000 + 10;
    lost.store(lose_from, Ordering::Relaxed);
    // Through a few frames past the loss, however far behind either subscriber is.
    got_plain.extend(take_through(&mut plain, lose_from + 5).await);
    got_red.extend(take_through(&mut redundant, lose_from + 5).await);
    stop.store(true, Ordering::Relaxed);
    sender.await.unwrap();

    // Plain Opus: payload type 111, the bare frames, consecutive with no gap or repeat (the two lost
    // frames are there), sequence numbers and timestamps continuous.
    let frames: Vec<u16> = got_plain
        .iter()
        .map(|(mime, p)| {
            assert_eq!((mime.as_str(), p.header.payload_type), ("audio/opus", 111));
            let text = std::str::from_utf8(&p.payload).expect("a bare Opus frame, not RED");
            text.strip_prefix("opus-frame-").unwrap().parse().unwrap()
        })
        .collect();
    let first = frames[0];
    assert_eq!(frames, (first..first + frames.len() as u16).collect::<Vec<_>>());
    assert!(
        frames.contains(&lose_from) && frames.contains(&(lose_from + 1)),
        "lost frames rebuilt: {frames:?}"
    );
    let p0 = &got_plain[0].1;
    for (i, (_, p)) in got_plain.iter().enumerate() {
        assert_eq!(p.header.sequence_number, p0.header.sequence_number.wrapping_add(i as u16));
        assert_eq!(p.header.timestamp, p0.header.timestamp.wrapping_add(i as u32 * FRAME_TICKS));
    }

    // RED: payload type 63, the payloads exactly as sent, the two lost packets missing (the subscriber's
    // own RED decoder repairs them).
    let numbers: Vec<u16> = got_red
        .iter()
        .map(|(mime, p)| {
            assert_eq!((mime.as_str(), p.header.payload_type), ("audio/red", 63));
            let n = std::str::from_utf8(&p.payload[p.payload.len() - 16..]).unwrap();
            let n: u16 = n.strip_prefix("opus-frame-").unwrap().parse().unwrap();
            assert_eq!(&p.payload[..], &red_payload(n)[..]);
            n
        })
        .collect();
    assert!(!numbers.contains(&lose_from) && !numbers.contains(&(lose_from + 1)), "{numbers:?}");
    assert!(numbers.contains(&(lose_from + 2)), "{numbers:?}");
}
