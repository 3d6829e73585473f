use super::*;
use crate::protocol::command::parse_batch;
use crate::protocol::record::AttLog;
use crate::store::Store;

const SN: &str = "TEST0001";
/// 2026-11-23 08:00:00 UTC.
const NOW_MS: i64 = 1_795_420_800_000;

fn ctx(options: &ServerOptions) -> CommandContext<'_> {
    CommandContext {
        serial: SN,
        firmware: "Ver 0.1.0",
        ip: "127.0.0.1",
        options,
        zone: UtcOffset(60),
        now_utc_ms: NOW_MS,
        dialect: crate::protocol::dialect::Dialect::Attendance,
        door_count: 0,
        capabilities: None,
    }
}

fn run_body(store: &mut Store, body: &str) -> Effects {
    let options = ServerOptions::default();
    let batch = parse_batch(body, 200);
    store
        .write(|tx| execute_batch(tx, &ctx(&options), &batch))
        .unwrap()
}

fn replies(store: &mut Store) -> Vec<String> {
    store
        .read(|tx| tx.pending_replies(100))
        .unwrap()
        .into_iter()
        .map(|r| r.body)
        .collect()
}

fn attlog(store: &mut Store, pin: &str, time: &str) {
    let log = AttLog {
        pin: pin.into(),
        time: LocalDateTime::parse(time).unwrap(),
        status: 0,
        verify: 4,
        workcode: String::new(),
        health: None,
    };
    store
        .write(|tx| tx.append_record(&NewRecord::attendance(&log, None)))
        .unwrap();
}

#[test]
fn user_update_and_delete_answer_with_the_spec_reply() {
    let mut s = Store::open_in_memory().unwrap();
    run_body(
        &mut s,
        "C:1:DATA UPDATE USERINFO PIN=7\tName=Ann\tPri=0\tPasswd=\tCard=[15CD5B07]\tGrp=1\tTZ=0000000100000000\tVerify=0\n\
         C:2:DATA DELETE USERINFO PIN=99\n",
    );
    assert_eq!(
        replies(&mut s),
        ["ID=1&Return=0&CMD=DATA", "ID=2&Return=0&CMD=DATA"]
    );
    let user = s.read(|tx| tx.user_by_card(123_456_789)).unwrap().unwrap();
    assert_eq!((user.pin.as_str(), user.name.as_str()), ("7", "Ann"));
    run_body(&mut s, "C:3:DATA DELETE USERINFO PIN=7\n");
    assert_eq!(s.read(|tx| tx.count_users()).unwrap(), 0);
}

#[test]
fn a_command_id_seen_twice_is_answered_again_but_not_run_again() {
    let mut s = Store::open_in_memory().unwrap();
    run_body(&mut s, "C:A1:DATA UPDATE USERINFO PIN=5\tName=Bo\n");
    run_body(&mut s, "C:A2:DATA DELETE USERINFO PIN=5\n");
    let ids: Vec<i64> = s
        .read(|tx| tx.pending_replies(10))
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    s.write(|tx| tx.delete_replies(&ids)).unwrap();
    // The server missed our reply to A1 and sends it again: the user must stay deleted.
    run_body(&mut s, "C:A1:DATA UPDATE USERINFO PIN=5\tName=Bo\n");
    assert_eq!(s.read(|tx| tx.count_users()).unwrap(), 0);
    assert_eq!(replies(&mut s), ["ID=A1&Return=0&CMD=DATA"]);
}

#[test]
fn commands_after_reboot_are_left_for_the_server_to_resend() {
    let mut s = Store::open_in_memory().unwrap();
    let effects = run_body(
        &mut s,
        "C:1:LOG\nC:2:REBOOT\nC:3:DATA UPDATE USERINFO PIN=1\n",
    );
    assert!(effects.reboot && effects.sweep);
    assert_eq!(
        replies(&mut s),
        ["ID=1&Return=0&CMD=LOG", "ID=2&Return=0&CMD=REBOOT"]
    );
    assert_eq!(s.read(|tx| tx.executed_reply("3")).unwrap(), None);
    assert_eq!(s.read(|tx| tx.count_users()).unwrap(), 0);
}

