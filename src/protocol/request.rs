//! Builders for every request of the attendance dialect [spec §3 E1–E9].

use super::http::{HttpRequest, encode_query_value as enc};
use super::version::PushVersion;

/// Who we are, as the init exchange tells the server [000 §5].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub serial: String,
    pub push_version: PushVersion,
    /// `att`, `pid` or `ins` [000 §5, V4.3].
    pub device_type: String,
    /// App 2 language code (69 English, 83 Simplified Chinese, …).
    pub language: u16,
    /// The factory-written binding key; a secret, sent only when configured.
    pub comm_key: Option<String>,
}

/// `GET /iclock/cdata?SN=…&options=all&pushver=…&DeviceType=…&language=…[&pushcommkey=…]` (E1).
pub fn init(id: &DeviceIdentity) -> HttpRequest {
    let mut target = format!(
        "/iclock/cdata?SN={}&options=all&pushver={}&DeviceType={}&language={}",
        enc(&id.serial),
        id.push_version,
        enc(&id.device_type),
        id.language
    );
    if let Some(key) = &id.comm_key {
        target.push_str(&format!("&pushcommkey={}", enc(key)));
    }
    HttpRequest::get(target)
}

/// The ten values of `INFO=` [000 §9; spec E5].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub firmware: String,
    pub users: u64,
    pub fingerprints: u64,
    pub attendance_records: u64,
    pub ip: String,
    pub fingerprint_algorithm: String,
    pub face_algorithm: String,
    pub face_templates_per_user: u32,
    pub faces: u64,
    /// One 0/1 digit per function: fingerprint, face, user photo [001 §10].
    pub functions: String,
}

impl DeviceInfo {
    fn encode(&self) -> String {
        [
            enc(&self.firmware),
            self.users.to_string(),
            self.fingerprints.to_string(),
            self.attendance_records.to_string(),
            enc(&self.ip),
            enc(&self.fingerprint_algorithm),
            enc(&self.face_algorithm),
            self.face_templates_per_user.to_string(),
            self.faces.to_string(),
            enc(&self.functions),
        ]
        .join(",")
    }
}

/// `GET /iclock/getrequest?SN=…[&INFO=…]` (E5/E6).
pub fn getrequest(serial: &str, info: Option<&DeviceInfo>) -> HttpRequest {
    let mut target = format!("/iclock/getrequest?SN={}", enc(serial));
    if let Some(info) = info {
        target.push_str("&INFO=");
        target.push_str(&info.encode());
    }
    HttpRequest::get(target)
}

/// `POST /iclock/devicecmd?SN=…` with reply records joined by LF (E8).
pub fn devicecmd<S: AsRef<str>>(serial: &str, replies: &[S]) -> HttpRequest {
    let body = replies
        .iter()
        .map(|r| r.as_ref())
        .collect::<Vec<_>>()
        .join("\n");
    HttpRequest::post(
        format!("/iclock/devicecmd?SN={}", enc(serial)),
        body.into_bytes(),
    )
}

/// `POST /iclock/cdata?SN=…&table=…&Stamp=…` with an LF-terminated record body (E9).
pub fn upload(serial: &str, table: &str, stamp: u64, body: Vec<u8>) -> HttpRequest {
    HttpRequest::post(
        format!(
            "/iclock/cdata?SN={}&table={}&Stamp={stamp}",
            enc(serial),
            enc(table)
        ),
        body,
    )
}

/// A `k=v` pair that would break a comma-joined list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommaPairError {
    /// A value holds a comma, CR or LF; the pair's key is given.
    #[error("the value of {0} has a comma, CR or LF")]
    BadValue(String),
    /// A key is empty or holds `=`, a comma, CR or LF.
    #[error("key {0:?} is empty or has '=', a comma, CR or LF")]
    BadKey(String),
}

/// One line of `k=v` pairs joined by commas, the body of every options upload (E4; security
/// dialect registry capabilities and `querydata` options answer). Unchecked: for pairs that are
/// ours alone, as in [`push_options`]; anything else goes through [`checked_comma_pairs`].
pub(crate) fn comma_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", k.as_ref(), v.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// [`comma_pairs`], refusing the first pair that would break the list: a key that is empty or
/// holds `=`, `,`, CR or LF, or a value that holds `,`, CR or LF [security note §2.7, AMB-44].
pub(crate) fn checked_comma_pairs<K: AsRef<str>, V: AsRef<str>>(
    pairs: &[(K, V)],
) -> Result<String, CommaPairError> {
    for (key, value) in pairs {
        let (key, value) = (key.as_ref(), value.as_ref());
        if key.is_empty() || key.contains(['=', ',', '\r', '\n']) {
            return Err(CommaPairError::BadKey(key.to_owned()));
        }
        if value.contains([',', '\r', '\n']) {
            return Err(CommaPairError::BadValue(key.to_owned()));
        }
    }
    Ok(comma_pairs(pairs))
}

/// `POST /iclock/cdata?SN=…&table=options` with one line of `k=v` pairs joined by commas (E4).
pub fn push_options(serial: &str, pairs: &[(String, String)]) -> HttpRequest {
    HttpRequest::post(
        format!("/iclock/cdata?SN={}&table=options", enc(serial)),
        comma_pairs(pairs).into_bytes(),
    )
}

/// `GET /iclock/ping?SN=…` (E7).
pub fn ping(serial: &str) -> HttpRequest {
    HttpRequest::get(format!("/iclock/ping?SN={}", enc(serial)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_the_comm_key_only_when_configured() {
        let mut id = DeviceIdentity {
            serial: "S1".into(),
            push_version: PushVersion::new(2, 4, 1),
            device_type: "att".into(),
            language: 69,
            comm_key: None,
        };
        assert_eq!(
            init(&id).target,
            "/iclock/cdata?SN=S1&options=all&pushver=2.4.1&DeviceType=att&language=69"
        );
        id.comm_key = Some("k1".into());
        assert!(init(&id).target.ends_with("&language=69&pushcommkey=k1"));
    }

    #[test]
    fn checks_comma_pairs_before_joining_them() {
        let pairs = [("A", "1"), ("~B", "x y:z")];
        assert_eq!(comma_pairs(&pairs), "A=1,~B=x y:z");
        assert_eq!(checked_comma_pairs(&pairs), Ok(comma_pairs(&pairs)));
        for key in ["", "A=B", "A,B", "A\r", "A\n"] {
            assert_eq!(
                checked_comma_pairs(&[(key, "1")]),
                Err(CommaPairError::BadKey(key.into()))
            );
        }
        for value in ["2,0", "a\nb", "a\r"] {
            assert_eq!(
                checked_comma_pairs(&[("A", "1"), ("K", value)]),
                Err(CommaPairError::BadValue("K".into()))
            );
        }
    }

    #[test]
    fn joins_replies_with_lf() {
        let r = devicecmd("S", &["ID=1&Return=0&CMD=DATA", "ID=2&Return=0&CMD=DATA"]);
        assert_eq!(r.body, b"ID=1&Return=0&CMD=DATA\nID=2&Return=0&CMD=DATA");
    }
}
