//! The interceptors both ends of a Colloque connection run: webrtc-rs's defaults (NACK, simulcast header
//! extensions, transport-wide feedback, RTCP reports) with a bounded NACK generator, and the hand-off of
//! keyframe requests and receiver reports to the application.
use rtc::interceptor::{NackGeneratorBuilder, NackResponderBuilder, Registry, Slot};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_rtcp_reports, configure_simulcast_extension_headers,
    configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::shared::error::Error as RtcError;

use crate::KeyframeRequests;

/// A lost packet is asked for again at most this many times, 100 ms apart. webrtc-rs's default asks
/// every 100 ms for as long as the packet stays in its 512-packet log: at a bottleneck, the
/// retransmissions of retransmissions (measured: 2 000–3 700 packets a second for a 300 kbit/s link)
/// crowd out the media and the connection never recovers.
pub const MAX_NACKS_PER_PACKET: u16 = 3;

/// Adds them to `registry` and their feedback lines to `media`. `congestion_controlled`: the registry already
/// runs send-side congestion control (`configure_congestion_control`), which brings its own TWCC receiver.
pub fn register(
    registry: Registry,
    media: &mut MediaEngine,
    keyframes: KeyframeRequests,
    congestion_controlled: bool,
) -> Result<Registry, RtcError> {
    // For its feedback lines (`nack`, `nack pli`) on the media engine only: the registry it returns holds
    // the unbounded generator.
    let _ = configure_nack(Registry::new(), media);
    configure_simulcast_extension_headers(media)?;
    let registry =
        if congestion_controlled { registry } else { configure_twcc_receiver_only(registry, media)? };
    Ok(configure_rtcp_reports(registry)
        .with(Slot::NackResponder, NackResponderBuilder::new().build())
        .with(
            Slot::NackGenerator,
            NackGeneratorBuilder::new().with_max_nacks_per_packet(MAX_NACKS_PER_PACKET).build(),
        )
        .with(Slot::Custom(20_000), keyframes))
}
