/// A Sparkplug B topic, `spBv1.0/{group}/{type}/{edge node}[/{device}]`, and the Kappa device it names:
/// `{group}/{edge node}` for the node's own metrics, `{group}/{edge node}/{device}` for a device's.
public struct SparkplugTopic: Hashable, Sendable {
    public static let namespace = "spBv1.0"
    /// What the gateway subscribes to when Sparkplug is on.
    public static let subscriptionFilter = "spBv1.0/#"

    public enum MessageType: String, Hashable, Sendable, CaseIterable {
        case nodeBirth = "NBIRTH"
        case nodeDeath = "NDEATH"
        case nodeData = "NDATA"
        case nodeCommand = "NCMD"
        case deviceBirth = "DBIRTH"
        case deviceDeath = "DDEATH"
        case deviceData = "DDATA"
        case deviceCommand = "DCMD"

        var isDeviceMessage: Bool {
            switch self {
            case .deviceBirth, .deviceDeath, .deviceData, .deviceCommand: true
            case .nodeBirth, .nodeDeath, .nodeData, .nodeCommand: false
            }
        }
    }

    public var edgeNode: SparkplugEdgeNode
    public var messageType: MessageType
    /// Set for the device messages (DBIRTH, DDATA, DDEATH, DCMD), nil for the node's.
    public var device: String?

    public init(edgeNode: SparkplugEdgeNode, messageType: MessageType, device: String? = nil) {
        self.edgeNode = edgeNode
        self.messageType = messageType
        self.device = device
    }

    /// Parses `topic`; nil when it is not a Sparkplug B node or device message (the host's `STATE` topic, a
    /// foreign namespace, an unknown type, empty levels, or a level count that does not fit the type).
    public init?(_ topic: String) {
        // Split as UTF-8 bytes: by Character, parsing the topic cost a third of decoding a 16-metric DDATA.
        let levels = topic.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Substring.init)
        guard levels.count == 4 || levels.count == 5, levels[0] == Self.namespace,
              let type = MessageType(rawValue: String(levels[2])),
              type.isDeviceMessage == (levels.count == 5),
              !levels.contains(where: \.isEmpty)
        else { return nil }
        edgeNode = SparkplugEdgeNode(group: String(levels[1]), node: String(levels[3]))
        messageType = type
        device = levels.count == 5 ? String(levels[4]) : nil
    }

    public var topic: String {
        let base = "\(Self.namespace)/\(edgeNode.group)/\(messageType.rawValue)/\(edgeNode.node)"
        return device.map { "\(base)/\($0)" } ?? base
    }

    /// The device id Kappa stores the readings under.
    public var kappaDevice: String {
        device.map { "\(edgeNode.kappaDevice)/\($0)" } ?? edgeNode.kappaDevice
    }
}

/// An edge node: the unit that births, dies, numbers its messages and is asked to rebirth.
public struct SparkplugEdgeNode: Hashable, Sendable, CustomStringConvertible {
    public var group: String
    public var node: String

    public init(group: String, node: String) {
        self.group = group
        self.node = node
    }

    public var kappaDevice: String { "\(group)/\(node)" }
    public var description: String { kappaDevice }
}
