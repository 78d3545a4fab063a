public import KappaCore
public import KappaLog
public import KappaPostgres

/// Re-decodes the dead-letter stream with the current routes and codecs and appends what now decodes to the
/// readings stream, each dead letter at most once.
///
/// **At most once.** Before appending, the dead letters are claimed in `dead_letter_replays` (keyed by their
/// log position) in a committed transaction; only the claims this run inserted are appended, and the rows are
/// then stamped with the readings appended. Two replays at once cannot both claim a dead letter, and a crash
/// between claim and append loses that dead letter's replay (its row stays unstamped, visible in
/// ``claimedButNotAppended(_:)``) rather than appending it twice, which rollups would count twice.
/// PostgreSQL, not a log consumer group, holds the claims because the claim must be atomic across processes
/// and the log offers no compare-and-set.
///
/// **Which dead letters.** Only those whose message added no readings when it arrived (unknown topic, a
/// payload that did not parse as a whole, no readings): a message with a bad field had its good fields
/// ingested, and replaying it would ingest those twice. One message dead-lettered for several problems is
/// appended once.
public struct DeadLetterReplay: Sendable {
    public struct Summary: Sendable, Hashable {
        public var examined = 0
        /// Dead letters whose message now decodes and was appended by this run.
        public var replayed = 0
        public var readings = 0
        public var alreadyReplayed = 0
        public var stillFailing = 0
        /// Dead letters of messages that were partly ingested when they arrived.
        public var partial = 0

        public init() {}
    }

    static let wholeMessageReasons: Set<DeadLetterReason> = [
        .unknownTopic, .emptyPayload, .oversizedPayload, .malformedJSON, .malformedLineProtocol, .malformedNumber,
        .unsupportedFormat, .noReadings, .nestingTooDeep, .invalidUTF8,
        // Sparkplug data before its edge node's or device's birth: nothing of it was stored.
        DeadLetterReason(rawValue: "sparkplug_no_birth"),
    ]

    private let deadLetters: any LogStream
    private let readings: any LogStream
    private let router: TopicRouter
    private let decoder: PayloadDecoder
    private let sparkplug: (@Sendable (DeadLetter) -> [Reading]?)?
    private let schema: PostgresIdentifier

    /// - Parameter sparkplug: decodes Sparkplug dead letters (with the births the log kept); tried when no
    ///   route matches the topic.
    public init(
        deadLetters: any LogStream, readings: any LogStream, router: TopicRouter, decoder: PayloadDecoder,
        sparkplug: (@Sendable (DeadLetter) -> [Reading]?)? = nil, schema: String = KappaSchema.defaultSchema
    ) {
        self.sparkplug = sparkplug
        self.deadLetters = deadLetters
        self.readings = readings
        self.router = router
        self.decoder = decoder
        self.schema = PostgresIdentifier(schema)
    }

    private var table: String { PostgresIdentifier("dead_letter_replays").qualified(in: schema) }

    private struct Candidate {
        var partition: Int
        var offset: Int64
        var readings: [Reading]
        /// Further dead letters of the same message, claimed with it.
        var siblings: [(partition: Int, offset: Int64)]
    }

