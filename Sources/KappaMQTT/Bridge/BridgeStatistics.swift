import KappaCore
import Synchronization

/// What the bridge has done since it started, for metrics and health. Updated on the MQTT network thread,
/// read from anywhere.
public final class BridgeStatistics: Sendable {
    private let messages = Atomic<Int>(0)
    private let payloadBytes = Atomic<Int>(0)
    private let readings = Atomic<Int>(0)
    private let deadLetters = Atomic<Int>(0)
    private let redeliveredMessages = Atomic<Int>(0)
    private let redeliveredReadings = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)
    private let sparkplugSequenceGaps = Atomic<Int>(0)
    private let sparkplugStaleDeaths = Atomic<Int>(0)
    private let sparkplugRebirthRequests = Atomic<Int>(0)
    /// When the latest message was read (nanoseconds since the epoch, 0 before the first).
    private let lastMessageReceived = Atomic<Int64>(0)
    private let messagesByRoute: [RouteCounter]
    private let deadLettersByReason = Mutex<[String: Int]>([:])
    private let pauseReason = Mutex<String?>(nil)
    /// Whether intake is draining a backlog, for the processors to give way.
    public let intakePressure: IntakePressure

    /// - Parameter routeCount: how many topic routes the bridge has (messages are counted per route).
    public init(routeCount: Int, intakePressure: IntakePressure = IntakePressure()) {
        messagesByRoute = (0..<max(routeCount, 0)).map { _ in RouteCounter() }
        self.intakePressure = intakePressure
    }

    public struct Snapshot: Sendable, Equatable {
        public var messages: Int
        public var payloadBytes: Int
        public var readings: Int
        public var deadLetters: Int
        /// Messages the broker delivered again that the log already held whole (acknowledged, not stored).
        public var redeliveredMessages: Int
        /// Readings not stored again because the log held them (of whole or partly stored messages).
        public var redeliveredReadings: Int
        /// Indexed like the bridge's routes.
        public var messagesByRoute: [Int]
        public var deadLettersByReason: [String: Int]
        /// Why intake is paused (the log refuses appends), or nil while it flows.
        public var pausedBecause: String?
        /// Sparkplug messages whose `seq` was not the one expected.
        public var sparkplugSequenceGaps: Int = 0
        /// Sparkplug NDEATHs ignored because their `bdSeq` was not the session's (a late will).
        public var sparkplugStaleDeaths: Int = 0
        /// Sparkplug rebirth requests (NCMD) sent.
        public var sparkplugRebirthRequests: Int = 0
        /// When the latest message was read; nil before the first. With `messages`, it tells when the bridge
        /// had a known number of messages to the nanosecond, however seldom it is sampled.
        public var lastMessageReceivedAt: Timestamp? = nil
    }

    public var snapshot: Snapshot {
        Snapshot(
            messages: messages.load(ordering: .acquiring),
            payloadBytes: payloadBytes.load(ordering: .relaxed),
            readings: readings.load(ordering: .relaxed),
            deadLetters: deadLetters.load(ordering: .relaxed),
            redeliveredMessages: redeliveredMessages.load(ordering: .relaxed),
            redeliveredReadings: redeliveredReadings.load(ordering: .relaxed),
            messagesByRoute: messagesByRoute.map { $0.count.load(ordering: .relaxed) },
            deadLettersByReason: deadLettersByReason.withLock { $0 },
            pausedBecause: paused.load(ordering: .relaxed) ? pauseReason.withLock { $0 } : nil,
            sparkplugSequenceGaps: sparkplugSequenceGaps.load(ordering: .relaxed),
            sparkplugStaleDeaths: sparkplugStaleDeaths.load(ordering: .relaxed),
            sparkplugRebirthRequests: sparkplugRebirthRequests.load(ordering: .relaxed),
            lastMessageReceivedAt: lastMessageReceivedAt
        )
    }

    private var lastMessageReceivedAt: Timestamp? {
        let nanoseconds = lastMessageReceived.load(ordering: .relaxed)
        return nanoseconds == 0 ? nil : Timestamp(nanosecondsSinceEpoch: nanoseconds)
    }

    func messageReceived(bytes: Int, route: Int?, at receivedAt: Timestamp) {
        // Stored before the count grows, so a reader that sees the count sees this message's time or a later one.
        lastMessageReceived.store(receivedAt.nanosecondsSinceEpoch, ordering: .relaxed)
        messages.add(1, ordering: .releasing)
        payloadBytes.add(bytes, ordering: .relaxed)
        if let route, messagesByRoute.indices.contains(route) {
            messagesByRoute[route].count.add(1, ordering: .relaxed)
        }
    }

    func readingsAppended(_ count: Int) {
        readings.add(count, ordering: .relaxed)
    }

    func redelivered(readings: Int, wholeMessage: Bool) {
        if wholeMessage { redeliveredMessages.add(1, ordering: .relaxed) }
        redeliveredReadings.add(readings, ordering: .relaxed)
    }

    func deadLettered(_ reason: DeadLetterReason) {
        deadLetters.add(1, ordering: .relaxed)
        deadLettersByReason.withLock { $0[reason.rawValue, default: 0] += 1 }
    }

    func sparkplugOutcome(sequenceGap: Bool, staleDeath: Bool) {
        if sequenceGap { sparkplugSequenceGaps.add(1, ordering: .relaxed) }
        if staleDeath { sparkplugStaleDeaths.add(1, ordering: .relaxed) }
    }

    func sparkplugRebirthRequested() {
        sparkplugRebirthRequests.add(1, ordering: .relaxed)
    }

    func pause(because reason: String) {
        pauseReason.withLock { $0 = reason }
        paused.store(true, ordering: .relaxed)
    }

    func resume() {
        paused.store(false, ordering: .relaxed)
    }
}

/// An atomic counter that can live in an array (an `Atomic` itself cannot be copied into one).
private final class RouteCounter: Sendable {
    let count = Atomic<Int>(0)
}
