//! Tests of the fake server over real loopback sockets with a tiny raw client.

use super::*;
use crate::clock::MonoStopwatch;
use crate::protocol::civil::{LocalDateTime, parse_http_date};
use crate::protocol::security::reply::ServerParams;
use crate::protocol::security::token::{Token, session_id_from_set_cookie};
use std::io::Read;

struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response; `None` when the server closed the connection without answering.
fn read_response(stream: &mut TcpStream) -> Option<Response> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8(buf).expect("utf-8 head");
    let status = head[9..12].parse().expect("status");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .parse()
        .expect("length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(Response {
        status,
        head,
        body: String::from_utf8(body).expect("utf-8 body"),
    })
}

fn connect(server: &PushServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
}

fn exchange(server: &PushServer, raw: &[u8]) -> Option<Response> {
    let mut stream = connect(server);
    stream.write_all(raw).expect("write");
    read_response(&mut stream)
}

fn get(server: &PushServer, target: &str) -> Option<Response> {
    exchange(
        server,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn post(server: &PushServer, target: &str, body: &str) -> Option<Response> {
    let raw = format!(
        "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(server, raw.as_bytes())
}

fn body_of(response: Option<Response>) -> String {
    let response = response.expect("a response");
    assert_eq!(response.status, 200, "{}", response.body);
    response.body
}

fn start(preset: Preset) -> PushServer {
    PushServer::start(ServerConfig::new(preset)).expect("server starts")
}

const HANDSHAKE: &str = "/iclock/cdata?SN=ABC123&options=all&pushver=2.4.1&language=69";

#[test]
fn standard_option_block_exact_bytes_and_headers() {
    let server = start(Preset::Standard);
    let response = get(&server, HANDSHAKE).expect("response");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body,
        "GET OPTION FROM: ABC123\nATTLOGStamp=None\nOPERLOGStamp=None\nATTPHOTOStamp=None\n\
         BIODATAStamp=None\nErrorDelay=30\nDelay=10\nTransTimes=00:00;14:05\nTransInterval=1\n\
         TransFlag=TransData AttLog\tOpLog\tAttPhoto\tEnrollUser\tChgUser\tEnrollFP\tChgFP\tUserPic\n\
         TimeZone=0\nRealtime=1\nEncrypt=None\nServerVer=2.4.1\nPushProtVer=2.4.1\n\
         PushOptionsFlag=1\n"
    );
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(response.header("Date").and_then(parse_http_date).is_some());
    assert!(server.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn set_option_changes_the_block() {
    let mut cfg = ServerConfig::new(Preset::Standard);
    cfg.options = vec![("Delay".into(), "2".into())];
    let server = PushServer::start(cfg).expect("start");
    server.set_option("PushOptions", "FingerFunOn,FaceFunOn");
    server.set_option("OPERLOGStamp", "9999");
    let body = body_of(get(&server, HANDSHAKE));
    assert!(body.contains("\nDelay=2\n"));
    assert!(body.ends_with("PushOptionsFlag=1\nPushOptions=FingerFunOn,FaceFunOn\n"));
    post(
        &server,
        "/iclock/cdata?SN=ABC123&table=OPERLOG&Stamp=7",
        "OPLOG 1",
    );
    assert!(body_of(get(&server, HANDSHAKE)).contains("\nOPERLOGStamp=9999\n"));
}

#[test]
fn other_presets_use_their_dialect() {
    let crlf = body_of(get(&start(Preset::Crlf), HANDSHAKE));
    assert!(crlf.starts_with("GET OPTION FROM: ABC123\r\nATTLOGStamp=0\r\n"));
    assert!(crlf.contains("\r\nTransFlag=1111000000\r\nTimeZone=+07:00\r\n"));
    assert!(crlf.ends_with("SyncTime=3600\r\n"));
    let s3 = body_of(get(&start(Preset::SingleResult), HANDSHAKE));
    assert!(s3.starts_with("GET OPTION FROM: ABC123\nATTLOGStamp=0\n"));
    assert!(s3.contains("\nTransFlag=TransData AttLog OpLog AttPhoto"));
    assert!(!s3.contains('\r') && !s3.ends_with('\n'));
}

#[test]
fn uploads_are_acked_per_preset_and_echo_their_stamp() {
    let server = start(Preset::Standard);
    let target = "/iclock/cdata?SN=ABC123&table=ATTLOG&Stamp=12";
    let body = "1\t2024-01-01 08:00:00\t0\t1\r\n\n2\t2024-01-01 08:01:00\t0\t1\n";
    assert_eq!(body_of(post(&server, target, body)), "OK: 2");
    assert_eq!(body_of(post(&server, target, "3\tx")), "OK: 1");
    assert!(body_of(get(&server, HANDSHAKE)).contains("\nATTLOGStamp=12\n"));
    assert_eq!(
        server.uploads("ATTLOG"),
        [
            "1\t2024-01-01 08:00:00\t0\t1",
            "2\t2024-01-01 08:01:00\t0\t1",
            "3\tx"
        ]
    );
    server.set_stamp("ATTLOG", "5");
    assert!(body_of(get(&server, HANDSHAKE)).contains("\nATTLOGStamp=5\n"));
    post(
        &server,
        "/iclock/cdata?SN=ABC123&table=ATTLOG&Stamp=13",
        "4\tx",
    );
    assert!(body_of(get(&server, HANDSHAKE)).contains("\nATTLOGStamp=13\n"));

    assert_eq!(
        body_of(post(
            &server,
            "/iclock/cdata?SN=ABC123&table=USERINFO&Stamp=0",
            "USER PIN=1\nUSER PIN=2"
        )),
        "OK: 2"
    );
    assert_eq!(
        server.query_uploads("USERINFO"),
        ["USER PIN=1", "USER PIN=2"]
    );
    assert!(server.uploads("USERINFO").is_empty());
    let stamps: Vec<String> =
        server.read(|v| v.batches("attlog").map(|b| b.stamp.clone()).collect());
    assert_eq!(stamps.len(), 3);
    assert_eq!(stamps[0], "12");

    assert_eq!(
        body_of(post(
            &server,
            "/iclock/cdata?SN=ABC123&table=options",
            "FingerFunOn=1,FaceFunOn=0"
        )),
        "OK"
    );
    assert_eq!(
        server.pushed_options(),
        [
            ("FingerFunOn".to_owned(), "1".to_owned()),
            ("FaceFunOn".to_owned(), "0".to_owned())
        ]
    );

    let s3 = start(Preset::SingleResult);
    assert_eq!(body_of(post(&s3, target, "a\nb")), "OK:2");
    let crlf = start(Preset::Crlf);
    assert_eq!(body_of(post(&crlf, target, "a\nb")), "OK");
}

#[test]
fn commands_are_delivered_and_redelivered_until_replied() {
    let mut cfg = ServerConfig::new(Preset::Standard);
    cfg.redeliver_after = Some(Duration::from_millis(50));
    let server = PushServer::start(cfg).expect("start");
    let poll = "/iclock/getrequest?SN=ABC123";
    assert_eq!(body_of(get(&server, poll)), "OK");
    assert_eq!(server.queue_command("INFO"), "1");
    server.queue_command_with_id("00ff00ff00ff00ff", "DATA DELETE USERINFO PIN=2");
    assert_eq!(server.queue_command("CHECK"), "2");
    let info = "/iclock/getrequest?SN=ABC123&INFO=Ver%202.0.12,0,0,0,127.0.0.1,10,7,15,0,111";
    assert_eq!(
        body_of(get(&server, info)),
        "C:1:INFO\nC:00ff00ff00ff00ff:DATA DELETE USERINFO PIN=2\nC:2:CHECK\n"
    );
    assert_eq!(
        server.last_info().as_deref(),
        Some("Ver 2.0.12,0,0,0,127.0.0.1,10,7,15,0,111")
    );
    assert_eq!(body_of(get(&server, poll)), "OK");
    post(
        &server,
        "/iclock/devicecmd?SN=ABC123",
        "ID=1&Return=0&CMD=INFO\nID=2&Return=0&CMD=CHECK",
    );
    assert_eq!(server.outstanding_commands(), ["00ff00ff00ff00ff"]);
    let mut redelivered = String::new();
    for _ in 0..100 {
        thread::sleep(Duration::from_millis(10));
        redelivered = body_of(get(&server, poll));
        if redelivered != "OK" {
            break;
        }
    }
    assert_eq!(
        redelivered,
        "C:00ff00ff00ff00ff:DATA DELETE USERINFO PIN=2\n"
    );
    post(
        &server,
        "/iclock/devicecmd?SN=ABC123",
        "ID=00ff00ff00ff00ff&Return=0&CMD=DATA",
    );
    thread::sleep(Duration::from_millis(60));
    assert_eq!(body_of(get(&server, poll)), "OK");
    assert!(server.outstanding_commands().is_empty());
}

#[test]
fn commands_per_poll_and_no_redelivery() {
    let mut cfg = ServerConfig::new(Preset::SingleResult);
    cfg.redeliver_after = None;
    let server = PushServer::start(cfg).expect("start");
    server.queue_command("INFO");
    server.queue_command("CHECK");
    let poll = "/iclock/getrequest?SN=ABC123";
    assert_eq!(body_of(get(&server, poll)), "C:1:INFO\n");
    assert_eq!(body_of(get(&server, poll)), "C:2:CHECK\n");
    assert_eq!(body_of(get(&server, poll)), "OK");
    assert_eq!(server.outstanding_commands(), ["1", "2"]);
}

#[test]
fn batched_replies_with_details_and_duplicates() {
    let server = start(Preset::Standard);
    let first = server.queue_command("INFO");
    let second = server.queue_command("DATA UPDATE USERINFO PIN=1");
    let body = format!(
        "ID={first}&Return=0&CMD=INFO\nUserCount=1\r\nFPCount=0\nID={second}&Return=-1002&CMD=DATA\n\
         ID={second}&Return=oops&CMD=DATA\n"
    );
    assert_eq!(
        body_of(post(&server, "/iclock/devicecmd?SN=ABC123", &body)),
        "OK"
    );
    let replies = server.replies();
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0].id, first);
    assert_eq!(replies[0].cmd, "INFO");
    assert_eq!(replies[0].details, ["UserCount=1", "FPCount=0"]);
    assert_eq!(
        replies[0].raw,
        format!("ID={first}&Return=0&CMD=INFO\nUserCount=1\nFPCount=0")
    );
    assert_eq!(replies[1].return_code, Ok(-1002));
    assert!(!replies[1].duplicate);
    assert_eq!(replies[2].return_code, Err("oops".to_owned()));
    assert!(replies[2].duplicate);
    assert!(server.outstanding_commands().is_empty());
}

#[test]
fn first_only_parser_completes_only_the_first_command() {
    let server = start(Preset::SingleResult);
    for (id, cmd) in [("A", "DATA"), ("B", "DATA"), ("C", "REBOOT")] {
        server.queue_command_with_id(id, cmd);
    }
    let body = "ID=A&Return=0&CMD=DATA\nID=B&Return=-1&CMD=DATA\nID=C&Return=-3&CMD=REBOOT";
    body_of(post(&server, "/iclock/devicecmd?SN=ABC123", body));
    let replies = server.replies();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].id, "A");
    assert_eq!(replies[0].return_code, Ok(-3));
    assert_eq!(server.outstanding_commands(), ["B", "C"]);
}

