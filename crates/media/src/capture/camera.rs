//! Camera capture through nokhwa.
