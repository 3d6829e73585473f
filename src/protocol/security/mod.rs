//! The Security PUSH 3.1.2 dialect (access control), sans I/O [note: `shared/spec/security-push.md`,
//! seed 003]. Section numbers in this module's docs are the note's unless written "seed 003 §…".
//!
//! This is the pure layer the session engine builds on: request builders, record encoders and
//! server-answer parsers. Nothing here reads the clock, touches a socket or spawns a thread.

pub mod bitmaps;
pub mod capabilities;
pub mod control;
pub mod reply;
pub mod requests;
pub mod rtlog;
pub mod rtstate;
pub mod tables;
pub mod token;
