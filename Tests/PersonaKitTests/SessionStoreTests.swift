import Foundation
import GRDB
import PersonaKit
import XCTest

/// Saved sessions: naming them again (`last`, a prefix, a name), renaming, removing, searching,
/// and the setup a resume brings back.
final class SessionStoreTests: XCTestCase {
    var folder: URL!
    var database: PersonaDatabase!
    var store: SessionStore!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sessions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = try PersonaDatabase(path: folder.appendingPathComponent("persona.db").path)
        store = SessionStore(database: database)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    let model = ModelRef(provider: "openai", model: "gpt-4o-mini")

    func save(_ id: String, at seconds: Double, topic: String = "a topic", messages: [TranscriptMessage] = []) throws {
        try store.create(SessionInfo(id: id, created: Date(timeIntervalSince1970: seconds), mode: .parallel, topic: topic,
                                     roster: [SessionInfo.Member(persona: "skeptic", name: "The Skeptic", model: model)]))
        for message in messages { try store.append(message, to: id) }
    }

    func answer(_ text: String, by speaker: String = "skeptic", round: Int = 1) -> TranscriptMessage {
        TranscriptMessage(round: round, speaker: speaker, name: speaker.capitalized, role: .persona, text: text)
    }

    func testLastAnIdAPrefixOrANameFindTheSession() throws {
        try save("20261204-101500-aaaa", at: 100)
        try save("20261204-101500-bbbb", at: 200)
        try save("20261205-090000-cccc", at: 300)
        XCTAssertEqual(try store.find("last"), "20261205-090000-cccc")
        XCTAssertEqual(try store.find("LAST"), "20261205-090000-cccc")
        XCTAssertEqual(try store.find("20261204-101500-aaaa"), "20261204-101500-aaaa")
        XCTAssertEqual(try store.find("20261205"), "20261205-090000-cccc")
        XCTAssertEqual(try store.find("20261204-101500-b"), "20261204-101500-bbbb")
        XCTAssertThrowsError(try store.find("20261204")) { error in
            XCTAssertEqual("\(error)", "'20261204' begins more than one session id: 20261204-101500-bbbb, 20261204-101500-aaaa; "
                           + "give more of it, or see `persona sessions list`")
        }
        XCTAssertThrowsError(try store.find("2027")) { error in
            XCTAssertEqual("\(error)", "no session '2027'; `persona sessions list` shows them")
        }
        try store.rename("20261204-101500-aaaa", to: "Four-day week")
        XCTAssertEqual(try store.find("four-day WEEK"), "20261204-101500-aaaa")
        XCTAssertEqual(try store.load("20261204-101500-aaaa")?.info.name, "Four-day week")
    }

    func testNoSessionMeansNoLast() throws {
        XCTAssertThrowsError(try store.find("last")) { error in
            XCTAssertEqual("\(error)", "no saved session yet, so there is no last one")
        }
    }

    func testNamesAreUniqueAndNeverLookLikeIdsOrLast() throws {
        try save("20261204-101500-aaaa", at: 100)
        try save("20261204-101501-bbbb", at: 200)
        try store.rename("20261204-101500-aaaa", to: "budget")
        XCTAssertThrowsError(try store.rename("20261204-101501-bbbb", to: "Budget")) { error in
            XCTAssertEqual("\(error)", "'Budget' already names session 20261204-101500-aaaa")
        }
        for bad in ["last", "2026 plans", "", "two\nlines", "bidi\u{202E}txt", String(repeating: "x", count: 61)] {
            XCTAssertThrowsError(try store.rename("20261204-101501-bbbb", to: bad), bad)
        }
        try store.rename("20261204-101500-aaaa", to: nil)
        XCTAssertNil(try store.load("20261204-101500-aaaa")?.info.name)
        try store.rename("20261204-101501-bbbb", to: "budget")
    }

    func testTheShortReferenceIsTheNameOrTheIdThroughItsSecond() throws {
        try save("20261204-101500-aaaa", at: 100)
        XCTAssertEqual(try store.shortReference("20261204-101500-aaaa"), "20261204-101500")
        try save("20261204-101500-abcd", at: 200)
        XCTAssertEqual(try store.shortReference("20261204-101500-aaaa"), "20261204-101500-aa")
        XCTAssertEqual(try store.find(try store.shortReference("20261204-101500-abcd")), "20261204-101500-abcd")
        try store.rename("20261204-101500-aaaa", to: "retro")
        XCTAssertEqual(try store.shortReference("20261204-101500-aaaa"), "retro")
    }

    func testRemovingASessionKeepsItsLedgerRows() throws {
        try save("s1", at: 100, messages: [.user("Is remote work better?", round: 1), answer("It depends.")])
        let ledger = Ledger(database: database)
        try ledger.record(LedgerEntry(timestamp: Date(), session: "s1", persona: "skeptic", provider: "openai", model: "gpt-4o-mini",
                                      inputTokens: 10, outputTokens: 5, costPicos: 4_500_000, estimated: false, durationMs: 900,
                                      status: .ok))
        XCTAssertEqual(try store.remove("s1"), 2)
        XCTAssertNil(try store.load("s1"))
        XCTAssertEqual(try store.search("remote"), [], "its messages leave the search index")
        XCTAssertEqual(try ledger.totals(session: "s1").picos, 4_500_000, "what it spent is still counted")
    }

