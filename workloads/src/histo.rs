//! hdrhistogram helpers: the two configurations streambench records into, and serde as the
//! base64 V2 serialisation (what `hdrhistogram`'s own tools read).

use hdrhistogram::serialization::{Deserializer as HDeserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Highest latency tracked exactly, µs (one hour); larger values saturate.
pub const MAX_US: u64 = 3_600_000_000;

/// The main latency histogram: µs, three significant figures.
pub fn fine() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid bounds")
}

/// A timeline bucket's histogram: µs, two significant figures (smaller).
pub fn coarse() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("valid bounds")
}

/// Encodes a histogram as base64 of its V2 serialisation.
pub fn encode(h: &Histogram<u64>) -> String {
    use base64::Engine as _;
    let mut buf = Vec::new();
    V2Serializer::new().serialize(h, &mut buf).expect("in-memory serialisation");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes [`encode`]'s output.
pub fn decode(s: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| e.to_string())?;
    HDeserializer::new().deserialize(&mut bytes.as_slice()).map_err(|e| format!("{e:?}"))
}

/// serde `serialize_with`.
pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
    encode(h).serialize(s)
}

/// serde `deserialize_with`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
    let s = String::deserialize(d)?;
    decode(&s).map_err(serde::de::Error::custom)
}
