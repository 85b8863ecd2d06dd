//! A userspace network impairment for media (netem is not available on these machines): the SFU
//! advertises a relay address instead of each UDP socket it binds (`ServerConfig::advertise`), and every
//! packet between a client and that socket crosses the relay, which drops, delays and rate-limits it
//! as the test says — and may change its mind mid-call (a loss burst, a bandwidth cap lifted).
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the path does to packets, both ways.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Share of packets dropped at random (0 to 1).
    pub loss: f64,
    /// One-way delay added to every packet.
    pub delay: Duration,
    /// Bottleneck rate per direction, bits per second (a queue of at most `queue` in front of it; what
    /// does not fit is dropped, as at a router).
    pub rate_bps: Option<u64>,
    /// Longest the bottleneck queue may hold.
    pub queue: Duration,
}

impl Default for Impairment {
    fn default() -> Self {
        Self { loss: 0.0, delay: Duration::ZERO, rate_bps: None, queue: Duration::from_millis(200) }
    }
}

/// The relay: one per test server; `set` changes the impairment of every path at once.
#[derive(Debug, Clone, Default)]
pub struct ImpairedNetwork {
    impairment: Arc<Mutex<Impairment>>,
    relays: Arc<Mutex<HashMap<SocketAddr, SocketAddr>>>,
}

/// A direction's bottleneck: when its queue drains.
#[derive(Debug, Default)]
struct Bottleneck {
    free_at: Option<Instant>,
}

impl Bottleneck {
    /// When a packet of `bytes` leaves, or `None` when the queue is full and it is dropped.
    fn schedule(&mut self, bytes: usize, now: Instant, imp: &Impairment) -> Option<Instant> {
        let Some(rate) = imp.rate_bps.filter(|r| *r > 0) else { return Some(now) };
        let start = self.free_at.map_or(now, |t| t.max(now));
        if start.duration_since(now) > imp.queue {
            return None;
        }
        let done = start + Duration::from_secs_f64(bytes as f64 * 8.0 / rate as f64);
        self.free_at = Some(done);
        Some(done)
    }
}

impl ImpairedNetwork {
    /// A network with no impairment yet.
    pub fn new(impairment: Impairment) -> Self {
        Self { impairment: Arc::new(Mutex::new(impairment)), ..Self::default() }
    }

    /// Changes what the path does, from the next packet on.
    pub fn set(&self, impairment: Impairment) {
        if let Ok(mut imp) = self.impairment.lock() {
            *imp = impairment;
        }
    }

    /// The address map for `ServerConfig::advertise`: a relay in front of each socket the server binds
    /// (created on first use, inside the server's tokio runtime).
    pub fn advertise(&self) -> Arc<dyn Fn(SocketAddr) -> SocketAddr + Send + Sync> {
        let network = self.clone();
        Arc::new(move |target| network.relay_for(target).unwrap_or(target))
    }

    fn relay_for(&self, target: SocketAddr) -> Option<SocketAddr> {
        let mut relays = self.relays.lock().ok()?;
        if let Some(addr) = relays.get(&target) {
            return Some(*addr);
        }
        let outer = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
        let inner = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
        outer.set_nonblocking(true).ok()?;
        inner.set_nonblocking(true).ok()?;
        inner.connect(target).ok()?;
        let addr = outer.local_addr().ok()?;
        let (outer, inner) = (UdpSocket::from_std(outer).ok()?, UdpSocket::from_std(inner).ok()?);
        tokio::spawn(relay(Arc::new(outer), Arc::new(inner), self.impairment.clone()));
        relays.insert(target, addr);
        Some(addr)
    }
}

/// Forwards between the client side (`outer`, whatever address last wrote to it) and the server's
/// socket (`inner`, connected), impairing each packet. Each direction sends from one queue, in order, as
/// a network path does (a task per packet would reorder them).
async fn relay(outer: Arc<UdpSocket>, inner: Arc<UdpSocket>, impairment: Arc<Mutex<Impairment>>) {
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let (mut up, mut down) = (Bottleneck::default(), Bottleneck::default());
    let (mut from_client, mut from_server) = (vec![0u8; 2048], vec![0u8; 2048]);
    let (to_server, mut server_queue) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let (to_client, mut client_queue) = mpsc::unbounded_channel::<(Instant, Vec<u8>, SocketAddr)>();
    let sender = inner.clone();
    let upstream = tokio::spawn(async move {
        while let Some((at, packet)) = server_queue.recv().await {
            tokio::time::sleep_until(at).await;
            let _ = sender.send(&packet).await;
        }
    });
    let sender = outer.clone();
    let downstream = tokio::spawn(async move {
        while let Some((at, packet, addr)) = client_queue.recv().await {
            tokio::time::sleep_until(at).await;
            let _ = sender.send_to(&packet, addr).await;
        }
    });
    loop {
        tokio::select! {
            got = outer.recv_from(&mut from_client) => {
                let Ok((n, addr)) = got else { break };
                if let Ok(mut c) = client.lock() {
                    *c = Some(addr);
                }
                if let Some(at) = admit(n, &mut up, &impairment) {
                    let _ = to_server.send((at, from_client[..n].to_vec()));
                }
            }
            got = inner.recv(&mut from_server) => {
                let Ok(n) = got else { break };
                let Some(addr) = client.lock().ok().and_then(|c| *c) else { continue };
                if let Some(at) = admit(n, &mut down, &impairment) {
                    let _ = to_client.send((at, from_server[..n].to_vec(), addr));
                }
            }
        }
    }
    upstream.abort();
    downstream.abort();
}

/// When a packet of `bytes` is delivered, or `None` when the path drops it (at random, or at a full
/// bottleneck queue).
fn admit(bytes: usize, bottleneck: &mut Bottleneck, impairment: &Mutex<Impairment>) -> Option<Instant> {
    let imp = impairment.lock().ok().map(|i| *i)?;
    if imp.loss > 0.0 && rand::random::<f64>() < imp.loss {
        return None;
    }
    let leaves = bottleneck.schedule(bytes, Instant::now(), &imp)?;
    Some(leaves + imp.delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bottleneck_spaces_packets_at_its_rate_and_drops_beyond_its_queue() {
        let imp =
            Impairment { rate_bps: Some(80_000), queue: Duration::from_millis(250), ..Default::default() };
        let mut b = Bottleneck::default();
        let now = Instant::now();
        // 1000 bytes at 80 kbit/s: 100 ms each.
        let first = b.schedule(1000, now, &imp).unwrap();
        assert_eq!(first - now, Duration::from_millis(100));
        assert_eq!(b.schedule(1000, now, &imp).unwrap() - now, Duration::from_millis(200));
        assert_eq!(b.schedule(1000, now, &imp).unwrap() - now, Duration::from_millis(300));
        assert!(b.schedule(1000, now, &imp).is_none(), "queue full");
        let unlimited = Impairment::default();
        assert_eq!(Bottleneck::default().schedule(1000, now, &unlimited), Some(now));
    }
}
