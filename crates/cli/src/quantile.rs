//! The quantiles the benchmarks print (p50, p95): nearest rank over sorted samples.

/// The value at quantile `q` (0 to 1, nearest rank) of `sorted`, or `None` when it is empty.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let last = sorted.len().checked_sub(1)?;
    sorted.get((last as f64 * q.clamp(0.0, 1.0)).round() as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let sorted: Vec<i64> = (1..=100).collect();
        assert_eq!(quantile(&sorted, 0.5), Some(51));
        assert_eq!(quantile(&sorted, 0.95), Some(95));
        assert_eq!(quantile(&sorted, 0.0), Some(1));
        assert_eq!(quantile::<i64>(&[], 0.5), None);
    }
}