    public func run(_ connection: PostgresConnection) async throws -> Summary {
        var summary = Summary()
        var candidates: [Candidate] = []
        var byMessage: [MessageKey: Int] = [:]
        for partition in 0..<deadLetters.partitionCount {
            var offset = deadLetters.offsets(partition: partition).start
            while true {
                let batch = try await deadLetters.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 10_000, maxBytes: 8 << 20))
                guard !batch.records.isEmpty else { break }
                for record in batch.records {
                    summary.examined += 1
                    guard let letter = record.value.withUnsafeBytes({ try? DeadLetterRecord.decode($0) }) else { summary.stillFailing += 1; continue }
                    guard Self.wholeMessageReasons.contains(letter.reason) else { summary.partial += 1; continue }
                    // Only a prefix was kept: the message cannot be rebuilt (and was over the size limit anyway).
                    guard !letter.isTruncated else { summary.stillFailing += 1; continue }
                    let key = MessageKey(topic: letter.topic, receivedAt: letter.receivedAt, payload: letter.payload)
                    if let index = byMessage[key] {
                        candidates[index].siblings.append((partition, record.offset))
                        continue
                    }
                    guard let decoded = decode(letter) else { summary.stillFailing += 1; continue }
                    byMessage[key] = candidates.count
                    candidates.append(Candidate(partition: partition, offset: record.offset, readings: decoded, siblings: []))
                }
                offset = batch.nextOffset
            }
        }
        guard !candidates.isEmpty else { return summary }

        let claimed = try await claim(candidates, connection)
        summary.alreadyReplayed = candidates.count - claimed.count
        var records: [LogAppendRecord] = []
        for index in claimed {
            for reading in candidates[index].readings {
                records.append(LogAppendRecord(reading: reading))
            }
        }
        let stream = readings
        let batch = records
        try await Blocking.run { _ = try stream.append(batch) }
        summary.replayed = claimed.count
        summary.readings = records.count
        // Siblings are stamped too, with no readings of their own: the message's readings count once.
        var stamps: [PostgresStatement] = []
        for index in claimed {
            let candidate = candidates[index]
            stamps.append(stampStatement(candidate.partition, candidate.offset, readings: candidate.readings.count))
            for sibling in candidate.siblings { stamps.append(stampStatement(sibling.partition, sibling.offset, readings: 0)) }
        }
        _ = try await connection.executeBatch(stamps)
        return summary
    }

    private func stampStatement(_ partition: Int, _ offset: Int64, readings: Int) -> PostgresStatement {
        PostgresStatement(
            "UPDATE \(table) SET readings = $3, appended_at = now() WHERE log_partition = $1 AND log_offset = $2",
            [.int64(Int64(partition)), .int64(offset), .int64(Int64(readings))]
        )
    }

    /// Dead letters claimed by a run that did not confirm appending them (it crashed in between).
    public func claimedButNotAppended(_ connection: PostgresConnection) async throws -> Int {
        try await connection.query("SELECT count(*) FROM \(table) WHERE appended_at IS NULL").first?[0].int ?? 0
    }

    /// Inserts claims for every candidate and its siblings; returns the candidates this run claimed.
    private func claim(_ candidates: [Candidate], _ connection: PostgresConnection) async throws -> [Int] {
        try await connection.withTransaction { connection in
            var statements: [PostgresStatement] = []
            for candidate in candidates {
                statements.append(Self.claimStatement(table, candidate.partition, candidate.offset))
                for sibling in candidate.siblings {
                    statements.append(Self.claimStatement(table, sibling.partition, sibling.offset))
                }
            }
            let counts = try await connection.executeBatch(statements)
            var claimed: [Int] = []
            var statement = 0
            for (index, candidate) in candidates.enumerated() {
                if counts[statement] == 1 { claimed.append(index) }
                statement += 1 + candidate.siblings.count
            }
            return claimed
        }
    }

    private static func claimStatement(_ table: String, _ partition: Int, _ offset: Int64) -> PostgresStatement {
        PostgresStatement(
            "INSERT INTO \(table) (log_partition, log_offset) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [.int64(Int64(partition)), .int64(offset)]
        )
    }

    /// The message's readings under the current routes and codecs, or nil if it still has a problem.
    private func decode(_ letter: DeadLetter) -> [Reading]? {
        guard let match = router.match(topic: letter.topic) else { return sparkplug?(letter) }
        var readings: [Reading] = []
        var problems: [DecodeProblem] = []
        decoder.decode(match: match, payload: letter.payload, receivedAt: letter.receivedAt, into: &readings, problems: &problems)
        return problems.isEmpty && !readings.isEmpty ? readings : nil
    }

    private struct MessageKey: Hashable {
        var topic: String
        var receivedAt: Timestamp
        var payload: [UInt8]
    }
}
