//! The `hashtags` event, a tweet, and its socket form (a JSON line).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A tweet (`hashtags`): text in which hashtags are words starting with `#`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tweet<'a> {
    /// Event time, ns.
    pub event_time: u64,
    /// The author.
    pub user: u32,
    /// The text, hashtags included.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
}

/// A JSON [`Tweet`]'s text.
pub fn tweet_text(line: &str) -> Result<String, String> {
    let t: Tweet<'_> = serde_json::from_str(line).map_err(|e| format!("not a JSON tweet ({e})"))?;
    Ok(t.text.into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn bad_tweets_are_refused() {
        assert!(super::tweet_text("bad").unwrap_err().contains("not a JSON tweet"));
    }
}
