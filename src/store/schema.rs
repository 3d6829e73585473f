//! Schema migrations, keyed on SQLite's `user_version`. Each entry moves the schema from version
//! `i` to `i + 1`; entries are only ever appended.

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the backbone.
    r#"
    CREATE TABLE users (
        pin          TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        privilege    INTEGER NOT NULL,
        password     TEXT NOT NULL,
        card         INTEGER,
        grp          INTEGER NOT NULL,
        time_zones   TEXT NOT NULL,
        verify       INTEGER NOT NULL,
        vice_card    TEXT NOT NULL,
        valid_from   TEXT,
        valid_until  TEXT
    );
    -- Card lookup: one row per card number, main or vice, so a swipe is one index probe.
    CREATE TABLE cards (
        card  INTEGER PRIMARY KEY,
        pin   TEXT NOT NULL REFERENCES users(pin) ON DELETE CASCADE,
        role  TEXT NOT NULL
    );
    CREATE INDEX cards_by_pin ON cards(pin);

    -- Every record the device makes. AUTOINCREMENT: ids grow and are never reused, even after
    -- CLEAR LOG, so an id names one record for the life of the device.
    CREATE TABLE records (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        upload_table  TEXT NOT NULL,
        kind          TEXT NOT NULL,
        pin           TEXT NOT NULL,
        time          TEXT NOT NULL,
        line          TEXT NOT NULL,
        credential    TEXT
    );
    CREATE INDEX records_by_table ON records(upload_table, id);
    CREATE INDEX records_by_kind_time ON records(kind, time);

    -- Upload progress per table. acked_id moves only when the server acknowledged a batch.
    CREATE TABLE upload_state (
        upload_table    TEXT PRIMARY KEY,
        acked_id        INTEGER NOT NULL DEFAULT 0,
        server_stamp    TEXT NOT NULL DEFAULT '',
        inflight_first  INTEGER,
        inflight_last   INTEGER,
        uploaded_total  INTEGER NOT NULL DEFAULT 0,
        partial_acks    INTEGER NOT NULL DEFAULT 0,
        last_upload_at  INTEGER
    );

    -- Commands already run, with their reply, so a re-sent CmdID is answered and not re-run.
    -- reply is NULL while a DATA QUERY is still uploading its results. seq only orders rows
    -- (oldest pruned first): no AUTOINCREMENT, which costs a write per insert.
    CREATE TABLE executed_commands (
        seq          INTEGER PRIMARY KEY,
        cmd_id       TEXT NOT NULL UNIQUE,
        name         TEXT NOT NULL,
        reply        TEXT,
        multi_line   INTEGER NOT NULL DEFAULT 0,
        executed_at  INTEGER NOT NULL
    );

    -- Replies the server has not accepted yet, sent in seq order.
    CREATE TABLE pending_replies (
        seq         INTEGER PRIMARY KEY,
        cmd_id      TEXT NOT NULL UNIQUE,
        body        TEXT NOT NULL,
        multi_line  INTEGER NOT NULL
    );

    -- DATA QUERY results still to upload; after_key is the last row sent.
    CREATE TABLE query_jobs (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        cmd_id       TEXT NOT NULL UNIQUE,
        target       TEXT NOT NULL,
        pin          TEXT,
        time_from    TEXT,
        time_to      TEXT,
        after_key    TEXT NOT NULL DEFAULT '',
        uploaded     INTEGER NOT NULL DEFAULT 0
    );

    -- Small key/value state: the server's last option block, options set by command, contact
    -- times, the clock correction.
    CREATE TABLE settings (
        scope  TEXT NOT NULL,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (scope, key)
    );
    "#,
    // 2: the security dialect: blocklisted users.
    r#"
    ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
    "#,
];
