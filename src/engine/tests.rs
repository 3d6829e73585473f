//! The engine against an in-memory server, on a manual clock: no sockets, no sleeping.

use super::*;
use crate::clock::ManualClock;
use crate::protocol::civil::{LocalDateTime, format_http_date};
use crate::protocol::http::TransportError;
use crate::protocol::options::UtcOffset;
use crate::protocol::record::AttLog;
use crate::protocol::security::rtlog::{InOutStatus, VerifyType};
use crate::store::NewRecord;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

const SN: &str = "ENG0001";
/// 2026-11-23 08:00:00 UTC.
const T0_MS: i64 = 1_795_420_800_000;

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The request never reaches the server.
    Drop,
    /// The server handles the request but its answer is lost.
    DropAfterProcessing,
}

#[derive(Default)]
struct FakeServer {
    options: Vec<(String, String)>,
    stamps: BTreeMap<String, String>,
    commands: VecDeque<String>,
    /// (table, stamp, lines) per upload.
    uploads: Vec<(String, String, Vec<String>)>,
    replies: Vec<String>,
    /// `METHOD path?query` of every request that reached the server.
    requests: Vec<String>,
    /// Faults for the next requests, in order (`None`: answer normally).
    faults: VecDeque<Option<Fault>>,
    date_offset_ms: Option<i64>,
    /// Security dialect: answers the handshake (registered) and `querydata`.
    security: bool,
    /// `querydata` packages: the request target and the body lines.
    querydata: Vec<(String, Vec<String>)>,
    /// The first request whose target contains this is handled, but its answer is lost.
    lose_answer_to: Option<String>,
}

impl FakeServer {
    fn lines(&self, table: &str) -> Vec<String> {
        self.uploads
            .iter()
            .filter(|(t, s, _)| t == table && s != "0")
            .flat_map(|(_, _, l)| l.clone())
            .collect()
    }

    fn respond(&mut self, req: &HttpRequest, now_ms: i64) -> HttpResponse {
        self.requests
            .push(format!("{} {}", req.method.as_str(), req.target));
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let text = match req.path() {
            "/iclock/cdata" if self.security && req.query_param("options").is_some() => {
                "registry=ok\nRegistryCode=Uy47fxftP3\nSessionID=30BFB04B\nPushProtVer=3.1.2\n"
                    .to_owned()
            }
            "/iclock/push" => "RequestDelay=10\nErrorDelay=30\nRealtime=1\n".to_owned(),
            "/iclock/querydata" => {
                let lines: Vec<String> = body.lines().map(str::to_owned).collect();
                let table = req.query_param("tablename").unwrap_or_default();
                let answer = format!("{table}={}", lines.len());
                self.querydata.push((req.target.clone(), lines));
                answer
            }
            "/iclock/cdata" if req.query_param("options").is_some() => {
                let mut block = format!("GET OPTION FROM: {SN}\n");
                for (table, stamp) in &self.stamps {
                    block.push_str(&format!("{table}Stamp={stamp}\n"));
                }
                for (k, v) in &self.options {
                    block.push_str(&format!("{k}={v}\n"));
                }
                block
            }
            "/iclock/cdata" => {
                let table = req.query_param("table").unwrap_or_default();
                let stamp = req.query_param("Stamp").unwrap_or_default();
                let lines: Vec<String> = body.lines().map(str::to_owned).collect();
                let n = lines.len();
                if stamp != "0" {
                    self.stamps.insert(table.clone(), stamp.clone());
                }
                self.uploads.push((table, stamp, lines));
                format!("OK: {n}")
            }
            "/iclock/getrequest" => {
                if self.commands.is_empty() {
                    "OK".to_owned()
                } else {
                    self.commands.drain(..).collect::<Vec<_>>().join("\n") + "\n"
                }
            }
            "/iclock/devicecmd" => {
                self.replies.push(body);
                "OK".to_owned()
            }
            _ => "OK".to_owned(),
        };
        let mut resp = HttpResponse::new(200, text);
        if let Some(offset) = self.date_offset_ms {
            resp = resp.with_header("Date", &format_http_date((now_ms + offset) / 1000));
        }
        resp
    }
}

struct FakeTransport {
    server: Arc<Mutex<FakeServer>>,
    clock: Arc<ManualClock>,
}

