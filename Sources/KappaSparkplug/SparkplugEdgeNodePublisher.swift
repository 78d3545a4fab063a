import KappaCore
import SwiftProtobuf

/// What one edge node publishes, built the way the specification asks: births that declare each metric's
/// name, type and alias, data that names metrics by alias only, every message numbered by `seq` (0 at the
/// NBIRTH, then +1 modulo 256), and a death certificate carrying the session's `bdSeq`.
///
/// The simulator's Sparkplug fleet and the tests use it; a gateway that decodes what it publishes with
/// ``SparkplugSession`` must get the same readings back.
public struct SparkplugEdgeNodePublisher: Sendable {
    /// A message to publish: topic and payload.
    public struct Message: Sendable {
        public var topic: String
        public var payload: [UInt8]
    }

    public let edgeNode: SparkplugEdgeNode
    /// The birth/death sequence of this session (the NDEATH set as the connection's will carries the same).
    public let birthSequence: UInt64
    private var sequence: UInt8 = 0
    private var aliases: [String: [String: UInt64]] = [:]
    private var nextAlias: UInt64 = 1

    public init(edgeNode: SparkplugEdgeNode, birthSequence: UInt64 = 0) {
        self.edgeNode = edgeNode
        self.birthSequence = birthSequence
    }

    /// The NBIRTH: the node's own metrics with their current values, `bdSeq` and the rebirth control; `seq` 0.
    /// Forgets every alias declared before (devices must be born again after it).
    public mutating func nodeBirth(_ values: [(metric: String, value: Double)], at time: Timestamp) throws -> Message {
        aliases = [:]
        nextAlias = 1
        sequence = 0
        var metrics = [
            Self.metric(name: "bdSeq", type: .int64) { $0.longValue = birthSequence },
            Self.metric(name: "Node Control/Rebirth", type: .boolean) { $0.booleanValue = false },
        ]
        metrics += declare(values, device: "", time: time)
        return try message(.nodeBirth, device: nil, metrics: metrics, time: time)
    }

    /// A DBIRTH declaring `device`'s metrics with their current values.
    public mutating func deviceBirth(_ device: String, _ values: [(metric: String, value: Double)], at time: Timestamp) throws -> Message {
        aliases[device] = [:]
        return try message(.deviceBirth, device: device, metrics: declare(values, device: device, time: time), time: time)
    }

    /// DDATA (or NDATA when `device` is nil) naming each metric by the alias its birth declared. A metric no
    /// birth declared is sent by name, as the specification allows.
    public mutating func data(_ device: String?, _ readings: [(metric: String, value: Double, time: Timestamp)], at time: Timestamp) throws -> Message {
        let declared = aliases[device ?? ""] ?? [:]
        let metrics = readings.map { reading in
            var metric = Kappa_Sparkplug_Payload.Metric()
            if let alias = declared[reading.metric] {
                metric.alias = alias
            } else {
                metric.name = reading.metric
                metric.datatype = SparkplugDataType.double.rawValue
            }
            metric.timestamp = Self.milliseconds(reading.time)
            metric.doubleValue = reading.value
            return metric
        }
        return try message(device == nil ? .nodeData : .deviceData, device: device, metrics: metrics, time: time)
    }

    /// A DDEATH for `device`.
    public mutating func deviceDeath(_ device: String, at time: Timestamp) throws -> Message {
        aliases[device] = nil
        return try message(.deviceDeath, device: device, metrics: [], time: time)
    }

    /// The NDEATH, to be set as the MQTT connection's will before connecting: it carries `bdSeq` and no `seq`.
    public func nodeDeath() throws -> Message {
        var payload = Kappa_Sparkplug_Payload()
        payload.metrics = [Self.metric(name: "bdSeq", type: .int64) { $0.longValue = birthSequence }]
        return Message(topic: SparkplugTopic(edgeNode: edgeNode, messageType: .nodeDeath).topic, payload: try payload.serializedBytes())
    }

    /// Whether an NCMD payload asks the edge node to rebirth (`Node Control/Rebirth` set to true), as a host
    /// does when it lost the node's aliases; false for anything else, unparsable payloads included.
    public static func isRebirthRequest(_ payload: [UInt8]) -> Bool {
        guard let command = try? Kappa_Sparkplug_Payload(serializedBytes: payload) else { return false }
        return command.metrics.contains { $0.name == "Node Control/Rebirth" && $0.booleanValue }
    }

    private mutating func declare(_ values: [(metric: String, value: Double)], device: String, time: Timestamp) -> [Kappa_Sparkplug_Payload.Metric] {
        values.map { entry in
            let alias = nextAlias
            nextAlias += 1
            aliases[device, default: [:]][entry.metric] = alias
            return Self.metric(name: entry.metric, type: .double) {
                $0.alias = alias
                $0.timestamp = Self.milliseconds(time)
                $0.doubleValue = entry.value
            }
        }
    }

    private mutating func message(
        _ type: SparkplugTopic.MessageType, device: String?, metrics: [Kappa_Sparkplug_Payload.Metric], time: Timestamp
    ) throws -> Message {
        var payload = Kappa_Sparkplug_Payload()
        payload.timestamp = Self.milliseconds(time)
        payload.seq = UInt64(sequence)
        payload.metrics = metrics
        sequence &+= 1
        let topic = SparkplugTopic(edgeNode: edgeNode, messageType: type, device: device).topic
        return Message(topic: topic, payload: try payload.serializedBytes())
    }

    private static func metric(
        name: String, type: SparkplugDataType, _ fill: (inout Kappa_Sparkplug_Payload.Metric) -> Void
    ) -> Kappa_Sparkplug_Payload.Metric {
        var metric = Kappa_Sparkplug_Payload.Metric()
        metric.name = name
        metric.datatype = type.rawValue
        fill(&metric)
        return metric
    }

    private static func milliseconds(_ time: Timestamp) -> UInt64 {
        UInt64(max(0, time.nanosecondsSinceEpoch / 1_000_000))
    }
}
