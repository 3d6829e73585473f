//! The SQLite store: users, records, upload progress, command replies, settings, and the
//! security dialect's access tables ([`access`]).
//!
//! One file, WAL mode, `synchronous=FULL`: a committed record survives a crash or a power cut.
//! Each thread opens its own [`Store`]; writers take the lock up front (`BEGIN IMMEDIATE`) and wait
//! up to the busy timeout for another writer. All operations live on [`Tx`], which both
//! [`Store::read`] and [`Store::write`] hand out, so there is one implementation of each.

mod access;
mod schema;

pub use access::{AccessDelete, AccessTable};

use crate::protocol::civil::LocalDateTime;
use crate::protocol::options::StampTable;
use crate::protocol::record::{AttLog, OpLog};
use crate::protocol::security::rtlog::RtLog;
use crate::protocol::user::User;
use access::CardRole;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a writer waits for another thread's write transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Executed command ids remembered for de-duplication.
pub const EXECUTED_COMMANDS_KEPT: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
#[error("store {path}: {action}: {source}")]
pub struct StoreError {
    pub path: String,
    pub action: String,
    #[source]
    pub source: rusqlite::Error,
}

/// Attaches what was being done to a SQLite error.
trait Context<T> {
    fn ctx(self, action: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn ctx(self, action: &str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError {
            path: String::new(),
            action: action.to_owned(),
            source,
        })
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path).ctx("open");
        Self::init(conn, path, true)
    }

    /// Opens an existing store without writing to it (for `status`).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx("open read-only");
        Self::init(conn, path, false)
    }

    /// A private in-memory store, for tests and benchmarks.
    pub fn open_in_memory() -> Result<Store> {
        Self::init(
            Connection::open_in_memory().ctx("open in memory"),
            Path::new(":memory:"),
            true,
        )
    }

    fn init(conn: Result<Connection>, path: &Path, writable: bool) -> Result<Store> {
        let with_path = |mut e: StoreError| {
            e.path = path.display().to_string();
            e
        };
        let mut conn = conn.map_err(with_path)?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .ctx("set busy timeout")
            .map_err(with_path)?;
        // One plan per statement, whatever is bound: without it SQLite re-plans a cached query
        // with an ORDER BY each time it gets a new key (rusqlite clears the bindings of a cached
        // statement), about 40 % of an access decision's time (benches/access_latency.rs).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .ctx("set planner stability")
            .map_err(with_path)?;
        if writable {
            conn.execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
            )
            .ctx("set pragmas")
            .map_err(with_path)?;
            migrate(&mut conn).map_err(with_path)?;
        } else {
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .ctx("read schema version")
                .map_err(with_path)?;
            if version != schema::MIGRATIONS.len() as i64 {
                return Err(with_path(StoreError {
                    path: String::new(),
                    action: format!(
                        "schema version {version}, this build reads {}",
                        schema::MIGRATIONS.len()
                    ),
                    source: rusqlite::Error::InvalidQuery,
                }));
            }
        }
        Ok(Store {
            conn,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a read transaction (one consistent snapshot).
    pub fn read<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.run(TransactionBehavior::Deferred, f)
    }

    /// Runs `f` in a write transaction, committed if `f` succeeds and rolled back otherwise.
    pub fn write<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.run(TransactionBehavior::Immediate, f)
    }

    fn run<T>(
        &mut self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.display().to_string();
        let with_path = |mut e: StoreError| {
            e.path.clone_from(&path);
            e
        };
        let tx = self
            .conn
            .transaction_with_behavior(behavior)
            .ctx("begin")
            .map_err(with_path)?;
        let value = f(&Tx { conn: &tx }).map_err(with_path)?;
        tx.commit().ctx("commit").map_err(with_path)?;
        Ok(value)
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("begin migration")?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx("read schema version")?;
    let known = schema::MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError {
            path: String::new(),
            action: format!(
                "schema version {version} was written by a newer push-agent (this build knows {known})"
            ),
            source: rusqlite::Error::InvalidQuery,
        });
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)
            .ctx(&format!("migrate to schema {}", i + 1))?;
    }
    tx.pragma_update(None, "user_version", known)
        .ctx("set schema version")?;
    tx.commit().ctx("commit migration")
}