#[test]
fn status_and_drop_faults() {
    let server = start(Preset::Standard);
    let target = "/iclock/cdata?SN=ABC123&table=ATTLOG&Stamp=1";
    server.fail_next(1, Fault::Status(503));
    server.fail_next(1, Fault::Drop);
    server.fail_next(1, Fault::DropAfterProcessing);
    let refused = post(&server, target, "a").expect("a response");
    assert_eq!(refused.status, 503);
    assert!(post(&server, target, "b").is_none());
    assert!(post(&server, target, "c").is_none());
    assert_eq!(body_of(post(&server, target, "d")), "OK: 1");
    assert_eq!(server.uploads("ATTLOG"), ["c", "d"]);
    let outcomes: Vec<Outcome> = server.requests().into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Responded {
                status: 503,
                body: "injected fault 503".into()
            },
            Outcome::Dropped { processed: false },
            Outcome::Dropped { processed: true },
            Outcome::Responded {
                status: 200,
                body: "OK: 1".into()
            },
        ]
    );
}

#[test]
fn random_faults_are_deterministic_per_seed() {
    let run = |probability: f64, seed: u64| {
        let server = start(Preset::Standard);
        server.set_random_faults(probability, seed);
        for _ in 0..40 {
            get(&server, "/iclock/ping?SN=ABC123");
        }
        server
            .requests()
            .into_iter()
            .map(|r| r.outcome)
            .collect::<Vec<_>>()
    };
    let a = run(0.5, 7);
    assert_eq!(a, run(0.5, 7));
    let failed = a
        .iter()
        .filter(|o| !matches!(o, Outcome::Responded { status: 200, .. }))
        .count();
    assert!((5..35).contains(&failed), "{failed} of 40 failed");
    assert!(a.contains(&Outcome::Dropped { processed: true }));
    assert!(a.contains(&Outcome::Dropped { processed: false }));
    assert!(
        run(0.0, 7)
            .iter()
            .all(|o| matches!(o, Outcome::Responded { status: 200, .. }))
    );
}

