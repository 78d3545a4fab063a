import KappaCore
import SwiftProtobuf

/// The state of every edge node seen, and how each message changes it: births declare aliases and open a
/// session, data is resolved through them and numbered by `seq`, deaths close the session when their
/// `bdSeq` is the session's.
///
/// A value with no clock and no I/O: fed the same messages in the same order it gives the same outcomes, so
/// replaying the log (where births are kept beside data) decodes exactly what live decoding did.
public struct SparkplugSession: Sendable {
    var nodes: [SparkplugEdgeNode: EdgeNodeState] = [:]

    public init() {}

    /// Decodes one message published on `topic`. `receivedAt` stamps metrics without a timestamp of their own
    /// or of their payload.
    public mutating func receive(topic: SparkplugTopic, payload bytes: [UInt8], receivedAt: Timestamp) -> SparkplugOutcome {
        var outcome = SparkplugOutcome()
        let payload: Kappa_Sparkplug_Payload
        do {
            payload = try Kappa_Sparkplug_Payload(serializedBytes: bytes)
        } catch {
            outcome.problems.append(DecodeProblem(
                reason: .sparkplugMalformed,
                message: "\(topic.messageType.rawValue) payload of \(bytes.count) bytes is not a Sparkplug B protobuf message: \(error)"
            ))
            if topic.messageType != .nodeDeath { outcome.rebirthNeeded = nodes[topic.edgeNode] != nil }
            return outcome
        }
        let edgeNode = topic.edgeNode
        switch topic.messageType {
        case .nodeCommand, .deviceCommand:
            return outcome  // commands to the edge, not telemetry

        case .nodeBirth:
            var state = EdgeNodeState()
            state.birthSequence = payload.metrics.first { $0.name == "bdSeq" }.flatMap(Self.unsignedValue)
            state.nodeMetrics = MetricDefinitions(birth: payload.metrics)
            state.expectedSequence = payload.hasSeq ? UInt8(truncatingIfNeeded: payload.seq &+ 1) : nil
            nodes[edgeNode] = state
            outcome.online.append(topic.kappaDevice)
            readings(of: payload, definitions: state.nodeMetrics, topic: topic, receivedAt: receivedAt, into: &outcome)

        case .nodeDeath:
            guard let state = nodes[edgeNode] else { return outcome }
            let deathSequence = payload.metrics.first { $0.name == "bdSeq" }.flatMap(Self.unsignedValue)
            if let current = state.birthSequence, let deathSequence, current != deathSequence {
                outcome.staleDeath = true
                return outcome
            }
            nodes[edgeNode] = nil
            outcome.offline.append(edgeNode.kappaDevice)
            outcome.offline += state.devices.keys.sorted().map { "\(edgeNode.kappaDevice)/\($0)" }

        case .nodeData, .deviceBirth, .deviceData, .deviceDeath:
            guard var state = nodes[edgeNode] else {
                outcome.problems.append(DecodeProblem(
                    reason: .sparkplugNoBirth,
                    message: "\(topic.messageType.rawValue) from edge node '\(edgeNode)' before its NBIRTH; \(payload.metrics.count) metric(s) not stored"
                ))
                outcome.rebirthNeeded = true
                return outcome
            }
            if payload.hasSeq {
                let received = UInt8(truncatingIfNeeded: payload.seq)
                if let expected = state.expectedSequence, expected != received {
                    outcome.sequenceGap = (expected, received)
                    outcome.rebirthNeeded = true
                }
                state.expectedSequence = received &+ 1
            }
            let device = topic.device ?? ""
            switch topic.messageType {
            case .deviceBirth:
                state.devices[device] = MetricDefinitions(birth: payload.metrics)
                outcome.online.append(topic.kappaDevice)
                readings(of: payload, definitions: state.devices[device]!, topic: topic, receivedAt: receivedAt, into: &outcome)
            case .deviceDeath:
                if state.devices.removeValue(forKey: device) != nil { outcome.offline.append(topic.kappaDevice) }
            case .deviceData:
                if let definitions = state.devices[device] {
                    readings(of: payload, definitions: definitions, topic: topic, receivedAt: receivedAt, into: &outcome)
                } else {
                    outcome.problems.append(DecodeProblem(
                        reason: .sparkplugNoBirth,
                        message: "DDATA from device '\(topic.kappaDevice)' before its DBIRTH; \(payload.metrics.count) metric(s) not stored"
                    ))
                    outcome.rebirthNeeded = true
                }
            default:
                readings(of: payload, definitions: state.nodeMetrics, topic: topic, receivedAt: receivedAt, into: &outcome)
            }
            nodes[edgeNode] = state
        }
        if outcome.problems.contains(where: { $0.reason == .sparkplugUnknownAlias }) { outcome.rebirthNeeded = true }
        return outcome
    }

    /// Whether `edgeNode` has a birth in force.
    public func isOnline(_ edgeNode: SparkplugEdgeNode) -> Bool { nodes[edgeNode] != nil }

    private func readings(
        of payload: Kappa_Sparkplug_Payload, definitions: MetricDefinitions, topic: SparkplugTopic, receivedAt: Timestamp,
        into outcome: inout SparkplugOutcome
    ) {
        let payloadTime = payload.hasTimestamp ? Timestamp(sparkplugMilliseconds: payload.timestamp) : nil
        // Once per message, not per metric: two string interpolations per metric cost more than their readings.
        let device = topic.kappaDevice
        for metric in payload.metrics {
            guard let definition = definitions.resolve(metric) else {
                outcome.problems.append(DecodeProblem(
                    reason: .sparkplugUnknownAlias,
                    message: "metric alias \(metric.alias) is not declared by the last birth of '\(topic.kappaDevice)'",
                    field: "alias \(metric.alias)"
                ))
                continue
            }
            let time: Timestamp
            let source: TimeSource
            if metric.hasTimestamp {
                (time, source) = (Timestamp(sparkplugMilliseconds: metric.timestamp), .device)
            } else if let payloadTime {
                (time, source) = (payloadTime, .device)
            } else {
                (time, source) = (receivedAt, .received)
            }
            MetricFlattening.append(
                metric, named: definition.name, type: metric.hasDatatype ? metric.datatype : definition.dataType,
                device: device, time: time, source: source, to: &outcome
            )
        }
    }

    static func unsignedValue(_ metric: Kappa_Sparkplug_Payload.Metric) -> UInt64? {
        switch metric.value {
        case .intValue(let value): UInt64(value)
        case .longValue(let value): value
        default: nil
        }
    }
}

/// One edge node's session.
struct EdgeNodeState: Sendable {
    var birthSequence: UInt64?
    var expectedSequence: UInt8?
    var nodeMetrics = MetricDefinitions()
    var devices: [String: MetricDefinitions] = [:]
}
