//! The SDES header extensions that tie an RTP stream to its media section and simulcast layer: `mid`
//! (RFC 8843) and `rid` (RFC 8852). A receiver that meets an unknown SSRC (every simulcast layer, which
//! the SDP lists only by rid) reads them to know what it is; webrtc-rs does not add them when it sends,
//! so a sender built on it stamps them itself.
use std::borrow::Cow;

use rtc::rtp::extension::HeaderExtension;
use rtc::sdp::extmap::{SDES_MID_URI, SDES_RTP_STREAM_ID_URI};
use rtc::shared::error::{Error, Result};
use rtc::shared::marshal::{Marshal, MarshalSize};

/// An SDES item's value, as the extension carries it (its bytes, no length or terminator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem(pub String);

impl MarshalSize for SdesItem {
    fn marshal_size(&self) -> usize {
        self.0.len()
    }
}

impl Marshal for SdesItem {
    fn marshal_to(&self, buf: &mut [u8]) -> Result<usize> {
        let bytes = self.0.as_bytes();
        let Some(out) = buf.get_mut(..bytes.len()) else { return Err(Error::BufferTooShort) };
        out.copy_from_slice(bytes);
        Ok(bytes.len())
    }
}

fn extension(uri: &'static str, value: &str) -> HeaderExtension {
    HeaderExtension::Custom { uri: Cow::Borrowed(uri), extension: Box::new(SdesItem(value.to_owned())) }
}

/// The media section a packet belongs to.
pub fn mid(value: &str) -> HeaderExtension {
    extension(SDES_MID_URI, value)
}

/// The simulcast layer a packet belongs to.
pub fn rid(value: &str) -> HeaderExtension {
    extension(SDES_RTP_STREAM_ID_URI, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_written_as_is() {
        let item = SdesItem("h".into());
        let mut buf = [0u8; 4];
        assert_eq!(item.marshal_to(&mut buf).ok(), Some(1));
        assert_eq!(buf[0], b'h');
        assert!(SdesItem("toolong".into()).marshal_to(&mut buf).is_err());
        assert_eq!(mid("1").uri(), SDES_MID_URI);
        assert_eq!(rid("q").uri(), SDES_RTP_STREAM_ID_URI);
    }
}
