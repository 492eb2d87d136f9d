import TerminalUI

/// The styles the chat screen uses.
enum Theme {
    static let header = Style(foreground: .palette(252), background: .palette(236), bold: true)
    static let headerDim = Style(foreground: .palette(247), background: .palette(236))
    static let separator = Style(foreground: .palette(240))
    static let userText = Style(foreground: .palette(250), italic: true)
    static let userPrefix = Style(foreground: .palette(245), bold: true)
    static let status = Style(foreground: .palette(246))
    static let statusActive = Style(foreground: .palette(114))
    static let statusWarning = Style(foreground: .palette(221))
    static let statusError = Style(foreground: .palette(203))
    static let notice = Style(foreground: .palette(221), bold: true)
    static let hint = Style(foreground: .palette(244))
    static let inputPrefix = Style(foreground: .palette(75), bold: true)
    static let marker = Style(foreground: .palette(244), italic: true)
    static let failure = Style(foreground: .palette(203))
    static let code = Style(foreground: .palette(223), background: .palette(236))
    static let inlineCode = Style(foreground: .palette(223), background: .palette(237))
    static let heading = Style(foreground: .palette(75), bold: true)
    static let bold = Style(bold: true)
    static let quote = Style(foreground: .palette(248), italic: true)
    static let overlay = Style(foreground: .palette(252), background: .palette(238))
    static let overlayTitle = Style(foreground: .palette(75), background: .palette(238), bold: true)
    static let barFill = Style(foreground: .palette(114), background: .palette(236))
    static let barWarn = Style(foreground: .palette(221), background: .palette(236))
    static let barOver = Style(foreground: .palette(203), background: .palette(236))

    /// A persona's colour, or a distinct one by position when its file names none.
    static func personaColor(_ name: String?, index: Int) -> Color {
        if let name, let color = Color(name: name) { return color }
        let cycle: [Color] = [.palette(203), .palette(114), .palette(221), .palette(75), .palette(176), .palette(80), .palette(215), .palette(141)]
        return cycle[index % cycle.count]
    }
}
