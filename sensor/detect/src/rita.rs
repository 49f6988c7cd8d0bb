//! RITA v5's beacon sub-scores (analysis/beacons.go as described in LANDSCAPE.md 4.1) and the
//! sloth v2 jitter-tolerant periodicity test, as pure functions over sorted samples.

/// Quantile `q` of sorted samples, linear interpolation between closest ranks.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let frac = pos - lo as f64;
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}

/// Median of unsorted samples (reordered in place): the same as `quantile(sorted, 0.5)`.
fn median_unsorted(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (_, hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let hi = *hi;
    if n % 2 == 1 {
        return hi;
    }
    // Even count: the mean of the two middle values; the lower one is the largest below.
    let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo + hi) / 2.0
}

/// RITA's dispersion score of a series (inter-arrival gaps for `ts`, bytes for `ds`):
/// mean of `1 - |Bowley skew|` and `(median - MAD) / median`. `small_median` is the MAD
/// score when the median is below 1 (RITA: 1 for ts, 0 for ds). Returns (score, skew, mad).
pub(crate) fn dispersion(
    sorted: &[f64],
    scratch: &mut Vec<f64>,
    small_median: f64,
) -> (f64, f64, f64) {
    let q1 = quantile(sorted, 0.25);
    let q2 = quantile(sorted, 0.5);
    let q3 = quantile(sorted, 0.75);
    // RITA ignores skew when the spread is small (< 10 units) or a quartile sits on the
    // median: both mean "tightly clustered", which is what a beacon looks like.
    let skew = if q3 - q1 < 10.0 || q2 == q1 || q2 == q3 {
        0.0
    } else {
        (q1 + q3 - 2.0 * q2) / (q3 - q1)
    };
    scratch.clear();
    scratch.extend(sorted.iter().map(|v| (v - q2).abs()));
    let mad = median_unsorted(scratch);
    let mad_score = if q2 >= 1.0 {
        ((q2 - mad) / q2).max(0.0)
    } else {
        small_median
    };
    (((1.0 - skew.abs()) + mad_score) / 2.0, skew, mad)
}

/// Histogram score over connection times (sorted, seconds). RITA bins a day's data into 24
/// hours; a stream has no day boundary, so the bins span this pair's own [first, last]
/// and their number follows the sample (n / 2, between 4 and 24: two connections per bin
/// on average, so that a regular series gives an even histogram rather than 0/1 noise).
/// Returns (hist, cv_score, bimodal_fit, bins).
pub(crate) fn histogram(times: &[f64]) -> (f64, f64, f64, usize) {
    let n = times.len();
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return (0.0, 0.0, 0.0, 0);
    };
    let bins = (n / 2).clamp(4, 24);
    let span = last - first;
    if span <= 0.0 {
        return (0.0, 0.0, 0.0, bins);
    }
    let mut counts = [0u32; 24];
    for &t in times {
        let b = (((t - first) / span) * bins as f64) as usize;
        counts[b.min(bins - 1)] += 1;
    }
    let counts = &counts[..bins];
    let mean = n as f64 / bins as f64;
    let var = counts
        .iter()
        .map(|&c| (f64::from(c) - mean).powi(2))
        .sum::<f64>()
        / bins as f64;
    let cv = var.sqrt() / mean;
    let cv_score = if cv > 1.0 { 0.0 } else { 1.0 - cv };

    // Bimodal fit: bar heights quantised into buckets 5 % of the tallest bar wide; the two
    // most common buckets should hold every non-empty bar but one (RITA's outlier removal).
    let max_bar = counts.iter().copied().max().unwrap_or(0);
    let width = ((f64::from(max_bar) * 0.05).ceil() as u32).max(1);
    let mut freq = [0u32; 64];
    let mut non_empty = 0u32;
    for &c in counts {
        if c > 0 {
            non_empty += 1;
            freq[((c / width) as usize).min(63)] += 1;
        }
    }
    freq.sort_unstable_by(|a, b| b.cmp(a));
    // RITA needs 11 of 24 hourly bars seen. With about two connections a bin, heights are
    // small integers and any few bars fit "two heights", so here every bin but one must be
    // non-empty: a timer with up to ~50 % jitter fills them all, bursts of activity do not.
    let min_seen = (bins - 1).max(3) as u32;
    let fit = if non_empty >= min_seen.max(2) {
        (f64::from(freq[0] + freq[1]) / f64::from(non_empty - 1)).min(1.0)
    } else {
        0.0
    };
    (cv_score.max(fit), cv_score, fit, bins)
}

/// Longest run of consecutive set bits in the low 24 bits (hours with connections).
pub(crate) fn longest_run(mask: u32) -> u32 {
    let mut best = 0;
    let mut run = 0;
    for i in 0..24 {
        if mask & (1 << i) != 0 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// sloth v2 over sorted non-zero gaps: (median gap, share of gaps within `tol` of it).
pub(crate) fn sloth(gaps: &[f64], tol: f64) -> (f64, f64) {
    if gaps.is_empty() {
        return (0.0, 0.0);
    }
    let med = quantile(gaps, 0.5);
    let lo = med * (1.0 - tol);
    let hi = med * (1.0 + tol);
    let fit = gaps.iter().filter(|g| **g >= lo && **g <= hi).count();
    (med, fit as f64 / gaps.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_series_scores_one() {
        let gaps = vec![60.0; 20];
        let mut s = Vec::new();
        let (score, skew, mad) = dispersion(&gaps, &mut s, 1.0);
        assert_eq!((score, skew, mad), (1.0, 0.0, 0.0));
        let times: Vec<f64> = (0..48).map(|i| f64::from(i) * 60.0).collect();
        let (hist, cv, _, bins) = histogram(&times);
        assert_eq!(bins, 24);
        assert!(hist > 0.95 && cv > 0.95, "hist {hist} cv {cv}");
        assert_eq!(sloth(&gaps, 0.3), (60.0, 1.0));
    }

    #[test]
    fn skewed_gaps_lose_score() {
        // Exponential gaps (the quantiles of a Poisson process, mean 100 s): a person or
        // a random process, not a timer. RITA scores this about 0.5.
        let gaps: Vec<f64> = (0..40)
            .map(|i| -(1.0 - (f64::from(i) + 0.5) / 40.0).ln() * 100.0)
            .collect();
        let (score, _, _) = dispersion(&gaps, &mut Vec::new(), 1.0);
        assert!(score < 0.7, "{score}");
    }

    #[test]
    fn median_without_sorting() {
        let mut v = vec![5.0, 1.0, 4.0, 2.0];
        assert_eq!(median_unsorted(&mut v), 3.0);
        let mut v = vec![9.0, 1.0, 4.0];
        assert_eq!(median_unsorted(&mut v), 4.0);
    }

    #[test]
    fn runs_and_quantiles() {
        assert_eq!(longest_run(0b1110_0111_1111), 7);
        assert_eq!(longest_run(0), 0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
    }
}
