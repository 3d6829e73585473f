//! The terminal's own events: credentials presented at the reader or keypad and the door sensor.
//!
//! The decision is local and comes first ([`crate::access::decide`]); the record is committed to
//! the store afterwards and the network side uploads it when it can. Nothing here waits for the
//! network.

use crate::access::{Credential, Decision, RejectReason, decide};
use crate::clock::DeviceClock;
use crate::protocol::record::{AttLog, OpLog, VerifyCodes, alarm_reason, op_type};
use crate::store::{NewRecord, Store, StoreError};
use std::sync::Arc;

/// Something that happened at the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalEvent {
    Credential(Credential),
    Door(DoorState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorState {
    Open,
    Closed,
}

/// What the terminal did about an event, after its record was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOutcome {
    /// The id of the record written.
    pub record_id: i64,
    pub accepted: bool,
    /// One line for the operator: what was decided and recorded.
    pub summary: String,
}

pub struct Terminal {
    store: Store,
    clock: Arc<DeviceClock>,
    verify_codes: VerifyCodes,
}

impl Terminal {
    pub fn new(store: Store, clock: Arc<DeviceClock>, verify_codes: VerifyCodes) -> Terminal {
        Terminal {
            store,
            clock,
            verify_codes,
        }
    }

    /// Records the start of the agent (OpType 0, power on) [000 App 3].
    pub fn power_on(&mut self) -> Result<i64, StoreError> {
        let op = OpLog::new(op_type::POWER_ON, "0", self.clock.local_now(), &[]);
        self.store
            .write(|tx| tx.append_record(&NewRecord::operation(&op, None)))
    }

    pub fn handle(&mut self, event: &TerminalEvent) -> Result<EventOutcome, StoreError> {
        match event {
            TerminalEvent::Credential(credential) => self.credential(credential),
            TerminalEvent::Door(state) => self.door(*state),
        }
    }

    fn credential(&mut self, credential: &Credential) -> Result<EventOutcome, StoreError> {
        let now = self.clock.local_now();
        let user = self.store.read(|tx| match credential {
            Credential::Card(card) => tx.user_by_card(*card),
            Credential::Keypad { pin, .. } => tx.user(pin),
            Credential::Password(_) => Ok(None),
        })?;
        let decision = decide(credential, user.as_ref(), now);
        let (record, accepted, summary) = match decision {
            Decision::Accept { pin, method } => {
                let log = AttLog {
                    pin: pin.clone(),
                    time: now,
                    status: 0,
                    verify: self.verify_codes.code(method),
                    workcode: String::new(),
                    health: None,
                };
                (
                    NewRecord::attendance(&log, None),
                    true,
                    format!("accepted user {pin} at {now}"),
                )
            }
            Decision::Reject { reason, pin } => {
                // Verification failed [000 App 3 code 2]; the operand names the user when known.
                // The card number stays on the device (credential column) for the operator.
                let operand = pin.clone().unwrap_or_else(|| "0".to_owned());
                let op = OpLog::new(op_type::VERIFICATION_FAILED, "0", now, &[&operand]);
                let detail = match credential {
                    Credential::Card(card) => Some(format!("card {card}")),
                    Credential::Keypad { pin, .. } => Some(format!("pin {pin}")),
                    Credential::Password(_) => None,
                };
                let who = pin.map_or_else(String::new, |p| format!(" (user {p})"));
                (
                    NewRecord::operation(&op, detail),
                    false,
                    format!("rejected: {}{who} at {now}", describe(reason)),
                )
            }
        };
        if !accepted {
            match credential {
                Credential::Card(card) => {
                    log::warn!("card {} refused: {summary}", masked_card(*card))
                }
                Credential::Keypad { .. } | Credential::Password(_) => {
                    log::warn!("keypad entry refused: {summary}")
                }
            }
        }
        let record_id = self.store.write(|tx| tx.append_record(&record))?;
        Ok(EventOutcome {
            record_id,
            accepted,
            summary,
        })
    }

