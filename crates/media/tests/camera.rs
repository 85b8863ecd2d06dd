//! Cameras. This machine has none (no /dev/video*): the no-device paths must give clean errors, never a
//! panic. On a machine with a camera the same tests open it and check that it delivers frames of the
//! size it announced.
use colloque_media::capture::camera::{list_cameras, Camera};
use colloque_media::error::CaptureError;
use colloque_media::{Error, VideoSource};

fn is_no_device(result: &Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(result, Err(Error::Capture(CaptureError::NoDevice { kind: "camera" })))
}

#[test]
fn listing_cameras_gives_a_list_without_panicking() {
    let cameras = list_cameras().unwrap();
    for camera in &cameras {
        assert!(!camera.name.is_empty(), "{camera:?}");
    }
    let mut indexes: Vec<u32> = cameras.iter().map(|c| c.index).collect();
    indexes.dedup();
    assert_eq!(indexes.len(), cameras.len(), "indexes are unique and sorted: {cameras:?}");
}

#[test]
fn default_camera_opens_and_captures_or_is_no_device() {
    let cameras = list_cameras().unwrap();
    if cameras.is_empty() {
        let opened = Camera::open(None);
        assert!(is_no_device(&opened), "expected NoDevice, got {opened:?}");
        let formats = Camera::list_formats(None);
        assert!(is_no_device(&formats), "expected NoDevice, got {formats:?}");
        let opened = Camera::open_with(None, 640, 480, 15);
        assert!(is_no_device(&opened), "expected NoDevice, got {opened:?}");
        return;
    }
    // A machine with a camera.
    let mut camera = Camera::open(None).unwrap();
    let info = camera.info();
    let mode = camera.mode();
    assert!(camera.formats().contains(&mode), "{mode:?} not among {:?}", camera.formats());
    assert_eq!((info.width, info.height), (mode.width & !1, mode.height & !1));
    let mut last = None;
    for _ in 0..3 {
        let frame = camera.next_frame().unwrap();
        assert_eq!((frame.width(), frame.height()), (info.width, info.height));
        if let Some(previous) = last {
            assert!(frame.timestamp > previous);
        }
        last = Some(frame.timestamp);
    }
}

#[test]
fn unknown_camera_index_is_not_found() {
    let cameras = list_cameras().unwrap();
    let missing = cameras.iter().map(|c| c.index + 1).max().unwrap_or(7).max(7);
    match Camera::open(Some(missing)) {
        Err(Error::Capture(CaptureError::NoDevice { kind: "camera" })) => assert!(cameras.is_empty()),
        Err(Error::Capture(CaptureError::DeviceNotFound { kind: "camera", name })) => {
            assert_eq!(name, missing.to_string());
        }
        other => panic!("camera {missing}: expected NoDevice or DeviceNotFound, got {other:?}"),
    }
}
