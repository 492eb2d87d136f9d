import Foundation
import GRDB

/// A message that matched `persona sessions search`.
public struct SessionSearchHit: Sendable, Equatable {
    public var session: String
    public var sessionName: String?
    public var topic: String
    public var round: Int
    /// The persona's id, or `user` for the user's messages.
    public var speaker: String
    public var speakerName: String
    /// The matching part of the text, the matched words between `[` and `]`.
    public var snippet: String
}

/// Finding, naming, removing and searching saved sessions.
extension SessionStore {
    /// The id of the session `reference` names: `last` (the newest), an id, a name (any case),
    /// or a prefix of one id. A reference that names none, or several, is a `UsageError`.
    public func find(_ reference: String) throws -> String {
        let wanted = reference.trimmingCharacters(in: .whitespaces)
        return try pool.read { db in
            if wanted.lowercased() == "last" {
                guard let id = try String.fetchOne(db, sql: "SELECT id FROM sessions ORDER BY created_ms DESC, rowid DESC LIMIT 1")
                else { throw UsageError("no saved session yet, so there is no last one") }
                return id
            }
            if let id = try String.fetchOne(db, sql: "SELECT id FROM sessions WHERE id = ? OR name = ? COLLATE NOCASE ORDER BY id = ? DESC",
                                            arguments: [wanted, wanted, wanted]) {
                return id
            }
            let matches = wanted.isEmpty ? [] : try String.fetchAll(db, sql: """
                SELECT id FROM sessions WHERE substr(id, 1, ?) = ? ORDER BY created_ms DESC LIMIT 6
                """, arguments: [wanted.utf8.count, wanted])
            switch matches.count {
            case 0:
                throw UsageError("no session '\(wanted)'; `persona sessions list` shows them")
            case 1:
                return matches[0]
            default:
                throw UsageError("'\(wanted)' begins more than one session id: " + matches.prefix(5).joined(separator: ", ")
                    + (matches.count > 5 ? ", …" : "") + "; give more of it, or see `persona sessions list`")
            }
        }
    }

    /// The shortest way to name a session again: its name, else the start of its id through
    /// the second it began (longer if another session began in the same second).
    public func shortReference(_ id: String) throws -> String {
        try pool.read { db in
            if let name = try String.fetchOne(db, sql: "SELECT name FROM sessions WHERE id = ?", arguments: [id]) { return name }
            let ids = try String.fetchAll(db, sql: "SELECT id FROM sessions WHERE id != ? AND substr(id, 1, 15) = ?",
                                          arguments: [id, String(id.prefix(15))])
            var length = min(15, id.count)
            while length < id.count, ids.contains(where: { $0.hasPrefix(id.prefix(length)) }) { length += 1 }
            return String(id.prefix(length))
        }
    }

    /// Names a session; nil takes its name away. A name is unique (in any case), and may not be
    /// `last` or look like a session id.
    public func rename(_ id: String, to name: String?) throws {
        let name = name?.trimmingCharacters(in: .whitespaces)
        if let name {
            // No control, format (bidi) or line-breaking characters: a name is printed as it is.
            let printable = name.unicodeScalars.allSatisfy { scalar in
                ![.control, .format, .lineSeparator, .paragraphSeparator].contains(scalar.properties.generalCategory)
            }
            guard !name.isEmpty, name.count <= 60, printable else {
                throw UsageError("a session's name is 1 to 60 printable characters on one line")
            }
            guard name.lowercased() != "last" else { throw UsageError("'last' always means the newest session") }
            guard name.first.map({ !$0.isNumber }) ?? true else {
                throw UsageError("a session's name may not start with a digit, as session ids do")
            }
        }
        try pool.write { db in
            if let name, let other = try String.fetchOne(db, sql: "SELECT id FROM sessions WHERE name = ? COLLATE NOCASE AND id != ?",
                                                         arguments: [name, id]) {
                throw UsageError("'\(name)' already names session \(other)")
            }
            try db.execute(sql: "UPDATE sessions SET name = ? WHERE id = ?", arguments: [name, id])
        }
    }

    /// Removes a session and its messages. Its requests stay in the ledger: money spent is history,
    /// and today's budget still counts it. Returns how many messages went.
    @discardableResult
    public func remove(_ id: String) throws -> Int {
        try pool.write { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages WHERE session = ?", arguments: [id]) ?? 0
            try db.execute(sql: "DELETE FROM messages WHERE session = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM sessions WHERE id = ?", arguments: [id])
            return count
        }
    }

    /// Messages whose text holds every word of `query`, best matches first.
    public func search(_ query: String, limit: Int = 20) throws -> [SessionSearchHit] {
        // Each word is quoted, so that the query's own punctuation is never FTS5 syntax.
        let words = query.split(whereSeparator: { $0.isWhitespace }).map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        guard !words.isEmpty else { return [] }
        try MessageSearchIndex.catchUp(pool)
        return try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT m.session, s.name AS session_name, s.topic, m.round, m.speaker, m.name,
                       snippet(messages_search, 0, '[', ']', '…', 12) AS snippet
                FROM messages_search JOIN messages m ON m.id = messages_search.rowid JOIN sessions s ON s.id = m.session
                WHERE messages_search MATCH ? ORDER BY rank LIMIT ?
                """, arguments: [words.joined(separator: " "), limit]).map { row in
                SessionSearchHit(session: row["session"], sessionName: row["session_name"], topic: row["topic"], round: row["round"],
                                 speaker: row["speaker"], speakerName: row["name"], snippet: row["snippet"])
            }
        }
    }
}
