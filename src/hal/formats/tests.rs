use super::*;
use crate::config::board::ReaderSide;
use crate::hal::reads::{FrameRead, ReaderReads};
use crate::hal::wiegand::WiegandError;
use crate::protocol::fields::Fields;
use crate::protocol::security::tables::{TableUpdate, parse_update};

/// 26-bit H10301, FC 123, CN 4567 (the decoder's tests compute it by hand): card number
/// 123 × 65536 + 4567 = 8065495 with the built-in format.
const H10301_CARD: &str = concat!("1", "01111011", "0001000111010111", "0");
const H10301_NUMBER: u64 = 8_065_495;
/// The same frame with its last (odd parity) bit flipped.
const H10301_BAD_PARITY: &str = concat!("1", "01111011", "0001000111010111", "1");
/// 34-bit, FC 1234, CN 56789: 80928213 with the built-in format.
const WIEGAND34_CARD: &str = concat!("1", "0000010011010010", "1101110111010101", "0");

/// ZKTeco's "Wiegand 26a": 8 site bits and a 16-bit card number, so H10301_CARD reads as 4567.
const WIEGAND26A: &str = "pssssssssccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo";
/// The seed's example: all 24 data bits are the card number, as the built-in format reads it.
const SEED_FORMAT: &str = "pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo";

fn at(door: u8, side: ReaderSide) -> ReaderAt {
    ReaderAt { door, side }
}

/// The reader tables after these `DATA UPDATE <table> <record>` records, read as the command
/// executor reads them.
fn tables(updates: &[(&str, &str)]) -> ReaderTables {
    let mut t = ReaderTables::default();
    for (table, record) in updates {
        match parse_update(table, &Fields::parse(record).unwrap()).unwrap() {
            TableUpdate::Reader(r) => t.readers.push(r),
            TableUpdate::WiegandFormat(f) => t.formats.push(f),
            TableUpdate::ReaderFormat(f) => t.reader_formats.push(f),
            other => panic!("not a reader table: {other:?}"),
        }
    }
    t.formats
        .sort_by_key(|f| (f.list != FormatList::Default, f.id));
    t
}

/// What the reader at `at` makes of the frame `bits` with `tables`.
fn read(tables: &ReaderTables, at: ReaderAt, bits: &str) -> Option<FrameRead> {
    let shared = SharedReaderTables::default();
    shared.publish(tables.clone());
    ReaderReads::new(shared).frame(at, Ok(bits.parse().unwrap()), 0)
}

fn card(number: u64) -> Option<FrameRead> {
    Some(FrameRead::Card(number))
}

#[test]
fn without_server_formats_the_builtin_ones_are_matched() {
    let none = ReaderTables::default();
    assert_eq!(
        read(&none, at(1, ReaderSide::In), H10301_CARD),
        card(H10301_NUMBER)
    );
    assert_eq!(
        read(&none, at(2, ReaderSide::Out), WIEGAND34_CARD),
        card(80_928_213)
    );
}

#[test]
fn default_formats_replace_the_builtin_ones_for_automatic_matching() {
    let t = tables(&[(
        "DefaultWGFormat",
        &format!("ID=1\tCardBit=26\tSiteCode=0\tFormatName=Wiegand 26a\tCardFormat={WIEGAND26A}"),
    )]);
    assert_eq!(read(&t, at(1, ReaderSide::In), H10301_CARD), card(4567));
    // No 34-bit format is defined any more.
    assert_eq!(
        read(&t, at(1, ReaderSide::In), WIEGAND34_CARD),
        Some(FrameRead::Refused(WiegandError::UnknownLength { bits: 34 }))
    );
}

#[test]
fn custom_formats_are_matched_automatically_only_with_is_default() {
    let v1 = tables(&[(
        "WGFormat",
        &format!("ID=2\tCardBit=26\tSiteCode=0\tFormatName=Wiegand 26a\tCardFormat={WIEGAND26A}"),
    )]);
    assert_eq!(
        read(&v1, at(1, ReaderSide::In), H10301_CARD),
        card(H10301_NUMBER)
    );
    let v2 = tables(&[(
        "WGFormat",
        &format!("ID=2\tCardBit=26\tCardFormat={WIEGAND26A}\tExtParityFormat=\tIsDefault=1"),
    )]);
    assert_eq!(read(&v2, at(1, ReaderSide::In), H10301_CARD), card(4567));
}

