//! The VP8 payload descriptor's picture numbering (RFC 7741 §4.2): picture id, TL0PICIDX and KEYIDX. Each
//! simulcast layer counts on its own; when a subscriber moves between layers these must go on from where
//! they were, or its decoder sees a jump and waits for another keyframe.

/// Offsets of the numbering fields inside one packet's descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// Byte offset and width (7 or 15 bits) of the picture id.
    picture_id: Option<(usize, bool)>,
    /// Byte offset of TL0PICIDX.
    tl0: Option<usize>,
    /// Byte offset of the TID/Y/KEYIDX byte, when KEYIDX is present.
    keyidx: Option<usize>,
}

/// The numbering values of one packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Numbers {
    /// Picture id (15-bit space).
    pub picture_id: Option<u16>,
    /// Temporal base-layer picture index.
    pub tl0: Option<u8>,
    /// Key frame index (5 bits).
    pub keyidx: Option<u8>,
}

impl Descriptor {
    /// Parses the descriptor at the start of `payload`; `None` when it is too short.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let first = *payload.first()?;
        let mut d = Self { picture_id: None, tl0: None, keyidx: None };
        if first & 0x80 == 0 {
            return Some(d);
        }
        let ext = *payload.get(1)?;
        let mut at = 2;
        if ext & 0x80 != 0 {
            let long = *payload.get(at)? & 0x80 != 0;
            if long {
                payload.get(at + 1)?;
            }
            d.picture_id = Some((at, long));
            at += if long { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            payload.get(at)?;
            d.tl0 = Some(at);
            at += 1;
        }
        if ext & 0x30 != 0 {
            payload.get(at)?;
            if ext & 0x10 != 0 {
                d.keyidx = Some(at);
            }
        }
        Some(d)
    }

    /// Reads the numbers.
    pub fn read(&self, payload: &[u8]) -> Numbers {
        Numbers {
            picture_id: self.picture_id.map(|(at, long)| {
                if long {
                    u16::from_be_bytes([payload[at] & 0x7f, payload[at + 1]])
                } else {
                    u16::from(payload[at] & 0x7f)
                }
            }),
            tl0: self.tl0.map(|at| payload[at]),
            keyidx: self.keyidx.map(|at| payload[at] & 0x1f),
        }
    }

    /// Writes the numbers present in both the descriptor and `numbers`.
    pub fn write(&self, payload: &mut [u8], numbers: Numbers) {
        if let (Some((at, long)), Some(id)) = (self.picture_id, numbers.picture_id) {
            if long {
                let [hi, lo] = (id & 0x7fff).to_be_bytes();
                payload[at] = 0x80 | hi;
                payload[at + 1] = lo;
            } else {
                payload[at] = (id & 0x7f) as u8;
            }
        }
        if let (Some(at), Some(tl0)) = (self.tl0, numbers.tl0) {
            payload[at] = tl0;
        }
        if let (Some(at), Some(k)) = (self.keyidx, numbers.keyidx) {
            payload[at] = (payload[at] & 0xe0) | (k & 0x1f);
        }
    }
}

/// Renumbering of one subscriber's VP8 stream: offsets chosen at each layer switch.
#[derive(Debug, Default, Clone, Copy)]
pub struct Renumber {
    picture_id: u16,
    tl0: u8,
    keyidx: u8,
    last: Numbers,
}

impl Renumber {
    /// At a switch: the packet `incoming` continues right after the last picture sent.
    pub fn switch(&mut self, incoming: Numbers) {
        if let (Some(i), Some(l)) = (incoming.picture_id, self.last.picture_id) {
            self.picture_id = i.wrapping_sub(l.wrapping_add(1)) & 0x7fff;
        }
        if let (Some(i), Some(l)) = (incoming.tl0, self.last.tl0) {
            self.tl0 = i.wrapping_sub(l.wrapping_add(1));
        }
        if let (Some(i), Some(l)) = (incoming.keyidx, self.last.keyidx) {
            self.keyidx = i.wrapping_sub(l.wrapping_add(1)) & 0x1f;
        }
    }

    /// The outgoing numbers of a forwarded packet.
    pub fn apply(&mut self, incoming: Numbers) -> Numbers {
        let out = Numbers {
            picture_id: incoming.picture_id.map(|p| p.wrapping_sub(self.picture_id) & 0x7fff),
            tl0: incoming.tl0.map(|t| t.wrapping_sub(self.tl0)),
            keyidx: incoming.keyidx.map(|k| k.wrapping_sub(self.keyidx) & 0x1f),
        };
        // Remember the newest picture sent (picture ids only move forward, modulo 2^15).
        let newer = match (out.picture_id, self.last.picture_id) {
            (Some(o), Some(l)) => o != l && (o.wrapping_sub(l) & 0x7fff) < 0x4000,
            _ => true,
        };
        if newer {
            self.last = Numbers {
                picture_id: out.picture_id.or(self.last.picture_id),
                tl0: out.tl0.or(self.last.tl0),
                keyidx: out.keyidx.or(self.last.keyidx),
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// X, I (15-bit id), L, T/K as Chrome sends: id, TL0PICIDX, TID/KEYIDX, then the frame header.
    fn packet(picture_id: u16, tl0: u8, keyidx: u8) -> Vec<u8> {
        let [hi, lo] = picture_id.to_be_bytes();
        vec![0x90, 0xf0, 0x80 | hi, lo, tl0, 0x40 | keyidx, 0x50]
    }

    #[test]
    fn reads_and_writes_chrome_descriptors() {
        let mut p = packet(0x1234, 7, 3);
        let d = Descriptor::parse(&p).unwrap();
        assert_eq!(d.read(&p), Numbers { picture_id: Some(0x1234), tl0: Some(7), keyidx: Some(3) });
        d.write(&mut p, Numbers { picture_id: Some(0x7fff), tl0: Some(255), keyidx: Some(31) });
        assert_eq!(d.read(&p), Numbers { picture_id: Some(0x7fff), tl0: Some(255), keyidx: Some(31) });
        // TID and Y bits around KEYIDX are kept.
        assert_eq!(p[5] & 0xe0, 0x40);
        // Truncated descriptors do not parse.
        assert_eq!(Descriptor::parse(&[0x90, 0xf0, 0x80]), None);
        assert_eq!(Descriptor::parse(&[0x10]).map(|d| d.read(&[0x10])), Some(Numbers::default()));
    }

    #[test]
    fn numbering_continues_across_a_switch() {
        let mut r = Renumber::default();
        let d = Descriptor::parse(&packet(0, 0, 0)).unwrap();
        let read = |p: &[u8]| d.read(p);
        // Layer A: pictures 100..=104.
        for id in 100..=104u16 {
            let out = r.apply(read(&packet(id, (id % 256) as u8, 1)));
            assert_eq!(out.picture_id, Some(id));
        }
        // Switch to layer B, whose counters are elsewhere: 30000, tl0 9, keyidx 20.
        let first_b = read(&packet(30_000, 9, 20));
        r.switch(first_b);
        assert_eq!(r.apply(first_b), Numbers { picture_id: Some(105), tl0: Some(105), keyidx: Some(2) });
        assert_eq!(r.apply(read(&packet(30_001, 10, 20))).picture_id, Some(106));
        // Wrap-around of the 15-bit space stays continuous.
        let mut w = Renumber::default();
        w.apply(read(&packet(0x7fff, 0, 0)));
        let next = read(&packet(5, 0, 0));
        w.switch(next);
        assert_eq!(w.apply(next).picture_id, Some(0));
    }
}
