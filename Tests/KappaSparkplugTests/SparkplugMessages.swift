@testable import KappaSparkplug
import SwiftProtobuf

/// Builders for the payloads an edge node sends, in the shapes the specification describes.
enum SparkplugMessages {
    typealias Metric = Kappa_Sparkplug_Payload.Metric

    static func metric(
        _ name: String?, alias: UInt64? = nil, type: SparkplugDataType? = nil, timestamp: UInt64? = nil,
        _ value: Metric.OneOf_Value? = nil, isNull: Bool = false
    ) -> Metric {
        var metric = Metric()
        if let name { metric.name = name }
        if let alias { metric.alias = alias }
        if let type { metric.datatype = type.rawValue }
        if let timestamp { metric.timestamp = timestamp }
        if isNull { metric.isNull = true }
        metric.value = value
        return metric
    }

    static func payload(seq: UInt64?, timestamp: UInt64? = 1_764_500_000_000, _ metrics: [Metric]) -> [UInt8] {
        var payload = Kappa_Sparkplug_Payload()
        if let seq { payload.seq = seq }
        if let timestamp { payload.timestamp = timestamp }
        payload.metrics = metrics
        return try! payload.serializedBytes()
    }

    static func nodeBirth(bdSeq: UInt64 = 0, seq: UInt64 = 0, _ metrics: [Metric]) -> [UInt8] {
        payload(seq: seq, [
            metric("bdSeq", type: .int64, .longValue(bdSeq)),
            metric("Node Control/Rebirth", type: .boolean, .booleanValue(false)),
        ] + metrics)
    }

    static func nodeDeath(bdSeq: UInt64) -> [UInt8] {
        payload(seq: nil, timestamp: nil, [metric("bdSeq", type: .int64, .longValue(bdSeq))])
    }
}
