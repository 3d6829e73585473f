//! Local access decisions: pure code, no store, no clock.
//!
//! [`attendance`] decides for the attendance dialect; [`model`] holds the access-control tables
//! of the security dialect.

pub mod attendance;
pub mod model;

pub use attendance::{Credential, Decision, RejectReason, decide};
