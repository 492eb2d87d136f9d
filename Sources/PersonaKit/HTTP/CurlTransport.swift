import CCurl
import Foundation
import Synchronization

/// Streams HTTP requests through one libcurl multi handle driven by one dedicated thread.
///
/// Every request of the process shares that thread: eight panes or five hundred headless turns cost
/// one thread, not one each. libcurl is touched from that thread only; callers talk to it through a
/// locked queue and a wake-up descriptor. The thread drives libcurl by its sockets (an epoll set
/// and `curl_multi_socket_action`), so that a pass costs what its ready sockets bring, however
/// many transfers are open.
public final class CurlTransport: StreamDelivery, @unchecked Sendable {
    public static let shared = CurlTransport()

    /// The transfer thread's name, as `/proc/self/task/*/comm` shows it.
    public static let threadName = "persona-curl"

    /// Bodies up to this size are handed to libcurl whole; larger ones (a batch file) are read
    /// from the request as libcurl sends them, so that they are not held twice.
    static let copiedBodyLimit = 64 * 1024

    private let multi: UnsafeMutableRawPointer
    /// Rouses the transfer thread from either of its waits: the wait on the sockets, whose epoll set
    /// holds it, and the wait for the next tick.
    private let wakeFD: Int32
    /// The sockets libcurl asked to watch, and the wake-up descriptor; -1 if it could not be made.
    private let epoll: Int32
    private let epollWatch = UnsafeMutablePointer<persona_epoll_watch>.allocate(capacity: 1)
    /// When libcurl wants `curl_multi_socket_action` called for its timeouts, on
    /// `persona_monotonic_ns`; -1 for never.
    private let curlDeadline = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
    /// What other threads ask of the transfer thread, taken at the start of each pass.
    private struct Requests {
        var starts: [Transfer] = []
        var cancels: [UInt64] = []
        var resumes: [UInt64] = []
        var lastTransferID: UInt64 = 0
        var cadence = Cadence(seconds: 0.002)
        var firstTokenCadence: Cadence?
    }

    private let requests = Mutex(Requests())
    /// What the readers have yet to deal with of the reading passes; see `ReadingBacklog`.
    public let backlog = ReadingBacklog()
    /// Where the readers of responses run: on this thread, after the pass that brought their bytes.
    public let readers: any TaskExecutor
    private let readerJobs: TransferThreadExecutor
    // Owned by the transfer thread alone.
    private var active: [Int: Transfer] = [:]
    private let pass = ReadingPass()
    private var readyFDs = [Int32](repeating: 0, count: 1024)
    private var readyActions = [Int32](repeating: 0, count: 1024)

    /// When reading passes may start while transfers are active: at most one per tick.
    ///
    /// Tokens of parallel streams arrive a fraction of a millisecond apart, each in its own packet.
    /// Reading them in passes lets one pass (and one wake-up of each reader) carry many, where reading
    /// each packet as it lands costs a wake-up per token. The default, every 2 ms, suits printers;
    /// the chat screen sets its frame cadence, since it cannot show a token before its next frame,
    /// and the gateway the interval at which it writes to its clients. A new request, a
    /// cancellation or a reader's job does not wait for the tick: each wakes the thread.
    public var cadence: Cadence {
        get { requests.withLock { $0.cadence } }
        set { requests.withLock { $0.cadence = newValue } }
    }

    /// A shorter cadence for the passes while a response waits for its first token
    /// (`HTTPResponseStream.markFirstToken`); nil keeps `cadence`. The gateway reads flowing
    /// streams at its write interval, but a first token should not wait that long.
    public var firstTokenCadence: Cadence? {
        get { requests.withLock { $0.firstTokenCadence } }
        set { requests.withLock { $0.firstTokenCadence = newValue } }
    }

    public var isCaughtUp: Bool { backlog.isEmpty }

    public func onCaughtUp(_ hook: (@Sendable () -> Void)?) { backlog.onCaughtUp(hook) }

