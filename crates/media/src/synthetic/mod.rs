//! Synthetic sources for tests and demos.