#[test]
fn unknown_commands_and_tables_get_minus_1002_and_parse_errors_minus_1() {
    let mut s = Store::open_in_memory().unwrap();
    run_body(
        &mut s,
        "C:1:ENROLL_FP PIN=1\tFID=0\nC:2:DATA UPDATE FOOTABLE X=1\nC:3:DATA UPDATE USERINFO Name=NoPin\n\
         C:4:AC_UNLOCK\nC:5:CLEAR\nC:6:DATA QUERY ATTLOG StartTime=2026-11-23 00:00:00\n",
    );
    assert_eq!(
        replies(&mut s),
        [
            "ID=1&Return=-1002&CMD=ENROLL_FP",
            "ID=2&Return=-1002&CMD=DATA",
            "ID=3&Return=-1&CMD=DATA",
            "ID=4&Return=-1002&CMD=AC_UNLOCK",
            "ID=5&Return=-1&CMD=CLEAR",
            "ID=6&Return=-1&CMD=DATA",
        ]
    );
}

#[test]
fn a_failed_record_undoes_the_whole_command() {
    let mut s = Store::open_in_memory().unwrap();
    run_body(
        &mut s,
        "C:1:DATA UPDATE USERINFO PIN=1\tName=Ok\nPIN=2\tPri=boss\n",
    );
    assert_eq!(replies(&mut s), ["ID=1&Return=-1&CMD=DATA"]);
    assert_eq!(s.read(|tx| tx.count_users()).unwrap(), 0);
}

#[test]
fn queries_reply_later_and_run_once() {
    let mut s = Store::open_in_memory().unwrap();
    let body = "C:9:DATA QUERY ATTLOG StartTime=2026-11-23 00:00:00\tEndTime=2026-11-23 23:59:59\n";
    run_body(&mut s, body);
    run_body(&mut s, body);
    assert!(replies(&mut s).is_empty());
    let job = s.read(|tx| tx.next_query_job()).unwrap().unwrap();
    assert_eq!(
        (job.cmd_id.as_str(), job.target),
        ("9", QueryTarget::AttLog)
    );
    assert_eq!(
        job.time_to.unwrap().to_string(),
        "2026-11-23 23:59:59".to_owned()
    );
}

#[test]
fn set_option_changes_and_persists_session_options() {
    let mut s = Store::open_in_memory().unwrap();
    s.write(|tx| {
        tx.set_setting(
            scope::SERVER,
            OPTION_BLOCK_KEY,
            "GET OPTION FROM: TEST0001\nDelay=30\nRealtime=1",
        )
    })
    .unwrap();
    let effects = run_body(&mut s, "C:1:SET OPTION Delay=5\n");
    assert_eq!(effects.options.unwrap().delay_secs, 5);
    let block = s
        .read(|tx| tx.setting(scope::SERVER, OPTION_BLOCK_KEY))
        .unwrap()
        .unwrap();
    assert_eq!(block, "GET OPTION FROM: TEST0001\nRealtime=1\nDelay=5");
    run_body(
        &mut s,
        "C:2:SET OPTION Delay=soon\nC:3:SET OPTION IPAddress=10.0.0.9\nC:4:SET OPTION DeviceName=Gate A\n",
    );
    assert_eq!(
        replies(&mut s),
        [
            "ID=1&Return=0&CMD=SET OPTION",
            "ID=2&Return=-1&CMD=SET OPTION",
            "ID=3&Return=-1002&CMD=SET OPTION",
            "ID=4&Return=0&CMD=SET OPTION",
        ]
    );
    assert_eq!(
        s.read(|tx| tx.setting(scope::DEVICE, DEVICE_NAME_KEY))
            .unwrap()
            .as_deref(),
        Some("Gate A")
    );
    let too_long = format!("C:6:SET OPTION DeviceName={}\n", "x".repeat(65));
    run_body(&mut s, &too_long);
    assert_eq!(
        replies(&mut s).last().map(String::as_str),
        Some("ID=6&Return=-1&CMD=SET OPTION")
    );
    let reloaded = run_body(&mut s, "C:5:RELOAD OPTIONS\n");
    assert_eq!(reloaded.options.unwrap().delay_secs, 5);
}