    private init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        multi = curl_multi_init()
        wakeFD = persona_wake_fd()
        var epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        epollWatch.initialize(to: persona_epoll_watch(epoll: epoll, multi: multi))
        if epoll >= 0, persona_multi_use_epoll(multi, epollWatch, wakeFD, curlDeadline) != 0 {
            close(epoll)
            epoll = -1
            epollWatch.pointee.epoll = -1
        }
        self.epoll = epoll
        readerJobs = TransferThreadExecutor()
        readers = readerJobs
        let thread = Thread { [unowned self] in self.run() }
        thread.name = Self.threadName
        thread.start()
    }

    /// Starts `request` and returns its response as a stream: `.head` first, then `.body` chunks.
    ///
    /// The stream ends normally when the transfer completes, throws `TransportError` when it fails,
    /// and cancels the transfer (closing its connection) when the consumer's task is cancelled or the
    /// stream is dropped.
    public func stream(_ request: HTTPRequest, timeouts: TransportTimeouts = TransportTimeouts()) -> HTTPResponseStream {
        let id = requests.withLock { requests in
            requests.lastTransferID += 1
            return requests.lastTransferID
        }
        let channel = ResponseChannel(backlog: backlog, cancel: { [weak self] in self?.cancel(id) },
                                      resume: { [weak self] in self?.resume(id) })
        let transfer = Transfer(id: id, request: request, timeouts: timeouts, channel: channel, pass: pass)
        requests.withLock { $0.starts.append(transfer) }
        wake()
        return HTTPResponseStream(channel: channel)
    }

    private func cancel(_ id: UInt64) {
        requests.withLock { $0.cancels.append(id) }
        wake()
    }

    private func resume(_ id: UInt64) {
        requests.withLock { $0.resumes.append(id) }
        wake()
    }

    private func wake() {
        guard wakeFD >= 0 else { return }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    private func drainWakes() {
        var count: UInt64 = 0
        _ = read(wakeFD, &count, 8)
    }

    private func run() {
        // Foundation does not pass Thread.name to the OS on Linux; name it so tools and tests see it.
        try? Self.threadName.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        readerJobs.adopt(currentThreadWakingWith: { [unowned self] in wake() })
        while true {
            let passStarted = MonotonicClock.now
            backlog.beginPass()
            // Tasks that moved here since the last pass, such as turns about to send their request.
            readerJobs.runJobs()
            let (starts, cancels, resumes, cadence, firstTokenCadence) = requests.withLock { requests in
                defer {
                    requests.starts.removeAll()
                    requests.cancels.removeAll()
                    requests.resumes.removeAll()
                }
                return (requests.starts, requests.cancels, requests.resumes, requests.cadence, requests.firstTokenCadence)
            }
            for transfer in starts { start(transfer) }
            for id in resumes {
                active.values.first { $0.id == id }?.resumeReading()
            }
            for id in cancels {
                if let transfer = active.values.first(where: { $0.id == id }) {
                    finish(transfer, error: TransportError(kind: .cancelled, message: "cancelled"))
                } else {
                    // Cancelled before the thread picked it up: never start it.
                    requests.withLock { $0.starts.removeAll { $0.id == id } }
                }
            }

            actOnReadySockets()
            let performed = MonotonicClock.now
            // Only the transfers that brought something are visited: with a thousand open, a
            // walk over all of them each pass would cost more than their tokens.
            let touched = pass.take()
            for transfer in touched { transfer.handOverReceived(at: performed) }
            var easy: UnsafeMutableRawPointer?
            var result = CURLE_OK
            while persona_multi_next_done(multi, &easy, &result) != 0 {
                guard let easy, let transfer = active[Int(bitPattern: easy)] else { continue }
                if result == CURLE_OK {
                    finish(transfer, error: nil)
                } else {
                    finish(transfer, error: transfer.transportError(for: result))
                }
            }
            expireIdleTransfers()
            // Each reader runs once per pass, with all its response brought.
            var brought = false
            for transfer in touched { brought = transfer.channel.publish() || brought }
            readerJobs.runJobs()
            backlog.endPass()

            let awaitingFirstToken = firstTokenCadence != nil && active.values.contains { $0.channel.awaitsFirstToken }
            let nextPass = (awaitingFirstToken ? firstTokenCadence ?? cadence : cadence).tick(after: passStarted)
            // While bytes flow, the next pass is at the tick whatever arrives before it: watching the
            // sockets in between would only find them readable. Silent streams are watched, so the
            // thread sleeps until their first bytes rather than waking every tick.
            var passNow = false
            if !brought || readerJobs.hasJobs { passNow = Self.passesAtOnce(after: waitForSockets(), awaitingFirstToken: awaitingFirstToken) }
            if !active.isEmpty, !passNow { waitForTick(nextPass) }
        }
    }

    /// What ended a wait for sockets.
    enum Awoken {
        case socket, wakeUp, timeout
    }

    /// Whether the pass after a wait for sockets comes at once rather than at the tick: it does
    /// for what is asked of the thread (a new request, a cancellation, a reader's job), and for
    /// bytes while a response waits for its first token. Other bytes wait for the tick, so that
    /// one pass reads many.
    static func passesAtOnce(after awoken: Awoken, awaitingFirstToken: Bool) -> Bool {
        switch awoken {
        case .wakeUp: true
        case .socket: awaitingFirstToken
        case .timeout: false
        }
    }

    /// Lets libcurl read and write the sockets that are ready, and run its due timeouts (a new
    /// transfer starts on one).
    private func actOnReadySockets() {
        var running: Int32 = 0
        let count = persona_epoll_ready(epoll, 0, &readyFDs, &readyActions, Int32(readyFDs.count))
        for index in 0..<max(0, Int(count)) {
            if readyFDs[index] == wakeFD {
                drainWakes()
            } else {
                curl_multi_socket_action(multi, readyFDs[index], readyActions[index], &running)
            }
        }
        let deadline = curlDeadline.pointee
        if deadline >= 0, persona_monotonic_ns() >= deadline {
            // libcurl's timer does not repeat: it sets the next one, if any, while it acts.
            curlDeadline.pointee = -1
            curl_multi_socket_action(multi, persona_socket_timeout, 0, &running)
        }
    }

    /// Waits until a socket or the wake-up descriptor is ready, or until the nearest timeout;
    /// not at all when readers' jobs wait.
    private func waitForSockets() -> Awoken {
        var timeout = readerJobs.hasJobs ? 0 : pollTimeoutMillis()
        let deadline = curlDeadline.pointee
        if deadline >= 0 { timeout = min(timeout, Int32(clamping: max(0, deadline - persona_monotonic_ns() + 999_999) / 1_000_000)) }
        var fd: Int32 = 0
        var action: Int32 = 0
        let count = persona_epoll_ready(epoll, timeout, &fd, &action, 1)
        if count == 1, fd == wakeFD {
            drainWakes()
            return .wakeUp
        }
        if count < 0, errno != EINTR {
            // No epoll set: nothing can be watched, so look again soon.
            usleep(useconds_t(timeout) * 1000)
        }
        return count == 1 ? .socket : .timeout
    }

    /// Sleeps until `tick`, unless woken. The sockets are not watched: bytes that land meanwhile
    /// wait for the tick, so that one pass reads many of them.
    private func waitForTick(_ tick: UInt64) {
        let now = MonotonicClock.now
        guard now < tick else { return }
        let left = tick - now
        guard wakeFD >= 0 else {
            usleep(useconds_t(left / 1000))
            return
        }
        if persona_wait_readable(wakeFD, Int64(left)) > 0 { drainWakes() }
    }

    private func start(_ transfer: Transfer) {
        guard epoll >= 0 else {
            transfer.channel.finish(error: TransportError(kind: .network, message: "the process could not make an epoll set to watch sockets"))
            return
        }
        guard let easy = transfer.makeEasyHandle() else {
            transfer.channel.finish(error: TransportError(kind: .network, message: "libcurl could not create a handle"))
            return
        }
        active[Int(bitPattern: easy)] = transfer
        let code = curl_multi_add_handle(multi, easy)
        if code != CURLM_OK {
            finish(transfer, error: TransportError(kind: .network, message: "libcurl refused the transfer (\(code.rawValue))"))
        }
    }

    /// Removes the handle (which closes its connection if the response was not complete) and ends
    /// the caller's stream.
    private func finish(_ transfer: Transfer, error: TransportError?) {
        guard let easy = transfer.easy else { return }
        curl_multi_remove_handle(multi, easy)
        active[Int(bitPattern: easy)] = nil
        transfer.completeAndRelease(error: error)
    }

    private func expireIdleTransfers() {
        let now = MonotonicClock.now
        for transfer in active.values {
            if let message = transfer.expiry(now: now) { finish(transfer, error: TransportError(kind: .timeout, message: message)) }
        }
    }

    private func pollTimeoutMillis() -> Int32 {
        // Without a wake-up descriptor, new requests are noticed only by looking often.
        guard wakeFD >= 0 else { return 1 }
        guard !active.isEmpty else { return 60_000 }
        let now = MonotonicClock.now
        var nearest = UInt64(1_000_000_000)
        for transfer in active.values {
            let deadline = min(transfer.idleDeadline, transfer.totalDeadline)
            nearest = min(nearest, deadline > now ? deadline - now : 0)
        }
        return Int32(max(1, min(1000, (nearest + 999_999) / 1_000_000)))
    }

    static func formatSeconds(_ seconds: Double) -> String {
        seconds.rounded() == seconds && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
    }
}

