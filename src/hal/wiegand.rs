//! Wiegand readers, as pure code: no GPIO, no clock, no threads.
//!
//! Two stages:
//! 1. [`EdgeDecoder`] turns edge events on D0/D1 into [`Frame`]s. Each event carries the kernel's
//!    timestamp (gpiocdev's `EdgeEvent::timestamp_ns`, CLOCK_MONOTONIC): userspace wake-up times
//!    are far too coarse for 50 µs pulses. A falling edge on D0 is a 0 bit, on D1 a 1 bit; a frame
//!    ends after a silence of [`Timing::frame_gap_ns`]. The shell waits for the next event until
//!    [`EdgeDecoder::deadline`] and calls [`EdgeDecoder::tick`] when that wait times out, with a
//!    `now` on the kernel's clock (for instance the last event's timestamp plus the time waited).
//!    It reports a jump in the kernel's event sequence numbers (its FIFO overflowed) through
//!    [`EdgeDecoder::events_lost`].
//! 2. [`ReaderFormats::decode`] turns a frame into a [`Card`] or a keypad [`Key`]: the built-in
//!    26, 34, 35 (Corporate 1000) and 37-bit formats, or the formats the server defines in its
//!    `WGFormat` / `DefaultWGFormat` tables (seed §9.1.1), with the `ReaderWGFormat` options
//!    (`ParityVerifyDisable`, `ReversalType`).
//!
//! Every rejection is a [`WiegandError`] value. The shell logs it (it holds no card bits) and
//! reports App 2 event 42, "wrong Wiegand format".
//!
//! Bits are numbered in the order they arrive: the first bit sent is bit 1 in the literature and
//! in error messages, index 0 in this code.

use std::fmt;
use std::str::FromStr;

/// The most bits a frame can hold; more without a frame gap is a runaway line.
pub const MAX_FRAME_BITS: u32 = u128::BITS;

/// Frames shorter than this are neither a card nor a key (the shortest keypad burst is 4 bits).
const MIN_FRAME_BITS: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// Pulses low for a 0 bit.
    D0,
    /// Pulses low for a 1 bit.
    D1,
}

impl Line {
    fn index(self) -> usize {
        match self {
            Line::D0 => 0,
            Line::D1 => 1,
        }
    }

    fn other(self) -> Line {
        match self {
            Line::D0 => Line::D1,
            Line::D1 => Line::D0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// The start of a pulse (the lines idle high).
    Falling,
    /// The end of a pulse. Optional: when the shell asks for both edges, pulse widths are checked.
    Rising,
}

/// One edge event as the kernel reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub line: Line,
    pub kind: EdgeKind,
    /// The kernel's CLOCK_MONOTONIC timestamp of the edge, in nanoseconds.
    pub timestamp_ns: u64,
}

/// The timing the decoder accepts. The SIA figures are a pulse width (Tpw) of 20–100 µs and a
/// pulse interval (Tpi) of 200 µs–20 ms (design note §2); the defaults widen them because kernel
/// timestamps carry interrupt latency on each edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Shortest pulse, falling to rising edge, that counts as a bit. Default 5 µs: noise spikes
    /// are shorter, and the latency of two interrupts can eat most of a 20 µs pulse.
    pub pulse_min_ns: u64,
    /// Longest pulse. Default 300 µs: three times the nominal maximum.
    pub pulse_max_ns: u64,
    /// Two pulses that start closer than this are a glitch (noise, or D0 and D1 together).
    /// Default 150 µs, below the nominal 200 µs minimum.
    pub bit_interval_min_ns: u64,
    /// Silence that ends a frame. Default 30 ms: above the nominal 20 ms maximum interval, and
    /// short enough not to delay the door.
    pub frame_gap_ns: u64,
    /// Bits beyond which the frame is a runaway line, 1 to [`MAX_FRAME_BITS`] (the default).
    pub max_bits: u32,
}

