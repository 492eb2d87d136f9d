import Foundation

/// The `calculator` tool: exact decimal arithmetic on one expression, with `+ - * / ^ ( )` (and
/// `× ÷ −`), `%` (modulo between two numbers, percent after one), `sqrt(x)` and `round(x[, places])`.
/// Numbers are decimals of up to 38 digits, so `0.1 + 0.2` is `0.3`.
public enum Calculator {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// The longest expression taken, and the largest power computed.
    static let longestExpression = 2000
    static let largestExponent = 10_000

    public static func evaluate(_ expression: String) throws -> Decimal {
        guard expression.count <= longestExpression else {
            throw Failure(description: "the expression is longer than \(longestExpression) characters")
        }
        var parser = Parser(tokens: try tokens(expression))
        let value = try parser.expression()
        guard parser.position == parser.tokens.count else {
            throw Failure(description: "unexpected \(parser.tokens[parser.position]) after a complete expression")
        }
        guard !value.isNaN else { throw Failure(description: "the result is too large for 38 digits") }
        return value
    }

    /// The result as text: plain digits, no exponent, no trailing zeros.
    public static func text(_ value: Decimal) -> String {
        NSDecimalNumber(decimal: value).description(withLocale: Locale(identifier: "en_US_POSIX"))
    }

    enum Token: Equatable, CustomStringConvertible {
        case number(Decimal)
        case symbol(Character)
        case name(String)

        var description: String {
            switch self {
            case .number(let value): return "'\(Calculator.text(value))'"
            case .symbol(let symbol): return "'\(symbol)'"
            case .name(let name): return "'\(name)'"
            }
        }
    }

