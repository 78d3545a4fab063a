import Synchronization

/// Whether the MQTT bridge is draining a backlog: the broker had many messages waiting for it at once.
///
/// The broker's queue for the gateway is bounded (`max_queued_messages`) and drops when it fills; the log
/// is bounded only by the disk. So while a backlog drains, processors that are far behind anyway defer their
/// work (see `ProcessorConfiguration.intakeDeferral`) and the CPU goes to moving messages from the broker into
/// the log; they catch up from the log right after. The bridge reports each burst it commits; processors ask.
public final class IntakePressure: Sendable {
    /// A burst of at least this many messages means more were waiting than the bridge takes in one wake-up
    /// when it keeps up (a handful).
    public let backlogBurst: Int
    /// How long after the last such burst intake still counts as backlogged.
    public let window: Duration
    private let origin = ContinuousClock.now
    private let lastBacklogBurst = Atomic<Int64>(Int64.min)

    public init(backlogBurst: Int = 64, window: Duration = .milliseconds(200)) {
        self.backlogBurst = backlogBurst
        self.window = window
    }

    /// Called by the bridge after each burst is in the log.
    public func burstCommitted(messages: Int) {
        guard messages >= backlogBurst else { return }
        lastBacklogBurst.store(nanosecondsSinceOrigin(), ordering: .relaxed)
    }

    public var isBacklogged: Bool {
        let last = lastBacklogBurst.load(ordering: .relaxed)
        guard last != Int64.min else { return false }
        return nanosecondsSinceOrigin() - last <= window.nanoseconds
    }

    private func nanosecondsSinceOrigin() -> Int64 { (ContinuousClock.now - origin).nanoseconds }
}