    func testSearchFindsEveryWordAndTreatsPunctuationAsText() throws {
        try save("s1", at: 100, topic: "Work", messages: [.user("Is remote work more productive?", round: 1),
                                                           answer("Remote teams lose mentoring unless it is planned.")])
        try save("s2", at: 200, topic: "Food", messages: [.user("Best bread?", round: 1), answer("Sourdough, \"obviously\".")])
        let hits = try store.search("remote mentoring")
        XCTAssertEqual(hits.map(\.session), ["s1"])
        XCTAssertEqual(hits.first?.speaker, "skeptic")
        XCTAssertEqual(hits.first?.snippet, "[Remote] teams lose [mentoring] unless it is planned.")
        XCTAssertEqual(try store.search("\"obviously\" OR NEAR(").count, 0, "no query syntax: every word must be there")
        XCTAssertEqual(try store.search("obviously").map(\.session), ["s2"])
        XCTAssertEqual(try store.search("REMOTE").count, 2)
        XCTAssertEqual(try store.search("   "), [])
    }

    /// A message added by a transaction that did not index it (an older Persona's, say) waits in
    /// the queue until the next search; one deleted while it waits leaves the index whole.
    func testQueuedMessagesAreIndexedBeforeASearchAndOneDeletedWhileQueuedLeavesTheIndexWhole() throws {
        try save("s1", at: 100, topic: "Work", messages: [answer("Remote teams need planned mentoring.")])
        let other = try DatabaseQueue(path: database.path)
        func queued() throws -> Int { try other.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages_unindexed") ?? -1 } }
        XCTAssertEqual(try queued(), 0, "a message the store appends is indexed in its own transaction")
        try other.write { db in
            for text in ["Sourdough wins, obviously.", "Rye is underrated, obviously."] {
                try db.execute(sql: """
                    INSERT INTO messages (session, round, speaker, name, role, text, status, created_ms)
                    VALUES ('s1', 1, 'skeptic', 'Skeptic', 'persona', ?, 'complete', 0)
                    """, arguments: [text])
            }
            try db.execute(sql: "DELETE FROM messages WHERE text LIKE 'Rye%'")
        }
        XCTAssertEqual(try queued(), 1)
        XCTAssertEqual(try store.search("obviously").map(\.snippet), ["Sourdough wins, [obviously]."])
        XCTAssertEqual(try queued(), 0)
        try other.write { db in
            try db.execute(sql: "DELETE FROM messages WHERE text LIKE 'Remote%'")
            try db.execute(sql: "INSERT INTO messages_search(messages_search) VALUES ('integrity-check')")
        }
        XCTAssertEqual(try store.search("mentoring"), [])
    }

    func testANewConversationRecordsTheSetupButKeepsTopicTimeAndName() throws {
        try save("s1", at: 100, topic: "The first topic")
        try store.rename("s1", to: "kept")
        let other = ModelRef(provider: "anthropic", model: "claude-haiku-4-5")
        try store.create(SessionInfo(id: "s1", created: Date(timeIntervalSince1970: 999), mode: .rounds, topic: "Another",
                                     roster: [SessionInfo.Member(persona: "optimist", name: "The Optimist", model: other)],
                                     rounds: 2, judge: "judge"))
        let info = try XCTUnwrap(try store.load("s1")?.info)
        XCTAssertEqual(info.topic, "The first topic")
        XCTAssertEqual(info.created, Date(timeIntervalSince1970: 100))
        XCTAssertEqual(info.name, "kept")
        XCTAssertEqual(info.roster.map(\.persona), ["optimist"])
        XCTAssertEqual(info.roster.first?.model, other)
        XCTAssertEqual(info.mode, .rounds)
        XCTAssertEqual(info.rounds, 2)
        XCTAssertEqual(info.judge, "judge")
    }

    func testAPersonaSeesOnlyTheMessagesItWasThereFor() {
        let transcript: [TranscriptMessage] = [
            .user("one", round: 1), answer("1s"), answer("1o", by: "optimist"),
            .user("two", round: 2), answer("2s"),
            .user("three", round: 3), answer("3s"), answer("3o", by: "optimist", round: 3),
        ]
        XCTAssertEqual(TranscriptMessage.userRoundsSeen(by: "optimist", in: transcript), [1, 3])
        let optimist = PromptBuilder.messages(for: "optimist", mode: .parallel, transcript: transcript + [.user("four", round: 4)], round: 4)
        XCTAssertEqual(optimist.map(\.promptText), ["one", "1o", "three", "3o", "four"])
        let newcomer = PromptBuilder.messages(for: "historian", mode: .parallel, transcript: transcript + [.user("four", round: 4)], round: 4)
        XCTAssertEqual(newcomer.map(\.promptText), ["four"])
    }
}
