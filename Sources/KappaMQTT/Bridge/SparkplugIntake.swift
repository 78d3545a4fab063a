import KappaCore
import KappaSparkplug

/// The bridge's Sparkplug B side: one `SparkplugSession` for every edge node the broker delivers, and the
/// rebirth requests it asks for, held until the burst that caused them is in the log.
///
/// Used only by the `MessageIngestor` that owns it, on the MQTT network thread.
struct SparkplugIntake {
    private var session = SparkplugSession()
    private var rebirths = RebirthRequests()
    /// Rebirth commands decided while staging, sent once the burst is committed.
    private var pendingRebirths: [(topic: String, payload: [UInt8])] = []

    /// Whether `topic` is under the Sparkplug namespace; everything there is this intake's, telemetry or not.
    static func claims(_ topic: String) -> Bool {
        topic.utf8.starts(with: namespacePrefix)
    }

    private static let namespacePrefix = Array("\(SparkplugTopic.namespace)/".utf8)

    /// Decodes one message into `readings` and `problems`. Commands, the hosts' `STATE` and any other topic
    /// that is not a node or device message carry no telemetry: they change nothing and are not dead-lettered.
    /// The payload size limit, the name limits and the time window are `decoder`'s, as for routed topics.
    mutating func decode(
        topic: String, payload: [UInt8], receivedAt: Timestamp, decoder: PayloadDecoder,
        into readings: inout [Reading], problems: inout [DecodeProblem]
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
