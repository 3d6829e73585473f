//! Command results sent with `POST /iclock/devicecmd` [000 §13; spec §4.2, App 1].

use super::command::CmdId;
use std::fmt;

/// A `Return=` value [000 App 1]. Commands never fail with an error; they end in one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReturnCode(pub i32);

impl ReturnCode {
    pub const SUCCESS: ReturnCode = ReturnCode(0);
    /// Parameter error; also the answer to a command that cannot be parsed [spec §4.1].
    pub const PARAMETER_ERROR: ReturnCode = ReturnCode(-1);
    pub const READ_WRITE_ERROR: ReturnCode = ReturnCode(-3);
    pub const USER_NOT_FOUND: ReturnCode = ReturnCode(-10);
    pub const CAPACITY_REACHED: ReturnCode = ReturnCode(-1001);
    /// Unknown command or table: not supported by the device.
    pub const NOT_SUPPORTED: ReturnCode = ReturnCode(-1002);
    pub const DATA_MISMATCH: ReturnCode = ReturnCode(-1004);
    pub const DATA_TOO_LONG: ReturnCode = ReturnCode(-1006);
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One command's result. `details` are extra `Key=Value` pairs: joined with `&` on the reply line
/// for VERIFY SUM, or on lines of their own after it for INFO (a multi-line reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: CmdId,
    pub code: ReturnCode,
    pub cmd: String,
    pub details: Vec<(String, String)>,
    pub multi_line: bool,
}

impl Reply {
    pub fn new(id: CmdId, code: ReturnCode, cmd: impl Into<String>) -> Self {
        Reply {
            id,
            code,
            cmd: cmd.into(),
            details: Vec::new(),
            multi_line: false,
        }
    }

    /// `ID=<id>&Return=<rc>&CMD=<name>`, then the details [000 §13, §12.3.3, §12.4.3].
    pub fn encode(&self) -> String {
        let mut out = format!("ID={}&Return={}&CMD={}", self.id, self.code, self.cmd);
        for (k, v) in &self.details {
            out.push(if self.multi_line { '\n' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> CmdId {
        CmdId::parse(s).unwrap()
    }

    #[test]
    fn encodes_the_plain_reply_form() {
        assert_eq!(
            Reply::new(id("info8487"), ReturnCode::SUCCESS, "DATA").encode(),
            "ID=info8487&Return=0&CMD=DATA"
        );
        assert_eq!(
            Reply::new(id("7"), ReturnCode::NOT_SUPPORTED, "SHELL").encode(),
            "ID=7&Return=-1002&CMD=SHELL"
        );
    }

    #[test]
    fn encodes_verify_sum_details_on_the_same_line() {
        let mut r = Reply::new(id("3"), ReturnCode::SUCCESS, "VERIFY SUM");
        r.details = vec![
            ("StartTime".into(), "2015-07-29 00:00:00".into()),
            ("EndTime".into(), "2015-07-29 23:59:59".into()),
            ("AttlogSum".into(), "12".into()),
        ];
        assert_eq!(
            r.encode(),
            "ID=3&Return=0&CMD=VERIFY SUM&StartTime=2015-07-29 00:00:00&EndTime=2015-07-29 23:59:59&AttlogSum=12"
        );
    }

    #[test]
    fn encodes_info_details_on_their_own_lines() {
        let mut r = Reply::new(id("9"), ReturnCode::SUCCESS, "INFO");
        r.multi_line = true;
        r.details = vec![
            ("UserCount".into(), "2".into()),
            ("FPCount".into(), "0".into()),
        ];
        assert_eq!(r.encode(), "ID=9&Return=0&CMD=INFO\nUserCount=2\nFPCount=0");
    }
}
