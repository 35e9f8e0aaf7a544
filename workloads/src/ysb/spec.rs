//! The `ysb` spec: the campaign table's shape, the window, and the exact meaning of an output.

use serde::{Deserialize, Serialize};

use crate::spec::{JobOptions, SECOND_NS};

/// `ysb`: the Yahoo Streaming Benchmark's ad-campaign job. Keep the view events, project
/// `(ad_id, event_time)`, join with the static `ad_id -> campaign_id` table, and count per
/// campaign per tumbling event-time window of `window_ns`. An output `(campaign, window_end,
/// count)` is the number of views of the campaign's ads with event time in
/// `[window_end - window_ns, window_end)`; one is produced for every window and campaign with at
/// least one view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct YsbSpec {
    /// Campaigns.
    pub campaigns: u32,
    /// Ads per campaign.
    pub ads_per_campaign: u32,
    /// The tumbling window's length, ns.
    pub window_ns: u64,
}

impl Default for YsbSpec {
    fn default() -> Self {
        Self { campaigns: 100, ads_per_campaign: 10, window_ns: 10 * SECOND_NS }
    }
}

impl YsbSpec {
    /// The number of ads.
    pub fn ads(&self) -> u32 {
        self.campaigns * self.ads_per_campaign
    }

    /// Checks the parameters; the error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.campaigns == 0 || self.ads_per_campaign == 0 {
            return Err("ysb needs at least 1 campaign and 1 ad per campaign".into());
        }
        if self.window_ns == 0 {
            return Err("the ysb window must be longer than 0".into());
        }
        Ok(())
    }

    /// Applies the command line's job options: `--window` sets the tumbling window's length
    /// (`--slide` does not apply: the window tumbles).
    pub fn configure(&mut self, options: &JobOptions) -> Result<(), String> {
        options.refuse_input("ysb")?;
        if let Some((window, _)) = options.window {
            self.window_ns = window;
        }
        Ok(())
    }

    /// The windows a micro-batch interval must divide, with the flag that sets each.
    pub fn windows(&self) -> Vec<(&'static str, u64)> {
        vec![("--window", self.window_ns)]
    }
}