impl Transport for FakeTransport {
    fn exchange(&mut self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let now_ms = crate::clock::TimeSource::raw_now(&self.clock).utc_ms;
        let mut server = self.server.lock().unwrap();
        let lose =
            (server.lose_answer_to.as_ref()).is_some_and(|t| req.target.contains(t.as_str()));
        if lose {
            server.lose_answer_to = None;
            server.respond(req, now_ms);
            return Err(TransportError::Io("connection reset".into()));
        }
        match server.faults.pop_front().flatten() {
            Some(Fault::Drop) => Err(TransportError::Io("connection reset".into())),
            Some(Fault::DropAfterProcessing) => {
                server.respond(req, now_ms);
                Err(TransportError::Io("connection reset".into()))
            }
            None => Ok(server.respond(req, now_ms)),
        }
    }

    fn local_ip(&mut self) -> Option<std::net::IpAddr> {
        None
    }
    fn set_session_token(&mut self, _token: Option<&str>) {}
}

struct Rig {
    clock: Arc<ManualClock>,
    device_clock: Arc<DeviceClock>,
    server: Arc<Mutex<FakeServer>>,
    engine: Engine,
    cfg: EngineConfig,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn config(batching: ReplyBatching) -> EngineConfig {
    EngineConfig {
        session: SessionConfig::for_tests(SN),
        reply_batching: batching,
        max_replies_per_request: 20,
        batch_records: 2,
        batch_bytes: 64 * 1024,
        ip: Some("10.0.0.5".into()),
        capabilities: None,
        relay_polarity: crate::protocol::security::rtstate::RelayPolarity::SetWhenEnergised,
        door_count: 0,
    }
}

/// A two-door access controller (security dialect) that registers with the seed's capabilities.
fn security_config() -> EngineConfig {
    let mut cfg = config(ReplyBatching::OnePerRequest);
    cfg.session.dialect = Dialect::Security;
    cfg.capabilities = Some(Capabilities {
        lock_count: 2,
        ..crate::protocol::security::capabilities::tests::seed_example()
    });
    cfg.door_count = 2;
    cfg
}

/// Two closed doors whose state never changes; door commands are dropped.
struct ClosedDoors;

impl DoorLink for ClosedDoors {
    fn door_states(&self) -> (u64, Vec<DoorState>) {
        let closed = DoorState {
            sensor: crate::protocol::security::rtstate::SensorState::Closed,
            relay_energised: false,
            alarms: crate::protocol::security::rtstate::AlarmFlags::NONE,
        };
        (0, vec![closed; 2])
    }

    fn apply(&self, _commands: &[RemoteCommand], _reload: bool) {}
}

impl Rig {
    fn new(batching: ReplyBatching) -> Rig {
        Rig::start(
            config(batching),
            FakeServer {
                options: vec![
                    ("Delay".into(), "10".into()),
                    ("ErrorDelay".into(), "30".into()),
                    ("Realtime".into(), "1".into()),
                    ("TransFlag".into(), "TransData AttLog\tOpLog".into()),
                ],
                ..FakeServer::default()
            },
        )
    }

    fn security() -> Rig {
        Rig::start(
            security_config(),
            FakeServer {
                security: true,
                ..FakeServer::default()
            },
        )
    }

    fn start(cfg: EngineConfig, server: FakeServer) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        let clock = Arc::new(ManualClock::new(Now {
            mono: Mono(0),
            utc_ms: T0_MS,
        }));
        let device_clock = Arc::new(DeviceClock::new(Box::new(clock.clone()), 0, UtcOffset(0)));
        let server = Arc::new(Mutex::new(server));
        let engine = Rig::engine(&path, &cfg, &server, &clock, &device_clock);
        Rig {
            clock,
            device_clock,
            server,
            engine,
            cfg,
            path,
            _dir: dir,
        }
    }

    fn engine(
        path: &std::path::Path,
        cfg: &EngineConfig,
        server: &Arc<Mutex<FakeServer>>,
        clock: &Arc<ManualClock>,
        device_clock: &Arc<DeviceClock>,
    ) -> Engine {
        let transport = FakeTransport {
            server: server.clone(),
            clock: clock.clone(),
        };
        let mut engine = Engine::new(
            cfg.clone(),
            Store::open(path).unwrap(),
            Box::new(transport),
            device_clock.clone(),
        )
        .unwrap();
        if cfg.session.dialect == Dialect::Security {
            engine.set_doors(Box::new(ClosedDoors));
        }
        engine
    }

