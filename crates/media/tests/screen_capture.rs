//! Screen capture against a real X server (Xvfb, started by `scripts/test-env.sh`).
//!
//! The tests draw their own override-redirect windows of known colours at known places with x11rb,
//! capture through `ScreenCapture`, and check the pixels. They share one display, so they run one at a
//! time (a process-wide lock). Missing-display and unsupported-server cases run in child processes,
//! so that a crash inside the capture library would fail the test instead of killing the runner.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use colloque_media::capture::screen::{list_displays, DisplayInfo, ScreenCapture};
use colloque_media::convert::i420_to_rgba;
use colloque_media::error::CaptureError;
use colloque_media::{Error, VideoFrame, VideoSource};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConfigureWindowAux, ConnectionExt as _, CreateWindowAux, MapState, WindowClass,
};
use x11rb::rust_connection::RustConnection;

const RED: u32 = 0xFF_00_00;
const BLUE: u32 = 0x00_00_FF;
/// Environment variable that turns `probe_in_child_process` into the child's probe.
const PROBE_VAR: &str = "COLLOQUE_SCREEN_PROBE";

/// The screen tests share one X display: one at a time.
fn display_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Connects to the test X server, failing with instructions when there is none.
///
/// The first call also opens a connection that stays open for the whole run: an X server whose last
/// client leaves resets itself and drops connections meanwhile, which would make the tests flaky.
fn x11() -> (RustConnection, usize) {
    static KEEP_SERVER_UP: OnceLock<RustConnection> = OnceLock::new();
    let display = std::env::var("DISPLAY").unwrap_or_default();
    assert!(
        !display.is_empty(),
        "DISPLAY is not set: these tests need Xvfb. Run `eval \"$(scripts/test-env.sh)\"` first (`make test` does)"
    );
    KEEP_SERVER_UP.get_or_init(|| connect_retrying(&display).0);
    connect_retrying(&display)
}

