import KappaCore
import SwiftProtobuf

/// When to ask an edge node to rebirth: at most once per `interval` per node, so an edge node that keeps
/// sending unknown aliases is not flooded with commands. Times are the caller's, so the rule is testable.
public struct RebirthRequests: Sendable {
    public var interval: Duration
    private var lastRequest: [SparkplugEdgeNode: Timestamp] = [:]

    public init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// Whether to send a request to `edgeNode` now; when true, `now` counts as its last one.
    public mutating func shouldRequest(_ edgeNode: SparkplugEdgeNode, now: Timestamp) -> Bool {
        if let last = lastRequest[edgeNode], now.nanosecondsSinceEpoch - last.nanosecondsSinceEpoch < interval.nanoseconds {
            return false
        }
        lastRequest[edgeNode] = now
        return true
    }

    /// The NCMD that asks `edgeNode` to publish its births again (`Node Control/Rebirth` = true).
    public static func command(for edgeNode: SparkplugEdgeNode, now: Timestamp) throws -> (topic: String, payload: [UInt8]) {
        var metric = Kappa_Sparkplug_Payload.Metric()
        metric.name = "Node Control/Rebirth"
        metric.datatype = SparkplugDataType.boolean.rawValue
        metric.timestamp = UInt64(max(0, now.nanosecondsSinceEpoch / 1_000_000))
        metric.booleanValue = true
        var payload = Kappa_Sparkplug_Payload()
        payload.timestamp = metric.timestamp
        payload.metrics = [metric]
        let topic = SparkplugTopic(edgeNode: edgeNode, messageType: .nodeCommand).topic
        return (topic, try payload.serializedBytes())
    }
}
