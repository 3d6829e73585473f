//! Which Wiegand formats each reader decodes with, from the server's reader tables [seed 003
//! §9.1.1; C33]. Pure: the tables come in, a reader's [`ReaderFormats`] go out.
//!
//! - A reader is known to the server by a `ReaderID`. The `ReaderProperty` row with the reader's
//!   door and side gives it; without one, the ZKTeco panels' numbering is assumed: door n's in
//!   reader is 2n−1, its out reader 2n.
//! - A `ReaderWGFormat` row for that id names the one format the reader's frames are read with
//!   (`WGFormatID`, looked up in `WGFormat`, then in `DefaultWGFormat`), and whether parity is
//!   checked (`ParityVerifyDisable`) and how the reader's bits are arranged (`ReversalType`).
//! - Otherwise the frame is matched automatically against every `DefaultWGFormat` row and every
//!   `WGFormat` row with `IsDefault=1`, in that order; when the server has defined none, against
//!   the built-in 26, 34, 35 and 37-bit formats.
//!
//! A `ReaderWGFormat` row whose format does not exist (deleted later, or never sent) falls back
//! to automatic matching, with its parity and reversal options, and says so in the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::access::model::Direction;
use crate::config::board::ReaderAt;
use crate::hal::wiegand::{ReaderFormats, WiegandFormat};
use crate::protocol::security::tables::{FormatList, ReaderTables, WiegandFormatRow};

/// The server's `ReaderID` for the reader at `at`.
pub fn reader_id(tables: &ReaderTables, at: ReaderAt) -> u32 {
    let side = Direction::from(at.side);
    tables
        .readers
        .iter()
        .find(|r| r.door == at.door && r.direction == side)
        .map_or_else(
            || {
                let door = u32::from(at.door);
                match side {
                    Direction::In => (2 * door).saturating_sub(1),
                    Direction::Out => 2 * door,
                }
            },
            |r| r.reader,
        )
}

/// The formats, and their options, that the reader at `at` decodes frames with.
pub fn reader_formats(tables: &ReaderTables, at: ReaderAt) -> ReaderFormats {
    let id = reader_id(tables, at);
    let Some(row) = tables.reader_formats.iter().find(|r| r.reader == id) else {
        return auto_match(tables);
    };
    let named = [FormatList::Custom, FormatList::Default]
        .into_iter()
        .find_map(|list| {
            tables
                .formats
                .iter()
                .find(|f| f.list == list && f.id == row.format_id)
        })
        .and_then(build);
    let formats = match named {
        Some(format) => ReaderFormats::new(vec![format]),
        None => {
            log::warn!(
                "{at} reader (ReaderID {id}): Wiegand format {} is not defined; matching \
                 automatically",
                row.format_id
            );
            auto_match(tables)
        }
    };
    formats
        .with_parity_check(row.verify_parity)
        .with_reversal(row.reversal)
}

fn auto_match(tables: &ReaderTables) -> ReaderFormats {
    // `formats` is in list order, DefaultWGFormat first.
    let formats: Vec<WiegandFormat> = tables
        .formats
        .iter()
        .filter(|f| f.auto_match)
        .filter_map(build)
        .collect();
    if formats.is_empty() {
        ReaderFormats::default()
    } else {
        ReaderFormats::new(formats)
    }
}

/// The row's format. Rows were checked before they were stored, so a failure here is a store
/// written by something else: logged, and the row left out.
fn build(row: &WiegandFormatRow) -> Option<WiegandFormat> {
    row.format()
        .inspect_err(|e| log::error!("stored Wiegand format {}: {e}", row.id))
        .ok()
}

/// The reader tables as last loaded, shared by the controller (which publishes them when the
/// server changed them) and every reader's decoding (which picks them up at its next frame).
#[derive(Debug, Clone, Default)]
pub struct SharedReaderTables {
    tables: Arc<RwLock<Arc<ReaderTables>>>,
    version: Arc<AtomicU64>,
}

impl SharedReaderTables {
    /// Makes `tables` current, if they differ from the current ones.
    pub fn publish(&self, tables: ReaderTables) {
        let mut current = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        if **current != tables {
            *current = Arc::new(tables);
            self.version.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Counts the publications that changed the tables.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub fn current(&self) -> Arc<ReaderTables> {
        self.tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests;
