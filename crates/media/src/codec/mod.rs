//! Video and audio codecs.
