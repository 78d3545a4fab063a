public import KappaLog

/// One partition of a Kappa stream as JetStream describes it, for `kappa log info` and `kappa log verify`.
public struct JetStreamPartitionReport: Sendable {
    public var partition: Int
    /// The JetStream stream holding it (`KAPPA_readings_3`).
    public var jetStreamName: String
    public var offsets: LogOffsetRange
    public var messages: UInt64
    public var bytes: UInt64
    public var replicas: Int
    public var leader: String?
    /// Replicas JetStream reports offline or behind.
    public var laggingReplicas: [String]
    /// How the stream's configuration differs from what Kappa creates (with `log.replicas` as expected).
    public var configurationProblems: [String]
    /// Offsets inside start..<high watermark that hold no message; 0 on a healthy log (deletes are denied).
    public var missingOffsets: UInt64
}

/// What `kappa log verify` found on JetStream: configurations, density, and every record read and decoded.
public struct JetStreamVerification: Sendable {
    public var streams = 0
    public var partitions = 0
    public var records: Int64 = 0
    public var bytes: UInt64 = 0
    public var problems: [String] = []
}

extension JetStreamLog {
    /// Every partition of Kappa stream `name` as JetStream reports it, checked against `expectedReplicas`.
    public func partitionReports(of name: String, expectedReplicas: Int) throws(LogError) -> [JetStreamPartitionReport] {
        let stream = try openStream(named: name)
        var reports: [JetStreamPartitionReport] = []
        for partition in 0..<stream.partitionCount {
            let streamName = layout.streamName(name, partition: partition)
            guard let info = try connection.streamInfo(named: streamName) else {
                var error = LogError(code: .streamNotFound, message: "the partition's JetStream stream \(streamName) is gone")
                error.stream = name
                error.partition = partition
                throw error
            }
            let expected = JetStreamStreamSpecification(
                name: streamName, subject: layout.subject(name, partition: partition),
                description: layout.description(name, partition: partition, of: stream.partitionCount), replicas: expectedReplicas
            )
            let start = info.firstSequence == 0 ? 0 : min(info.firstSequence - 1, info.lastSequence)
            let span = info.lastSequence - start
            reports.append(JetStreamPartitionReport(
                partition: partition, jetStreamName: streamName,
                offsets: LogOffsetRange(start: Int64(start), highWatermark: Int64(info.lastSequence)),
                messages: info.messages, bytes: info.bytes, replicas: info.replicas, leader: info.leader,
                laggingReplicas: info.laggingReplicas,
                configurationProblems: differences(info, from: expected),
                missingOffsets: span > info.messages ? span - info.messages : 0
            ))
        }
        return reports
    }

    /// Checks what JetStream can be asked: each partition's stream configuration against Kappa's (replicas
    /// `expectedReplicas`), that its offsets are dense (JetStream's message count and deleted sequences
    /// against first…last), and that every record reads back at its offset and decodes as a Kappa record.
    /// `progress` hears the records read so far now and then. Reads the whole log: it takes a while.
    public func verify(expectedReplicas: Int, progress: (Int64) -> Void = { _ in }) throws(LogError) -> JetStreamVerification {
        var report = JetStreamVerification()
        for name in try streamNames() {
            report.streams += 1
            let stream = try openStream(named: name)
            for partition in try partitionReports(of: name, expectedReplicas: expectedReplicas) {
                report.partitions += 1
                report.bytes += partition.bytes
                let place = "stream \(name) partition \(partition.partition) (\(partition.jetStreamName))"
                for problem in partition.configurationProblems { report.problems.append("\(place): \(problem)") }
                if partition.missingOffsets > 0 {
                    report.problems.append("\(place): \(partition.missingOffsets) offsets in \(partition.offsets.start)..<\(partition.offsets.highWatermark) hold no message")
                }
                if !partition.laggingReplicas.isEmpty {
                    report.problems.append("\(place): replicas offline or behind: \(partition.laggingReplicas.joined(separator: ", "))")
                }
                var expected = partition.offsets.start
                while expected < partition.offsets.highWatermark {
                    let result: LogReadResult
                    do {
                        result = try stream.read(partition: partition.partition, from: expected, limits: LogReadLimits(maxRecords: 10_000, maxBytes: 8 << 20))
                    } catch where error.code == .corruption {
                        report.problems.append("\(place): offset \(error.offset ?? expected) is not a Kappa log record")
                        expected = (error.offset ?? expected) + 1
                        continue
                    }
                    guard !result.records.isEmpty else {
                        report.problems.append("\(place): nothing readable from offset \(expected) up to \(partition.offsets.highWatermark)")
                        break
                    }
                    for record in result.records {
                        if record.offset != expected {
                            report.problems.append("\(place): offset \(record.offset) read where \(expected) was expected")
                        }
                        expected = record.offset + 1
                    }
                    report.records += Int64(result.records.count)
                    progress(report.records)
                }
            }
        }
        return report
    }
}
