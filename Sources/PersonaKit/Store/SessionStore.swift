import Foundation
import GRDB

/// A saved conversation's header: who took part, how, and about what.
public struct SessionInfo: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var persona: String
        public var name: String
        public var model: ModelRef

        public init(persona: String, name: String, model: ModelRef) {
            self.persona = persona
            self.name = name
            self.model = model
        }
    }

    public var id: String
    public var created: Date
    public var mode: ConversationMode
    public var topic: String
    public var roster: [Member]
    public var rounds: Int?
    public var judge: String?
    /// A name given with `persona sessions rename`, which commands accept instead of the id.
    public var name: String?

    public init(id: String, created: Date = Date(), mode: ConversationMode, topic: String, roster: [Member], rounds: Int? = nil,
                judge: String? = nil, name: String? = nil) {
        self.id = id
        self.created = created
        self.mode = mode
        self.topic = topic
        self.roster = roster
        self.rounds = rounds
        self.judge = judge
        self.name = name
    }
}

/// A line of `persona sessions list`; its cost comes from the ledger (`Ledger.totals(sessions:)`).
public struct SessionSummary: Sendable, Equatable {
    public var info: SessionInfo
    public var turns: Int
}

/// Saved sessions in `persona.db`. A message is written, in its own transaction, when its turn
/// ends, so a crash loses at most the turns still streaming. The session's setup (roster, models,
/// mode, rounds, judge) is written again with each conversation and when the screen closes, so
/// that a resume brings back the last one.
public final class SessionStore: Sendable {
    public let database: PersonaDatabase
    var pool: DatabasePool { database.pool }

    public init(database: PersonaDatabase) {
        self.database = database
    }

    /// Stores a session, or its new setup when it is stored already (its topic, time and name
    /// stay); a key pasted into the topic is stored hidden, as in its messages.
    public func create(_ info: SessionInfo) throws {
        try pool.write { db in try Self.create(info, in: db) }
    }

