use super::*;

const US: u64 = 1_000;
const MS: u64 = 1_000_000;

// Known cards, each frame computed by hand, bit 1 first, fields split by `concat!`.

/// 26-bit H10301, FC 123, CN 4567. FC 0x7B = 01111011, CN 0x11D7 = 0001000111010111. Bits 2–13
/// (01111011 0001) hold seven 1s: the even parity bit 1 is 1. Bits 14–25 (0001 1101 0111) hold
/// seven: the odd parity bit 26 is 0. Card number 123 × 65536 + 4567 = 8065495 = 0x7B11D7.
const H10301_CARD: &str = concat!("1", "01111011", "0001000111010111", "0");

/// 34-bit, FC 1234, CN 56789. FC 0x04D2 = 0000010011010010 (five 1s: even parity bit 1 is 1),
/// CN 0xDDD5 = 1101110111010101 (eleven 1s: odd parity bit 34 is 0). Card number 0x04D2DDD5 =
/// 80928213.
const WIEGAND34_CARD: &str = concat!("1", "0000010011010010", "1101110111010101", "0");

/// 35-bit Corporate 1000, company 1234, card 567890: company 010011010010, card
/// 10001010101001010010. The parity bits (1, 1, 0) come from proxmark3's `Pack_C1k35s`, run by
/// hand on these fields with its word masks. Card number 1234 × 2^20 + 567890 = 1294510674.
const CORPORATE1000_CARD: &str = concat!("11", "010011010010", "10001010101001010010", "0");

/// 37-bit H10304, FC 12345, CN 123456. FC 0x3039 = 0011000000111001 (six 1s), CN 0x1E240 =
/// 0011110001001000000. Bits 2–19 (FC and CN's first two bits, 00) hold six 1s: even parity bit 1
/// is 0. Bits 19–36 (CN from its second bit) hold six: odd parity bit 37 is 1. Card number
/// 12345 × 2^19 + 123456 = 6472458816.
const H10304_CARD: &str = concat!("0", "0011000000111001", "0011110001001000000", "1");

/// The seed's example `CardFormat` (§9.1.1, DefaultWGFormat and WGFormat V1 and V2).
const SEED_CARD_FORMAT: &str = "pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo";

fn frame(bits: &str) -> Frame {
    bits.parse().unwrap()
}

/// `bits` with bit `bit` (from 1) inverted.
fn flipped(bits: &str, bit: usize) -> String {
    bits.char_indices()
        .map(|(i, c)| match (i + 1 == bit, c) {
            (true, '0') => '1',
            (true, _) => '0',
            (false, c) => c,
        })
        .collect()
}

fn card(number: u64, site_code: Option<u32>, bits: &str) -> Result<Reading, WiegandError> {
    Ok(Reading::Card(Card {
        number,
        site_code,
        frame: frame(bits),
    }))
}

fn key(key: Key) -> Result<Reading, WiegandError> {
    Ok(Reading::Key(key))
}

fn falling(line: Line, timestamp_ns: u64) -> Edge {
    Edge {
        line,
        kind: EdgeKind::Falling,
        timestamp_ns,
    }
}

fn rising(line: Line, timestamp_ns: u64) -> Edge {
    Edge {
        line,
        kind: EdgeKind::Rising,
        timestamp_ns,
    }
}

/// One pulse per bit of `bits`, a pulse starting every `interval_ns` from `start_ns`; each ends
/// with a rising edge `width_ns` later when given, else only its falling edge is reported.
fn pulses(bits: &str, start_ns: u64, interval_ns: u64, width_ns: Option<u64>) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (i, bit) in bits.chars().enumerate() {
        let line = if bit == '1' { Line::D1 } else { Line::D0 };
        let t = start_ns + i as u64 * interval_ns;
        edges.push(falling(line, t));
        edges.extend(width_ns.map(|width| rising(line, t + width)));
    }
    edges
}

/// The frames a default decoder makes of `edges`, the shell ticking at the last deadline.
fn frames(edges: &[Edge]) -> Vec<FrameResult> {
    let mut decoder = EdgeDecoder::new(Timing::default());
    let mut out: Vec<FrameResult> = edges.iter().filter_map(|e| decoder.edge(*e)).collect();
    if let Some(deadline) = decoder.deadline() {
        out.extend(decoder.tick(deadline));
    }
    assert_eq!(
        decoder.deadline(),
        None,
        "the decoder is idle after its deadline"
    );
    out
}