#[test]
fn chunked_request_bodies_are_decoded_and_raw_bytes_kept() {
    let server = start(Preset::Standard);
    let raw = b"POST /iclock/devicecmd?SN=ABC123 HTTP/1.1\r\nHost: x\r\n\
                Transfer-Encoding: chunked\r\n\r\n6\r\nID=9&R\r\n10\r\neturn=0&CMD=DATA\r\n0\r\n\r\n";
    assert_eq!(body_of(exchange(&server, raw)), "OK");
    assert_eq!(server.replies()[0].return_code, Ok(0));
    let recorded = &server.requests()[0];
    assert_eq!(recorded.raw, raw);
    assert_eq!(recorded.body, b"ID=9&Return=0&CMD=DATA");
    assert_eq!(recorded.method, "POST");
}

#[test]
fn malformed_requests_missing_sn_and_unknown_paths() {
    let server = start(Preset::Standard);
    let mut stream = connect(&server);
    stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").expect("write");
    let response = read_response(&mut stream).expect("a response");
    assert_eq!(response.status, 400);
    assert_eq!(response.header("Connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).ok(), Some(0), "closed");
    assert_eq!(server.requests()[0].raw, b"NOT HTTP AT ALL\r\n\r\n");

    assert_eq!(
        get(&server, "/iclock/getrequest").map(|r| r.status),
        Some(400)
    );
    assert_eq!(
        get(&server, "/iclock/getrequest?SN=").map(|r| r.status),
        Some(400)
    );
    assert_eq!(get(&server, "/other?SN=1").map(|r| r.status), Some(404));
    assert_eq!(
        post(&server, "/iclock/ping?SN=1", "").map(|r| r.status),
        Some(404)
    );
    assert_eq!(server.request_count(), 5);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = start(Preset::Standard);
    let mut stream = connect(&server);
    let ping = b"GET /iclock/ping?SN=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    for _ in 0..3 {
        stream.write_all(ping).expect("write");
        assert_eq!(read_response(&mut stream).expect("response").body, "OK");
    }
    stream
        .write_all(b"GET /iclock/ping?SN=1 HTTP/1.1\r\nConnection: close\r\n\r\n")
        .expect("write");
    assert!(read_response(&mut stream).is_some());
    assert!(read_response(&mut stream).is_none());
}

#[test]
fn date_header_follows_the_clock_offset() {
    let date = |offset: i64| {
        let mut cfg = ServerConfig::new(Preset::Standard);
        cfg.clock_offset_secs = offset;
        let server = PushServer::start(cfg).expect("start");
        let response = get(&server, "/iclock/ping?SN=1").expect("response");
        response
            .header("Date")
            .and_then(parse_http_date)
            .expect("a Date")
    };
    let shift = date(86_400) - date(0);
    assert!((86_398..=86_402).contains(&shift), "{shift}");
}

#[test]
fn transcript_summarises_exchanges() {
    let server = start(Preset::Standard);
    server.queue_command("DATA UPDATE USERINFO PIN=1\tName=A");
    get(&server, "/iclock/getrequest?SN=ABC123");
    post(
        &server,
        "/iclock/cdata?SN=ABC123&table=ATTLOG&Stamp=12",
        "1\n2\n3",
    );
    get(&server, HANDSHAKE);
    assert_eq!(
        server.transcript(),
        [
            "→ GET /iclock/getrequest?SN=ABC123",
            "← 200 C:1:DATA UPDATE USERINFO PIN=1\tName=A",
            "→ POST cdata ATTLOG Stamp=12 (3 records)",
            "← 200 OK: 3",
            &format!("→ GET {HANDSHAKE}"),
            "← 200 GET OPTION FROM: ABC123 (+15 lines)",
        ]
    );
}

#[test]
fn wait_until_wakes_on_requests_and_times_out() {
    let server = Arc::new(start(Preset::Standard));
    assert!(!server.wait_until(Duration::from_millis(20), |v| v.request_count() > 0));
    let client = {
        let server = Arc::clone(&server);
        thread::spawn(move || {
            post(
                &server,
                "/iclock/cdata?SN=1&table=ATTLOG&Stamp=3",
                "1\t2024-01-01 00:00:00",
            )
        })
    };
    assert!(server.wait_until(Duration::from_secs(5), |v| v.uploads("ATTLOG").len() == 1));
    client.join().expect("client");
}

#[test]
fn shutdown_closes_idle_connections_and_joins() {
    let server = start(Preset::Standard);
    let mut idle = connect(&server);
    idle.write_all(b"GET /iclock/ping?SN=1 HTTP/1.1\r\n\r\n")
        .expect("write");
    assert!(read_response(&mut idle).is_some());
    let started = MonoStopwatch::start();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(read_response(&mut idle).is_none());
    server.shutdown();
    let late = TcpStream::connect(server.addr).map(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let _ = s.write_all(b"GET /iclock/ping?SN=1 HTTP/1.1\r\n\r\n");
        read_response(&mut s)
    });
    assert!(matches!(late, Err(_) | Ok(None)));
}

