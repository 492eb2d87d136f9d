import Foundation
import MockProvider
import PersonaKit
import XCTest

@testable import PersonaApp

/// When the ledger cannot record a request, the request is not sent: a full disk, a lock held by
/// another process, a damaged `persona.db`. Each ends in a clear error and exit code 1.
final class FailClosedTests: XCTestCase {
    var cli: CLI!
    var server: MockServer!
    var mounted = false

    override func setUpWithError() throws {
        cli = try CLI()
        server = try MockServer { _ in MockBehavior(tokens: 10) }
    }

    override func tearDown() {
        server.stop()
        if mounted { _ = try? Self.shell("/bin/umount", [cli.home.path]) }
        cli.remove()
    }

    var database: String { cli.home.appendingPathComponent("persona.db").path }

    func ask(budget: Bool = true) throws -> CLI.Result {
        try cli.run(["ask", "Hello?", "--model", "openai:gpt-4o-mini", "--json"] + (budget ? ["--budget", "1"] : []),
                    environment: MoneyCLITests.environment(server))
    }

    /// Checks the run failed closed: exit 1, an `error` event of kind `ledger`, nothing sent.
    func assertFailedClosed(_ result: CLI.Result, mentioning reason: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 1, result.stderr, file: file, line: line)
        let error = result.events.first { $0["event"]?.string == "error" }
        XCTAssertEqual(error?["kind"]?.string, "ledger", result.stdout, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(reason), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains("persona.db"), "the error names the file", file: file, line: line)
        XCTAssertTrue(server.requests.isEmpty, "no request was sent unrecorded", file: file, line: line)
    }

    func testADamagedLedgerSendsNothing() throws {
        try Data(String(repeating: "not a database, just words. ", count: 300).utf8).write(to: URL(fileURLWithPath: database))
        assertFailedClosed(try ask(), mentioning: "damaged")
        assertFailedClosed(try ask(budget: false), mentioning: "damaged")
        XCTAssertEqual(try cli.run(["costs"]).status, 1, "the reports say so too, and do not crash")
    }

    func testALedgerLockedByAnotherProcessSendsNothing() throws {
        XCTAssertEqual(try ask().status, 0, "a first request creates the ledger")
        server.clearLog()
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
            db.execute('BEGIN EXCLUSIVE')
            print('locked', flush=True)
            sys.stdin.read()
            """, database]
        let output = Pipe()
        let input = Pipe()
        holder.standardOutput = output
        holder.standardInput = input
        try holder.run()
        defer {
            try? input.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        XCTAssertEqual(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .newlines), "locked")
        assertFailedClosed(try ask(), mentioning: "another process holds it locked")
    }

    /// A home on a small tmpfs, filled to the last byte.
    func testAFullDiskSendsNothing() throws {
        do {
            try Self.shell("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", cli.home.path])
            mounted = true
        } catch {
            throw XCTSkip("mounting a small tmpfs needs root: \(error)")
        }
        XCTAssertEqual(try ask().status, 0, "a first request creates the ledger")
        server.clearLog()
        let filler = cli.home.appendingPathComponent("filler").path
        _ = try? Self.shell("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=4k"])
        for _ in 0..<3 { assertFailedClosed(try ask(), mentioning: "cost ledger") }
        try FileManager.default.removeItem(atPath: filler)
        XCTAssertEqual(try ask().status, 0, "with room again, requests go out and are recorded")
        XCTAssertEqual(try Ledger(path: database).totals().requests, 2)
    }

    @discardableResult
    static func shell(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: tool, code: Int(process.terminationStatus), userInfo: [NSLocalizedDescriptionKey: text])
        }
        return text
    }
}
