//! LiveKit-style ids: a type prefix and 12 random base62 characters (`RM_…`, `PA_…`, `TR_…`).
use rand::Rng;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn make(prefix: &str) -> String {
    let mut rng = rand::rng();
    let tail: String = (0..12).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
    format!("{prefix}{tail}")
}

/// A room id.
pub fn room() -> String {
    make("RM_")
}

/// A participant id.
pub fn participant() -> String {
    make("PA_")
}

/// A track id.
pub fn track() -> String {
    make("TR_")
}

/// A webhook event id.
pub fn event() -> String {
    make("EV_")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_have_prefix_and_length_and_differ() {
        let (a, b) = (super::participant(), super::participant());
        assert!(a.starts_with("PA_") && a.len() == 15 && a != b);
        assert!(super::room().starts_with("RM_"));
    }
}
