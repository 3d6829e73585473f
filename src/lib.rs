//! push-agent: the device side of the PUSH protocols for attendance and access-control terminals.

pub mod protocol;