    /// A restart: a new engine (and session) on the same store file.
    fn restart(&mut self) {
        self.engine = Rig::engine(
            &self.path,
            &self.cfg,
            &self.server,
            &self.clock,
            &self.device_clock,
        );
    }

    /// Ticks until the engine has nothing to do; returns what it said last.
    fn settle(&mut self) -> Tick {
        for _ in 0..500 {
            match self.engine.tick() {
                Tick::Worked => {}
                other => return other,
            }
        }
        panic!("engine never went idle");
    }

    /// Lets `secs` of time pass, working whenever the engine wants to.
    fn run_for(&mut self, secs: u64) {
        let end = self.clock.raw_now().mono.plus_secs(secs);
        for _ in 0..10_000 {
            match self.settle() {
                Tick::Idle { until: Some(at) } if at <= end => self.clock.advance_to(at),
                _ => {
                    self.clock.advance_to(end);
                    self.settle();
                    return;
                }
            }
        }
        panic!("too many wake-ups");
    }

    fn swipe(&mut self, pin: &str, second: u8) {
        let log = AttLog {
            pin: pin.into(),
            time: LocalDateTime::new(2026, 11, 23, 8, 0, second).unwrap(),
            status: 0,
            verify: 4,
            workcode: String::new(),
            health: None,
        };
        self.engine
            .store()
            .write(|tx| tx.append_record(&NewRecord::attendance(&log, None)))
            .unwrap();
    }

    fn server(&self) -> std::sync::MutexGuard<'_, FakeServer> {
        self.server.lock().unwrap()
    }

    /// Security dialect: `n` access events (card `1000 + i` at 08:00:00 + i s); their ids.
    fn events(&mut self, n: u32) -> Vec<i64> {
        self.engine
            .store()
            .write(|tx| {
                (0..n)
                    .map(|i| {
                        let log = RtLog {
                            time: LocalDateTime::from_unix(T0_MS / 1000 + i64::from(i), 0),
                            pin: "1".into(),
                            cardno: (1000 + i).to_string(),
                            sitecode: 0,
                            linkid: 0,
                            eventaddr: 1,
                            event: 0,
                            inoutstatus: InOutStatus::In,
                            verifytype: VerifyType::Code(4),
                            index: 0,
                        };
                        tx.append_rtlog(&log)
                    })
                    .collect()
            })
            .unwrap()
    }

    /// The requests that reached the server whose target starts with `prefix`.
    fn requests(&self, prefix: &str) -> Vec<String> {
        self.server()
            .requests
            .iter()
            .filter(|r| r.starts_with(prefix))
            .cloned()
            .collect()
    }
}

use crate::clock::TimeSource;

#[test]
fn uploads_in_bounded_batches_stamped_with_the_last_record_id() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    for s in 0..5 {
        rig.swipe("1", s);
    }
    rig.run_for(1);
    let server = rig.server();
    let batches: Vec<(String, usize)> = server
        .uploads
        .iter()
        .map(|(_, stamp, lines)| (stamp.clone(), lines.len()))
        .collect();
    assert_eq!(batches, [("2".into(), 2), ("4".into(), 2), ("5".into(), 1)]);
    assert_eq!(
        server.lines("ATTLOG")[0],
        "1\t2026-11-23 08:00:00\t0\t4\t0\t0\t0"
    );
}

#[test]
fn stamp_zero_after_check_uploads_the_table_once_more() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    for s in 0..3 {
        rig.swipe("1", s);
    }
    rig.run_for(1);
    assert_eq!(rig.server().lines("ATTLOG").len(), 3);
    {
        let mut server = rig.server();
        server.stamps.insert("ATTLOG".into(), "0".into());
        server.commands.push_back("C:1:CHECK".into());
    }
    rig.run_for(11);
    assert_eq!(rig.server().lines("ATTLOG").len(), 6);
    assert_eq!(rig.server().replies, ["ID=1&Return=0&CMD=CHECK"]);
    // The server keeps answering 0 until the new uploads overwrite it; a plain reconnect with
    // the same 0 does not start a third round.
    rig.server().stamps.insert("ATTLOG".into(), "0".into());
    rig.server().faults.push_back(Some(Fault::Drop));
    rig.run_for(60);
    assert_eq!(rig.server().lines("ATTLOG").len(), 6);
}

