import KappaMQTT

/// How a run publishes: where, at which QoS, over how many connections, with how much in flight.
public struct PublishOptions: Sendable {
    public var mqtt: MQTTConfiguration
    public var qos: MQTTQoS
    /// Devices are spread over this many connections; one device always uses the same one.
    public var connections: Int
    /// At most this many messages per connection are handed to libmosquitto and not yet acknowledged
    /// (at QoS 0: not yet written to the socket). Bounds memory however slow the broker is.
    public var window: Int
    /// Chaos: after this many messages a connection is dropped and opened again (nil: never).
    public var dropEvery: Int?
    /// How long to wait for the first connection before failing the run.
    public var connectTimeout: Duration

    public init(mqtt: MQTTConfiguration, qos: MQTTQoS = .atLeastOnce, connections: Int = 1, window: Int = 1_000, dropEvery: Int? = nil, connectTimeout: Duration = .seconds(10)) {
        self.mqtt = mqtt
        self.qos = qos
        self.connections = connections
        self.window = window
        self.dropEvery = dropEvery
        self.connectTimeout = connectTimeout
    }
}