fn connect_retrying(display: &str) -> (RustConnection, usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match x11rb::connect(Some(display)) {
            Ok(connection) => return connection,
            Err(e) if Instant::now() >= deadline => panic!("cannot connect to X display {display}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A mapped, override-redirect (no window manager needed) window filled with one colour.
struct TestWindow<'c> {
    conn: &'c RustConnection,
    id: u32,
}

impl<'c> TestWindow<'c> {
    fn new(conn: &'c RustConnection, screen: usize, (x, y, w, h): (i16, i16, u16, u16), rgb: u32) -> Self {
        let root = conn.setup().roots[screen].root;
        let id = conn.generate_id().unwrap();
        let aux = CreateWindowAux::new().background_pixel(rgb).override_redirect(1);
        conn.create_window(0, id, root, x, y, w, h, 0, WindowClass::INPUT_OUTPUT, 0, &aux).unwrap();
        conn.map_window(id).unwrap();
        conn.flush().unwrap();
        let window = Self { conn, id };
        window.wait_viewable();
        window
    }

    fn wait_viewable(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let attrs = self.conn.get_window_attributes(self.id).unwrap().reply().unwrap();
            if attrs.map_state == MapState::VIEWABLE {
                break;
            }
            assert!(Instant::now() < deadline, "test window was not mapped within 5 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        self.sync();
    }

    /// A round trip: every request sent before has been carried out by the server.
    fn sync(&self) {
        self.conn.get_input_focus().unwrap().reply().unwrap();
    }

    fn recolour_and_move(&self, rgb: u32, x: i32, y: i32) {
        let attrs = ChangeWindowAttributesAux::new().background_pixel(rgb);
        self.conn.change_window_attributes(self.id, &attrs).unwrap();
        self.conn.configure_window(self.id, &ConfigureWindowAux::new().x(x).y(y)).unwrap();
        self.conn.clear_area(false, self.id, 0, 0, 0, 0).unwrap();
        self.conn.flush().unwrap();
        self.sync();
    }
}

impl Drop for TestWindow<'_> {
    fn drop(&mut self) {
        let _ = self.conn.destroy_window(self.id);
        let _ = self.conn.flush();
        let _ = self.conn.get_input_focus().map(|c| c.reply());
    }
}

/// A frame converted to RGBA for pixel checks.
struct Rgba {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl Rgba {
    fn of(frame: &VideoFrame) -> Self {
        Self {
            width: frame.width() as usize,
            height: frame.height() as usize,
            data: i420_to_rgba(frame).unwrap(),
        }
    }

    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 4;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Bounding box `(x0, y0, x1, y1)` (inclusive) and count of the pixels close to `rgb`.
    fn find(&self, rgb: u32) -> Option<((usize, usize, usize, usize), usize)> {
        let mut bbox: Option<(usize, usize, usize, usize)> = None;
        let mut count = 0;
        for y in 0..self.height {
            for x in 0..self.width {
                if close(self.pixel(x, y), rgb) {
                    count += 1;
                    let b = bbox.get_or_insert((x, y, x, y));
                    *b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
                }
            }
        }
        bbox.map(|b| (b, count))
    }
}

/// Whether a pixel is `rgb` give or take the YUV 4:2:0 round trip.
fn close(px: [u8; 3], rgb: u32) -> bool {
    let want = [(rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8];
    px.iter().zip(want).all(|(&got, want)| (i32::from(got) - i32::from(want)).abs() <= 24)
}

/// Checks that `rgb` fills exactly `rect` (give or take `slack` pixels at the edges) and nothing else.
fn assert_colour_at(img: &Rgba, rgb: u32, (x, y, w, h): (usize, usize, usize, usize), slack: usize) {
    // Inside, away from the edges where chroma subsampling blends colours: all of it.
    for py in (y + slack..y + h - slack).step_by(3) {
        for px in (x + slack..x + w - slack).step_by(3) {
            assert!(
                close(img.pixel(px, py), rgb),
                "pixel ({px},{py}) = {:?}, expected {rgb:06x}",
                img.pixel(px, py)
            );
        }
    }
    // Nowhere else: the bounding box of that colour is the window's rectangle.
    let (bbox, count) = img.find(rgb).unwrap_or_else(|| panic!("colour {rgb:06x} not found"));
    let expected = (x, y, x + w - 1, y + h - 1);
    let near = |a: usize, b: usize| a.abs_diff(b) <= slack;
    assert!(
        near(bbox.0, expected.0)
            && near(bbox.1, expected.1)
            && near(bbox.2, expected.2)
            && near(bbox.3, expected.3),
        "colour {rgb:06x} covers {bbox:?}, expected {expected:?}"
    );
    let area = w * h;
    let margin = 2 * slack * (w + h) + 4;
    assert!(
        count.abs_diff(area) <= margin,
        "colour {rgb:06x} covers {count} pixels, expected {area} ± {margin}"
    );
}

fn screen_size(conn: &RustConnection, screen: usize) -> (u32, u32) {
    let s = &conn.setup().roots[screen];
    (u32::from(s.width_in_pixels), u32::from(s.height_in_pixels))
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let resident_pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    resident_pages * 4096
}

#[test]
#[ignore = "needs Xvfb: run through make test"]
fn lists_the_screen() {
    let _lock = display_lock();
    let (conn, screen) = x11();
    let displays = list_displays().unwrap();
    assert!(!displays.is_empty(), "no display listed");
    let (w, h) = screen_size(&conn, screen);
    let first = &displays[0];
    assert_eq!((first.index, first.x, first.y, first.width, first.height), (0, 0, 0, w, h), "{displays:?}");
    assert!(!first.name.is_empty());
    assert_eq!(displays.iter().filter(|d| d.primary).count(), 1, "exactly one primary: {displays:?}");
}

#[test]
#[ignore = "needs Xvfb: run through make test"]
fn captures_a_window_where_it_is_and_follows_changes() {
    let _lock = display_lock();
    let (conn, screen) = x11();
    let (sw, sh) = screen_size(&conn, screen);
    let window = TestWindow::new(&conn, screen, (200, 150, 320, 240), RED);

    let mut capture = ScreenCapture::open(0, 30).unwrap();
    let info = capture.info();
    assert_eq!((info.width, info.height, info.fps), (sw & !1, sh & !1, 30));
    let frame = capture.next_frame().unwrap();
    assert_eq!((frame.width(), frame.height()), (sw & !1, sh & !1), "frame size is the screen size");
    assert_eq!(frame.data().len(), VideoFrame::buffer_len(frame.width(), frame.height()));
    let img = Rgba::of(&frame);
    assert_colour_at(&img, RED, (200, 150, 320, 240), 1);
    assert!(!close(img.pixel(150, 100), RED) && !close(img.pixel(700, 600), RED), "red outside the window");

    // Live, not stale: within a few frames (scrap requests each picture one frame ahead, and the X server
    // repaints asynchronously) the window shows recoloured and moved, and red is gone everywhere.
    window.recolour_and_move(BLUE, 900, 500);
    let mut img = Rgba::of(&capture.next_frame().unwrap());
    let mut frames = 1;
    while let Some(red) = img.find(RED) {
        assert!(frames < 5, "red still on screen at {red:?} {frames} frames after the window turned blue");
        img = Rgba::of(&capture.next_frame().unwrap());
        frames += 1;
    }
    println!("the change showed {frames} frame(s) after it was made");
    assert_colour_at(&img, BLUE, (900, 500, 320, 240), 1);
}

#[test]
#[ignore = "needs Xvfb: run through make test"]
fn scales_to_a_maximum_size_keeping_the_aspect_ratio() {
    let _lock = display_lock();
    let (conn, screen) = x11();
    let (sw, sh) = screen_size(&conn, screen);
    assert_eq!((sw, sh), (1920, 1080), "test-env.sh starts a 1920x1080 Xvfb");
    let _window = TestWindow::new(&conn, screen, (300, 240, 480, 360), RED);

    let mut capture = ScreenCapture::open(0, 15).unwrap().with_max_size(1280, 1280);
    assert_eq!((capture.info().width, capture.info().height), (1280, 720));
    let frame = capture.next_frame().unwrap();
    assert_eq!((frame.width(), frame.height()), (1280, 720));
    // 2/3 scale: the window lands at (200,160), 320x240, edges blurred by the bilinear filter.
    assert_colour_at(&Rgba::of(&frame), RED, (200, 160, 320, 240), 2);
}

#[test]
#[ignore = "needs Xvfb: run through make test"]
fn long_capture_keeps_valid_frames_rising_timestamps_and_flat_memory() {
    let _lock = display_lock();
    let (conn, screen) = x11();
    let window = TestWindow::new(&conn, screen, (40, 40, 64, 64), RED);
    let mut capture = ScreenCapture::open(0, 30).unwrap();
    let info = capture.info();

    let started = Instant::now();
    let mut last_ts = None;
    let mut rss_at_30 = 0;
    for i in 1..=150u32 {
        if i == 75 {
            window.recolour_and_move(BLUE, 40, 40);
        }
        let frame = capture.next_frame().unwrap();
        assert_eq!((frame.width(), frame.height()), (info.width, info.height), "frame {i}");
        assert_eq!(frame.data().len(), VideoFrame::buffer_len(info.width, info.height), "frame {i}");
        if let Some(previous) = last_ts {
            assert!(
                frame.timestamp > previous,
                "frame {i}: timestamp {:?} after {previous:?}",
                frame.timestamp
            );
        }
        last_ts = Some(frame.timestamp);
        if i == 1 || i == 150 {
            let want = if i == 1 { RED } else { BLUE };
            let img = Rgba::of(&frame);
            assert!(close(img.pixel(72, 72), want), "frame {i}: window pixel {:?}", img.pixel(72, 72));
        }
        if i == 30 {
            rss_at_30 = rss_bytes();
        }
    }
    let elapsed = started.elapsed();
    let growth = rss_bytes().saturating_sub(rss_at_30);
    eprintln!(
        "150 frames of {}x{} in {elapsed:.2?} ({:.1} fps); RSS growth from frame 30 to 150: {} KiB",
        info.width,
        info.height,
        150.0 / elapsed.as_secs_f64(),
        growth / 1024
    );
    assert!(growth < 6 * 1024 * 1024, "RSS grew by {} KiB between frame 30 and 150", growth / 1024);

    // Cost of one grab + conversion, measured with a consumer that is always late (so the capture
    // never sleeps): reported, not asserted.
    let mut spent = Duration::ZERO;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(70));
        let t = Instant::now();
        capture.next_frame().unwrap();
        spent += t.elapsed();
    }
    eprintln!(
        "grab + BGRA→I420 of {}x{}: {:.2} ms per frame",
        info.width,
        info.height,
        spent.as_secs_f64() * 50.0
    );
}

/// Open descriptors, capture threads and System V shared-memory segments this process created.
fn resources() -> (usize, usize, usize) {
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let threads = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.starts_with("screen-captur"))
        .count();
    let pid = std::process::id().to_string();
    let segments = std::fs::read_to_string("/proc/sysvipc/shm")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|line| line.split_whitespace().nth(4) == Some(pid.as_str()))
        .count();
    (fds, threads, segments)
}