#[test]
fn a_lost_upload_reply_is_settled_by_the_echoed_stamp() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    rig.run_for(1);
    rig.swipe("1", 0);
    rig.swipe("2", 1);
    rig.server()
        .faults
        .push_back(Some(Fault::DropAfterProcessing));
    rig.run_for(1);
    assert_eq!(rig.server().uploads.len(), 1);
    assert!(!rig.engine.session().is_online());
    rig.run_for(31);
    let mut lines = rig.server().lines("ATTLOG");
    lines.sort();
    lines.dedup();
    assert_eq!(rig.server().lines("ATTLOG").len(), 2);
    assert_eq!(lines.len(), 2);
    let state = rig
        .engine
        .store()
        .read(|tx| tx.upload_state(StampTable::AttLog))
        .unwrap();
    assert_eq!((state.acked_id, state.inflight), (2, None));
}

#[test]
fn after_a_restart_uploading_resumes_where_the_acknowledgements_left_it() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    for s in 0..3 {
        rig.swipe("1", s);
    }
    // init, poll and the first batch go through; the server takes the second batch but its
    // answer is lost, and the agent dies before it can reconnect.
    rig.server()
        .faults
        .extend([None, None, None, Some(Fault::DropAfterProcessing)]);
    for _ in 0..4 {
        assert_eq!(rig.engine.tick(), Tick::Worked);
    }
    assert_eq!(rig.server().uploads.len(), 2);
    let inflight = rig
        .engine
        .store()
        .read(|tx| tx.upload_state(StampTable::AttLog))
        .unwrap()
        .inflight;
    assert_eq!(inflight, Some((3, 3)));
    rig.swipe("1", 3);
    rig.restart();
    rig.run_for(60);
    let lines = rig.server().lines("ATTLOG");
    assert_eq!(lines.len(), 4, "{lines:?}");
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4);
}

#[test]
fn a_command_id_seen_twice_runs_once_and_gets_the_same_reply() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    rig.server()
        .commands
        .push_back("C:7:DATA UPDATE USERINFO PIN=1\tName=Ann".into());
    rig.run_for(1);
    rig.server()
        .commands
        .push_back("C:8:DATA DELETE USERINFO PIN=1".into());
    rig.run_for(10);
    rig.server()
        .commands
        .push_back("C:7:DATA UPDATE USERINFO PIN=1\tName=Ann".into());
    rig.run_for(10);
    assert_eq!(
        rig.server().replies,
        [
            "ID=7&Return=0&CMD=DATA",
            "ID=8&Return=0&CMD=DATA",
            "ID=7&Return=0&CMD=DATA"
        ]
    );
    assert_eq!(rig.engine.store().read(|tx| tx.count_users()).unwrap(), 0);
}

#[test]
fn reboot_last_in_a_batch_replies_first_then_restarts() {
    let mut rig = Rig::new(ReplyBatching::Batched);
    rig.server().commands.extend([
        "C:1:DATA UPDATE USERINFO PIN=1".to_owned(),
        "C:2:REBOOT".to_owned(),
        "C:3:DATA UPDATE USERINFO PIN=2".to_owned(),
    ]);
    assert_eq!(rig.settle(), Tick::Restart);
    assert_eq!(
        rig.server().replies,
        ["ID=1&Return=0&CMD=DATA\nID=2&Return=0&CMD=REBOOT"]
    );
    assert_eq!(rig.engine.store().read(|tx| tx.count_users()).unwrap(), 1);
    // After the restart the server sends what it still has; it runs now.
    rig.restart();
    rig.server()
        .commands
        .push_back("C:3:DATA UPDATE USERINFO PIN=2".into());
    rig.run_for(1);
    assert_eq!(rig.engine.store().read(|tx| tx.count_users()).unwrap(), 2);
}

