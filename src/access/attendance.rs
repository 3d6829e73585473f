//! The attendance dialect's decision on a credential: pure code, no store, no clock.
//!
//! The attendance dialect accepts a known, valid user: a card of theirs, or their PIN typed on the
//! keypad with their password when they have one. Everything else is refused with the reason, so
//! the terminal can record a verification failure [000 App 3 code 2].

use crate::protocol::civil::LocalDateTime;
use crate::protocol::record::VerifyMethod;
use crate::protocol::user::User;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Card(u64),
    Keypad {
        pin: String,
        password: Option<String>,
    },
    /// A password typed alone: a door's emergency or duress password (security dialect).
    Password(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    UnknownCard,
    UnknownPin,
    WrongPassword,
    /// Before `StartDatetime` or after `EndDatetime`.
    OutsideValidity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Accept {
        pin: String,
        method: VerifyMethod,
    },
    /// `pin` is the user the credential named, when it named one.
    Reject {
        reason: RejectReason,
        pin: Option<String>,
    },
}

/// Decides on `credential`, given the user it identifies (looked up by card or PIN) and the local
/// time. A password typed alone names no user: it is refused like an unknown PIN.
pub fn decide(credential: &Credential, user: Option<&User>, now: LocalDateTime) -> Decision {
    let Some(user) = user else {
        return unknown(credential);
    };
    let reject = |reason| Decision::Reject {
        reason,
        pin: Some(user.pin.clone()),
    };
    if !user.valid_on(now) {
        return reject(RejectReason::OutsideValidity);
    }
    let method = match credential {
        Credential::Card(_) => VerifyMethod::Card,
        Credential::Password(_) => return unknown(credential),
        Credential::Keypad { password, .. } if user.password.is_empty() => {
            if password.as_deref().is_some_and(|p| !p.is_empty()) {
                return reject(RejectReason::WrongPassword);
            }
            VerifyMethod::UserId
        }
        Credential::Keypad { password, .. } => {
            if password.as_deref() != Some(user.password.as_str()) {
                return reject(RejectReason::WrongPassword);
            }
            VerifyMethod::Password
        }
    };
    Decision::Accept {
        pin: user.pin.clone(),
        method,
    }
}

fn unknown(credential: &Credential) -> Decision {
    let reason = match credential {
        Credential::Card(_) => RejectReason::UnknownCard,
        Credential::Keypad { .. } | Credential::Password(_) => RejectReason::UnknownPin,
    };
    Decision::Reject { reason, pin: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> LocalDateTime {
        LocalDateTime::parse("2026-11-23 08:00:00").unwrap()
    }

    fn user(password: &str) -> User {
        let mut u = User::new("7");
        u.password = password.into();
        u.card = Some(42);
        u
    }

    fn keypad(password: Option<&str>) -> Credential {
        Credential::Keypad {
            pin: "7".into(),
            password: password.map(str::to_owned),
        }
    }

    #[test]
    fn accepts_a_known_card() {
        let d = decide(&Credential::Card(42), Some(&user("")), now());
        assert_eq!(
            d,
            Decision::Accept {
                pin: "7".into(),
                method: VerifyMethod::Card
            }
        );
    }

    #[test]
    fn rejects_unknown_credentials() {
        assert_eq!(
            decide(&Credential::Card(1), None, now()),
            Decision::Reject {
                reason: RejectReason::UnknownCard,
                pin: None
            }
        );
        assert_eq!(
            decide(&keypad(None), None, now()),
            Decision::Reject {
                reason: RejectReason::UnknownPin,
                pin: None
            }
        );
    }

    #[test]
    fn rejects_a_password_typed_alone_like_an_unknown_pin() {
        let password = Credential::Password("1234".into());
        for user in [None, Some(&user("1234"))] {
            assert_eq!(
                decide(&password, user, now()),
                Decision::Reject {
                    reason: RejectReason::UnknownPin,
                    pin: None
                }
            );
        }
    }

    #[test]
    fn keypad_needs_the_password_when_the_user_has_one() {
        let u = user("1234");
        assert_eq!(
            decide(&keypad(Some("1234")), Some(&u), now()),
            Decision::Accept {
                pin: "7".into(),
                method: VerifyMethod::Password
            }
        );
        for wrong in [None, Some(""), Some("9999")] {
            assert_eq!(
                decide(&keypad(wrong), Some(&u), now()),
                Decision::Reject {
                    reason: RejectReason::WrongPassword,
                    pin: Some("7".into())
                },
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn keypad_without_a_password_is_user_id_verification() {
        assert_eq!(
            decide(&keypad(None), Some(&user("")), now()),
            Decision::Accept {
                pin: "7".into(),
                method: VerifyMethod::UserId
            }
        );
        assert!(matches!(
            decide(&keypad(Some("1")), Some(&user("")), now()),
            Decision::Reject {
                reason: RejectReason::WrongPassword,
                ..
            }
        ));
    }

    #[test]
    fn rejects_outside_the_validity_window() {
        let mut u = user("");
        u.valid_until = Some(LocalDateTime::parse("2026-11-22 00:00:00").unwrap());
        assert_eq!(
            decide(&Credential::Card(42), Some(&u), now()),
            Decision::Reject {
                reason: RejectReason::OutsideValidity,
                pin: Some("7".into())
            }
        );
    }
}
