/// Decimal digits written as ASCII bytes, without a String: the one writer of numbers for the
/// figures and the cursor moves drawn on every frame, and for exact money.
public enum Digits {
    /// Writes `value`'s digits, zero-padded on the left to at least `minimumCount` of them, one
    /// byte at a time to `write`; returns how many it wrote.
    @inlinable @discardableResult
    public static func write(_ value: UInt64, minimumCount: Int = 1, _ write: (UInt8) -> Void) -> Int {
        var scale: UInt64 = 1
        var count = 1
        while scale <= value / 10 {
            scale *= 10
            count += 1
        }
        for _ in count..<max(count, minimumCount) { write(UInt8(ascii: "0")) }
        while scale > 0 {
            write(UInt8(ascii: "0") + UInt8(value / scale % 10))
            scale /= 10
        }
        return max(count, minimumCount)
    }

    /// `write(_:minimumCount:_:)` onto the end of `bytes`.
    @inlinable @discardableResult
    public static func append(_ value: UInt64, minimumCount: Int = 1, to bytes: inout [UInt8]) -> Int {
        write(value, minimumCount: minimumCount) { bytes.append($0) }
    }
}
