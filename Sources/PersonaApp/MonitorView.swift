import Foundation
import PersonaKit
import TerminalUI

/// Draws the monitor: a header with today's spend against the daily cap, a sparkline of the
/// last hour, then the requests in flight, the providers and the top spenders, with warnings and
/// the key hints at the bottom. Text from the database (names, models, clients) is made inert.
public enum MonitorView {
    public static func render(_ state: MonitorState) -> CellBuffer {
        var frame = CellBuffer(width: state.width, height: state.height)
        if state.tooSmall {
            drawTooSmall(state, into: &frame)
            return frame
        }
        let width = state.width
        drawHeader(state, into: &frame)
        drawHint(state, into: &frame)
        guard let snapshot = state.snapshot else {
            let message = state.problem ?? "Reading persona.db…"
            for (row, line) in TextWrap.wrap(message, width: width - 4).prefix(state.height - 4).enumerated() {
                frame.put(line, x: 2, y: 2 + row, style: Theme.notice)
            }
            return frame
        }
        drawSparkline(snapshot, y: 1, into: &frame)
        var bottom = state.height - 1
        let warnings = warningLines(snapshot, problem: state.problem).suffix(2)
        bottom -= warnings.count
        for (row, warning) in warnings.enumerated() { frame.put(warning.text, x: 1, y: bottom + row, style: warning.style, limit: width - 2) }
        // Three sections, each a title line and its rows, between the sparkline and the warnings.
        let body = bottom - 2 - 3
        let spenders = snapshot.spenders[state.table] ?? []
        let providerRows = min(max(1, snapshot.providers.count), max(1, body / 4))
        var spenderRows = min(max(1, spenders.count), max(2, body / 4))
        let flightRows = max(1, min(max(1, snapshot.inFlight.count), body - providerRows - spenderRows))
        spenderRows = max(1, body - providerRows - flightRows)
        var y = 2
        y = drawInFlight(snapshot, y: y, rows: flightRows, width: width, into: &frame)
        y = drawProviders(snapshot, y: y, rows: providerRows, width: width, into: &frame)
        drawSpenders(spenders, table: state.table, y: y, rows: spenderRows, width: width, into: &frame)
        if state.help { OverlayView.draw(Bindings.monitorHelpLines, top: 0, in: frame.bounds, into: &frame) }
        return frame
    }

    /// The screen as plain text, without its blank rows (`--once`): the rows the tables left
    /// unused on a tall frame.
    public static func text(_ state: MonitorState) -> String {
        render(state).lines.filter { !$0.isEmpty }.joined(separator: "\n") + "\n"
    }

    // MARK: Header and footer

    static func drawHeader(_ state: MonitorState, into frame: inout CellBuffer) {
        frame.fill(Rect(x: 0, y: 0, width: state.width, height: 1), style: Theme.header)
        var x = frame.put(" Persona monitor ", x: 0, y: 0, style: Theme.header)
        guard let snapshot = state.snapshot else { return }
        let today = snapshot.today
        var pieces: [StyledRun] = [StyledRun("│ today " + money(today), Theme.header)]
        if let cap = snapshot.budgets.daily {
            let (fraction, filled, style) = BudgetBar.measure(spent: Money.sum(today.picos, snapshot.heldPicos) ?? .max, cap: cap,
                                                               warnAtPermille: snapshot.budgets.warnAtPermille)
            pieces.append(StyledRun(" / " + Money.format(picos: cap) + " ", Theme.headerDim))
            pieces.append(StyledRun(String(repeating: "█", count: filled), style))
            pieces.append(StyledRun(String(repeating: "░", count: BudgetBar.width - filled) + " \(Int((fraction * 100).rounded(.down)))%",
                                    Theme.headerDim))
        }
        if snapshot.heldPicos > 0 { pieces.append(StyledRun(" · held " + Money.format(picos: snapshot.heldPicos) + " ", Theme.headerDim)) }
        for piece in pieces {
            guard x + DisplayWidth.of(piece.text) <= state.width else { break }
            x = frame.put(piece.text, x: x, y: 0, style: piece.style)
        }
    }

