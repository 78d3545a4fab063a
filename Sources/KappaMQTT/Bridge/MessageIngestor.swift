import KappaCore
import KappaLog

/// The bridge's synchronous path: route the topic, decode the payload, append the readings to the
/// `readings` stream and every problem to the `dead-letters` stream (with Sparkplug on, births and deaths to
/// the `sparkplug-lifecycle` stream too).
///
/// It runs on the MQTT network thread, before the acknowledgements leave: `stage` decodes a message into a
/// pending batch, `commit` appends the batch (one write per partition for many messages), and only then
/// does the client send the batch's acknowledgements. When `commit` returns, the messages are in the log
/// (in the kernel's page cache at least). It throws only when the log refused; then nothing staged may be
/// acknowledged.
public final class MessageIngestor: @unchecked Sendable {
    // @unchecked: the scratch buffers and the Sparkplug session are used only by `ingest`/`stage`/`commit`
    // and `takeRebirthCommands`, which their one caller (the MQTT network thread) never runs concurrently.
    // The log streams are thread-safe.
    public let router: TopicRouter
    public let decoder: PayloadDecoder
    public let statistics: BridgeStatistics
    private let readingsStream: any LogStream
    private let deadLetterStream: any LogStream
    private let subscribedFilters: [String]

    private var readings: [Reading] = []
    private var problems: [DecodeProblem] = []
    private var records: [LogAppendRecord] = []
    private var pendingDeadLetters: [LogAppendRecord] = []
    private var pendingReasons: [DeadLetterReason] = []
    /// Sparkplug births and deaths staged since the last commit.
    private var pendingLifecycle: [LogAppendRecord] = []
    /// Messages staged since the last commit: the size of the burst being committed.
    private var stagedMessages = 0
    /// Which broker session's deliveries this ingestor stores (``DeliverySession``).
    private let session: UInt32
    /// What the log holds of this session's recent deliveries, so that a message the broker resends is not stored twice.
    private var redeliveries: RedeliveryFilter
    /// The deliveries staged since the last commit, with their partitions, noted in `redeliveries` once stored.
    private var pendingDeliveries: [(delivery: MessageDelivery, partition: Int)] = []
    /// With Sparkplug on, what `spBv1.0/…` messages go to instead of the routes; nil costs routed topics one test.
    private var sparkplug: SparkplugIntake?

