//! One OSDP reader's bookkeeping, and the bus's re-probe policy, as pure code: what the control
//! panel reported goes in with the time, controller inputs and changes to log come out. The bus
//! thread in [`super`] does the I/O.
//!
//! - Card reads (osdp_RAW: a bit count and the bits packed first bit first) become a Wiegand
//!   [`Frame`] and go through the same [`ReaderFormats`] as a Wiegand reader's frames; a read that
//!   does not decode is App 2 event 42, as a refused Wiegand frame is.
//! - The link: a reader is on-line while the control panel has it on-line. It is off-line when
//!   the panel gives up on it (LibOSDP does after about 8 s of commands without a valid reply:
//!   8 tries of a 200 ms reply window and a 800 ms pause), or when it has not come on-line
//!   within [`OFFLINE_AFTER_MS`] of the panel being (re)built.
//! - Tamper: the local status report (osdp_LSTATR) carries the tamper and power flags; a change
//!   of the tamper flag is reported once.

use crate::config::board::ReaderAt;
use crate::controller::ControllerInput;
use crate::hal::Feedback;
use crate::hal::gpio::{FrameRead, frame_input};
use crate::hal::keypad::{KeypadEntry, KeypadStep};
use crate::hal::wiegand::{Frame, Key, MAX_FRAME_BITS, ReaderFormats, Reading, WiegandError};
use crate::protocol::session::Mono;

/// A reader that has not come on-line this long after the control panel was (re)built is
/// off-line: OSDP's off-line threshold (no valid reply for 8 s).
pub const OFFLINE_AFTER_MS: u64 = 8_000;
/// The first pause before an off-line reader is probed again (the panel rebuilt); it doubles up
/// to [`REPROBE_MAX_MS`] while a reader of the bus stays off-line.
pub const REPROBE_FIRST_MS: u64 = 15_000;
/// The longest pause between two probes of an off-line reader: LibOSDP's own retry pause.
pub const REPROBE_MAX_MS: u64 = 300_000;

/// How the bits of an osdp_RAW card read are laid out (its format code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawFormat {
    /// 0: a raw bit array, "not specified"; most readers send their Wiegand bits this way.
    Unspecified,
    /// 1: Wiegand bits.
    Wiegand,
}

/// The frame of an osdp_RAW read: `bit_count` bits of `data`, the first bit in the most
/// significant bit of the first byte. Bits the data does not hold are not part of the frame
/// (LibOSDP checks that they agree; a cut frame then fails its format).
pub fn frame_from_packed(bit_count: usize, data: &[u8]) -> Result<Frame, WiegandError> {
    let bit_count = bit_count.min(data.len() * 8);
    if bit_count == 0 {
        return Err(WiegandError::TooShort { bits: 0 });
    }
    if bit_count > MAX_FRAME_BITS as usize {
        return Err(WiegandError::TooLong {
            max_bits: MAX_FRAME_BITS,
        });
    }
    let bits: String = (0..bit_count)
        .map(|i| {
            if data[i / 8] >> (7 - i % 8) & 1 == 1 {
                '1'
            } else {
                '0'
            }
        })
        .collect();
    // 1..=MAX_FRAME_BITS characters 0 or 1: always a frame.
    bits.parse().map_err(|_| WiegandError::TooShort { bits: 0 })
}

/// The key an `osdp_KEYPAD` character names: `0`–`9`; `*` is sent as 0x7F and `#` as 0x0D
/// (OSDP 2.2 §7.12), and their ASCII forms are taken too. Anything else is no key.
pub fn keypad_key(character: u8) -> Option<Key> {
    match character {
        b'0'..=b'9' => Some(Key::Digit(character - b'0')),
        0x7F | b'*' => Some(Key::Escape),
        0x0D | b'#' => Some(Key::Enter),
        _ => None,
    }
}

/// A change of a reader's link, to log once and to show in the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange {
    /// On-line; `again` after it was reported off-line.
    Online {
        again: bool,
    },
    Offline,
}

