import TerminalUI

/// The bar the chat header and the monitor draw for spending against a cap: ten cells filled by
/// the share spent, yellow from the warning level and red at the cap. Display only: the share
/// is a fraction, which integers could overflow for large caps.
enum BudgetBar {
    static let width = 10

    static func measure(spent: Int64?, cap: Int64, warnAtPermille: Int) -> (fraction: Double, filled: Int, style: Style) {
        let fraction = cap > 0 ? Double(max(0, spent ?? 0)) / Double(cap) : 1
        let filled = min(width, Int((fraction * Double(width)).rounded(.up)))
        let style = fraction >= 1 ? Theme.barOver : fraction * 1000 >= Double(warnAtPermille) ? Theme.barWarn : Theme.barFill
        return (fraction, filled, style)
    }
}
