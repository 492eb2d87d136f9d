import Foundation
import TerminalUI

/// A pane's transcript as wrapped, styled lines at a given width.
///
/// Streamed text only grows, so each entry's complete lines (up to its last newline) are wrapped
/// once and cached; per frame only the growing last line is wrapped again. A resize re-wraps
/// everything from the stored text.
enum PaneText {
    static func lines(for pane: PaneState, width: Int) -> [[StyledRun]] {
        guard width > 0 else { return [] }
        var lines: [[StyledRun]] = []
        for (position, entry) in pane.entries.enumerated() {
            if position > 0 { lines.append([]) }
            switch entry.role {
            case .user:
                lines += userLines(entry, width: width)
            case .assistant:
                lines += WrapCache.shared.lines(for: entry, width: width)
                switch entry.status {
                case .stopped: lines.append([StyledRun("■ stopped", Theme.marker)])
                case .failed(let message):
                    lines += TextWrap.wrap([StyledRun("✗ " + InertText.sanitize(message), Theme.failure)], width: width)
                case .complete, .streaming: break
                }
            }
        }
        return lines
    }

    static func userLines(_ entry: TranscriptEntry, width: Int) -> [[StyledRun]] {
        let text = clean(entry.text)
        var lines: [[StyledRun]] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            for wrapped in TextWrap.wrap([StyledRun(String(paragraph), Theme.userText)], width: max(1, width - 2)) {
                lines.append([StyledRun(lines.isEmpty ? "› " : "  ", Theme.userPrefix)] + wrapped)
            }
        }
        return lines
    }

    /// Model text made safe and printable: control characters inert, tabs as spaces.
    static func clean(_ text: String) -> String {
        InertText.sanitize(text.replacingOccurrences(of: "\t", with: "    "))
    }
}

/// Wrapped lines of assistant entries, kept between frames.
final class WrapCache: @unchecked Sendable {
    static let shared = WrapCache()

    private struct Key: Hashable {
        var entry: Int
        var width: Int
    }

    private struct Cached {
        /// UTF-8 length of the text up to and including its last newline, already wrapped.
        var stableBytes = 0
        var stableLines: [[StyledRun]] = []
        var state = Markdown.LineState()
    }

    private let lock = NSLock()
    private var cache: [Key: Cached] = [:]

    func lines(for entry: TranscriptEntry, width: Int) -> [[StyledRun]] {
        let key = Key(entry: entry.id, width: width)
        let text = entry.text
        var cached = lock.withLock { cache[key] } ?? Cached()
        if text.utf8.count < cached.stableBytes { cached = Cached() }

        let utf8 = text.utf8
        let stableStart = utf8.index(utf8.startIndex, offsetBy: cached.stableBytes)
        if let lastNewline = text[stableStart...].lastIndex(of: "\n") {
            let newlyStable = text[stableStart..<lastNewline]
            for line in newlyStable.split(separator: "\n", omittingEmptySubsequences: false) {
                cached.stableLines += wrap(String(line), state: &cached.state, width: width)
            }
            cached.stableBytes = utf8.distance(from: utf8.startIndex, to: text.index(after: lastNewline))
        }
        let snapshot = cached
        lock.withLock {
            if cache.count > 4096 { cache.removeAll() }
            cache[key] = snapshot
        }

        let tail = text[utf8.index(utf8.startIndex, offsetBy: cached.stableBytes)...]
        guard !tail.isEmpty else { return cached.stableLines }
        var state = cached.state
        return cached.stableLines + wrap(String(tail), state: &state, width: width)
    }

    private func wrap(_ line: String, state: inout Markdown.LineState, width: Int) -> [[StyledRun]] {
        let runs = Markdown.style(PaneText.clean(line), state: &state)
        let wrapped = TextWrap.wrap(runs, width: width)
        // Code blocks are tinted to the pane's edge.
        guard runs.first?.style == Theme.code else { return wrapped }
        return wrapped.map { line in
            let used = line.reduce(0) { $0 + DisplayWidth.of($1.text) }
            return used < width ? line + [StyledRun(String(repeating: " ", count: width - used), Theme.code)] : line
        }
    }
}
