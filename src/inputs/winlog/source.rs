//! The seam between the input and the Windows Event Log API: a subscription to one channel that hands out
//! rendered events. The Windows implementation is `api::ChannelSubscription`; everything above this
//! trait (rendering to fields, filters, bookmarks, recovery) is platform-independent.

use std::time::Duration;

/// One event as the API rendered it.
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// The event XML (`EvtRenderEventXml`).
    pub xml: String,
    /// `EventRecordID`.
    pub record_id: u64,
    /// The formatted message (`EvtFormatMessage`), when the publisher's metadata is available.
    pub message: Option<String>,
}

/// Where a subscription starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The oldest record the channel holds.
    Oldest,
    /// Only future events.
    Newest,
    /// After the record a bookmark names (strictly: a missing record is an error).
    AfterBookmark(String),
}

/// A failed API call: the Windows error code and what was being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The Windows error code (`GetLastError`).
    pub code: u32,
    /// What failed, in words.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (Windows error {}", self.message, self.code)?;
        // The system's own words for the code (FormatMessageW behind std), so an operator need not look it up.
        #[cfg(windows)]
        if self.code != 0 {
            let text = std::io::Error::from_raw_os_error(self.code as i32).to_string();
            let text = text.split(" (os error").next().unwrap_or_default().trim();
            if !text.is_empty() {
                write!(f, ": {text}")?;
            }
        }
        write!(f, ")")
    }
}

/// A subscription to one channel.
pub trait EventSource: Send {
    /// (Re)subscribes with `query`, closing any previous subscription.
    fn subscribe(&mut self, query: &str, start: &Start) -> Result<(), ApiError>;
    /// Up to `max` events; waits up to `wait` when none is ready (an empty batch: nothing new).
    fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<RawEvent>, ApiError>;
}

/// The bookmark XML Windows understands for "after record `record_id` of `channel`".
pub fn bookmark_xml(channel: &str, record_id: u64) -> String {
    let channel = channel
        .replace('&', "&amp;")
        .replace('\'', "&apos;")
        .replace('<', "&lt;");
    format!(
        "<BookmarkList><Bookmark Channel='{channel}' RecordId='{record_id}' IsCurrent='true'/></BookmarkList>"
    )
}

/// The record id a bookmark XML names.
pub fn bookmark_record_id(xml: &str) -> Option<u64> {
    let at = xml.find("RecordId=")? + "RecordId=".len();
    let rest = &xml[at..];
    let quote = rest.chars().next()?;
    let end = rest[1..].find(quote)?;
    rest[1..1 + end].parse().ok()
}

/// `EventRecordID` from event XML, without parsing all of it.
pub fn record_id_of(xml: &str) -> Option<u64> {
    let at = xml.find("<EventRecordID>")? + "<EventRecordID>".len();
    let end = xml[at..].find('<')?;
    xml[at..at + end].trim().parse().ok()
}

/// The provider name from event XML (for the publisher metadata cache).
pub fn provider_of(xml: &str) -> Option<&str> {
    let at = xml.find("<Provider")?;
    let tag = &xml[at..at + xml[at..].find('>')?];
    let n = tag.find("Name=")? + "Name=".len();
    let rest = &tag[n..];
    let quote = rest.chars().next()?;
    let end = rest[1..].find(quote)?;
    Some(&rest[1..1 + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookmarks_and_ids_round_trip() {
        let b = bookmark_xml("Microsoft-Windows-Sysmon/Operational", 1742);
        assert_eq!(bookmark_record_id(&b), Some(1742));
        let xml = "<Event><System><Provider Name=\"Microsoft-Windows-Security-Auditing\" Guid=\"{5}\"/><EventRecordID>128</EventRecordID></System></Event>";
        assert_eq!(record_id_of(xml), Some(128));
        assert_eq!(
            provider_of(xml),
            Some("Microsoft-Windows-Security-Auditing")
        );
        assert_eq!(record_id_of("<Event/>"), None);
        assert_eq!(provider_of("<Provider"), None);
    }
}