    /// The door sensor: an alarm operation with reason 51 (opened) or 50 (closed) [000 App 5].
    fn door(&mut self, state: DoorState) -> Result<EventOutcome, StoreError> {
        let now = self.clock.local_now();
        let reason = match state {
            DoorState::Open => alarm_reason::DOOR_OPEN_DETECTED,
            DoorState::Closed => alarm_reason::DOOR_CLOSE_DETECTED,
        };
        let op = OpLog::new(op_type::ALARM, "0", now, &[reason]);
        let record_id = self
            .store
            .write(|tx| tx.append_record(&NewRecord::operation(&op, None)))?;
        Ok(EventOutcome {
            record_id,
            accepted: true,
            summary: format!(
                "door {} at {now}",
                match state {
                    DoorState::Open => "opened",
                    DoorState::Closed => "closed",
                }
            ),
        })
    }
}

/// A card number as logs show it: only the last four digits, so logs do not become a card list.
fn masked_card(card: u64) -> String {
    let digits = card.to_string();
    let tail = &digits[digits.len().saturating_sub(4)..];
    format!("…{tail}")
}

fn describe(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::UnknownCard => "unknown card",
        RejectReason::UnknownPin => "unknown user",
        RejectReason::WrongPassword => "wrong password",
        RejectReason::OutsideValidity => "outside the user's validity dates",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::protocol::options::{StampTable, UtcOffset};
    use crate::protocol::session::{Mono, Now};
    use crate::protocol::user::User;

    fn terminal() -> Terminal {
        // 2026-11-23 08:00:00 UTC, shown at UTC+1.
        let manual = ManualClock::new(Now {
            mono: Mono(0),
            utc_ms: 1_795_420_800_000,
        });
        let clock = Arc::new(DeviceClock::new(Box::new(manual), 0, UtcOffset(60)));
        let mut store = Store::open_in_memory().unwrap();
        let mut user = User::new("7");
        user.card = Some(123_456_789);
        user.password = "1234".into();
        store.write(|tx| tx.upsert_user(&user)).unwrap();
        Terminal::new(store, clock, VerifyCodes::App7)
    }

    fn lines(t: &mut Terminal, table: StampTable) -> Vec<String> {
        t.store
            .read(|tx| tx.backlog(table, 100, 1 << 20))
            .unwrap()
            .into_iter()
            .map(|r| r.1)
            .collect()
    }

    #[test]
    fn a_known_card_makes_an_attendance_record() {
        let mut t = terminal();
        let out = t
            .handle(&TerminalEvent::Credential(Credential::Card(123_456_789)))
            .unwrap();
        assert!(out.accepted);
        assert_eq!(
            lines(&mut t, StampTable::AttLog),
            ["7\t2026-11-23 09:00:00\t0\t4\t0\t0\t0"]
        );
    }

    #[test]
    fn an_unknown_card_is_recorded_as_a_failed_verification() {
        let mut t = terminal();
        let out = t
            .handle(&TerminalEvent::Credential(Credential::Card(55)))
            .unwrap();
        assert!(!out.accepted);
        assert!(lines(&mut t, StampTable::AttLog).is_empty());
        assert_eq!(
            lines(&mut t, StampTable::OperLog),
            ["OPLOG 2\t0\t2026-11-23 09:00:00\t0\t0\t0\t0"]
        );
    }

    #[test]
    fn keypad_needs_the_password_and_records_the_verify_code() {
        let mut t = terminal();
        let keypad = |password: &str| {
            TerminalEvent::Credential(Credential::Keypad {
                pin: "7".into(),
                password: Some(password.into()),
            })
        };
        assert!(!t.handle(&keypad("9999")).unwrap().accepted);
        assert!(t.handle(&keypad("1234")).unwrap().accepted);
        assert_eq!(
            lines(&mut t, StampTable::AttLog),
            ["7\t2026-11-23 09:00:00\t0\t3\t0\t0\t0"]
        );
        assert_eq!(
            lines(&mut t, StampTable::OperLog),
            ["OPLOG 2\t0\t2026-11-23 09:00:00\t7\t0\t0\t0"]
        );
    }

    #[test]
    fn door_sensor_changes_are_alarm_operations() {
        let mut t = terminal();
        t.handle(&TerminalEvent::Door(DoorState::Open)).unwrap();
        t.handle(&TerminalEvent::Door(DoorState::Closed)).unwrap();
        t.power_on().unwrap();
        assert_eq!(
            lines(&mut t, StampTable::OperLog),
            [
                "OPLOG 3\t0\t2026-11-23 09:00:00\t51\t0\t0\t0",
                "OPLOG 3\t0\t2026-11-23 09:00:00\t50\t0\t0\t0",
                "OPLOG 0\t0\t2026-11-23 09:00:00\t0\t0\t0\t0",
            ]
        );
    }
}
