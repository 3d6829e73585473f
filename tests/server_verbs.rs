//! The fake server's verbs against the real agent binary: queue a command (with a caller-chosen
//! id), set an option, fail the next requests with a status or a dropped connection, and read
//! back uploads, query results, pushed options and the device's INFO.

mod support;

use push_agent::server::{Fault, Outcome, RecordedRequest, ServerView};
use std::time::Duration;
use support::{AgentProcess, Preset, PushServer, ServerConfig, fast_server, write_config};

/// Longest wait for any one step.
const WAIT: Duration = Duration::from_secs(30);
/// A card nobody holds: the swipe is recorded as a failed verification (`OPLOG 2`).
const UNKNOWN_CARD: u64 = 99_999;

fn card_of(pin: u32) -> u64 {
    4_000_000 + u64::from(pin)
}

/// A command that enrols user `pin` with the card [`card_of`]`(pin)`.
fn enrol(pin: u32) -> String {
    format!(
        "DATA UPDATE USERINFO PIN={pin}\tName=User {pin}\tCard={}",
        card_of(pin)
    )
}

/// The value of `key` in a request target's query.
fn param<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    let query = target.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

fn answered_ok(request: &RecordedRequest) -> bool {
    matches!(request.outcome, Outcome::Responded { status: 200, .. })
}

fn is_init(request: &RecordedRequest) -> bool {
    request.method == "GET" && param(&request.target, "options") == Some("all")
}

fn replied(view: &ServerView<'_>, id: &str) -> bool {
    view.replies().iter().any(|r| r.id == id)
}

fn wait_for(server: &PushServer, what: &str, pred: impl Fn(&ServerView<'_>) -> bool) {
    assert!(
        server.wait_until(WAIT, pred),
        "gave up waiting for {what}; transcript:\n{}",
        server.transcript().join("\n")
    );
}

/// Swipes `card` and checks the terminal answered.
fn swipe(agent: &AgentProcess, card: u64) {
    let answer = agent.swipe(card).expect("the control socket answers");
    assert!(answer.starts_with("ok "), "swipe {card}: {answer}");
}

#[test]
fn status_and_dropped_connection_faults_send_the_agent_back_to_init() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(Preset::Standard);
    let config = write_config(dir.path(), &server.url(), "");
    let _agent = AgentProcess::start(&config);
    // Fault only once the option block (ErrorDelay=1) is in force; before it a retry waits 30 s.
    wait_for(&server, "a first poll", |v| {
        v.requests()
            .iter()
            .any(|r| answered_ok(r) && r.target.starts_with("/iclock/getrequest"))
    });
    let before = server.request_count();
    server.fail_next(1, Fault::Status(503));
    server.fail_next(1, Fault::Drop);
    let id = server.queue_command("INFO");
    wait_for(&server, "the INFO reply", |v| replied(v, &id));

    let after: Vec<RecordedRequest> = server.requests().split_off(before);
    let outcomes: Vec<&Outcome> = after.iter().map(|r| &r.outcome).collect();
    assert_eq!(
        outcomes[..2],
        [
            &Outcome::Responded {
                status: 503,
                body: "injected fault 503".into()
            },
            &Outcome::Dropped { processed: false },
        ]
    );
    assert!(after[2..].iter().all(answered_ok), "{outcomes:?}");
    // Each failure sends the agent back to the option block: the dropped request and the one
    // after it are both inits.
    assert!(is_init(&after[1]) && is_init(&after[2]), "{after:?}");
    let replies = server.replies();
    assert_eq!(replies.iter().filter(|r| r.id == id).count(), 1);
    assert!(server.outstanding_commands().is_empty());
}

#[test]
fn an_upload_whose_answer_is_lost_reaches_the_server_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    // Polls a minute apart, so after start-up the next request is the swipe's upload.
    let mut cfg = ServerConfig::new(Preset::Standard);
    cfg.options = vec![
        ("Delay".into(), "60".into()),
        ("ErrorDelay".into(), "1".into()),
        ("Realtime".into(), "1".into()),
    ];
    let server = PushServer::start(cfg).expect("start the fake server");
    let users = [
        server.queue_command(&enrol(7)),
        server.queue_command(&enrol(8)),
    ];
    let config = write_config(dir.path(), &server.url(), "");
    let agent = AgentProcess::start(&config);
    wait_for(&server, "the start-up exchanges", |v| {
        users.iter().all(|id| replied(v, id))
            && v.uploads("OPERLOG")
                .iter()
                .any(|l| l.starts_with("OPLOG 0\t"))
            && v.requests().last().is_some_and(answered_ok)
    });

    server.fail_next(1, Fault::DropAfterProcessing);
    swipe(&agent, card_of(7));
    wait_for(&server, "the re-init after the lost answer", |v| {
        let requests = v.requests();
        let dropped = requests
            .iter()
            .position(|r| r.outcome == Outcome::Dropped { processed: true });
        dropped.is_some_and(|i| {
            requests[i + 1..]
                .iter()
                .any(|r| is_init(r) && answered_ok(r))
        })
    });
    let requests = server.requests();
    let dropped = requests
        .iter()
        .find(|r| r.outcome == Outcome::Dropped { processed: true })
        .expect("the dropped request");
    assert_eq!(
        param(&dropped.target, "table"),
        Some("ATTLOG"),
        "{dropped:?}"
    );

    // A later record goes up after the first; had the agent not seen its stamp echoed, the first
    // would have been sent again.
    swipe(&agent, card_of(8));
    wait_for(&server, "the second swipe's record", |v| {
        v.uploads("ATTLOG").iter().any(|l| l.starts_with("8\t"))
    });
    let attlog = server.uploads("ATTLOG");
    assert_eq!(attlog.len(), 2, "{attlog:?}");
    assert!(
        attlog[0].starts_with("7\t") && attlog[1].starts_with("8\t"),
        "{attlog:?}"
    );
}

