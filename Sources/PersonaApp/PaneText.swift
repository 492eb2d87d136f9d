import Foundation
import TerminalUI

/// Wrapped lines kept as the cached arrays they came from, so that a frame reads the few lines it
/// shows without copying a whole transcript.
struct PaneLines: Equatable {
    private var segments: [[[StyledRun]]] = []
    private(set) var count = 0

    mutating func append(contentsOf lines: [[StyledRun]]) {
        guard !lines.isEmpty else { return }
        segments.append(lines)
        count += lines.count
    }

    mutating func append(_ line: [StyledRun]) { append(contentsOf: [line]) }

    subscript(index: Int) -> [StyledRun] {
        var offset = index
        for segment in segments {
            if offset < segment.count { return segment[offset] }
            offset -= segment.count
        }
        preconditionFailure("line \(index) of \(count)")
    }

    /// Every line, copied out; for tests.
    var all: [[StyledRun]] { (0..<count).map { self[$0] } }
}

/// A pane's transcript as wrapped, styled lines at a given width.
enum PaneText {
    static func lines(for pane: PaneState, width: Int) -> PaneLines {
        var lines = PaneLines()
        guard width > 0 else { return lines }
        for (position, entry) in pane.entries.enumerated() {
            if position > 0 { lines.append([]) }
            WrapCache.shared.append(entry, width: width, to: &lines)
            switch entry.status {
            case .stopped: lines.append([StyledRun("■ stopped", Theme.marker)])
            case .failed(let message):
                lines.append(contentsOf: TextWrap.wrap([StyledRun("✗ " + InertText.sanitize(message), Theme.failure)], width: width))
            case .complete, .streaming: break
            }
        }
        return lines
    }

    /// Model text made safe and printable: control characters inert, tabs as spaces.
    static func clean(_ character: Character) -> String {
        character == "\t" ? "    " : InertText.sanitize(String(character))
    }

    static func isLineBreak(_ character: Character) -> Bool {
        character == "\n" || character == "\r\n"
    }
}

/// Wrapped lines of transcript entries, kept between frames.
///
/// Streamed text only grows, so each frame feeds just the characters that arrived since the last
/// one into a Markdown styler and a line wrapper that remember where they were: a long answer is
/// styled and wrapped once, not once per frame. The last character of a streaming entry waits for
/// the next delta, since a combining mark may still join it. A new width starts afresh.
final class WrapCache: @unchecked Sendable {
    static let shared = WrapCache()

    private struct Key: Hashable {
        var entry: Int
        var width: Int
    }

    private struct Progress {
        var consumedBytes = 0
        var completeLines: [[StyledRun]] = []
        var paragraph = MarkdownParagraph(block: .init())
        var wrapper: LineWrapper

        init(width: Int) { wrapper = LineWrapper(width: width) }
    }

    private let lock = NSLock()
    private var progress: [Key: Progress] = [:]
    private var userLines: [Key: [[StyledRun]]] = [:]

    func append(_ entry: TranscriptEntry, width: Int, to lines: inout PaneLines) {
        let key = Key(entry: entry.id, width: width)
        if entry.role == .user {
            if let cached = lock.withLock({ userLines[key] }) { return lines.append(contentsOf: cached) }
            let wrapped = Self.wrapUser(entry.text, width: width)
            lock.withLock { userLines[key] = wrapped }
            return lines.append(contentsOf: wrapped)
        }
        // Taken out while it is updated, so that appending lines does not copy them.
        var state = lock.withLock { progress.removeValue(forKey: key) } ?? Progress(width: width)
        let text = entry.text
        if text.utf8.count < state.consumedBytes { state = Progress(width: width) }

        let utf8 = text.utf8
        let fresh = text[utf8.index(utf8.startIndex, offsetBy: state.consumedBytes)...]
        var heldBack: Character?
        for character in fresh {
            if let previous = heldBack { consume(previous, into: &state, width: width) }
            heldBack = character
        }
        if let last = heldBack, entry.status != .streaming {
            consume(last, into: &state, width: width)
            heldBack = nil
        }
        // What is shown: finished paragraphs, then the current one as it stands.
        var paragraph = state.paragraph
        var wrapper = state.wrapper
        if let heldBack { for piece in PaneText.clean(heldBack) { paragraph.feed(piece, into: &wrapper) } }
        _ = paragraph.finish(into: &wrapper)
        lines.append(contentsOf: state.completeLines)
        if paragraph.isCode {
            lines.append(contentsOf: Self.tinted(wrapper.allLines, isCode: true, width: width))
        } else {
            lines.append(contentsOf: wrapper.lines)
            if let pending = wrapper.pendingLine { lines.append(pending) }
        }
        let finished = state
        lock.withLock {
            if progress.count > 4096 {
                progress.removeAll()
                userLines.removeAll()
            }
            progress[key] = finished
        }
    }

    private func consume(_ character: Character, into state: inout Progress, width: Int) {
        state.consumedBytes += character.utf8.count
        if PaneText.isLineBreak(character) {
            let block = state.paragraph.finish(into: &state.wrapper)
            state.completeLines += Self.tinted(state.wrapper.allLines, isCode: state.paragraph.isCode, width: width)
            state.paragraph = MarkdownParagraph(block: block)
            state.wrapper = LineWrapper(width: width)
            return
        }
        for piece in PaneText.clean(character) { state.paragraph.feed(piece, into: &state.wrapper) }
    }

    /// Code blocks are tinted to the pane's edge.
    private static func tinted(_ lines: [[StyledRun]], isCode: Bool, width: Int) -> [[StyledRun]] {
        guard isCode else { return lines }
        return lines.map { line in
            let used = line.reduce(0) { $0 + DisplayWidth.of($1.text) }
            return used < width ? line + [StyledRun(String(repeating: " ", count: width - used), Theme.code)] : line
        }
    }

    /// The user's message: `› ` before the first line, aligned continuation lines.
    private static func wrapUser(_ text: String, width: Int) -> [[StyledRun]] {
        let cleaned = text.map(PaneText.clean).joined()
        var lines: [[StyledRun]] = []
        for paragraph in cleaned.split(omittingEmptySubsequences: false, whereSeparator: PaneText.isLineBreak) {
            for wrapped in TextWrap.wrap([StyledRun(String(paragraph), Theme.userText)], width: max(1, width - 2)) {
                lines.append([StyledRun(lines.isEmpty ? "› " : "  ", Theme.userPrefix)] + wrapped)
            }
        }
        return lines
    }
}
