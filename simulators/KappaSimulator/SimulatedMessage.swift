import KappaCore

/// One message the fleet sends, with what it means: the readings a correct decoder finds in it and the
/// ground-truth labels that became final when it was generated.
public struct SimulatedMessage: Hashable, Sendable {
    /// The device that sent it, as the gateway stores it (publishers keep one device on one connection):
    /// the simulator's id, or `{group}/{edge node}/{device}` in the Sparkplug format.
    public var device: String
    public var topic: String
    public var payload: [UInt8]
    /// True event time of the (last) tick the message carries; for malformed and oversized messages, the send time.
    public var eventTime: Timestamp
    /// Simulated time the message is sent at: later than `eventTime` for late and out-of-order messages.
    public var sendTime: Timestamp
    /// The readings a decoder should find, with the payload's timestamps (which carry any clock skew).
    /// Empty for malformed and oversized messages. For the `number` format the gateway stamps receive
    /// time instead; `time` here is the tick's event time.
    public var readings: [Reading]
    /// Labels completed while this message was generated (an anomaly's label completes with its last reading).
    public var labels: [GroundTruthLabel]
    /// The fault this message is, if it is one (a duplicate copy, a late or malformed message, …).
    public var chaos: ChaosKind?
    /// In the Sparkplug format: the edge node that sends it and what it encodes at publish time (`topic` is
    /// then the device's DDATA topic and `payload` empty, unless the message is sent as it is).
    public var sparkplug: SparkplugContent?

    public init(device: String, topic: String, payload: [UInt8], eventTime: Timestamp, sendTime: Timestamp, readings: [Reading], labels: [GroundTruthLabel] = [], chaos: ChaosKind? = nil, sparkplug: SparkplugContent? = nil) {
        self.device = device
        self.topic = topic
        self.payload = payload
        self.eventTime = eventTime
        self.sendTime = sendTime
        self.readings = readings
        self.labels = labels
        self.chaos = chaos
        self.sparkplug = sparkplug
    }

    /// Whether the gateway should dead-letter it.
    public var isBad: Bool { chaos == .malformed || chaos == .oversized }
}
