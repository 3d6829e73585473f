//! Builders for the device's requests of the Security PUSH dialect [note §3.0]. The transport adds
//! `Host` and `Content-Length`; the session engine will hand the token ([`super::token::Token`]) to
//! the transport's cookie jar, which sends it as `Cookie: token=…`.
//!
//! `devicecmd` (E11, note §3.3) and `ping` (E8, the keep-alive during long uploads, note §2.14,
//! AMB-2) are the attendance dialect's builders, re-exported: the bytes are the same.

use super::capabilities::{Capabilities, CapabilityError};
use super::rtlog::{RtLog, RtLogError};
use super::rtstate::{self, DoorState, RelayPolarity, TooManyDoors};
use crate::protocol::civil::LocalDateTime;
use crate::protocol::command::CmdId;
use crate::protocol::http::{HttpRequest, encode_query_value as enc};
use crate::protocol::request::{CommaPairError, checked_comma_pairs};
use crate::protocol::version::PushVersion;

pub use crate::protocol::request::{devicecmd, ping};

/// `GET /iclock/cdata?SN=…&options=all&pushver=…[&key=value…]` (E1) [note §2.2]; `extra` are the
/// optional pairs the device is configured to send, such as `DeviceType`.
pub fn init(serial: &str, pushver: PushVersion, extra: &[(String, String)]) -> HttpRequest {
    let mut target = format!(
        "/iclock/cdata?SN={}&options=all&pushver={pushver}",
        enc(serial)
    );
    for (key, value) in extra {
        target.push_str(&format!("&{}={}", enc(key), enc(value)));
    }
    HttpRequest::get(target)
}

/// `POST /iclock/registry?SN=…` with the capability list (E4) [note §2.4, §2.7].
pub fn registry(serial: &str, caps: &Capabilities) -> Result<HttpRequest, CapabilityError> {
    Ok(HttpRequest::post(
        format!("/iclock/registry?SN={}", enc(serial)),
        caps.encode()?.into_bytes(),
    ))
}

/// `POST /iclock/push?SN=…` with an empty body (E5) [note §2.5, AMB-1].
pub fn push(serial: &str) -> HttpRequest {
    HttpRequest::post(format!("/iclock/push?SN={}", enc(serial)), Vec::new())
}

/// `GET /iclock/getrequest?SN=…` (E22) [note §4.1]: the attendance request without `INFO`.
pub fn getrequest(serial: &str) -> HttpRequest {
    crate::protocol::request::getrequest(serial, None)
}

/// `POST /iclock/cdata?SN=…&table=rtlog` with one event record (E9) [note §3.1, AMB-33].
pub fn rtlog(serial: &str, log: &RtLog) -> Result<HttpRequest, RtLogError> {
    Ok(rtlog_line(serial, &log.encode()?))
}

/// [`rtlog`] for a record already encoded (as the store keeps it).
pub fn rtlog_line(serial: &str, line: &str) -> HttpRequest {
    HttpRequest::post(
        format!("/iclock/cdata?SN={}&table=rtlog", enc(serial)),
        line.as_bytes().to_vec(),
    )
}

/// `POST /iclock/cdata?SN=…&table=rtstate` with the state of doors 1..=n (E10) [note §3.2]; see
/// [`rtstate::encode`].
pub fn rtstate(
    serial: &str,
    time: &LocalDateTime,
    doors: &[DoorState],
    polarity: RelayPolarity,
) -> Result<HttpRequest, TooManyDoors> {
    Ok(HttpRequest::post(
        format!("/iclock/cdata?SN={}&table=rtstate", enc(serial)),
        rtstate::encode(time, doors, polarity)?.into_bytes(),
    ))
}

/// `GET /iclock/rtdata?SN=…&type=time` (E32), the time fetch after `SET OPTIONS DateTime`
/// [note §3.9].
pub fn rtdata_time(serial: &str) -> HttpRequest {
    HttpRequest::get(format!("/iclock/rtdata?SN={}&type=time", enc(serial)))
}

/// The target of every `querydata` answer [note §5.1]:
/// `/iclock/querydata?SN=…&type=…&cmdid=…&tablename=…&count=…&packcnt=…&packidx=…`.
fn querydata_target(
    serial: &str,
    kind: &str,
    cmd_id: &CmdId,
    table: &str,
    count: usize,
    packcnt: usize,
    packidx: usize,
) -> String {
    format!(
        "/iclock/querydata?SN={}&type={kind}&cmdid={}&tablename={}&count={count}&packcnt={packcnt}&packidx={packidx}",
        enc(serial),
        enc(cmd_id.as_str()),
        enc(table)
    )
}

