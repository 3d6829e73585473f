//! Which PUSH protocol the device speaks.

use serde::{Deserialize, Serialize};

/// `dialect` in agent.toml: attendance PUSH (seed 000) or Security PUSH (seed 003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    #[default]
    Attendance,
    Security,
}