impl Timing {
    fn bit_limit(&self) -> u32 {
        self.max_bits.clamp(1, MAX_FRAME_BITS)
    }
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            pulse_min_ns: 5_000,
            pulse_max_ns: 300_000,
            bit_interval_min_ns: 150_000,
            frame_gap_ns: 30_000_000,
            max_bits: MAX_FRAME_BITS,
        }
    }
}

/// Why a frame was rejected, at the line or at the format. None holds card bits, so each can be
/// logged as it is. Bit numbers count from 1, the first bit received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WiegandError {
    #[error("glitch: bit {bit} started {interval_ns} ns after the previous one")]
    Glitch { bit: u32, interval_ns: u64 },
    #[error("D0 and D1 were low together at bit {bit}")]
    Overlap { bit: u32 },
    #[error("bit {bit} was a {width_ns} ns pulse, outside the accepted width")]
    PulseWidth { bit: u32, width_ns: u64 },
    #[error("runaway line: more than {max_bits} bits without a frame gap")]
    TooLong { max_bits: u32 },
    #[error("edge events were lost (kernel event buffer overflow) during the frame")]
    EventsLost,
    #[error("{bits}-bit frame is too short for a card or a key")]
    TooShort { bits: u32 },
    #[error("no Wiegand format has {bits} bits")]
    UnknownLength { bits: u32 },
    #[error("{bits}-bit frame fails parity check {check} ({})", if *.odd { "odd" } else { "even" })]
    Parity { bits: u32, check: usize, odd: bool },
    #[error("8-bit keypad burst whose first nibble is not the complement of the key")]
    KeyComplement,
    #[error("keypad code {code} is no key")]
    UnknownKey { code: u8 },
}

impl WiegandError {
    /// A burst too short to be a card or a key: line noise (a spike, a reader powering up), not
    /// someone at the reader.
    pub fn is_noise(&self) -> bool {
        matches!(self, WiegandError::TooShort { .. })
    }
}

/// A frame's line-level outcome.
pub type FrameResult = Result<Frame, WiegandError>;

/// The bits of one frame, in the order received (up to [`MAX_FRAME_BITS`]). Its `Display` and
/// `FromStr` forms are the bits as `0`/`1` characters, first bit first.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Frame {
    /// Bit `i` of the integer is the `i`-th bit received; the bits at and above `len` are 0.
    bits: u128,
    len: u32,
}

impl Frame {
    pub fn bit_count(&self) -> u32 {
        self.len
    }

    /// The bit at `index` (0 = the first received); `false` past the end.
    pub fn bit(&self, index: u32) -> bool {
        index < self.len && self.bits >> index & 1 == 1
    }

    /// The frame of `bit_count` bits packed in `data`, the first bit in the most significant bit
    /// of the first byte (an OSDP osdp_RAW card read). Bits the data does not hold are not part
    /// of the frame (a cut frame then fails its format).
    pub fn from_packed(bit_count: usize, data: &[u8]) -> FrameResult {
        let bit_count = bit_count.min(data.len() * 8);
        if bit_count > MAX_FRAME_BITS as usize {
            return Err(WiegandError::TooLong {
                max_bits: MAX_FRAME_BITS,
            });
        }
        if bit_count < MIN_FRAME_BITS as usize {
            return Err(WiegandError::TooShort {
                bits: bit_count as u32,
            });
        }
        let mut frame = Frame::default();
        // bit_count <= data.len() * 8: every index is in the data.
        for i in 0..bit_count {
            frame.push(data[i / 8] >> (7 - i % 8) & 1 == 1);
        }
        Ok(frame)
    }

    /// Appends a bit; the caller keeps the frame below [`MAX_FRAME_BITS`].
    fn push(&mut self, one: bool) {
        self.bits |= u128::from(one) << self.len;
        self.len += 1;
    }

    /// The frame read last bit first.
    fn reversed(&self) -> Frame {
        match self.len {
            0 => *self,
            len => Frame {
                bits: self.bits.reverse_bits() >> (u128::BITS - len),
                len,
            },
        }
    }

    /// Every bit inverted.
    fn complemented(&self) -> Frame {
        Frame {
            bits: self.bits ^ low_mask(self.len),
            len: self.len,
        }
    }

