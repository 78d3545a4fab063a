import KappaCore
import KappaSparkplug

/// How the MQTT bridge subscribes and decodes.
public struct BridgeConfiguration: Sendable {
    /// The broker connection. Defaults to a persistent session under a fixed client id, so that messages
    /// published while the gateway is down wait on the broker.
    public var mqtt: MQTTConfiguration
    /// Topic templates and their payload formats; by default DESIGN.md's two shapes.
    public var routes: [TopicRoute]
    /// QoS of the subscriptions. 1 by default: the broker resends until our PUBACK, which leaves only after
    /// the log append. QoS 2 hands a message over only at PUBREL, after PUBREC, so a crash between the two
    /// loses it (libmosquitto's design); it is accepted but not recommended.
    public var qos: MQTTQoS
    /// With a group name, subscriptions are shared (`$share/<group>/…`) so several gateways split one stream.
    public var shareGroup: String?
    public var decodingLimits: DecodingLimits
    /// While the log refuses appends (disk floor), how often to try the held message again.
    public var retryInterval: Duration
    /// Also subscribe `spBv1.0/#` and decode what arrives there as Sparkplug B (docs/sparkplug.md) instead of
    /// through the routes.
    public var sparkplug: Bool
    /// With Sparkplug on, the host id under which the bridge announces itself as a primary host application
    /// (`spBv1.0/STATE/{host id}`, docs/sparkplug.md).
    public var sparkplugHostID: String

    public init(
        mqtt: MQTTConfiguration = MQTTConfiguration(clientID: "kappa-gateway", cleanSession: false),
        routes: [TopicRoute] = TopicRoute.defaults,
        qos: MQTTQoS = .atLeastOnce,
        shareGroup: String? = nil,
        decodingLimits: DecodingLimits = .default,
        retryInterval: Duration = .seconds(1),
        sparkplug: Bool = false,
        sparkplugHostID: String = "kappa"
    ) {
        self.mqtt = mqtt
        self.routes = routes
        self.qos = qos
        self.shareGroup = shareGroup
        self.decodingLimits = decodingLimits
        self.retryInterval = retryInterval
        self.sparkplug = sparkplug
        self.sparkplugHostID = sparkplugHostID
    }

    /// The subscriptions the routes need: each message arrives once however the templates overlap.
    ///
    /// The Sparkplug subscription is never shared: an edge node's births and data must reach the one session
    /// that resolves its aliases, so with a share group only one gateway of the group should turn Sparkplug on.
    public var subscriptions: [MQTTSubscription] {
        let routed = TopicRouter(routes: routes).subscriptionPlan.filters.map { filter in
            MQTTSubscription(shareGroup.map { "$share/\($0)/\(filter)" } ?? filter, qos: qos)
        }
        return sparkplug ? routed + [MQTTSubscription(SparkplugTopic.subscriptionFilter, qos: .atLeastOnce)] : routed
    }
}
