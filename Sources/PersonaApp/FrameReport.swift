/// Figures about one presented frame, for the benchmark, and the state it showed, for tests.
public struct FrameReport: Sendable {
    /// Seconds spent drawing the state into a frame, and handing the changes to the screen.
    public var renderSeconds: Double
    public var presentSeconds: Double
    public var state: AppState
}
