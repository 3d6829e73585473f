//! push-agent: the device side of the PUSH protocols for attendance and access-control terminals.

pub mod access;
pub mod clock;
pub mod config;
pub mod logging;
pub mod protocol;
pub mod server;
pub mod store;
pub mod transport;