    fn ones_in(&self, positions: u128) -> u32 {
        (self.bits & positions).count_ones()
    }

    /// The bits at `positions`, the first received as the most significant. Callers keep the
    /// field within 64 bits (the formats check it when they are built).
    fn field(&self, positions: u128) -> u64 {
        (0..self.len)
            .filter(|i| positions >> i & 1 == 1)
            .fold(0, |value, i| value << 1 | u64::from(self.bit(i)))
    }
}

/// The positions `0..len`.
fn low_mask(len: u32) -> u128 {
    u128::MAX.checked_shr(u128::BITS - len).unwrap_or(0)
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (0..self.len).try_for_each(|i| f.write_str(if self.bit(i) { "1" } else { "0" }))
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({self})")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a frame is 1 to {MAX_FRAME_BITS} characters 0 or 1")]
pub struct FrameParseError;

impl FromStr for Frame {
    type Err = FrameParseError;

    fn from_str(bits: &str) -> Result<Frame, FrameParseError> {
        if bits.is_empty() || bits.len() > MAX_FRAME_BITS as usize {
            return Err(FrameParseError);
        }
        bits.chars().try_fold(Frame::default(), |mut frame, c| {
            match c {
                '0' => frame.push(false),
                '1' => frame.push(true),
                _ => return Err(FrameParseError),
            }
            Ok(frame)
        })
    }
}

/// The edge-to-frame state machine. Time comes only from the events' timestamps and from the
/// `now_ns` the shell passes to [`EdgeDecoder::tick`], both CLOCK_MONOTONIC.
///
/// A fault inside a frame (glitch, pulse width, lost events) does not end it: the decoder keeps
/// reading until the frame gap and then reports the first fault, once. A runaway line is reported
/// as soon as it exceeds [`Timing::max_bits`]; its further edges are swallowed until a gap.
#[derive(Debug, Clone)]
pub struct EdgeDecoder {
    timing: Timing,
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    Idle,
    Receiving(Pending),
    /// A runaway frame was reported; edges are ignored until the line has been quiet for a gap.
    Draining {
        last_edge_ns: u64,
    },
}

#[derive(Debug, Clone)]
struct Pending {
    frame: Frame,
    last_edge_ns: u64,
    /// The start of the latest pulse; `None` in a frame opened by [`EdgeDecoder::events_lost`].
    last_fall_ns: Option<u64>,
    /// When each line went low, until its rising edge (seen only if the shell asks for them).
    low_since: [Option<u64>; 2],
    fault: Option<WiegandError>,
}

impl Pending {
    fn new(timestamp_ns: u64) -> Pending {
        Pending {
            frame: Frame::default(),
            last_edge_ns: timestamp_ns,
            last_fall_ns: None,
            low_since: [None; 2],
            fault: None,
        }
    }

    /// Keeps the first fault: later ones are usually its consequences.
    fn fault(&mut self, fault: WiegandError) {
        self.fault.get_or_insert(fault);
    }

    /// A new pulse. Returns `false` when the frame has no room for another bit.
    fn falling(&mut self, line: Line, t: u64, timing: &Timing) -> bool {
        let bit = self.frame.len + 1;
        if let Some(previous) = self.last_fall_ns {
            let interval_ns = t.saturating_sub(previous);
            if interval_ns < timing.bit_interval_min_ns {
                self.fault(WiegandError::Glitch { bit, interval_ns });
            }
        }
        self.last_fall_ns = Some(t);
        self.last_edge_ns = t;
        self.low_since[line.index()] = Some(t);
        if self.frame.len >= timing.bit_limit() {
            return false;
        }
        self.frame.push(line == Line::D1);
        true
    }

