//! A Wiegand reader's feedback on its LED and buzzer inputs, as level changes over time. Time
//! comes in as an argument: the thread in [`super`] waits until
//! [`IndicatorDriver::next_change`] and steps the driver, which sets the lines.
//!
//! The usual Wiegand reader shows red, and turns green while its LED input is active; its buzzer
//! input sounds while active. A grant lights the LED for [`GRANTED_LED`] with one short beep; a
//! refusal leaves the LED alone and beeps three times. A new feedback at a reader replaces the
//! one under way there (a second card within the green second turns it red at once when
//! refused).

use crate::config::board::ReaderAt;
use crate::hal::Feedback;
use crate::protocol::session::Mono;
use std::collections::BTreeMap;
use std::fmt;

/// One of a reader's feedback inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Indicator {
    Led,
    Buzzer,
}

impl fmt::Display for Indicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Indicator::Led => "LED",
            Indicator::Buzzer => "buzzer",
        })
    }
}

/// A stretch of a pattern, in milliseconds after the feedback was shown: active from the first,
/// inactive again at the second.
type Active = (u64, u64);

/// The LED on a grant: green for a second.
pub const GRANTED_LED: &[Active] = &[(0, 1000)];
/// The buzzer on a grant: one short beep.
pub const GRANTED_BUZZER: &[Active] = &[(0, 150)];
/// The buzzer on a refusal: three beeps of 100 ms, 100 ms apart.
pub const DENIED_BUZZER: &[Active] = &[(0, 100), (200, 300), (400, 500)];

/// When `indicator` is active during `feedback`.
pub fn pattern(feedback: Feedback, indicator: Indicator) -> &'static [Active] {
    match (feedback, indicator) {
        (Feedback::Granted, Indicator::Led) => GRANTED_LED,
        (Feedback::Granted, Indicator::Buzzer) => GRANTED_BUZZER,
        (Feedback::Denied, Indicator::Led) => &[],
        (Feedback::Denied, Indicator::Buzzer) => DENIED_BUZZER,
    }
}

/// An output the driver sets: a reader's LED or buzzer line.
pub trait IndicatorLine: Send {
    /// Makes the line active (`true`) or inactive; the error says why it could not.
    fn set(&mut self, active: bool) -> Result<(), String>;
}

/// The feedback under way at each reader, and the lines it drives.
pub struct IndicatorDriver {
    lines: BTreeMap<(ReaderAt, Indicator), Line>,
    /// Each reader's latest feedback, until its pattern is over.
    shows: BTreeMap<ReaderAt, Show>,
}

#[derive(Debug, Clone, Copy)]
struct Show {
    feedback: Feedback,
    at: Mono,
    /// How far into the pattern the last step was; `None` before the first.
    stepped: Option<u64>,
}

struct Line {
    /// The board file's key, for messages.
    key: String,
    line: Box<dyn IndicatorLine>,
    /// The level last set; lines start inactive.
    active: bool,
    /// The last setting failed (logged once until one succeeds).
    failing: bool,
}

impl IndicatorDriver {
    /// Drives `lines`, each the board file's key and the line; all are inactive to begin with.
    pub fn new(
        lines: impl IntoIterator<Item = ((ReaderAt, Indicator), String, Box<dyn IndicatorLine>)>,
    ) -> IndicatorDriver {
        IndicatorDriver {
            lines: lines
                .into_iter()
                .map(|(at, key, line)| {
                    let line = Line {
                        key,
                        line,
                        active: false,
                        failing: false,
                    };
                    (at, line)
                })
                .collect(),
            shows: BTreeMap::new(),
        }
    }

    /// The readers with a line here, each once.
    pub fn readers(&self) -> Vec<ReaderAt> {
        let mut readers: Vec<ReaderAt> = self.lines.keys().map(|&(reader, _)| reader).collect();
        readers.dedup();
        readers
    }

    /// Starts `feedback` at `reader` as of `at`, in place of any under way there. The lines move
    /// at the next [`IndicatorDriver::step`]. A reader without a line here is left alone.
    pub fn show(&mut self, reader: ReaderAt, feedback: Feedback, at: Mono) {
        if self.indicators(reader).next().is_none() {
            return;
        }
        let show = Show {
            feedback,
            at,
            stepped: None,
        };
        self.shows.insert(reader, show);
    }

    /// Sets every line whose level is due to change by `now`.
    pub fn step(&mut self, now: Mono) {
        let mut over = Vec::new();
        for (&reader, show) in &mut self.shows {
            let elapsed = now.0.saturating_sub(show.at.0);
            show.stepped = Some(elapsed);
            let mut end = 0;
            for ((_, indicator), line) in self.lines.range_mut(reader_range(reader)) {
                let stretches = pattern(show.feedback, *indicator);
                let active = stretches
                    .iter()
                    .any(|&(from, until)| (from..until).contains(&elapsed));
                line.set(active, reader, *indicator);
                end = stretches
                    .iter()
                    .map(|&(_, until)| until)
                    .fold(end, u64::max);
            }
            // Every stretch on the reader's lines has ended: they are all inactive again.
            if elapsed >= end {
                over.push(reader);
            }
        }
        for reader in over {
            self.shows.remove(&reader);
        }
    }

    /// When a line is next due to change; `None` when every pattern is over.
    pub fn next_change(&self) -> Option<Mono> {
        self.shows
            .iter()
            .filter_map(|(&reader, show)| {
                // A show not stepped yet is due at once.
                let Some(elapsed) = show.stepped else {
                    return Some(show.at);
                };
                self.indicators(reader)
                    .flat_map(|i| pattern(show.feedback, i))
                    .flat_map(|&(from, until)| [from, until])
                    .filter(|&edge| edge > elapsed)
                    .min()
                    .map(|edge| show.at.plus_millis(edge))
            })
            .min()
    }

    /// The indicators `reader` has a line for.
    fn indicators(&self, reader: ReaderAt) -> impl Iterator<Item = Indicator> + '_ {
        self.lines
            .range(reader_range(reader))
            .map(|(&(_, indicator), _)| indicator)
    }

    /// Sets every line inactive (the agent stops).
    pub fn release(&mut self) {
        self.shows.clear();
        for (&(reader, indicator), line) in &mut self.lines {
            line.set(false, reader, indicator);
        }
    }
}

/// The keys of `reader`'s lines.
fn reader_range(reader: ReaderAt) -> std::ops::RangeInclusive<(ReaderAt, Indicator)> {
    (reader, Indicator::Led)..=(reader, Indicator::Buzzer)
}

impl Line {
    fn set(&mut self, active: bool, reader: ReaderAt, indicator: Indicator) {
        if active == self.active {
            return;
        }
        match self.line.set(active) {
            Ok(()) => {
                self.active = active;
                self.failing = false;
            }
            Err(e) => {
                if !self.failing {
                    log::error!(
                        "{reader} reader: cannot set the {indicator} ({}): {e}",
                        self.key
                    );
                }
                self.failing = true;
            }
        }
    }
}
