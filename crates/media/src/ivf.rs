//! IVF container reading.
