import GRDB

/// The full-text index of messages (`messages_search`), for `persona sessions search`. A trigger
/// queues each new message in `messages_unindexed`; the transaction that added it indexes the
/// queue as its last step (`indexQueued`). Indexing each message as it is inserted cost more than
/// its ledger row in a batch: every later statement of the transaction opens a savepoint, and
/// FTS5 writes its pending terms out at each one, a segment per message.
enum MessageSearchIndex {
    /// Indexes the queued messages; the last step of a transaction that adds messages.
    static func indexQueued(in db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO messages_search(rowid, text) SELECT m.id, m.text FROM messages_unindexed u JOIN messages m ON m.id = u.id
            """).execute()
        try db.cachedStatement(sql: "DELETE FROM messages_unindexed").execute()
    }

    /// Indexes what a transaction left queued, if anything; a search's first step.
    static func catchUp(_ pool: DatabasePool) throws {
        guard try pool.read({ db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM messages_unindexed)") ?? false }) else { return }
        try pool.write { db in try indexQueued(in: db) }
    }

    /// Messages are queued for the index rather than indexed on insert; a message deleted before
    /// it was indexed only leaves the queue.
    static func migrateToQueue(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE messages_unindexed (id INTEGER PRIMARY KEY);
            DROP TRIGGER messages_search_insert;
            CREATE TRIGGER messages_search_queue AFTER INSERT ON messages BEGIN
                INSERT INTO messages_unindexed(id) VALUES (new.id);
            END;
            DROP TRIGGER messages_search_delete;
            CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
                INSERT INTO messages_search(messages_search, rowid, text) SELECT 'delete', old.id, old.text
                    WHERE NOT EXISTS (SELECT 1 FROM messages_unindexed WHERE id = old.id);
                DELETE FROM messages_unindexed WHERE id = old.id;
            END;
            """)
    }
}
