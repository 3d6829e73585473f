//! Which PUSH dialect the device speaks: the attendance protocol (seed 000) or the Security PUSH
//! access-control protocol (seed 003). Chosen by `device.dialect` in agent.toml; the protocol
//! layer takes it as a parameter where the two differ (command keywords and reply names).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Attendance PUSH (`attendance` in agent.toml).
    Attendance,
    /// Security PUSH 3.1.2, access control (`security` in agent.toml).
    Security,
}
