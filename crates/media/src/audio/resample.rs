//! Sample-rate conversion to 48 kHz (rubato).
