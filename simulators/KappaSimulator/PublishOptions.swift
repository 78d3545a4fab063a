import KappaMQTT

/// How a run publishes: where, at which QoS, over how many connections, with how much in flight.
public struct PublishOptions: Sendable {
    /// How devices share MQTT connections.
    public enum ConnectionLayout: Sendable, Equatable {
        /// Devices spread over this many connections; one device always uses the same one.
        case pooled(Int)
        /// Each device connects on its own, with client id `clientIDPrefix` + device id, when it first sends.
        case perDevice
    }

    /// libmosquitto's own limit of messages on the wire awaiting an acknowledgement, per connection. Not
    /// more: libmosquitto walks its in-flight list on every acknowledgement, so 1 000 in flight was slower
    /// than 100 (SimulatorBenchmark); the window queues the rest inside libmosquitto.
    public static let libraryInflightLimit = 100

    public var mqtt: MQTTConfiguration
    public var qos: MQTTQoS
    public var layout: ConnectionLayout
    /// At most this many messages per connection are handed to libmosquitto and not yet acknowledged
    /// (at QoS 0: not yet written to the socket). Bounds memory however slow the broker is.
    public var window: Int
    /// Chaos: after this many messages a connection is dropped and opened again (nil: never).
    public var dropEvery: Int?
    /// How long to wait for a connection before failing the run.
    public var connectTimeout: Duration
    /// Client ids of per-device connections are this followed by the device id.
    public var clientIDPrefix: String

    public init(
        mqtt: MQTTConfiguration, qos: MQTTQoS = .atLeastOnce, layout: ConnectionLayout = .pooled(1), window: Int = 2_000,
        dropEvery: Int? = nil, connectTimeout: Duration = .seconds(10), clientIDPrefix: String = "kappa-sim-"
    ) {
        self.mqtt = mqtt
        self.qos = qos
        self.layout = layout
        self.window = window
        self.dropEvery = dropEvery
        self.connectTimeout = connectTimeout
        self.clientIDPrefix = clientIDPrefix
    }

    /// Devices spread over `connections` connections.
    public init(mqtt: MQTTConfiguration, qos: MQTTQoS = .atLeastOnce, connections: Int, window: Int = 2_000, dropEvery: Int? = nil, connectTimeout: Duration = .seconds(10)) {
        self.init(mqtt: mqtt, qos: qos, layout: .pooled(connections), window: window, dropEvery: dropEvery, connectTimeout: connectTimeout)
    }
}