// The Security PUSH dialect [note §2–§3].

const SN: &str = "3383154200002";
const INIT: &str = "/iclock/cdata?SN=3383154200002&options=all&pushver=3.1.2";
const REGISTRY: &str = "/iclock/registry?SN=3383154200002";
const PUSH: &str = "/iclock/push?SN=3383154200002";
/// The start of the seed's registry body [seed 003 §4.4].
const CAPABILITIES: &str = "DeviceType=acc,~DeviceName=F20/M,FirmVer=Ver 8.0.1.3-20151229,\
                            LockCount=1,ReaderCount=2,authKey=dassas";

/// A request carrying `Cookie: <cookie>` (none when empty).
fn send(
    server: &PushServer,
    method: &str,
    target: &str,
    cookie: &str,
    body: &str,
) -> Option<Response> {
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    let raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\n{cookie}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    exchange(server, raw.as_bytes())
}

fn security_server(options: &[(&str, &str)]) -> PushServer {
    let mut cfg = ServerConfig::new(Preset::Security);
    cfg.options = options
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    PushServer::start(cfg).expect("server starts")
}

/// Registers [`SN`] and returns the `Cookie` value its later requests carry, computed from the
/// registry answer's bytes: the body's `RegistryCode` and the `JSESSIONID` cookie [note §2.11].
fn register(server: &PushServer) -> String {
    let answer = post(server, REGISTRY, CAPABILITIES).expect("a response");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let code = answer
        .body
        .strip_prefix("RegistryCode=")
        .expect("a registry code");
    let set_cookie = answer.header("Set-Cookie").expect("a session cookie");
    let session = session_id_from_set_cookie(set_cookie).expect("a JSESSIONID");
    format!(
        "token={}",
        Token::compute(code, SN, Some(&session)).as_str()
    )
}

