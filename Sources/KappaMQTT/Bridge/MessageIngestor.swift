import KappaCore
import KappaLog

/// The bridge's synchronous path for one message: route the topic, decode the payload, append the readings
/// to the `readings` stream and every problem to the `dead-letters` stream.
///
/// It runs on the MQTT network thread inside the message callback, before the acknowledgement leaves, so
/// when `ingest` returns the message is in the log (in the kernel's page cache at least). It throws only
/// when the log refused an append; then nothing of the message may be acknowledged.
public final class MessageIngestor: @unchecked Sendable {
    // @unchecked: the scratch buffers are used only by `ingest`, which its one caller (the MQTT network
    // thread) never runs concurrently. The log streams are thread-safe.
    public let router: TopicRouter
    public let decoder: PayloadDecoder
    public let statistics: BridgeStatistics
    private let readingsStream: any LogStream
    private let deadLetterStream: any LogStream
    private let subscribedFilters: [String]

    private var readings: [Reading] = []
    private var problems: [DecodeProblem] = []
    private var records: [LogAppendRecord] = []

    public init(router: TopicRouter, decoder: PayloadDecoder, readings: any LogStream, deadLetters: any LogStream, statistics: BridgeStatistics) {
        self.router = router
        self.decoder = decoder
        self.readingsStream = readings
        self.deadLetterStream = deadLetters
        self.statistics = statistics
        self.subscribedFilters = router.subscriptionPlan.filters
        self.readings.reserveCapacity(64)
        self.records.reserveCapacity(64)
    }

    /// What one message became.
    public struct Outcome: Sendable, Equatable {
        public var readings: Int
        public var deadLetters: Int
    }

    @discardableResult
    public func ingest(topic: String, payload: [UInt8], receivedAt: Timestamp) throws(LogError) -> Outcome {
        readings.removeAll(keepingCapacity: true)
        problems.removeAll(keepingCapacity: true)
        records.removeAll(keepingCapacity: true)

        let match = router.match(topic: topic)
        statistics.messageReceived(bytes: payload.count, route: match?.routeIndex)
        if let match {
            decoder.decode(match: match, payload: payload, receivedAt: receivedAt, into: &readings, problems: &problems)
        } else {
            problems.append(.unknownTopic(topic, filters: subscribedFilters))
        }

        // Dead letters first: if the log refuses the readings after this, the message is redelivered and its
        // dead letters appended again, which is harmless; the reverse order could lose them.
        if !problems.isEmpty {
            var deadLetterRecords: [LogAppendRecord] = []
            deadLetterRecords.reserveCapacity(problems.count)
            for problem in problems {
                let letter = DeadLetter(topic: topic, payload: payload, receivedAt: receivedAt, problem: problem)
                deadLetterRecords.append(LogAppendRecord(key: topic, eventTime: receivedAt, value: DeadLetterRecord.encode(letter)))
            }
            _ = try deadLetterStream.append(deadLetterRecords)
            for problem in problems {
                statistics.deadLettered(problem.reason)
            }
        }
        if !readings.isEmpty {
            for reading in readings {
                records.append(LogAppendRecord(key: reading.device, eventTime: reading.time, value: ReadingRecord.encode(reading)))
            }
            _ = try readingsStream.append(records)
            statistics.readingsAppended(readings.count)
        }
        return Outcome(readings: readings.count, deadLetters: problems.count)
    }
}