/// The transfers whose callbacks brought something in the current reading pass. It lives on
/// the transfer thread.
private final class ReadingPass: @unchecked Sendable {
    private var touched: [Transfer] = []

    func add(_ transfer: Transfer) { touched.append(transfer) }

    /// The pass's transfers, each once; the next pass starts empty.
    func take() -> [Transfer] {
        defer { touched.removeAll(keepingCapacity: true) }
        for transfer in touched { transfer.isTouched = false }
        return touched
    }
}

/// One request's state. It lives on the transfer thread from `start` to `finish`.
private final class Transfer: @unchecked Sendable {
    let id: UInt64
    let request: HTTPRequest
    let timeouts: TransportTimeouts
    let channel: ResponseChannel
    private let pass: ReadingPass
    /// In `pass` already.
    var isTouched = false
    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var uploadOffset = 0
    private var status = 0
    private var headers = HTTPHeaders()
    private var headSent = false
    private var lastActivity = MonotonicClock.now
    private let started = MonotonicClock.now
    private var connected = false
    private var receivedBody = false
    /// Body bytes libcurl delivered in the current reading pass. A stream arrives as many small
    /// chunks (a token each, over chunked HTTP), and they reach the reader's channel together, at
    /// the pass's end: one lock and one clock reading per pass, not per chunk.
    private var passBody: [UInt8] = []
    /// The room the reader's channel had when the pass's first bytes came.
    private var passRoom = 0

