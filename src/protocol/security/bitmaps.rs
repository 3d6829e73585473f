//! Encoders of the capability bitmaps a device registers with and answers GET OPTIONS with
//! [note §2.9, C07; seed 003 §4.4, App 3]. Each takes the set of supported codes and gives the
//! value text for [`super::capabilities::Capabilities`].
//!
//! The bit orders differ by key, as the seed prints them: `EventTypes` and the `New*EventTypes`
//! put the lowest code in a byte's least significant bit [AMB-43]; `VerifyStyles` puts mode 0 in
//! the most significant bit of the first byte [AMB-11]; `NewVFStyles` is binary digits with bit 0
//! rightmost; `AccSupportFunList` is one `0`/`1` character per position, leftmost first.

use super::rtlog::VerifyType;
use crate::protocol::record::upper_hex;
use std::ops::RangeInclusive;

/// A code or position outside what its capability can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {value} is outside {range:?}")]
pub struct OutOfRange {
    /// The capability key, e.g. `EventTypes`.
    pub key: &'static str,
    pub value: usize,
    pub range: RangeInclusive<usize>,
}

/// App 2 event codes `EventTypes` can advertise: 32 bytes, 256 bits [AMB-43].
pub const EVENT_CODES: RangeInclusive<u16> = 0..=255;
/// App 3 verification modes `VerifyStyles` can advertise: 32 bits. Mode 200 ("other") marks
/// events without a verification and is not a capability.
pub const VERIFY_MODES: RangeInclusive<u16> = 0..=31;

/// `EventTypes`: 64 upper-case hex digits, byte k holding events 8k..8k+7, the lowest event in
/// the least significant bit [note §2.9; seed 003 §4.4: first byte `BF` = events 0–5 and 7].
pub fn event_types(events: impl IntoIterator<Item = u16>) -> Result<String, OutOfRange> {
    let positions = checked("EventTypes", events, &EVENT_CODES)?;
    Ok(upper_hex(&bitmap(&positions, 32, BitOrder::LsbFirst)))
}

/// The App 19 extended event classes and their `New*EventTypes` keys [note §7.1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendedEventClass {
    /// 4000–4999, `NewNormalEventTypes`.
    Normal,
    /// 5000–5999, `NewErrorEventTypes`.
    Error,
    /// 6000–6999, `NewWarningEventTypes`.
    Warning,
}

impl ExtendedEventClass {
    /// The codes of the class.
    pub fn codes(self) -> RangeInclusive<u16> {
        let base = match self {
            ExtendedEventClass::Normal => 4000,
            ExtendedEventClass::Error => 5000,
            ExtendedEventClass::Warning => 6000,
        };
        base..=base + 999
    }

    /// The registry key advertising the class.
    pub fn key(self) -> &'static str {
        match self {
            ExtendedEventClass::Normal => "NewNormalEventTypes",
            ExtendedEventClass::Error => "NewErrorEventTypes",
            ExtendedEventClass::Warning => "NewWarningEventTypes",
        }
    }
}

/// `NewNormalEventTypes` / `NewErrorEventTypes` / `NewWarningEventTypes`: bit i is event
/// base+i, laid out as [`event_types`], in as many bytes as the highest event needs (at most
/// 125, 250 hex digits, within the seed's 256) [note §2.9; seed 003 §4.4: {4000, 4001, 4003, 4005,
/// 4009, 4012} → `2B12`]. No event gives an empty text: leave the key out then.
pub fn new_event_types(
    class: ExtendedEventClass,
    events: impl IntoIterator<Item = u16>,
) -> Result<String, OutOfRange> {
    let codes = class.codes();
    let base = usize::from(*codes.start());
    let offsets: Vec<usize> = checked(class.key(), events, &codes)?
        .into_iter()
        .map(|code| code - base)
        .collect();
    let bytes = offsets.iter().max().map_or(0, |highest| highest / 8 + 1);
    Ok(upper_hex(&bitmap(&offsets, bytes, BitOrder::LsbFirst)))
}

/// `VerifyStyles`: 8 upper-case hex digits, 32 bits read most significant first, position n =
/// App 3 mode n [AMB-11; seed 003 App 3: `FB1E1F00` has mode 15 (face) clear].
pub fn verify_styles(modes: impl IntoIterator<Item = u16>) -> Result<String, OutOfRange> {
    let positions = checked("VerifyStyles", modes, &VERIFY_MODES)?;
    Ok(upper_hex(&bitmap(&positions, 4, BitOrder::MsbFirst)))
}

