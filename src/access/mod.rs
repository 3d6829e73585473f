//! Local access decisions: pure code, no store, no clock.
//!
//! [`attendance`] decides for the attendance dialect; [`control`] decides at a door for the
//! security dialect, reading the access-control tables of [`model`] and the time rules of
//! [`timezone`].

pub mod attendance;
pub mod control;
pub mod model;
pub mod timezone;

pub use attendance::{Credential, Decision, RejectReason, decide};