#[test]
fn a_reader_format_row_applies_to_its_reader_only() {
    // Door 1's in reader is ReaderID 1, its out reader 2 (no ReaderProperty rows).
    let t = tables(&[
        (
            "WGFormat",
            &format!("ID=5\tCardBit=26\tCardFormat={WIEGAND26A}"),
        ),
        (
            "ReaderWGFormat",
            "ReaderID=1\tDevID=14\tWGFormatID=5\tParityVerifyDisable=0\tReversalType=0",
        ),
    ]);
    assert_eq!(read(&t, at(1, ReaderSide::In), H10301_CARD), card(4567));
    assert_eq!(
        read(&t, at(1, ReaderSide::Out), H10301_CARD),
        card(H10301_NUMBER)
    );
    // The named format is the only one: a 34-bit frame is refused at that reader.
    assert_eq!(
        read(&t, at(1, ReaderSide::In), WIEGAND34_CARD),
        Some(FrameRead::Refused(WiegandError::UnknownLength { bits: 34 }))
    );
}

#[test]
fn reader_property_rows_give_the_server_s_reader_ids() {
    let t = tables(&[
        ("ReaderProperty", "ReaderID=7\tDoorID=2\tInOut=1\tAddress=3"),
        (
            "WGFormat",
            &format!("ID=5\tCardBit=26\tCardFormat={WIEGAND26A}"),
        ),
        ("ReaderWGFormat", "ReaderID=7\tDevID=1\tWGFormatID=5"),
    ]);
    assert_eq!(reader_id(&t, at(2, ReaderSide::Out)), 7);
    assert_eq!(reader_id(&t, at(2, ReaderSide::In)), 3);
    assert_eq!(read(&t, at(2, ReaderSide::Out), H10301_CARD), card(4567));
    assert_eq!(
        read(&t, at(2, ReaderSide::In), H10301_CARD),
        card(H10301_NUMBER)
    );
}

#[test]
fn reader_options_turn_parity_off_and_undo_an_inverted_line() {
    let format = (
        "WGFormat",
        format!("ID=2\tCardBit=26\tCardFormat={SEED_FORMAT}"),
    );
    let strict = tables(&[
        (format.0, &format.1),
        (
            "ReaderWGFormat",
            "ReaderID=1\tWGFormatID=2\tParityVerifyDisable=0",
        ),
    ]);
    assert!(matches!(
        read(&strict, at(1, ReaderSide::In), H10301_BAD_PARITY),
        Some(FrameRead::Refused(WiegandError::Parity { .. }))
    ));
    let lax = tables(&[
        (format.0, &format.1),
        (
            "ReaderWGFormat",
            "ReaderID=1\tWGFormatID=2\tParityVerifyDisable=1",
        ),
    ]);
    // The card number is the 24 data bits; the parity bit is not one of them.
    assert_eq!(
        read(&lax, at(1, ReaderSide::In), H10301_BAD_PARITY),
        card(H10301_NUMBER)
    );
    let inverted = tables(&[
        (format.0, &format.1),
        ("ReaderWGFormat", "ReaderID=1\tWGFormatID=2\tReversalType=2"),
    ]);
    let swapped_lines: String = H10301_CARD
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    assert_eq!(
        read(&inverted, at(1, ReaderSide::In), &swapped_lines),
        card(H10301_NUMBER)
    );
}

#[test]
fn a_reader_format_naming_no_format_falls_back_to_automatic_matching() {
    let t = tables(&[
        (
            "DefaultWGFormat",
            &format!("ID=1\tCardBit=26\tCardFormat={WIEGAND26A}"),
        ),
        (
            "ReaderWGFormat",
            "ReaderID=1\tWGFormatID=9\tParityVerifyDisable=1",
        ),
    ]);
    assert_eq!(
        read(&t, at(1, ReaderSide::In), H10301_BAD_PARITY),
        card(4567)
    );
}

#[test]
fn a_reader_picks_up_published_tables_at_its_next_frame() {
    let shared = SharedReaderTables::default();
    let mut reads = ReaderReads::new(shared.clone());
    let door1 = at(1, ReaderSide::In);
    let frame = || Ok(H10301_CARD.parse().unwrap());
    assert_eq!(reads.frame(door1, frame(), 0), card(H10301_NUMBER));
    let version = shared.version();
    shared.publish(tables(&[(
        "DefaultWGFormat",
        &format!("ID=1\tCardBit=26\tCardFormat={WIEGAND26A}"),
    )]));
    assert_eq!(shared.version(), version + 1);
    assert_eq!(reads.frame(door1, frame(), 0), card(4567));
    // The same tables again are no change.
    shared.publish((*shared.current()).clone());
    assert_eq!(shared.version(), version + 1);
    shared.publish(ReaderTables::default());
    assert_eq!(reads.frame(door1, frame(), 0), card(H10301_NUMBER));
}