/// A positional `0`/`1` function list, `width` characters, character i = `1` when position i is
/// supported [note §2.8]: `AccSupportFunList` (positions of note §2.8; a reader takes missing
/// positions as 0, so `width` is the caller's choice) and `QRCodeDecryptFunList` (width 3).
pub fn fun_list(
    positions: impl IntoIterator<Item = usize>,
    width: usize,
) -> Result<String, OutOfRange> {
    let mut chars = vec![b'0'; width];
    for position in positions {
        let slot = chars.get_mut(position).ok_or(OutOfRange {
            key: "FunList",
            value: position,
            range: 0..=width.saturating_sub(1),
        })?;
        *slot = b'1';
    }
    Ok(chars.into_iter().map(char::from).collect())
}

/// A verification factor of the new verify-type strings [note §2.9]; the value is its bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyFactor {
    Face = 1,
    PalmPrint = 2,
    PalmVein = 3,
    Fingerprint = 4,
    FingerVein = 5,
    Voice = 6,
    Iris = 7,
    Retina = 8,
    Password = 9,
    /// The user ID (PIN).
    UserId = 10,
    Card = 11,
    /// QR or health code.
    QrCode = 12,
}

/// `NewVFStyles`: the supported factors as 16 binary digits, bit 0 (the logic bit of door verify
/// types, clear here) rightmost [note §2.9: face, palm vein, fingerprint, password, PIN and card
/// → `0000111000011010`]. Written as rtlog's [`VerifyType::Factors`].
pub fn new_vf_styles(factors: impl IntoIterator<Item = VerifyFactor>) -> String {
    let mask = factors
        .into_iter()
        .fold(0u16, |mask, factor| mask | 1 << factor as u16);
    VerifyType::Factors(mask).to_string()
}