#[test]
fn security_registration_hands_out_a_code_and_a_session_cookie() {
    let server = security_server(&[]);
    assert_eq!(body_of(get(&server, INIT)), "OK");
    assert_eq!(server.registration(SN), None);

    let answer = post(&server, REGISTRY, CAPABILITIES).expect("a response");
    assert_eq!(answer.status, 200);
    let registration = server.registration(SN).expect("registered");
    let code = &registration.registry_code;
    assert_eq!(answer.body, format!("RegistryCode={code}"));
    assert_eq!(code.len(), 10);
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()), "{code}");
    let session = &registration.session_id;
    assert_eq!(
        answer.header("Set-Cookie"),
        Some(format!("JSESSIONID={session}; Path=/").as_str())
    );
    assert_eq!(session.len(), 32);
    assert!(
        session
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "{session}"
    );
    assert_eq!(registration.capabilities.len(), 6);
    assert_eq!(
        registration.capabilities[0],
        ("DeviceType".into(), "acc".into())
    );
    assert_eq!(
        registration.capability("firmver"),
        Some("Ver 8.0.1.3-20151229")
    );
    assert_eq!(registration.capability("~DeviceName"), Some("F20/M"));

    // A second registration replaces the first.
    post(&server, REGISTRY, "DeviceType=acc");
    let again = server.registration(SN).expect("registered");
    assert_ne!(again.registry_code, registration.registry_code);
    assert_ne!(again.session_id, registration.session_id);
    assert_eq!(again.capabilities, [("DeviceType".into(), "acc".into())]);
}

#[test]
fn security_init_sends_the_note_defaults_once_registered() {
    let server = security_server(&[]);
    register(&server);
    let registration = server.registration(SN).expect("registered");
    let body = body_of(get(&server, INIT));
    assert_eq!(
        body,
        format!(
            "registry=ok\nRegistryCode={}\nServerVersion=3.0.1\nServerName=ADMS\n\
             PushProtVer=3.0.1\nErrorDelay=30\nRequestDelay=30\nTransTimes=12:30;14:30\n\
             TransInterval=2\nTransTables=User Transaction\nRealtime=1\nSessionID={}\n\
             TimeoutSec=10",
            registration.registry_code, registration.session_id
        )
    );
    // The agent's own parser reads what the server sends.
    let params = ServerParams::parse(&body);
    assert!(params.registered);
    assert_eq!(params.registry_code, Some(registration.registry_code));
    assert_eq!(params.session_id, Some(registration.session_id));
    // Init is open: no token needed, and another device is not registered.
    assert_eq!(
        body_of(get(&server, "/iclock/cdata?SN=OTHER&options=all")),
        "OK"
    );
    assert_eq!(server.rejected_tokens(), 0);
}

#[test]
fn security_push_sends_the_parameters_with_the_session_and_overrides() {
    let server = security_server(&[("RequestDelay", "2"), ("PushOptionsFlag", "1")]);
    let cookie = register(&server);
    server.set_option("ErrorDelay", "5");
    let session = server.registration(SN).expect("registered").session_id;
    let answer = send(&server, "POST", PUSH, &cookie, "").expect("a response");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        format!(
            "ServerVersion=3.0.1\nServerName=ADMS\nErrorDelay=5\nRequestDelay=2\n\
             TransTimes=12:30;14:30\nTransInterval=2\nTransTables=User Transaction\nRealtime=1\n\
             SessionID={session}\nTimeoutSec=10\nPushOptionsFlag=1"
        )
    );
    let params = ServerParams::parse(&answer.body);
    assert_eq!(params.request_delay_secs, 2);
    assert!(params.push_options_flag);
    assert!(!params.registered);
}