    /// The end of a pulse: checks its width, and that the other line did not go low meanwhile.
    fn rising(&mut self, line: Line, t: u64, timing: &Timing) {
        self.last_edge_ns = t;
        // A rising edge without its falling one: the line was low when the frame began.
        let Some(fell) = self.low_since[line.index()].take() else {
            return;
        };
        let bit = self.frame.len;
        let width_ns = t.saturating_sub(fell);
        if !(timing.pulse_min_ns..=timing.pulse_max_ns).contains(&width_ns) {
            self.fault(WiegandError::PulseWidth { bit, width_ns });
        }
        if self.low_since[line.other().index()].is_some_and(|other_fell| other_fell >= fell) {
            self.fault(WiegandError::Overlap { bit });
        }
    }

    fn close(self) -> FrameResult {
        match self.fault {
            // Lost events may have been any number of bits: a card may have been presented.
            Some(WiegandError::EventsLost) => Err(WiegandError::EventsLost),
            // Fewer bits than the shortest keypad burst is line noise, whatever its pulses were.
            _ if self.frame.len < MIN_FRAME_BITS => Err(WiegandError::TooShort {
                bits: self.frame.len,
            }),
            Some(fault) => Err(fault),
            None => Ok(self.frame),
        }
    }
}

impl EdgeDecoder {
    pub fn new(timing: Timing) -> EdgeDecoder {
        EdgeDecoder {
            timing,
            state: State::Idle,
        }
    }

    /// Feeds one edge. Returns the previous frame when this edge comes after its gap (the shell
    /// did not tick in time), or a runaway frame's error as soon as it overflows.
    pub fn edge(&mut self, edge: Edge) -> Option<FrameResult> {
        let t = edge.timestamp_ns;
        // When this closes a frame, the edge below starts a new one, which cannot overflow yet:
        // at most one of the two is `Some`.
        let closed = self.tick(t);
        let runaway = match (&mut self.state, edge.kind) {
            (State::Draining { last_edge_ns }, _) => {
                *last_edge_ns = t;
                None
            }
            // The end of a pulse that began before this decoder saw anything.
            (State::Idle, EdgeKind::Rising) => None,
            (State::Idle, EdgeKind::Falling) => {
                let mut pending = Pending::new(t);
                // The first bit always fits: the bit limit is at least 1.
                pending.falling(edge.line, t, &self.timing);
                self.state = State::Receiving(pending);
                None
            }
            (State::Receiving(pending), EdgeKind::Rising) => {
                pending.rising(edge.line, t, &self.timing);
                None
            }
            (State::Receiving(pending), EdgeKind::Falling) => {
                if pending.falling(edge.line, t, &self.timing) {
                    None
                } else {
                    self.state = State::Draining { last_edge_ns: t };
                    Some(Err(WiegandError::TooLong {
                        max_bits: self.timing.bit_limit(),
                    }))
                }
            }
        };
        closed.or(runaway)
    }

    /// The shell saw a gap in the kernel's event sequence numbers at `timestamp_ns`: the frame
    /// under way, or the one whose first edges were lost, is discarded as an error at its end.
    pub fn events_lost(&mut self, timestamp_ns: u64) {
        match &mut self.state {
            State::Idle => {
                let mut pending = Pending::new(timestamp_ns);
                pending.fault(WiegandError::EventsLost);
                self.state = State::Receiving(pending);
            }
            State::Receiving(pending) => {
                pending.fault(WiegandError::EventsLost);
                pending.last_edge_ns = pending.last_edge_ns.max(timestamp_ns);
            }
            State::Draining { last_edge_ns } => *last_edge_ns = (*last_edge_ns).max(timestamp_ns),
        }
    }

    /// When the frame under way is complete if no edge comes first; `None` when idle.
    pub fn deadline(&self) -> Option<u64> {
        let last_edge_ns = match &self.state {
            State::Idle => return None,
            State::Receiving(pending) => pending.last_edge_ns,
            State::Draining { last_edge_ns } => *last_edge_ns,
        };
        Some(last_edge_ns.saturating_add(self.timing.frame_gap_ns))
    }

    /// Ends the frame under way if `now_ns` is at or past its deadline, and returns it.
    pub fn tick(&mut self, now_ns: u64) -> Option<FrameResult> {
        if self.deadline().is_none_or(|deadline| now_ns < deadline) {
            return None;
        }
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Receiving(pending) => Some(pending.close()),
            State::Idle | State::Draining { .. } => None,
        }
    }
}

