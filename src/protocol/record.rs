//! Upload records and the card-number formats [000 §11.2, §11.4, §11.5, §12.1.1.1; spec E9].
//!
//! Each record is one line; a batch body ends every record with LF (the seed's ATTLOG example is
//! nine 34-byte records in a 315-byte body, so each carries its LF).

use super::civil::LocalDateTime;

/// Joins record lines into an upload body, each terminated by LF.
pub fn batch_body<S: AsRef<str>>(lines: &[S]) -> Vec<u8> {
    let mut body = Vec::with_capacity(lines.iter().map(|l| l.as_ref().len() + 1).sum());
    for line in lines {
        body.extend_from_slice(line.as_ref().as_bytes());
        body.push(b'\n');
    }
    body
}

/// How a user proved who they are, before it is mapped to a protocol `Verify` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMethod {
    Card,
    Password,
    /// The user ID (PIN) alone, typed on the keypad.
    UserId,
}

/// Which code table ATTLOG `Verify` uses (AMB-7): App 7 (000) or the legacy table of 004.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyCodes {
    #[default]
    App7,
    Legacy,
}

impl VerifyCodes {
    pub fn code(self, method: VerifyMethod) -> u16 {
        match (self, method) {
            (VerifyCodes::App7, VerifyMethod::Card) => 4,
            (VerifyCodes::App7, VerifyMethod::Password) => 3,
            (VerifyCodes::App7, VerifyMethod::UserId) => 2,
            (VerifyCodes::Legacy, VerifyMethod::Card) => 2,
            (VerifyCodes::Legacy, VerifyMethod::Password) => 0,
            (VerifyCodes::Legacy, VerifyMethod::UserId) => 9,
        }
    }
}

/// Mask and temperature fields, sent only by devices that measure them [000 §11.2].
#[derive(Debug, Clone, PartialEq)]
pub struct HealthFields {
    pub mask: bool,
    pub temperature: String,
    pub converted_temperature: String,
}

/// One attendance record [000 §11.2].
#[derive(Debug, Clone, PartialEq)]
pub struct AttLog {
    pub pin: String,
    pub time: LocalDateTime,
    /// Attendance status [004 table 2-3]: 0 check-in, 1 check-out, …
    pub status: u8,
    pub verify: u16,
    pub workcode: String,
    pub health: Option<HealthFields>,
}

impl AttLog {
    /// `PIN⇥Time⇥Status⇥Verify⇥Workcode⇥Reserved1⇥Reserved2[⇥MaskFlag⇥Temperature⇥ConvTemperature]`.
    pub fn encode(&self) -> String {
        let workcode = if self.workcode.is_empty() {
            "0"
        } else {
            &self.workcode
        };
        let mut line = format!(
            "{}\t{}\t{}\t{}\t{}\t0\t0",
            self.pin, self.time, self.status, self.verify, workcode
        );
        if let Some(h) = &self.health {
            line.push_str(&format!(
                "\t{}\t{}\t{}",
                u8::from(h.mask),
                h.temperature,
                h.converted_temperature
            ));
        }
        line
    }
}

/// Operation codes this agent writes [000 App 3].
pub mod op_type {
    pub const POWER_ON: u16 = 0;
    pub const VERIFICATION_FAILED: u16 = 2;
    pub const ALARM: u16 = 3;
    pub const CLEARED_DATA: u16 = 13;
    pub const SET_TIME: u16 = 21;
    pub const DELETED_RECORDS: u16 = 23;
}

/// Alarm reasons, the first operand of an ALARM operation [000 App 5].
pub mod alarm_reason {
    pub const DOOR_CLOSE_DETECTED: &str = "50";
    pub const DOOR_OPEN_DETECTED: &str = "51";
}

/// One operation-log record [000 §11.4; AMB-8: exactly seven fields].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpLog {
    pub op_type: u16,
    /// The administrator's PIN, `0` when none.
    pub operator: String,
    pub time: LocalDateTime,
    /// Operands 1–4 [000 App 4]; `0` when unused.
    pub operands: [String; 4],
}

impl OpLog {
    /// An operation with its operands, the unused ones `0`.
    pub fn new(op_type: u16, operator: &str, time: LocalDateTime, operands: &[&str]) -> OpLog {
        let operand = |i: usize| {
            operands
                .get(i)
                .map_or_else(|| "0".to_owned(), |s| (*s).to_owned())
        };
        OpLog {
            op_type,
            operator: operator.to_owned(),
            time,
            operands: [operand(0), operand(1), operand(2), operand(3)],
        }
    }