    static func tokens(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character.isWhitespace || character == "_" {
                index = text.index(after: index)
            } else if character.isASCII, character.isNumber || character == "." {
                var end = index
                while end < text.endIndex, text[end].isASCII, text[end].isNumber || text[end] == "." || text[end] == "_" {
                    end = text.index(after: end)
                }
                let digits = text[index..<end].filter { $0 != "_" }
                guard digits.filter({ $0 == "." }).count <= 1, digits != ".",
                      let value = Decimal(string: String(digits), locale: Locale(identifier: "en_US_POSIX")) else {
                    throw Failure(description: "'\(digits)' is not a number")
                }
                tokens.append(.number(value))
                index = end
            } else if character.isLetter {
                var end = index
                while end < text.endIndex, text[end].isLetter { end = text.index(after: end) }
                tokens.append(.name(text[index..<end].lowercased()))
                index = end
            } else {
                let symbol: Character
                switch character {
                case "×", "·": symbol = "*"
                case "÷", ":": symbol = "/"
                case "−", "–": symbol = "-"
                case "*", "/", "+", "-", "^", "%", "(", ")", ",": symbol = character
                default: throw Failure(description: "'\(character)' is not part of arithmetic")
                }
                // `**` is a power, as in many languages.
                if symbol == "*", case .symbol("*")? = tokens.last {
                    tokens[tokens.count - 1] = .symbol("^")
                } else {
                    tokens.append(.symbol(symbol))
                }
                index = text.index(after: index)
            }
        }
        return tokens
    }

    struct Parser {
        let tokens: [Token]
        var position = 0
        var depth = 0

        var next: Token? { position < tokens.count ? tokens[position] : nil }

        mutating func take(_ symbol: Character) -> Bool {
            guard next == .symbol(symbol) else { return false }
            position += 1
            return true
        }

        mutating func expression() throws -> Decimal {
            depth += 1
            defer { depth -= 1 }
            guard depth < 200 else { throw Failure(description: "the expression nests too deeply") }
            var value = try term()
            while true {
                if take("+") { value += try term() } else if take("-") { value -= try term() } else { return value }
            }
        }

        mutating func term() throws -> Decimal {
            var value = try signed()
            while true {
                if take("*") {
                    value *= try signed()
                } else if take("/") {
                    let divisor = try signed()
                    guard !divisor.isZero else { throw Failure(description: "division by zero") }
                    value /= divisor
                } else if next == .symbol("%"), position + 1 < tokens.count, Self.startsOperand(tokens[position + 1]) {
                    position += 1
                    let divisor = try signed()
                    guard !divisor.isZero else { throw Failure(description: "modulo by zero") }
                    value = Calculator.remainder(value, divisor)
                } else {
                    return value
                }
            }
        }

        static func startsOperand(_ token: Token) -> Bool {
            switch token {
            // A sign after `%` reads as percent then plus or minus: `50% + 1`.
            case .number, .name, .symbol("("): return true
            default: return false
            }
        }

        /// A sign binds looser than a power, as in writing: `-2^2` is -4, and `2^-2` is 0.25.
        mutating func signed() throws -> Decimal {
            if take("-") { return -(try signed()) }
            if take("+") { return try signed() }
            return try power()
        }

        mutating func power() throws -> Decimal {
            let base = try percent()
            guard take("^") else { return base }
            let exponent = try signed()
            return try Calculator.power(base, exponent)
        }

        mutating func percent() throws -> Decimal {
            var value = try primary()
            // A `%` not followed by an operand is a percent.
            while next == .symbol("%"), position + 1 >= tokens.count || !Self.startsOperand(tokens[position + 1]) {
                position += 1
                value /= 100
            }
            return value
        }

        mutating func primary() throws -> Decimal {
            guard let token = next else { throw Failure(description: "the expression ends where a number was expected") }
            position += 1
            switch token {
            case .number(let value):
                return value
            case .symbol("("):
                let value = try expression()
                guard take(")") else { throw Failure(description: "a '(' is never closed") }
                return value
            case .name(let name):
                guard take("(") else { throw Failure(description: "'\(name)' must be followed by '('") }
                let argument = try expression()
                var places: Decimal?
                if take(",") { places = try expression() }
                guard take(")") else { throw Failure(description: "\(name)( is never closed") }
                switch (name, places) {
                case ("sqrt", nil): return try Calculator.squareRoot(argument)
                case ("round", _): return try Calculator.round(argument, places: places ?? 0)
                case ("abs", nil): return argument < 0 ? -argument : argument
                default: throw Failure(description: "unknown function '\(name)' (known: sqrt(x), round(x), round(x, places), abs(x))")
                }
            default:
                throw Failure(description: "unexpected \(token)")
            }
        }
    }

    static func wholeNumber(_ value: Decimal) -> Int? {
        var copy = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &copy, 0, .plain)
        guard rounded == value, abs(rounded) <= Decimal(Int32.max) else { return nil }
        return NSDecimalNumber(decimal: rounded).intValue
    }

    static func power(_ base: Decimal, _ exponent: Decimal) throws -> Decimal {
        guard let whole = wholeNumber(exponent) else {
            if exponent == Decimal(string: "0.5") { return try squareRoot(base) }
            throw Failure(description: "only whole powers are exact; use sqrt(x) for a square root")
        }
        guard abs(whole) <= largestExponent else { throw Failure(description: "a power above \(largestExponent) is too large") }
        if whole < 0 {
            guard !base.isZero else { throw Failure(description: "division by zero") }
            return 1 / pow(base, -whole)
        }
        let result = pow(base, whole)
        guard !result.isNaN else { throw Failure(description: "the result is too large for 38 digits") }
        return result
    }

    static func remainder(_ value: Decimal, _ divisor: Decimal) -> Decimal {
        var quotient = value / divisor
        var whole = Decimal()
        NSDecimalRound(&whole, &quotient, 0, .down)
        return value - whole * divisor
    }

    static func round(_ value: Decimal, places: Decimal) throws -> Decimal {
        guard let places = wholeNumber(places), (0...30).contains(places) else {
            throw Failure(description: "round's places must be a whole number from 0 to 30")
        }
        var copy = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &copy, places, .plain)
        return rounded
    }

    /// Newton's method in decimals, to the 38 digits a decimal holds.
    static func squareRoot(_ value: Decimal) throws -> Decimal {
        guard value >= 0 else { throw Failure(description: "the square root of a negative number is not a real number") }
        guard !value.isZero else { return 0 }
        var guess = Decimal(sqrt(NSDecimalNumber(decimal: value).doubleValue))
        if guess.isZero { guess = value }
        for _ in 0..<60 {
            let next = (guess + value / guess) / 2
            if next == guess { break }
            guess = next
        }
        // An exact root shows as one: 1.9999…9 becomes 2 when 2² is the value.
        for places in [0, 10, 20, 30] {
            let candidate = try round(guess, places: Decimal(places))
            if candidate * candidate == value { return candidate }
        }
        return try round(guess, places: 30)
    }
}
