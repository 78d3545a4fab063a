import KappaCore
import Synchronization

/// How fast simulated time passes.
public enum Pacing: Sendable, Equatable {
    /// As fast as the broker takes the messages.
    case fast
    /// Each message at its send time, with simulated time running `speed` times as fast as the wall clock.
    case realTime(speed: Double)
}

/// Set from a signal handler or another task to end a run early (it still drains and summarises).
public final class StopFlag: Sendable {
    private let flag = Atomic(false)

    public init() {}

    public func stop() { flag.store(true, ordering: .relaxed) }
    public var isStopped: Bool { flag.load(ordering: .relaxed) }
}

/// Drives a message source into the publisher: pacing, the message limit, the labels file.
public struct SimulationRun<Source: MessageSource> {
    public var source: Source
    public var pacing: Pacing
    /// Stop after this many messages (nil: when the source ends).
    public var limit: Int?
    /// Messages generated ahead and handed over together (per connection, about `PublishOptions.window`).
    public var batchSize: Int

    public init(source: Source, pacing: Pacing, limit: Int? = nil, batchSize: Int = 1_000) {
        self.source = source
        self.pacing = pacing
        self.limit = limit
        self.batchSize = batchSize
    }

    /// Publishes until the source ends, the limit is reached or `stop` is set; then waits until every
    /// message is acknowledged and writes the remaining labels.
    public mutating func run(publisher: MQTTFleetPublisher, labels: LabelFileWriter?, stop: StopFlag = StopFlag()) async throws {
        var this = self
        self = try await publisher.run {
            try await this.publishAll(publisher: publisher, labels: labels, stop: stop)
            return this
        }
    }

    private mutating func publishAll(publisher: MQTTFleetPublisher, labels: LabelFileWriter?, stop: StopFlag) async throws {
        let clock = ContinuousClock()
        let wallStart = clock.now
        let simulatedStart = source.startTime
        var taken = 0
        var lookahead: SimulatedMessage?
        func due(_ message: SimulatedMessage) -> ContinuousClock.Instant? {
            guard case .realTime(let speed) = pacing else { return nil }
            let nanoseconds = Double(message.sendTime.nanosecondsSinceEpoch - simulatedStart.nanosecondsSinceEpoch) / speed
            return wallStart + .nanoseconds(Int64(nanoseconds))
        }
        var batch: [SimulatedMessage] = []
        batch.reserveCapacity(batchSize)
        while !stop.isStopped {
            if lookahead == nil, limit.map({ taken < $0 }) ?? true {
                lookahead = source.next()
                if lookahead != nil { taken += 1 }
            }
            guard let first = lookahead else { break }
            lookahead = nil
            if let due = due(first), due > clock.now {
                try? await Task.sleep(until: due, clock: clock)
                if stop.isStopped { break }
            }
            batch.append(first)
            while batch.count < batchSize, limit.map({ taken < $0 }) ?? true, let message = source.next() {
                taken += 1
                if let due = due(message), due > clock.now {
                    lookahead = message
                    break
                }
                batch.append(message)
            }
            for message in batch where !message.labels.isEmpty {
                labels?.write(message.labels)
                publisher.statistics.recordLabels(message.labels)
            }
            try await publisher.publish(batch)
            batch.removeAll(keepingCapacity: true)
        }
        await publisher.finish()
        let open = source.finish()
        labels?.write(open)
        publisher.statistics.recordLabels(open)
        try await labels?.close()
    }
}
