//! `CONTROL DEVICE AABBCCDD[EE]`: the server's door, output, alarm and restart commands [note §6.3;
//! seed 003 §9.4].
//!
//! The argument is consecutive `%02X` byte pairs: AA the operation, BB/CC/DD its arguments, EE an
//! optional "operator" byte. The seed lists AA in decimal but sends it in hex (`0B`, `0D`), and
//! says "four groups" while showing five, so every group is read as hex and 4 or 5 groups are
//! accepted [AMB-12]. The operator byte has no documented meaning and is not kept. Whether a door
//! or output id exists on this device is the executor's check (it knows `LockCount`); a decoded
//! [`ControlError`] and an id out of range are both answered `-11` [App 1, AMB-12].

use std::num::NonZeroU8;

/// A decoded `CONTROL DEVICE` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `01 BB CC DD`: drive a door's lock relay or an auxiliary output [note §6.3; events 8, 9,
    /// 12, 13, 205].
    Output {
        kind: OutputKind,
        /// BB: the door id (for [`OutputKind::Lock`]) or auxiliary-output id; `00` = all.
        target: Target,
        /// DD.
        action: OutputAction,
    },
    /// `02 BB`: cancel the alarm of one door, or every alarm (event 7).
    CancelAlarm(Target),
    /// `03 BB`: restart, after the reply has gone (event 206 after boot) [AMB-48].
    Restart(RestartTarget),
    /// `04 BB CC`: enable (`01`) or disable (`00`) today's normal-open period of a door, or of all
    /// doors (events 10/11).
    NormalOpen { door: Target, enable: bool },
    /// `06 BB CC`: lock (`01`) or unlock (`00`) a door, or all doors, in lockdown (events 233/234).
    Lockdown { door: Target, lock: bool },
    /// `07 BB`: emergency dual-open or dual-close of every door (events 227/228).
    Emergency(Emergency),
    /// An operation this device does not carry out (05 battery, 08 Zigbee, 09 Wiegand test,
    /// 0A–12 …): answered "not supported" by the executor. Its arguments are not checked.
    Unsupported(u8),
}

/// Which door or output an operation addresses: BB `00` is all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    All,
    One(NonZeroU8),
}

/// CC of operation 01.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// `01`: the door's lock relay.
    Lock,
    /// `02`: an auxiliary output.
    AuxOutput,
}

/// DD of operation 01.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputAction {
    /// `00`: close (release the output).
    Close,
    /// `01`–`FE`: open for this many seconds.
    OpenFor(NonZeroU8),
    /// `FF`: normally open until told otherwise.
    NormallyOpen,
}

/// BB of operation 03.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartTarget {
    /// `00`: this device.
    ThisDevice,
    /// A sub-controller's device id (multi-level control, App 15).
    SubDevice(NonZeroU8),
}

/// BB of operation 07.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emergency {
    /// `01`: dual-on, every door open.
    AllOpen,
    /// `02`: dual-off, every door closed.
    AllClosed,
}

/// A `CONTROL DEVICE` argument that cannot be decoded: answered `-11` (wrong data parameter,
/// App 1) [AMB-12].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("CONTROL DEVICE argument is not pairs of hex digits")]
    NotHex,
    #[error("CONTROL DEVICE has {0} byte groups; 4 or 5 expected")]
    GroupCount(usize),
    #[error("CONTROL DEVICE operation {op:02X}: {argument} {value:02X} is not defined")]
    BadArgument {
        op: u8,
        /// `BB`, `CC` or `DD`.
        argument: &'static str,
        value: u8,
    },
}

impl Control {
    /// Decodes the `AABBCCDD[EE]` argument (surrounding whitespace ignored, hex in either case).
    pub fn decode(text: &str) -> Result<Control, ControlError> {
        let bytes = hex_bytes(text.trim()).ok_or(ControlError::NotHex)?;
        let &[op, bb, cc, dd, ..] = bytes.as_slice() else {
            return Err(ControlError::GroupCount(bytes.len()));
        };
        let decoded = matches!(op, 0x01 | 0x02 | 0x03 | 0x04 | 0x06 | 0x07);
        if decoded && bytes.len() > 5 {
            return Err(ControlError::GroupCount(bytes.len()));
        }
        let bad = |argument, value| ControlError::BadArgument {
            op,
            argument,
            value,
        };
        let switch = |argument, value| match value {
            0x00 => Ok(false),
            0x01 => Ok(true),
            _ => Err(bad(argument, value)),
        };
        Ok(match op {
            0x01 => Control::Output {
                kind: match cc {
                    0x01 => OutputKind::Lock,
                    0x02 => OutputKind::AuxOutput,
                    _ => return Err(bad("CC", cc)),
                },
                target: target(bb),
                action: match (dd, NonZeroU8::new(dd)) {
                    (0xFF, _) => OutputAction::NormallyOpen,
                    (_, Some(secs)) => OutputAction::OpenFor(secs),
                    (_, None) => OutputAction::Close,
                },
            },
            0x02 => Control::CancelAlarm(target(bb)),
            0x03 => Control::Restart(
                NonZeroU8::new(bb).map_or(RestartTarget::ThisDevice, RestartTarget::SubDevice),
            ),
            0x04 => Control::NormalOpen {
                door: target(bb),
                enable: switch("CC", cc)?,
            },
            0x06 => Control::Lockdown {
                door: target(bb),
                lock: switch("CC", cc)?,
            },
            0x07 => Control::Emergency(match bb {
                0x01 => Emergency::AllOpen,
                0x02 => Emergency::AllClosed,
                _ => return Err(bad("BB", bb)),
            }),
            _ => Control::Unsupported(op),
        })
    }
}

