//! The thin Windows layer of the winlog input: a pull subscription to one channel through wevtapi
//! (EvtSubscribe with a signal event, EvtNext in batches, EvtRender to XML, EvtFormatMessage with a cache
//! of publisher metadata handles). Kept small on purpose: everything that can be decided without Windows
//! lives above the [`EventSource`] trait.

use super::source::{ApiError, EventSource, RawEvent, Start, provider_of, record_id_of};
use std::collections::HashMap;
use std::time::Duration;
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_INSUFFICIENT_BUFFER, GetLastError, HANDLE, WAIT_OBJECT_0,
};
use windows_sys::Win32::System::EventLog::{
    EVT_HANDLE, EvtClose, EvtCreateBookmark, EvtFormatMessage, EvtFormatMessageEvent, EvtNext,
    EvtOpenPublisherMetadata, EvtRender, EvtRenderEventXml, EvtSubscribe,
    EvtSubscribeStartAfterBookmark, EvtSubscribeStartAtOldestRecord, EvtSubscribeStrict,
    EvtSubscribeToFutureEvents,
};
use windows_sys::Win32::System::Threading::{CreateEventW, ResetEvent, WaitForSingleObject};

/// ERROR_NO_MORE_ITEMS: EvtNext has nothing right now.
const NO_MORE_ITEMS: u32 = 259;
/// How many publishers' metadata handles are kept open.
const PUBLISHER_CACHE: usize = 256;

/// An Event Log handle, closed when dropped.
struct Evt(EVT_HANDLE);

