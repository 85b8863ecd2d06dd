//! Colour conversion and scaling.
