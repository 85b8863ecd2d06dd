//! Locks down scrap's X11 shared-memory screen buffer.
//!
//! scrap 0.5 creates the segment that receives every screen picture with mode 0777: any local user could
//! attach it and watch the screen (a shared meeting, a document) while capture runs, and it outlives a
//! crashed process. Right after scrap creates it we find it in `/proc/sysvipc/shm` (created by this
//! process, mode 0777, the size scrap asks for), set its mode to 0600 and mark it for removal (Linux lets
//! the X server attach a marked segment; it is freed when the last user detaches, even after a crash).
//! Someone may have attached in the instant between creation and lock-down: the attachment count is checked
//! once the X server has attached, and the capture refuses to run if a third party holds the buffer.
use std::io;

/// One segment created by this process, as `/proc/sysvipc/shm` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    shmid: i32,
    mode: u32,
    size: usize,
    creator: u32,
    attached: u32,
}

fn parse(table: &str) -> Vec<Segment> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            Some(Segment {
                shmid: f.get(1)?.parse().ok()?,
                mode: u32::from_str_radix(f.get(2)?, 8).ok()?,
                size: f.get(3)?.parse().ok()?,
                creator: f.get(4)?.parse().ok()?,
                attached: f.get(6)?.parse().ok()?,
            })
        })
        .collect()
}

fn segments() -> io::Result<Vec<Segment>> {
    Ok(parse(&std::fs::read_to_string("/proc/sysvipc/shm")?))
}

/// The world-accessible segments of `size` bytes that this process created: scrap's fresh buffer.
fn open_segments(size: usize) -> io::Result<Vec<Segment>> {
    let pid = std::process::id();
    Ok(segments()?
        .into_iter()
        .filter(|s| s.creator == pid && s.size == size && s.mode & 0o777 == 0o777)
        .collect())
}

/// Restricts scrap's new buffer(s) of `size` bytes to this user and marks them for removal.
/// Returns the segment ids, for [`check_attachments`].
pub(super) fn lock_down(size: usize) -> io::Result<Vec<i32>> {
    let mut locked = Vec::new();
    for segment in open_segments(size)? {
        // SAFETY: shmid_ds is plain data; IPC_STAT fills it and IPC_SET reads it, both for a segment this
        // process created.
        unsafe {
            let mut ds: libc::shmid_ds = std::mem::zeroed();
            if libc::shmctl(segment.shmid, libc::IPC_STAT, &mut ds) != 0 {
                return Err(io::Error::last_os_error());
            }
            ds.shm_perm.mode = 0o600;
            if libc::shmctl(segment.shmid, libc::IPC_SET, &mut ds) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::shmctl(segment.shmid, libc::IPC_RMID, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        locked.push(segment.shmid);
    }
    Ok(locked)
}

/// Fails if any locked segment has more users than this process and the X server.
pub(super) fn check_attachments(shmids: &[i32]) -> Result<(), String> {
    let table = segments().map_err(|e| format!("cannot read /proc/sysvipc/shm: {e}"))?;
    for segment in table.iter().filter(|s| shmids.contains(&s.shmid)) {
        if segment.attached > 2 {
            return Err(format!(
                "another process attached to the screen buffer ({} attachments): capture refused",
                segment.attached
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_table() {
        let table = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n\
                     0          7       1777              16588800  4242  4242      2     0     0     0     0 1764300000 0 1764300000 0 0\n\
                     0          9        600                  4096  1000  1000      1     0     0     0     0 0 0 0 0 0\n";
        let s = parse(table);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], Segment { shmid: 7, mode: 0o1777, size: 16_588_800, creator: 4242, attached: 2 });
        assert_eq!(s[1].mode & 0o777, 0o600);
    }

    #[test]
    fn locks_down_a_world_readable_segment_of_this_process() {
        let size = 12_345 * 4;
        // SAFETY: creating, attaching and detaching a private segment for the test.
        let shmid = unsafe { libc::shmget(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o777) };
        assert!(shmid >= 0);
        let ids = lock_down(size).unwrap();
        assert_eq!(ids, vec![shmid]);
        let seg = segments().unwrap().into_iter().find(|s| s.shmid == shmid);
        // Marked for removal and unattached: the kernel has already freed it.
        assert!(seg.is_none() || seg.is_some_and(|s| s.mode & 0o777 == 0o600), "{seg:?}");
        assert!(check_attachments(&ids).is_ok());
    }
}
