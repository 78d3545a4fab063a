import KappaCore
import KappaSparkplug

/// How the simulated fleet is laid out as Sparkplug B: one group, edge nodes of `devicesPerEdgeNode`
/// consecutive devices each, every simulated device a Sparkplug device of its edge node.
///
/// Device `i` belongs to edge node `edge-NNNN` with `NNNN = i / devicesPerEdgeNode` (four digits, more past
/// 9 999), and keeps its simulator id as its Sparkplug device id, so the gateway stores its readings under
/// `{group}/edge-NNNN/{device}` (docs/sparkplug.md) and the labels name that device. The edge nodes have no
/// metrics of their own: their NBIRTH carries `bdSeq` and `Node Control/Rebirth` only.
public struct SparkplugFleetLayout: Hashable, Sendable {
    public var group: String
    public var devicesPerEdgeNode: Int

    public init(group: String = "kappa-sim", devicesPerEdgeNode: Int = 10) {
        self.group = group
        self.devicesPerEdgeNode = max(1, devicesPerEdgeNode)
    }

    public func edgeNode(ofDevice index: Int) -> SparkplugEdgeNode {
        let number = String(index / devicesPerEdgeNode)
        return SparkplugEdgeNode(group: group, node: "edge-" + String(repeating: "0", count: max(0, 4 - number.count)) + number)
    }

    /// The device id the gateway stores a simulated device's readings under.
    public func storedDevice(_ device: String, index: Int) -> String {
        SparkplugTopic(edgeNode: edgeNode(ofDevice: index), messageType: .deviceData, device: device).kappaDevice
    }
}

/// A Sparkplug message before it is encoded: which edge node sends it and, for a device's tick, the values the
/// edge node puts in a DBIRTH or a DDATA. The encoding waits until the message is published, because whether
/// it is a birth and what `seq` it carries depend on what happened on the connection until then (a host's
/// rebirth request, a reconnect).
public struct SparkplugContent: Hashable, Sendable {
    public var edgeNode: SparkplugEdgeNode
    /// The Sparkplug device id (the simulator's device id).
    public var device: String
    /// The tick's metric names and values; empty for a message sent as it is (malformed, oversized).
    public var metrics: [String]
    public var values: [Double]
    /// The device's timestamp of the tick (clock skew included).
    public var time: Timestamp

    public init(edgeNode: SparkplugEdgeNode, device: String, metrics: [String] = [], values: [Double] = [], time: Timestamp) {
        self.edgeNode = edgeNode
        self.device = device
        self.metrics = metrics
        self.values = values
        self.time = time
    }

    /// Whether this is a tick to encode, not a payload to send as it is.
    public var isTick: Bool { !metrics.isEmpty }
}
