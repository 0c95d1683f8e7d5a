//! Events refused for good (by the server, or because their index name cannot be made): recorded in
//! the dead-letter file (fsynced, counted, logged) before the batch is settled, and, with
//! `dead_letter_index`, also indexed there as text.

use super::bulk::Encoded;
use super::client;
use super::dead_letter::DeadLetter;
use super::{Batch, OutputError, Shared};

/// An item the server refused for good, waiting to be recorded.
pub(super) struct Refusal {
    /// Its position in the encoded batch.
    pub item: usize,
    /// The item's HTTP status.
    pub status: u16,
    /// Elasticsearch's error type.
    pub kind: String,
    /// Elasticsearch's explanation.
    pub reason: String,
}

/// The dead letters for `refused` items of `batch` (encoded as `enc`).
pub(super) fn letters<'a>(
    refused: &'a [Refusal],
    enc: &'a Encoded,
    batch: &'a Batch,
) -> Vec<DeadLetter<'a>> {
    refused
        .iter()
        .filter_map(|r| {
            let item = &enc.items[r.item];
            Some(DeadLetter {
                index: &item.index,
                id: item.id.as_deref(),
                status: r.status,
                kind: &r.kind,
                reason: &r.reason,
                event: batch.get(item.ordinal)?,
            })
        })
        .collect()
}

/// Records events of `batch` (by position) whose index name needs a field they lack.
pub(super) fn record_missing_fields(
    shared: &Shared,
    batch: &Batch,
    missing: &[(usize, String)],
) -> Result<(), OutputError> {
    let reasons: Vec<String> = missing
        .iter()
        .map(|(_, f)| format!("the event has no field `{f}`, which the index name needs"))
        .collect();
    let letters: Vec<DeadLetter<'_>> = missing
        .iter()
        .zip(&reasons)
        .filter_map(|((ordinal, _), reason)| {
            Some(DeadLetter {
                index: "",
                id: None,
                status: 0,
                kind: "index_name_missing_field",
                reason,
                event: batch.get(*ordinal)?,
            })
        })
        .collect();
    record(shared, &letters)
}

/// Appends `letters` to the dead-letter file and fsyncs it, counts and logs them (the first few). An
/// error means they are not safely recorded: the events stay in the queue and are tried again.
pub(super) fn record(shared: &Shared, letters: &[DeadLetter<'_>]) -> Result<(), OutputError> {
    if letters.is_empty() {
        return Ok(());
    }
    let mut file = shared
        .dead_letters
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    file.write(letters).map_err(|e| {
        OutputError::Retryable(format!(
            "cannot write the dead-letter file {}: {e}; the refused events stay in the queue",
            file.path().display()
        ))
    })?;
    shared.counters.dead_letters.add(letters.len() as u64);
    for l in letters.iter().take(3) {
        tracing::warn!(output = %shared.name, index = l.index, id = ?l.id, status = l.status, error = l.kind, "event refused: {}; recorded in {}", l.reason, file.path().display());
    }
    if letters.len() > 3 {
        tracing::warn!(output = %shared.name, count = letters.len() - 3, "more events refused; see {}", file.path().display());
    }
    Ok(())
}

/// Also indexes the dead letters into `dead_letter_index` (the event as text, so the mapping conflict
/// that refused it cannot happen again). Best effort: the file already has them.
pub(super) async fn index(shared: &Shared, letters: &[DeadLetter<'_>]) {
    let Some(dli) = &shared.dead_letter_index else {
        return;
    };
    let mut body = Vec::new();
    {
        let file = shared
            .dead_letters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for l in letters {
            body.extend_from_slice(b"{\"index\":{\"_index\":");
            crate::util::json_write::write_str(&mut body, dli);
            body.extend_from_slice(b"}}\n");
            body.extend(file.record(l, true));
            body.push(b'\n');
        }
    }
    match shared
        .cluster
        .request(
            reqwest::Method::POST,
            "/_bulk",
            Some((body, "application/x-ndjson", false)),
            client::AnswerLimit::bulk(letters.len()),
        )
        .await
    {
        Ok(a) if a.status == 200 => {}
        Ok(a) => {
            tracing::warn!(output = %shared.name, index = %dli, status = a.status, "cannot index dead letters: {}", client::excerpt(&a.body))
        }
        Err(e) => {
            tracing::warn!(output = %shared.name, index = %dli, "cannot index dead letters: {e}")
        }
    }
}
