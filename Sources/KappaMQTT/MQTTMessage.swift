/// MQTT quality of service.
public enum MQTTQoS: Int32, Sendable, Comparable, CaseIterable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A message received from the broker: topic and payload are copies, owned by Swift.
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: MQTTQoS
    public var retain: Bool
    /// The packet identifier of a QoS 1 or 2 message (a redelivery keeps it); 0 for QoS 0.
    public var packetID: UInt16

    public init(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool = false, packetID: UInt16 = 0) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.packetID = packetID
    }
}

/// A topic filter to subscribe to, at a QoS.
public struct MQTTSubscription: Sendable, Hashable {
    public var filter: String
    public var qos: MQTTQoS

    public init(_ filter: String, qos: MQTTQoS = .atLeastOnce) {
        self.filter = filter
        self.qos = qos
    }
}
