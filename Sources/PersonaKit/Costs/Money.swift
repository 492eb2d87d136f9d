import Digits
import Foundation

/// Money is kept as whole picodollars (10⁻¹² USD) in an `Int64`: every catalog price of up to
/// six decimals per million tokens is a whole number of picodollars per token, so every cost is
/// exact, and one figure holds up to $9.2 million. Only the screen rounds, for display.
public enum Money {
    public static let picosPerDollar: Int64 = 1_000_000_000_000
    /// The most one request is believed to cost ($100,000). More means the usage or the price is
    /// wrong; capping rows here also keeps any sum of them far from overflowing.
    public static let requestCeiling: Int64 = 100_000 * picosPerDollar
    /// The largest cap a budget may set: a sum of caps and spends stays in range.
    public static let largestCap: Int64 = 1_000_000 * picosPerDollar

    /// `dollars` in picodollars; nil when it has more than twelve decimals or is out of range.
    public static func picos(dollars: Decimal) -> Int64? {
        whole(dollars * Decimal(picosPerDollar))
    }

    /// `value` as an Int64 when it is a whole number that fits; nil otherwise.
    static func whole(_ value: Decimal) -> Int64? {
        guard value.isFinite, abs(value) < Decimal(Int64.max / 2) else { return nil }
        var copy = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &copy, 0, .plain)
        guard rounded == value else { return nil }
        return NSDecimalNumber(decimal: rounded).int64Value
    }

    public static func dollars(_ picos: Int64) -> Decimal {
        Decimal(sign: picos < 0 ? .minus : .plus, exponent: -12, significand: Decimal(picos.magnitude))
    }

    /// The exact decimal text of an amount, for JSON and reports: `0.00060165`, never a float.
    public static func exactText(_ picos: Int64) -> String {
        var bytes: [UInt8] = picos < 0 ? [UInt8(ascii: "-")] : []
        let magnitude = picos.magnitude
        let perDollar = UInt64(picosPerDollar)
        Digits.append(magnitude / perDollar, to: &bytes)
        var fraction = magnitude % perDollar
        if fraction > 0 {
            var places = 12
            while fraction % 10 == 0 {
                fraction /= 10
                places -= 1
            }
            bytes.append(UInt8(ascii: "."))
            Digits.append(fraction, minimumCount: places, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An amount as the screen shows it: two decimals from a dollar, four from a cent, and six
    /// below, so that a small spend never reads as $0.0000.
    public static func format(picos: Int64) -> String {
        var bytes: [UInt8] = []
        append(picos: picos, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `format(picos:)` appended to `bytes` as ASCII; returns how many bytes, which is also how
    /// many columns. The chat screen writes several amounts on every frame, with no String each.
    @discardableResult
    public static func append(picos: Int64, to bytes: inout [UInt8]) -> Int {
        let magnitude = picos.magnitude
        let places = magnitude >= UInt64(picosPerDollar) ? 2 : magnitude >= UInt64(picosPerDollar / 100) || magnitude == 0 ? 4 : 6
        let divisor = placeValues[places / 2 - 1]
        let step = UInt64(picosPerDollar) / divisor
        // Half away from zero.
        let units = magnitude / step + (magnitude % step >= step / 2 ? 1 : 0)
        let start = bytes.count
        bytes.append(UInt8(ascii: "$"))
        if picos < 0 { bytes.append(UInt8(ascii: "-")) }
        Digits.append(units / divisor, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        Digits.append(units % divisor, minimumCount: places, to: &bytes)
        return bytes.count - start
    }

    /// Units per dollar at two, four and six decimals.
    private static let placeValues: [UInt64] = [100, 10_000, 1_000_000]

    /// Reads `1.50` or `$1.50` exactly; nil for anything else, a negative amount included.
    public static func parse(_ text: String) -> Decimal? {
        var cleaned = text.trimmingCharacters(in: .whitespaces)
        if cleaned.hasPrefix("$") { cleaned.removeFirst() }
        guard !cleaned.isEmpty, cleaned.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Decimal(string: cleaned, locale: Locale(identifier: "en_US_POSIX")), value >= 0 else { return nil }
        return value
    }

    /// A budget cap from the dollars a user gave, or why it cannot be one.
    public static func cap(dollars: Decimal) -> Result<Int64, CapError> {
        guard dollars <= Money.dollars(largestCap) else { return .failure(.tooLarge) }
        guard let picos = picos(dollars: dollars) else { return .failure(.tooFine) }
        return .success(picos)
    }

    public enum CapError: Error, Equatable, CustomStringConvertible {
        case tooFine
        case tooLarge

        public var description: String {
            switch self {
            case .tooFine: return "has more than twelve decimals"
            case .tooLarge: return "is larger than \(Money.format(picos: Money.largestCap)), the largest budget Persona keeps"
            }
        }
    }

    /// `a + b`, or nil when the sum leaves Int64.
    public static func sum(_ a: Int64, _ b: Int64) -> Int64? {
        let (result, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : result
    }
}
