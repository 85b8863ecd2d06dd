//! A lock-free single-producer single-consumer ring of f32 samples, so that an audio callback
//! never waits for a lock held by the thread that feeds it.
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Samples are stored as their bit patterns in atomics, which keeps this free of `unsafe`.
///
/// Exactly one thread may call the producer method ([`push`](Self::push)) and exactly one the
/// consumer methods ([`pop`](Self::pop), [`skip`](Self::skip)); the owners guarantee it (the
/// producer side sits behind `&mut self` of its owner, the consumer side inside one callback).
#[derive(Debug)]
pub(crate) struct SampleRing {
    slots: Box<[AtomicU32]>,
    mask: usize,
    /// Total samples ever read (only the consumer writes it).
    read: AtomicUsize,
    /// Total samples ever written (only the producer writes it).
    write: AtomicUsize,
}

impl SampleRing {
    /// A ring holding at least `min_capacity` samples (rounded up to a power of two).
    pub(crate) fn new(min_capacity: usize) -> Self {
        let capacity = min_capacity.max(2).next_power_of_two();
        Self {
            slots: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            mask: capacity - 1,
            read: AtomicUsize::new(0),
            write: AtomicUsize::new(0),
        }
    }

    /// How many samples fit.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Samples currently stored.
    pub(crate) fn len(&self) -> usize {
        let read = self.read.load(Ordering::Acquire);
        let write = self.write.load(Ordering::Acquire);
        write.wrapping_sub(read).min(self.capacity())
    }

    /// Producer: appends as many of `samples` as fit; returns how many.
    pub(crate) fn push(&self, samples: &[f32]) -> usize {
        let write = self.write.load(Ordering::Relaxed);
        let read = self.read.load(Ordering::Acquire);
        let free = self.capacity() - write.wrapping_sub(read).min(self.capacity());
        let n = samples.len().min(free);
        for (i, s) in samples[..n].iter().enumerate() {
            self.slots[write.wrapping_add(i) & self.mask].store(s.to_bits(), Ordering::Relaxed);
        }
        self.write.store(write.wrapping_add(n), Ordering::Release);
        n
    }

    /// Consumer: fills the start of `out` with the oldest samples; returns how many.
    pub(crate) fn pop(&self, out: &mut [f32]) -> usize {
        let read = self.read.load(Ordering::Relaxed);
        let write = self.write.load(Ordering::Acquire);
        let n = out.len().min(write.wrapping_sub(read));
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = f32::from_bits(self.slots[read.wrapping_add(i) & self.mask].load(Ordering::Relaxed));
        }
        self.read.store(read.wrapping_add(n), Ordering::Release);
        n
    }

    /// Consumer: discards up to `n` of the oldest samples; returns how many.
    pub(crate) fn skip(&self, n: usize) -> usize {
        let read = self.read.load(Ordering::Relaxed);
        let write = self.write.load(Ordering::Acquire);
        let n = n.min(write.wrapping_sub(read));
        self.read.store(read.wrapping_add(n), Ordering::Release);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn push_pop_wraps_and_bounds() {
        let ring = SampleRing::new(5);
        assert_eq!(ring.capacity(), 8);
        assert_eq!(ring.push(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 6);
        let mut out = [0.0; 4];
        assert_eq!(ring.pop(&mut out), 4);
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(ring.push(&[7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0]), 6);
        assert_eq!(ring.len(), 8);
        assert_eq!(ring.skip(3), 3);
        let mut out = [0.0; 10];
        assert_eq!(ring.pop(&mut out), 5);
        assert_eq!(&out[..5], &[8.0, 9.0, 10.0, 11.0, 12.0]);
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn threads_see_every_sample_in_order() {
        let ring = Arc::new(SampleRing::new(64));
        let producer = {
            let ring = Arc::clone(&ring);
            std::thread::spawn(move || {
                let mut next = 0u32;
                while next < 100_000 {
                    let block: Vec<f32> = (next..(next + 7).min(100_000)).map(|v| v as f32).collect();
                    next += ring.push(&block) as u32;
                }
            })
        };
        let mut expected = 0u32;
        let mut buf = [0.0f32; 16];
        while expected < 100_000 {
            let n = ring.pop(&mut buf);
            for v in &buf[..n] {
                assert_eq!(*v, expected as f32);
                expected += 1;
            }
        }
        producer.join().unwrap();
    }
}
