//! Tests of the fake server over real loopback sockets with a tiny raw client.

use super::*;
use crate::clock::MonoStopwatch;
use crate::protocol::civil::parse_http_date;
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