#[test]
fn one_reply_per_request_by_default_and_info_always_alone() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    rig.server().commands.extend([
        "C:1:LOG".to_owned(),
        "C:2:INFO".to_owned(),
        "C:3:LOG".to_owned(),
    ]);
    rig.run_for(1);
    let replies = rig.server().replies.clone();
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0], "ID=1&Return=0&CMD=LOG");
    assert!(replies[1].starts_with("ID=2&Return=0&CMD=INFO\nDeviceName="));
    assert!(
        replies[1].contains("\nIPAddress=10.0.0.5\n"),
        "{}",
        replies[1]
    );
    assert_eq!(replies[2], "ID=3&Return=0&CMD=LOG");
}

#[test]
fn query_results_go_up_with_stamp_zero_before_the_reply() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    rig.swipe("1", 0);
    rig.swipe("2", 5);
    rig.run_for(1);
    rig.server().commands.push_back(
        "C:Q1:DATA QUERY ATTLOG StartTime=2026-11-23 08:00:03\tEndTime=2026-11-23 09:00:00".into(),
    );
    rig.run_for(10);
    let server = rig.server();
    let query: Vec<_> = server.uploads.iter().filter(|u| u.1 == "0").collect();
    assert_eq!(query.len(), 1);
    assert_eq!(query[0].2, ["2\t2026-11-23 08:00:05\t0\t4\t0\t0\t0"]);
    let upload_at = server
        .requests
        .iter()
        .position(|r| r.contains("Stamp=0"))
        .unwrap();
    let reply_at = server
        .requests
        .iter()
        .rposition(|r| r.starts_with("POST /iclock/devicecmd"))
        .unwrap();
    assert!(upload_at < reply_at);
    assert_eq!(server.replies, ["ID=Q1&Return=0&CMD=DATA"]);
}

#[test]
fn the_server_date_corrects_the_clock_and_the_correction_survives_a_restart() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    rig.server().date_offset_ms = Some(3_600_000);
    rig.run_for(1);
    let correction = rig.device_clock.correction_ms();
    assert!(
        (3_599_000..=3_601_000).contains(&correction),
        "{correction}"
    );
    rig.device_clock.adjust(-correction);
    rig.restart();
    assert_eq!(rig.device_clock.correction_ms(), correction);
}

#[test]
fn set_option_delay_takes_effect_at_once() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    rig.server()
        .commands
        .push_back("C:1:SET OPTION Delay=60".into());
    rig.run_for(1);
    let polls_before = rig.server().requests.len();
    rig.run_for(59);
    let polls = rig
        .server()
        .requests
        .iter()
        .skip(polls_before)
        .filter(|r| r.contains("getrequest"))
        .count();
    assert_eq!(polls, 1);
}

#[test]
fn options_push_lists_what_the_server_asked_for_first() {
    let mut rig = Rig::new(ReplyBatching::OnePerRequest);
    rig.server().options.extend([
        ("PushOptionsFlag".into(), "1".into()),
        ("PushOptions".into(), "FaceFunOn,FingerFunOn".into()),
    ]);
    rig.run_for(1);
    let server = rig.server();
    assert!(
        server
            .requests
            .iter()
            .any(|r| r == "POST /iclock/cdata?SN=ENG0001&table=options")
    );
    let pushed = server.uploads.iter().find(|u| u.0 == "options").unwrap();
    assert!(
        pushed.2[0].starts_with(
            "FaceFunOn=0,FingerFunOn=0,UserPicURLFunOn=0,MultiBioDataSupport=0:0:0:0:0:0:0:0:0:0,"
        ),
        "{:?}",
        pushed.2
    );
}

// --- security dialect: COUNT, QUERY and GET OPTIONS answered through querydata ---