#[test]
fn frames_parse_and_print_as_bit_strings() {
    let f = frame("1101");
    assert_eq!(
        (f.bit_count(), f.bit(0), f.bit(2), f.bit(3), f.bit(4)),
        (4, true, false, true, false)
    );
    assert_eq!(f.to_string(), "1101");
    assert_eq!(format!("{f:?}"), "Frame(1101)");
    assert_eq!(frame(&"1".repeat(128)).bit_count(), 128);
    for bad in ["", "10a1", &"0".repeat(129)] {
        assert_eq!(bad.parse::<Frame>(), Err(FrameParseError), "{bad:?}");
    }
}

#[test]
fn accepts_each_builtin_format_from_edges() {
    let cases = [
        ("H10301", H10301_CARD, 8_065_495, 123),
        ("34-bit", WIEGAND34_CARD, 80_928_213, 1234),
        ("Corporate 1000", CORPORATE1000_CARD, 1_294_510_674, 1234),
        ("H10304", H10304_CARD, 6_472_458_816, 12345),
    ];
    let formats = ReaderFormats::default();
    for (name, bits, number, site) in cases {
        // Falling edges only at a 2 ms interval, then both edges of 50 µs pulses at 1 ms.
        for edges in [
            pulses(bits, 0, 2 * MS, None),
            pulses(bits, 7 * MS, MS, Some(50 * US)),
        ] {
            let got = frames(&edges);
            assert_eq!(got, [Ok(frame(bits))], "{name}");
            assert_eq!(
                formats.decode(&got[0].unwrap()),
                card(number, Some(site), bits),
                "{name}"
            );
        }
    }
}

#[test]
fn rejects_a_flipped_parity_or_data_bit_naming_the_first_failing_check() {
    // (frame, bit flipped, check that fails first, odd)
    let cases = [
        (H10301_CARD, 1, 1, false),
        (H10301_CARD, 26, 2, true),
        (H10301_CARD, 20, 2, true),
        (WIEGAND34_CARD, 1, 1, false),
        (WIEGAND34_CARD, 34, 2, true),
        (WIEGAND34_CARD, 5, 1, false),
        // Bit 2 is in all three of Corporate 1000's checks, bit 35 in the second and third, bit
        // 1 only in the third, bit 5 (5 mod 3 = 2) in the second and third.
        (CORPORATE1000_CARD, 2, 1, false),
        (CORPORATE1000_CARD, 35, 2, true),
        (CORPORATE1000_CARD, 1, 3, true),
        (CORPORATE1000_CARD, 5, 2, true),
        (CORPORATE1000_CARD, 4, 1, false),
        (H10304_CARD, 1, 1, false),
        (H10304_CARD, 37, 2, true),
        // Bit 19 is in both halves.
        (H10304_CARD, 19, 1, false),
        (H10304_CARD, 30, 2, true),
    ];
    let checked = ReaderFormats::default();
    let unchecked = ReaderFormats::default().with_parity_check(false);
    for (bits, bit, check, odd) in cases {
        let bad = frame(&flipped(bits, bit));
        assert_eq!(
            checked.decode(&bad),
            Err(WiegandError::Parity {
                bits: bad.bit_count(),
                check,
                odd
            }),
            "bit {bit} of {bits}"
        );
        assert!(
            matches!(unchecked.decode(&bad), Ok(Reading::Card(c)) if c.frame == bad),
            "ParityVerifyDisable accepts bit {bit} of {bits} flipped"
        );
    }
}

#[test]
fn rejects_frames_of_no_known_length() {
    let formats = ReaderFormats::default();
    let cases = [
        (&H10301_CARD[..25], WiegandError::UnknownLength { bits: 25 }),
        (&H10304_CARD[..36], WiegandError::UnknownLength { bits: 36 }),
        ("101", WiegandError::TooShort { bits: 3 }),
        ("1", WiegandError::TooShort { bits: 1 }),
    ];
    for (bits, error) in cases {
        assert_eq!(formats.decode(&frame(bits)), Err(error), "{bits}");
    }
}

