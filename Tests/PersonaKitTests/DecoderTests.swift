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

    func testRepeatedAndAlternatingEventNames() {
        let stream = "event: content_block_delta\ndata: 1\n\nevent: content_block_delta\ndata: 2\n\nevent: ping\ndata: 3\n\n"
            + "event: content_block_delta\ndata: 4\n\ndata: 5\n\n"
        XCTAssertEqual(events(stream).map(\.name), ["content_block_delta", "content_block_delta", "ping", "content_block_delta", "message"])
    }

    /// Events are lent with the decoder's own data buffer: one kept by the handler must not change
    /// when the decoder reuses the buffer for the next event.
    func testLentEventsKeptByTheHandlerKeepTheirData() {
        var decoder = SSEDecoder()
        var kept: [SSEEvent] = []
        Array("data: first\n\ndata: second, longer\n\ndata: 3\n\n".utf8).withUnsafeBufferPointer { bytes in
            decoder.feed(bytes) { kept.append($0) }
        }
        XCTAssertEqual(kept.map(\.dataString), ["first", "second, longer", "3"])
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

    /// Numbers follow JSON's grammar exactly: what JSON refuses, the reader refuses.
    func testNumbersThatJSONRefusesAreRefused() throws {
        for bad in ["1-2", "01", "-01", "1.2.3", "+1", "1.", ".5", "1e", "1e+", "-", "1E5e3", "[1-2]", "{\"a\":00}", "2.5-"] {
            XCTAssertThrowsError(try JSON.parse(bad), bad)
        }
        for good in ["0", "-0", "10", "-12.50", "1e9", "1E+2", "2.5e-3", "0.0"] {
            XCTAssertEqual(try JSON.parse(good), .number(good), good)
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

final class JSONTapeTests: XCTestCase {
    func testLookupsSkipNestedValuesAndTakeTheFirstOfDuplicateKeys() throws {
        try JSONTape.read(Array(#"{"a":{"x":[1,{"y":2}],"z":"deep"},"b":[[],{},"s"],"a":"second","k\u0065y":3}"#.utf8)) { root in
            XCTAssertEqual(root["a"]?["z"]?.string, "deep")
            XCTAssertEqual(root["a"]?["x"]?[1]?["y"]?.int, 2)
            XCTAssertEqual(root["b"]?[2]?.string, "s")
            XCTAssertEqual(root["b"]?.array?.count, 3)
            XCTAssertNil(root["b"]?[3])
            XCTAssertEqual(root["key"]?.int, 3, "an escaped key is matched by its text")
            XCTAssertNil(root["missing"])
            XCTAssertNil(root["a"]?["x"]?["y"], "an array has no keys")
            XCTAssertEqual(root["a"]?.isObject, true)
        }
    }

    /// A chunk's tokens fit the room on the stack; bigger documents are indexed again with more.
    func testDocumentsBeyondTheStackRoomReadTheSame() throws {
        let numbers = (0..<500).map { JSON.int($0) }
        let members = (0..<100).map { JSONObject.Member(key: "k\($0)", value: .array([.string("v\($0)"), .null])) }
        let tree = JSON.object(JSONObject([JSONObject.Member(key: "numbers", value: .array(numbers))] + members))
        try JSONTape.read(tree.serializedBytes) { root in
            XCTAssertEqual(root.materialized, tree)
            XCTAssertEqual(root["numbers"]?[499]?.int, 499)
            XCTAssertEqual(root["k99"]?[0]?.string, "v99")
        }
        let unclosed = String(repeating: "[", count: 300)
        XCTAssertThrowsError(try JSONTape.read(Array(unclosed.utf8)) { _ in }) { error in
            XCTAssertEqual((error as? JSONParseError)?.offset, 300)
            XCTAssertEqual((error as? JSONParseError)?.reason, "unexpected end")
        }
    }

    func testErrorsMatchTheirOffsetAndReason() {
        for (bad, offset, reason) in [("{\"a\" 1}", 5, "expected ':'"), ("[1,2", 4, "unexpected end"), ("\"\\x\"", 3, "invalid escape"),
                                      ("\"\\u12G4\"", 5, "invalid \\u escape"), ("[1] 2", 4, "trailing characters")] {
            XCTAssertThrowsError(try JSONTape.read(Array(bad.utf8)) { _ in }, bad) { error in
                XCTAssertEqual((error as? JSONParseError)?.offset, offset, bad)
                XCTAssertEqual((error as? JSONParseError)?.reason, reason, bad)
            }
        }
    }

    /// Random documents read through the tape answer every path as the built tree does.
    func testElementsReadAsTheTreeDoes() throws {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<300 {
            let tree = Self.randomValue(depth: 0, using: &generator)
            try JSONTape.read(tree.serializedBytes) { element in
                XCTAssertEqual(element.materialized, tree)
                Self.assertSameReadings(element, tree)
            }
        }
    }

    private static func assertSameReadings(_ element: JSONElement, _ tree: JSON, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(element.string, tree.string, file: file, line: line)
        XCTAssertEqual(element.int, tree.int, file: file, line: line)
        XCTAssertEqual(element.double, tree.double, file: file, line: line)
        XCTAssertEqual(element.bool, tree.bool, file: file, line: line)
        XCTAssertEqual(element.isNull, tree.isNull, file: file, line: line)
        XCTAssertEqual(element.isObject, tree.isObject, file: file, line: line)
        XCTAssertEqual(element.serialized, tree.serialized, file: file, line: line)
        if let items = tree.array {
            XCTAssertEqual(element.array?.count, items.count, file: file, line: line)
            for (index, item) in items.enumerated() {
                guard let read = element[index] else { return XCTFail("item \(index) missing", file: file, line: line) }
                assertSameReadings(read, item, file: file, line: line)
            }
        }
        for key in tree.object?.keys ?? [] {
            guard let read = element[key], let member = tree[key] else { return XCTFail("member \(key) missing", file: file, line: line) }
            assertSameReadings(read, member, file: file, line: line)
        }
    }

    private static func randomValue(depth: Int, using generator: inout SeededGenerator) -> JSON {
        let keys = ["a", "content", "delta", "choices", "é", "tab\t", "quote\"", "a"]
        let strings = ["", "plain", "esc\u{1B}[2J", "line\nbreak", "👋 wave", "back\\slash", "\u{9B}31m"]
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return [JSON.int(Int.random(in: -1_000_000...1_000_000, using: &generator)), .number("-2.5e3"), .number("0.0000025")]
            .randomElement(using: &generator)!
        case 3: return .string(strings.randomElement(using: &generator)!)
        case 4: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in randomValue(depth: depth + 1, using: &generator) })
        default:
            return .object(JSONObject((0..<Int.random(in: 0...4, using: &generator)).map { _ in
                JSONObject.Member(key: keys.randomElement(using: &generator)!, value: randomValue(depth: depth + 1, using: &generator))
            }))
        }
    }
}
