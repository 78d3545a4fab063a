import Synchronization

/// What one alert sink did, for /metrics: alerts delivered, failed attempts (each retry counts), and alerts
/// given up on (queue full, or retries exhausted).
public final class AlertCounters: Sendable {
    public let sink: String
    private let sentCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)

    public init(sink: String) {
        self.sink = sink
    }

    public var sent: Int { sentCount.load(ordering: .relaxed) }
    public var failed: Int { failedCount.load(ordering: .relaxed) }
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }

    public func recordSent() { sentCount.add(1, ordering: .relaxed) }
    public func recordFailed() { failedCount.add(1, ordering: .relaxed) }
    public func recordDropped() { droppedCount.add(1, ordering: .relaxed) }
}