#[test]
fn security_requests_after_registration_need_the_token() {
    let server = security_server(&[]);
    let cookie = register(&server);
    let registration = server.registration(SN).expect("registered");
    let without_session = format!(
        "token={}",
        Token::compute(&registration.registry_code, SN, None).as_str()
    );
    let endpoints = [
        ("POST", PUSH, ""),
        ("GET", "/iclock/getrequest?SN=3383154200002", ""),
        (
            "POST",
            "/iclock/devicecmd?SN=3383154200002",
            "ID=1&Return=0&CMD=DATA",
        ),
        (
            "POST",
            "/iclock/cdata?SN=3383154200002&table=rtlog",
            "event=0\tindex=1",
        ),
        (
            "POST",
            "/iclock/cdata?SN=3383154200002&table=rtstate",
            "sensor=00",
        ),
        (
            "POST",
            "/iclock/cdata?SN=3383154200002&table=options",
            "LockCount=1",
        ),
        (
            "POST",
            "/iclock/querydata?SN=3383154200002&type=count&cmdid=288&tablename=user\
             &count=1&packcnt=1&packidx=1",
            "user=5",
        ),
        ("GET", "/iclock/rtdata?SN=3383154200002&type=time", ""),
        ("GET", "/iclock/ping?SN=3383154200002", ""),
    ];
    let refused_cookies = [
        String::new(),
        "token=0123456789abcdef0123456789abcdef".to_owned(),
        without_session,
        format!("JSESSIONID={}", registration.session_id),
    ];
    for (method, target, body) in endpoints {
        for refused in &refused_cookies {
            let answer = send(&server, method, target, refused, body).expect("a response");
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (401, "invalid token"),
                "{method} {target} with {refused:?}"
            );
        }
        let accepted = send(&server, method, target, &cookie, body).expect("a response");
        assert_eq!(accepted.status, 200, "{method} {target}");
    }
    assert_eq!(
        server.rejected_tokens(),
        endpoints.len() * refused_cookies.len()
    );
    // Refused requests changed nothing: one of each upload.
    assert_eq!(server.rt_events().len(), 1);
    assert_eq!(server.query_packages().len(), 1);

    // The seed's template cookie (`token=…, timestamp=…`) and extra cookies are fine; another
    // device's token is not.
    let templated = format!("{cookie}, timestamp=1; JSESSIONID=x");
    let ping = "/iclock/ping?SN=3383154200002";
    assert_eq!(body_of(send(&server, "GET", ping, &templated, "")), "OK");
    let other = send(&server, "GET", "/iclock/ping?SN=OTHER", &cookie, "");
    assert_eq!(other.map(|r| r.status), Some(401));
}

#[test]
fn security_registry_refusal_answers_406() {
    let server = security_server(&[]);
    server.refuse_registry(true);
    let refused = post(&server, REGISTRY, CAPABILITIES).expect("a response");
    assert_eq!((refused.status, refused.body.as_str()), (406, "406"));
    assert_eq!(refused.header("Set-Cookie"), None);
    assert_eq!(server.registration(SN), None);
    assert_eq!(body_of(get(&server, INIT)), "OK");

    server.refuse_registry(false);
    let cookie = register(&server);
    assert_eq!(
        body_of(send(
            &server,
            "GET",
            "/iclock/ping?SN=3383154200002",
            &cookie,
            ""
        )),
        "OK"
    );
}

#[test]
fn security_rotated_session_or_forgotten_registration_makes_the_device_start_over() {
    let server = security_server(&[]);
    let cookie = register(&server);
    let ping = "/iclock/ping?SN=3383154200002";
    assert_eq!(body_of(send(&server, "GET", ping, &cookie, "")), "OK");
    let before = server.registration(SN).expect("registered");

    server.rotate_sessions();
    let refused = send(&server, "GET", ping, &cookie, "").expect("a response");
    assert_eq!(refused.status, 401);
    let params = ServerParams::parse(&body_of(get(&server, INIT)));
    let session = params.session_id.expect("a new session");
    assert_ne!(session, before.session_id);
    assert_eq!(
        params.registry_code.as_deref(),
        Some(before.registry_code.as_str())
    );
    let renewed = format!(
        "token={}",
        Token::compute(&before.registry_code, SN, Some(&session)).as_str()
    );
    assert_eq!(body_of(send(&server, "GET", ping, &renewed, "")), "OK");

    server.forget_registrations();
    assert_eq!(server.registration(SN), None);
    assert_eq!(
        send(&server, "GET", ping, &renewed, "").map(|r| r.status),
        Some(401)
    );
    assert_eq!(body_of(get(&server, INIT)), "OK");
    let fresh = register(&server);
    assert_ne!(fresh, renewed);
    assert_eq!(body_of(send(&server, "GET", ping, &fresh, "")), "OK");
    assert_eq!(server.rejected_tokens(), 2);
}

