import Dispatch

/// The one clock of the run loop, the transport and the engine: nanoseconds on the uptime clock,
/// which never jumps, and which every thread of the process reads alike.
public enum MonotonicClock {
    public static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Seconds from `start` to `end` (by default, now); zero when `end` is earlier.
    public static func seconds(from start: UInt64, to end: UInt64 = now) -> Double {
        end > start ? Double(end - start) / 1e9 : 0
    }

    /// `seconds` as nanoseconds, clamped to what a deadline may be (0 to 10⁹ s).
    public static func nanoseconds(_ seconds: Double) -> UInt64 {
        UInt64(min(max(0, seconds), 1e9) * 1e9)
    }
}

/// Ticks every `nanoseconds` on `MonotonicClock`. Threads that pace themselves by one cadence keep
/// one phase: the transfer thread's reading passes and the chat screen's frames never drift
/// apart, as two timers of the same period do.
public struct Cadence: Sendable, Equatable {
    public let nanoseconds: UInt64

    public init(seconds: Double) { nanoseconds = max(1, UInt64(seconds * 1e9)) }

    /// The first tick after `time`.
    public func tick(after time: UInt64) -> UInt64 { (time / nanoseconds + 1) * nanoseconds }
}

/// What a screen needs of the engine's transport to pace its frames by the streams' arrival:
/// when reading passes happen, and when what a pass brought has been decoded and handed on.
public protocol StreamDelivery: AnyObject, Sendable {
    /// Reading passes start at most once per tick of this cadence.
    var cadence: Cadence { get set }
    /// True when every stream read in the last pass has been decoded and its events handed on.
    var isCaughtUp: Bool { get }
    /// Called, from a reader's task, each time the readers catch up after a pass that brought
    /// something; nil stops the calls.
    func onCaughtUp(_ hook: (@Sendable () -> Void)?)
}