    /// `OPLOG SP OpType⇥Operator⇥OpTime⇥Obj1⇥Obj2⇥Obj3⇥Obj4`.
    pub fn encode(&self) -> String {
        let [a, b, c, d] = &self.operands;
        let operator = if self.operator.is_empty() {
            "0"
        } else {
            &self.operator
        };
        format!(
            "OPLOG {}\t{operator}\t{}\t{a}\t{b}\t{c}\t{d}",
            self.op_type, self.time
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid card number {text:?}: {reason}")]
pub struct CardError {
    pub text: String,
    pub reason: &'static str,
}

/// Parses a `Card=` value [000 §12.1.1.1; AMB-20]: `[hhhhhhhh]` hex bytes with the least
/// significant byte first (`[15CD5B07]` = 123456789; 004 shows five bytes), or a decimal string.
/// Empty and `0` mean "no card".
pub fn parse_card(text: &str) -> Result<Option<u64>, CardError> {
    let t = text.trim();
    let err = |reason| CardError {
        text: t.to_owned(),
        reason,
    };
    if t.is_empty() {
        return Ok(None);
    }
    let value = if let Some(hex) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        if hex.len() % 2 != 0
            || hex.is_empty()
            || hex.len() > 16
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(err("bracket form needs 1 to 8 hex bytes"));
        }
        hex.as_bytes()
            .chunks(2)
            .enumerate()
            .map(|(i, pair)| {
                let byte =
                    u64::from_str_radix(std::str::from_utf8(pair).unwrap_or("0"), 16).unwrap_or(0);
                byte << (8 * i)
            })
            .sum()
    } else if t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u64>().map_err(|_| err("number too large"))?
    } else {
        return Err(err("expected [hex bytes] or decimal digits"));
    };
    Ok((value != 0).then_some(value))
}

/// The bracket form of a card number, least significant byte first, at least four bytes.
pub fn card_bracket_form(card: u64) -> String {
    let bytes = card.to_le_bytes();
    let used = bytes
        .iter()
        .rposition(|b| *b != 0)
        .map_or(4, |i| (i + 1).max(4));
    format!("[{}]", upper_hex(&bytes[..used]))
}

/// Bytes as two upper-case hex digits each, in order (`[0x02, 0xAB]` is `02AB`): the card bracket
/// form here, the Security dialect's rtstate bitmaps [security note §3.2, AMB-9].
pub fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> LocalDateTime {
        LocalDateTime::parse(s).unwrap()
    }

    #[test]
    fn encodes_attlog_with_seven_fields() {
        let r = AttLog {
            pin: "1452".into(),
            time: t("2015-07-30 15:16:28"),
            status: 0,
            verify: 1,
            workcode: String::new(),
            health: None,
        };
        assert_eq!(r.encode(), "1452\t2015-07-30 15:16:28\t0\t1\t0\t0\t0");
        assert_eq!(r.encode().len(), 34);
    }

    #[test]
    fn encodes_attlog_with_mask_and_temperature() {
        let health = HealthFields {
            mask: true,
            temperature: "36.2".into(),
            converted_temperature: "97.2".into(),
        };
        let r = AttLog {
            pin: "7".into(),
            time: t("2020-04-01 08:00:00"),
            status: 1,
            verify: 15,
            workcode: "3".into(),
            health: Some(health),
        };
        assert_eq!(
            r.encode(),
            "7\t2020-04-01 08:00:00\t1\t15\t3\t0\t0\t1\t36.2\t97.2"
        );
    }

    #[test]
    fn encodes_oplog_with_a_space_after_the_tag_and_six_tabs() {
        let r = OpLog::new(4, "14", t("2015-07-30 10:22:34"), &[]);
        assert_eq!(r.encode(), "OPLOG 4\t14\t2015-07-30 10:22:34\t0\t0\t0\t0");
    }

    #[test]
    fn terminates_every_batch_record_with_lf() {
        assert_eq!(batch_body(&["a", "b"]), b"a\nb\n");
        assert!(batch_body::<&str>(&[]).is_empty());
    }

    #[test]
    fn parses_both_card_forms_of_the_seed() {
        assert_eq!(parse_card("[15CD5B07]"), Ok(Some(123_456_789)));
        assert_eq!(parse_card("[15cd5b07]"), Ok(Some(123_456_789)));
        assert_eq!(parse_card("123456789"), Ok(Some(123_456_789)));
        assert_eq!(parse_card("[09E4812202]"), Ok(Some(0x02_2281_E409)));
        assert_eq!(parse_card(""), Ok(None));
        assert_eq!(parse_card("0"), Ok(None));
        assert_eq!(parse_card("[00000000]"), Ok(None));
    }

    #[test]
    fn rejects_malformed_cards() {
        for bad in [
            "[15CD5B0]",
            "[]",
            "[XYZW]",
            "12ab",
            "99999999999999999999999",
            "[112233445566778899]",
        ] {
            assert!(parse_card(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_the_bracket_form_least_significant_byte_first() {
        assert_eq!(card_bracket_form(123_456_789), "[15CD5B07]");
        assert_eq!(card_bracket_form(0x02_2281_E409), "[09E4812202]");
        assert_eq!(parse_card(&card_bracket_form(42)), Ok(Some(42)));
    }

    #[test]
    fn maps_verify_methods_per_code_table() {
        assert_eq!(VerifyCodes::App7.code(VerifyMethod::Card), 4);
        assert_eq!(VerifyCodes::App7.code(VerifyMethod::Password), 3);
        assert_eq!(VerifyCodes::Legacy.code(VerifyMethod::Card), 2);
        assert_eq!(VerifyCodes::Legacy.code(VerifyMethod::Password), 0);
    }
}