/// Why a reader is off-line, as far as the control panel's state tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineCause {
    /// No valid reply (unpowered, wrong address or speed, wiring).
    NoReply,
    /// It answered but does not offer the secure channel, which its SCBK makes mandatory.
    NoSecureChannel,
    /// It offers the secure channel but the handshake failed: most likely a wrong SCBK.
    SecureChannelFailed,
}

impl OfflineCause {
    /// From what the reader reported while this panel tried it: whether it answered the
    /// capability request, and whether it offered the secure channel there.
    pub fn diagnose(
        enforced_secure: bool,
        answered_capabilities: bool,
        offers_secure: bool,
    ) -> OfflineCause {
        match (enforced_secure, answered_capabilities, offers_secure) {
            (true, true, false) => OfflineCause::NoSecureChannel,
            (true, true, true) => OfflineCause::SecureChannelFailed,
            _ => OfflineCause::NoReply,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            OfflineCause::NoReply => "no valid reply for 8 s",
            OfflineCause::NoSecureChannel => {
                "refused: it does not offer the secure channel, which its scbk makes mandatory"
            }
            OfflineCause::SecureChannelFailed => {
                "the secure channel handshake failed (is the board's scbk the reader's key?)"
            }
        }
    }
}

/// One reader's link as reported: on-line, off-line, or not known yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkWatch {
    reported: Option<bool>,
    /// Since when the panel (re)built at that time has been trying to bring the reader on-line.
    connecting_since: Option<Mono>,
    /// Whether the current panel had the reader on-line at some point.
    seen_by_panel: bool,
}

impl LinkWatch {
    /// The control panel was (re)built at `now`: its readers start off-line in it.
    pub fn connecting(&mut self, now: Mono) {
        self.connecting_since = Some(now);
        self.seen_by_panel = false;
    }

    /// Whether the reader is reported off-line.
    pub fn is_offline(&self) -> bool {
        self.reported == Some(false)
    }

    /// Whether the current panel ever had the reader on-line.
    pub fn seen_by_panel(&self) -> bool {
        self.seen_by_panel
    }

    /// The panel's view of the reader at `now`.
    pub fn sample(&mut self, online: bool, now: Mono) -> Option<LinkChange> {
        if online {
            self.connecting_since = None;
            self.seen_by_panel = true;
            let again = self.reported == Some(false);
            return (self.reported != Some(true)).then(|| {
                self.reported = Some(true);
                LinkChange::Online { again }
            });
        }
        if let Some(since) = self.connecting_since {
            if now.0.saturating_sub(since.0) < OFFLINE_AFTER_MS {
                return None;
            }
            self.connecting_since = None;
        }
        (self.reported != Some(false)).then(|| {
            self.reported = Some(false);
            LinkChange::Offline
        })
    }
}

/// What a reader's local status report changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TamperChange {
    Alarm,
    Cleared,
}

/// One OSDP reader: where it is, how its reads are decoded, its link and its tamper flag.
#[derive(Debug, Clone)]
pub struct ReaderTrack {
    pub at: ReaderAt,
    formats: ReaderFormats,
    pub link: LinkWatch,
    tamper: bool,
    keypad: KeypadEntry,
}

impl ReaderTrack {
    pub fn new(at: ReaderAt) -> ReaderTrack {
        ReaderTrack {
            at,
            formats: ReaderFormats::default(),
            link: LinkWatch::default(),
            tamper: false,
            keypad: KeypadEntry::default(),
        }
    }

    /// A card read at `now`: an access attempt at the reader, or App 2 event 42 for a read that
    /// did not decode (as a refused Wiegand frame is: [`frame_input`]). A 4 or 8-bit read is a
    /// keypad key, as on a Wiegand reader ([`ReaderTrack::keys`]). A refused read is logged here
    /// with its reason, never its bits.
    pub fn card_read(
        &mut self,
        format: RawFormat,
        bit_count: usize,
        data: &[u8],
        now: Mono,
    ) -> Option<ControllerInput> {
        let decoded = frame_from_packed(bit_count, data).and_then(|f| self.formats.decode(&f));
        let read = match decoded {
            Ok(Reading::Card(card)) => FrameRead::Card(card.number),
            Ok(Reading::Key(key)) => return self.key(key, now),
            Err(e) => {
                log::warn!("{} reader: {format:?} card read refused: {e}", self.at);
                FrameRead::Refused(e)
            }
        };
        Some(frame_input(self.at, read))
    }

