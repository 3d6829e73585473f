//! One OSDP reader's bookkeeping, and the bus's re-probe policy, as pure code: what the control
//! panel reported goes in with the time, controller inputs and changes to log come out. The bus
//! thread in [`super`] does the I/O.
//!
//! - Card reads (osdp_RAW: a bit count and the bits packed first bit first) become a Wiegand
//!   [`Frame`], and keypad reports keys; both go through the same [`ReaderReads`] as a Wiegand
//!   reader's frames (a read that does not decode is App 2 event 42).
//! - The link: a reader is on-line while the control panel has it on-line. It is off-line when
//!   the panel gives up on it (LibOSDP does after about 8 s of commands without a valid reply:
//!   8 tries of a 200 ms reply window and a 800 ms pause), or when it has not come on-line
//!   within [`OFFLINE_AFTER_MS`] of the panel being (re)built.
//! - Tamper: the local status report (osdp_LSTATR) carries the tamper and power flags; a change
//!   of the tamper flag is reported once.

use crate::config::board::ReaderAt;
use crate::controller::ControllerInput;
use crate::hal::Feedback;
use crate::hal::formats::SharedReaderTables;
use crate::hal::reads::{ReaderReads, frame_input};
use crate::hal::wiegand::{Frame, Key};
use crate::protocol::session::Mono;

/// A reader that has not come on-line this long after the control panel was (re)built is
/// off-line: OSDP's off-line threshold (no valid reply for 8 s).
pub const OFFLINE_AFTER_MS: u64 = 8_000;
/// The first pause before an off-line reader is probed again (the panel rebuilt); it doubles
/// while a reader of the bus stays off-line, until it reaches [`REPROBE_MAX_MS`].
pub const REPROBE_FIRST_MS: u64 = 15_000;
/// LibOSDP's own pause before it retries an off-line reader: a probe this far apart adds
/// nothing, so the rebuilds stop there.
pub const REPROBE_MAX_MS: u64 = 300_000;

/// `now` in nanoseconds, the unit keypad entries are timed in.
fn nanos(now: Mono) -> u64 {
    now.0.saturating_mul(1_000_000)
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
    reads: ReaderReads,
    pub link: LinkWatch,
    tamper: bool,
}

impl ReaderTrack {
    pub fn new(at: ReaderAt, reader_tables: SharedReaderTables) -> ReaderTrack {
        ReaderTrack {
            at,
            reads: ReaderReads::new(reader_tables),
            link: LinkWatch::default(),
            tamper: false,
        }
    }

    /// A card read (osdp_RAW: `bit_count` bits packed in `data`) at `now`, decoded as a Wiegand
    /// reader's frame is ([`ReaderReads::frame`]): an access attempt, event 42, or a key.
    pub fn card_read(
        &mut self,
        bit_count: usize,
        data: &[u8],
        now: Mono,
    ) -> Option<ControllerInput> {
        let frame = Frame::from_packed(bit_count, data);
        let read = self.reads.frame(self.at, frame, nanos(now))?;
        Some(frame_input(self.at, read))
    }

    /// An `osdp_KEYPAD` report at `now`: `#` submits the digits typed as a password.
    /// Characters that are no key are dropped.
    pub fn keys(&mut self, characters: &[u8], now: Mono) -> Vec<ControllerInput> {
        characters
            .iter()
            .filter_map(|&c| keypad_key(c))
            .filter_map(|key| self.reads.key(self.at, key, nanos(now)))
            .map(|read| frame_input(self.at, read))
            .collect()
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
/// was found off-line, then at doubling intervals while they are shorter than LibOSDP's own
/// retry pause ([`REPROBE_MAX_MS`]): 15, 30, 60, 120 and 240 s. From then on LibOSDP's retries
/// probe the reader, so a reader that stays unplugged costs at most five rebuilds (each leaks a
/// little in the `libosdp` wrapper: see [`super`]). Back to the start once every reader of the
/// bus is on-line. A probe rebuilds the bus's control panel, which restarts the on-line readers'
/// sessions too (a fraction of a second without polls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reprobe {
    interval_ms: u64,
    next: NextProbe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NextProbe {
    /// Not scheduled: every reader was on-line at the last look.
    Unscheduled,
    At(Mono),
    /// Left to LibOSDP's own retries until every reader is on-line again.
    LeftToLibosdp,
}

impl Default for Reprobe {
    fn default() -> Reprobe {
        Reprobe {
            interval_ms: REPROBE_FIRST_MS,
            next: NextProbe::Unscheduled,
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
        match self.next {
            NextProbe::Unscheduled => {
                self.next = NextProbe::At(now.plus_millis(self.interval_ms));
                false
            }
            NextProbe::At(at) if now >= at => {
                self.interval_ms *= 2;
                self.next = if self.interval_ms < REPROBE_MAX_MS {
                    NextProbe::At(now.plus_millis(self.interval_ms))
                } else {
                    NextProbe::LeftToLibosdp
                };
                true
            }
            NextProbe::At(_) | NextProbe::LeftToLibosdp => false,
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
