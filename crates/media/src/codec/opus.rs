//! Opus in VoIP mode: 20 ms frames, in-band FEC, DTX on the way out; decoding with FEC recovery and
//! packet-loss concealment on the way in. Always 48 kHz.
use opus::{Application, Bitrate, Channels, Decoder, Encoder};

use crate::error::{CodecError, Result};
use crate::frame::SAMPLE_RATE;

const CODEC: &str = "Opus";
/// Samples per channel in one 20 ms frame.
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE / 50) as usize;
/// Largest Opus packet (RFC 6716: 1275 bytes per frame, up to 120 ms); anything longer is garbage.
const MAX_PACKET: usize = 1275 * 6 + 7;

fn channels(n: u16) -> Result<Channels> {
    match n {
        1 => Ok(Channels::Mono),
        2 => Ok(Channels::Stereo),
        other => Err(CodecError::Config { codec: CODEC, reason: format!("{other} channels") }.into()),
    }
}

fn encode_error(e: opus::Error) -> CodecError {
    CodecError::Encode { codec: CODEC, reason: e.to_string() }
}

fn decode_error(e: opus::Error) -> CodecError {
    CodecError::Decode { codec: CODEC, reason: e.to_string() }
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusConfig {
    /// 1 or 2.
    pub channels: u16,
    /// Target bitrate in bits per second.
    pub bitrate_bps: i32,
    /// Add in-band forward error correction (LBRR) so a receiver can rebuild a lost packet from the next one.
    pub fec: bool,
    /// Expected packet loss in percent: how much FEC to add.
    pub expected_loss_percent: i32,
    /// Discontinuous transmission: send almost nothing during silence.
    pub dtx: bool,
}

impl Default for OpusConfig {
    fn default() -> Self {
        Self { channels: 1, bitrate_bps: 32_000, fec: true, expected_loss_percent: 10, dtx: true }
    }
}

/// An Opus encoder for 20 ms frames of speech.
pub struct OpusEncoder {
    encoder: Encoder,
    config: OpusConfig,
    packet: Vec<u8>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// Creates a VoIP-mode encoder.
    pub fn new(config: OpusConfig) -> Result<Self> {
        let mut encoder = Encoder::new(SAMPLE_RATE, channels(config.channels)?, Application::Voip)
            .map_err(|e| CodecError::Config { codec: CODEC, reason: e.to_string() })?;
        let setup = |enc: &mut Encoder| -> std::result::Result<(), opus::Error> {
            enc.set_bitrate(Bitrate::Bits(config.bitrate_bps))?;
            enc.set_inband_fec(config.fec)?;
            enc.set_packet_loss_perc(config.expected_loss_percent.clamp(0, 100))?;
            enc.set_dtx(config.dtx)?;
            enc.set_complexity(9)
        };
        setup(&mut encoder).map_err(|e| CodecError::Config { codec: CODEC, reason: e.to_string() })?;
        Ok(Self { encoder, config, packet: vec![0; MAX_PACKET] })
    }

    /// Changes the bitrate while running.
    pub fn set_bitrate(&mut self, bitrate_bps: i32) -> Result<()> {
        self.encoder.set_bitrate(Bitrate::Bits(bitrate_bps)).map_err(encode_error)?;
        self.config.bitrate_bps = bitrate_bps;
        Ok(())
    }

    /// Tells the encoder how much loss the network shows, to size the FEC.
    pub fn set_expected_loss(&mut self, percent: i32) -> Result<()> {
        self.encoder.set_packet_loss_perc(percent.clamp(0, 100)).map_err(encode_error)?;
        Ok(())
    }

    /// Encodes exactly 20 ms of interleaved audio (960 samples per channel). With DTX, a silent frame
    /// gives a packet of at most 2 bytes, which [`is_dtx`] recognises and a sender may skip.
    pub fn encode(&mut self, pcm: &[f32]) -> Result<Vec<u8>> {
        let expected = FRAME_SAMPLES * usize::from(self.config.channels);
        if pcm.len() != expected {
            return Err(CodecError::Encode {
                codec: CODEC,
                reason: format!("needs {expected} samples (20 ms), got {}", pcm.len()),
            }
            .into());
        }
        let len = self.encoder.encode_float(pcm, &mut self.packet).map_err(encode_error)?;
        Ok(self.packet[..len].to_vec())
    }
}

/// Whether `packet` is a DTX (comfort noise / silence) packet that need not be sent.
pub fn is_dtx(packet: &[u8]) -> bool {
    packet.len() <= 2
}

/// An Opus decoder that also rebuilds lost frames.
pub struct OpusDecoder {
    decoder: Decoder,
    channels: u16,
    pcm: Vec<f32>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder").field("channels", &self.channels).finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// A decoder producing `channels` interleaved channels at 48 kHz.
    pub fn new(channels_out: u16) -> Result<Self> {
        let decoder = Decoder::new(SAMPLE_RATE, channels(channels_out)?)
            .map_err(|e| CodecError::Config { codec: CODEC, reason: e.to_string() })?;
        // Room for the longest packet Opus allows (120 ms).
        Ok(Self {
            decoder,
            channels: channels_out,
            pcm: vec![0.0; 6 * FRAME_SAMPLES * usize::from(channels_out)],
        })
    }

    /// Channel count of the output.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    fn run(&mut self, packet: &[u8], fec: bool, frames: usize) -> Result<Vec<f32>> {
        if packet.len() > MAX_PACKET {
            return Err(
                CodecError::Decode { codec: CODEC, reason: format!("{}-byte packet", packet.len()) }.into()
            );
        }
        let ch = usize::from(self.channels);
        let out = &mut self.pcm[..frames * ch];
        let n = self.decoder.decode_float(packet, out, fec).map_err(decode_error)?;
        Ok(self.pcm[..n * ch].to_vec())
    }

    /// Decodes a received packet into interleaved samples.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<f32>> {
        if packet.is_empty() {
            return Err(CodecError::Decode { codec: CODEC, reason: "empty packet".into() }.into());
        }
        self.run(packet, false, 6 * FRAME_SAMPLES)
    }

    /// Rebuilds the frame lost just before `next_packet` from the FEC data `next_packet` carries
    /// (falls back to concealment inside Opus if it carries none). `frames` is the lost duration per channel.
    pub fn decode_fec(&mut self, next_packet: &[u8], frames: usize) -> Result<Vec<f32>> {
        self.run(next_packet, true, frames.min(6 * FRAME_SAMPLES))
    }

    /// Synthesises `frames` samples per channel to cover a loss with no FEC available (PLC).
    pub fn conceal(&mut self, frames: usize) -> Result<Vec<f32>> {
        self.run(&[], false, frames.min(6 * FRAME_SAMPLES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{estimate_frequency, ToneGenerator};

    fn tone_frames(n: usize) -> Vec<Vec<f32>> {
        let mut tone = ToneGenerator::new(440.0, 0.4);
        (0..n).map(|_| [tone.next_block(), tone.next_block()].concat()).collect()
    }

    #[test]
    fn round_trip_keeps_the_tone() {
        let mut enc = OpusEncoder::new(OpusConfig::default()).unwrap();
        let mut dec = OpusDecoder::new(1).unwrap();
        let mut out = Vec::new();
        for frame in tone_frames(50) {
            let packet = enc.encode(&frame).unwrap();
            assert!(packet.len() > 2 && packet.len() < 400, "{}", packet.len());
            out.extend(dec.decode(&packet).unwrap());
        }
        assert_eq!(out.len(), 50 * FRAME_SAMPLES);
        let f = estimate_frequency(&out[FRAME_SAMPLES * 5..], SAMPLE_RATE).unwrap();
        assert!((f - 440.0).abs() < 2.0, "{f}");
    }

    #[test]
    fn dtx_makes_silence_tiny() {
        let mut enc = OpusEncoder::new(OpusConfig::default()).unwrap();
        let sizes: Vec<usize> = (0..60).map(|_| enc.encode(&[0.0; FRAME_SAMPLES]).unwrap().len()).collect();
        assert!(sizes[20..].iter().filter(|&&s| s <= 2).count() > 30, "{sizes:?}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut enc = OpusEncoder::new(OpusConfig::default()).unwrap();
        assert!(enc.encode(&[0.0; 100]).is_err());
        let mut dec = OpusDecoder::new(1).unwrap();
        assert!(dec.decode(&[]).is_err());
        assert!(dec.decode(&vec![0xff; 20_000]).is_err());
        // Garbage of a plausible size decodes to something or fails, but never panics.
        let _ = dec.decode(&[0xfc, 0xff, 0xfe, 0x01, 0x02]);
        assert!(OpusDecoder::new(3).is_err());
        assert_eq!(dec.conceal(FRAME_SAMPLES).unwrap().len(), FRAME_SAMPLES);
    }
}
