//! Sensor anomalies as a Spark user writes them: a detector per sensor with `map_with_state`,
//! an alert as the mapped record.

use workloads::output::Alert;
use workloads::sensors::event::reading;
use workloads::sensors::{SensorWindow, Threshold};
use workloads::{RunSpec, SensorSpec};

use crate::dstream::state::{State, StateSpec};
use crate::dstream::DStream;
use crate::jobs::direct::DirectSource;
use crate::jobs::socket::SocketSource;
use crate::jobs::Job;
use crate::StreamingError;

/// A reading as the job keys it: sensor, then (sequence number, value in thousandths, latency
/// reference: its due time, a socket line's arrival, or 0 at `max`, where it is the batch time).
type Keyed = (u32, (u64, i64, u64));

impl Job for SensorSpec {
    fn direct(&self, spec: &RunSpec, source: &DirectSource<'_>) -> Result<(), StreamingError> {
        let (g, schedule) = (workloads::sensors::generator(spec), spec.schedule());
        let readings = source.stream(move |p, i, out: &mut Vec<Keyed>| {
            let r = g.event(p, i);
            out.push((r.sensor, (r.seq, r.milli, schedule.due(p, i).unwrap_or(0))));
        })?;
        sensors(&readings, self)
    }

    fn socket(&self, _spec: &RunSpec, source: &SocketSource<'_>) -> Result<(), StreamingError> {
        let events = source.events(|line| reading(line).map(|r| (r.sensor, (r.seq, r.milli))))?;
        sensors(&events.flat_map(|p| p.timed().map(|(&(s, (q, m)), at)| (s, (q, m, at))))?, self)?;
        source.account(&events)
    }
}

fn sensors(readings: &DStream<Keyed>, s: &SensorSpec) -> Result<(), StreamingError> {
    let (size, threshold) = (s.window, Threshold::new(s));
    // Per sensor, in order: a sensor's readings all come from one source partition, and
    // a shuffle keeps the order of each map partition's records.
    let alerts = readings.map_with_state(StateSpec::function(
        move |_t, sensor: &u32, reading: Option<&(u64, i64, u64)>, state: &mut State<SensorWindow>| {
            let &(seq, milli, reference) = reading?;
            if !state.exists() {
                state.update(SensorWindow::new(size));
            }
            let alert = state.get_mut()?.push(milli, threshold);
            alert.then_some((Alert { sensor: *sensor, seq, milli }, reference))
        },
    ))?;
    alerts.foreach_partition_recorded(|t, _p, alerts, r| {
        let now = r.now_ns();
        for (a, reference) in alerts {
            r.output_latency(if *reference == 0 { t } else { *reference }, now);
            r.alert(*a);
        }
    })?;
    Ok(())
}