#[test]
fn trans_flag_set_by_the_server_holds_back_attendance_records() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(Preset::Standard);
    server.set_option("TransFlag", "TransData OpLog");
    let user = server.queue_command(&enrol(3));
    let config = write_config(dir.path(), &server.url(), "");
    let agent = AgentProcess::start(&config);
    wait_for(&server, "the user command's reply", |v| replied(v, &user));

    swipe(&agent, card_of(3));
    swipe(&agent, UNKNOWN_CARD);
    wait_for(&server, "the failed verification", |v| {
        v.uploads("OPERLOG")
            .iter()
            .any(|l| l.starts_with("OPLOG 2\t"))
    });
    // One more poll after the operation log: the attendance record had every chance to go up.
    let seen = server.request_count();
    wait_for(&server, "a poll after the upload", |v| {
        v.requests()[seen..]
            .iter()
            .any(|r| answered_ok(r) && r.target.starts_with("/iclock/getrequest"))
    });
    assert!(server.uploads("ATTLOG").is_empty());

    // Options are read at init: allow attendance again and make the agent reconnect.
    server.set_option("TransFlag", "TransData AttLog\tOpLog");
    let check = server.queue_command("CHECK");
    wait_for(&server, "the held attendance record", |v| {
        replied(v, &check) && !v.uploads("ATTLOG").is_empty()
    });
    let attlog = server.uploads("ATTLOG");
    assert_eq!(attlog.len(), 1, "{attlog:?}");
    assert!(attlog[0].starts_with("3\t"), "{attlog:?}");
}

#[test]
fn command_ids_chosen_by_the_server_are_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(Preset::Standard);
    let hex = "00ff00ff00ff00ff";
    let guid = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
    server.queue_command_with_id(hex, &enrol(5));
    server.queue_command_with_id(guid, "INFO");
    let config = write_config(dir.path(), &server.url(), "");
    let _agent = AgentProcess::start(&config);
    wait_for(&server, "both replies", |v| {
        replied(v, hex) && replied(v, guid)
    });
    let replies = server.replies();
    let of = |id: &str| replies.iter().find(|r| r.id == id).expect("a reply");
    assert_eq!(of(hex).raw, format!("ID={hex}&Return=0&CMD=DATA"));
    assert_eq!(of(hex).return_code, Ok(0));
    assert!(
        of(guid)
            .raw
            .starts_with(&format!("ID={guid}&Return=0&CMD=INFO")),
        "{:?}",
        of(guid)
    );
    assert_eq!(of(guid).return_code, Ok(0));
    assert!(server.outstanding_commands().is_empty());
}

#[test]
fn the_agent_reports_its_info_and_pushes_its_options() {
    let dir = tempfile::tempdir().unwrap();
    // The Standard preset sends PushOptionsFlag=1.
    let server = fast_server(Preset::Standard);
    let config = write_config(dir.path(), &server.url(), "");
    let _agent = AgentProcess::start(&config);
    wait_for(&server, "INFO and the options push", |v| {
        v.last_info().is_some() && !v.pushed_options().is_empty()
    });
    let info = server.last_info().expect("an INFO");
    assert!(
        info.starts_with(&format!("Ver {},", env!("CARGO_PKG_VERSION"))),
        "{info}"
    );
    assert_eq!(info.split(',').count(), 10, "{info}");
    let pushed = server.pushed_options();
    assert_eq!(pushed[0], ("FingerFunOn".to_owned(), "0".to_owned()));
    assert!(
        pushed.contains(&("FaceFunOn".to_owned(), "0".to_owned())),
        "{pushed:?}"
    );
}

#[test]
fn query_results_are_uploaded_with_stamp_zero_before_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(Preset::Standard);
    let user = server.queue_command(&enrol(4));
    let config = write_config(dir.path(), &server.url(), "");
    let agent = AgentProcess::start(&config);
    wait_for(&server, "the user command's reply", |v| replied(v, &user));
    swipe(&agent, card_of(4));
    wait_for(&server, "the attendance record", |v| {
        !v.uploads("ATTLOG").is_empty()
    });

    let query = server.queue_command(
        "DATA QUERY ATTLOG StartTime=2000-01-01 00:00:00\tEndTime=2099-12-31 23:59:59",
    );
    wait_for(&server, "the query's reply", |v| replied(v, &query));
    let reply = server
        .replies()
        .into_iter()
        .find(|r| r.id == query)
        .expect("the reply");
    assert_eq!(reply.return_code, Ok(0), "{reply:?}");
    let attlog = server.uploads("ATTLOG");
    assert_eq!(attlog.len(), 1, "{attlog:?}");
    assert_eq!(server.query_uploads("ATTLOG"), attlog);

    let requests = server.requests();
    let results = requests
        .iter()
        .position(|r| {
            param(&r.target, "table") == Some("ATTLOG") && param(&r.target, "Stamp") == Some("0")
        })
        .expect("the query results");
    let answer = requests
        .iter()
        .position(|r| {
            r.target.starts_with("/iclock/devicecmd")
                && String::from_utf8_lossy(&r.body).contains(&format!("ID={query}&"))
        })
        .expect("the reply request");
    assert!(results < answer, "results at {results}, reply at {answer}");
}
