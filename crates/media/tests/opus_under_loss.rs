//! Speech-like audio through Opus (FEC on), 10 % random packet loss and jitter, and the jitter buffer: the
//! output must stay close to what a lossless path gives, and FEC must do better than concealment alone.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::{Duration, Instant};

use colloque_media::audio::jitter::JitterBuffer;
use colloque_media::codec::opus::{OpusConfig, OpusDecoder, OpusEncoder, FRAME_SAMPLES};
use colloque_media::synthetic::speech_like;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Correlation coefficient of two equally long signals.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let mb = b.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt().max(1e-12)
}

/// SNR in dB of `test` against `reference`.
fn snr_db(reference: &[f32], test: &[f32]) -> f64 {
    let n = reference.len().min(test.len());
    let signal: f64 = reference[..n].iter().map(|&x| f64::from(x).powi(2)).sum();
    let noise: f64 =
        reference[..n].iter().zip(&test[..n]).map(|(&r, &t)| (f64::from(r) - f64::from(t)).powi(2)).sum();
    10.0 * (signal / noise.max(1e-12)).log10()
}

fn encode(speech: &[f32], fec: bool) -> Vec<Vec<u8>> {
    // DTX off so that every 20 ms slot has a packet and loss is the only gap.
    let mut enc =
        OpusEncoder::new(OpusConfig { fec, dtx: false, expected_loss_percent: 10, ..Default::default() })
            .unwrap();
    speech.chunks_exact(FRAME_SAMPLES).map(|f| enc.encode(f).unwrap()).collect()
}

/// Plays `packets` through a jitter buffer with the given loss pattern and per-packet delay jitter.
/// Returns the played audio aligned to the packets (buffering delay removed) and the buffer's stats.
fn play(
    packets: &[Vec<u8>],
    lost: &[bool],
    jitter_ms: &[u64],
) -> (Vec<f32>, colloque_media::audio::jitter::JitterStats) {
    let mut jb = JitterBuffer::new(1).unwrap();
    let t0 = Instant::now();
    let frame = Duration::from_millis(20);
    // Arrival order: by send time + jitter.
    let mut arrivals: Vec<(Duration, usize)> = (0..packets.len())
        .filter(|&i| !lost[i])
        .map(|i| (frame * i as u32 + Duration::from_millis(jitter_ms[i]), i))
        .collect();
    arrivals.sort();
    let mut next_arrival = 0;
    let mut out = Vec::new();
    // The playout clock ticks every 20 ms; run it well past the last packet.
    for tick in 0..packets.len() + 40 {
        let now = frame * tick as u32;
        while next_arrival < arrivals.len() && arrivals[next_arrival].0 <= now {
            let i = arrivals[next_arrival].1;
            jb.push((i * FRAME_SAMPLES) as u32, packets[i].clone(), t0 + arrivals[next_arrival].0);
            next_arrival += 1;
        }
        out.extend(jb.pop().unwrap());
    }
    (out, jb.stats())
}

/// Finds the playout delay (in samples) that best aligns `played` with `reference`.
fn align(reference: &[f32], played: &[f32]) -> usize {
    let probe = &reference[48_000..96_000];
    (0..40)
        .map(|k| k * FRAME_SAMPLES)
        .max_by(|&a, &b| {
            let ca = correlation(probe, &played[48_000 + a..]);
            let cb = correlation(probe, &played[48_000 + b..]);
            ca.total_cmp(&cb)
        })
        .unwrap_or(0)
}

/// What came out of one encode → loss/jitter → jitter buffer run, against the lossless decode.
struct Outcome {
    reference: Vec<f32>,
    played: Vec<f32>,
    delay: usize,
    correlation: f64,
    snr_db: f64,
    stats: colloque_media::audio::jitter::JitterStats,
}

fn through_network(speech: &[f32], fec: bool, lost: &[bool], jitter: &[u64]) -> Outcome {
    let packets = encode(speech, fec);
    // Reference: the same packets decoded with no loss (the codec's own distortion is not under test).
    let mut dec = OpusDecoder::new(1).unwrap();
    let reference: Vec<f32> = packets.iter().flat_map(|p| dec.decode(p).unwrap()).collect();
    let (played, stats) = play(&packets, lost, jitter);
    let delay = align(&reference, &played);
    let played = played[delay..delay + reference.len()].to_vec();
    Outcome {
        correlation: correlation(&reference, &played),
        snr_db: snr_db(&reference, &played),
        reference,
        played,
        delay,
        stats,
    }
}

#[test]
fn speech_survives_ten_percent_loss_with_fec() {
    let speech = speech_like(20.0, 7);
    let mut rng = StdRng::seed_from_u64(42);
    let n = speech.len() / FRAME_SAMPLES;
    let lost: Vec<bool> = (0..n).map(|i| i > 5 && rng.random_bool(0.10)).collect();
    let jitter: Vec<u64> = (0..n).map(|_| rng.random_range(0..40)).collect();
    let loss_count = lost.iter().filter(|&&l| l).count();

    let with_fec = through_network(&speech, true, &lost, &jitter);
    let plc_only = through_network(&speech, false, &lost, &jitter);
    let (corr, snr, stats, delay) = (with_fec.correlation, with_fec.snr_db, with_fec.stats, with_fec.delay);
    let (reference, played) = (&with_fec.reference, &with_fec.played);
    let (plain_snr, plain_stats) = (plc_only.snr_db, plc_only.stats);

    println!(
        "{loss_count}/{n} packets lost, jitter 0-40 ms: with FEC correlation {corr:.3}, SNR {snr:.1} dB ({stats:?}); \
         PLC only SNR {plain_snr:.1} dB ({plain_stats:?}); playout delay {} ms",
        delay / 48
    );
    assert!(loss_count > n / 20, "the loss pattern must actually lose packets");
    assert!(stats.fec_recovered > loss_count as u64 * 3 / 4, "FEC rebuilt too few frames: {stats:?}");
    assert!(corr >= 0.95, "correlation {corr:.3}");
    assert!(snr >= 14.0, "SNR {snr:.1} dB");
    assert!(snr > plain_snr + 4.0, "FEC ({snr:.1} dB) must beat concealment alone ({plain_snr:.1} dB)");
    // Continuity: no long silent hole where speech is present.
    let holes = played
        .chunks_exact(FRAME_SAMPLES)
        .zip(reference.chunks_exact(FRAME_SAMPLES))
        .filter(|(p, r)| {
            let (pe, re) = (p.iter().map(|x| x * x).sum::<f32>(), r.iter().map(|x| x * x).sum::<f32>());
            re > 1.0 && pe < re * 0.01
        })
        .count();
    assert!(holes <= n / 100, "{holes} frames went silent");
}