#[test]
fn decodes_keypad_bursts_to_keys() {
    let checked = ReaderFormats::default();
    let unchecked = ReaderFormats::default().with_parity_check(false);
    let cases = [
        ("0000", key(Key::Digit(0)), key(Key::Digit(0))),
        ("0101", key(Key::Digit(5)), key(Key::Digit(5))),
        ("1001", key(Key::Digit(9)), key(Key::Digit(9))),
        ("1010", key(Key::Escape), key(Key::Escape)),
        ("1011", key(Key::Enter), key(Key::Enter)),
        (
            "1100",
            Err(WiegandError::UnknownKey { code: 12 }),
            Err(WiegandError::UnknownKey { code: 12 }),
        ),
        // 8 bits: the complement of the code, then the code.
        ("11100001", key(Key::Digit(1)), key(Key::Digit(1))),
        ("01011010", key(Key::Escape), key(Key::Escape)),
        ("01001011", key(Key::Enter), key(Key::Enter)),
        (
            "11110001",
            Err(WiegandError::KeyComplement),
            key(Key::Digit(1)),
        ),
    ];
    for (bits, with_check, without_check) in cases {
        let burst = frames(&pulses(bits, 0, MS, Some(40 * US)));
        assert_eq!(burst, [Ok(frame(bits))]);
        assert_eq!(checked.decode(&frame(bits)), with_check, "{bits}");
        assert_eq!(unchecked.decode(&frame(bits)), without_check, "{bits}");
    }
}

#[test]
fn the_frame_ends_at_its_deadline_and_not_before() {
    let mut decoder = EdgeDecoder::new(Timing::default());
    assert_eq!(decoder.deadline(), None);
    assert_eq!(decoder.tick(u64::MAX), None);
    let edges = pulses(H10301_CARD, 10 * MS, MS, Some(50 * US));
    for edge in &edges {
        assert_eq!(decoder.edge(*edge), None);
    }
    let last = edges.last().unwrap().timestamp_ns;
    let deadline = last + 30 * MS;
    assert_eq!(decoder.deadline(), Some(deadline));
    assert_eq!(decoder.tick(deadline - 1), None);
    assert_eq!(decoder.tick(deadline), Some(Ok(frame(H10301_CARD))));
    assert_eq!(decoder.deadline(), None);
    assert_eq!(decoder.tick(deadline + MS), None);
}

#[test]
fn an_edge_after_the_gap_closes_the_frame_before_it() {
    let mut decoder = EdgeDecoder::new(Timing::default());
    let first = pulses("1011", 0, MS, None);
    let second = pulses("0101", 3 * MS + 31 * MS, MS, None);
    let mut out: Vec<_> = first
        .iter()
        .chain(&second)
        .filter_map(|e| decoder.edge(*e))
        .collect();
    assert_eq!(out, [Ok(frame("1011"))]);
    out.extend(decoder.tick(u64::MAX));
    assert_eq!(out, [Ok(frame("1011")), Ok(frame("0101"))]);
}

#[test]
fn a_gap_inside_a_frame_splits_it() {
    let (head, tail) = H10301_CARD.split_at(10);
    let edges: Vec<Edge> = [
        pulses(head, 0, MS, None),
        pulses(tail, 9 * MS + 40 * MS, MS, None),
    ]
    .concat();
    let got = frames(&edges);
    assert_eq!(got, [Ok(frame(head)), Ok(frame(tail))]);
    let formats = ReaderFormats::default();
    let decoded: Vec<_> = got.iter().flatten().map(|f| formats.decode(f)).collect();
    assert_eq!(
        decoded,
        [
            Err(WiegandError::UnknownLength { bits: 10 }),
            Err(WiegandError::UnknownLength { bits: 16 })
        ]
    );
}