/// The codes as bit positions, refusing the first one outside `range`.
fn checked(
    key: &'static str,
    codes: impl IntoIterator<Item = u16>,
    range: &RangeInclusive<u16>,
) -> Result<Vec<usize>, OutOfRange> {
    codes
        .into_iter()
        .map(|code| {
            if range.contains(&code) {
                Ok(usize::from(code))
            } else {
                Err(OutOfRange {
                    key,
                    value: usize::from(code),
                    range: usize::from(*range.start())..=usize::from(*range.end()),
                })
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum BitOrder {
    /// Position 8k+i is bit i (value `1 << i`) of byte k.
    LsbFirst,
    /// Position 8k+i is bit 7-i (value `0x80 >> i`) of byte k.
    MsbFirst,
}

/// `len` bytes with the given bit positions set; every position must lie below `8 * len`.
fn bitmap(positions: &[usize], len: usize, order: BitOrder) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    for &position in positions {
        let bit = match order {
            BitOrder::LsbFirst => 1 << (position % 8),
            BitOrder::MsbFirst => 0x80 >> (position % 8),
        };
        if let Some(byte) = bytes.get_mut(position / 8) {
            *byte |= bit;
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::security::capabilities::tests::seed_example;

    /// The events of the seed registry example's `EventTypes`, read off its bytes by App 2: all
    /// of 0–11 but linkage (6), the error and alarm codes the F20 raises, and the door events.
    const SEED_EVENTS: [u16; 33] = [
        0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 21, 22, 23, 24, 26, 27, 28, 29, 36, 37, 48, 100, 101,
        102, 200, 201, 202, 204, 205, 206, 221, 224,
    ];

    #[test]
    fn encodes_the_seed_registry_event_types() {
        assert_eq!(
            event_types(SEED_EVENTS).unwrap(),
            seed_example().event_types
        );
        assert_eq!(&event_types([0, 1, 2, 3, 4, 5, 7]).unwrap()[..2], "BF");
    }

    #[test]
    fn encodes_event_types_lsb_first_in_32_bytes() {
        let cases: [(&[u16], String); 4] = [
            (&[], "0".repeat(64)),
            (&[0], format!("{:0<64}", "01")),
            (&[7, 8], format!("{:0<64}", "8001")),
            (&[255], format!("{:0>64}", "80")),
        ];
        for (events, text) in cases {
            assert_eq!(event_types(events.iter().copied()).unwrap(), text);
        }
        assert_eq!(
            event_types([256]),
            Err(OutOfRange {
                key: "EventTypes",
                value: 256,
                range: 0..=255
            })
        );
    }

    #[test]
    fn encodes_the_seed_new_event_types_vector() {
        let events = [4000, 4001, 4003, 4005, 4009, 4012];
        assert_eq!(
            new_event_types(ExtendedEventClass::Normal, events).unwrap(),
            "2B12"
        );
        let shifted = |base: u16| events.map(|e| e - 4000 + base);
        assert_eq!(
            new_event_types(ExtendedEventClass::Error, shifted(5000)).unwrap(),
            "2B12"
        );
        assert_eq!(
            new_event_types(ExtendedEventClass::Warning, shifted(6000)).unwrap(),
            "2B12"
        );
    }

    #[test]
    fn sizes_new_event_types_to_the_highest_event() {
        let class = ExtendedEventClass::Normal;
        assert_eq!(new_event_types(class, []).unwrap(), "");
        assert_eq!(new_event_types(class, [4007]).unwrap(), "80");
        assert_eq!(new_event_types(class, [4008]).unwrap(), "0001");
        let last = new_event_types(class, [4999]).unwrap();
        assert_eq!(last.len(), 250);
        assert!(last.ends_with("80") && last[..248].bytes().all(|b| b == b'0'));
        for (class, code) in [
            (ExtendedEventClass::Normal, 3999),
            (ExtendedEventClass::Normal, 5000),
            (ExtendedEventClass::Error, 4000),
            (ExtendedEventClass::Warning, 7000),
        ] {
            let e = new_event_types(class, [code]).unwrap_err();
            assert_eq!((e.key, e.value), (class.key(), usize::from(code)));
        }
    }

    #[test]
    fn encodes_verify_styles_msb_first() {
        // App 3: FB1E1F00 = 11111011 00011110 00011111 00000000.
        let app3 = [0, 1, 2, 3, 4, 6, 7, 11, 12, 13, 14, 19, 20, 21, 22, 23];
        assert_eq!(verify_styles(app3).unwrap(), "FB1E1F00");
        // The registry example prints `ff7f0000` in lower case: modes 0–7 and 9–15.
        let registry = (0..=7).chain(9..=15);
        assert!(
            verify_styles(registry)
                .unwrap()
                .eq_ignore_ascii_case(&seed_example().verify_styles)
        );
        assert_eq!(verify_styles([31]).unwrap(), "00000001");
        assert_eq!(verify_styles([]).unwrap(), "00000000");
        assert_eq!(verify_styles([200]).unwrap_err().value, 200);
        assert_eq!(verify_styles([32]).unwrap_err().range, 0..=31);
    }

    #[test]
    fn writes_fun_lists_by_position() {
        // The registry example's AccSupportFunList: 34 characters.
        let seed = seed_example().acc_support_fun_list;
        let supported = [1, 3, 5, 10, 11, 12, 19, 20, 21, 23, 25, 29, 30, 32];
        assert_eq!(fun_list(supported, 34).unwrap(), seed);
        // QRCodeDecryptFunList: schemes 1 and 3.
        assert_eq!(fun_list([0, 2], 3).unwrap(), "101");
        assert_eq!(fun_list([], 2).unwrap(), "00");
        assert_eq!(
            fun_list([34], 34),
            Err(OutOfRange {
                key: "FunList",
                value: 34,
                range: 0..=33
            })
        );
    }

    #[test]
    fn encodes_new_vf_styles_with_bit_0_rightmost() {
        use VerifyFactor::*;
        let cases: [(&[VerifyFactor], &str); 4] = [
            (
                &[Face, PalmVein, Fingerprint, Password, UserId, Card],
                "0000111000011010",
            ),
            // The note's door vectors without the AND bit: card|pw|face, card|pw|face|QR.
            (&[Card, Password, Face], "0000101000000010"),
            (&[Card, Password, Face, QrCode], "0001101000000010"),
            (&[], "0000000000000000"),
        ];
        for (factors, text) in cases {
            assert_eq!(new_vf_styles(factors.iter().copied()), text, "{factors:?}");
        }
        let every = [
            Face,
            PalmPrint,
            PalmVein,
            Fingerprint,
            FingerVein,
            Voice,
            Iris,
            Retina,
            Password,
            UserId,
            Card,
            QrCode,
        ];
        assert_eq!(new_vf_styles(every), "0001111111111110");
    }
}
