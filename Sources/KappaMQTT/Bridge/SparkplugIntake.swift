import KappaCore
import KappaLog
import KappaSparkplug

/// The bridge's Sparkplug B side: one `SparkplugSession` for every edge node the broker delivers, the births
/// and deaths to keep in the `sparkplug-lifecycle` stream, and the rebirth requests it asks for, held until
/// the burst that caused them is in the log.
///
/// Used only by the `MessageIngestor` that owns it, on the MQTT network thread (and before that, by the
/// restore at start).
struct SparkplugIntake {
    private var session = SparkplugSession()
    private var rebirths = RebirthRequests()
    /// Rebirth commands decided while staging, sent once the burst is committed.
    private var pendingRebirths: [(topic: String, payload: [UInt8])] = []
    /// Where births and deaths are kept, so the session can be rebuilt after a restart.
    let lifecycle: any LogStream

    init(lifecycle: any LogStream) {
        self.lifecycle = lifecycle
    }

    /// Whether `topic` is under the Sparkplug namespace; everything there is this intake's, telemetry or not.
    static func claims(_ topic: String) -> Bool {
        topic.utf8.starts(with: namespacePrefix)
    }

    private static let namespacePrefix = Array("\(SparkplugTopic.namespace)/".utf8)

    /// Rebuilds the session from the lifecycle stream (every partition, in order). Blocks on the log's reads:
    /// call it once, before the first message.
    mutating func restore() throws(LogError) -> SparkplugRestoreSummary {
        var restore = SparkplugSessionRestore()
        let undecodable = try SparkplugLifecycleReading.forEach(in: lifecycle) { entry in
            restore.add(topic: entry.topic, payload: entry.payload, receivedAt: entry.receivedAt)
        }
        session = restore.session()
        return SparkplugRestoreSummary(recordsRead: restore.messagesRead, recordsFed: restore.messagesKept, undecodable: undecodable)
    }

    /// Decodes one message into `readings` and `problems`; a birth or death also becomes a record for the
    /// lifecycle stream in `lifecycleRecords`. Commands, the hosts' `STATE` and any other topic that is not a
    /// node or device message carry no telemetry: they change nothing and are not dead-lettered. The payload
    /// size limit, the name limits and the time window are `decoder`'s, as for routed topics.
    mutating func decode(
        topic: String, payload: [UInt8], receivedAt: Timestamp, decoder: PayloadDecoder, statistics: BridgeStatistics,
        into readings: inout [Reading], problems: inout [DecodeProblem], lifecycleRecords: inout [LogAppendRecord]
    ) {
        guard let sparkplugTopic = SparkplugTopic(topic) else { return }
        switch sparkplugTopic.messageType {
        case .nodeCommand, .deviceCommand:
            return  // the hosts' commands to edge nodes, our own rebirth requests among them
        default:
            break
        }
        if let problem = decoder.sizeProblem(payloadBytes: payload.count) {
            // Not parsed at all: a birth this large declares nothing, so its data asks for a rebirth later.
            problems.append(problem)
            return
        }
        let outcome = session.receive(topic: sparkplugTopic, payload: payload, receivedAt: receivedAt)
        let first = readings.count
        readings += outcome.readings
        problems += outcome.problems
        decoder.admit(&readings, from: first, receivedAt: receivedAt, problems: &problems)
        // A payload that does not parse changed nothing here; kept, an NBIRTH would wipe the node on restore.
        let parsed = !outcome.problems.contains { $0.reason == .sparkplugMalformed }
        switch sparkplugTopic.messageType {
        case .nodeBirth, .deviceBirth, .nodeDeath, .deviceDeath:
            guard parsed else { break }
            let entry = SparkplugLifecycleEntry(topic: topic, payload: payload, receivedAt: receivedAt, online: outcome.online, offline: outcome.offline)
            lifecycleRecords.append(LogAppendRecord(key: sparkplugTopic.edgeNode.kappaDevice, eventTime: receivedAt, value: SparkplugLifecycleRecord.encode(entry)))
        default:
            break
        }
        statistics.sparkplugOutcome(sequenceGap: outcome.sequenceGap != nil, staleDeath: outcome.staleDeath)
        if outcome.rebirthNeeded, rebirths.shouldRequest(sparkplugTopic.edgeNode, now: receivedAt),
           let command = try? RebirthRequests.command(for: sparkplugTopic.edgeNode, now: receivedAt) {
            pendingRebirths.append(command)
        }
    }

    /// The rebirth commands decided since the last call.
    mutating func takeRebirthCommands() -> [(topic: String, payload: [UInt8])] {
        guard !pendingRebirths.isEmpty else { return [] }
        defer { pendingRebirths.removeAll(keepingCapacity: true) }
        return pendingRebirths
    }
}

/// What the restore at start read: for the bridge's start-up log line.
public struct SparkplugRestoreSummary: Sendable, Equatable {
    /// Lifecycle records in the stream.
    public var recordsRead: Int
    /// Those fed to the session: each edge node's latest NBIRTH and what followed it.
    public var recordsFed: Int
    /// Records this build could not decode (skipped).
    public var undecodable: Int
}