    /// ` 1 min $0.0100 · 1 h $0.0500 │ $/min ▁▂▃…█ peak $0.0400`: the last minute and hour, then
    /// a column per minute of the last hour, or per two to six minutes where the screen is too
    /// narrow for sixty, and the peak where it fits.
    static func drawSparkline(_ snapshot: MonitorSnapshot, y: Int, into frame: inout CellBuffer) {
        let recent = " 1 min " + money(snapshot.lastMinute) + " · 1 h " + money(snapshot.lastHour) + " │ "
        let room = frame.width - DisplayWidth.of(recent) - 10
        guard let minutesPerColumn = [1, 2, 3, 4, 6].first(where: { 60 / $0 <= room }) else {
            frame.put(recent, x: 0, y: y, style: Theme.hint)
            return
        }
        let columns = stride(from: 0, to: 60, by: minutesPerColumn).map { start in
            snapshot.perMinute[start..<min(60, start + minutesPerColumn)].reduce(0, +)
        }
        let peak = columns.max() ?? 0
        let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let line = String(columns.map { picos -> Character in
            guard picos > 0, peak > 0 else { return "·" }
            return levels[min(7, Int(Double(picos) / Double(peak) * 7.999))]
        })
        let unit = minutesPerColumn == 1 ? "$/min " : "$/\(minutesPerColumn) min "
        var x = frame.put(recent, x: 0, y: y, style: Theme.hint)
        x = frame.put(unit, x: x, y: y, style: Theme.hint)
        x = frame.put(line, x: x, y: y, style: Theme.statusActive)
        let tail = " peak " + Money.format(picos: peak)
        if x + DisplayWidth.of(tail) <= frame.width { frame.put(tail, x: x, y: y, style: Theme.hint) }
    }

    static func warningLines(_ snapshot: MonitorSnapshot, problem: String?) -> [(text: String, style: Style)] {
        var lines = snapshot.warnings.map { warning -> (text: String, style: Style) in
            let share = "\(Money.format(picos: warning.spentPicos)) of \(Money.format(picos: warning.capPicos))"
            return warning.exhausted
                ? ("✗ \(warning.budget) is exhausted: \(share); its requests are refused", Theme.statusError)
                : ("⚠ \(warning.budget) is past its warning level: \(share)", Theme.statusWarning)
        }
        if let problem { lines.insert(("✗ " + problem + "; showing the last snapshot read", Theme.statusError), at: 0) }
        return lines
    }

    static func drawHint(_ state: MonitorState, into frame: inout CellBuffer) {
        let y = state.height - 1
        let right = state.paused ? "PAUSED " : state.snapshot.map { " updated " + clock($0.taken) + " " } ?? ""
        let rightWidth = DisplayWidth.of(right)
        frame.put(DisplayWidth.truncate(Bindings.monitorHintLine, to: max(0, state.width - rightWidth - 2)), x: 1, y: y, style: Theme.hint)
        frame.put(right, x: state.width - rightWidth, y: y, style: state.paused ? Theme.notice : Theme.hint)
    }

    static func drawTooSmall(_ state: MonitorState, into frame: inout CellBuffer) {
        ChatView.drawTooSmall(["\(state.width)×\(state.height); the monitor needs",
                               "\(MonitorState.minimumWidth)×\(MonitorState.minimumHeight). Enlarge it, or q to quit."], into: &frame)
    }

    // MARK: Sections

    enum Align { case left, right }

    /// One line of a table: each cell fitted to its column, made inert, cut with `…`.
    static func line(_ cells: [(text: String, width: Int, align: Align)]) -> String {
        cells.map { cell in
            let text = InertText.sanitize(cell.text)
            let fitted = DisplayWidth.of(text) > cell.width ? DisplayWidth.prefix(text, fitting: max(0, cell.width - 1)) + "…" : text
            let pad = String(repeating: " ", count: max(0, cell.width - DisplayWidth.of(fitted)))
            return cell.align == .left ? fitted + pad : pad + fitted
        }.joined(separator: " ")
    }

    static func drawInFlight(_ snapshot: MonitorSnapshot, y: Int, rows: Int, width: Int, into frame: inout CellBuffer) -> Int {
        let source = min(24, max(10, width / 6)), persona = min(20, max(9, width / 7))
        let model = min(64, max(6, width - 6 - source - persona - 27))
        func cells(_ values: [String]) -> String {
            line([(values[0], source, .left), (values[1], persona, .left), (values[2], model, .left), (values[3], 7, .right),
                  (values[4], 8, .right), (values[5], 12, .right)])
        }
        frame.put(" " + cells(["IN FLIGHT \(snapshot.inFlight.count)", "PERSONA", "MODEL", "ELAPSED", "TOKENS", "SO FAR"]), x: 0, y: y,
                  style: Theme.heading)
        guard !snapshot.inFlight.isEmpty else {
            frame.put(" nothing in flight", x: 0, y: y + 1, style: Theme.hint)
            return y + 1 + rows
        }
        let overflow = snapshot.inFlight.count > rows
        for (row, request) in snapshot.inFlight.prefix(overflow ? rows - 1 : rows).enumerated() {
            var origin = request.source ?? "?"
            if let client = request.client { origin += " " + client }
            if request.stale { origin = "stale " + origin }
            let elapsed = max(0, snapshot.taken.timeIntervalSince(request.started))
            let tokens = (request.outputExact ? "" : "~") + "\(request.outputTokens)"
            let cost = request.picosSoFar.map { (request.batchJob == nil ? "~" : "") + Money.format(picos: $0) } ?? "$?"
            let style = request.stale ? Theme.statusError : request.batchJob != nil ? Theme.status : Theme.statusActive
            frame.put(" " + cells([origin, request.persona, request.provider + ":" + request.model, duration(elapsed), tokens, cost]),
                      x: 0, y: y + 1 + row, style: style)
        }
        if overflow {
            frame.put(" … and \(snapshot.inFlight.count - rows + 1) more", x: 0, y: y + rows, style: Theme.hint)
        }
        return y + 1 + rows
    }