#[test]
fn security_rtlog_events_keep_their_order_and_repeats_are_counted() {
    let server = security_server(&[]);
    let cookie = register(&server);
    let rtlog = "/iclock/cdata?SN=3383154200002&table=rtlog";
    let event = |index: u32| {
        format!(
            "time=2017-01-10 15:42:40\tpin=0\tcardno=0\teventaddr=1\tevent=27\tinoutstatus=1\t\
             verifytype=0\tindex={index}"
        )
    };
    for body in [
        event(21),
        format!("{}\n{}\n", event(22), event(23)),
        event(22),
    ] {
        assert_eq!(body_of(send(&server, "POST", rtlog, &cookie, &body)), "OK");
    }
    let events = server.rt_events();
    let indexes: Vec<Option<u64>> = events.iter().map(|e| e.index).collect();
    assert_eq!(indexes, [Some(21), Some(22), Some(23), Some(22)]);
    assert_eq!(events[0].line, event(21));
    assert!(events[3].duplicate && !events[1].duplicate);
    assert_eq!(server.duplicate_events(), 1);
    assert_eq!(server.uploads("rtlog").len(), 4);
}

#[test]
fn security_rtstate_options_and_table_data_uploads() {
    let server = security_server(&[]);
    let cookie = register(&server);
    let state = "time=2017-01-10 15:42:40\tsensor=00\trelay=00\talarm=0200000000000000";
    let cdata = |table: &str| format!("/iclock/cdata?SN=3383154200002&table={table}");
    assert_eq!(
        body_of(send(&server, "POST", &cdata("rtstate"), &cookie, state)),
        "OK"
    );
    assert_eq!(server.uploads("rtstate"), [state]);
    assert_eq!(
        body_of(send(
            &server,
            "POST",
            &cdata("options"),
            &cookie,
            "~DeviceName=ProBio,UserCount=7,~MaxPvCount="
        )),
        "OK"
    );
    assert_eq!(
        server.pushed_options(),
        [
            ("~DeviceName".to_owned(), "ProBio".to_owned()),
            ("UserCount".to_owned(), "7".to_owned()),
            ("~MaxPvCount".to_owned(), String::new()),
        ]
    );
    let users = "user uid=1\tcardno=\tpin=1\nuser uid=2\tcardno=\tpin=2";
    assert_eq!(
        body_of(send(
            &server,
            "POST",
            &format!("{}&tablename=user&count=2", cdata("tabledata")),
            &cookie,
            users
        )),
        "user=2"
    );
    assert_eq!(
        server.uploads("user"),
        ["user uid=1\tcardno=\tpin=1", "user uid=2\tcardno=\tpin=2"]
    );
}

#[test]
fn security_commands_and_replies_use_the_queue() {
    let server = security_server(&[]);
    let cookie = register(&server);
    let id = server.queue_command("CONTROL DEVICE 01010105");
    let poll = "/iclock/getrequest?SN=3383154200002";
    assert_eq!(
        body_of(send(&server, "GET", poll, &cookie, "")),
        format!("C:{id}:CONTROL DEVICE 01010105\n")
    );
    let reply = format!("ID={id}&Return=0&CMD=CONTROL DEVICE");
    assert_eq!(
        body_of(send(
            &server,
            "POST",
            "/iclock/devicecmd?SN=3383154200002",
            &cookie,
            &reply
        )),
        "OK"
    );
    let replies = server.replies();
    assert_eq!(replies.len(), 1);
    assert_eq!(
        (replies[0].id.as_str(), replies[0].return_code.clone()),
        (id.as_str(), Ok(0))
    );
    assert_eq!(replies[0].cmd, "CONTROL DEVICE");
    assert!(server.outstanding_commands().is_empty());
    assert_eq!(body_of(send(&server, "GET", poll, &cookie, "")), "OK");
}

#[test]
fn security_querydata_packages_are_recorded_and_answered() {
    let server = security_server(&[]);
    let cookie = register(&server);
    let target = |kind: &str, cmd: &str, table: &str, count: u32, packcnt: u32, packidx: u32| {
        format!(
            "/iclock/querydata?SN=3383154200002&type={kind}&cmdid={cmd}&tablename={table}\
             &count={count}&packcnt={packcnt}&packidx={packidx}"
        )
    };
    let cases = [
        (target("count", "288", "user", 1, 1, 1), "user=5", "user=1"),
        (
            target("tabledata", "415", "user", 2, 2, 1),
            "user uid=1\tpin=1\nuser uid=2\tpin=2",
            "user=2",
        ),
        (
            target("tabledata", "415", "user", 1, 2, 2),
            "user uid=3\tpin=3",
            "user=1",
        ),
        (
            target("options", "408", "options", 1, 1, 1),
            "~SerialNumber=3383154200002,LockCount=1",
            "OK",
        ),
    ];
    for (target, body, expected) in &cases {
        assert_eq!(
            body_of(send(&server, "POST", target, &cookie, body)),
            *expected
        );
    }
    let packages = server.query_packages();
    let summary: Vec<[&str; 6]> = packages
        .iter()
        .map(|p| {
            [
                p.kind.as_str(),
                p.cmd_id.as_str(),
                p.table.as_str(),
                p.count.as_str(),
                p.packcnt.as_str(),
                p.packidx.as_str(),
            ]
        })
        .collect();
    assert_eq!(
        summary,
        [
            ["count", "288", "user", "1", "1", "1"],
            ["tabledata", "415", "user", "2", "2", "1"],
            ["tabledata", "415", "user", "1", "2", "2"],
            ["options", "408", "options", "1", "1", "1"],
        ]
    );
    assert_eq!(packages[0].lines, ["user=5"]);
    assert_eq!(
        packages[1].lines,
        ["user uid=1\tpin=1", "user uid=2\tpin=2"]
    );
    assert_eq!(
        packages[3].lines,
        ["~SerialNumber=3383154200002,LockCount=1"]
    );
}

