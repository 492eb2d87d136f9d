import Foundation
import GRDB

/// The `votes` table of `persona.db`, with each vote's candidates, and the ledger's costs of the
/// answers they judged. Every view of the leaderboard reads these queries.
public final class VoteStore: Sendable {
    let database: PersonaDatabase
    private var pool: DatabasePool { database.pool }

    public init(database: PersonaDatabase) {
        self.database = database
    }

    /// Which votes a leaderboard counts.
    public struct Filter: Sendable {
        /// nil: both sources.
        public var source: Vote.Source?
        /// Whether the user's votes given with the names in sight count too.
        public var includeSighted: Bool
        public var since: Date?

        public init(source: Vote.Source? = .votes, includeSighted: Bool = false, since: Date? = nil) {
            self.source = source
            self.includeSighted = includeSighted
            self.since = since
        }
    }

    /// Stores a vote; false when an identical one is already held (an import read twice).
    @discardableResult
    public func record(_ vote: Vote) throws -> Bool {
        try database.guarded { try pool.write { db in try Self.record(vote, in: db) } }
    }

    /// Stores many votes in one transaction; returns how many were new.
    public func record(_ votes: [Vote]) throws -> Int {
        try database.guarded {
            try pool.write { db in try votes.reduce(0) { try $0 + (Self.record($1, in: db) ? 1 : 0) } }
        }
    }

    static func record(_ vote: Vote, in db: Database) throws -> Bool {
        try db.execute(sql: """
            INSERT OR IGNORE INTO votes (key, time_ms, source, blind, session, turn, round, prompt_hash, reviewer, ranking)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [vote.key, Int64((vote.time.timeIntervalSince1970 * 1000).rounded()), vote.source.rawValue, vote.blind,
                             vote.session, vote.turn, vote.round, vote.promptHash, vote.reviewer,
                             JSON.array(vote.order.map { .array($0.map(JSON.string)) }).serialized])
        guard db.changesCount > 0 else { return false }
        let id = db.lastInsertedRowID
        let statement = try db.cachedStatement(sql: """
            INSERT INTO vote_candidates (vote, label, position, persona, provider, model, cost_picos, output_tokens, answer)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for candidate in vote.candidates {
            try statement.execute(arguments: [id, candidate.label, candidate.position, candidate.persona, candidate.provider,
                                              candidate.model, candidate.costPicos, candidate.outputTokens, candidate.answer])
        }
        return true
    }

    /// Deletes the session's last vote of the user; returns it, or nil when there was none.
    public func withdrawLast(session: String) throws -> Vote? {
        try database.guarded {
            try pool.write { db in
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT * FROM votes WHERE session = ? AND source = 'votes' ORDER BY id DESC LIMIT 1
                    """, arguments: [session]) else { return nil }
                let vote = try Self.votes([row], in: db).first
                try db.execute(sql: "DELETE FROM votes WHERE id = ?", arguments: [row["id"] as Int64])
                return vote
            }
        }
    }

    /// The votes `filter` lets through, oldest first.
    public func votes(_ filter: Filter = Filter(source: nil, includeSighted: true)) throws -> [Vote] {
        try database.guarded {
            try pool.read { db in
                var conditions: [String] = []
                var arguments: [any DatabaseValueConvertible] = []
                if let source = filter.source {
                    conditions.append("source = ?")
                    arguments.append(source.rawValue)
                }
                if !filter.includeSighted { conditions.append("blind = 1") }
                if let since = filter.since {
                    conditions.append("time_ms >= ?")
                    arguments.append(Int64((since.timeIntervalSince1970 * 1000).rounded()))
                }
                let clause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM votes\(clause) ORDER BY time_ms, id",
                                            arguments: StatementArguments(arguments))
                return try Self.votes(rows, in: db)
            }
        }
    }

    private static func votes(_ rows: [Row], in db: Database) throws -> [Vote] {
        let statement = try db.cachedStatement(sql: "SELECT * FROM vote_candidates WHERE vote = ? ORDER BY position, label")
        return try rows.map { row in
            let candidates = try Row.fetchAll(statement, arguments: [row["id"] as Int64]).map { candidate in
                VoteCandidate(label: candidate["label"], position: candidate["position"], persona: candidate["persona"],
                              provider: candidate["provider"], model: candidate["model"], costPicos: candidate["cost_picos"],
                              outputTokens: candidate["output_tokens"], answer: candidate["answer"])
            }
            let order = ((try? JSON.parse(row["ranking"] as String))?.array ?? []).map { $0.array?.compactMap(\.string) ?? [] }
            return Vote(time: Date(timeIntervalSince1970: Double(row["time_ms"] as Int64) / 1000),
                        source: Vote.Source(rawValue: row["source"]) ?? .votes, blind: row["blind"], session: row["session"],
                        turn: row["turn"], round: row["round"], promptHash: row["prompt_hash"], reviewer: row["reviewer"],
                        candidates: candidates, order: order)
        }
    }

    /// What the ledger holds for each answer a vote judged: the sum of its rows (every attempt,
    /// failover and tool step), or nil when a row has no price.
    public func ledgerCosts() throws -> [String: Int64?] {
        try database.guarded {
            try pool.read { db in
                var costs: [String: Int64?] = [:]
                for row in try Row.fetchAll(db, sql: """
                    SELECT answer, SUM(cost_picos) AS picos, COUNT(*) - COUNT(cost_picos) AS unpriced FROM requests
                        WHERE answer IN (SELECT answer FROM vote_candidates WHERE answer IS NOT NULL) GROUP BY answer
                    """) {
                    costs.updateValue((row["unpriced"] as Int) > 0 ? nil : row["picos"] as Int64?, forKey: row["answer"])
                }
                return costs
            }
        }
    }

    /// The leaderboard of the votes `filter` lets through, costed from the ledger.
    public func leaderboard(_ filter: Filter, options: Leaderboard.Options = Leaderboard.Options()) throws -> Leaderboard {
        Leaderboard(try votes(filter), ledgerCosts: try ledgerCosts(), options: options)
    }

    /// Deletes the votes of `source` (nil: all); returns how many.
    @discardableResult
    public func reset(source: Vote.Source?) throws -> Int {
        try database.guarded {
            try pool.write { db in
                if let source {
                    try db.execute(sql: "DELETE FROM votes WHERE source = ?", arguments: [source.rawValue])
                } else {
                    try db.execute(sql: "DELETE FROM votes")
                }
                return db.changesCount
            }
        }
    }
}