    init(id: UInt64, request: HTTPRequest, timeouts: TransportTimeouts, channel: ResponseChannel, pass: ReadingPass) {
        self.id = id
        self.request = request
        self.timeouts = timeouts
        self.channel = channel
        self.pass = pass
        errorBuffer.initialize(to: 0)
    }

    deinit {
        errorBuffer.deallocate()
    }

    var idleDeadline: UInt64 {
        let allowance: Double
        if receivedBody {
            allowance = timeouts.idle
        } else {
            // Reasoning models may think for minutes before their first byte; mid-stream silence is
            // what the idle limit is for. Until connected, libcurl's connect timeout governs too.
            allowance = timeouts.firstByte + (connected ? 0 : timeouts.connect)
        }
        return lastActivity + MonotonicClock.nanoseconds(allowance)
    }

    var totalDeadline: UInt64 { started + MonotonicClock.nanoseconds(timeouts.total) }


    /// Why the transfer must end now, if it must: too long silent, or too long in all.
    func expiry(now: UInt64) -> String? {
        if now >= totalDeadline {
            return "the answer took longer than \(CurlTransport.formatSeconds(timeouts.total)) s in all (timeouts.turn)"
        }
        // A paused transfer is silent because the reader is behind, not because the server is.
        if channel.isPaused { return nil }
        if !connected, let easy {
            var connectSeconds = 0.0
            persona_easy_getinfo_double(easy, CURLINFO_CONNECT_TIME, &connectSeconds)
            if connectSeconds > 0 {
                connected = true
                lastActivity = now
            }
        }
        guard now >= idleDeadline else { return nil }
        return receivedBody
            ? "no data from the server for \(CurlTransport.formatSeconds(timeouts.idle)) s (timeouts.stream_idle)"
            : "no answer from the server within \(CurlTransport.formatSeconds(timeouts.firstByte)) s "
                + "(the first-byte limit: \(CurlTransport.formatSeconds(TransportTimeouts.firstByteFactor)) × timeouts.stream_idle)"
    }