    /// An `osdp_KEYPAD` report at `now`: `#` submits the digits typed as a password
    /// ([`KeypadEntry`]). Characters that are no key are dropped.
    pub fn keys(&mut self, characters: &[u8], now: Mono) -> Vec<ControllerInput> {
        characters
            .iter()
            .filter_map(|&c| keypad_key(c))
            .filter_map(|key| self.key(key, now))
            .collect()
    }

    fn key(&mut self, key: Key, now: Mono) -> Option<ControllerInput> {
        match self.keypad.key(key, now.0.saturating_mul(1_000_000)) {
            KeypadStep::Pending => None,
            KeypadStep::Submitted(typed) => Some(frame_input(self.at, FrameRead::Typed(typed))),
            KeypadStep::Discarded => {
                log::info!("{} reader: empty or overlong keypad entry", self.at);
                None
            }
        }
    }

    /// The local status report's tamper flag; a change is reported once.
    pub fn local_status(&mut self, tamper: bool) -> Option<TamperChange> {
        if tamper == self.tamper {
            return None;
        }
        self.tamper = tamper;
        Some(if tamper {
            TamperChange::Alarm
        } else {
            TamperChange::Cleared
        })
    }

    pub fn tamper(&self) -> bool {
        self.tamper
    }
}

/// When an off-line reader is probed again: the first time [`REPROBE_FIRST_MS`] after a reader
/// was found off-line, then at doubling intervals up to [`REPROBE_MAX_MS`]; back to the start
/// once every reader of the bus is on-line. A probe rebuilds the bus's control panel, which
/// restarts the on-line readers' sessions too (a fraction of a second without polls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reprobe {
    interval_ms: u64,
    next_at: Option<Mono>,
}

impl Default for Reprobe {
    fn default() -> Reprobe {
        Reprobe {
            interval_ms: REPROBE_FIRST_MS,
            next_at: None,
        }
    }
}

impl Reprobe {
    /// Whether to probe now, given whether a reader is off-line.
    pub fn due(&mut self, any_offline: bool, now: Mono) -> bool {
        if !any_offline {
            *self = Reprobe::default();
            return false;
        }
        match self.next_at {
            None => {
                self.next_at = Some(now.plus_millis(self.interval_ms));
                false
            }
            Some(at) if now >= at => {
                self.interval_ms = (self.interval_ms * 2).min(REPROBE_MAX_MS);
                self.next_at = Some(now.plus_millis(self.interval_ms));
                true
            }
            Some(_) => false,
        }
    }
}

/// An osdp_LED request: the LED, its colour, and how long it shows it (100 ms units) before it
/// returns to its permanent state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedFlash {
    pub green: bool,
    pub tenths: u16,
}

/// An osdp_BUZ request: the default tone, on and off times in 100 ms units, and repetitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beep {
    pub on_tenths: u8,
    pub off_tenths: u8,
    pub count: u8,
}

/// How long the LED shows a decision: 1.5 s.
pub const FEEDBACK_LED_TENTHS: u16 = 15;
/// The deny beep: two short beeps.
pub const DENY_BEEP: Beep = Beep {
    on_tenths: 2,
    off_tenths: 1,
    count: 2,
};

/// What a reader shows for a decision: green on a grant; red and [`DENY_BEEP`] on a refusal.
pub fn feedback_signals(feedback: Feedback) -> (LedFlash, Option<Beep>) {
    match feedback {
        Feedback::Granted => (
            LedFlash {
                green: true,
                tenths: FEEDBACK_LED_TENTHS,
            },
            None,
        ),
        Feedback::Denied => (
            LedFlash {
                green: false,
                tenths: FEEDBACK_LED_TENTHS,
            },
            Some(DENY_BEEP),
        ),
    }
}