/// A burst of fewer bits than the shortest keypad burst is line noise, whatever its pulses were;
/// a burst that lost events is reported as such, since a card may have been among them.
#[test]
fn a_short_burst_is_noise_whatever_its_pulses() {
    // One 2 µs spike: too narrow a pulse, and a one-bit frame.
    let spike = pulses("1", 0, MS, Some(2 * US));
    let got = frames(&spike);
    assert_eq!(got, [Err(WiegandError::TooShort { bits: 1 })]);
    assert!(got[0].as_ref().is_err_and(WiegandError::is_noise));
    // Two bits and a glitch 60 µs after the second: three bits.
    let mut three = pulses("10", 0, MS, Some(50 * US));
    three.push(falling(Line::D0, MS + 60 * US));
    three.push(rising(Line::D0, MS + 110 * US));
    assert_eq!(frames(&three), [Err(WiegandError::TooShort { bits: 3 })]);
    // A 26-bit frame's bad pulse is no noise.
    let mut bad_card = pulses(H10301_CARD, 0, MS, Some(50 * US));
    bad_card[1] = rising(bad_card[0].line, 2 * US);
    let got = frames(&bad_card);
    assert!(
        matches!(got[..], [Err(WiegandError::PulseWidth { bit: 1, .. })]),
        "{got:?}"
    );
    assert!(!got[0].as_ref().is_err_and(WiegandError::is_noise));
}

/// A timing fault spoils the whole frame, reported once at its end; the next frame is read.
#[test]
fn rejects_frames_with_timing_faults() {
    let bits = H10301_CARD;
    let clean = |start| pulses(bits, start, MS, Some(50 * US));
    // Bit 5's edges; the falling edge is at 4 ms, its rising one at 4.05 ms.
    let bit5 = 8;
    let cases: Vec<(&str, Vec<Edge>, WiegandError)> = vec![
        (
            "a noise pulse 60 µs after bit 5",
            {
                let mut e = clean(0);
                e.insert(bit5 + 2, falling(Line::D1, 4 * MS + 60 * US));
                e
            },
            WiegandError::Glitch {
                bit: 6,
                interval_ns: 60 * US,
            },
        ),
        (
            "D0 and D1 fall together at bit 5",
            {
                let mut e = pulses(bits, 0, MS, None);
                e.insert(5, falling(Line::D0, 4 * MS));
                e
            },
            WiegandError::Glitch {
                bit: 6,
                interval_ns: 0,
            },
        ),
        (
            "the other line falls while bit 5's 250 µs pulse lasts",
            {
                let mut e = clean(0);
                let line = e[bit5].line;
                e[bit5 + 1] = rising(line, 4 * MS + 250 * US);
                e.insert(bit5 + 1, falling(line.other(), 4 * MS + 200 * US));
                e
            },
            WiegandError::Overlap { bit: 6 },
        ),
        (
            "a 2 µs pulse",
            {
                let mut e = clean(0);
                e[bit5 + 1].timestamp_ns = 4 * MS + 2 * US;
                e
            },
            WiegandError::PulseWidth {
                bit: 5,
                width_ns: 2 * US,
            },
        ),
        (
            "a 400 µs pulse",
            {
                let mut e = clean(0);
                e[bit5 + 1].timestamp_ns = 4 * MS + 400 * US;
                e
            },
            WiegandError::PulseWidth {
                bit: 5,
                width_ns: 400 * US,
            },
        ),
    ];
    for (name, mut edges, fault) in cases {
        edges.extend(clean(100 * MS));
        assert_eq!(frames(&edges), [Err(fault), Ok(frame(bits))], "{name}");
    }
}

#[test]
fn accepts_the_widest_tolerated_timing() {
    // 5 µs and 300 µs pulses, and pulses 150 µs apart.
    for (interval, width) in [(MS, 5 * US), (MS, 300 * US), (150 * US, 50 * US)] {
        let edges = pulses(H10301_CARD, 0, interval, Some(width));
        assert_eq!(
            frames(&edges),
            [Ok(frame(H10301_CARD))],
            "{interval} {width}"
        );
    }
}

#[test]
fn ignores_a_rising_edge_without_its_falling_one() {
    let edges = [
        vec![rising(Line::D0, 0)],
        pulses("0110", MS, MS, Some(50 * US)),
    ]
    .concat();
    assert_eq!(frames(&edges), [Ok(frame("0110"))]);
}

