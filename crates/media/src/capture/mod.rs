//! Real capture devices: camera (nokhwa), screen (scrap), microphone and speaker (cpal).