fn target(id: u8) -> Target {
    NonZeroU8::new(id).map_or(Target::All, Target::One)
}

/// `"0A1b"` → `[0x0A, 0x1B]`; `None` for an odd length or a non-hex digit.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> NonZeroU8 {
        NonZeroU8::new(n).unwrap()
    }

    #[test]
    fn decodes_the_seed_examples() {
        let cases = [
            // Open door 1 for 5 s.
            (
                "01010105",
                Control::Output {
                    kind: OutputKind::Lock,
                    target: Target::One(id(1)),
                    action: OutputAction::OpenFor(id(5)),
                },
            ),
            // Cancel the alarm of door 1.
            ("02010000", Control::CancelAlarm(Target::One(id(1)))),
            // Restart this device.
            ("03000000", Control::Restart(RestartTarget::ThisDevice)),
            // Wiegand test (five groups), sub-device query, network switch.
            ("0900000000", Control::Unsupported(0x09)),
            ("0D000000", Control::Unsupported(0x0D)),
            ("0B010000", Control::Unsupported(0x0B)),
        ];
        for (text, control) in cases {
            assert_eq!(Control::decode(text), Ok(control), "{text}");
        }
    }

    #[test]
    fn decodes_every_output_action_and_kind() {
        let output = |kind, target, action| Control::Output {
            kind,
            target,
            action,
        };
        let cases = [
            (
                "01020200",
                output(
                    OutputKind::AuxOutput,
                    Target::One(id(2)),
                    OutputAction::Close,
                ),
            ),
            (
                "010001FF",
                output(OutputKind::Lock, Target::All, OutputAction::NormallyOpen),
            ),
            (
                "010401FE",
                output(
                    OutputKind::Lock,
                    Target::One(id(4)),
                    OutputAction::OpenFor(id(254)),
                ),
            ),
            // Door ids are hex: 0x10 is door 16 (the seed's "01-10" range, AMB-12).
            (
                "01100101",
                output(
                    OutputKind::Lock,
                    Target::One(id(16)),
                    OutputAction::OpenFor(id(1)),
                ),
            ),
        ];
        for (text, control) in cases {
            assert_eq!(Control::decode(text), Ok(control), "{text}");
        }
    }

    #[test]
    fn decodes_alarm_restart_normal_open_lockdown_and_emergency() {
        let cases = [
            ("02000000", Control::CancelAlarm(Target::All)),
            (
                "03020000",
                Control::Restart(RestartTarget::SubDevice(id(2))),
            ),
            (
                "04010100",
                Control::NormalOpen {
                    door: Target::One(id(1)),
                    enable: true,
                },
            ),
            (
                "04000000",
                Control::NormalOpen {
                    door: Target::All,
                    enable: false,
                },
            ),
            (
                "06030100",
                Control::Lockdown {
                    door: Target::One(id(3)),
                    lock: true,
                },
            ),
            (
                "06000000",
                Control::Lockdown {
                    door: Target::All,
                    lock: false,
                },
            ),
            ("07010000", Control::Emergency(Emergency::AllOpen)),
            ("07020000", Control::Emergency(Emergency::AllClosed)),
            ("05000000", Control::Unsupported(0x05)),
        ];
        for (text, control) in cases {
            assert_eq!(Control::decode(text), Ok(control), "{text}");
        }
    }

    #[test]
    fn accepts_an_operator_byte_lower_case_and_surrounding_spaces() {
        let open = Control::Output {
            kind: OutputKind::Lock,
            target: Target::One(id(1)),
            action: OutputAction::OpenFor(id(5)),
        };
        assert_eq!(Control::decode("0101010501"), Ok(open));
        assert_eq!(
            Control::decode(" 0a010000 "),
            Ok(Control::Unsupported(0x0A))
        );
    }

    #[test]
    fn accepts_long_arguments_of_operations_it_does_not_decode() {
        // Elevator output: a 32-byte floor bitmap between AA and DD (AMB-18).
        let floors = format!("11{}FF", "2A80".to_owned() + &"00".repeat(30));
        assert_eq!(Control::decode(&floors), Ok(Control::Unsupported(0x11)));
    }

    #[test]
    fn rejects_malformed_arguments() {
        let cases = [
            ("", ControlError::GroupCount(0)),
            ("010101", ControlError::GroupCount(3)),
            ("010101050102", ControlError::GroupCount(6)),
            ("0101010", ControlError::NotHex),
            ("0101 0105", ControlError::NotHex),
            ("01G10105", ControlError::NotHex),
            ("01é0105", ControlError::NotHex),
            (
                "01010305",
                ControlError::BadArgument {
                    op: 0x01,
                    argument: "CC",
                    value: 0x03,
                },
            ),
            (
                "04010200",
                ControlError::BadArgument {
                    op: 0x04,
                    argument: "CC",
                    value: 0x02,
                },
            ),
            (
                "06010200",
                ControlError::BadArgument {
                    op: 0x06,
                    argument: "CC",
                    value: 0x02,
                },
            ),
            (
                "07030000",
                ControlError::BadArgument {
                    op: 0x07,
                    argument: "BB",
                    value: 0x03,
                },
            ),
        ];
        for (text, error) in cases {
            assert_eq!(Control::decode(text), Err(error), "{text:?}");
        }
    }
}
