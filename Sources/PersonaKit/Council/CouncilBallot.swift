import Foundation

/// A council's blind ballot (DESIGN.md §13): which member wrote the answer under each label, the
/// nonce that marks the council's own fences, and the order each reviewer is shown the answers
/// in. All of it follows from one seed, which the session records, so that a council can be
/// replayed exactly.
public struct CouncilBallot: Sendable, Equatable {
    /// Whether a reviewer is shown its own answer.
    public enum SelfReview: String, Sendable, CaseIterable {
        /// Left out: models recognise their own text even without a name.
        case recuse
        /// Shown, its self-rank recorded, and left out of the aggregate.
        case include
    }

    public let seed: UInt64
    /// Marks the fences of this council's answers; text inside an answer cannot know it.
    public let nonce: String
    /// The authors (persona ids) under `A`, `B`, …: the members whose stage-1 answer succeeded,
    /// in an order drawn from the seed, so that a label says nothing of a member's place.
    public let authors: [String]

    public init(authors members: [String], seed: UInt64) {
        self.seed = seed
        var generator = SeededGenerator(seed: seed)
        authors = members.shuffled(using: &generator)
        nonce = String(format: "%016llx", generator.next())
    }

    public static func label(at index: Int) -> String {
        index < 26 ? String(UnicodeScalar(UInt8(65 + index))) : "A\(index)"
    }

    public var labels: [String] { authors.indices.map(Self.label) }

    public func label(of author: String) -> String? { authors.firstIndex(of: author).map(Self.label) }

    public func author(of label: String) -> String? { labels.firstIndex(of: label).map { authors[$0] } }

    /// The labels `reviewer` is shown, in its own order: drawn from the seed and the reviewer's
    /// name, and reversed for its second pass, so that position bias shows as flipped pairs.
    public func order(for reviewer: String, selfReview: SelfReview, pass: Int = 1) -> [String] {
        let shown = labels.filter { selfReview == .include || author(of: $0) != reviewer }
        var generator = SeededGenerator(seed: seed ^ Self.fingerprint(reviewer))
        let order = shown.shuffled(using: &generator)
        return pass == 2 ? order.reversed() : order
    }

    /// A stable 64-bit fingerprint of a name (FNV-1a), unlike `hashValue`, which changes per process.
    static func fingerprint(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
