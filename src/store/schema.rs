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
    // 3: the security dialect's access tables [note §5.2]. Every lookup the access decision makes
    // is one primary-key or index probe. No table references users: the server may send a
    // user's rights before the user [note §5.1], so `Tx::delete_user` removes a user's
    // authorizations, first-card and super-user rows itself (a cascade AMB-46 allows, so a PIN
    // given to someone new never inherits old rights).
    r#"
    -- mulcarduser cards join the user's own cards here with role 'multi' (beside 'main' and
    -- 'vice'), so a swipe stays one probe. lost is LossCardFlag, settable on any card of a user.
    ALTER TABLE cards ADD COLUMN lost INTEGER NOT NULL DEFAULT 0;

    -- userauthorize, one row per (pin, time zone) [AMB-46]. doors is AuthorizeDoorId, bit n-1 =
    -- door n, stored as the signed 64-bit integer with the same bits (door 64 makes it negative).
    CREATE TABLE authorizations (
        pin          TEXT NOT NULL,
        timezone_id  INTEGER NOT NULL,
        doors        INTEGER NOT NULL,
        valid_from   TEXT,
        valid_until  TEXT,
        PRIMARY KEY (pin, timezone_id)
    ) WITHOUT ROWID;

    -- timezone. days holds 21 periods (Sunday first, three a day), holidays 9 (types 1..3, three
    -- each); a period is written start-end in minutes since midnight, periods separated by one
    -- space: readable, and exact for any stored value.
    CREATE TABLE timezones (
        id           INTEGER PRIMARY KEY,
        days         TEXT NOT NULL,
        holidays     TEXT NOT NULL,
        valid_from   TEXT,
        valid_until  TEXT
    );

    -- holiday, keyed by its date (the Holiday field); small, read whole.
    CREATE TABLE holidays (
        year    INTEGER NOT NULL,
        month   INTEGER NOT NULL,
        day     INTEGER NOT NULL,
        kind    INTEGER NOT NULL,
        yearly  INTEGER NOT NULL,
        PRIMARY KEY (year, month, day)
    ) WITHOUT ROWID;

    -- firstcard: the key is the whole row; looked up by door, deleted by door or by pin.
    CREATE TABLE first_cards (
        door         INTEGER NOT NULL,
        pin          TEXT NOT NULL,
        timezone_id  INTEGER NOT NULL,
        PRIMARY KEY (door, pin, timezone_id)
    ) WITHOUT ROWID;
    CREATE INDEX first_cards_by_pin ON first_cards(pin);

    -- multimcard, keyed by Index; group ids 0 are unused slots.
    CREATE TABLE multi_card_groups (
        idx     INTEGER PRIMARY KEY,
        door    INTEGER NOT NULL,
        group1  INTEGER NOT NULL,
        group2  INTEGER NOT NULL,
        group3  INTEGER NOT NULL,
        group4  INTEGER NOT NULL,
        group5  INTEGER NOT NULL
    );
    CREATE INDEX multi_card_groups_by_door ON multi_card_groups(door);

    -- SuperAuthorize.
    CREATE TABLE super_users (
        pin   TEXT NOT NULL,
        door  INTEGER NOT NULL,
        PRIMARY KEY (pin, door)
    ) WITHOUT ROWID;

    -- Door parameters [App 10], one row per configured door; a door without a row has the
    -- defaults. Enumerations are stored as their App 10 values. The two passwords are secrets:
    -- stored like user passwords, never logged.
    CREATE TABLE door_settings (
        door                   INTEGER PRIMARY KEY CHECK (door BETWEEN 1 AND 64),
        drive_secs             INTEGER NOT NULL,
        detector_secs          INTEGER NOT NULL,
        sensor                 INTEGER NOT NULL,
        close_and_lock         INTEGER NOT NULL,
        keep_open_tz           INTEGER NOT NULL,
        valid_tz               INTEGER NOT NULL,
        verify_mode            INTEGER NOT NULL,
        inter_secs             INTEGER NOT NULL,
        super_password         TEXT NOT NULL,
        duress_password        TEXT NOT NULL,
        first_card             INTEGER NOT NULL,
        multi_card             INTEGER NOT NULL,
        multi_card_inter_secs  INTEGER NOT NULL,
        in_out_apb             INTEGER NOT NULL,
        in_time_apb_secs       INTEGER NOT NULL,
        locked                 INTEGER NOT NULL,
        disabled               INTEGER NOT NULL
    );
    "#,
    // 4: security-dialect answers through /iclock/querydata: the precomputed body of a COUNT or
    // GET OPTIONS, the reply line to queue once the data is up, the rows a QUERY announced, and
    // the last record id it covers (records made later are not part of it).
    r#"
    ALTER TABLE query_jobs ADD COLUMN payload TEXT;
    ALTER TABLE query_jobs ADD COLUMN reply TEXT;
    ALTER TABLE query_jobs ADD COLUMN total INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE query_jobs ADD COLUMN upto_id INTEGER;
    "#,
    // 5: the reader tables [seed 003 §9.1.1]: ReaderProperty (the door and side a server's
    // ReaderID stands for), the Wiegand formats (list 0 DefaultWGFormat, 1 WGFormat; the
    // CardFormat as the server sent it, checked before it is stored) and ReaderWGFormat.
    r#"
    CREATE TABLE reader_properties (
        reader     INTEGER PRIMARY KEY,
        door       INTEGER NOT NULL,
        direction  INTEGER NOT NULL,
        disabled   INTEGER NOT NULL
    );
    CREATE TABLE wiegand_formats (
        list               INTEGER NOT NULL,
        id                 INTEGER NOT NULL,
        card_bit           INTEGER NOT NULL,
        card_format        TEXT NOT NULL,
        ext_parity_format  TEXT NOT NULL,
        auto_match         INTEGER NOT NULL,
        PRIMARY KEY (list, id)
    ) WITHOUT ROWID;
    CREATE TABLE reader_formats (
        reader         INTEGER NOT NULL,
        dev_id         INTEGER NOT NULL,
        format_id      INTEGER NOT NULL,
        verify_parity  INTEGER NOT NULL,
        reversal       INTEGER NOT NULL,
        PRIMARY KEY (reader, dev_id)
    ) WITHOUT ROWID;
    "#,
];