/// One parity check: the number of 1s over `positions` (the parity bit included) is even, or odd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ParityCheck {
    positions: u128,
    odd: bool,
}

impl ParityCheck {
    fn holds(&self, frame: &Frame) -> bool {
        (frame.ones_in(self.positions) % 2 == 1) == self.odd
    }
}

/// A card format: its length, which bits make the card number and the site code, and its parity
/// checks. Built in, or parsed from the server's `CardFormat` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WiegandFormat {
    bits: u32,
    /// Positions of the card number's bits, the first received the most significant.
    card: u128,
    /// Positions of the site code's bits; 0 when the format has none.
    site: u128,
    parity: Vec<ParityCheck>,
}

/// The positions of bits `first..=last`, numbered from 1 as in the format tables.
fn bits_from(first: u32, last: u32) -> u128 {
    (first..=last).fold(0, |mask, bit| mask | 1 << (bit - 1))
}

fn even(positions: u128) -> ParityCheck {
    ParityCheck {
        positions,
        odd: false,
    }
}

fn odd(positions: u128) -> ParityCheck {
    ParityCheck {
        positions,
        odd: true,
    }
}

impl WiegandFormat {
    /// The built-in formats, in the order a frame is matched against them.
    pub fn builtin() -> Vec<WiegandFormat> {
        vec![
            WiegandFormat::h10301(),
            WiegandFormat::wiegand34(),
            WiegandFormat::corporate1000(),
            WiegandFormat::h10304(),
        ]
    }

    pub fn bit_count(&self) -> u32 {
        self.bits
    }

    /// 26-bit H10301: P, facility code 8, card number 16, P. Bit 1 is even parity over bits 2–13,
    /// bit 26 odd parity over bits 14–25. Card number: the 24 data bits, FC × 65536 + CN, as
    /// ZKTeco terminals report it; site code: the FC.
    pub fn h10301() -> WiegandFormat {
        WiegandFormat {
            bits: 26,
            card: bits_from(2, 25),
            site: bits_from(2, 9),
            parity: vec![even(bits_from(1, 13)), odd(bits_from(14, 26))],
        }
    }

    /// 34-bit: P, facility code 16, card number 16, P (H10306; readers of 32-bit UIDs use the same
    /// frame). Bit 1 is even parity over bits 2–17, bit 34 odd parity over bits 18–33. Card
    /// number: the 32 data bits, FC × 65536 + CN; site code: the FC.
    pub fn wiegand34() -> WiegandFormat {
        WiegandFormat {
            bits: 34,
            card: bits_from(2, 33),
            site: bits_from(2, 17),
            parity: vec![even(bits_from(1, 17)), odd(bits_from(18, 34))],
        }
    }

    /// 35-bit HID Corporate 1000: P P, company 12 (bits 3–14), card 20 (bits 15–34), P.
    /// - bit 2: even parity over bits 3–34 except every third one (3, 4, 6, 7, …, 33, 34);
    /// - bit 35: odd parity over bits 2–33 except every third one (2, 3, 5, 6, …, 32, 33);
    /// - bit 1: odd parity over bits 2–35, so over the whole frame.
    ///
    /// Source: the proxmark3 client, `client/src/wiegand_formats.c`, `Pack_C1k35s`: masks
    /// 0xB6DB6DB6 with the frame's bit 3, 0x6DB6DB6C with bits 2–3, and all bits, over the frame
    /// read last bit first (bit 35 = bit 0 of its `Bot` word). Card number: the 32 data bits,
    /// company × 2^20 + card; site code: the company ID.
    pub fn corporate1000() -> WiegandFormat {
        let every_third_dropped = |first: u32, last: u32, dropped: u32| {
            (first..=last)
                .filter(|bit| bit % 3 != dropped)
                .fold(0, |mask, bit| mask | bits_from(bit, bit))
        };
        WiegandFormat {
            bits: 35,
            card: bits_from(3, 34),
            site: bits_from(3, 14),
            parity: vec![
                even(bits_from(2, 2) | every_third_dropped(3, 34, 2)),
                odd(every_third_dropped(2, 33, 1) | bits_from(35, 35)),
                odd(bits_from(1, 35)),
            ],
        }
    }