    static func drawProviders(_ snapshot: MonitorSnapshot, y: Int, rows: Int, width: Int, into frame: inout CellBuffer) -> Int {
        let name = min(20, max(9, width / 8))
        let headroom = max(6, width - 8 - name - 5 - 10 - 6 - 8 - 8 - 9)
        func cells(_ values: [String]) -> String {
            line([(values[0], name, .left), (values[1], 5, .right), (values[2], 10, .right), (values[3], 6, .right), (values[4], 8, .right),
                  (values[5], 8, .right), (values[6], 9, .left), (values[7], min(40, headroom), .left)])
        }
        frame.put(" " + cells(["PROVIDERS", "REQS", "TODAY", "ERR", "TTFT p50", "p95", "BREAKER", "HEADROOM"]), x: 0, y: y, style: Theme.heading)
        if snapshot.providers.isEmpty { frame.put(" no requests today", x: 0, y: y + 1, style: Theme.hint) }
        for (row, provider) in snapshot.providers.prefix(rows).enumerated() {
            let errors = provider.errorPermille.map { "\($0 / 10).\($0 % 10)%" } ?? "–"
            let style = provider.breaker == "open" ? Theme.statusError
                : provider.breaker == "half-open" || provider.blockedUntil != nil ? Theme.statusWarning : Theme.status
            frame.put(" " + cells([provider.provider, "\(provider.today.requests)", money(provider.today), errors,
                                   provider.ttftP50.map { "\($0) ms" } ?? "–", provider.ttftP95.map { "\($0) ms" } ?? "–",
                                   provider.breaker ?? "–", headroomText(provider, now: snapshot.taken)]),
                      x: 0, y: y + 1 + row, style: style)
        }
        return y + 1 + rows
    }

    static func headroomText(_ provider: ProviderActivity, now: Date) -> String {
        if let blocked = provider.blockedUntil { return "waits \(duration(blocked.timeIntervalSince(now)))" }
        var parts: [String] = []
        if let left = provider.remainingRequests { parts.append("\(left)" + (provider.limitRequests.map { "/\($0)" } ?? "") + " req") }
        if let left = provider.remainingTokens { parts.append("\(left)" + (provider.limitTokens.map { "/\($0)" } ?? "") + " tok") }
        return parts.isEmpty ? "–" : parts.joined(separator: " · ")
    }

    static func drawSpenders(_ spenders: [Spender], table: SpenderKind, y: Int, rows: Int, width: Int, into frame: inout CellBuffer) {
        let key = min(60, max(20, width - 2 - 6 - 14 - 10 - 3))
        func cells(_ values: [String]) -> String {
            line([(values[0], key, .left), (values[1], 6, .right), (values[2], 14, .right), (values[3], 10, .right)])
        }
        let tabs = SpenderKind.allCases.map { $0 == table ? "[\($0.rawValue)]" : $0.rawValue }.joined(separator: " ")
        frame.put(" " + cells(["TOP TODAY by " + tabs, "REQS", "COST", "OUT TOK"]), x: 0, y: y, style: Theme.heading)
        if spenders.isEmpty { frame.put(" nothing spent today", x: 0, y: y + 1, style: Theme.hint) }
        for (row, spender) in spenders.prefix(rows).enumerated() {
            let name = spender.key.isEmpty ? (table == .client ? "(not through persona serve)" : "–") : spender.key
            frame.put(" " + cells([name, "\(spender.totals.requests)", money(spender.totals), "\(spender.totals.outputTokens)"]),
                      x: 0, y: y + 1 + row, style: Theme.status)
        }
    }

    // MARK: Text

    /// A total as the screen shows it: rounded for display, `~` while part of it is an
    /// estimate, `+?` when part of it has no price.
    static func money(_ totals: CostTotals) -> String {
        if totals.unpriced > 0, totals.unpriced == totals.requests { return "$?" }
        return (totals.estimated > 0 ? "~" : "") + Money.format(picos: totals.picos) + (totals.unpriced > 0 ? " +?" : "")
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let whole = Int(seconds.rounded(.down))
        if seconds < 60 { return Fixed.text(seconds, places: 1) + "s" }
        if whole < 3600 { return "\(whole / 60)m\(String(format: "%02d", whole % 60))s" }
        return "\(whole / 3600)h\(String(format: "%02d", whole / 60 % 60))m"
    }

    static func clock(_ date: Date) -> String {
        let parts = Calendar.current.dateComponents([.hour, .minute, .second], from: date)
        return String(format: "%02d:%02d:%02d", parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }
}
