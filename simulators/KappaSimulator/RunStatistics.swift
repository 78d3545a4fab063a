import KappaMQTT
import Synchronization

/// Counters of a run, updated by the publisher and read by the progress line and the summary.
public final class RunStatistics: Sendable {
    private let publishedAtMostOnce = Atomic(0)
    private let publishedAtLeastOnce = Atomic(0)
    private let publishedExactlyOnce = Atomic(0)
    private let acknowledgedCount = Atomic(0)
    private let errorCount = Atomic(0)
    private let byteCount = Atomic(0)
    private let badCount = Atomic(0)
    private let anomalyCount = Atomic(0)
    private let reconnectCount = Atomic(0)
    private let connectionCount = Atomic(0)
    private let faults = Mutex<[ChaosKind: Int]>([:])

    public init() {}

    public var published: Int { MQTTQoS.allCases.reduce(0) { $0 + published(qos: $1) } }

    public func published(qos: MQTTQoS) -> Int {
        switch qos {
        case .atMostOnce: publishedAtMostOnce.load(ordering: .relaxed)
        case .atLeastOnce: publishedAtLeastOnce.load(ordering: .relaxed)
        case .exactlyOnce: publishedExactlyOnce.load(ordering: .relaxed)
        }
    }
    /// Messages the broker confirmed (PUBACK/PUBCOMP; at QoS 0, written to the socket).
    public var acknowledged: Int { acknowledgedCount.load(ordering: .relaxed) }
    public var errors: Int { errorCount.load(ordering: .relaxed) }
    public var bytes: Int { byteCount.load(ordering: .relaxed) }
    /// Malformed and oversized messages sent.
    public var badMessages: Int { badCount.load(ordering: .relaxed) }
    public var anomaliesInjected: Int { anomalyCount.load(ordering: .relaxed) }
    /// Connection drops the run made on purpose and recovered from.
    public var reconnects: Int { reconnectCount.load(ordering: .relaxed) }
    /// Connections opened (reconnects not counted).
    public var connections: Int { connectionCount.load(ordering: .relaxed) }
    public var faultsInjected: [ChaosKind: Int] { faults.withLock { $0 } }

    func recordPublished(_ message: SimulatedMessage, qos: MQTTQoS) {
        switch qos {
        case .atMostOnce: publishedAtMostOnce.add(1, ordering: .relaxed)
        case .atLeastOnce: publishedAtLeastOnce.add(1, ordering: .relaxed)
        case .exactlyOnce: publishedExactlyOnce.add(1, ordering: .relaxed)
        }
        byteCount.add(message.payload.count, ordering: .relaxed)
        if message.isBad { badCount.add(1, ordering: .relaxed) }
    }

    func recordLabels(_ labels: [GroundTruthLabel]) {
        var anomalies = 0
        var chaos: [ChaosKind: Int] = [:]
        for label in labels {
            switch label.kind {
            case .anomaly: anomalies += 1
            case .chaos(let kind): chaos[kind, default: 0] += 1
            }
        }
        if anomalies > 0 { anomalyCount.add(anomalies, ordering: .relaxed) }
        if !chaos.isEmpty { faults.withLock { $0.merge(chaos, uniquingKeysWith: +) } }
    }

    func recordAcknowledged(_ count: Int) { acknowledgedCount.add(count, ordering: .relaxed) }
    func recordError() { errorCount.add(1, ordering: .relaxed) }
    func recordReconnect() { reconnectCount.add(1, ordering: .relaxed) }
    func recordConnection() { connectionCount.add(1, ordering: .relaxed) }

    /// The final summary, one fact per line, for stdout.
    public func summary(seconds: Double) -> String {
        var lines: [String] = []
        let rate = seconds > 0 ? Double(published) / seconds : 0
        lines.append("published      \(published) messages, \(bytes) bytes in \(Self.format(seconds)) s (\(Int(rate.rounded())) msg/s)")
        for qos in MQTTQoS.allCases where published(qos: qos) > 0 {
            lines.append("  qos \(qos.rawValue)          \(published(qos: qos))")
        }
        lines.append("acknowledged   \(acknowledged)")
        lines.append("errors         \(errors)")
        lines.append("anomalies      \(anomaliesInjected) injected")
        lines.append("bad messages   \(badMessages) sent (malformed or oversized)")
        let faults = faultsInjected
        for kind in ChaosKind.allCases where faults[kind, default: 0] > 0 {
            lines.append("  \(kind.rawValue.padding(12))  \(faults[kind]!)")
        }
        lines.append("connections    \(connections)")
        lines.append("reconnects     \(reconnects)")
        return lines.joined(separator: "\n")
    }

    static func format(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