#[test]
fn discards_a_frame_whose_events_were_lost() {
    let (head, tail) = H10301_CARD.split_at(12);
    // Lost in the middle of a frame.
    let mut decoder = EdgeDecoder::new(Timing::default());
    let mut out: Vec<_> = pulses(head, 0, MS, None)
        .iter()
        .filter_map(|e| decoder.edge(*e))
        .collect();
    decoder.events_lost(14 * MS);
    out.extend(
        pulses(tail, 14 * MS, MS, None)
            .iter()
            .filter_map(|e| decoder.edge(*e)),
    );
    out.extend(
        pulses(H10301_CARD, 100 * MS, MS, None)
            .iter()
            .filter_map(|e| decoder.edge(*e)),
    );
    out.extend(decoder.tick(u64::MAX));
    assert_eq!(out, [Err(WiegandError::EventsLost), Ok(frame(H10301_CARD))]);

    // Lost before the first edge the decoder sees: the rest of that frame is discarded.
    let mut decoder = EdgeDecoder::new(Timing::default());
    decoder.events_lost(5 * MS);
    let mut out: Vec<_> = pulses(tail, 5 * MS, MS, None)
        .iter()
        .filter_map(|e| decoder.edge(*e))
        .collect();
    out.extend(decoder.tick(u64::MAX));
    assert_eq!(out, [Err(WiegandError::EventsLost)]);

    // Lost with no edge after it: the error comes at the deadline.
    let mut decoder = EdgeDecoder::new(Timing::default());
    decoder.events_lost(5 * MS);
    assert_eq!(decoder.deadline(), Some(35 * MS));
    assert_eq!(decoder.tick(35 * MS), Some(Err(WiegandError::EventsLost)));
}

#[test]
fn a_runaway_line_is_reported_at_once_then_drained_until_a_gap() {
    let mut decoder = EdgeDecoder::new(Timing::default());
    let runaway = pulses(&"10".repeat(100), 0, MS, Some(50 * US));
    let out: Vec<_> = runaway
        .iter()
        .enumerate()
        .filter_map(|(i, e)| decoder.edge(*e).map(|r| (i, r)))
        .collect();
    // Pulse 129's falling edge is edge 2 × 128.
    assert_eq!(out, [(256, Err(WiegandError::TooLong { max_bits: 128 }))]);
    let quiet_from = runaway.last().unwrap().timestamp_ns;
    assert_eq!(decoder.deadline(), Some(quiet_from + 30 * MS));
    assert_eq!(decoder.tick(quiet_from + 30 * MS), None);
    assert_eq!(decoder.deadline(), None);

    let mut next: Vec<_> = pulses(H10301_CARD, quiet_from + 40 * MS, MS, None)
        .iter()
        .filter_map(|e| decoder.edge(*e))
        .collect();
    next.extend(decoder.tick(u64::MAX));
    assert_eq!(next, [Ok(frame(H10301_CARD))]);
}

#[test]
fn a_128_bit_frame_fits_and_is_of_no_format() {
    let bits = "1".repeat(128);
    let got = frames(&pulses(&bits, 0, MS, None));
    assert_eq!(got, [Ok(frame(&bits))]);
    assert_eq!(
        ReaderFormats::default().decode(&frame(&bits)),
        Err(WiegandError::UnknownLength { bits: 128 })
    );
}

#[test]
fn max_bits_bounds_a_frame_below_128() {
    let timing = Timing {
        max_bits: 26,
        ..Timing::default()
    };
    let mut decoder = EdgeDecoder::new(timing);
    let out: Vec<_> = pulses(&"1".repeat(27), 0, MS, None)
        .iter()
        .filter_map(|e| decoder.edge(*e))
        .collect();
    assert_eq!(out, [Err(WiegandError::TooLong { max_bits: 26 })]);
}

#[test]
fn accepts_the_seed_card_formats() {
    let wiegand26 = WiegandFormat::from_card_format(SEED_CARD_FORMAT).unwrap();
    // ZKTeco's Wiegand 26a: 8 site code bits, 16 card bits.
    let wiegand26a =
        WiegandFormat::from_card_format("pssssssssccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo")
            .unwrap();
    let cases = [
        (wiegand26.clone(), card(8_065_495, None, H10301_CARD)),
        (wiegand26a, card(4567, Some(123), H10301_CARD)),
    ];
    for (format, expected) in cases {
        let formats = ReaderFormats::new(vec![format]);
        assert_eq!(formats.decode(&frame(H10301_CARD)), expected);
        assert_eq!(
            formats.decode(&frame(&flipped(H10301_CARD, 26))),
            Err(WiegandError::Parity {
                bits: 26,
                check: 2,
                odd: true
            })
        );
    }
    let upper = SEED_CARD_FORMAT.to_uppercase();
    assert_eq!(WiegandFormat::from_card_format(&upper), Ok(wiegand26));
}

