import KappaCore
import KappaPostgres
import KappaStream

/// The UTC-day partitions of a table partitioned by RANGE on a time column (dead letters): creates the days a
/// checkpoint needs and the days ahead, and drops, at most once per ``retentionInterval``, those whose day
/// ended before the retention. What it remembers between checkpoints is kept in a ``PartitionBookkeeping``.
final class DayPartitions: Sendable {
    static let day: Int64 = 86_400_000_000

    let table: String
    let baseName: String
    let schema: PostgresIdentifier
    let retention: Duration?
    let daysAhead: Int
    private let bookkeeping: PartitionBookkeeping<Int64>
    var retentionInterval: Duration { bookkeeping.retentionInterval }

    init(schema: PostgresIdentifier, baseName: String, retention: Duration?, daysAhead: Int = 3, retentionInterval: Duration = .seconds(3600)) {
        self.schema = schema
        self.baseName = baseName
        self.retention = retention
        self.daysAhead = daysAhead
        bookkeeping = PartitionBookkeeping(retentionInterval: retentionInterval)
        table = PostgresIdentifier(baseName).qualified(in: schema)
    }

    /// Before this time (µs) rows have expired at `now`; nil when kept forever.
    func cutoff(now: Int64) -> Int64? {
        retention.map { now - $0.components.seconds * 1_000_000 }
    }

    /// The start of the day (µs) holding `time` (µs).
    static func day(of time: Int64) -> Int64 {
        RollupProcessor.floor(time, day)
    }

    /// Creates the partitions of `days` (day starts, µs) and of today and the days ahead that do not exist yet.
    func ensure(_ days: Set<Int64>, now: Int64, connection: PostgresConnection) async throws {
        var needed = days
        for ahead in 0...max(0, daysAhead) { needed.insert(Self.day(of: now) + Int64(ahead) * Self.day) }
        let toCreate = try await bookkeeping.toCreate(needed, table: table, connection: connection) {
            Set(try await partitions(connection).map(\.start))
        }
        for day in toCreate {
            let from = Timestamp(microsecondsSinceEpoch: day)
            let to = Timestamp(microsecondsSinceEpoch: day + Self.day)
            try await connection.execute("CREATE TABLE IF NOT EXISTS \(partitionName(day)) PARTITION OF \(table) FOR VALUES FROM ('\(from)') TO ('\(to)')")
        }
    }

    /// Drops the partitions whose day ended before the retention; returns their names.
    @discardableResult
    func applyRetention(now: Int64, connection: PostgresConnection) async throws -> [String] {
        guard let cutoff = cutoff(now: now) else { return [] }
        guard bookkeeping.retentionDue() else { return [] }
        var dropped: [String] = []
        for partition in try await partitions(connection) where partition.end <= cutoff {
            try await connection.execute("DROP TABLE IF EXISTS \(PostgresIdentifier(partition.name).qualified(in: schema))")
            bookkeeping.forget(partition.start)
            dropped.append(partition.name)
        }
        return dropped
    }

    private func partitionName(_ day: Int64) -> String {
        let civil = CivilTime(Timestamp(microsecondsSinceEpoch: day))
        func digits(_ number: Int, _ width: Int) -> String {
            let text = String(number)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return PostgresIdentifier("\(baseName)_p\(digits(civil.year, 4))\(digits(civil.month, 2))\(digits(civil.day, 2))").qualified(in: schema)
    }

    private func partitions(_ connection: PostgresConnection) async throws -> [(start: Int64, end: Int64, name: String)] {
        let rows = try await connection.query(
            """
            SELECT (extract(epoch FROM substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \\(''([^'']+)''\\)')::timestamptz) * 1000000)::bigint,
                   (extract(epoch FROM substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz) * 1000000)::bigint,
                   c.relname::text
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass($1)
            """, [.text(table)]
        )
        return try rows.compactMap { row in
            guard !row[0].isNull, !row[1].isNull else { return nil }
            return (try row[0].int64, try row[1].int64, try row[2].string)
        }
    }
}
