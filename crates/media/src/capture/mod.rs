//! Real capture devices: camera (nokhwa), screen (scrap), microphone and speaker (cpal).
pub mod audio;
pub mod camera;
pub mod screen;