    func makeEasyHandle() -> UnsafeMutableRawPointer? {
        guard let easy = curl_easy_init() else { return nil }
        self.easy = easy
        let context = Unmanaged.passRetained(self).toOpaque()
        persona_easy_setopt_string(easy, CURLOPT_URL, request.url)
        persona_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        persona_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        persona_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        persona_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(max(1, timeouts.connect * 1000)))
        persona_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        persona_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        persona_easy_setopt_string(easy, CURLOPT_USERAGENT, "persona/" + PersonaVersion.number)
        persona_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")
        persona_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        persona_easy_setopt_pointer(easy, CURLOPT_PRIVATE, context)
        persona_easy_setopt_data_cb(easy, CURLOPT_WRITEFUNCTION, curlWrite)
        persona_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        persona_easy_setopt_data_cb(easy, CURLOPT_HEADERFUNCTION, curlHeader)
        persona_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context)

        switch request.method {
        case "GET":
            persona_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        default:
            if request.method != "POST" {
                persona_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method)
            }
            persona_easy_setopt_long(easy, CURLOPT_POST, 1)
            persona_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
            if request.body.count <= CurlTransport.copiedBodyLimit {
                // libcurl sends a copied body with the headers, in one write, and allocates no
                // upload buffer (64 KB a transfer, which a thousand at once would feel).
                _ = request.body.withUnsafeBytes { bytes in
                    persona_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                }
            } else {
                persona_easy_setopt_data_cb(easy, CURLOPT_READFUNCTION, curlRead)
                persona_easy_setopt_pointer(easy, CURLOPT_READDATA, context)
            }
        }

        // An empty `Expect:` stops libcurl waiting a second for `100 Continue` on larger bodies.
        var list: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Expect:")
        for field in request.headers {
            list = curl_slist_append(list, "\(field.name): \(field.value)")
        }
        headerList = list
        persona_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)
        return easy
    }

    /// Ends the caller's stream and frees the handle and this object's retain on the transfer thread.
    func completeAndRelease(error: TransportError?) {
        if error == nil { sendHeadIfNeeded() }
        handOverReceived(at: MonotonicClock.now)
        channel.finish(error: error)
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        curl_slist_free_all(headerList)
        headerList = nil
        Unmanaged.passUnretained(self).release()
    }

    func transportError(for code: CURLcode) -> TransportError {
        let detail = errorBuffer.pointee != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let kind: TransportError.Kind = code == CURLE_OPERATION_TIMEDOUT ? .timeout : .network
        return TransportError(kind: kind, message: detail, curlCode: Int(code.rawValue))
    }

    /// Keeps body bytes for the reader until the pass ends; false asks libcurl to pause and deliver
    /// them again later, since the reader already has as much waiting as it may.
    fileprivate func received(body pointer: UnsafeRawPointer, count: Int) -> Bool {
        if passBody.isEmpty {
            connected = true
            receivedBody = true
            sendHeadIfNeeded()
            passRoom = channel.room
            touch()
        }
        guard passBody.count < passRoom else {
            channel.pauseForReader()
            return false
        }
        passBody.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: count))
        return true
    }

    /// Gives the reader's channel what the pass brought, at the pass's time.
    func handOverReceived(at now: UInt64) {
        guard !passBody.isEmpty else { return }
        lastActivity = now
        channel.receive(body: &passBody)
    }

    /// Unpauses after the reader caught up; libcurl may redeliver held bytes right here.
    func resumeReading() {
        guard let easy else { return }
        lastActivity = MonotonicClock.now
        curl_easy_pause(easy, 0)
    }

    fileprivate func received(headerLine pointer: UnsafeRawPointer, count: Int) {
        lastActivity = MonotonicClock.now
        connected = true
        let line = Self.trimmed(UnsafeRawBufferPointer(start: pointer, count: count)[...])
        if line.starts(with: "HTTP/".utf8) {
            // A new header block: after `100 Continue` or a proxy's `200 Connection established`.
            let parts = line.split(separator: 0x20, maxSplits: 2)
            status = parts.count > 1 ? Int(String(decoding: parts[1], as: UTF8.self)) ?? 0 : 0
            headers = HTTPHeaders()
        } else if line.isEmpty {
            if status >= 200 { sendHeadIfNeeded() }
        } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            // Trimmed as bytes: Foundation's `trimmingCharacters` cost more than the rest of the response's head.
            headers.add(String(decoding: Self.trimmed(line[..<colon]), as: UTF8.self),
                        String(decoding: Self.trimmed(line[line.index(after: colon)...]), as: UTF8.self))
        }
    }

    /// `bytes` without the spaces, tabs and line ends around it.
    private static func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        var bytes = bytes
        while let first = bytes.first, isSpace(first) { bytes = bytes.dropFirst() }
        while let last = bytes.last, isSpace(last) { bytes = bytes.dropLast() }
        return bytes
    }

    private func sendHeadIfNeeded() {
        guard !headSent, status >= 200 else { return }
        headSent = true
        channel.receive(head: HTTPResponseHead(status: status, headers: headers))
        touch()
    }

    private func touch() {
        guard !isTouched else { return }
        isTouched = true
        pass.add(self)
    }

    fileprivate func fillUpload(_ buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let remaining = request.body.count - uploadOffset
        let count = min(remaining, capacity)
        guard count > 0 else { return 0 }
        request.body.withUnsafeBytes { bytes in
            UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + uploadOffset, byteCount: count)
        }
        uploadOffset += count
        return count
    }
}

private let curlWrite: persona_curl_data_cb = { pointer, size, count, context in
    guard let pointer, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.received(body: pointer, count: size * count) ? size * count : persona_curl_writefunc_pause
}

private let curlHeader: persona_curl_data_cb = { pointer, size, count, context in
    guard let pointer, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    transfer.received(headerLine: pointer, count: size * count)
    return size * count
}

private let curlRead: persona_curl_data_cb = { buffer, size, count, context in
    guard let buffer, let context else { return persona_curl_readfunc_abort }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.fillUpload(buffer, capacity: size * count)
}