/// What kind of record a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    AttLog,
    OpLog,
    /// An access, door or alarm event of the security dialect (`transaction` in DATA
    /// QUERY/COUNT/DELETE [note §5.1]); appended with [`Tx::append_rtlog`] only.
    RtLog,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::AttLog => "ATTLOG",
            RecordKind::OpLog => "OPLOG",
            RecordKind::RtLog => "RTLOG",
        }
    }

    pub fn upload_table(self) -> StampTable {
        match self {
            RecordKind::AttLog => StampTable::AttLog,
            RecordKind::OpLog => StampTable::OperLog,
            RecordKind::RtLog => StampTable::RtLog,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub kind: RecordKind,
    pub pin: String,
    pub time: LocalDateTime,
    /// The record exactly as uploaded, without its LF.
    pub line: String,
    /// A local-only detail kept for the operator (e.g. the number of an unknown card).
    pub credential: Option<String>,
}

impl NewRecord {
    pub fn attendance(log: &AttLog, credential: Option<String>) -> NewRecord {
        NewRecord {
            kind: RecordKind::AttLog,
            pin: log.pin.clone(),
            time: log.time,
            line: log.encode(),
            credential,
        }
    }

    pub fn operation(op: &OpLog, credential: Option<String>) -> NewRecord {
        NewRecord {
            kind: RecordKind::OpLog,
            pin: op.operator.clone(),
            time: op.time,
            line: op.encode(),
            credential,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadState {
    pub acked_id: i64,
    pub server_stamp: String,
    pub inflight: Option<(i64, i64)>,
    pub uploaded_total: i64,
    pub partial_acks: i64,
    pub last_upload_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReply {
    pub seq: i64,
    pub cmd_id: String,
    pub body: String,
    pub multi_line: bool,
}

/// A query whose results are being uploaded: an attendance DATA QUERY, or a security COUNT,
/// QUERY or GET OPTIONS answered through `querydata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryJob {
    pub cmd_id: String,
    pub target: QueryTarget,
    pub pin: Option<String>,
    pub time_from: Option<LocalDateTime>,
    pub time_to: Option<LocalDateTime>,
    /// The key of the last row sent.
    pub after_key: String,
    /// Rows sent so far.
    pub uploaded: i64,
    /// The whole answer of a one-package job (COUNT, GET OPTIONS).
    pub payload: Option<String>,
    /// The reply line queued once the data is up; `None`: the attendance `DATA` reply.
    pub reply: Option<String>,
    /// The rows a security QUERY announced (`packcnt` follows from it).
    pub total: i64,
    /// The last record id a transaction query covers.
    pub upto_id: Option<i64>,
}

impl QueryJob {
    /// A job for command `cmd_id` that has sent nothing yet and covers every row of `target`.
    pub fn new(cmd_id: &str, target: QueryTarget) -> QueryJob {
        QueryJob {
            cmd_id: cmd_id.to_owned(),
            target,
            pin: None,
            time_from: None,
            time_to: None,
            after_key: String::new(),
            uploaded: 0,
            payload: None,
            reply: None,
            total: 0,
            upto_id: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryTarget {
    AttLog,
    UserInfo,
    /// Security `DATA COUNT`: `payload` is the body.
    Count,
    /// Security `GET OPTIONS`: `payload` is the body.
    Options,
    /// Security `DATA QUERY transaction`, every record or a time window.
    Transactions,
    /// Security `DATA QUERY transaction … filter=NewRecord`.
    NewTransactions,
    /// Security `DATA QUERY user`.
    Users,
}

impl QueryTarget {
    const ALL: [QueryTarget; 7] = [
        QueryTarget::AttLog,
        QueryTarget::UserInfo,
        QueryTarget::Count,
        QueryTarget::Options,
        QueryTarget::Transactions,
        QueryTarget::NewTransactions,
        QueryTarget::Users,
    ];

    fn as_str(self) -> &'static str {
        match self {
            QueryTarget::AttLog => "ATTLOG",
            QueryTarget::UserInfo => "USERINFO",
            QueryTarget::Count => "count",
            QueryTarget::Options => "options",
            QueryTarget::Transactions => "transaction",
            QueryTarget::NewTransactions => "transaction-new",
            QueryTarget::Users => "user",
        }
    }

    fn parse(s: &str) -> QueryTarget {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .unwrap_or(QueryTarget::AttLog)
    }

    /// The `table=` attendance results are uploaded with [spec §4.5].
    pub fn upload_table(self) -> StampTable {
        match self {
            QueryTarget::UserInfo => StampTable::OperLog,
            _ => StampTable::AttLog,
        }
    }
}

/// Settings scopes.
pub mod scope {
    /// The server's last option block and options changed by command.
    pub const SERVER: &str = "server";
    /// Device settings (DeviceName, …).
    pub const DEVICE: &str = "device";
    /// Agent bookkeeping (last contact, clock correction, pending CHECK).
    pub const STATE: &str = "state";
    /// The security dialect's device-wide access rules (`AntiPassback`, `InterLock`).
    pub const ACCESS: &str = "access";
}

/// The operations, on a transaction or a plain connection.
pub struct Tx<'c> {
    conn: &'c Connection,
}

impl Tx<'_> {
    /// Runs `f` inside a savepoint: its writes are undone if it fails, and the transaction goes on.
    pub fn savepoint<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let run = |sql: &str, action: &str| {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.execute([]))
                .ctx(action)
        };
        run("SAVEPOINT step", "begin savepoint")?;
        match f(self) {
            Ok(value) => {
                run("RELEASE step", "release savepoint")?;
                Ok(value)
            }
            Err(e) => {
                run("ROLLBACK TO step", "roll back savepoint")?;
                run("RELEASE step", "release savepoint")?;
                Err(e)
            }
        }
    }

    // ----- records -----

    /// Appends a record and returns its device-unique id. An rtlog record is refused: its line
    /// carries its id, so it goes through [`Tx::append_rtlog`].
    pub fn append_record(&self, r: &NewRecord) -> Result<i64> {
        if r.kind == RecordKind::RtLog {
            return Err(StoreError {
                path: String::new(),
                action: "append record: an rtlog record is appended with append_rtlog".into(),
                source: rusqlite::Error::InvalidQuery,
            });
        }
        self.insert_record(None, r)
    }

    /// Appends an access event; its id becomes its `index` [note §8.3] (`log.index` is ignored)
    /// and the stored line is the rtlog record with that index. Returns the id. A pin or card
    /// that would break the record syntax is refused before anything is written.
    pub fn append_rtlog(&self, log: &RtLog) -> Result<i64> {
        // AUTOINCREMENT's rule: one past the largest id the table ever held. The write
        // transaction holds the lock, so nobody takes the id between here and the insert.
        let id: i64 = self
            .conn
            .prepare_cached(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'records'), 0),
                            COALESCE((SELECT MAX(id) FROM records), 0)) + 1",
            )
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .ctx("choose record id")?;
        let index = u64::try_from(id)
            .map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, id))
            .ctx("choose record id")?;
        let line = RtLog {
            index,
            ..log.clone()
        }
        .encode()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
        .ctx("encode rtlog record")?;
        self.insert_record(
            Some(id),
            &NewRecord {
                kind: RecordKind::RtLog,
                pin: log.pin.clone(),
                time: log.time,
                line,
                credential: None,
            },
        )
    }

    /// Inserts `r`, with id `id` or the next one.
    fn insert_record(&self, id: Option<i64>, r: &NewRecord) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO records (id, upload_table, kind, pin, time, line, credential) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    r.kind.upload_table().as_str(),
                    r.kind.as_str(),
                    r.pin,
                    r.time.to_string(),
                    r.line,
                    r.credential
                ])
            })
            .ctx("append record")?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn upload_state(&self, table: StampTable) -> Result<UploadState> {
        let state = self
            .conn
            .prepare_cached(
                "SELECT acked_id, server_stamp, inflight_first, inflight_last, uploaded_total, partial_acks, last_upload_at
                 FROM upload_state WHERE upload_table = ?1",
            )
            .and_then(|mut s| {
                s.query_row([table.as_str()], |r| {
                    let first: Option<i64> = r.get(2)?;
                    let last: Option<i64> = r.get(3)?;
                    Ok(UploadState {
                        acked_id: r.get(0)?,
                        server_stamp: r.get(1)?,
                        inflight: first.zip(last),
                        uploaded_total: r.get(4)?,
                        partial_acks: r.get(5)?,
                        last_upload_at: r.get(6)?,
                    })
                })
                .optional()
            })
            .ctx("read upload state")?;
        Ok(state.unwrap_or(UploadState {
            acked_id: 0,
            server_stamp: String::new(),
            inflight: None,
            uploaded_total: 0,
            partial_acks: 0,
            last_upload_at: None,
        }))
    }

    fn ensure_upload_state(&self, table: StampTable) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO upload_state (upload_table) VALUES (?1)")
            .and_then(|mut s| s.execute([table.as_str()]))
            .ctx("create upload state")?;
        Ok(())
    }

    /// Whether `table` holds records the server has not acknowledged.
    pub fn has_backlog(&self, table: StampTable) -> Result<bool> {
        let acked = self.upload_state(table)?.acked_id;
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM records WHERE upload_table = ?1 AND id > ?2)",
            )
            .and_then(|mut s| s.query_row(params![table.as_str(), acked], |r| r.get(0)))
            .ctx("check backlog")
    }

    pub fn backlog_count(&self, table: StampTable) -> Result<i64> {
        let acked = self.upload_state(table)?.acked_id;
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM records WHERE upload_table = ?1 AND id > ?2")
            .and_then(|mut s| s.query_row(params![table.as_str(), acked], |r| r.get(0)))
            .ctx("count backlog")
    }

    /// The next unacknowledged records of `table` in id order: at most `limit` records and about
    /// `max_bytes` of text (always at least one record).
    pub fn backlog(
        &self,
        table: StampTable,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(i64, String)>> {
        self.backlog_after(table, 0, limit, max_bytes)
    }

    /// The unacknowledged records of `table` with an id above `after_id`, bounded as
    /// [`Tx::backlog`]: `DATA QUERY … filter=NewRecord` pages through them [note §5.1, §8.3].
    pub fn backlog_after(
        &self,
        table: StampTable,
        after_id: i64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(i64, String)>> {
        let acked = self.upload_state(table)?.acked_id;
        self.records_after(table, acked.max(after_id), limit, max_bytes)
    }

    /// Records of `table` with an id above `after_id`, in id order, bounded as [`Tx::backlog`].
    pub fn records_after(
        &self,
        table: StampTable,
        after_id: i64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, line FROM records WHERE upload_table = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
            .ctx("prepare record read")?;
        let rows = stmt
            .query_map(params![table.as_str(), after_id, limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .ctx("read records")?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for row in rows {
            let (id, line) = row.ctx("read record row")?;
            bytes += line.len() + 1;
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push((id, line));
        }
        Ok(out)
    }

    /// Notes a batch that is about to be sent, so that after a lost reply or a crash the server's
    /// echoed stamp can tell whether it arrived.
    pub fn mark_inflight(&self, table: StampTable, first: i64, last: i64) -> Result<()> {
        self.ensure_upload_state(table)?;
        self.conn
            .prepare_cached("UPDATE upload_state SET inflight_first = ?2, inflight_last = ?3 WHERE upload_table = ?1")
            .and_then(|mut s| s.execute(params![table.as_str(), first, last]))
            .ctx("mark batch in flight")?;
        Ok(())
    }

    /// Records the server's acknowledgement of the batch ending at `last_id`.
    pub fn ack_upload(
        &self,
        table: StampTable,
        last_id: i64,
        count: usize,
        partial: bool,
        now_unix: i64,
    ) -> Result<()> {
        self.ensure_upload_state(table)?;
        self.conn
            .prepare_cached(
                "UPDATE upload_state SET acked_id = MAX(acked_id, ?2), inflight_first = NULL, inflight_last = NULL,
                 uploaded_total = uploaded_total + ?3, partial_acks = partial_acks + ?4, last_upload_at = ?5
                 WHERE upload_table = ?1",
            )
            .and_then(|mut s| s.execute(params![table.as_str(), last_id, count as i64, i64::from(partial), now_unix]))
            .ctx("acknowledge upload")?;
        Ok(())
    }

    pub fn clear_inflight(&self, table: StampTable) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE upload_state SET inflight_first = NULL, inflight_last = NULL WHERE upload_table = ?1")
            .and_then(|mut s| s.execute([table.as_str()]))
            .ctx("clear batch in flight")?;
        Ok(())
    }

    /// Starts the upload of `table` over from its first record (the server sent Stamp=0).
    pub fn restart_upload(&self, table: StampTable) -> Result<()> {
        self.ensure_upload_state(table)?;
        self.conn
            .prepare_cached(
                "UPDATE upload_state SET acked_id = 0, inflight_first = NULL, inflight_last = NULL WHERE upload_table = ?1",
            )
            .and_then(|mut s| s.execute([table.as_str()]))
            .ctx("restart upload")?;
        Ok(())
    }

    pub fn set_server_stamp(&self, table: StampTable, stamp: &str) -> Result<()> {
        self.ensure_upload_state(table)?;
        self.conn
            .prepare_cached("UPDATE upload_state SET server_stamp = ?2 WHERE upload_table = ?1")
            .and_then(|mut s| s.execute(params![table.as_str(), stamp]))
            .ctx("store server stamp")?;
        Ok(())
    }

    /// The id of the newest record of any kind (0 when there is none).
    pub fn last_record_id(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM records", [], |r| r.get(0))
            .ctx("read the last record id")
    }

    pub fn count_records(&self, kind: RecordKind) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM records WHERE kind = ?1")
            .and_then(|mut s| s.query_row([kind.as_str()], |r| r.get(0)))
            .ctx("count records")
    }

    /// Attendance records with `from <= time <= to`, after id `after_id`, in id order.
    pub fn attlogs_between(
        &self,
        from: LocalDateTime,
        to: LocalDateTime,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>> {
        self.records_between(RecordKind::AttLog, from, to, after_id, limit)
    }

    pub fn count_attlogs_between(&self, from: LocalDateTime, to: LocalDateTime) -> Result<i64> {
        self.count_records_between(RecordKind::AttLog, from, to)
    }

    /// Records of `kind` with local time `from <= time <= to`, after id `after_id`, in id order
    /// (an rtlog `starttime…endtime` query [note §5.1]).
    pub fn records_between(
        &self,
        kind: RecordKind,
        from: LocalDateTime,
        to: LocalDateTime,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, line FROM records WHERE kind = ?1 AND time >= ?2 AND time <= ?3 AND id > ?4
                 ORDER BY id LIMIT ?5",
            )
            .ctx("prepare record query")?;
        let rows = stmt
            .query_map(
                params![
                    kind.as_str(),
                    from.to_string(),
                    to.to_string(),
                    after_id,
                    limit as i64
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx("query records")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read record rows")
    }

    pub fn count_records_between(
        &self,
        kind: RecordKind,
        from: LocalDateTime,
        to: LocalDateTime,
    ) -> Result<i64> {
        self.conn
            .prepare_cached(
                "SELECT COUNT(*) FROM records WHERE kind = ?1 AND time >= ?2 AND time <= ?3",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![kind.as_str(), from.to_string(), to.to_string()],
                    |r| r.get(0),
                )
            })
            .ctx("count records in window")
    }

    /// Every stored record, of every table: what the capacity check weighs [C20]. Counts the
    /// rows (cost grows with the store); call it when appending is rare or cache it.
    pub fn count_all_records(&self) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM records")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .ctx("count all records")
    }

    /// Deletes the `n` oldest records of `table` to make room [C20]; returns (deleted, of which
    /// the server had not acknowledged). Those are lost to the server: the caller logs and
    /// counts them. A batch in flight stays noted: its acknowledgement still moves the cursor.
    pub fn delete_oldest(&self, table: StampTable, n: usize) -> Result<(i64, i64)> {
        let last: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT MAX(id) FROM (SELECT id FROM records WHERE upload_table = ?1 ORDER BY id LIMIT ?2)",
            )
            .and_then(|mut s| {
                s.query_row(params![table.as_str(), i64::try_from(n).unwrap_or(i64::MAX)], |r| {
                    r.get(0)
                })
            })
            .ctx("find the oldest records")?;
        let Some(last) = last else {
            return Ok((0, 0));
        };
        let acked = self.upload_state(table)?.acked_id;
        let unacked: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM records WHERE upload_table = ?1 AND id > ?2 AND id <= ?3",
            )
            .and_then(|mut s| s.query_row(params![table.as_str(), acked, last], |r| r.get(0)))
            .ctx("count unacknowledged records")?;
        let deleted = self
            .conn
            .prepare_cached("DELETE FROM records WHERE upload_table = ?1 AND id <= ?2")
            .and_then(|mut s| s.execute(params![table.as_str(), last]))
            .ctx("delete the oldest records")?;
        Ok((deleted as i64, unacked))
    }

    /// Deletes every record of `kind`; returns (deleted, of which never acknowledged).
    pub fn delete_records(&self, kind: RecordKind) -> Result<(i64, i64)> {
        let acked = self.upload_state(kind.upload_table())?.acked_id;
        let unacked: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM records WHERE kind = ?1 AND id > ?2",
                params![kind.as_str(), acked],
                |r| r.get(0),
            )
            .ctx("count unacknowledged records")?;
        let deleted = self
            .conn
            .execute("DELETE FROM records WHERE kind = ?1", [kind.as_str()])
            .ctx("delete records")?;
        self.clear_inflight(kind.upload_table())?;
        Ok((deleted as i64, unacked))
    }

    // ----- users -----

    pub fn user(&self, pin: &str) -> Result<Option<User>> {
        self.conn
            .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE pin = ?1"))
            .and_then(|mut s| s.query_row([pin], user_from_row).optional())
            .ctx("read user")
    }

    pub fn user_by_card(&self, card: u64) -> Result<Option<User>> {
        let Ok(card) = i64::try_from(card) else {
            return Ok(None);
        };
        self.conn
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE pin = (SELECT pin FROM cards WHERE card = ?1)"
            ))
            .and_then(|mut s| s.query_row([card], user_from_row).optional())
            .ctx("find user by card")
    }

    /// Adds or replaces a user. A card that belonged to someone else moves to this user and leaves
    /// the other (one card, one holder). The user's extra cards (`mulcarduser`) stay, and a card
    /// the user keeps keeps its lost flag.
    pub fn upsert_user(&self, u: &User) -> Result<()> {
        let previous = self.user(&u.pin)?;
        self.replace_user(u, previous.as_ref())
    }

    /// [`Tx::upsert_user`] for a caller that has just read the stored user (`previous`): card
    /// bookkeeping is skipped when the cards did not change.
    pub fn replace_user(&self, u: &User, previous: Option<&User>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO users (pin, name, privilege, password, card, grp, time_zones, verify, vice_card, valid_from, valid_until, disabled)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (pin) DO UPDATE SET name = ?2, privilege = ?3, password = ?4, card = ?5, grp = ?6,
                   time_zones = ?7, verify = ?8, vice_card = ?9, valid_from = ?10, valid_until = ?11, disabled = ?12",
            )
            .and_then(|mut s| {
                s.execute(params![
                    u.pin,
                    u.name,
                    u.privilege,
                    u.password,
                    u.card.and_then(|c| i64::try_from(c).ok()),
                    u.group,
                    u.time_zones,
                    u.verify,
                    u.vice_card,
                    u.valid_from.map(|d| d.to_string()),
                    u.valid_until.map(|d| d.to_string()),
                    u.disabled,
                ])
            })
            .ctx("store user")?;
        if previous.is_some_and(|p| p.card == u.card && p.vice_card == u.vice_card) {
            return Ok(());
        }
        let own = [
            (u.card, CardRole::Main),
            (u.vice_card_number(), CardRole::Vice),
        ]
        .map(|(card, role)| (card.and_then(|c| i64::try_from(c).ok()), role));
        if previous.is_some() {
            // A new user has no card rows yet (they go with the user, ON DELETE CASCADE).
            self.conn
                .prepare_cached(
                    "DELETE FROM cards WHERE pin = ?1 AND role IN ('main', 'vice') AND card IS NOT ?2 AND card IS NOT ?3",
                )
                .and_then(|mut s| s.execute(params![u.pin, own[0].0, own[1].0]))
                .ctx("drop old cards")?;
        }
        for (card, role) in own {
            if let Some(card) = card {
                self.assign_card(card, &u.pin, role, None)?;
            }
        }
        Ok(())
    }

    /// Deletes a user with their cards and access rights (authorizations, first-card and
    /// super-user rows; see schema 3); false when there was no such user.
    pub fn delete_user(&self, pin: &str) -> Result<bool> {
        self.delete_rights_of(pin)?;
        let n = self
            .conn
            .prepare_cached("DELETE FROM users WHERE pin = ?1")
            .and_then(|mut s| s.execute([pin]))
            .ctx("delete user")?;
        Ok(n > 0)
    }

    /// Users with a PIN after `after_pin`, in PIN order.
    pub fn users_after(&self, after_pin: &str, limit: usize) -> Result<Vec<User>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE pin > ?1 ORDER BY pin LIMIT ?2"
            ))
            .ctx("prepare user list")?;
        let rows = stmt
            .query_map(params![after_pin, limit as i64], user_from_row)
            .ctx("list users")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read user rows")
    }

    pub fn count_users(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
            .ctx("count users")
    }

    /// Deletes every user, card and access right (as [`Tx::delete_user`] for each).
    pub fn delete_all_users(&self) -> Result<i64> {
        for table in [
            AccessTable::Authorizations,
            AccessTable::FirstCards,
            AccessTable::SuperUsers,
        ] {
            self.delete_access(&AccessDelete::All(table))?;
        }
        self.conn
            .execute("DELETE FROM users", [])
            .map(|n| n as i64)
            .ctx("delete users")
    }

    // ----- commands -----

    /// The stored reply of a command already run: `Some(None)` while its query is still uploading.
    pub fn executed_reply(&self, cmd_id: &str) -> Result<Option<Option<(String, bool)>>> {
        self.conn
            .prepare_cached("SELECT reply, multi_line FROM executed_commands WHERE cmd_id = ?1")
            .and_then(|mut s| {
                s.query_row([cmd_id], |r| {
                    let reply: Option<String> = r.get(0)?;
                    let multi: bool = r.get(1)?;
                    Ok(reply.map(|b| (b, multi)))
                })
                .optional()
            })
            .ctx("look up executed command")
    }

    /// Records that `cmd_id` ran. With a reply body, queues that reply for the server.
    pub fn record_execution(
        &self,
        cmd_id: &str,
        name: &str,
        reply: Option<(&str, bool)>,
        now_unix: i64,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO executed_commands (cmd_id, name, reply, multi_line, executed_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (cmd_id) DO UPDATE SET reply = ?3, multi_line = ?4",
            )
            .and_then(|mut s| s.execute(params![cmd_id, name, reply.map(|r| r.0), reply.is_some_and(|r| r.1), now_unix]))
            .ctx("record executed command")?;
        if let Some((body, multi_line)) = reply {
            self.queue_reply(cmd_id, body, multi_line)?;
        }
        Ok(())
    }

    /// Queues a reply unless one for the same command is already waiting.
    pub fn queue_reply(&self, cmd_id: &str, body: &str, multi_line: bool) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO pending_replies (cmd_id, body, multi_line) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![cmd_id, body, multi_line]))
            .ctx("queue reply")?;
        Ok(())
    }

    /// Forgets the oldest executed commands beyond [`EXECUTED_COMMANDS_KEPT`].
    pub fn prune_executed(&self) -> Result<()> {
        self.conn
            .prepare_cached(
                "DELETE FROM executed_commands WHERE seq <= (SELECT MAX(seq) FROM executed_commands) - ?1
                 AND cmd_id NOT IN (SELECT cmd_id FROM pending_replies) AND reply IS NOT NULL",
            )
            .and_then(|mut s| s.execute([EXECUTED_COMMANDS_KEPT]))
            .ctx("prune executed commands")?;
        Ok(())
    }

    pub fn pending_replies(&self, limit: usize) -> Result<Vec<PendingReply>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, cmd_id, body, multi_line FROM pending_replies ORDER BY seq LIMIT ?1",
            )
            .ctx("prepare pending replies")?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(PendingReply {
                    seq: r.get(0)?,
                    cmd_id: r.get(1)?,
                    body: r.get(2)?,
                    multi_line: r.get(3)?,
                })
            })
            .ctx("read pending replies")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read pending reply rows")
    }

    pub fn count_pending_replies(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM pending_replies", [], |r| r.get(0))
            .ctx("count pending replies")
    }

    pub fn delete_replies(&self, seqs: &[i64]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM pending_replies WHERE seq = ?1")
            .ctx("prepare reply delete")?;
        for seq in seqs {
            stmt.execute([seq]).ctx("delete delivered reply")?;
        }
        Ok(())
    }

    // ----- query jobs -----

    pub fn add_query_job(&self, job: &QueryJob) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO query_jobs (cmd_id, target, pin, time_from, time_to, after_key, uploaded,
                   payload, reply, total, upto_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    job.cmd_id,
                    job.target.as_str(),
                    job.pin,
                    job.time_from.map(|t| t.to_string()),
                    job.time_to.map(|t| t.to_string()),
                    job.after_key,
                    job.uploaded,
                    job.payload,
                    job.reply,
                    job.total,
                    job.upto_id
                ],
            )
            .ctx("store query job")?;
        Ok(())
    }

    pub fn next_query_job(&self) -> Result<Option<QueryJob>> {
        self.conn
            .prepare_cached(
                "SELECT cmd_id, target, pin, time_from, time_to, after_key, uploaded, payload, reply, total, upto_id
                 FROM query_jobs ORDER BY seq LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row([], |r| {
                    let time = |i: usize| opt_time(r, i);
                    Ok(QueryJob {
                        cmd_id: r.get(0)?,
                        target: QueryTarget::parse(&r.get::<_, String>(1)?),
                        pin: r.get(2)?,
                        time_from: time(3)?,
                        time_to: time(4)?,
                        after_key: r.get(5)?,
                        uploaded: r.get(6)?,
                        payload: r.get(7)?,
                        reply: r.get(8)?,
                        total: r.get(9)?,
                        upto_id: r.get(10)?,
                    })
                })
                .optional()
            })
            .ctx("read query job")
    }

    pub fn has_query_job(&self) -> Result<bool> {
        self.conn
            .query_row("SELECT EXISTS (SELECT 1 FROM query_jobs)", [], |r| r.get(0))
            .ctx("check query jobs")
    }

    pub fn advance_query_job(&self, cmd_id: &str, after_key: &str, uploaded: usize) -> Result<()> {
        self.conn
            .execute(
                "UPDATE query_jobs SET after_key = ?2, uploaded = uploaded + ?3 WHERE cmd_id = ?1",
                params![cmd_id, after_key, uploaded as i64],
            )
            .ctx("advance query job")?;
        Ok(())
    }

    pub fn finish_query_job(&self, cmd_id: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM query_jobs WHERE cmd_id = ?1", [cmd_id])
            .ctx("finish query job")?;
        Ok(())
    }

    pub fn delete_query_jobs(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT cmd_id FROM query_jobs")
            .ctx("prepare query job list")?;
        let ids = stmt
            .query_map([], |r| r.get(0))
            .ctx("list query jobs")?
            .collect::<rusqlite::Result<Vec<String>>>();
        let ids = ids.ctx("read query jobs")?;
        self.conn
            .execute("DELETE FROM query_jobs", [])
            .ctx("delete query jobs")?;
        Ok(ids)
    }

    // ----- settings -----

    pub fn setting(&self, scope: &str, key: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT value FROM settings WHERE scope = ?1 AND key = ?2")
            .and_then(|mut s| s.query_row([scope, key], |r| r.get(0)).optional())
            .ctx("read setting")
    }

    pub fn set_setting(&self, scope: &str, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO settings (scope, key, value) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute([scope, key, value]))
            .ctx("store setting")?;
        Ok(())
    }

    pub fn delete_setting(&self, scope: &str, key: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM settings WHERE scope = ?1 AND key = ?2",
                [scope, key],
            )
            .ctx("delete setting")?;
        Ok(())
    }

    pub fn settings(&self, scope: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM settings WHERE scope = ?1 ORDER BY key")
            .ctx("prepare settings")?;
        let rows = stmt
            .query_map([scope], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("read settings")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read setting rows")
    }
}

