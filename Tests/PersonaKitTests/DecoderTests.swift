import XCTest

@testable import PersonaKit

final class SSEDecoderTests: XCTestCase {
    func events(_ text: String) -> [SSEEvent] {
        var decoder = SSEDecoder()
        return decoder.feed(Array(text.utf8)) + decoder.finish()
    }

    /// Every way of cutting `bytes` into two or three pieces yields `expected`.
    func assertSplitInvariant(_ bytes: [UInt8], _ expected: [SSEEvent], file: StaticString = #filePath, line: UInt = #line) {
        for first in 0...bytes.count {
            for second in first...bytes.count {
                var decoder = SSEDecoder()
                var got = decoder.feed(Array(bytes[..<first]))
                got += decoder.feed(Array(bytes[first..<second]))
                got += decoder.feed(Array(bytes[second...]))
                got += decoder.finish()
                XCTAssertEqual(got, expected, "split at \(first), \(second)", file: file, line: line)
                if got != expected { return }
            }
        }
    }

    func testFieldsCommentsAndMultiLineData() {
        let stream = ": keep-alive\nevent: delta\ndata: one\ndata:two\nid: 7\nretry: 10\n\ndata: {\"x\":1}\n\n"
        XCTAssertEqual(events(stream), [
            SSEEvent(name: "delta", data: Array("one\ntwo".utf8)),
            SSEEvent(name: "message", data: Array("{\"x\":1}".utf8)),
        ])
    }

    func testLineEndingsCRLFAndBareCR() {
        let expected = [SSEEvent(name: "a", data: Array("1".utf8)), SSEEvent(data: Array("2".utf8))]
        XCTAssertEqual(events("event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n"), expected)
        XCTAssertEqual(events("event: a\rdata: 1\r\rdata: 2\r\r"), expected)
        XCTAssertEqual(events("event: a\ndata: 1\n\ndata: 2\n\n"), expected)
    }

    func testEventWithoutDataIsNotDispatched() {
        XCTAssertEqual(events("event: ping\n\n: comment\n\n"), [])
    }

    func testEventNameDoesNotLeakIntoTheNextEvent() {
        XCTAssertEqual(events("event: error\ndata: x\n\ndata: y\n\n").map(\.name), ["error", "message"])
    }

    func testLeadingByteOrderMarkIsSkipped() {
        XCTAssertEqual(events("\u{FEFF}data: hi\n\n"), [SSEEvent(data: Array("hi".utf8))])
    }

    func testLastEventWithoutBlankLineIsDelivered() {
        XCTAssertEqual(events("data: tail"), [SSEEvent(data: Array("tail".utf8))])
    }

    func testEverySplitOfCRLFAndMultibyteText() {
        let stream = Array("\u{FEFF}: c\r\nevent: e\r\ndata: 日本 👋\r\ndata: é\r\n\r\ndata: [DONE]\r\n\r\n".utf8)
        let expected = [SSEEvent(name: "e", data: Array("日本 👋\né".utf8)), SSEEvent(data: Array("[DONE]".utf8))]
        assertSplitInvariant(stream, expected)
    }

    func testEverySplitOfBareCRStream() {
        assertSplitInvariant(Array("data: a\r\rdata: b\r\r".utf8), [SSEEvent(data: [0x61]), SSEEvent(data: [0x62])])
    }

    func testCommentsAreCounted() {
        var decoder = SSEDecoder()
        _ = decoder.feed(Array(": OPENROUTER PROCESSING\n\n: again\n\n".utf8))
        XCTAssertEqual(decoder.commentCount, 2)
    }
}

final class NDJSONDecoderTests: XCTestCase {
    func testEverySplitGivesTheSameLines() {
        let bytes = Array("{\"a\":\"日\"}\r\n\n  \n{\"b\":2}\n{\"c\":3}".utf8)
        let expected = [Array("{\"a\":\"日\"}".utf8), Array("{\"b\":2}".utf8), Array("{\"c\":3}".utf8)]
        for split in 0...bytes.count {
            var decoder = NDJSONDecoder()
            let lines = decoder.feed(Array(bytes[..<split])) + decoder.feed(Array(bytes[split...])) + decoder.finish()
            XCTAssertEqual(lines, expected, "split at \(split)")
        }
    }
}

final class JSONTests: XCTestCase {
    func testParsesNestedValuesInOrder() throws {
        let json = try JSON.parse(#"{"b":[1,-2.5e3,true,null],"a":{"s":"x"},"n":12345678901234}"#)
        XCTAssertEqual(json.object?.keys, ["b", "a", "n"])
        XCTAssertEqual(json["b"]?[1]?.double, -2500)
        XCTAssertEqual(json["b"]?[2]?.bool, true)
        XCTAssertEqual(json["b"]?[3]?.isNull, true)
        XCTAssertEqual(json["a"]?["s"]?.string, "x")
        XCTAssertEqual(json["n"]?.int, 12_345_678_901_234)
    }

    func testEscapesAndSurrogatePairs() throws {
        let json = try JSON.parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\udc4b\u001b""#)
        XCTAssertEqual(json.string, "a\"b\\c/d\n\té👋\u{1B}")
    }

    func testNumbersKeepTheirTextForExactDecimals() throws {
        let json = try JSON.parse(#"{"price":0.0000025}"#)
        XCTAssertEqual(json["price"]?.decimal, Decimal(string: "0.0000025"))
    }

    func testRejectsMalformedInput() {
        for bad in ["{", "{\"a\":}", "[1,]", "\"unterminated", "tru", "{\"a\":1} x", "01x", "\"\u{01}\""] {
            XCTAssertThrowsError(try JSON.parse(bad), bad)
        }
    }

    func testSerializationEscapesControlCharactersIncludingC1() throws {
        let value = JSON.string("bell\u{07} esc\u{1B}[2J csi\u{9B}31m é\n")
        XCTAssertEqual(value.serialized, #""bell\u0007 esc\u001b[2J csi\u009b31m é\n""#)
        XCTAssertEqual(try JSON.parse(value.serialized), value)
    }

    func testSerializationRoundTrips() throws {
        let text = #"{"k":[1,"two",{"three":null}],"b":false}"#
        XCTAssertEqual(try JSON.parse(text).serialized, text)
    }
}