#[test]
fn a_custom_format_with_ext_parity_masks_reads_corporate_1000() {
    // Company as site code, card as card number; bit 2's check in the CardFormat, bit 35's and
    // bit 1's (all bits) as V2.0 ExtParityFormat masks, so the checks keep the built-in order.
    let pattern = format!(
        "pp{}{}p:xeeexeexeexeexeexeexeexeexeexeexeex",
        "s".repeat(12),
        "c".repeat(20)
    );
    let ext = format!("xooxooxooxooxooxooxooxooxooxooxooxo; {}", "o".repeat(35));
    let format = WiegandFormat::from_card_format(&pattern)
        .and_then(|f| f.with_ext_parity(&ext))
        .unwrap();
    let formats = ReaderFormats::new(vec![format]);
    assert_eq!(
        formats.decode(&frame(CORPORATE1000_CARD)),
        card(567_890, Some(1234), CORPORATE1000_CARD)
    );
    for (bit, check, odd) in [
        (1, 3, true),
        (2, 1, false),
        (35, 2, true),
        (4, 1, false),
        (5, 2, true),
    ] {
        assert_parity_fails(&formats, CORPORATE1000_CARD, bit, check, odd);
    }
}

/// `bits` with bit `bit` (from 1) flipped fails parity check `check` (from 1), odd or even.
fn assert_parity_fails(formats: &ReaderFormats, bits: &str, bit: usize, check: usize, odd: bool) {
    assert_eq!(
        formats.decode(&frame(&flipped(bits, bit))),
        Err(WiegandError::Parity {
            bits: u32::try_from(bits.len()).unwrap(),
            check,
            odd
        }),
        "bit {bit}"
    );
}

#[test]
fn applies_the_seed_ext_parity_masks_as_written() {
    // The seed's V2.0 example masks: even over bits 2–34; odd over bits 2–33 and 35.
    let masks = concat!(
        "xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeex;",
        "xooooooooooooooooo",
        "oooooooooooooooxo"
    );
    // Its CardFormat is 26 bits long, its masks 35: the example contradicts itself.
    assert_eq!(
        WiegandFormat::from_card_format(SEED_CARD_FORMAT).and_then(|f| f.with_ext_parity(masks)),
        Err(FormatError::CoverageLength {
            expected: 26,
            bits: 35
        })
    );
    let pattern = format!("p{}p", "c".repeat(33));
    let format = WiegandFormat::from_card_format(&pattern)
        .and_then(|f| f.with_ext_parity(masks))
        .unwrap();
    let formats = ReaderFormats::new(vec![format]);
    // Bits 2 and 34 set: two 1s for the even mask; one (bit 2) for the odd one.
    let bits = format!("01{}10", "0".repeat(31));
    assert_eq!(
        formats.decode(&frame(&bits)),
        card((1 << 32) + 1, None, &bits)
    );
    let broken = [(34, 1, false), (35, 2, true), (10, 1, false)];
    for (bit, check, odd) in broken {
        assert_parity_fails(&formats, &bits, bit, check, odd);
    }
}

#[test]
fn rejects_unusable_card_formats() {
    let cases = [
        (String::new(), FormatError::Length { bits: 0 }),
        ("c".repeat(129), FormatError::Length { bits: 129 }),
        (
            "pcxq".to_owned(),
            FormatError::Role {
                letter: 'q',
                bit: 4,
            },
        ),
        ("pssp:eeoo".to_owned(), FormatError::NoCardField),
        (
            "pccp:eeo".to_owned(),
            FormatError::CoverageLength {
                expected: 4,
                bits: 3,
            },
        ),
        (
            "pccp:eeoz".to_owned(),
            FormatError::Coverage {
                letter: 'z',
                bit: 4,
            },
        ),
        (
            "c".repeat(65),
            FormatError::FieldTooWide {
                field: "card number",
                bits: 65,
                max: 64,
            },
        ),
        (
            format!("{}c", "s".repeat(33)),
            FormatError::FieldTooWide {
                field: "site code",
                bits: 33,
                max: 32,
            },
        ),
    ];
    for (pattern, error) in cases {
        assert_eq!(
            WiegandFormat::from_card_format(&pattern),
            Err(error),
            "{pattern:?}"
        );
    }
}

