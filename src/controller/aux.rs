//! The auxiliary outputs and inputs: what CONTROL DEVICE `01 BB 02 DD` does to an output, and
//! which event an aux input's change is [seed 003 §9.4, App 2 events 12, 13, 220, 221].
//!
//! Pure: time comes in as [`Mono`]; the controller drives the relays and commits the records.

use crate::protocol::security::control::OutputAction;
use crate::protocol::session::Mono;

/// App 2 event 12: an auxiliary output switched on by the server.
pub const AUX_OUTPUT_ON: u16 = 12;
/// App 2 event 13: an auxiliary output switched off by the server.
pub const AUX_OUTPUT_OFF: u16 = 13;
/// App 2 event 220: an auxiliary input's circuit opened.
pub const AUX_INPUT_OPENED: u16 = 220;
/// App 2 event 221: an auxiliary input's circuit closed (shorted).
pub const AUX_INPUT_SHORTED: u16 = 221;

/// The event of an aux input whose contact is now made (`true`) or open.
pub fn aux_input_event(contact_made: bool) -> u16 {
    if contact_made {
        AUX_INPUT_SHORTED
    } else {
        AUX_INPUT_OPENED
    }
}

/// A remote command for the auxiliary outputs, already checked against the outputs this
/// controller has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuxCommand {
    /// One output (1-based), or every output (`None`, BB `00`).
    pub aux: Option<u8>,
    pub action: OutputAction,
}

/// One output's change: the new level and the event to record, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuxChange {
    pub aux: u8,
    pub energised: bool,
    /// 12 or 13 for a remote command; none when a timed opening ends.
    pub event: Option<u16>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct AuxSlot {
    energised: bool,
    /// A timed opening (`01`–`FE` seconds) ends here; `None` while off or normally open.
    until: Option<Mono>,
}

/// The auxiliary outputs 1..=n, all off at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuxOutputs {
    slots: Vec<AuxSlot>,
}

impl AuxOutputs {
    pub fn new(count: usize) -> AuxOutputs {
        AuxOutputs {
            slots: vec![AuxSlot::default(); count],
        }
    }

    pub fn count(&self) -> usize {
        self.slots.len()
    }

    /// Applies `command` at `now`. Every addressed output reports a change with its event, even
    /// when its level stays (a repeated timed opening restarts its timer): the server asked, and
    /// the record says it was done. An output the controller lacks changes nothing.
    pub fn command(&mut self, command: AuxCommand, now: Mono) -> Vec<AuxChange> {
        let (energised, until, event) = match command.action {
            OutputAction::Close => (false, None, AUX_OUTPUT_OFF),
            OutputAction::OpenFor(secs) => (
                true,
                Some(now.plus_millis(u64::from(secs.get()) * 1000)),
                AUX_OUTPUT_ON,
            ),
            OutputAction::NormallyOpen => (true, None, AUX_OUTPUT_ON),
        };
        let mut changes = Vec::new();
        for (aux, slot) in self.numbered_mut() {
            if command.aux.is_none_or(|a| a == aux) {
                *slot = AuxSlot { energised, until };
                changes.push(AuxChange {
                    aux,
                    energised,
                    event: Some(event),
                });
            }
        }
        changes
    }

    /// Ends the timed openings due at `now`.
    pub fn tick(&mut self, now: Mono) -> Vec<AuxChange> {
        let mut changes = Vec::new();
        for (aux, slot) in self.numbered_mut() {
            if slot.until.is_some_and(|until| now >= until) {
                *slot = AuxSlot::default();
                changes.push(AuxChange {
                    aux,
                    energised: false,
                    event: None,
                });
            }
        }
        changes
    }

    /// When the next timed opening ends.
    pub fn next_deadline(&self) -> Option<Mono> {
        self.slots.iter().filter_map(|s| s.until).min()
    }

    /// Each output's level, output 1 first.
    pub fn levels(&self) -> Vec<bool> {
        self.slots.iter().map(|s| s.energised).collect()
    }

    fn numbered_mut(&mut self) -> impl Iterator<Item = (u8, &mut AuxSlot)> {
        // The board file numbers at most u8::MAX outputs (BoardConfig::validate).
        (1..=u8::MAX).zip(self.slots.iter_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU8;

    fn open_for(secs: u8) -> OutputAction {
        OutputAction::OpenFor(NonZeroU8::new(secs).unwrap())
    }

    fn change(aux: u8, energised: bool, event: Option<u16>) -> AuxChange {
        AuxChange {
            aux,
            energised,
            event,
        }
    }

    #[test]
    fn a_timed_opening_ends_exactly_at_its_deadline() {
        let mut outputs = AuxOutputs::new(2);
        let on = outputs.command(
            AuxCommand {
                aux: Some(2),
                action: open_for(5),
            },
            Mono(1_000),
        );
        assert_eq!(on, [change(2, true, Some(AUX_OUTPUT_ON))]);
        assert_eq!(outputs.levels(), [false, true]);
        assert_eq!(outputs.next_deadline(), Some(Mono(6_000)));
        assert!(outputs.tick(Mono(5_999)).is_empty());
        assert_eq!(outputs.tick(Mono(6_000)), [change(2, false, None)]);
        assert_eq!(outputs.levels(), [false, false]);
        assert_eq!(outputs.next_deadline(), None);
    }

    #[test]
    fn normally_open_stays_until_closed_and_all_addresses_every_output() {
        let mut outputs = AuxOutputs::new(2);
        let all = |action| AuxCommand { aux: None, action };
        assert_eq!(
            outputs.command(all(OutputAction::NormallyOpen), Mono(0)),
            [
                change(1, true, Some(AUX_OUTPUT_ON)),
                change(2, true, Some(AUX_OUTPUT_ON))
            ]
        );
        assert_eq!(outputs.next_deadline(), None);
        assert!(outputs.tick(Mono(10_000_000)).is_empty());
        assert_eq!(outputs.levels(), [true, true]);
        let off = AuxCommand {
            aux: Some(1),
            action: OutputAction::Close,
        };
        assert_eq!(
            outputs.command(off, Mono(1)),
            [change(1, false, Some(AUX_OUTPUT_OFF))]
        );
        assert_eq!(outputs.levels(), [false, true]);
    }

    #[test]
    fn a_close_cancels_a_timer_and_a_repeat_restarts_it() {
        let mut outputs = AuxOutputs::new(1);
        let one = |action| AuxCommand {
            aux: Some(1),
            action,
        };
        outputs.command(one(open_for(3)), Mono(0));
        outputs.command(one(open_for(3)), Mono(2_000));
        assert_eq!(outputs.next_deadline(), Some(Mono(5_000)));
        assert!(outputs.tick(Mono(3_000)).is_empty());
        outputs.command(one(OutputAction::Close), Mono(4_000));
        assert_eq!(outputs.next_deadline(), None);
        assert!(outputs.tick(Mono(5_000)).is_empty());
    }

    #[test]
    fn an_output_the_board_lacks_changes_nothing() {
        let mut outputs = AuxOutputs::new(1);
        let three = AuxCommand {
            aux: Some(3),
            action: OutputAction::NormallyOpen,
        };
        assert!(outputs.command(three, Mono(0)).is_empty());
        assert_eq!(outputs.levels(), [false]);
    }

    #[test]
    fn aux_input_events_follow_the_contact() {
        assert_eq!(aux_input_event(true), 221);
        assert_eq!(aux_input_event(false), 220);
    }
}
