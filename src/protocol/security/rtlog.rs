//! Real-time event records, the body of `POST /iclock/cdata?SN=…&table=rtlog` [note §3.1; seed 003
//! §7.2].

use crate::protocol::civil::LocalDateTime;
use crate::protocol::fields::Fields;
use std::fmt;

/// `inoutstatus`: the direction of the reader that produced the event [note §3.1]. Only 0 and 1
/// are emitted [AMB-20].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InOutStatus {
    /// `0`.
    In,
    /// `1`.
    Out,
}

/// `verifytype` [note §3.1, §2.9, §7.4].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyType {
    /// An App 3 code (`0` auto … `29`, `200` other). Linkage events (6, 231) carry the triggering
    /// event code here [note §3.1].
    Code(u16),
    /// The new 16-bit factor form, used only when both sides negotiated `NewVFStyles`: written as
    /// 16 binary digits, the rightmost is bit 0 [note §2.9].
    Factors(u16),
}

impl fmt::Display for VerifyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyType::Code(code) => write!(f, "{code}"),
            VerifyType::Factors(bits) => write!(f, "{bits:016b}"),
        }
    }
}

/// One access/door/alarm event as uploaded through `table=rtlog` [note §3.1, C16]. The optional
/// fields `maskflag`, `temperature`, `convtemperature` and `bitCount` (C17) are not modelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtLog {
    /// Device local time of the event.
    pub time: LocalDateTime,
    /// User ID; `0` when unknown [note §3.1].
    pub pin: String,
    /// Card number (decimal); `0` when none [note §1.5, §3.1].
    pub cardno: String,
    /// Wiegand site code; 0 when none.
    pub sitecode: u32,
    /// Linkage rule involved, 0 when none [note §3.1].
    pub linkid: u32,
    /// Event point, by default the door ID [note §3.1].
    pub eventaddr: u32,
    /// App 2 code (0–255) or App 19 code (4000–6999) [note §7.1].
    pub event: u16,
    /// Reader direction [note §3.1].
    pub inoutstatus: InOutStatus,
    /// Verification mode, or the triggering event for linkage events [note §3.1].
    pub verifytype: VerifyType,
    /// The device-unique, monotonic record ID that resume relies on [note §8.3].
    pub index: u64,
}

/// A text field that would break the HT/LF record syntax [note §1.3].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rtlog field {field} contains a tab, CR or LF")]
pub struct RtLogError {
    /// The field's key as written on the wire.
    pub field: &'static str,
}

impl RtLog {
    /// The record in the exact key order and spelling of seed 003 §7.2, fields joined by HT, no
    /// table prefix and no trailing separator [note §1.3, §3.1].
    pub fn encode(&self) -> Result<String, RtLogError> {
        for (field, value) in [("pin", &self.pin), ("cardno", &self.cardno)] {
            if value.contains(['\t', '\r', '\n']) {
                return Err(RtLogError { field });
            }
        }
        let inout = match self.inoutstatus {
            InOutStatus::In => 0,
            InOutStatus::Out => 1,
        };
        Ok(format!(
            "time={}\tpin={}\tcardno={}\tsitecode={}\tlinkid={}\teventaddr={}\tevent={}\t\
             inoutstatus={inout}\tverifytype={}\tindex={}",
            self.time,
            self.pin,
            self.cardno,
            self.sitecode,
            self.linkid,
            self.eventaddr,
            self.event,
            self.verifytype,
            self.index
        ))
    }
}

