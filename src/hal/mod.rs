//! The hardware the agent drives, behind narrow traits so the door logic runs the same on the
//! simulated board and on a terminal. The simulated board keeps everything in memory.

pub mod gpio;
pub mod osdp;
pub mod wiegand;

use crate::access::model::DoorId;
use crate::protocol::session::Mono;
use std::sync::{Arc, Mutex, PoisonError};

/// The lock relays, one per door.
pub trait Relays: Send {
    /// Energises (`true`: the lock is released) or de-energises door `door`'s lock relay.
    fn set_lock(&mut self, door: DoorId, energised: bool, now: Mono);
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
    fn show(&mut self, reader: crate::config::board::ReaderAt, feedback: Feedback, now: Mono);
}

/// One relay transition on the simulated board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayChange {
    pub at: Mono,
    pub door: DoorId,
    pub energised: bool,
}

/// Most transitions the simulated board remembers; older ones are dropped first.
const SIM_RELAY_HISTORY: usize = 4096;

/// The simulated board's relays: their levels and recent transitions, readable from other threads
/// (the control socket, tests) through a [`SimRelayView`].
#[derive(Debug, Clone, Default)]
pub struct SimRelays {
    shared: Arc<Mutex<SimRelayState>>,
}

#[derive(Debug, Default)]
struct SimRelayState {
    levels: Vec<bool>,
    history: std::collections::VecDeque<RelayChange>,
}

impl SimRelays {
    pub fn new(doors: usize) -> SimRelays {
        SimRelays {
            shared: Arc::new(Mutex::new(SimRelayState {
                levels: vec![false; doors],
                history: Default::default(),
            })),
        }
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
        if state.history.len() == SIM_RELAY_HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(RelayChange {
            at: now,
            door,
            energised,
        });
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

    /// The transitions remembered, oldest first.
    pub fn history(&self) -> Vec<RelayChange> {
        self.lock().history.iter().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimRelayState> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
