public import KappaLog
public import Logging
import Synchronization

/// The partitioned log on a NATS JetStream cluster: one replicated JetStream stream per partition.
///
/// Creating or opening a Kappa stream checks every partition's JetStream stream (subject, file storage,
/// replicas, partition count) and reports a mismatch as ``LogError/Code/streamMismatch`` naming the stream,
/// the setting, what was found and what was expected. It never changes an existing stream.
///
/// Blocking: every method talks to the cluster and blocks the calling thread for up to the request timeout.
public final class JetStreamLog: PartitionedLog {
    public let configuration: JetStreamConfiguration
    let connection: NATSConnection
    let layout: JetStreamLayout
    let logger: Logger
    /// One append at a time per connection: the acknowledgement table is the connection's.
    let appendLock = Mutex(())
    /// One stream object per name, so that every user of a stream shares its partitions' state and waiters.
    private let streams = Mutex<[String: JetStreamStream]>([:])

    private init(configuration: JetStreamConfiguration, connection: NATSConnection, logger: Logger) {
        self.configuration = configuration
        self.connection = connection
        self.layout = JetStreamLayout(streamPrefix: configuration.streamPrefix, subjectPrefix: configuration.subjectPrefix)
        self.logger = logger
    }

    /// Connects to the cluster. A cluster that is not reachable yet is no error here: the client keeps
    /// trying, and the first stream operation reports ``LogError/Code/unavailable`` until it is up.
    public static func connect(configuration: JetStreamConfiguration, logger: Logger) throws(LogError) -> JetStreamLog {
        guard [1, 3, 5].contains(configuration.replicas) else {
            throw LogError(code: .invalidArgument, message: "JetStream replicas must be 1, 3 or 5")
        }
        let connection = try NATSConnection.make(configuration: configuration)
        return JetStreamLog(configuration: configuration, connection: connection, logger: logger)
    }

    /// Whether the client is connected to a NATS server right now (health and readiness).
    public var isConnected: Bool { connection.isConnected }

    public func createStream(named name: String, partitionCount: Int) throws(LogError) -> JetStreamStream {
        try JetStreamLayout.validate(streamName: name)
        guard partitionCount > 0 else {
            throw LogError(code: .invalidArgument, message: "a stream needs at least one partition")
        }
        if let existing = try existingPartitionCount(of: name), existing != partitionCount {
            var error = LogError(code: .streamMismatch, message: "the stream exists on JetStream with \(existing) partitions, not \(partitionCount)")
            error.stream = name
            throw error
        }
        var partitions: [JetStreamStreamInfo] = []
        for partition in 0..<partitionCount {
            let specification = JetStreamStreamSpecification(
                name: layout.streamName(name, partition: partition),
                subject: layout.subject(name, partition: partition),
                description: layout.description(name, partition: partition, of: partitionCount),
                replicas: configuration.replicas
            )
            if let info = try connection.streamInfo(named: specification.name) {
                try check(info, against: specification, stream: name, partition: partition)
                partitions.append(info)
            } else {
                partitions.append(try connection.addStream(specification))
                logger.info("JetStream stream created", metadata: [
                    "kappa.stream": "\(name)", "kappa.partition": "\(partition)",
                    "nats.stream": "\(specification.name)", "nats.replicas": "\(configuration.replicas)",
                ])
            }
        }
        try ensureConsumerStream(for: name)
        return stream(named: name, partitions: partitions)
    }

    public func openStream(named name: String) throws(LogError) -> JetStreamStream {
        try JetStreamLayout.validate(streamName: name)
        if let cached = streams.withLock({ $0[name] }) { return cached }
        guard let partitionCount = try existingPartitionCount(of: name) else {
            var error = LogError(code: .streamNotFound, message: "no such stream on JetStream")
            error.stream = name
            throw error
        }
        return try createStream(named: name, partitionCount: partitionCount)
    }

    public func streamNames() throws(LogError) -> [String] {
        try connection.streamNames().compactMap { layout.kappaStream(ofPartitionZero: $0) }.sorted()
    }

    /// Deletes the read consumers and closes the connection; appends and reads fail with
    /// ``LogError/Code/unavailable`` afterwards. Blocks on the network, like every other call here.
    public func close() {
        let open = streams.withLock { streams in
            defer { streams = [:] }
            return Array(streams.values)
        }
        for stream in open { stream.close() }
        connection.close()
    }

    private func stream(named name: String, partitions: [JetStreamStreamInfo]) -> JetStreamStream {
        streams.withLock { streams in
            if let existing = streams[name], existing.partitionCount == partitions.count { return existing }
            let stream = JetStreamStream(name: name, log: self, partitions: partitions)
            streams[name] = stream
            return stream
        }
    }

    /// The partition count partition 0 states, or nil when the stream does not exist.
    private func existingPartitionCount(of name: String) throws(LogError) -> Int? {
        guard let info = try connection.streamInfo(named: layout.streamName(name, partition: 0)) else { return nil }
        guard let count = layout.partitionCount(fromDescription: info.description) else {
            var error = LogError(code: .streamMismatch, message: "JetStream stream \(info.name) exists but was not created by Kappa (its description states no partition count)")
            error.stream = name
            throw error
        }
        return count
    }

    /// What differs between a partition's JetStream stream and what Kappa creates, in words.
    func differences(_ info: JetStreamStreamInfo, from expected: JetStreamStreamSpecification, includingReplicas: Bool = true) -> [String] {
        var differences: [String] = []
        if info.subjects != [expected.subject] { differences.append("subjects \(info.subjects), expected [\(expected.subject)]") }
        if !info.isFileStorage { differences.append("memory storage, expected file storage") }
        if includingReplicas && info.replicas != expected.replicas { differences.append("replicas \(info.replicas), expected \(expected.replicas)") }
        if info.description != expected.description { differences.append("description '\(info.description)', expected '\(expected.description)'") }
        if !info.denyDelete { differences.append("message deletion allowed, expected denied (deletions would punch holes into offsets)") }
        return differences
    }

    private func check(_ info: JetStreamStreamInfo, against expected: JetStreamStreamSpecification, stream: String, partition: Int) throws(LogError) {
        let differences = differences(info, from: expected, includingReplicas: !configuration.acceptsExistingReplicas)
        guard differences.isEmpty else {
            var error = LogError(code: .streamMismatch, message: "JetStream stream \(info.name) differs from Kappa's settings: \(differences.joined(separator: "; "))")
            error.stream = stream
            error.partition = partition
            throw error
        }
    }

    private func ensureConsumerStream(for name: String) throws(LogError) {
        let streamName = layout.consumerStreamName(name)
        if try connection.streamInfo(named: streamName) != nil { return }
        _ = try connection.addStream(JetStreamStreamSpecification(
            name: streamName, subject: layout.consumerSubjects(name),
            description: "kappa consumer offsets of stream \(name)", replicas: configuration.replicas,
            maxMessagesPerSubject: 1
        ))
    }
}