    /// 37-bit H10304: P, facility code 16, card number 19, P. Bit 1 is even parity over bits 2–19,
    /// bit 37 odd parity over bits 19–36: the halves share bit 19 (design note §2; proxmark3
    /// `Pack_H10304`). Card number: the 35 data bits, FC × 2^19 + CN; site code: the FC.
    pub fn h10304() -> WiegandFormat {
        WiegandFormat {
            bits: 37,
            card: bits_from(2, 36),
            site: bits_from(2, 17),
            parity: vec![even(bits_from(1, 19)), odd(bits_from(19, 37))],
        }
    }

    /// A format from a `WGFormat` / `DefaultWGFormat` `CardFormat` pattern (seed §9.1.1), e.g.
    /// `pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo`, one letter per bit, bit 1 first.
    ///
    /// Before `:`, each bit's role (either case): `c` card number, `s` site code; `p`, `e`, `o`
    /// parity bits; `f` facility or device code, `m` manufacturer code, `x` unused: read by no
    /// field. The card number is the `c` bits and nothing else, as ZKTeco's own patterns intend:
    /// its Wiegand 26 marks all 24 data bits `c`, its Wiegand 26a marks 8 `s` and 16 `c`.
    ///
    /// After `:`, the parity coverage, as long as the roles: `e` bits together hold an even
    /// number of 1s, `o` bits an odd number, `x` bits are in neither. Without `:`, no parity is
    /// checked.
    pub fn from_card_format(pattern: &str) -> Result<WiegandFormat, FormatError> {
        let (roles, coverage) = match pattern.split_once(':') {
            Some((roles, coverage)) => (roles.trim(), Some(coverage.trim())),
            None => (pattern.trim(), None),
        };
        let bits = roles.chars().count();
        if bits == 0 || bits > MAX_FRAME_BITS as usize {
            return Err(FormatError::Length { bits });
        }
        let (mut card, mut site) = (0u128, 0u128);
        for (i, role) in roles.chars().enumerate() {
            match role.to_ascii_lowercase() {
                'c' => card |= 1 << i,
                's' => site |= 1 << i,
                'p' | 'e' | 'o' | 'f' | 'm' | 'x' => {}
                _ => {
                    return Err(FormatError::Role {
                        letter: role,
                        bit: i + 1,
                    });
                }
            }
        }
        if card == 0 {
            return Err(FormatError::NoCardField);
        }
        for (field, positions, max) in [("card number", card, 64), ("site code", site, 32)] {
            if positions.count_ones() > max {
                return Err(FormatError::FieldTooWide {
                    field,
                    bits: positions.count_ones(),
                    max,
                });
            }
        }
        let mut format = WiegandFormat {
            bits: bits as u32,
            card,
            site,
            parity: Vec::new(),
        };
        if let Some(coverage) = coverage {
            format.add_parity(coverage)?;
        }
        Ok(format)
    }

    /// Adds a WGFormat V2.0 `ExtParityFormat`: `;`-separated coverage masks, each written like
    /// the part of a `CardFormat` after `:` and checked in addition to it.
    pub fn with_ext_parity(
        mut self,
        ext_parity_format: &str,
    ) -> Result<WiegandFormat, FormatError> {
        for mask in ext_parity_format.split(';').map(str::trim) {
            if !mask.is_empty() {
                self.add_parity(mask)?;
            }
        }
        Ok(self)
    }