#[test]
fn a_format_without_coverage_checks_no_parity() {
    let formats = ReaderFormats::new(vec![
        WiegandFormat::from_card_format("pccccccccccccccccccccccccp").unwrap(),
    ]);
    let bad = flipped(H10301_CARD, 1);
    assert_eq!(formats.decode(&frame(&bad)), card(8_065_495, None, &bad));
}

#[test]
fn auto_match_takes_the_first_format_whose_parity_holds() {
    // The same layout with the parity halves swapped: bits 1–13 of a good H10301 card hold eight
    // 1s, so its odd check fails.
    let pattern = format!(
        "pssssssssccccccccccccccccp:{}{}",
        "o".repeat(13),
        "e".repeat(13)
    );
    let swapped = WiegandFormat::from_card_format(&pattern).unwrap();
    let formats = ReaderFormats::new(vec![swapped.clone(), WiegandFormat::h10301()]);
    assert_eq!(
        formats.decode(&frame(H10301_CARD)),
        card(8_065_495, Some(123), H10301_CARD)
    );
    // When no format holds, the first one's failure is reported.
    let only_swapped = ReaderFormats::new(vec![swapped]);
    assert_eq!(
        only_swapped.decode(&frame(H10301_CARD)),
        Err(WiegandError::Parity {
            bits: 26,
            check: 1,
            odd: true
        })
    );
}

#[test]
fn applies_each_reversal_type() {
    let reversed: String = H10301_CARD.chars().rev().collect();
    let inverted: String = H10301_CARD
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    // (ReversalType, frame as the reader sends it, card number)
    let cases = [
        (0, H10301_CARD.to_owned(), 8_065_495),
        // 1: sent last bit first; undone before the parity checks.
        (1, reversed, 8_065_495),
        // 2: every bit inverted (D0 and D1 swapped).
        (2, inverted, 8_065_495),
        // 3: bytes 7B 11 D7 of the card number read as D7 11 7B.
        (3, H10301_CARD.to_owned(), 0xD7117B),
        // 4: each byte's bits reversed: 7B 11 D7 → DE 88 EB.
        (4, H10301_CARD.to_owned(), 0xDE88EB),
    ];
    for (value, bits, number) in cases {
        let reversal = Reversal::try_from(value).unwrap();
        let formats = ReaderFormats::default().with_reversal(reversal);
        assert_eq!(
            formats.decode(&frame(&bits)),
            card(number, Some(123), &bits),
            "type {value}"
        );
    }
    // A 34-bit UID in reverse byte order: 04 D2 DD D5 → D5 DD D2 04.
    let formats = ReaderFormats::default().with_reversal(Reversal::CardBytes);
    assert_eq!(
        formats.decode(&frame(WIEGAND34_CARD)),
        card(0xD5DDD204, Some(1234), WIEGAND34_CARD)
    );
    // A 35-bit card number is five bytes once padded: 6472458816 = 0x01_81C9_E240, so
    // 01 81 C9 E2 40 → 40 E2 C9 81 01.
    let formats = ReaderFormats::default().with_reversal(Reversal::CardBytes);
    assert_eq!(
        formats.decode(&frame(H10304_CARD)),
        card(0x40_E2C9_8101, Some(12345), H10304_CARD)
    );
    assert_eq!(Reversal::try_from(5), Err(FormatError::Reversal(5)));
}

#[test]
fn error_messages_name_the_fault_and_no_card_bits() {
    let messages = [
        WiegandError::Glitch {
            bit: 6,
            interval_ns: 60_000,
        }
        .to_string(),
        WiegandError::Parity {
            bits: 26,
            check: 2,
            odd: true,
        }
        .to_string(),
        WiegandError::UnknownLength { bits: 25 }.to_string(),
    ];
    assert_eq!(
        messages,
        [
            "glitch: bit 6 started 60000 ns after the previous one",
            "26-bit frame fails parity check 2 (odd)",
            "no Wiegand format has 25 bits",
        ]
    );
}
