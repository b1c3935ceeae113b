//! The simulator's random numbers: SplitMix64, small, fast and the same
//! on every machine, so a seed gives one run.

/// SplitMix64: small, fast and the same everywhere (a seed gives one run).
pub(super) struct Random(pub(super) u64);

impl Random {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub(super) fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(super) fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }

    pub(super) fn weibull(&mut self, shape: f64, median: f64) -> f64 {
        let scale = median / std::f64::consts::LN_2.powf(1.0 / shape);
        scale * (-self.unit().ln()).powf(1.0 / shape)
    }
}
