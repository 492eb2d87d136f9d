import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Waiting for descriptors to become readable.
enum Readiness {
    /// Waits until one of `descriptors` can be read or `timeout` seconds pass, and returns those
    /// that can. It is `select`, because `poll` counts whole milliseconds, and a frame rounded up
    /// a millisecond is a millisecond of latency; `poll` remains for descriptors past select's limit.
    static func wait(for descriptors: [Int32], timeout: Double?) -> [Int32] {
        guard descriptors.allSatisfy({ $0 < FD_SETSIZE }) else {
            var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let millis = timeout.map { Int32(($0 * 1000).rounded(.up)) } ?? -1
            guard poll(&fds, nfds_t(fds.count), millis) > 0 else { return [] }
            return fds.filter { $0.revents & Int16(POLLIN | POLLHUP) != 0 }.map(\.fd)
        }
        var set = fd_set()
        withUnsafeMutableBytes(of: &set) { raw in
            let words = raw.bindMemory(to: Int.self)
            for fd in descriptors { words[Int(fd) / Int.bitWidth] |= 1 << (Int(fd) % Int.bitWidth) }
        }
        let micros = Int(((timeout ?? 0) * 1e6).rounded(.up))
        var limit = timeval(tv_sec: micros / 1_000_000, tv_usec: micros % 1_000_000)
        let count = timeout == nil ? select(descriptors.max()! + 1, &set, nil, nil, nil)
            : select(descriptors.max()! + 1, &set, nil, nil, &limit)
        guard count > 0 else { return [] }
        return withUnsafeBytes(of: &set) { raw in
            let words = raw.bindMemory(to: Int.self)
            return descriptors.filter { words[Int($0) / Int.bitWidth] & (1 << (Int($0) % Int.bitWidth)) != 0 }
        }
    }
}