    /// - Parameters:
    ///   - sparkplugLifecycle: with a stream, decode `spBv1.0/…` topics as Sparkplug B
    ///     (`BridgeConfiguration.sparkplug`) and keep their births and deaths there (`sparkplug-lifecycle`).
    ///   - session: the broker session's identity (``DeliverySession/of(clientID:)``), recorded with every
    ///     delivery so that gateways sharing a log each recognise only their own resends.
    public init(
        router: TopicRouter, decoder: PayloadDecoder, readings: any LogStream, deadLetters: any LogStream, statistics: BridgeStatistics,
        sparkplugLifecycle: (any LogStream)? = nil, session: UInt32 = DeliverySession.unknown
    ) {
        self.session = session
        self.redeliveries = RedeliveryFilter(session: session)
        self.sparkplug = sparkplugLifecycle.map { SparkplugIntake(lifecycle: $0) }
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

    /// Reads which deliveries the log's tail holds; call once before the first message, off the
    /// cooperative pool (it reads files).
    public func recoverDeliveries() throws(LogError) {
        redeliveries = try RedeliveryFilter.rebuild(from: readingsStream, session: session)
    }

    /// Rebuilds the Sparkplug session from the births and deaths in the log (nil with Sparkplug off); call
    /// once before the first message, off the cooperative pool (it reads files).
    public func restoreSparkplugSession() throws(LogError) -> SparkplugRestoreSummary? {
        try sparkplug?.restore()
    }

    /// A connection to the broker started; with a stored session, it resends what it had in flight.
    public func connectionStarted(sessionPresent: Bool) {
        redeliveries.connectionStarted(sessionPresent: sessionPresent)
    }

    /// Routes, decodes and appends one message; when it returns, the message is in the log.
    @discardableResult
    public func ingest(topic: String, payload: [UInt8], packetID: UInt16 = 0, receivedAt: Timestamp) throws(LogError) -> Outcome {
        let outcome = stage(topic: topic, payload: payload, packetID: packetID, receivedAt: receivedAt)
        try commit()
        return outcome
    }

    /// Routes and decodes one message into the pending batch; nothing is written until `commit`.
    /// - Parameter packetID: the MQTT packet identifier of a QoS 1 or 2 message, 0 for QoS 0.
    @discardableResult
    public func stage(topic: String, payload: [UInt8], packetID: UInt16 = 0, receivedAt: Timestamp) -> Outcome {
        readings.removeAll(keepingCapacity: true)
        problems.removeAll(keepingCapacity: true)
        stagedMessages += 1
        let lifecycleBefore = pendingLifecycle.count

        if sparkplug != nil && SparkplugIntake.claims(topic) {
            statistics.messageReceived(bytes: payload.count, route: nil, at: receivedAt)
            sparkplug?.decode(
                topic: topic, payload: payload, receivedAt: receivedAt, decoder: decoder, statistics: statistics,
                into: &readings, problems: &problems, lifecycleRecords: &pendingLifecycle
            )
        } else {
            let match = router.match(topic: topic)
            statistics.messageReceived(bytes: payload.count, route: match?.routeIndex, at: receivedAt)
            if let match {
                decoder.decode(match: match, payload: payload, receivedAt: receivedAt, into: &readings, problems: &problems)
            } else {
                problems.append(.unknownTopic(topic, filters: subscribedFilters))
            }
        }
        // One dead letter per message, its payload capped: a message of many bad elements, or of many
        // megabytes, must still fit one log batch, or it could never be acknowledged.
        if !problems.isEmpty {
            let letter = DeadLetter(topic: topic, payload: payload, receivedAt: receivedAt, problems: problems)
            pendingDeadLetters.append(LogAppendRecord(key: topic, eventTime: receivedAt, value: DeadLetterRecord.encode(letter)))
            pendingReasons.append(letter.reason)
        }
        let deadLetters = problems.isEmpty ? 0 : 1
        guard !readings.isEmpty else { return Outcome(readings: 0, deadLetters: deadLetters) }
        guard packetID != 0 else {
            appendRecords(delivery: nil)
            return Outcome(readings: readings.count, deadLetters: deadLetters)
        }
        let fingerprint = MessageFingerprint.of(topic: topic, payload: payload)
        if redeliveries.mayBeRedelivery(packetID: packetID) {
            let before = readings.count
            readings.removeAll { reading in
                redeliveries.holds(packetID: packetID, fingerprint: fingerprint, partition: readingsStream.partition(forKey: ReadingLogEntry.key(ofDevice: reading.device)))
            }
            statistics.redelivered(readings: before - readings.count, wholeMessage: readings.isEmpty)
            // A Sparkplug birth whose readings the log holds, some or all, had its lifecycle record appended
            // too (`commit` appends it first): stored again, a replay of the stream would count the birth's
            // readings twice. (A crash between the two appends still stores it twice; so do deaths, which
            // carry no readings and so no delivery. Either way the restored session is the same.)
            if readings.count < before {
                pendingLifecycle.removeSubrange(lifecycleBefore...)
            }
            guard !readings.isEmpty else { return Outcome(readings: 0, deadLetters: deadLetters) }
        }
        // Staged sequences become stored ones only at commit; a discarded burst leaves a gap, which is fine.
        let sequence = (pendingDeliveries.last?.delivery.sequence).map { $0 + 1 } ?? redeliveries.nextSequence
        appendRecords(delivery: MessageDelivery(sequence: sequence, packetID: packetID, fingerprint: fingerprint, session: session))
        return Outcome(readings: readings.count, deadLetters: deadLetters)
    }

    /// Encodes the staged message's readings; the first record of each partition carries the delivery.
    private func appendRecords(delivery: MessageDelivery?) {
        var key: [UInt8] = []
        var keyDevice = ""
        var partition = -1
        // This message's entries in `pendingDeliveries` say which partitions already carry its delivery (an
        // array of its own would cost an allocation per message).
        let firstDelivery = pendingDeliveries.count
        for reading in readings {
            if reading.device != keyDevice {
                keyDevice = reading.device
                key = ReadingLogEntry.key(ofDevice: reading.device)
                if delivery != nil { partition = readingsStream.partition(forKey: key) }
            }
            var recordDelivery: MessageDelivery? = nil
            if let delivery, !pendingDeliveries[firstDelivery...].contains(where: { $0.partition == partition }) {
                pendingDeliveries.append((delivery, partition))
                recordDelivery = delivery
            }
            records.append(LogAppendRecord(ReadingLogEntry(reading, key: key, delivery: recordDelivery)))
        }
    }

    /// Appends everything staged since the last commit: the dead letters, the Sparkplug births and deaths,
    /// then the readings, each as one batch append. On a throw nothing is dropped: the batch stays pending for the next attempt (the log
    /// refuses before writing anything when the disk floor is breached).
    public func commit() throws(LogError) {
        // Dead letters first: if the log refuses the readings after this, the messages are redelivered and
        // their dead letters appended again, which is harmless; the reverse order could lose them.
        if !pendingDeadLetters.isEmpty {
            _ = try deadLetterStream.append(pendingDeadLetters)
            pendingDeadLetters.removeAll(keepingCapacity: true)
            for reason in pendingReasons {
                statistics.deadLettered(reason)
            }
            pendingReasons.removeAll(keepingCapacity: true)
        }
        // Births before their readings, and both before the acknowledgements: a birth the broker considers
        // delivered is in the log, so a restart resolves the data after it. A redelivered birth is not
        // stored again when its readings show it was (`stage`).
        if !pendingLifecycle.isEmpty {
            _ = try sparkplug?.lifecycle.append(pendingLifecycle)
            pendingLifecycle.removeAll(keepingCapacity: true)
        }
        if !records.isEmpty {
            _ = try readingsStream.append(records)
            statistics.readingsAppended(records.count)
            records.removeAll(keepingCapacity: true)
            for (delivery, partition) in pendingDeliveries {
                redeliveries.stored(delivery, partition: partition)
            }
            pendingDeliveries.removeAll(keepingCapacity: true)
        }
        statistics.intakePressure.burstCommitted(messages: stagedMessages)
        stagedMessages = 0
    }

    /// The Sparkplug rebirth requests decided since the last call, to publish once their burst is committed.
    /// Those of a discarded burst are kept: the edge node is out of step whether or not its message was stored.
    public func takeRebirthCommands() -> [(topic: String, payload: [UInt8])] {
        sparkplug?.takeRebirthCommands() ?? []
    }

    /// Drops what was staged and not committed (its messages were not acknowledged and come again).
    public func discardPending() {
        stagedMessages = 0
        records.removeAll(keepingCapacity: true)
        pendingDeliveries.removeAll(keepingCapacity: true)
        pendingDeadLetters.removeAll(keepingCapacity: true)
        pendingReasons.removeAll(keepingCapacity: true)
        pendingLifecycle.removeAll(keepingCapacity: true)
    }

}
