//! The `wordcount` event, a line of text, and its socket form.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A line of text (`wordcount`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line<'a> {
    /// Event time, ns.
    pub event_time: u64,
    /// The text; words are separated by ASCII whitespace.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
}

/// A wordcount line's text: the line itself, or the text of a JSON [`Line`].
pub fn line_text(line: &str) -> Result<std::borrow::Cow<'_, str>, String> {
    if line.trim_start().starts_with('{') {
        let l: Line<'_> = serde_json::from_str(line).map_err(|e| format!("not a JSON line event ({e})"))?;
        Ok(std::borrow::Cow::Owned(l.text.into_owned()))
    } else {
        Ok(std::borrow::Cow::Borrowed(line))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_and_json_lines_parse() {
        assert_eq!(super::line_text("a b").unwrap(), "a b");
        assert_eq!(super::line_text("{\"event_time\":1,\"text\":\"x y\"}").unwrap(), "x y");
        assert!(super::line_text("{").unwrap_err().contains("not a JSON line event"));
    }
}
