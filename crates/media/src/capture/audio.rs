//! Microphone and speaker through cpal.