impl RtLog {
    /// Reads back a record [`RtLog::encode`] wrote (the store keeps records as sent), for the
    /// `transaction` form of DATA QUERY [note §5.3]. `None` when a field is missing or unreadable.
    pub fn parse(line: &str) -> Option<RtLog> {
        let fields = Fields::parse(line).ok()?;
        let number = |key: &str| fields.get(key)?.trim().parse::<u64>().ok();
        let small = |key: &str| u32::try_from(number(key)?).ok();
        let verifytype = fields.get("verifytype")?.trim();
        Some(RtLog {
            time: LocalDateTime::parse(fields.get("time")?.trim()).ok()?,
            pin: fields.get("pin")?.to_owned(),
            cardno: fields.get("cardno")?.to_owned(),
            sitecode: small("sitecode")?,
            linkid: small("linkid")?,
            eventaddr: small("eventaddr")?,
            event: u16::try_from(number("event")?).ok()?,
            inoutstatus: match number("inoutstatus")? {
                0 => InOutStatus::In,
                _ => InOutStatus::Out,
            },
            verifytype: if verifytype.len() == 16 {
                VerifyType::Factors(u16::from_str_radix(verifytype, 2).ok()?)
            } else {
                VerifyType::Code(verifytype.parse().ok()?)
            },
            index: number("index")?,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The seed's example event (§7.2): exit-button style event 27 on door 1, record 21.
    pub(in crate::protocol::security) fn seed_example() -> RtLog {
        RtLog {
            time: LocalDateTime::new(2017, 1, 10, 11, 49, 32).unwrap(),
            pin: "0".into(),
            cardno: "0".into(),
            sitecode: 0,
            linkid: 0,
            eventaddr: 1,
            event: 27,
            inoutstatus: InOutStatus::Out,
            verifytype: VerifyType::Code(0),
            index: 21,
        }
    }

    #[test]
    fn encodes_every_field_in_the_seed_order() {
        // Seed 003 §7.2 example, with the sitecode and linkid the template requires (the example
        // omits them).
        assert_eq!(
            seed_example().encode().unwrap(),
            "time=2017-01-10 11:49:32\tpin=0\tcardno=0\tsitecode=0\tlinkid=0\teventaddr=1\t\
             event=27\tinoutstatus=1\tverifytype=0\tindex=21"
        );
    }

    #[test]
    fn encodes_a_card_event_going_in() {
        let log = RtLog {
            pin: "36234".into(),
            cardno: "123456789".into(),
            sitecode: 17,
            linkid: 3,
            eventaddr: 2,
            event: 0,
            inoutstatus: InOutStatus::In,
            verifytype: VerifyType::Code(4),
            index: 18_446_744_073_709_551_615,
            ..seed_example()
        };
        assert_eq!(
            log.encode().unwrap(),
            "time=2017-01-10 11:49:32\tpin=36234\tcardno=123456789\tsitecode=17\tlinkid=3\t\
             eventaddr=2\tevent=0\tinoutstatus=0\tverifytype=4\tindex=18446744073709551615"
        );
    }

    #[test]
    fn writes_new_verify_factors_as_sixteen_binary_digits() {
        // Vectors of note §2.9: card&pw&face, card|pw|face|QR.
        assert_eq!(
            VerifyType::Factors(0b0000_1010_0000_0011).to_string(),
            "0000101000000011"
        );
        assert_eq!(
            VerifyType::Factors(0b0001_1010_0000_0010).to_string(),
            "0001101000000010"
        );
        assert_eq!(VerifyType::Factors(0b10).to_string(), "0000000000000010");
        assert_eq!(VerifyType::Code(200).to_string(), "200");
        let log = RtLog {
            verifytype: VerifyType::Factors(0b10),
            ..seed_example()
        };
        assert!(
            log.encode()
                .unwrap()
                .contains("\tverifytype=0000000000000010\t")
        );
    }

    #[test]
    fn rejects_values_that_would_split_the_record() {
        let mut log = seed_example();
        log.pin = "1\t2".into();
        assert_eq!(log.encode(), Err(RtLogError { field: "pin" }));
        log.pin = "1".into();
        log.cardno = "9\n".into();
        assert_eq!(log.encode(), Err(RtLogError { field: "cardno" }));
        log.cardno = "9\r".into();
        assert_eq!(log.encode(), Err(RtLogError { field: "cardno" }));
    }

    #[test]
    fn parse_reads_back_what_encode_wrote() {
        let mut log = seed_example();
        assert_eq!(RtLog::parse(&log.encode().unwrap()), Some(log.clone()));
        log.verifytype = VerifyType::Factors(0b1010_0000_0010);
        log.inoutstatus = InOutStatus::Out;
        assert_eq!(RtLog::parse(&log.encode().unwrap()), Some(log));
        assert_eq!(RtLog::parse("time=2026-11-23 08:00:00\tpin=1"), None);
    }
}
