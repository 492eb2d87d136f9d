import Foundation
import Synchronization

/// The API keys and header secrets this process knows, so that none of them is ever printed,
/// logged, stored or exported, even when a provider echoes one back in an error.
///
/// One registry for the process: every place text leaves Persona (output, the ledger, the
/// transcript, provider errors) redacts through it, and a key learnt from the environment or the
/// config must be hidden in all of them alike.
public enum Secrets {
    private static let known = Mutex<[String]>([])

    /// Values shorter than this are not secrets worth hiding, and hiding them would mangle text.
    static let shortest = 8

    /// Adds secrets to hide; short and empty values are left out.
    public static func register<S: Sequence>(_ values: S) where S.Element == String {
        let fresh = values.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { $0.count >= shortest }
        guard !fresh.isEmpty else { return }
        known.withLock { known in
            for value in fresh where !known.contains(value) { known.append(value) }
            // Longest first, so that a key containing another is hidden whole.
            known.sort { $0.count > $1.count }
        }
    }

    /// `text` with every known secret replaced by its first three characters, `…` and its last
    /// four: `sk-…wxyz`.
    public static func redact(_ text: String) -> String {
        let secrets = all
        guard !secrets.isEmpty else { return text }
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: masked(secret))
        }
        return result
    }

    /// Every secret known now.
    public static var all: [String] { known.withLock { $0 } }

    public static func masked(_ secret: String) -> String {
        String(secret.prefix(3)) + "…" + String(secret.suffix(4))
    }

    /// The secrets a workspace knows: every provider key variable that is set, and the config's
    /// header values.
    static func values(config: Config, environment: [String: String]) -> [String] {
        var names = Set(ProviderPreset.all.flatMap(\.keyEnvironment))
        for settings in config.providers.values { if let name = settings.apiKeyEnv { names.insert(name) } }
        names.formUnion(environment.keys.filter { $0.hasSuffix("_API_KEY") || $0.hasSuffix("_TOKEN") })
        return names.compactMap { environment[$0] } + config.providers.values.flatMap { $0.headers.values }
    }
}

/// Hides known secrets in a text that arrives in pieces, so that a key split across two deltas is
/// hidden too: the end of a piece is held back while it could still be the start of a key.
/// Used by one reader at a time. A piece with no part of a key passes through untouched.
public final class StreamingRedactor: @unchecked Sendable {
    private let secrets: [[UInt8]]
    /// Whether a byte begins some secret, by byte value.
    private let startsSecret: [Bool]
    private let longest: Int
    private var held: [UInt8] = []

    public init(secrets: [String] = Secrets.all) {
        self.secrets = secrets.map { Array($0.utf8) }.filter { !$0.isEmpty }
        var starts = [Bool](repeating: false, count: 256)
        for secret in self.secrets { starts[Int(secret[0])] = true }
        startsSecret = starts
        longest = self.secrets.map(\.count).max() ?? 0
    }

    /// What of `piece` can be shown now, with every whole secret in it hidden.
    public func feed(_ piece: String) -> String {
        guard !secrets.isEmpty else { return piece }
        if held.isEmpty {
            var piece = piece
            let untouched = piece.withUTF8 { !holdsSecret($0) && possibleSecretStart($0) == 0 }
            if untouched { return piece }
        }
        var bytes = held + Array(piece.utf8)
        if bytes.withUnsafeBufferPointer(holdsSecret) {
            bytes = Array(Secrets.redact(String(decoding: bytes, as: UTF8.self)).utf8)
        }
        let keep = bytes.withUnsafeBufferPointer(possibleSecretStart)
        held = Array(bytes.suffix(keep))
        return String(decoding: bytes.dropLast(keep), as: UTF8.self)
    }

    /// Whatever was held back, at the end of the text.
    public func finish() -> String {
        defer { held = [] }
        return String(decoding: held, as: UTF8.self)
    }

    private func holdsSecret(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for start in bytes.indices where startsSecret[Int(bytes[start])] {
            let rest = UnsafeBufferPointer(rebasing: bytes[start...])
            if secrets.contains(where: { rest.starts(with: $0) }) { return true }
        }
        return false
    }

    /// The length in bytes of the longest end of `bytes` that begins some secret without being
    /// all of it. A secret's first byte starts a character, so the cut falls between characters.
    private func possibleSecretStart(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        for start in max(0, bytes.count - longest + 1)..<bytes.count where startsSecret[Int(bytes[start])] {
            let rest = UnsafeBufferPointer(rebasing: bytes[start...])
            if secrets.contains(where: { $0.count > rest.count && $0.starts(with: rest) }) { return rest.count }
        }
        return 0
    }
}