    fn add_parity(&mut self, coverage: &str) -> Result<(), FormatError> {
        let bits = coverage.chars().count();
        if bits != self.bits as usize {
            return Err(FormatError::CoverageLength {
                expected: self.bits as usize,
                bits,
            });
        }
        let (mut evens, mut odds) = (0u128, 0u128);
        for (i, letter) in coverage.chars().enumerate() {
            match letter.to_ascii_lowercase() {
                'e' => evens |= 1 << i,
                'o' => odds |= 1 << i,
                'x' => {}
                _ => return Err(FormatError::Coverage { letter, bit: i + 1 }),
            }
        }
        // Checks are numbered as written: within a mask, the group that starts first comes first.
        let mut checks = [even(evens), odd(odds)];
        checks.sort_by_key(|check| check.positions.trailing_zeros());
        self.parity
            .extend(checks.into_iter().filter(|check| check.positions != 0));
        Ok(())
    }

    /// The card read from a frame of this format's length.
    fn read(&self, frame: &Frame, verify_parity: bool) -> Result<(u64, Option<u32>), WiegandError> {
        if verify_parity
            && let Some((index, failed)) = self
                .parity
                .iter()
                .enumerate()
                .find(|(_, check)| !check.holds(frame))
        {
            return Err(WiegandError::Parity {
                bits: frame.len,
                check: index + 1,
                odd: failed.odd,
            });
        }
        let site_code = (self.site != 0).then(|| frame.field(self.site) as u32);
        Ok((frame.field(self.card), site_code))
    }
}

/// A `CardFormat` or `ExtParityFormat` the decoder cannot use. Bit numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("a format has 1 to {MAX_FRAME_BITS} bits, not {bits}")]
    Length { bits: usize },
    #[error("unknown bit role {letter:?} at bit {bit}")]
    Role { letter: char, bit: usize },
    #[error("the format has no card number bits (c)")]
    NoCardField,
    #[error("the {field} has {bits} bits; at most {max} are supported")]
    FieldTooWide {
        field: &'static str,
        bits: u32,
        max: u32,
    },
    #[error("a parity mask of {bits} letters for a {expected}-bit format")]
    CoverageLength { expected: usize, bits: usize },
    #[error("unknown parity letter {letter:?} at bit {bit} (e, o or x)")]
    Coverage { letter: char, bit: usize },
    #[error("unknown ReversalType {0} (0 to 4)")]
    Reversal(u32),
}

/// `ReaderWGFormat.ReversalType`: how the reader's output differs from the format. The seed's
/// table is one line per value ("1 Invert all bits, 2 Invert 0 and 1, 3 Exchange low bits with high
/// bits, 4 Exchange a low bit with a high bit") and no example, so this is an interpretation:
/// 1 and 2 describe the wire and are undone on the whole frame before the format is applied (so
/// parity is checked as the reader computed it); 3 and 4 describe the card number's bytes and are
/// applied to the card number after it is read, padded to whole bytes at its top. The site code
/// is not transformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reversal {
    /// 0: as sent.
    #[default]
    None,
    /// 1: the reader sends the frame last bit first.
    FrameOrder,
    /// 2: every bit inverted, as when D0 and D1 are swapped.
    Inverted,
    /// 3: the card number's bytes in reverse order (a 32-bit UID sent least significant byte
    /// first).
    CardBytes,
    /// 4: each byte of the card number with its bits in reverse order.
    CardBitsInBytes,
}

impl TryFrom<u32> for Reversal {
    type Error = FormatError;

    fn try_from(value: u32) -> Result<Reversal, FormatError> {
        Ok(match value {
            0 => Reversal::None,
            1 => Reversal::FrameOrder,
            2 => Reversal::Inverted,
            3 => Reversal::CardBytes,
            4 => Reversal::CardBitsInBytes,
            _ => return Err(FormatError::Reversal(value)),
        })
    }
}

impl Reversal {
    /// The `ReversalType` value.
    pub fn code(self) -> u32 {
        match self {
            Reversal::None => 0,
            Reversal::FrameOrder => 1,
            Reversal::Inverted => 2,
            Reversal::CardBytes => 3,
            Reversal::CardBitsInBytes => 4,
        }
    }

    fn frame(self, frame: &Frame) -> Frame {
        match self {
            Reversal::FrameOrder => frame.reversed(),
            Reversal::Inverted => frame.complemented(),
            Reversal::None | Reversal::CardBytes | Reversal::CardBitsInBytes => *frame,
        }
    }

