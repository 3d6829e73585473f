//! The hardware the agent drives, behind narrow traits so the door logic runs the same on the
//! simulated board and on a terminal. The simulated board keeps everything in memory.

pub mod formats;
pub mod gpio;
pub mod keypad;
pub mod osdp;
pub mod reads;
pub mod wiegand;

use crate::access::model::DoorId;
use crate::config::board::ReaderAt;
use crate::protocol::session::Mono;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// The lock relays, one per door, and the auxiliary outputs (numbered 1..=n, `AuxOut`
/// `Address` [seed 003 App 13 table 23]).
pub trait Relays: Send {
    /// Energises (`true`: the lock is released) or de-energises door `door`'s lock relay.
    fn set_lock(&mut self, door: DoorId, energised: bool, now: Mono);
    /// Energises (`true`) or de-energises auxiliary output `aux`.
    fn set_aux_output(&mut self, aux: u8, energised: bool, now: Mono);
}

/// One relay transition on the simulated board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayChange {
    pub at: Mono,
    pub door: DoorId,
    pub energised: bool,
}

/// Most relay transitions, and most feedback shown, the simulated board remembers; older ones are
/// dropped first.
const SIM_HISTORY: usize = 4096;

/// Appends `item`, dropping the oldest when [`SIM_HISTORY`] are kept.
fn remember<T>(history: &mut VecDeque<T>, item: T) {
    if history.len() == SIM_HISTORY {
        history.pop_front();
    }
    history.push_back(item);
}

/// The simulated board's relays: their levels and recent transitions, readable from other threads
/// (the control socket, tests) through a [`SimRelayView`].
#[derive(Debug, Clone, Default)]
pub struct SimRelays {
    shared: Arc<Mutex<SimRelayState>>,
}

#[derive(Debug, Default)]
struct SimRelayState {
    levels: Vec<bool>,
    history: VecDeque<RelayChange>,
    aux_levels: Vec<bool>,
}

impl SimRelays {
    pub fn new(doors: usize) -> SimRelays {
        SimRelays {
            shared: Arc::new(Mutex::new(SimRelayState {
                levels: vec![false; doors],
                history: Default::default(),
                aux_levels: Vec::new(),
            })),
        }
    }

    /// The same relays with `count` auxiliary outputs, all off.
    pub fn with_aux_outputs(self, count: usize) -> SimRelays {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .aux_levels = vec![false; count];
        self
    }

    pub fn view(&self) -> SimRelayView {
        SimRelayView {
            shared: self.shared.clone(),
        }
    }
}

impl Relays for SimRelays {
    fn set_lock(&mut self, door: DoorId, energised: bool, now: Mono) {
        let mut state = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(level) = usize::from(door)
            .checked_sub(1)
            .and_then(|i| state.levels.get_mut(i))
        else {
            log::error!("relay of door {door} set, but the board has no such door");
            return;
        };
        *level = energised;
        remember(
            &mut state.history,
            RelayChange {
                at: now,
                door,
                energised,
            },
        );
    }

    fn set_aux_output(&mut self, aux: u8, energised: bool, _now: Mono) {
        let mut state = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        match usize::from(aux)
            .checked_sub(1)
            .and_then(|i| state.aux_levels.get_mut(i))
        {
            Some(level) => *level = energised,
            None => log::error!("aux output {aux} set, but the board has no such output"),
        }
    }
}

/// Read access to the simulated relays.
#[derive(Debug, Clone)]
pub struct SimRelayView {
    shared: Arc<Mutex<SimRelayState>>,
}

impl SimRelayView {
    /// Each door's relay, door 1 first: `true` = energised.
    pub fn levels(&self) -> Vec<bool> {
        self.lock().levels.clone()
    }

    /// Each auxiliary output, output 1 first: `true` = energised.
    pub fn aux_levels(&self) -> Vec<bool> {
        self.lock().aux_levels.clone()
    }