/// `POST /iclock/querydata?SN=…&type=count&cmdid=…&tablename=…&count=1&packcnt=1&packidx=1` with
/// body `<table>=<n>`, the answer to `DATA COUNT` (E23) [note §5.1].
pub fn querydata_count(serial: &str, cmd_id: &CmdId, table: &str, rows: u64) -> HttpRequest {
    HttpRequest::post(
        querydata_target(serial, "count", cmd_id, table, 1, 1, 1),
        format!("{table}={rows}").into_bytes(),
    )
}

/// `POST /iclock/querydata?SN=…&type=options&cmdid=…&tablename=options&count=1&packcnt=1&packidx=1`
/// with `name=value` pairs joined by commas, the answer to `GET OPTIONS` (E33) [note §6.6, C45]; a
/// pair that would break the list is refused, as in the registry capabilities.
pub fn querydata_options(
    serial: &str,
    cmd_id: &CmdId,
    pairs: &[(String, String)],
) -> Result<HttpRequest, CommaPairError> {
    Ok(HttpRequest::post(
        querydata_target(serial, "options", cmd_id, "options", 1, 1, 1),
        checked_comma_pairs(pairs)?.into_bytes(),
    ))
}

/// Where a `DATA QUERY` package stands in the answer: `packidx` of `packcnt`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackagePosition {
    pub index: usize,
    pub count: usize,
}

