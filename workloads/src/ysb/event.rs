//! The `ysb` event: an ad event as the Yahoo Streaming Benchmark generates it, and its wire form
//! (one JSON object a line, as `feed` sends it and the socket sources read it; the job parses
//! it). Ids are numbers where YSB writes UUIDs; the fields and their meaning are YSB's.

use serde::{Deserialize, Serialize};

/// What the user did with the ad (a third each, as YSB generates them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// The ad was shown: the events the job counts.
    View,
    /// The ad was clicked.
    Click,
    /// The ad led to a purchase.
    Purchase,
}

/// The kind of ad (YSB's five).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdType {
    /// A banner.
    Banner,
    /// A modal.
    Modal,
    /// A sponsored search result.
    SponsoredSearch,
    /// A mail.
    Mail,
    /// A mobile ad.
    Mobile,
}

/// Every ad type, in the order ads take them.
pub const AD_TYPES: [AdType; 5] =
    [AdType::Banner, AdType::Modal, AdType::SponsoredSearch, AdType::Mail, AdType::Mobile];

/// One ad event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdEvent {
    /// The user.
    pub user_id: u64,
    /// The page the ad was on.
    pub page_id: u64,
    /// The ad (an index into the campaign table).
    pub ad_id: u32,
    /// The kind of ad.
    pub ad_type: AdType,
    /// What happened.
    pub event_type: EventType,
    /// Event time, ns.
    pub event_time: u64,
    /// The user's IPv4 address, as a number.
    pub ip: u32,
}

/// A JSON ad event, as `feed` sends it.
pub fn parse(line: &str) -> Result<AdEvent, String> {
    serde_json::from_str(line).map_err(|e| format!("not a JSON ad event ({e})"))
}

/// A JSON ad event whose ad is one of the `ads` of the run's campaign table (the join of both
/// engines looks its campaign up there): an ad outside it is refused, to be counted as malformed,
/// not dropped by the join or looked up out of range.
pub fn parse_known(line: &str, ads: usize) -> Result<AdEvent, String> {
    let e = parse(line)?;
    if (e.ad_id as usize) < ads {
        Ok(e)
    } else {
        Err(format!(
            "ad {} is not in the campaign table of {ads} ads (send events generated with this run's --seed and ad count)",
            e.ad_id
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_json_and_bad_ones_are_refused() {
        let e = AdEvent {
            user_id: 1,
            page_id: 2,
            ad_id: 3,
            ad_type: AdType::SponsoredSearch,
            event_type: EventType::View,
            event_time: 4,
            ip: 5,
        };
        let line = serde_json::to_string(&e).unwrap();
        assert!(line.contains(r#""event_type":"view""#) && line.contains(r#""ad_type":"sponsored-search""#), "{line}");
        assert_eq!(parse(&line), Ok(e));
        assert!(parse(r#"{"ad_id": 3"#).unwrap_err().contains("not a JSON ad event"));
        assert_eq!(parse_known(&line, 4), Ok(e));
        assert!(parse_known(&line, 3).unwrap_err().contains("ad 3 is not in the campaign table of 3 ads"));
    }
}
