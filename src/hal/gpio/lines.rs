//! Finding the board file's lines on the running system, behind [`GpioSystem`] so the rules can
//! be tested with a fake chip list: a line named in the file must exist (the first line of that
//! name, as `gpiocdev::find_named_line` finds it); a chip and offset must be a GPIO chip with that
//! many lines; no two board lines may turn out to be the same line (a name and a chip/offset can
//! alias); a Wiegand reader's D0 and D1 must share a chip, so one request reads their edges in
//! order.

use crate::config::BoardConfig;
use crate::config::board::{BoardLine, LineAt, LineRole};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A line on the running system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineAddress {
    pub chip: PathBuf,
    pub offset: u32,
}

impl fmt::Display for LineAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} offset {}", self.chip.display(), self.offset)
    }
}

/// A GPIO chip: its path as the system names it and how many lines it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipLines {
    pub path: PathBuf,
    pub lines: u32,
}

/// What line lookup needs from the system's GPIO chips.
pub trait GpioSystem {
    /// The GPIO character devices present (`/dev/gpiochipN`), or why they cannot be listed.
    fn chips(&self) -> Result<Vec<PathBuf>, String>;
    /// The first line of each of `names` that exists, by name: one pass over the chips.
    fn find_named_lines(&self, names: &[&str]) -> HashMap<String, LineAddress>;
    /// The chip at `path`, or why it is not one.
    fn chip(&self, path: &Path) -> Result<ChipLines, String>;
}

/// The running system, through gpiocdev.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinuxGpio;

impl GpioSystem for LinuxGpio {
    fn chips(&self) -> Result<Vec<PathBuf>, String> {
        gpiocdev::chip::chips().map_err(|e| e.to_string())
    }

    fn find_named_lines(&self, names: &[&str]) -> HashMap<String, LineAddress> {
        // Not strict: the first line of a name wins, as the module doc says. A system whose
        // chips cannot be read has no lines; `chips` says why.
        gpiocdev::find_named_lines(names, false)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, found)| {
                let address = LineAddress {
                    chip: found.chip,
                    offset: found.info.offset,
                };
                (name.to_owned(), address)
            })
            .collect()
    }

    fn chip(&self, path: &Path) -> Result<ChipLines, String> {
        let no_chip = |e: gpiocdev::Error| format!("no GPIO chip there: {e}");
        let chip = gpiocdev::Chip::from_path(path).map_err(no_chip)?;
        let info = chip.info().map_err(no_chip)?;
        Ok(ChipLines {
            path: chip.path().to_owned(),
            lines: info.num_lines,
        })
    }
}

/// A board line and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLine<'a> {
    pub line: BoardLine<'a>,
    pub address: LineAddress,
}

/// A board line that is missing or unusable on this system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// The board file's key, e.g. `door[1].lock`.
    pub key: String,
    /// The line as the file gives it.
    pub at: LineAt,
    pub reason: String,
}

/// Why the board's lines cannot all be used here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblems {
    /// The lines the board names.
    pub lines: usize,
    /// No GPIO chip at all, or why the chips could not be listed.
    pub no_chips: Option<String>,
    pub problems: Vec<LineProblem>,
}

impl fmt::Display for LineProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.no_chips {
            Some(why) => write!(
                f,
                "{why}, so none of the board's {} GPIO lines exists here:",
                self.lines
            )?,
            None => write!(
                f,
                "{} of the board's {} GPIO lines are missing or unusable here:",
                self.problems.len(),
                self.lines
            )?,
        }
        for p in &self.problems {
            write!(f, "\n  {} ({}): {}", p.key, p.at, p.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for LineProblems {}

/// Finds every line of `board` on `system`, or says which are missing and why.
pub fn resolve_lines<'a>(
    board: &'a BoardConfig,
    system: &dyn GpioSystem,
) -> Result<Vec<ResolvedLine<'a>>, LineProblems> {
    let lines = board.lines();
    let no_chips = match system.chips() {
        Ok(chips) if chips.is_empty() => Some(
            "this system has no GPIO chip (no /dev/gpiochip*: the kernel needs CONFIG_GPIOLIB \
             and CONFIG_GPIO_CDEV)"
                .to_owned(),
        ),
        Ok(_) => None,
        Err(e) => Some(format!("the GPIO chips cannot be listed ({e})")),
    };
    let names: Vec<&str> = lines
        .iter()
        .filter_map(|l| match &l.spec.at {
            LineAt::Named(name) => Some(name.as_str()),
            LineAt::Chip { .. } => None,
        })
        .collect();
    let named = system.find_named_lines(&names);
    let mut chips: HashMap<PathBuf, Result<ChipLines, String>> = HashMap::new();
    let mut problems = Vec::new();
    let mut resolved: Vec<ResolvedLine<'a>> = Vec::new();
    let mut by_address: HashMap<LineAddress, String> = HashMap::new();
    for line in lines.iter().cloned() {
        let problem = |reason: String| LineProblem {
            key: line.key.clone(),
            at: line.spec.at.clone(),
            reason,
        };
        let address = match locate(&line.spec.at, &named, &mut chips, system) {
            Ok(address) => address,
            Err(reason) => {
                problems.push(problem(reason));
                continue;
            }
        };
        if let Some(first) = by_address.insert(address.clone(), line.key.clone()) {
            problems.push(problem(format!("{address} is also {first}")));
            continue;
        }
        if let LineRole::Wiegand(reader, _) = line.role
            && let Some(other) = resolved.iter().find(|r| {
                matches!(r.line.role, LineRole::Wiegand(at, _) if at == reader)
                    && r.address.chip != address.chip
            })
        {
            problems.push(problem(format!(
                "on {}, but {} is on {}: a reader's D0 and D1 must share a chip",
                address.chip.display(),
                other.line.key,
                other.address.chip.display()
            )));
            continue;
        }
        resolved.push(ResolvedLine { line, address });
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(LineProblems {
            lines: lines.len(),
            no_chips,
            problems,
        })
    }
}

/// Where `at` is: a name among the `named` lines found, or an offset on a chip (each chip looked
/// at once, in `chips`).
fn locate(
    at: &LineAt,
    named: &HashMap<String, LineAddress>,
    chips: &mut HashMap<PathBuf, Result<ChipLines, String>>,
    system: &dyn GpioSystem,
) -> Result<LineAddress, String> {
    match at {
        LineAt::Named(name) => named
            .get(name)
            .cloned()
            .ok_or_else(|| "no line has this name".to_owned()),
        LineAt::Chip { chip, offset } => {
            let found = chips
                .entry(chip.clone())
                .or_insert_with(|| system.chip(chip))
                .clone()?;
            if *offset >= found.lines {
                return Err(format!("the chip has only {} lines", found.lines));
            }
            Ok(LineAddress {
                chip: found.path,
                offset: *offset,
            })
        }
    }
}