/// One package of the answer to `DATA QUERY` (E24) [note §5.1, §8.3, C27]: the already encoded
/// `records` (each in its table's upload format) joined by LF [note §1.3], as
/// `POST /iclock/querydata?SN=…&type=tabledata&cmdid=…&tablename=…&count=<rows in package>&packcnt=<packages>&packidx=<1-based>`.
/// The caller reads the rows a package at a time and keeps the package under the advertised
/// `MaxPackageSize`.
pub fn querydata_tabledata<S: AsRef<str>>(
    serial: &str,
    cmd_id: &CmdId,
    table: &str,
    records: &[S],
    at: PackagePosition,
) -> HttpRequest {
    let body: Vec<&str> = records.iter().map(AsRef::as_ref).collect();
    HttpRequest::post(
        querydata_target(
            serial,
            "tabledata",
            cmd_id,
            table,
            records.len(),
            at.count,
            at.index,
        ),
        body.join("\n").into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::http::Method;
    use crate::protocol::security::capabilities::tests::{SEED_BODY, seed_example};
    use crate::protocol::security::rtlog;
    use crate::protocol::security::rtstate::{AlarmFlags, SensorState};

    const SN: &str = "3383154200002";

    fn id(text: &str) -> CmdId {
        CmdId::parse(text).unwrap()
    }

    /// The request line, headers and body as the transport writes them.
    fn wire(req: &HttpRequest) -> String {
        String::from_utf8(req.to_wire("192.168.213.17:8088")).unwrap()
    }

    #[test]
    fn builds_the_init_request() {
        let req = init(SN, PushVersion::new(3, 1, 2), &[]);
        assert_eq!(req.method, Method::Get);
        assert_eq!(
            req.target,
            "/iclock/cdata?SN=3383154200002&options=all&pushver=3.1.2"
        );
        let extra = [("DeviceType".to_owned(), "acc".to_owned())];
        assert_eq!(
            init("A B", PushVersion::new(3, 1, 2), &extra).target,
            "/iclock/cdata?SN=A%20B&options=all&pushver=3.1.2&DeviceType=acc"
        );
    }

    #[test]
    fn builds_the_seed_registry_request() {
        let req = registry(SN, &seed_example()).unwrap();
        let wire = wire(&req);
        assert!(wire.starts_with("POST /iclock/registry?SN=3383154200002 HTTP/1.1\r\n"));
        assert!(wire.contains("\r\nContent-Length: 1266\r\n\r\n"));
        assert!(wire.ends_with(SEED_BODY));
        let mut bad = seed_example();
        bad.device_type = "a,b".into();
        assert!(registry(SN, &bad).is_err());
    }

    #[test]
    fn builds_the_seed_push_request_with_an_empty_body() {
        let wire = wire(&push(SN));
        assert!(wire.starts_with("POST /iclock/push?SN=3383154200002 HTTP/1.1\r\n"));
        assert!(wire.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn builds_the_seed_get_requests() {
        for (req, line) in [
            (
                getrequest(SN),
                "GET /iclock/getrequest?SN=3383154200002 HTTP/1.1\r\n",
            ),
            (ping(SN), "GET /iclock/ping?SN=3383154200002 HTTP/1.1\r\n"),
            (
                rtdata_time(SN),
                "GET /iclock/rtdata?SN=3383154200002&type=time HTTP/1.1\r\n",
            ),
        ] {
            let wire = wire(&req);
            assert!(wire.starts_with(line), "{wire}");
            assert!(wire.ends_with("\r\n\r\n") && !wire.contains("Content-Length"));
        }
    }

    #[test]
    fn builds_devicecmd_with_lf_joined_results() {
        let req = devicecmd(
            SN,
            &[
                "ID=288&Return=0&CMD=DATA COUNT",
                "ID=415&Return=3&CMD=DATA QUERY",
            ],
        );
        assert_eq!(req.target, "/iclock/devicecmd?SN=3383154200002");
        assert_eq!(
            req.body,
            b"ID=288&Return=0&CMD=DATA COUNT\nID=415&Return=3&CMD=DATA QUERY"
        );
    }

    #[test]
    fn builds_rtlog_and_rtstate_uploads() {
        let time = LocalDateTime::new(2017, 1, 10, 15, 42, 40).unwrap();
        let log = RtLog {
            time,
            ..rtlog::tests::seed_example()
        };
        let req = rtlog(SN, &log).unwrap();
        assert_eq!(req.target, "/iclock/cdata?SN=3383154200002&table=rtlog");
        assert_eq!(req.body, log.encode().unwrap().into_bytes());
        let bad = RtLog {
            pin: "\n".into(),
            ..log
        };
        assert!(rtlog(SN, &bad).is_err());

        let door = DoorState {
            sensor: SensorState::NoSensor,
            relay_energised: false,
            alarms: AlarmFlags::TAMPER,
        };
        let req = rtstate(SN, &time, &[door], RelayPolarity::SetWhenEnergised).unwrap();
        let wire = wire(&req);
        assert!(wire.starts_with("POST /iclock/cdata?SN=3383154200002&table=rtstate HTTP/1.1\r\n"));
        assert!(wire.ends_with(
            "\r\n\r\ntime=2017-01-10 15:42:40\tsensor=00\trelay=00\talarm=0200000000000000"
        ));
        assert!(rtstate(SN, &time, &[door; 9], RelayPolarity::SetWhenEnergised).is_err());
    }

    #[test]
    fn builds_the_seed_count_answer() {
        let wire = wire(&querydata_count(SN, &id("288"), "user", 5));
        assert!(wire.starts_with(
            "POST /iclock/querydata?SN=3383154200002&type=count&cmdid=288&tablename=user\
             &count=1&packcnt=1&packidx=1 HTTP/1.1\r\n"
        ));
        assert!(wire.ends_with("Content-Length: 6\r\n\r\nuser=5"));
    }

    #[test]
    fn builds_the_options_answer() {
        let pairs = [
            ("~SerialNumber".to_owned(), SN.to_owned()),
            ("LockCount".to_owned(), "1".to_owned()),
        ];
        let req = querydata_options(SN, &id("408"), &pairs).unwrap();
        assert_eq!(
            req.target,
            "/iclock/querydata?SN=3383154200002&type=options&cmdid=408&tablename=options\
             &count=1&packcnt=1&packidx=1"
        );
        assert_eq!(req.body, b"~SerialNumber=3383154200002,LockCount=1");
        let bad = [("WGRuleVer".to_owned(), "2,0".to_owned())];
        assert_eq!(
            querydata_options(SN, &id("408"), &bad),
            Err(CommaPairError::BadValue("WGRuleVer".into()))
        );
    }

    #[test]
    fn answers_the_seed_user_query_in_one_package() {
        let records = [
            "user uid=1\tcardno=\tpin=1\tpassword=\tgroup=1\tstarttime=0\tendtime=0\tname=\tprivilege=0\tdisable=0\tverify=0",
            "user uid=2\tcardno=\tpin=2\tpassword=1\tgroup=1\tstarttime=0\tendtime=0\tname=\tprivilege=0\tdisable=0\tverify=0",
            "user uid=3\tcardno=\tpin=3\tpassword=\tgroup=1\tstarttime=0\tendtime=0\tname=\tprivilege=0\tdisable=0\tverify=0",
        ];
        let first = PackagePosition { index: 1, count: 1 };
        let req = querydata_tabledata(SN, &id("415"), "user", &records, first);
        assert_eq!(
            req.target,
            "/iclock/querydata?SN=3383154200002&type=tabledata&cmdid=415&tablename=user\
             &count=3&packcnt=1&packidx=1"
        );
        assert_eq!(req.body, records.join("\n").into_bytes());
        let third = PackagePosition { index: 3, count: 4 };
        let req = querydata_tabledata(SN, &id("7"), "transaction", &records[..1], third);
        assert_eq!(req.query_param("count").as_deref(), Some("1"));
        assert_eq!(req.query_param("packcnt").as_deref(), Some("4"));
        assert_eq!(req.query_param("packidx").as_deref(), Some("3"));
    }
}