    /// The lock relays' transitions remembered, oldest first.
    pub fn history(&self) -> Vec<RelayChange> {
        self.lock().history.iter().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimRelayState> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a reader shows its user after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    Granted,
    Denied,
}

/// Reader LEDs and buzzers: on a Wiegand reader the board's LED/buzzer GPIO lines, on an OSDP
/// reader osdp_LED/osdp_BUZ commands. Never blocks (the door does not wait for feedback).
pub trait ReaderFeedback: Send {
    fn show(&mut self, reader: ReaderAt, feedback: Feedback, now: Mono);
}

/// Several [`ReaderFeedback`]s as one, for a board with readers of several kinds: each is told
/// every show and acts on its own readers only.
pub struct FeedbackFanOut(pub Vec<Box<dyn ReaderFeedback>>);

impl ReaderFeedback for FeedbackFanOut {
    fn show(&mut self, reader: ReaderAt, feedback: Feedback, now: Mono) {
        for each in &mut self.0 {
            each.show(reader, feedback, now);
        }
    }
}

/// One feedback shown on the simulated readers (a test double: the sim board's readers have no
/// LEDs to show).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedbackShown {
    pub at: Mono,
    pub reader: ReaderAt,
    pub feedback: Feedback,
}

/// The simulated readers: the feedback they showed, readable from other threads through a
/// [`SimFeedbackView`].
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub struct SimFeedback {
    shown: Arc<Mutex<VecDeque<FeedbackShown>>>,
}

#[cfg(test)]
impl SimFeedback {
    pub fn view(&self) -> SimFeedbackView {
        SimFeedbackView {
            shown: self.shown.clone(),
        }
    }
}

#[cfg(test)]
impl ReaderFeedback for SimFeedback {
    fn show(&mut self, reader: ReaderAt, feedback: Feedback, now: Mono) {
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        remember(
            &mut shown,
            FeedbackShown {
                at: now,
                reader,
                feedback,
            },
        );
    }
}

/// Read access to the simulated readers' feedback.
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct SimFeedbackView {
    shown: Arc<Mutex<VecDeque<FeedbackShown>>>,
}

#[cfg(test)]
impl SimFeedbackView {
    /// The feedback remembered, oldest first.
    pub fn shown(&self) -> Vec<FeedbackShown> {
        self.shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReaderSide;

    #[test]
    fn the_sim_relays_keep_levels_and_history() {
        let mut relays = SimRelays::new(2);
        let view = relays.view();
        relays.set_lock(2, true, Mono(10));
        relays.set_lock(2, false, Mono(5010));
        relays.set_lock(3, true, Mono(6000));
        assert_eq!(view.levels(), [false, false]);
        assert_eq!(
            view.history(),
            [
                RelayChange {
                    at: Mono(10),
                    door: 2,
                    energised: true
                },
                RelayChange {
                    at: Mono(5010),
                    door: 2,
                    energised: false
                }
            ]
        );
        relays.set_lock(1, true, Mono(7000));
        assert_eq!(view.levels(), [true, false]);
    }

    #[test]
    fn the_sim_aux_outputs_keep_their_levels_apart_from_the_locks() {
        let mut relays = SimRelays::new(1).with_aux_outputs(2);
        let view = relays.view();
        relays.set_aux_output(2, true, Mono(10));
        relays.set_aux_output(3, true, Mono(10));
        relays.set_aux_output(0, true, Mono(10));
        assert_eq!(view.aux_levels(), [false, true]);
        assert_eq!(view.levels(), [false]);
        assert!(view.history().is_empty());
        relays.set_aux_output(2, false, Mono(20));
        assert_eq!(view.aux_levels(), [false, false]);
    }

    #[test]
    fn a_fan_out_shows_every_feedback_on_each_of_its_parts() {
        let (first, second) = (SimFeedback::default(), SimFeedback::default());
        let views = [first.view(), second.view()];
        let mut both = FeedbackFanOut(vec![Box::new(first), Box::new(second)]);
        let door_1_in = ReaderAt {
            door: 1,
            side: ReaderSide::In,
        };
        both.show(door_1_in, Feedback::Granted, Mono(5));
        for view in views {
            assert_eq!(
                view.shown(),
                [FeedbackShown {
                    at: Mono(5),
                    reader: door_1_in,
                    feedback: Feedback::Granted
                }]
            );
        }
    }

    #[test]
    fn the_sim_readers_keep_the_feedback_shown_in_order() {
        let mut readers = SimFeedback::default();
        let view = readers.view();
        let door_2_out = ReaderAt {
            door: 2,
            side: ReaderSide::Out,
        };
        readers.show(door_2_out, Feedback::Denied, Mono(10));
        readers.show(door_2_out, Feedback::Granted, Mono(20));
        assert_eq!(
            view.shown(),
            [
                FeedbackShown {
                    at: Mono(10),
                    reader: door_2_out,
                    feedback: Feedback::Denied
                },
                FeedbackShown {
                    at: Mono(20),
                    reader: door_2_out,
                    feedback: Feedback::Granted
                }
            ]
        );
    }
}
