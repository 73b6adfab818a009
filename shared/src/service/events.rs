//! Domain events from the table's stream (docs/events.md): each change of interest becomes the
//! contract's event on the bus, in the order of the stream. What could not be published is
//! reported as the first record to retry, so the mapping redelivers from there (the records
//! before it are done) and a consumer drops the repeats by `detail.eventId`.

use crate::App;
use crate::domain::event::Envelope;
use crate::error::{ChatError, Result};

/// One stream record as the use case sees it: its sequence number and what it means.
pub struct Change {
    pub sequence_number: String,
    /// `Err`: the record could not be read (it is retried, then set aside by the mapping).
    pub event: Result<Option<Envelope>>,
}

/// Publishes the events of `changes` (in stream order); the sequence number of the first change
/// that is not done, if any.
pub async fn publish(app: &App, changes: Vec<Change>) -> Result<Option<String>> {
    let publisher = app.events.as_ref().ok_or_else(|| ChatError::internal("CHAT_EVENT_BUS is not set"))?;
    // Up to the first unreadable record: whatever follows it is redelivered anyway.
    let unreadable = changes.iter().position(|c| c.event.is_err());
    let readable = &changes[..unreadable.unwrap_or(changes.len())];
    let (positions, envelopes): (Vec<usize>, Vec<Envelope>) = readable
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.event.as_ref().ok().cloned().flatten().map(|e| (i, e)))
        .unzip();
    let failed = if envelopes.is_empty() { Vec::new() } else { publisher.publish(&envelopes).await? };
    let first_failed = failed.iter().map(|&f| positions[f]).min();
    let first = match (first_failed, unreadable) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(Err(e)) = unreadable.map(|i| &changes[i].event) {
        tracing::error!(error = %e, sequence = %changes[unreadable.unwrap_or_default()].sequence_number, "unreadable stream record");
    }
    tracing::info!(
        records = changes.len(),
        published = envelopes.len() - failed.len(),
        failed = failed.len(),
        "domain events"
    );
    Ok(first.map(|i| changes[i].sequence_number.clone()))
}