#[test]
fn one_package_answers_go_up_before_their_reply() {
    let mut rig = Rig::security();
    rig.engine
        .store()
        .write(|tx| {
            for pin in ["1", "2", "3"] {
                tx.upsert_user(&crate::protocol::user::User::new(pin))?;
            }
            Ok(())
        })
        .unwrap();
    // (command, querydata target, body, reply) [note §5.1, §6.6; seed 003 §9.1.3, §9.1.4, §9.5.2].
    let cases = [
        (
            "C:288:DATA COUNT user",
            "/iclock/querydata?SN=ENG0001&type=count&cmdid=288&tablename=user&count=1&packcnt=1&packidx=1",
            vec!["user=3".to_owned()],
            "ID=288&Return=0&CMD=DATA COUNT",
        ),
        (
            "C:408:GET OPTIONS ~SerialNumber,LockCount,Door1Drivertime,NoSuchOption",
            "/iclock/querydata?SN=ENG0001&type=options&cmdid=408&tablename=options&count=1&packcnt=1&packidx=1",
            vec!["~SerialNumber=ENG0001,LockCount=2,Door1Drivertime=5".to_owned()],
            "ID=408&Return=0&CMD=GET OPTIONS",
        ),
        (
            "C:415:DATA QUERY tablename=user,fielddesc=*,filter=*",
            "/iclock/querydata?SN=ENG0001&type=tabledata&cmdid=415&tablename=user&count=3&packcnt=1&packidx=1",
            (1..=3)
                .map(|n| {
                    format!(
                        "user uid={n}\tcardno=\tpin={n}\tpassword=\tgroup=1\tstarttime=0\t\
                         endtime=0\tname=\tprivilege=0\tdisable=0\tverify=0"
                    )
                })
                .collect(),
            "ID=415&Return=3&CMD=DATA QUERY",
        ),
    ];
    for (command, target, body, reply) in cases {
        rig.server().querydata.clear();
        rig.server().replies.clear();
        rig.server().commands.push_back(command.into());
        rig.run_for(10);
        let server = rig.server();
        assert_eq!(server.querydata, [(target.to_owned(), body)], "{command}");
        assert_eq!(server.replies, [reply], "{command}");
        let package_at = server
            .requests
            .iter()
            .rposition(|r| r.ends_with(target))
            .unwrap();
        let reply_at = server
            .requests
            .iter()
            .rposition(|r| r.starts_with("POST /iclock/devicecmd"))
            .unwrap();
        assert!(package_at < reply_at, "{command}");
    }
}

