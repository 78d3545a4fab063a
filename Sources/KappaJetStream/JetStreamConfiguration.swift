/// How a ``JetStreamLog`` reaches its NATS cluster and lays out its JetStream streams.
public struct JetStreamConfiguration: Sendable {
    /// NATS server URLs (`nats://host:port`); the client picks one and fails over to the others.
    public var servers: [String]
    /// Copies JetStream keeps of every partition (1, 3 or 5); acknowledgements wait for a majority of them.
    public var replicas: Int
    /// Prefix of the JetStream stream names (`KAPPA_readings_0`) and subjects (`kappa.readings.0`), so
    /// several Kappa installations can share one NATS account.
    public var streamPrefix: String
    public var subjectPrefix: String
    /// Publishes sent and not yet acknowledged, across the partitions of one append: bounds the memory a
    /// slow cluster can pin and the work lost to a failover.
    public var publishWindow: Int
    /// How long an append waits for JetStream's acknowledgements before it reports the log unavailable (the
    /// bridge then holds its messages and retries); also the timeout of every JetStream API request.
    public var requestTimeout: Duration
    /// Reconnect attempts never stop: an outage pauses intake, and intake resumes when NATS is back.
    public var reconnectWait: Duration
    /// The connection's name as NATS monitoring shows it.
    public var connectionName: String
    public var user: String?
    /// From the environment or a file, never a flag.
    public var password: String?
    public var token: String?
    /// A CA bundle to verify the servers' TLS certificates; setting it makes the connection require TLS.
    public var trustedCertificates: String?
    /// A client certificate and its key (PEM files), for servers that verify clients.
    public var certificateFile: String?
    public var keyFile: String?
    /// A credentials file (user JWT and NKey seed) for decentralised NATS authentication.
    public var credentialsFile: String?
    /// Opening an existing stream accepts the replica count it was created with instead of refusing it as a
    /// mismatch (commands that only read or inspect; `kappa log verify` reports the difference).
    public var acceptsExistingReplicas = false

    public init(
        servers: [String],
        replicas: Int = 3,
        streamPrefix: String = "KAPPA",
        subjectPrefix: String = "kappa",
        publishWindow: Int = 4096,
        requestTimeout: Duration = .seconds(5),
        reconnectWait: Duration = .milliseconds(250),
        connectionName: String = "kappa"
    ) {
        self.servers = servers
        self.replicas = replicas
        self.streamPrefix = streamPrefix
        self.subjectPrefix = subjectPrefix
        self.publishWindow = publishWindow
        self.requestTimeout = requestTimeout
        self.reconnectWait = reconnectWait
        self.connectionName = connectionName
    }
}

extension Duration {
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
