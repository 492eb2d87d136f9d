import Foundation
import MockProvider
#if canImport(Glibc)
import Glibc
#endif

/// The least CPU any gateway could spend here on streamed tokens: one thread that wakes on a
/// timer at the gateway's write interval, reads what each upstream socket holds and writes it
/// unchanged to its client's socket. No HTTP, no parsing, no encoding, no ledger: only the
/// kernel's part of a relay, which no design avoids. The upstreams are a thread that writes a
/// 120-byte event to every stream every 2 ms, as the mock does; the clients, a thread that reads
/// and discards. Returns the relaying thread's CPU per token, in seconds.
func relayFloor(streams: Int, tokens: Int, interval: Duration) throws -> Double {
    let upstream = try LoopbackListener(), downstream = try LoopbackListener()
    defer {
        close(upstream.socket)
        close(downstream.socket)
    }
    var relayIn: [Int32] = [], providerSide: [Int32] = [], relayOut: [Int32] = [], clientSide: [Int32] = []
    for _ in 0..<streams {
        relayIn.append(try upstream.connect())
        providerSide.append(try upstream.accept())
        relayOut.append(try downstream.connect())
        clientSide.append(try downstream.accept())
    }
    let eventSize = 120
    let provider = Thread { [providerSide] in
        let event = Array(("data: " + String(repeating: "x", count: eventSize - 8) + "\n\n").utf8)
        var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
        for _ in 0..<tokens {
            for socket in providerSide { _ = write(socket, event, event.count) }
            nanosleep(&pause, nil)
        }
        providerSide.forEach { close($0) }
    }
    let clientsDone = DispatchSemaphore(value: 0)
    let clients = Thread { [clientSide] in
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var watched = clientSide.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        while !watched.isEmpty {
            _ = poll(&watched, nfds_t(watched.count), -1)
            for index in watched.indices.reversed() where watched[index].revents != 0 {
                if read(watched[index].fd, &buffer, buffer.count) <= 0 {
                    close(watched[index].fd)
                    watched.remove(at: index)
                }
            }
        }
        clientsDone.signal()
    }
    provider.start()
    clients.start()

    let (seconds, attoseconds) = interval.components
    let period = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    var wake = timespec()
    clock_gettime(CLOCK_MONOTONIC, &wake)
    var buffer = [UInt8](repeating: 0, count: 65_536)
    var live = Array(repeating: true, count: streams)
    var relayed = 0
    let start = threadCPUSeconds()
    while live.contains(true) {
        wake.tv_nsec += period
        wake.tv_sec += wake.tv_nsec / 1_000_000_000
        wake.tv_nsec %= 1_000_000_000
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, nil)
        for stream in 0..<streams where live[stream] {
            while true {
                let count = recv(relayIn[stream], &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count < 0 { break }
                if count == 0 {
                    live[stream] = false
                    close(relayIn[stream])
                    close(relayOut[stream])
                    break
                }
                relayed += count
                _ = write(relayOut[stream], buffer, count)
            }
        }
    }
    let cpu = threadCPUSeconds() - start
    clientsDone.wait()
    return cpu / Double(max(1, relayed / eventSize))
}

/// A listener on 127.0.0.1 at a free port (`MockServer.listenOnLoopback`), for sockets with
/// Nagle's delay off.
private struct LoopbackListener {
    let socket: Int32
    let port: Int

    init() throws {
        (socket, port) = try MockServer.listenOnLoopback()
    }

    func connect() throws -> Int32 {
        let client = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard client >= 0, connected == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return Self.withoutDelay(client)
    }

    func accept() throws -> Int32 {
        let accepted = Glibc.accept(socket, nil, nil)
        guard accepted >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return Self.withoutDelay(accepted)
    }

    private static func withoutDelay(_ socket: Int32) -> Int32 {
        var on: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        return socket
    }
}