#[test]
fn a_large_query_goes_up_in_numbered_packages_then_replies() {
    let mut rig = Rig::security();
    let ids = rig.events(1_200);
    let last = *ids.last().unwrap();
    // The server has them all already: no rtlog upload competes with the query.
    rig.engine
        .store()
        .write(|tx| tx.ack_upload(StampTable::RtLog, last, ids.len(), false, 0))
        .unwrap();
    rig.server()
        .commands
        .push_back("C:417:DATA QUERY tablename=transaction,fielddesc=*,filter=*".into());
    for _ in 0..20 {
        if rig.engine.store().read(|tx| tx.has_query_job()).unwrap() {
            break;
        }
        rig.engine.tick();
    }
    // Events after the command are not part of its answer; they go up as rtlog.
    let later = rig.events(5);
    // The answer to the last package is lost: the reply must wait for it.
    rig.server().lose_answer_to = Some("packidx=3".into());
    rig.run_for(1);
    assert_eq!(rig.server().querydata.len(), 3);
    assert!(rig.server().replies.is_empty());
    rig.run_for(31);

    let server = rig.server();
    let packages: Vec<(String, usize)> = server
        .querydata
        .iter()
        .map(|(target, lines)| (target.clone(), lines.len()))
        .collect();
    let target = |count: usize, index: usize| {
        format!(
            "/iclock/querydata?SN=ENG0001&type=tabledata&cmdid=417&tablename=transaction\
             &count={count}&packcnt=3&packidx={index}"
        )
    };
    assert_eq!(
        packages,
        [
            (target(500, 1), 500),
            (target(500, 2), 500),
            (target(200, 3), 200),
            // Sent again after the lost answer.
            (target(200, 3), 200),
        ]
    );
    assert_eq!(
        server.querydata[0].1[0],
        format!(
            "transaction cardno=1000\tpin=1\tverified=4\tdoorid=1\teventtype=0\tinoutstate=0\t\
             time_second={}\tindex={}\tsitecode=0\tdevid=0",
            LocalDateTime::new(2026, 11, 23, 8, 0, 0)
                .unwrap()
                .to_zk_packed(),
            ids[0]
        )
    );
    let sent: Vec<i64> = server.querydata[..3]
        .iter()
        .flat_map(|(_, lines)| lines.iter())
        .map(|line| {
            let index = line.split('\t').find_map(|f| f.strip_prefix("index="));
            index.unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(sent, ids);
    assert_eq!(server.replies, ["ID=417&Return=1200&CMD=DATA QUERY"]);
    let last_package_at = server
        .requests
        .iter()
        .rposition(|r| r.contains("packidx=3"))
        .unwrap();
    let reply_at = server
        .requests
        .iter()
        .position(|r| r.starts_with("POST /iclock/devicecmd"))
        .unwrap();
    assert!(last_package_at < reply_at);
    drop(server);
    let rtlog: Vec<String> = rig.requests("POST /iclock/cdata?SN=ENG0001&table=rtlog");
    assert_eq!(rtlog.len(), later.len());
}

#[test]
fn records_a_new_record_query_delivered_are_not_uploaded_again() {
    let mut rig = Rig::security();
    let ids = rig.events(3);
    rig.server()
        .commands
        .push_back("C:416:DATA QUERY tablename=transaction,fielddesc=*,filter=NewRecord".into());
    rig.run_for(10);
    assert_eq!(
        rig.requests("POST /iclock/querydata"),
        [
            "POST /iclock/querydata?SN=ENG0001&type=tabledata&cmdid=416&tablename=transaction&count=3&packcnt=1&packidx=1"
        ]
    );
    assert_eq!(rig.server().replies, ["ID=416&Return=3&CMD=DATA QUERY"]);
    assert!(
        rig.requests("POST /iclock/cdata?SN=ENG0001&table=rtlog")
            .is_empty()
    );
    let state = rig
        .engine
        .store()
        .read(|tx| tx.upload_state(StampTable::RtLog))
        .unwrap();
    assert_eq!(state.acked_id, *ids.last().unwrap());
}

#[test]
fn a_windowed_transaction_chunk_stops_at_the_last_record_the_command_covered() {
    let mut store = Store::open_in_memory().unwrap();
    let log = |second: u32| RtLog {
        time: LocalDateTime::new(2026, 11, 23, 8, 0, second as u8).unwrap(),
        pin: "1".into(),
        cardno: second.to_string(),
        sitecode: 0,
        linkid: 0,
        eventaddr: 2,
        event: 0,
        inoutstatus: InOutStatus::Out,
        verifytype: VerifyType::Code(1),
        index: 0,
    };
    let ids: Vec<i64> = store
        .write(|tx| (0..10).map(|s| tx.append_rtlog(&log(s))).collect())
        .unwrap();
    let time = |second| Some(LocalDateTime::new(2026, 11, 23, 8, 0, second).unwrap());
    let job = QueryJob {
        cmd_id: "418".into(),
        target: QueryTarget::Transactions,
        pin: None,
        time_from: time(2),
        time_to: time(7),
        after_key: String::new(),
        uploaded: 0,
        payload: None,
        reply: Some("ID=418&Return=4&CMD=DATA QUERY".into()),
        total: 4,
        // Records 7 and 8 (seconds 6 and 7) came after the command.
        upto_id: Some(ids[5]),
    };
    let (lines, next) = store.read(|tx| query_chunk(tx, &job)).unwrap();
    let cards: Vec<&str> = lines
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        cards,
        [
            "transaction cardno=2",
            "transaction cardno=3",
            "transaction cardno=4",
            "transaction cardno=5"
        ]
    );
    assert_eq!(next, ids[5].to_string());
    let req = query_request(SN, &job, &lines).unwrap();
    assert_eq!(
        req.target,
        "/iclock/querydata?SN=ENG0001&type=tabledata&cmdid=418&tablename=transaction&count=4&packcnt=1&packidx=1"
    );
    assert!(String::from_utf8(req.body).unwrap().starts_with(
        "transaction cardno=2\tpin=1\tverified=1\tdoorid=2\teventtype=0\tinoutstate=1\t"
    ));
    // Past the last covered record, nothing is left.
    let done = QueryJob {
        after_key: next,
        uploaded: 4,
        ..job
    };
    assert!(
        store
            .read(|tx| query_chunk(tx, &done))
            .unwrap()
            .0
            .is_empty()
    );
}