#[test]
fn set_option_date_time_moves_the_clock_in_local_time() {
    let mut s = Store::open_in_memory().unwrap();
    // 09:00:10 local at UTC+1 is 10 s after NOW (08:00:00 UTC).
    let packed = LocalDateTime::parse("2026-11-23 09:00:10")
        .unwrap()
        .to_zk_packed();
    let effects = run_body(&mut s, &format!("C:1:SET OPTION DateTime={packed}\n"));
    assert_eq!(effects.clock_adjust_ms, Some(10_000));
    let iso = run_body(&mut s, "C:2:SET OPTION DateTime=2026-11-23 08:59:00\n");
    assert_eq!(iso.clock_adjust_ms, Some(-60_000));
    assert_eq!(s.read(|tx| tx.count_records(RecordKind::OpLog)).unwrap(), 2);
}

#[test]
fn info_answers_on_several_lines() {
    let mut s = Store::open_in_memory().unwrap();
    run_body(&mut s, "C:1:DATA UPDATE USERINFO PIN=1\n");
    attlog(&mut s, "1", "2026-11-23 08:00:00");
    run_body(&mut s, "C:2:INFO\n");
    let info = replies(&mut s).pop().unwrap();
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(lines[0], "ID=2&Return=0&CMD=INFO");
    assert!(lines.contains(&"UserCount=1"), "{info}");
    assert!(lines.contains(&"AttLogCount=1"), "{info}");
    assert!(lines.contains(&"FWVersion=Ver 0.1.0"), "{info}");
    let pending = s.read(|tx| tx.pending_replies(10)).unwrap();
    assert!(pending.last().unwrap().multi_line);
}

#[test]
fn verify_sum_counts_the_window() {
    let mut s = Store::open_in_memory().unwrap();
    attlog(&mut s, "1", "2015-07-29 08:00:00");
    attlog(&mut s, "1", "2015-07-29 17:00:00");
    attlog(&mut s, "1", "2015-07-30 08:00:00");
    run_body(
        &mut s,
        "C:3:VERIFY SUM ATTLOG StartTime=2015-07-29 00:00:00\tEndTime=2015-07-29 23:59:59\n",
    );
    assert_eq!(
        replies(&mut s),
        [
            "ID=3&Return=0&CMD=VERIFY SUM&StartTime=2015-07-29 00:00:00&EndTime=2015-07-29 23:59:59&AttlogSum=2"
        ]
    );
}

#[test]
fn clear_log_erases_attendance_and_notes_it() {
    let mut s = Store::open_in_memory().unwrap();
    attlog(&mut s, "1", "2026-11-23 08:00:00");
    attlog(&mut s, "2", "2026-11-23 08:01:00");
    run_body(&mut s, "C:1:CLEAR LOG\n");
    assert_eq!(replies(&mut s), ["ID=1&Return=0&CMD=CLEAR_LOG"]);
    assert_eq!(
        s.read(|tx| tx.count_records(RecordKind::AttLog)).unwrap(),
        0
    );
    let oplog = s
        .read(|tx| tx.backlog(crate::protocol::options::StampTable::OperLog, 10, 10_000))
        .unwrap();
    assert_eq!(oplog[0].1, "OPLOG 23\t0\t2026-11-23 09:00:00\t2\t0\t0\t0");
}

#[test]
fn clear_data_answers_running_queries_and_removes_users() {
    let mut s = Store::open_in_memory().unwrap();
    run_body(
        &mut s,
        "C:1:DATA UPDATE USERINFO PIN=1\nC:2:DATA QUERY USERINFO\nC:3:CLEAR DATA\nC:4:CHECK\n",
    );
    assert_eq!(
        replies(&mut s),
        [
            "ID=1&Return=0&CMD=DATA",
            "ID=2&Return=0&CMD=DATA",
            "ID=3&Return=0&CMD=CLEAR_DATA",
            "ID=4&Return=0&CMD=CHECK",
        ]
    );
    assert_eq!(s.read(|tx| tx.count_users()).unwrap(), 0);
    assert!(!s.read(|tx| tx.has_query_job()).unwrap());
    assert_eq!(
        s.read(|tx| tx.setting(scope::STATE, CHECK_PENDING_KEY))
            .unwrap()
            .as_deref(),
        Some("1")
    );
}
