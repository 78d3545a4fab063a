import KappaCore
import KappaPostgres
import KappaStream

/// The partitions of one rollups version table (``RollupPartitionLayout``): creates those a checkpoint needs
/// and the next ones ahead, and drops those whose whole span is past the width's retention.
/// What it remembers between checkpoints is kept in a ``PartitionBookkeeping``.
final class RollupPartitions: Sendable {
    struct Key: Hashable, Sendable, Comparable {
        /// Seconds.
        var width: Int64
        /// Microseconds since the epoch.
        var start: Int64

        static func < (a: Key, b: Key) -> Bool { (a.width, a.start) < (b.width, b.start) }
    }

    struct Partition: Sendable {
        var key: Key
        /// Microseconds since the epoch (exclusive).
        var end: Int64
        var name: String
    }

    let table: String
    let baseName: String
    let schema: PostgresIdentifier
    let retention: RollupRetention
    private let bookkeeping: PartitionBookkeeping<Key>
    /// How often retention looks for expired partitions.
    var retentionInterval: Duration { bookkeeping.retentionInterval }

    init(schema: PostgresIdentifier, baseName: String, retention: RollupRetention, retentionInterval: Duration = .seconds(3600)) {
        self.schema = schema
        self.baseName = baseName
        self.retention = retention
        bookkeeping = PartitionBookkeeping(retentionInterval: retentionInterval)
        table = PostgresIdentifier(baseName).qualified(in: schema)
    }

    /// The time (µs) before which partitions of `width` have expired at `now` (µs); nil when kept forever.
    func cutoff(ofWidth width: Int64, now: Int64) -> Int64? {
        retention.retention(ofWidth: width).map { now - $0.components.seconds * 1_000_000 }
    }

    /// Makes the width partitions (LIST) of `widths` that are missing; gateways starting together take turns.
    func prepare(widths: [Int64], connection: PostgresConnection) async throws {
        let present = Set(try await connection.query(
            """
            SELECT substring(pg_get_expr(w.relpartbound, w.oid) FROM 'IN \\((\\d+)\\)')::bigint
            FROM pg_inherits i JOIN pg_class w ON w.oid = i.inhrelid WHERE i.inhparent = to_regclass($1)
            """, [.text(table)]
        ).map { try $0[0].int64 })
        let missing = widths.filter { !present.contains($0) }
        guard !missing.isEmpty else { return }
        try await connection.withTransaction { connection in
            try await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", [.text(table)])
            for width in missing {
                let name = PostgresIdentifier(RollupPartitionLayout.widthPartitionName(table: baseName, width: width)).qualified(in: schema)
                try await connection.execute(
                    "CREATE TABLE IF NOT EXISTS \(name) PARTITION OF \(table) FOR VALUES IN (\(width)) PARTITION BY RANGE (bucket)"
                )
            }
        }
    }

    /// Creates the range partitions in `needed` that do not exist yet, inside the checkpoint's transaction.
    func ensure(_ needed: Set<Key>, connection: PostgresConnection) async throws {
        let toCreate = try await bookkeeping.toCreate(needed, table: table, connection: connection) {
            Set(try await partitions(connection).map(\.key))
        }
        for key in toCreate {
            let span = RollupPartitionLayout.spanSeconds(ofWidth: key.width) * 1_000_000
            let name = PostgresIdentifier(RollupPartitionLayout.rangePartitionName(table: baseName, width: key.width, start: key.start))
                .qualified(in: schema)
            let parent = PostgresIdentifier(RollupPartitionLayout.widthPartitionName(table: baseName, width: key.width)).qualified(in: schema)
            let from = Timestamp(microsecondsSinceEpoch: key.start)
            let to = Timestamp(microsecondsSinceEpoch: key.start + span)
            let storage = Self.fillfactor(ofWidth: key.width).map { " WITH (fillfactor = \($0))" } ?? ""
            try await connection.execute("CREATE TABLE IF NOT EXISTS \(name) PARTITION OF \(parent) FOR VALUES FROM ('\(from)') TO ('\(to)')\(storage)")
        }
    }

    /// The fill factor of a range partition of `width` (seconds), when not PostgreSQL's 100. An open bucket's row is
    /// rewritten at every checkpoint its series has readings in; with room on its page the new version stays there
    /// (a HOT update: no new entry in either index, the old version pruned at a later visit), on a full page it
    /// moves and both indexes get an entry. Rows of an hour and wider are few (1/60 of the minutes' or fewer) and
    /// rewritten for their whole hour or day, so half their page is kept free; the minutes' rows, the bulk of the
    /// storage, are rewritten only within their minute, and their pages stay full.
    static func fillfactor(ofWidth width: Int64) -> Int? {
        width >= 3600 ? 50 : nil
    }

    /// Drops every partition whose span ended before its width's retention, at most once per
    /// ``retentionInterval``; returns the names dropped. Runs in the checkpoint's transaction.
    @discardableResult
    func applyRetention(now: Int64, connection: PostgresConnection) async throws -> [String] {
        guard bookkeeping.retentionDue() else { return [] }
        var dropped: [String] = []
        for partition in try await partitions(connection) {
            guard let cutoff = cutoff(ofWidth: partition.key.width, now: now), partition.end <= cutoff else { continue }
            try await connection.execute("DROP TABLE IF EXISTS \(PostgresIdentifier(partition.name).qualified(in: schema))")
            bookkeeping.forget(partition.key)
            dropped.append(partition.name)
        }
        return dropped
    }

    /// Every range partition of the table, from the catalog.
    func partitions(_ connection: PostgresConnection) async throws -> [Partition] {
        let rows = try await connection.query(
            """
            SELECT substring(pg_get_expr(w.relpartbound, w.oid) FROM 'IN \\((\\d+)\\)')::bigint,
                   (extract(epoch FROM substring(pg_get_expr(p.relpartbound, p.oid) FROM 'FROM \\(''([^'']+)''\\)')::timestamptz) * 1000000)::bigint,
                   (extract(epoch FROM substring(pg_get_expr(p.relpartbound, p.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz) * 1000000)::bigint,
                   p.relname::text
            FROM pg_inherits wi JOIN pg_class w ON w.oid = wi.inhrelid
            JOIN pg_inherits pi ON pi.inhparent = w.oid JOIN pg_class p ON p.oid = pi.inhrelid
            WHERE wi.inhparent = to_regclass($1)
            """, [.text(table)]
        )
        return try rows.compactMap { row in
            guard !row[0].isNull, !row[1].isNull, !row[2].isNull else { return nil }
            return Partition(key: Key(width: try row[0].int64, start: try row[1].int64), end: try row[2].int64, name: try row[3].string)
        }
    }
}
