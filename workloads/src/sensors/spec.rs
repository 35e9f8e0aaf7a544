//! The `sensors` spec: the detector's parameters and the exact meaning of an alert.

use serde::{Deserialize, Serialize};

use crate::spec::JobOptions;

/// `sensors`: each sensor's detector keeps its last `window` readings (in `seq` order); a reading
/// arriving when the window is full is an alert when it lies more than `k` standard deviations
/// (population) from the window's mean. Computed exactly on the integer milli-values:
/// `(W x - S)^2 * den^2 > num^2 * (W Q - S^2)` with `S`, `Q` the window's sum and sum of squares
/// and `k = num / den`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorSpec {
    /// Sensors (rounded up to a multiple of the partition count).
    pub sensors: u32,
    /// Readings in the detector's window.
    pub window: usize,
    /// The alert threshold in standard deviations.
    pub k: f64,
    /// Probability that a sensor has an injected anomaly in a block of readings.
    pub anomaly_rate: f64,
}

impl Default for SensorSpec {
    fn default() -> Self {
        Self { sensors: 1000, window: 100, k: 3.0, anomaly_rate: 0.2 }
    }
}

impl SensorSpec {
    /// Checks the parameters; the error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.window < 2 || self.sensors == 0 || !(self.k > 0.0 && self.k.is_finite()) {
            return Err("sensors needs a window of at least 2 readings, at least 1 sensor and k > 0".into());
        }
        Ok(())
    }

    /// Applies the command line's job options (sensors takes none of them).
    pub fn configure(&mut self, options: &JobOptions) -> Result<(), String> {
        options.refuse_input("sensors")
    }

    /// The windows a micro-batch interval must divide (a count window has none).
    pub fn windows(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}