impl Drop for Evt {
    fn drop(&mut self) {
        if self.0 != 0 {
            // SAFETY: the handle came from a wevtapi call and is closed exactly once, here.
            unsafe { EvtClose(self.0) };
        }
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

fn last_error(what: &str) -> ApiError {
    // SAFETY: reads the calling thread's last-error value.
    let code = unsafe { GetLastError() };
    ApiError {
        code,
        message: what.to_string(),
    }
}

/// A subscription to one channel.
pub struct ChannelSubscription {
    channel: Vec<u16>,
    name: String,
    signal: HANDLE,
    subscription: Option<Evt>,
    publishers: HashMap<String, Option<Evt>>,
    buf: Vec<u16>,
}

// SAFETY: the handles are used only by the thread that owns the subscription; wevtapi handles and event
// objects may be used from any thread.
unsafe impl Send for ChannelSubscription {}

impl Drop for ChannelSubscription {
    fn drop(&mut self) {
        self.subscription = None;
        if !self.signal.is_null() {
            // SAFETY: the event handle was created by CreateEventW and is closed once.
            unsafe { CloseHandle(self.signal) };
        }
    }
}

impl ChannelSubscription {
    /// A subscription to `channel`, not yet subscribed.
    pub fn new(channel: &str) -> ChannelSubscription {
        ChannelSubscription {
            channel: wide(channel),
            name: channel.to_string(),
            signal: std::ptr::null_mut(),
            subscription: None,
            publishers: HashMap::new(),
            buf: vec![0u16; 16 * 1024],
        }
    }

    /// Renders a handle with EvtRender/EvtFormatMessage-style calls that need a growing buffer.
    fn render_xml(&mut self, event: EVT_HANDLE) -> Result<String, ApiError> {
        loop {
            let mut used = 0u32;
            let mut props = 0u32;
            // SAFETY: `buf` is valid for `buf.len()` u16s; the size is passed in bytes.
            let ok = unsafe {
                EvtRender(
                    0,
                    event,
                    EvtRenderEventXml,
                    (self.buf.len() * 2) as u32,
                    self.buf.as_mut_ptr().cast(),
                    &mut used,
                    &mut props,
                )
            };
            if ok != 0 {
                let n = (used as usize / 2).saturating_sub(1).min(self.buf.len());
                return Ok(String::from_utf16_lossy(&self.buf[..n]));
            }
            // SAFETY: reads the thread's last error.
            if unsafe { GetLastError() } == ERROR_INSUFFICIENT_BUFFER {
                self.buf.resize((used as usize).div_ceil(2) + 1, 0);
                continue;
            }
            return Err(last_error("rendering an event as XML failed"));
        }
    }

    fn publisher(&mut self, provider: &str) -> EVT_HANDLE {
        if !self.publishers.contains_key(provider) {
            if self.publishers.len() >= PUBLISHER_CACHE {
                self.publishers.clear();
            }
            let name = wide(provider);
            // SAFETY: `name` is a NUL-terminated UTF-16 string alive for the call.
            let h = unsafe { EvtOpenPublisherMetadata(0, name.as_ptr(), std::ptr::null(), 0, 0) };
            self.publishers
                .insert(provider.to_string(), (h != 0).then_some(Evt(h)));
        }
        self.publishers
            .get(provider)
            .and_then(|h| h.as_ref().map(|e| e.0))
            .unwrap_or(0)
    }

    fn message(&mut self, event: EVT_HANDLE, provider: &str) -> Option<String> {
        let meta = self.publisher(provider);
        if meta == 0 {
            return None;
        }
        let mut buf = vec![0u16; 1024];
        loop {
            let mut used = 0u32;
            // SAFETY: `buf` is valid for `buf.len()` u16s; the size is passed in characters.
            let ok = unsafe {
                EvtFormatMessage(
                    meta,
                    event,
                    0,
                    0,
                    std::ptr::null(),
                    EvtFormatMessageEvent,
                    buf.len() as u32,
                    buf.as_mut_ptr(),
                    &mut used,
                )
            };
            if ok != 0 {
                let n = (used as usize).saturating_sub(1).min(buf.len());
                return Some(String::from_utf16_lossy(&buf[..n]));
            }
            // SAFETY: reads the thread's last error.
            if unsafe { GetLastError() } == ERROR_INSUFFICIENT_BUFFER && used as usize > buf.len() {
                buf.resize(used as usize, 0);
                continue;
            }
            return None;
        }
    }
}

impl EventSource for ChannelSubscription {
    fn subscribe(&mut self, query: &str, start: &Start) -> Result<(), ApiError> {
        self.subscription = None;
        if self.signal.is_null() {
            // SAFETY: creates an unnamed manual-reset event; null attributes and name are allowed.
            self.signal = unsafe { CreateEventW(std::ptr::null(), 1, 1, std::ptr::null()) };
            if self.signal.is_null() {
                return Err(last_error("creating the signal event failed"));
            }
        }
        let q = wide(query);
        let (bookmark, flags) = match start {
            Start::Oldest => (None, EvtSubscribeStartAtOldestRecord),
            Start::Newest => (None, EvtSubscribeToFutureEvents),
            Start::AfterBookmark(xml) => {
                let x = wide(xml);
                // SAFETY: `x` is a NUL-terminated UTF-16 string alive for the call.
                let h = unsafe { EvtCreateBookmark(x.as_ptr()) };
                if h == 0 {
                    return Err(last_error("the saved bookmark is not valid"));
                }
                (
                    Some(Evt(h)),
                    EvtSubscribeStartAfterBookmark | EvtSubscribeStrict,
                )
            }
        };
        // SAFETY: every pointer is valid for the call; no callback (pull model with the signal event).
        let h = unsafe {
            EvtSubscribe(
                0,
                self.signal,
                self.channel.as_ptr(),
                q.as_ptr(),
                bookmark.as_ref().map_or(0, |b| b.0),
                std::ptr::null(),
                None,
                flags,
            )
        };
        if h == 0 {
            return Err(last_error(&format!(
                "subscribing to channel {} failed",
                self.name
            )));
        }
        self.subscription = Some(Evt(h));
        Ok(())
    }

    fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<RawEvent>, ApiError> {
        let Some(sub) = self.subscription.as_ref().map(|s| s.0) else {
            return Err(ApiError {
                code: 6,
                message: "not subscribed".into(),
            });
        };
        // SAFETY: `signal` is a live event handle.
        let waited = unsafe { WaitForSingleObject(self.signal, wait.as_millis() as u32) };
        if waited != WAIT_OBJECT_0 {
            return Ok(Vec::new());
        }
        let mut handles = vec![0isize; max.max(1)];
        let mut returned = 0u32;
        // SAFETY: `handles` has room for `handles.len()` handles.
        let ok = unsafe {
            EvtNext(
                sub,
                handles.len() as u32,
                handles.as_mut_ptr(),
                0,
                0,
                &mut returned,
            )
        };
        if ok == 0 {
            // SAFETY: reads the thread's last error.
            let code = unsafe { GetLastError() };
            if code == NO_MORE_ITEMS {
                // SAFETY: `signal` is a live event handle; it is set again when events arrive.
                unsafe { ResetEvent(self.signal) };
                return Ok(Vec::new());
            }
            return Err(ApiError {
                code,
                message: format!("reading events from channel {} failed", self.name),
            });
        }
        let events: Vec<Evt> = handles[..returned as usize]
            .iter()
            .map(|h| Evt(*h))
            .collect();
        let mut out = Vec::with_capacity(events.len());
        for e in &events {
            let xml = match self.render_xml(e.0) {
                Ok(x) => x,
                Err(err) => {
                    tracing::warn!(channel = %self.name, "skipping an event that cannot be rendered: {err}");
                    continue;
                }
            };
            let record_id = record_id_of(&xml).unwrap_or(0);
            let message = provider_of(&xml)
                .map(str::to_string)
                .and_then(|p| self.message(e.0, &p));
            out.push(RawEvent {
                xml,
                record_id,
                message,
            });
        }
        Ok(out)
    }
}
