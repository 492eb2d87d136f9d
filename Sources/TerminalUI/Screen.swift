import Foundation

/// How many colours a screen shows.
public enum ColorMode: Sendable, Equatable {
    /// `NO_COLOR` or `--no-color`: attributes (bold, reverse…) only.
    case none
    case basic
    case palette256

    /// Reduces a style to what the mode can show.
    public func adapt(_ style: Style) -> Style {
        var adapted = style
        switch self {
        case .palette256: break
        case .basic:
            adapted.foreground = style.foreground.basic
            adapted.background = style.background.basic
        case .none:
            adapted.foreground = .default
            adapted.background = .default
        }
        return adapted
    }
}

/// Where frames are shown. `NCursesScreen` draws on the terminal; `HeadlessScreen` keeps frames for tests.
public protocol Screen: AnyObject {
    var width: Int { get }
    var height: Int { get }
    var colorMode: ColorMode { get }
    /// Shows `frame`, sending only what changed since the last frame. `cursor` places the
    /// terminal's cursor (nil hides it).
    func present(_ frame: CellBuffer, cursor: (x: Int, y: Int)?)
    /// Re-reads the terminal's size after a resize and returns it.
    func refreshSize() -> (width: Int, height: Int)
    /// Hands `text` to the terminal's clipboard (OSC 52; tmux passes it on with `set-clipboard on`).
    func copyToClipboard(_ text: String)
    /// Whether the terminal reports the mouse (wheel, clicks), or leaves it to select text.
    func setMouseReports(_ on: Bool)
    /// Gives the terminal to another program, such as an editor, until `resume`.
    func suspend()
    /// Takes the terminal back after `suspend`; the next frame is painted whole.
    func resume()
}

/// OSC 52: "set the clipboard (c) to these base64 bytes".
public enum Clipboard {
    public static func sequence(_ text: String) -> [UInt8] {
        Array("\u{1B}]52;c;\(Data(text.utf8).base64EncodedString())\u{07}".utf8)
    }
}

/// A screen without a terminal: it records what would have been drawn.
public final class HeadlessScreen: Screen {
    public private(set) var width: Int
    public private(set) var height: Int
    public let colorMode: ColorMode
    public private(set) var frame: CellBuffer
    public private(set) var cursor: (x: Int, y: Int)?
    /// How many cells each `present` painted, by the encoder the terminal screen paints with.
    public private(set) var changedCells: [Int] = []
    private var encoder: FrameEncoder

    public init(width: Int, height: Int, colorMode: ColorMode = .palette256) {
        self.width = width
        self.height = height
        self.colorMode = colorMode
        frame = CellBuffer(width: width, height: height)
        encoder = FrameEncoder(capabilities: .xterm256, colorMode: colorMode)
    }

    public func resize(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public func present(_ next: CellBuffer, cursor: (x: Int, y: Int)?) {
        _ = encoder.encode(next, since: frame, cursor: cursor) { $0.count }
        changedCells.append(encoder.paintedCells)
        frame = next
        self.cursor = cursor
    }

    public func refreshSize() -> (width: Int, height: Int) { (width, height) }

    /// What was handed to the clipboard, last first; whether mouse reports are on; how many times
    /// the terminal was handed to another program.
    public private(set) var copied: [String] = []
    public private(set) var mouseReports = true
    public private(set) var suspensions = 0

    public func copyToClipboard(_ text: String) { copied.insert(text, at: 0) }
    public func setMouseReports(_ on: Bool) { mouseReports = on }
    public func suspend() { suspensions += 1 }
    public func resume() {}
}