/// Waits (up to 3 s) for the X server to process closed connections, then returns [`resources`].
fn settled_resources() -> (usize, usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = resources();
        if (now.1, now.2) == (0, 0) || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs Xvfb: run through make test"]
fn the_screen_buffer_is_private_to_this_user() {
    let _lock = display_lock();
    let _ = x11();
    let mut capture = ScreenCapture::open(0, 30).unwrap();
    capture.next_frame().unwrap();
    let pid = std::process::id().to_string();
    let ours: Vec<(u32, u32)> = std::fs::read_to_string("/proc/sysvipc/shm")
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.get(4) == Some(&pid.as_str()))
        .map(|f| (u32::from_str_radix(f[2], 8).unwrap(), f[6].parse().unwrap()))
        .collect();
    assert!(!ours.is_empty(), "the capture's shared memory is listed while it runs");
    for (mode, attached) in ours {
        // 0o1000 is SHM_DEST: freed as soon as the last user detaches, even if this process crashes.
        assert_eq!(mode, 0o1600, "screen buffer mode {mode:o}: readable by other users or left behind");
        assert!(attached <= 2, "{attached} processes attached to the screen buffer");
    }
}

#[test]
#[ignore = "needs Xvfb: run through make test"]
fn reopening_leaks_no_threads_descriptors_or_shared_memory() {
    let _lock = display_lock();
    let _ = x11();
    ScreenCapture::open(0, 30).unwrap().next_frame().unwrap();
    let before = settled_resources();
    assert_eq!((before.1, before.2), (0, 0), "capture thread or shm segment left after closing");
    for _ in 0..20 {
        let mut capture = ScreenCapture::open(0, 60).unwrap();
        capture.next_frame().unwrap();
        let during = resources();
        // (The previous capture's segment may not be released by the server yet.)
        assert!(
            during.1 == 1 && during.2 >= 1,
            "one capture thread and its shm segment while open: {during:?}"
        );
    }
    // The X server lets go of the shared memory once it has processed the disconnection.
    assert_eq!(
        settled_resources(),
        before,
        "(descriptors, capture threads, shm segments) after 20 open/close"
    );
}

