import Foundation
import PersonaKit
import TerminalUI

/// What the monitor screen shows: the last snapshot read, or why none could be, and the
/// viewer's choices.
public struct MonitorState: Sendable {
    public var width: Int
    public var height: Int
    public var snapshot: MonitorSnapshot?
    /// Why the last read failed (no ledger yet, locked, damaged); the view says so and the loop
    /// tries again.
    public var problem: String?
    public var table = SpenderKind.session
    public var paused = false
    public var help = false
    public var quit = false

    public init(width: Int, height: Int, snapshot: MonitorSnapshot? = nil, problem: String? = nil) {
        self.width = width
        self.height = height
        self.snapshot = snapshot
        self.problem = problem
    }

    public static let minimumWidth = 60
    public static let minimumHeight = 15

    public var tooSmall: Bool { width < Self.minimumWidth || height < Self.minimumHeight }

    /// Applies a key; true when the screen must be drawn again.
    public mutating func press(_ key: Key) -> Bool {
        guard let action = Bindings.monitorAction(for: key) else {
            if help { help = false; return true }
            return false
        }
        switch action {
        case .quit: quit = true
        case .nextTable: table = table.next
        case .pause: paused.toggle()
        case .help: help.toggle()
        case .closeHelp: help = false
        }
        return true
    }
}
