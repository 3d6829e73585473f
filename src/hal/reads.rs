//! What a reader's data comes to, the same on a Wiegand reader (frames from its D0/D1 lines) and
//! on an OSDP reader (osdp_RAW card reads, osdp_KEYPAD keys): a frame is decoded with the
//! reader's [`ReaderFormats`] (from the server's tables, [`crate::hal::formats`]); a keypad key goes into its [`KeypadEntry`]; what is complete
//! becomes a [`FrameRead`], then an input at the reader ([`frame_input`]).
//!
//! Pure: the time of a key comes in (CLOCK_MONOTONIC nanoseconds). A refused frame is logged
//! here with its reason, never its bits; line noise (a burst too short to be a card or a key)
//! only at debug level, and it is no event.

use crate::access::Credential;
use crate::access::model::Direction;
use crate::config::board::ReaderAt;
use crate::controller::ControllerInput;
use crate::hal::formats::{SharedReaderTables, reader_formats};
use crate::hal::keypad::{KeypadEntry, KeypadStep, Password};
use crate::hal::wiegand::{FrameResult, Key, ReaderFormats, Reading, WiegandError};

/// What a frame or a key at a reader came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameRead {
    Card(u64),
    /// The last key of a keypad entry (`#`): the digits typed before it.
    Typed(Password),
    /// The frame did not decode ([`ReaderReads`] logged why).
    Refused(WiegandError),
}

/// Where a read becomes an input at its reader: a card or a typed password an access attempt,
/// a frame that did not decode App 2 event 42.
pub fn frame_input(reader: ReaderAt, read: FrameRead) -> ControllerInput {
    let (door, side) = (reader.door, Direction::from(reader.side));
    match read {
        FrameRead::Card(card) => ControllerInput::Credential {
            credential: Credential::Card(card),
            door,
            side,
        },
        FrameRead::Typed(Password(digits)) => ControllerInput::Credential {
            credential: Credential::Password(digits),
            door,
            side,
        },
        FrameRead::Refused(_) => ControllerInput::BadWiegandFrame { door, side },
    }
}

/// One reader's decoding: its formats (from the server's reader tables, looked at again when
/// they changed) and its keypad entry in progress.
#[derive(Debug, Clone, Default)]
pub struct ReaderReads {
    tables: SharedReaderTables,
    /// The tables' version `formats` were resolved from; `None` before the first frame.
    resolved: Option<u64>,
    formats: ReaderFormats,
    keypad: KeypadEntry,
}

impl ReaderReads {
    pub fn new(tables: SharedReaderTables) -> ReaderReads {
        ReaderReads {
            tables,
            ..ReaderReads::default()
        }
    }

    /// A frame at `reader` as the line delivered it (or why it failed there), at `at_ns`. `None`
    /// for a key that completes no entry, and for line noise.
    pub fn frame(&mut self, reader: ReaderAt, frame: FrameResult, at_ns: u64) -> Option<FrameRead> {
        let version = self.tables.version();
        if self.resolved != Some(version) {
            self.formats = reader_formats(&self.tables.current(), reader);
            self.resolved = Some(version);
        }
        match frame.and_then(|f| self.formats.decode(&f)) {
            Ok(Reading::Card(card)) => Some(FrameRead::Card(card.number)),
            Ok(Reading::Key(key)) => self.key(reader, key, at_ns),
            Err(e) if e.is_noise() => {
                log::debug!("{reader} reader: line noise: {e}");
                None
            }
            Err(e) => {
                log::warn!("{reader} reader: card read refused: {e}");
                Some(FrameRead::Refused(e))
            }
        }
    }

    /// One keypad key at `reader`, pressed at `at_ns`: the password typed once `#` ends it.
    pub fn key(&mut self, reader: ReaderAt, key: Key, at_ns: u64) -> Option<FrameRead> {
        match self.keypad.key(key, at_ns) {
            KeypadStep::Pending => None,
            KeypadStep::Submitted(typed) => Some(FrameRead::Typed(typed)),
            KeypadStep::Discarded => {
                log::info!("{reader} reader: empty or overlong keypad entry");
                None
            }
        }
    }
}
