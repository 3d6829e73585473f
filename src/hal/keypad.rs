//! A reader's keypad entry: keys one at a time (Wiegand 4- or 8-bit bursts, OSDP keypad reports)
//! until `#` submits the digits typed as a password, the way a door's emergency or duress password
//! is entered at a keypad reader [seed 003 App 10 `SupperPassWord`, App 2 events 4, 30, 101].
//!
//! Pure: the time of each key comes in (CLOCK_MONOTONIC nanoseconds, the kernel's edge time on a
//! Wiegand reader). The digits are a secret: nothing here logs them, and the `Debug` form of an
//! entry shows only how many there are.

use crate::hal::wiegand::Key;
use std::fmt;

/// Digits typed with no key for this long are forgotten: someone walked away mid-entry.
pub const KEYPAD_IDLE_NS: u64 = 10_000_000_000;

/// The most digits an entry holds; a longer entry is dropped whole at its next key. Door
/// passwords are at most 8 digits on the panels the server expects; 16 leaves room.
pub const MAX_KEYPAD_DIGITS: usize = 16;

/// The digits typed at a keypad: a secret, whose `Debug` form shows only how many there are.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password(<{} digits>)", self.0.len())
    }
}

/// What a key did to the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeypadStep {
    /// A digit was added, or `*` cleared the entry: nothing to decide yet.
    Pending,
    /// `#` after one or more digits: the password typed.
    Submitted(Password),
    /// `#` with nothing typed, or after an entry too long to be a password.
    Discarded,
}

/// One reader's entry in progress.
#[derive(Clone, Default)]
pub struct KeypadEntry {
    digits: String,
    overflowed: bool,
    last_key_ns: Option<u64>,
}

impl fmt::Debug for KeypadEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeypadEntry")
            .field("digits", &self.digits.len())
            .field("overflowed", &self.overflowed)
            .finish()
    }
}

impl KeypadEntry {
    /// Takes one key pressed at `at_ns`.
    pub fn key(&mut self, key: Key, at_ns: u64) -> KeypadStep {
        if self
            .last_key_ns
            .is_some_and(|last| at_ns.saturating_sub(last) >= KEYPAD_IDLE_NS)
        {
            self.clear();
        }
        self.last_key_ns = Some(at_ns);
        match key {
            Key::Digit(d) => {
                if self.digits.len() == MAX_KEYPAD_DIGITS {
                    self.overflowed = true;
                } else if let Some(c) = char::from_digit(u32::from(d), 10) {
                    self.digits.push(c);
                }
                KeypadStep::Pending
            }
            Key::Escape => {
                self.clear();
                KeypadStep::Pending
            }
            Key::Enter => {
                let typed = std::mem::take(&mut self.digits);
                let overflowed = std::mem::take(&mut self.overflowed);
                if typed.is_empty() || overflowed {
                    KeypadStep::Discarded
                } else {
                    KeypadStep::Submitted(Password(typed))
                }
            }
        }
    }

    fn clear(&mut self) {
        self.digits.clear();
        self.overflowed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn typed(entry: &mut KeypadEntry, keys: &str, start_ns: u64) -> Vec<KeypadStep> {
        keys.chars()
            .zip(0..)
            .map(|(c, i)| {
                let key = match c {
                    '*' => Key::Escape,
                    '#' => Key::Enter,
                    d => Key::Digit(d.to_digit(10).and_then(|d| u8::try_from(d).ok()).unwrap()),
                };
                entry.key(key, start_ns + i * S)
            })
            .collect()
    }

    fn submitted(digits: &str) -> KeypadStep {
        KeypadStep::Submitted(Password(digits.to_owned()))
    }

    fn last(steps: Vec<KeypadStep>) -> KeypadStep {
        steps.into_iter().last().unwrap()
    }

    #[test]
    fn enter_submits_the_digits_typed_and_starts_again() {
        let mut entry = KeypadEntry::default();
        let steps = typed(&mut entry, "1234#", 0);
        assert!(steps[..4].iter().all(|s| *s == KeypadStep::Pending));
        assert_eq!(steps[4], submitted("1234"));
        assert_eq!(last(typed(&mut entry, "99#", 10 * S)), submitted("99"));
    }

    #[test]
    fn escape_clears_and_enter_alone_submits_nothing() {
        let mut entry = KeypadEntry::default();
        assert_eq!(last(typed(&mut entry, "12*34#", 0)), submitted("34"));
        assert_eq!(last(typed(&mut entry, "#", 20 * S)), KeypadStep::Discarded);
        assert_eq!(
            last(typed(&mut entry, "5*#", 40 * S)),
            KeypadStep::Discarded
        );
    }

    #[test]
    fn digits_left_idle_are_forgotten() {
        let mut entry = KeypadEntry::default();
        typed(&mut entry, "123", 0);
        // The last digit came at 2 s; the next key at 12 s is 10 s later.
        assert_eq!(entry.key(Key::Digit(9), 12 * S), KeypadStep::Pending);
        assert_eq!(entry.key(Key::Enter, 13 * S), submitted("9"));
        // 9.999 s is not idle yet.
        typed(&mut entry, "12", 20 * S);
        entry.key(Key::Digit(3), 21 * S + KEYPAD_IDLE_NS - 1);
        assert_eq!(
            entry.key(Key::Enter, 21 * S + KEYPAD_IDLE_NS),
            submitted("123")
        );
    }

    #[test]
    fn an_entry_too_long_is_dropped_whole() {
        let mut entry = KeypadEntry::default();
        let keys = format!("{}#", "7".repeat(MAX_KEYPAD_DIGITS + 1));
        assert_eq!(last(typed(&mut entry, &keys, 0)), KeypadStep::Discarded);
        let keys = format!("{}#", "7".repeat(MAX_KEYPAD_DIGITS));
        assert_eq!(
            last(typed(&mut entry, &keys, 100 * S)),
            KeypadStep::Submitted(Password("7".repeat(MAX_KEYPAD_DIGITS)))
        );
    }

    #[test]
    fn debug_never_shows_the_digits() {
        let mut entry = KeypadEntry::default();
        let steps = typed(&mut entry, "4711", 0);
        assert!(!format!("{entry:?}").contains("4711"));
        assert_eq!(
            format!("{entry:?}"),
            "KeypadEntry { digits: 4, overflowed: false }"
        );
        assert_eq!(steps.len(), 4);
        assert_eq!(
            format!("{:?}", entry.key(Key::Enter, 5 * S)),
            "Submitted(Password(<4 digits>))"
        );
    }
}
