/// How to reach an MQTT broker and how to behave on the connection.
public struct MQTTConfiguration: Sendable, Equatable {
    public enum ProtocolVersion: Sendable, Equatable {
        case v311
        case v5
    }

    /// Files for a TLS connection (PEM). A CA file or directory is required; the client certificate is optional.
    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var caDirectory: String?
        public var certificateFile: String?
        public var keyFile: String?
        /// Skips the check that the broker's certificate names the host. Only for tests against a local broker.
        public var allowHostnameMismatch: Bool

        public init(caFile: String? = nil, caDirectory: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, allowHostnameMismatch: Bool = false) {
            self.caFile = caFile
            self.caDirectory = caDirectory
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.allowHostnameMismatch = allowHostnameMismatch
        }
    }

    /// Delays between reconnection attempts: doubling from `initial` up to `maximum`, each with random jitter
    /// of up to half its length so that many clients do not reconnect in step after a broker restart.
    public struct ReconnectBackoff: Sendable, Equatable {
        public var initial: Duration
        public var maximum: Duration

        public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(10)) {
            self.initial = initial
            self.maximum = maximum
        }

        /// The delay before attempt number `attempt` (0 for the first retry); `jitter` in 0...1.
        public func delay(attempt: Int, jitter: Double) -> Duration {
            let exponent = min(attempt, 30)
            var delay = initial * (1 << exponent)
            if delay > maximum { delay = maximum }
            return delay * (1.0 - 0.5 * min(max(jitter, 0), 1))
        }
    }

    /// The message the broker publishes for the client when the connection ends without a DISCONNECT.
    public struct Will: Sendable, Equatable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: MQTTQoS
        public var retain: Bool

        public init(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
        }
    }

    public var host: String
    public var port: Int
    /// The client id. Required for a persistent session (`cleanSession == false`); nil lets the library make one.
    public var clientID: String?
    /// False keeps the session on the broker while the client is away, so QoS ≥ 1 messages wait for it.
    public var cleanSession: Bool
    /// MQTT 5 only: how long the broker keeps a persistent session after the connection drops.
    public var sessionExpiry: Duration
    public var keepAlive: Duration
    public var username: String?
    /// Never logged or shown in errors.
    public var password: String?
    public var tls: TLS?
    public var protocolVersion: ProtocolVersion
    public var reconnectBackoff: ReconnectBackoff
    /// How many outgoing QoS ≥ 1 messages may await their acknowledgement at once.
    public var maxInflightMessages: Int
    /// Set before every connect: what the broker announces if this client dies.
    public var will: Will?

    public init(
        host: String = "127.0.0.1",
        port: Int = 1883,
        clientID: String? = nil,
        cleanSession: Bool = true,
        sessionExpiry: Duration = .seconds(7 * 24 * 3600),
        keepAlive: Duration = .seconds(30),
        username: String? = nil,
        password: String? = nil,
        tls: TLS? = nil,
        protocolVersion: ProtocolVersion = .v311,
        reconnectBackoff: ReconnectBackoff = ReconnectBackoff(),
        maxInflightMessages: Int = 100
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.sessionExpiry = sessionExpiry
        self.keepAlive = keepAlive
        self.username = username
        self.password = password
        self.tls = tls
        self.protocolVersion = protocolVersion
        self.reconnectBackoff = reconnectBackoff
        self.maxInflightMessages = maxInflightMessages
    }

    /// Reads `mqtt://[user@]host[:port]` or `mqtts://…` (TLS, default port 8883). A password in the URL is
    /// refused: passwords come from the environment or a file, never a command line.
    public init(url: String) throws {
        var rest = Substring(url)
        var secure = false
        if rest.hasPrefix("mqtt://") {
            rest = rest.dropFirst("mqtt://".count)
        } else if rest.hasPrefix("mqtts://") {
            rest = rest.dropFirst("mqtts://".count)
            secure = true
        } else if rest.hasPrefix("tcp://") {
            rest = rest.dropFirst("tcp://".count)
        }
        if let slash = rest.firstIndex(of: "/") {
            rest = rest[..<slash]
        }
        self.init()
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            if userInfo.contains(":") {
                throw MQTTError(code: .invalidConfiguration, message: "the MQTT URL carries a password; give it in KAPPA_MQTT_PASSWORD or a password file instead")
            }
            username = String(userInfo)
            rest = rest[rest.index(after: at)...]
        }
        var hostPart = rest
        var portPart: Substring? = nil
        if hostPart.hasPrefix("["), let close = hostPart.firstIndex(of: "]") {
            // IPv6 literal: [::1]:1883
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else {
            throw MQTTError(code: .invalidConfiguration, message: "the MQTT URL '\(url)' names no host")
        }
        host = String(hostPart)
        if let portPart {
            guard let parsed = Int(portPart), (1...65_535).contains(parsed) else {
                throw MQTTError(code: .invalidConfiguration, message: "the MQTT URL has an invalid port '\(portPart)'")
            }
            port = parsed
        } else {
            port = secure ? 8883 : 1883
        }
        if secure {
            tls = TLS()
        }
    }
}