#[test]
fn security_rtdata_answers_the_gmt_time_in_app5_seconds() {
    let mut cfg = ServerConfig::new(Preset::Security);
    // A day ahead, so the answer visibly follows the server's clock, as the Date header does.
    cfg.clock_offset_secs = 86_400;
    let server = PushServer::start(cfg).expect("start");
    let cookie = register(&server);
    let answer = send(
        &server,
        "GET",
        "/iclock/rtdata?SN=3383154200002&type=time",
        &cookie,
        "",
    )
    .expect("a response");
    assert_eq!(answer.status, 200);
    let packed = answer
        .body
        .strip_prefix("DateTime=")
        .and_then(|rest| rest.strip_suffix(",ServerTZ=+0000"))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("DateTime=<n>,ServerTZ=+0000");
    let answered = LocalDateTime::from_zk_packed(packed)
        .expect("a valid App 5 time")
        .to_unix(0);
    let date = answer
        .header("Date")
        .and_then(parse_http_date)
        .expect("a Date");
    assert!((answered - date).abs() <= 2, "{answered} vs {date}");
    let other = send(
        &server,
        "GET",
        "/iclock/rtdata?SN=3383154200002&type=other",
        &cookie,
        "",
    );
    assert_eq!(other.map(|r| r.status), Some(400));
}

#[test]
fn security_endpoints_take_faults_too() {
    let server = security_server(&[]);
    server.fail_next(1, Fault::Status(503));
    assert_eq!(
        post(&server, REGISTRY, CAPABILITIES).map(|r| r.status),
        Some(503)
    );
    assert_eq!(server.registration(SN), None);
    let cookie = register(&server);
    let rtlog = "/iclock/cdata?SN=3383154200002&table=rtlog";
    server.fail_next(1, Fault::Drop);
    server.fail_next(1, Fault::DropAfterProcessing);
    assert!(send(&server, "POST", rtlog, &cookie, "event=0\tindex=1").is_none());
    assert!(send(&server, "POST", rtlog, &cookie, "event=0\tindex=1").is_none());
    assert_eq!(
        body_of(send(&server, "POST", rtlog, &cookie, "event=0\tindex=1")),
        "OK"
    );
    // Dropped unprocessed: not recorded; dropped after processing: recorded, so the re-send is a
    // repeat.
    assert_eq!(server.rt_events().len(), 2);
    assert_eq!(server.duplicate_events(), 1);
    // A server "offline" for a while, then back.
    server.fail_next(2, Fault::Drop);
    assert!(send(&server, "POST", PUSH, &cookie, "").is_none());
    assert!(send(&server, "POST", PUSH, &cookie, "").is_none());
    assert_eq!(
        send(&server, "POST", PUSH, &cookie, "").map(|r| r.status),
        Some(200)
    );
}

#[test]
fn security_transcript_masks_the_token_inputs() {
    let server = security_server(&[]);
    let cookie = register(&server);
    send(&server, "POST", PUSH, &cookie, "");
    let registration = server.registration(SN).expect("registered");
    let transcript = server.transcript().join("\n");
    assert!(
        transcript.contains("← 200 RegistryCode=***"),
        "{transcript}"
    );
    assert!(
        !transcript.contains(&registration.registry_code),
        "{transcript}"
    );
    assert!(
        !transcript.contains(&registration.session_id),
        "{transcript}"
    );
}

#[test]
fn attendance_presets_do_not_serve_security_paths() {
    let server = start(Preset::Standard);
    for (method, target) in [
        ("POST", "/iclock/registry?SN=1"),
        ("POST", "/iclock/push?SN=1"),
        ("POST", "/iclock/querydata?SN=1&type=count"),
        ("GET", "/iclock/rtdata?SN=1&type=time"),
    ] {
        let answer = send(&server, method, target, "", "").expect("a response");
        assert_eq!(answer.status, 404, "{method} {target}");
    }
    // No token needed in the attendance dialect.
    assert_eq!(body_of(get(&server, "/iclock/ping?SN=1")), "OK");
}
