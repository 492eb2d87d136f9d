import XCTest

@testable import PersonaKit

final class SecretsTests: XCTestCase {
    static let secret = "sk-redact-test-0123456789abcdef"

    override func setUp() { Secrets.register([Self.secret]) }

    func testKnownSecretsAreMaskedToTheirEnds() {
        XCTAssertEqual(Secrets.redact("key: \(Self.secret)."), "key: sk-…cdef.")
        XCTAssertEqual(Secrets.redact("nothing to hide"), "nothing to hide")
    }

    /// Wherever the deltas are cut, the key never shows, and the text shown is the whole text redacted.
    func testAKeySplitAcrossDeltasIsHiddenWhereverItIsCut() {
        let text = "Your key is \(Self.secret), and sk-r is not one; ends with sk-red"
        let whole = Secrets.redact(text)
        let bytes = Array(text.utf8)
        for first in 1..<bytes.count {
            for second in stride(from: first + 1, to: bytes.count, by: 7) {
                let redactor = StreamingRedactor()
                let pieces = [bytes[..<first], bytes[first..<second], bytes[second...]].map { String(decoding: $0, as: UTF8.self) }
                var shown = pieces.map { redactor.feed($0) }
                shown.append(redactor.finish())
                XCTAssertFalse(shown.contains { $0.contains(Self.secret) })
                XCTAssertEqual(shown.joined(), whole, "cut at \(first), \(second)")
            }
        }
    }

    func testAPieceWithNoPartOfAKeyPassesAtOnce() {
        let redactor = StreamingRedactor()
        XCTAssertEqual(redactor.feed("plain words "), "plain words ")
        XCTAssertEqual(redactor.feed("then sk-"), "then ", "a possible key start waits")
        XCTAssertEqual(redactor.feed("ip it"), "sk-ip it")
        XCTAssertEqual(redactor.finish(), "")
    }
}