    /// A cached statement: a batch job creates a session per prompt in one transaction.
    static func create(_ info: SessionInfo, in db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO sessions (id, created_ms, mode, topic, roster, rounds, judge, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET mode = excluded.mode, roster = excluded.roster, rounds = excluded.rounds,
                judge = excluded.judge
            """).execute(arguments: [info.id, milliseconds(info.created), info.mode.rawValue, Secrets.redact(info.topic),
                             rosterJSON(info.roster), info.rounds, info.judge, info.name])
    }

    /// Records a stored session's setup as it stands now; a session never stored stays so.
    public func updateSetup(_ info: SessionInfo) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE sessions SET mode = ?, roster = ?, rounds = ?, judge = ? WHERE id = ?",
                           arguments: [info.mode.rawValue, Self.rosterJSON(info.roster), info.rounds, info.judge, info.id])
        }
    }

    static func rosterJSON(_ roster: [SessionInfo.Member]) -> String {
        JSON.array(roster.map { member in
            .object(["persona": .string(member.persona), "name": .string(member.name), "model": .string(member.model.description)])
        }).serialized
    }

    /// Stores a message; a key a provider echoed into its text or error is stored hidden.
    public func append(_ message: TranscriptMessage, to session: String, at date: Date = Date()) throws {
        try pool.write { db in
            try Self.append(message, to: session, at: date, in: db)
            try MessageSearchIndex.indexQueued(in: db)
        }
    }

    /// Stores messages inside a transaction that writes more, such as batch results' ledger rows;
    /// the transaction indexes them as it ends (`MessageSearchIndex.indexQueued`). Many rows go in
    /// one statement.
    static func append(_ messages: [(session: String, message: TranscriptMessage)], at date: Date, in db: Database) throws {
        let columns = 19
        let rowsPerStatement = 400
        for start in stride(from: 0, to: messages.count, by: rowsPerStatement) {
            let slice = messages[start..<min(messages.count, start + rowsPerStatement)]
            let row = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
            var arguments: [(any DatabaseValueConvertible)?] = []
            arguments.reserveCapacity(slice.count * columns)
            for (session, message) in slice { arguments += values(message, session: session, at: date) }
            try db.cachedStatement(sql: """
                INSERT INTO messages (session, round, speaker, name, role, provider, model, text, status, error, input_tokens,
                    output_tokens, cost_picos, estimated, dropped_turns, structured, tools, answer, created_ms)
                    VALUES \(Array(repeating: row, count: slice.count).joined(separator: ", "))
                """).execute(arguments: StatementArguments(arguments))
        }
    }

    static func append(_ message: TranscriptMessage, to session: String, at date: Date, in db: Database) throws {
        try append([(session, message)], at: date, in: db)
    }

    /// A message's columns, in the order the inserts name them; keys a provider echoed are hidden.
    private static func values(_ message: TranscriptMessage, session: String, at date: Date) -> [(any DatabaseValueConvertible)?] {
        [session, message.round, message.speaker, message.name, message.role.rawValue, message.provider, message.model,
         Secrets.redact(message.text), message.status.rawValue, message.error.map(Secrets.redact), message.inputTokens,
         message.outputTokens, message.costPicos, message.estimated, message.droppedTurns,
         message.structured.map { Secrets.redact($0.serialized) },
         message.tools.isEmpty ? nil : Secrets.redact(JSON.array(message.tools.map { .object($0.record) }).serialized),
         message.answer, milliseconds(date)]
    }

    /// Sessions, newest first, with their turn count.
    public func list(limit: Int = 50) throws -> [SessionSummary] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT s.*, COUNT(m.id) AS turns FROM sessions s LEFT JOIN messages m ON m.session = s.id
                GROUP BY s.id ORDER BY s.created_ms DESC LIMIT ?
                """, arguments: [limit]).map { row in SessionSummary(info: Self.info(row), turns: row["turns"]) }
        }
    }

    /// A session, named by its id, and its messages in order; nil when there is no such session.
    /// `SessionStore.find` turns a prefix, `last` or a name into the id.
    public func load(_ id: String) throws -> (info: SessionInfo, messages: [TranscriptMessage])? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]) else { return nil }
            let info = Self.info(row)
            let messages = try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE session = ? ORDER BY id", arguments: [info.id])
                .map(Self.message)
            return (info, messages)
        }
    }

    /// Stores a whole session at once (an imported export); its messages keep their order.
    public func insert(_ info: SessionInfo, messages: [TranscriptMessage]) throws {
        try create(info)
        for message in messages { try append(message, to: info.id) }
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    static func info(_ row: Row) -> SessionInfo {
        let roster = ((try? JSON.parse(row["roster"] as String))?.array ?? []).compactMap { member -> SessionInfo.Member? in
            guard let persona = member["persona"]?.string, let model = member["model"]?.string.flatMap({ try? ModelRef(parsing: $0) })
            else { return nil }
            return SessionInfo.Member(persona: persona, name: member["name"]?.string ?? persona, model: model)
        }
        return SessionInfo(id: row["id"], created: Date(timeIntervalSince1970: Double(row["created_ms"] as Int64) / 1000),
                           mode: ConversationMode(rawValue: row["mode"]) ?? .parallel, topic: row["topic"], roster: roster,
                           rounds: row["rounds"], judge: row["judge"], name: row["name"])
    }

    static func message(_ row: Row) -> TranscriptMessage {
        TranscriptMessage(round: row["round"], speaker: row["speaker"], name: row["name"],
                          role: TranscriptMessage.Role(rawValue: row["role"]) ?? .persona, text: row["text"],
                          status: TranscriptMessage.Status(rawValue: row["status"]) ?? .failed, error: row["error"],
                          provider: row["provider"], model: row["model"], inputTokens: row["input_tokens"],
                          outputTokens: row["output_tokens"], costPicos: row["cost_picos"], estimated: row["estimated"],
                          droppedTurns: row["dropped_turns"],
                          structured: (row["structured"] as String?).flatMap { try? JSON.parse($0) }, answer: row["answer"])
            .withTools(((row["tools"] as String?).flatMap { try? JSON.parse($0) }?.array ?? []).compactMap(ToolActivity.init(record:)))
    }
}
