import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A process told apart from a later one that reuses its pid: the pid, plus the boot and the
/// moment the process started, as Linux keeps them under `/proc`.
struct ProcessIdentity: Sendable, Equatable {
    var pid: Int32
    /// `<boot id>:<start time in clock ticks>`; empty where `/proc` cannot tell.
    var start: String

    static let current = ProcessIdentity(pid: getpid(), start: startToken(of: getpid()))

    /// Whether the process that wrote a reservation still runs.
    static func isRunning(pid: Int32, start: String) -> Bool {
        if pid == current.pid, start == current.start { return true }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        // Same pid: the same process only if it started at the same moment of the same boot.
        return start.isEmpty || startToken(of: pid) == start
    }

    static func startToken(of pid: Int32) -> String {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return "" }
        // Fields after the command name, which may hold spaces: state is field 3, start time 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return "" }
        return boot.trimmingCharacters(in: .whitespacesAndNewlines) + ":" + fields[19]
    }
}

/// What this process is, as `persona monitor` names the source of its requests in flight:
/// `chat`, `ask`, `debate`, `batch` or `serve`. A command sets it as it starts.
public enum ProcessRole {
    private static let name = Mutex<String?>(nil)

    public static var current: String? { name.withLock { $0 } }

    public static func set(_ role: String) { name.withLock { $0 = role } }
}
