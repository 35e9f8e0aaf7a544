//! The `sensors` event, a reading with its ground-truth label, and its socket form (JSON).

use serde::{Deserialize, Serialize};

/// A labelled injected anomaly (the generator's ground truth).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anomaly {
    /// A single reading far off the baseline.
    Spike,
    /// The sensor repeats one value.
    Stuck,
    /// The reading drifts steadily away from the baseline.
    Drift,
}

/// A sensor reading (`sensors`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorReading {
    /// Event time, ns.
    pub event_time: u64,
    /// The sensor.
    pub sensor: u32,
    /// The reading's position in its sensor's sequence (0, 1, 2, ...): the order the detector
    /// consumes a sensor's readings in.
    pub seq: u64,
    /// The value in thousandths of a unit (milli-degrees): detectors compute on these integers,
    /// so every implementation decides alike.
    pub milli: i64,
    /// The injected anomaly this reading belongs to, if any (ground truth; detectors must not
    /// look at it).
    pub anomaly: Option<Anomaly>,
}

/// A JSON [`SensorReading`].
pub fn reading(line: &str) -> Result<SensorReading, String> {
    serde_json::from_str(line).map_err(|e| format!("not a JSON sensor reading ({e})"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bad_readings_are_refused() {
        assert!(super::reading("{").unwrap_err().contains("not a JSON sensor reading"));
    }
}