    /// `number` is a card field of `width` bits (1 to 64).
    fn card(self, number: u64, width: u32) -> u64 {
        match self {
            Reversal::CardBytes => number.swap_bytes() >> (64 - 8 * width.div_ceil(8)),
            Reversal::CardBitsInBytes => number.reverse_bits().swap_bytes(),
            Reversal::None | Reversal::FrameOrder | Reversal::Inverted => number,
        }
    }
}

/// A card read from a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Card {
    /// The card number the controller matches (`Credential::Card`); which bits make it is stated
    /// per format. Log it only masked.
    pub number: u64,
    /// The format's site (facility, company) code; `None` when it has none.
    pub site_code: Option<u32>,
    /// The frame as received: its length is the bit count.
    pub frame: Frame,
}

/// A keypad key: 4-bit bursts carry the code, 8-bit ones the code preceded by its complement.
/// Codes 0–9 are digits, 10 is `*` (escape), 11 is `#` (enter), as HID keypads send them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Digit(u8),
    /// `*`, code 10.
    Escape,
    /// `#`, code 11.
    Enter,
}

/// What a reader sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Card(Card),
    Key(Key),
}

/// The formats one reader accepts, with its `ReaderWGFormat` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderFormats {
    formats: Vec<WiegandFormat>,
    verify_parity: bool,
    reversal: Reversal,
}

impl Default for ReaderFormats {
    fn default() -> ReaderFormats {
        ReaderFormats::new(WiegandFormat::builtin())
    }
}

impl ReaderFormats {
    /// Matches frames against `formats` in order, parity checked, bits as sent.
    pub fn new(formats: Vec<WiegandFormat>) -> ReaderFormats {
        ReaderFormats {
            formats,
            verify_parity: true,
            reversal: Reversal::None,
        }
    }

    /// `ParityVerifyDisable=1` turns parity checks off (`verify` false), for keypad bursts too.
    pub fn with_parity_check(self, verify: bool) -> ReaderFormats {
        ReaderFormats {
            verify_parity: verify,
            ..self
        }
    }

    pub fn with_reversal(self, reversal: Reversal) -> ReaderFormats {
        ReaderFormats { reversal, ..self }
    }

    /// The card or key in `frame`. Formats of the frame's length are tried in order and the first
    /// whose parity holds wins; when none does, the first one's parity failure is the error.
    /// 4 and 8-bit frames no format claims are keypad bursts.
    pub fn decode(&self, frame: &Frame) -> Result<Reading, WiegandError> {
        let wire = self.reversal.frame(frame);
        let mut first_failure = None;
        for format in self.formats.iter().filter(|f| f.bits == wire.len) {
            match format.read(&wire, self.verify_parity) {
                Ok((number, site_code)) => {
                    let number = self.reversal.card(number, format.card.count_ones());
                    return Ok(Reading::Card(Card {
                        number,
                        site_code,
                        frame: *frame,
                    }));
                }
                Err(failure) => {
                    first_failure.get_or_insert(failure);
                }
            }
        }
        if let Some(failure) = first_failure {
            return Err(failure);
        }
        match wire.len {
            4 | 8 => self.key(&wire).map(Reading::Key),
            bits if bits < MIN_FRAME_BITS => Err(WiegandError::TooShort { bits }),
            bits => Err(WiegandError::UnknownLength { bits }),
        }
    }

    fn key(&self, burst: &Frame) -> Result<Key, WiegandError> {
        let value = burst.field(low_mask(burst.len));
        let code = (value & 0xF) as u8;
        if burst.len == 8 && self.verify_parity && value >> 4 != u64::from(!code & 0xF) {
            return Err(WiegandError::KeyComplement);
        }
        match code {
            0..=9 => Ok(Key::Digit(code)),
            10 => Ok(Key::Escape),
            11 => Ok(Key::Enter),
            _ => Err(WiegandError::UnknownKey { code }),
        }
    }
}

#[cfg(test)]
mod tests;