const USER_COLUMNS: &str = "pin, name, privilege, password, card, grp, time_zones, verify, vice_card, valid_from, valid_until, disabled";

/// An optional time column; a value this build cannot parse reads as none.
fn opt_time(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<LocalDateTime>> {
    Ok(r.get::<_, Option<String>>(i)?
        .and_then(|t| LocalDateTime::parse(&t).ok()))
}

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let date = |i: usize| opt_time(r, i);
    Ok(User {
        pin: r.get(0)?,
        name: r.get(1)?,
        privilege: r.get(2)?,
        password: r.get(3)?,
        card: r
            .get::<_, Option<i64>>(4)?
            .and_then(|c| u64::try_from(c).ok()),
        group: r.get(5)?,
        time_zones: r.get(6)?,
        verify: r.get(7)?,
        vice_card: r.get(8)?,
        valid_from: date(9)?,
        valid_until: date(10)?,
        disabled: r.get(11)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::model::Card;
    use crate::protocol::security::rtlog::{InOutStatus, VerifyType};

    fn t(s: &str) -> LocalDateTime {
        LocalDateTime::parse(s).unwrap()
    }

    fn attlog(pin: &str, time: &str) -> NewRecord {
        NewRecord {
            kind: RecordKind::AttLog,
            pin: pin.into(),
            time: t(time),
            line: format!("{pin}\t{time}\t0\t4\t0\t0\t0"),
            credential: None,
        }
    }

    #[test]
    fn migrations_apply_once_and_set_the_version() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        let v: i64 = s.read(|tx| {
            tx.conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .ctx("v")
        })?;
        assert_eq!(v, schema::MIGRATIONS.len() as i64);
        migrate(&mut s.conn)?;
        Ok(())
    }

    #[test]
    fn refuses_a_store_from_a_newer_build() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Store::open(&path).err().unwrap().to_string();
        assert!(err.contains("newer push-agent"), "{err}");
    }

    #[test]
    fn ids_grow_and_are_never_reused_after_deletion() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        let a = s.write(|tx| tx.append_record(&attlog("1", "2026-01-01 08:00:00")))?;
        let b = s.write(|tx| tx.append_record(&attlog("1", "2026-01-01 08:00:01")))?;
        assert!(b > a);
        s.write(|tx| tx.delete_records(RecordKind::AttLog))?;
        let c = s.write(|tx| tx.append_record(&attlog("1", "2026-01-01 08:00:02")))?;
        assert!(c > b);
        Ok(())
    }

    #[test]
    fn backlog_advances_only_on_acknowledgement() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        for i in 0..5 {
            s.write(|tx| tx.append_record(&attlog(&i.to_string(), "2026-01-01 08:00:00")))?;
        }
        let batch = s.read(|tx| tx.backlog(StampTable::AttLog, 3, 1 << 20))?;
        assert_eq!(batch.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3]);
        s.write(|tx| tx.mark_inflight(StampTable::AttLog, 1, 3))?;
        assert_eq!(
            s.read(|tx| tx.backlog_count(StampTable::AttLog))?,
            5,
            "in flight is not acknowledged"
        );
        s.write(|tx| tx.ack_upload(StampTable::AttLog, 3, 3, false, 0))?;
        assert_eq!(s.read(|tx| tx.backlog_count(StampTable::AttLog))?, 2);
        assert_eq!(
            s.read(|tx| tx.upload_state(StampTable::AttLog))?.inflight,
            None
        );
        s.write(|tx| tx.restart_upload(StampTable::AttLog))?;
        assert_eq!(s.read(|tx| tx.backlog_count(StampTable::AttLog))?, 5);
        assert!(!s.read(|tx| tx.has_backlog(StampTable::OperLog))?);
        Ok(())
    }

    #[test]
    fn backlog_respects_the_byte_budget_but_returns_at_least_one() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        for _ in 0..4 {
            s.write(|tx| tx.append_record(&attlog("1", "2026-01-01 08:00:00")))?;
        }
        let line_len = attlog("1", "2026-01-01 08:00:00").line.len() + 1;
        assert_eq!(
            s.read(|tx| tx.backlog(StampTable::AttLog, 10, line_len * 2))?
                .len(),
            2
        );
        assert_eq!(s.read(|tx| tx.backlog(StampTable::AttLog, 10, 1))?.len(), 1);
        Ok(())
    }

    #[test]
    fn a_card_has_one_holder() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        let mut ann = User::new("1");
        ann.card = Some(55);
        s.write(|tx| tx.upsert_user(&ann))?;
        assert_eq!(s.read(|tx| tx.user_by_card(55))?.unwrap().pin, "1");
        let mut bob = User::new("2");
        bob.card = Some(55);
        bob.vice_card = "66".into();
        s.write(|tx| tx.upsert_user(&bob))?;
        assert_eq!(s.read(|tx| tx.user_by_card(55))?.unwrap().pin, "2");
        assert_eq!(s.read(|tx| tx.user_by_card(66))?.unwrap().pin, "2");
        assert_eq!(s.read(|tx| tx.user("1"))?.unwrap().card, None);
        assert!(s.write(|tx| tx.delete_user("2"))?);
        assert_eq!(
            s.read(|tx| tx.user_by_card(55))?,
            None,
            "cards go with their user"
        );
        assert!(!s.write(|tx| tx.delete_user("2"))?);
        Ok(())
    }

    #[test]
    fn users_round_trip_every_field() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        let mut u = User::new("77");
        u.name = "Ann".into();
        u.privilege = 14;
        u.password = "12".into();
        u.card = Some(u64::from(u32::MAX) + 5);
        u.group = 3;
        u.verify = 4;
        u.valid_from = Some(t("2026-01-01 00:00:00"));
        s.write(|tx| tx.upsert_user(&u))?;
        assert_eq!(s.read(|tx| tx.user("77"))?, Some(u));
        Ok(())
    }

    #[test]
    fn replies_queue_once_per_command() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| tx.record_execution("A", "DATA", Some(("ID=A&Return=0&CMD=DATA", false)), 0))?;
        s.write(|tx| tx.queue_reply("A", "ID=A&Return=0&CMD=DATA", false))?;
        let pending = s.read(|tx| tx.pending_replies(10))?;
        assert_eq!(pending.len(), 1);
        assert_eq!(
            s.read(|tx| tx.executed_reply("A"))?,
            Some(Some(("ID=A&Return=0&CMD=DATA".into(), false)))
        );
        assert_eq!(s.read(|tx| tx.executed_reply("B"))?, None);
        s.write(|tx| tx.delete_replies(&[pending[0].seq]))?;
        assert_eq!(s.read(|tx| tx.count_pending_replies())?, 0);
        Ok(())
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        let r: Result<()> = s.write(|tx| {
            tx.append_record(&attlog("1", "2026-01-01 08:00:00"))?;
            Err(StoreError {
                path: String::new(),
                action: "boom".into(),
                source: rusqlite::Error::InvalidQuery,
            })
        });
        assert!(r.is_err());
        assert_eq!(s.read(|tx| tx.count_records(RecordKind::AttLog))?, 0);
        Ok(())
    }

    fn rtlog(pin: &str, time: &str) -> RtLog {
        RtLog {
            time: t(time),
            pin: pin.into(),
            cardno: "123".into(),
            sitecode: 0,
            linkid: 0,
            eventaddr: 1,
            event: 0,
            inoutstatus: InOutStatus::In,
            verifytype: VerifyType::Code(4),
            index: 0,
        }
    }

    #[test]
    fn an_rtlog_record_carries_its_id_as_index() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| tx.append_record(&attlog("1", "2026-01-01 08:00:00")))?;
        let log = RtLog {
            index: 77, // ignored: the store numbers the record
            ..rtlog("5", "2026-01-01 08:00:01")
        };
        let id = s.write(|tx| tx.append_rtlog(&log))?;
        assert_eq!(id, 2, "one id sequence for every table");
        let expected = RtLog { index: 2, ..log }.encode().unwrap();
        assert!(expected.ends_with("\tindex=2"), "{expected}");
        assert_eq!(
            s.read(|tx| tx.backlog(StampTable::RtLog, 10, 1 << 20))?,
            [(2, expected)]
        );
        assert_eq!(s.read(|tx| tx.count_records(RecordKind::RtLog))?, 1);
        assert_eq!(s.read(|tx| tx.count_records(RecordKind::AttLog))?, 1);
        // Ids are not reused after the newest record is deleted.
        s.write(|tx| tx.delete_records(RecordKind::RtLog))?;
        s.write(|tx| tx.delete_records(RecordKind::AttLog))?;
        let next = s.write(|tx| tx.append_rtlog(&rtlog("5", "2026-01-01 08:00:02")))?;
        assert_eq!(next, 3);
        let lines = s.read(|tx| tx.backlog(StampTable::RtLog, 10, 1 << 20))?;
        assert!(lines[0].1.ends_with("\tindex=3"), "{lines:?}");
        Ok(())
    }

    #[test]
    fn rejects_an_rtlog_record_that_would_break_the_syntax_and_writes_nothing() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        let err = s
            .write(|tx| tx.append_rtlog(&rtlog("1\t2", "2026-01-01 08:00:00")))
            .unwrap_err();
        assert!(err.to_string().contains("encode rtlog record"), "{err}");
        let sneaked = NewRecord {
            kind: RecordKind::RtLog,
            pin: "1".into(),
            time: t("2026-01-01 08:00:00"),
            line: "time=2026-01-01 08:00:00".into(),
            credential: None,
        };
        assert!(s.write(|tx| tx.append_record(&sneaked)).is_err());
        assert_eq!(s.read(|tx| tx.count_all_records())?, 0);
        Ok(())
    }

    /// Records 1..=6: rtlog 1, 2, 3, attlog 4, rtlog 5, 6, one a minute from 08:00; the server
    /// acknowledged rtlog up to 2.
    fn security_records() -> Result<Store> {
        let mut s = Store::open_in_memory()?;
        s.write(|tx| {
            for minute in 0..6 {
                let time = format!("2026-01-01 08:0{minute}:00");
                if minute == 3 {
                    tx.append_record(&attlog("1", &time))?;
                } else {
                    tx.append_rtlog(&rtlog("1", &time))?;
                }
            }
            tx.ack_upload(StampTable::RtLog, 2, 2, false, 0)
        })?;
        Ok(s)
    }

    fn ids(rows: &[(i64, String)]) -> Vec<i64> {
        rows.iter().map(|r| r.0).collect()
    }

    #[test]
    fn new_records_are_the_rtlogs_above_the_acknowledged_id() -> Result<()> {
        let mut s = security_records()?;
        let new_after = |s: &mut Store, after| {
            s.read(|tx| tx.backlog_after(StampTable::RtLog, after, 10, 1 << 20))
        };
        assert_eq!(ids(&new_after(&mut s, 0)?), [3, 5, 6]);
        assert_eq!(
            ids(&new_after(&mut s, 5)?),
            [6],
            "paging on after the last row sent"
        );
        assert_eq!(ids(&new_after(&mut s, 6)?), Vec::<i64>::new());
        assert_eq!(s.read(|tx| tx.backlog_count(StampTable::RtLog))?, 3);
        assert_eq!(s.read(|tx| tx.count_records(RecordKind::RtLog))?, 5);
        Ok(())
    }

    #[test]
    fn queries_rtlogs_by_local_time_window() -> Result<()> {
        let mut s = security_records()?;
        let (from, to) = (t("2026-01-01 08:01:00"), t("2026-01-01 08:04:59"));
        let rows = s.read(|tx| tx.records_between(RecordKind::RtLog, from, to, 0, 10))?;
        assert_eq!(
            ids(&rows),
            [2, 3, 5],
            "the attendance record 4 is not a transaction"
        );
        assert_eq!(
            ids(&s.read(|tx| tx.records_between(RecordKind::RtLog, from, to, 3, 10))?),
            [5]
        );
        assert_eq!(
            s.read(|tx| tx.count_records_between(RecordKind::RtLog, from, to))?,
            3
        );
        Ok(())
    }

    #[test]
    fn deleting_every_rtlog_reports_the_unacknowledged_and_keeps_other_tables() -> Result<()> {
        let mut s = security_records()?;
        assert_eq!(s.write(|tx| tx.delete_records(RecordKind::RtLog))?, (5, 3));
        assert_eq!(s.read(|tx| tx.count_all_records())?, 1);
        assert_eq!(s.read(|tx| tx.count_records(RecordKind::AttLog))?, 1);
        Ok(())
    }

    #[test]
    fn delete_oldest_counts_the_unacknowledged_it_deletes() -> Result<()> {
        // (n, deleted, of which unacknowledged, rtlog ids left)
        let cases: [(usize, i64, i64, &[i64]); 5] = [
            (0, 0, 0, &[1, 2, 3, 5, 6]),
            (1, 1, 0, &[2, 3, 5, 6]),
            (2, 2, 0, &[3, 5, 6]),
            (4, 4, 2, &[6]),
            (10, 5, 3, &[]),
        ];
        for (n, deleted, unacked, left) in cases {
            let mut s = security_records()?;
            assert_eq!(s.read(|tx| tx.count_all_records())?, 6);
            assert_eq!(
                s.write(|tx| tx.delete_oldest(StampTable::RtLog, n))?,
                (deleted, unacked),
                "n = {n}"
            );
            let rest = s.read(|tx| tx.records_after(StampTable::RtLog, 0, 10, 1 << 20))?;
            assert_eq!(ids(&rest), left, "n = {n}");
            assert_eq!(s.read(|tx| tx.count_all_records())?, 1 + left.len() as i64);
        }
        let mut s = security_records()?;
        assert_eq!(
            s.write(|tx| tx.delete_oldest(StampTable::AttLog, 5))?,
            (1, 1)
        );
        assert_eq!(s.read(|tx| tx.count_records(RecordKind::RtLog))?, 5);
        assert_eq!(
            s.write(|tx| tx.delete_oldest(StampTable::AttLog, 5))?,
            (0, 0)
        );
        Ok(())
    }

    #[test]
    fn a_schema_2_store_keeps_its_cards_when_it_gains_the_access_tables() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &schema::MIGRATIONS[..2] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO users (pin, name, privilege, password, card, grp, time_zones, verify, vice_card)
                 VALUES ('1', '', 0, '', 55, 1, '', 0, '');
                 INSERT INTO cards (card, pin, role) VALUES (55, '1', 'main');",
            )
            .unwrap();
        }
        let mut s = Store::open(&path)?;
        assert_eq!(
            s.read(|tx| tx.card(55))?,
            Some(Card {
                number: 55,
                pin: "1".into(),
                lost: false
            })
        );
        assert_eq!(s.read(|tx| tx.authorizations_of("1"))?, []);
        Ok(())
    }

    #[test]
    fn queries_attendance_by_time_window() -> Result<()> {
        let mut s = Store::open_in_memory()?;
        for time in [
            "2026-01-01 07:59:59",
            "2026-01-01 08:00:00",
            "2026-01-01 12:00:00",
            "2026-01-02 00:00:00",
        ] {
            s.write(|tx| tx.append_record(&attlog("1", time)))?;
        }
        let (from, to) = (t("2026-01-01 08:00:00"), t("2026-01-01 23:59:59"));
        let rows = s.read(|tx| tx.attlogs_between(from, to, 0, 10))?;
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(s.read(|tx| tx.count_attlogs_between(from, to))?, 2);
        assert_eq!(s.read(|tx| tx.attlogs_between(from, to, 2, 10))?.len(), 1);
        Ok(())
    }
}
