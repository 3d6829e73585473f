//! The PUSH protocol, sans I/O: it parses and builds bytes and runs the session state machine with
//! `now` passed in. It never touches sockets, files, threads or the clock.

pub mod civil;
pub mod command;
pub mod dialect;
pub mod fields;
pub mod http;
pub mod options;
pub mod record;
pub mod reply;
pub mod request;
pub mod security;
pub mod session;
pub mod user;
pub mod version;