#[test]
#[ignore = "needs Xvfb: run through make test"]
fn bad_requests_are_errors() {
    let _lock = display_lock();
    let _ = x11();
    let count = list_displays().unwrap().len() as u32;
    match ScreenCapture::open(count + 5, 30) {
        Err(Error::Capture(CaptureError::DeviceNotFound { kind: "display", .. })) => {}
        other => panic!("expected DeviceNotFound, got {other:?}"),
    }
    for fps in [0, 1000] {
        match ScreenCapture::open(0, fps) {
            Err(Error::Capture(CaptureError::OpenFailed { .. })) => {}
            other => panic!("fps {fps}: expected OpenFailed, got {other:?}"),
        }
    }
}

/// Runs `probe_in_child_process` in a child with the given environment changes; returns its output.
fn run_probe(display: Option<&str>) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "probe_in_child_process", "--nocapture", "--test-threads=1"])
        .env(PROBE_VAR, "1")
        .env_remove("WAYLAND_DISPLAY");
    match display {
        Some(d) => cmd.env("DISPLAY", d),
        None => cmd.env_remove("DISPLAY"),
    };
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "probe child failed ({:?}):\n{text}", out.status);
    assert!(text.contains("PROBE-OK"), "probe child did not run:\n{text}");
    text
}

/// In a child process started by the tests below: screen capture must be refused as unavailable,
/// cleanly. Without the probe variable (a normal test run) it does nothing.
#[test]
fn probe_in_child_process() {
    if std::env::var_os(PROBE_VAR).is_none() {
        return;
    }
    let listed = list_displays();
    let opened = ScreenCapture::open(0, 30).map(|c| c.display().clone());
    for (what, result) in [("list_displays", listed.map(|_| ())), ("open", opened.map(|_: DisplayInfo| ()))] {
        match result {
            Err(Error::Capture(CaptureError::Unavailable { kind: "screen", reason })) => {
                println!("{what}: unavailable: {reason}");
            }
            other => panic!("{what}: expected Unavailable, got {other:?}"),
        }
    }
    println!("PROBE-OK");
}

#[test]
fn without_a_display_capture_is_unavailable() {
    // Children hold descriptors: not while another test counts them.
    let _lock = display_lock();
    let out = run_probe(None);
    assert!(out.contains("DISPLAY is not set"), "{out}");
}

/// A private Xvfb with unusual settings, killed on drop.
struct PrivateXvfb {
    child: Child,
    display: String,
}

impl PrivateXvfb {
    fn start(number: u32, args: &[&str]) -> Self {
        let display = format!(":{number}");
        let child = Command::new("Xvfb")
            .arg(&display)
            .args(["-nolisten", "tcp"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start Xvfb (is it installed? scripts/setup-system.sh test): {e}")
            });
        let server = Self { child, display };
        let deadline = Instant::now() + Duration::from_secs(10);
        while x11rb::connect(Some(&server.display)).is_err() {
            assert!(Instant::now() < deadline, "private Xvfb {} did not start", server.display);
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for PrivateXvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs Xvfb: run through make test"]
fn unsupported_x_servers_are_refused_not_crashed_on() {
    let _lock = display_lock();
    let _ = x11();
    // scrap 0.5 dereferences a null RandR reply here: the pre-flight check must refuse first.
    let no_randr = PrivateXvfb::start(173, &["-extension", "RANDR", "-screen", "0", "640x480x24"]);
    let out = run_probe(Some(&no_randr.display));
    assert!(out.contains("RandR"), "{out}");
    drop(no_randr);
    // 16-bit pixels: scrap would read them as 32-bit garbage.
    let depth16 = PrivateXvfb::start(174, &["-screen", "0", "640x480x16"]);
    let out = run_probe(Some(&depth16.display));
    assert!(out.contains("depth 16"), "{out}");
}
