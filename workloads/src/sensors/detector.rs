//! The `sensors` detector every implementation shares: a sensor's last W readings, exactly.

use crate::sensors::spec::SensorSpec;

/// One sensor's detector: its last `window` readings, their sum and sum of squares, exactly.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SensorWindow {
    ring: Box<[i64]>,
    next: usize,
    len: usize,
    sum: i128,
    sum_sq: i128,
}

/// The detector's threshold as an exact ratio `num / den` (k to three decimals).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    num: i128,
    den: i128,
}

impl Threshold {
    /// The threshold of `spec`.
    pub fn new(spec: &SensorSpec) -> Self {
        Self { num: (spec.k * 1000.0).round() as i128, den: 1000 }
    }

    /// `(num^2, den^2)`, when both fit in 64 bits.
    pub fn squares(&self) -> Option<(u64, u64)> {
        Some((u64::try_from(self.num * self.num).ok()?, u64::try_from(self.den * self.den).ok()?))
    }
}

impl SensorWindow {
    /// An empty window of `size` readings.
    pub fn new(size: usize) -> Self {
        Self { ring: vec![0; size].into_boxed_slice(), next: 0, len: 0, sum: 0, sum_sq: 0 }
    }

    /// Tests `x` against the readings before it, then adds it. Returns whether it is an alert.
    #[inline]
    pub fn push(&mut self, x: i64, k: Threshold) -> bool {
        let size = self.ring.len();
        let alert = if self.len == size {
            let w = size as i128;
            let dev = w * x as i128 - self.sum;
            let var = w * self.sum_sq - self.sum * self.sum;
            dev * dev * k.den * k.den > k.num * k.num * var
        } else {
            false
        };
        if self.len == size {
            let old = self.ring[self.next] as i128;
            self.sum -= old;
            self.sum_sq -= old * old;
        } else {
            self.len += 1;
        }
        self.ring[self.next] = x;
        // A compare, not a `%`: the index is carried from reading to reading.
        self.next = if self.next + 1 == size { 0 } else { self.next + 1 };
        self.sum += x as i128;
        self.sum_sq += x as i128 * x as i128;
        alert
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_alerts_only_past_k_sigma_with_a_full_window() {
        let spec = SensorSpec { window: 4, k: 2.0, ..SensorSpec::default() };
        let k = Threshold::new(&spec);
        let mut w = SensorWindow::new(4);
        // Window not yet full: no alert however far off.
        assert!(!w.push(10, k));
        assert!(!w.push(12, k));
        assert!(!w.push(10, k));
        assert!(!w.push(1000, k));
        // Window [10,12,10,1000]: mean 258, sd ~428.5; 1000 is 1.73 sd away: no alert.
        assert!(!w.push(1000, k));
        // Window [12,10,1000,1000]: mean 505.5, sd 494.5; -600 is 2.24 sd away: alert.
        assert!(w.push(-600, k));
        // Exactly k sd away is not beyond k: window [2,2,2,6] has mean 3, sd sqrt(3); ...
        let mut e = SensorWindow::new(4);
        for x in [0, 0, 4, 4] {
            e.push(x, k);
        }
        // mean 2, sd 2: 6 is exactly 2 sd away (no alert), 7 is beyond (alert).
        assert!(!e.clone().push(6, k));
        assert!(e.push(7, k));
    }
}
