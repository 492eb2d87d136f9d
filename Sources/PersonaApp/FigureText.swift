import Digits
import PersonaKit
import TerminalUI

/// Fixed-point numbers for the status lines, which are redrawn every frame: `String(format:)`
/// goes through Foundation's formatter and costs more than the rest of a status line.
enum Fixed {
    /// `value` with `places` (at most 3) decimals, rounded to the nearest, ties to even.
    static func text(_ value: Double, places: Int) -> String {
        var text = FigureText()
        text.add(value, places: places)
        return text.text
    }
}

/// Text of one-column characters, such as a status line's figures, built as UTF-8 bytes with its
/// width counted as it grows.
struct FigureText {
    private var bytes: [UInt8] = []
    private(set) var width = 0

    init() { bytes.reserveCapacity(64) }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends `piece`, whose characters must each take one column.
    mutating func add(_ piece: String) {
        var piece = piece
        piece.withUTF8 { utf8 in
            bytes.append(contentsOf: utf8)
            // One column per character: count the bytes that start one.
            for byte in utf8 where byte & 0xC0 != 0x80 { width += 1 }
        }
    }

    /// `count` copies of the one-column `character`.
    mutating func add(_ count: Int, of character: Unicode.Scalar) {
        guard count > 0 else { return }
        for _ in 0..<count { bytes.append(contentsOf: UTF8.encode(character)!) }
        width += count
    }

    /// Writes the text from (`x`, `y`), at most `limit` columns; returns the column after it.
    @discardableResult
    func put(into frame: inout CellBuffer, x: Int, y: Int, style: Style, limit: Int? = nil) -> Int {
        bytes.withUnsafeBufferPointer { frame.put(narrow: $0, x: x, y: y, style: style, limit: limit) }
    }

    /// An amount as `Money.format(picos:)` writes it.
    mutating func add(picos: Int64) {
        width += Money.append(picos: picos, to: &bytes)
    }

    mutating func add(_ number: Int) {
        if number < 0 {
            bytes.append(UInt8(ascii: "-"))
            width += 1
        }
        width += Digits.append(UInt64(number.magnitude), to: &bytes)
    }

    /// `value` with `places` (at most 3) decimals, rounded to the nearest, ties to even.
    mutating func add(_ value: Double, places: Int) {
        guard value.isFinite else { return add("?") }
        let scale = [1, 10, 100, 1000][min(places, 3)]
        let scaled = Int((abs(value) * Double(scale)).rounded(.toNearestOrEven))
        if value < 0, scaled > 0 { add("-") }
        add(scaled / scale)
        guard places > 0 else { return }
        add(".")
        width += Digits.append(UInt64(scaled % scale), minimumCount: min(places, 3), to: &bytes)
    }
}

/// Rows that depend on a few values (a pane's title, the key hints), laid out once for each set of
/// values instead of on every frame. Owned by one renderer, on one thread.
///
/// What it buys: a quarter of a frame's rendering, 50–58 µs against 69–79 µs laid out each frame
/// in the render benchmark, back to back.
final class RowCache<Key: Hashable> {
    private var rows: [Key: CellRow] = [:]

    func row(_ key: Key, width: Int, runs: () -> [StyledRun]) -> CellRow {
        row(key) { CellRow(runs(), width: width) }
    }

    func row(_ key: Key, make: () -> CellRow) -> CellRow {
        if let row = rows[key] { return row }
        let row = make()
        if rows.count >= 256 { rows.removeAll() }
        rows[key] = row
        return row
    }
}
