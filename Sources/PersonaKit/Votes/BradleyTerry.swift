import Foundation

/// The Bradley–Terry model, fitted by maximum likelihood: each player has a strength θ, and
/// the odds that i beats j are e^(θi−θj). A tie counts as half a win for each side.
public struct BradleyTerry: Sendable {
    /// Elo points per unit of θ: 400 points for a factor of 10 in the odds.
    public static let eloPerUnit = 400 / log(10.0)
    /// The mean rating.
    public static let eloMean = 1000.0
    /// Every player also ties this fraction of a game against a player of strength 0, so that
    /// one who never lost (or never won) still has a finite rating. Against real evidence its
    /// pull is a small fraction of a point.
    static let anchorGames = 0.01

    public let players: Int
    /// `wins[i * players + j]`: i's score against j, ties as halves.
    private(set) var wins: [Double]
    /// `games[i * players + j]`: how many times i and j met.
    private(set) var games: [Double]

    public init(players: Int) {
        self.players = players
        wins = Array(repeating: 0, count: players * players)
        games = wins
    }

    /// One meeting: `score` is i's, 1 for a win, 0.5 for a tie, 0 for a loss.
    public mutating func add(_ i: Int, _ j: Int, score: Double, times: Double = 1) {
        guard i != j else { return }
        wins[i * players + j] += score * times
        wins[j * players + i] += (1 - score) * times
        games[i * players + j] += times
        games[j * players + i] += times
    }

    /// The players' ratings on the Elo scale, with a mean of 1000, by Newton's method on the
    /// log-likelihood; nil for a player who met nobody, who has no place in the mean either.
    public func ratings() -> [Double?] {
        let n = players
        guard n > 0 else { return [] }
        var theta = Array(repeating: 0.0, count: n)
        for _ in 0..<100 {
            var gradient = Array(repeating: 0.0, count: n)
            // The negated Hessian, positive definite thanks to the anchor games.
            var curvature = Array(repeating: 0.0, count: n * n)
            for i in 0..<n {
                let anchor = Self.logistic(theta[i])
                gradient[i] = Self.anchorGames * (0.5 - anchor)
                curvature[i * n + i] = Self.anchorGames * anchor * (1 - anchor)
                for j in 0..<n where j != i && games[i * n + j] > 0 {
                    let p = Self.logistic(theta[i] - theta[j])
                    let meetings = games[i * n + j]
                    gradient[i] += wins[i * n + j] - meetings * p
                    let weight = meetings * p * (1 - p)
                    curvature[i * n + i] += weight
                    curvature[i * n + j] -= weight
                }
            }
            guard var step = Self.solve(curvature, gradient, size: n) else { break }
            // A long step far from the optimum can overshoot where the likelihood is flat.
            let longest = step.map(abs).max() ?? 0
            if longest > 2 { step = step.map { $0 * 2 / longest } }
            for i in 0..<n { theta[i] += step[i] }
            if longest < 1e-10 { break }
        }
        let met = (0..<n).map { i in (0..<n).contains { games[i * n + $0] > 0 } }
        let present = (0..<n).filter { met[$0] }
        guard !present.isEmpty else { return Array(repeating: nil, count: n) }
        let mean = present.reduce(0) { $0 + theta[$1] } / Double(present.count)
        return (0..<n).map { met[$0] ? Self.eloMean + (theta[$0] - mean) * Self.eloPerUnit : nil }
    }

    static func logistic(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// Solves `matrix · x = vector` by Gaussian elimination with partial pivoting; nil when singular.
    static func solve(_ matrix: [Double], _ vector: [Double], size n: Int) -> [Double]? {
        var a = matrix
        var b = vector
        for column in 0..<n {
            var pivot = column
            for row in column..<n where abs(a[row * n + column]) > abs(a[pivot * n + column]) { pivot = row }
            guard abs(a[pivot * n + column]) > 1e-300 else { return nil }
            if pivot != column {
                for k in 0..<n { a.swapAt(pivot * n + k, column * n + k) }
                b.swapAt(pivot, column)
            }
            for row in (column + 1)..<n {
                let factor = a[row * n + column] / a[column * n + column]
                guard factor != 0 else { continue }
                for k in column..<n { a[row * n + k] -= factor * a[column * n + k] }
                b[row] -= factor * b[column]
            }
        }
        var x = Array(repeating: 0.0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var sum = b[row]
            for k in (row + 1)..<n { sum -= a[row * n + k] * x[k] }
            x[row] = sum / a[row * n + row]
        }
        return x
    }
}
