import KappaCore
import KappaJetStream
import KappaLog
import KappaTestSupport
import Logging

/// The 3-node cluster of this test run, for tests that do not stop nodes (each uses its own stream names).
enum SharedCluster {
    private static let start = Task { try await NATSCluster.start(nodes: 3) }
    static var cluster: NATSCluster {
        get async throws { try await start.value }
    }
}

let testLogger = Logger(label: "kappa.jetstream.tests")

/// A stream name no other test uses, so tests can share a cluster.
func uniqueStreamName(_ name: String) -> String {
    "\(name)-\(UInt32.random(in: 0...UInt32.max))"
}

func connect(_ cluster: NATSCluster, replicas: Int = 3, requestTimeout: Duration = .seconds(5)) throws -> JetStreamLog {
    var configuration = JetStreamConfiguration(servers: cluster.urls, replicas: replicas)
    configuration.requestTimeout = requestTimeout
    return try JetStreamLog.connect(configuration: configuration, logger: testLogger)
}

/// A value that says which record it is, so a read-back can be checked record by record.
func testValue(_ number: Int) -> [UInt8] {
    Array("value-\(number)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: number), count: number % 50)
}

func testTime(_ number: Int) -> Timestamp {
    Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + Int64(number))
}

/// Reads all of a partition from its start, checking on the way that offsets follow each other.
func readAll(_ stream: some LogStream, partition: Int) throws -> [LogRecord] {
    var offset = stream.offsets(partition: partition).start
    var records: [LogRecord] = []
    while true {
        let result = try stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 1000, maxBytes: 256 << 10))
        if result.records.isEmpty { return records }
        records += result.records
        offset = result.nextOffset
    }
}

/// Appends `batch` the way the MQTT bridge does: on a transient error it waits and appends the same records
/// again, until they are in or `deadline` passes. Returns the errors it saw.
func appendRetrying(_ stream: JetStreamStream, _ batch: [LogAppendRecord], until deadline: ContinuousClock.Instant) throws -> [LogError] {
    var errors: [LogError] = []
    while true {
        do {
            _ = try stream.append(batch)
            return errors
        } catch {
            errors.append(error)
            guard error.isTransient, ContinuousClock.now < deadline else { throw error }
            var pause = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            nanosleep(&pause, nil)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
