import KappaCore
import KappaPostgres
import KappaStream

/// Partition ownership among gateways sharing one log, as PostgreSQL session advisory locks on the connection
/// that commits the processor's checkpoints: a lock per (schema, processor, version, stream, partition) says
/// who consumes that partition, and a shared lock per processor version says who takes part. Both belong to
/// the connection, so they vanish the moment an owner's process dies or its connection drops, and another
/// gateway can claim the partition at once.
///
/// Keys are the first 8 bytes of a SHA-256 of the names (stable in every process, unlike Swift's `Hasher`);
/// PostgreSQL shows a `bigint` key in `pg_locks` as `classid` (high 32 bits) and `objid` (low 32 bits).
public struct PartitionLocks: Sendable {
    public let offsets: ProcessorOffsets

    public init(offsets: ProcessorOffsets) {
        self.offsets = offsets
    }

    /// The lock whose holder consumes `partition`.
    public func key(partition: Int) -> Int64 {
        Self.key(["kappa.partition-owner", offsets.schema.name, offsets.processor, offsets.version, offsets.stream, String(partition)])
    }

    /// The lock every taking-part session holds shared.
    public var membersKey: Int64 {
        Self.key(["kappa.partition-members", offsets.schema.name, offsets.processor, offsets.version, offsets.stream])
    }

    static func key(_ parts: [String]) -> Int64 {
        let digest = SHA256.hash(Array(parts.joined(separator: "\u{0}").utf8))
        return Int64(bitPattern: digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    /// Makes the connection's session a member; once per connection, since shared advisory locks stack.
    func join(_ connection: PostgresConnection) async throws {
        _ = try await connection.query("SELECT pg_advisory_lock_shared($1)", [.int64(membersKey)])
    }

    /// Every member and holder.
    func claims(partitionCount: Int, _ connection: PostgresConnection) async throws -> PartitionClaims {
        let keys = (0..<partitionCount).map { key(partition: $0) }
        let rows = try await connection.query(
            """
            SELECT pg_backend_pid()::bigint, l.pid::bigint, (l.classid::bigint << 32) | l.objid::bigint
            FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND ((l.classid::bigint << 32) | l.objid::bigint) = ANY (string_to_array($1, ',')::bigint[])
            """,
            [.text(([membersKey] + keys).map(String.init).joined(separator: ","))]
        )
        let partitionOfKey = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        var me: Int64?
        var members: Set<Int64> = []
        var holders: [Int: Int64] = [:]
        for row in rows {
            me = try row[0].int64
            let (pid, key) = (try row[1].int64, try row[2].int64)
            if key == membersKey {
                members.insert(pid)
            } else if let partition = partitionOfKey[key] {
                holders[partition] = pid
            }
        }
        if me == nil { me = try await connection.query("SELECT pg_backend_pid()::bigint")[0][0].int64 }
        return PartitionClaims(me: me ?? 0, members: members, holders: holders)
    }

    func claim(partition: Int, _ connection: PostgresConnection) async throws -> Bool {
        // A session that holds the lock already would stack another hold: ask pg_locks first.
        let rows = try await connection.query(
            """
            SELECT CASE WHEN EXISTS (
                SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted AND l.pid = pg_backend_pid()
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
            ) THEN true ELSE pg_try_advisory_lock($1) END
            """,
            [.int64(key(partition: partition))]
        )
        return try rows[0][0].bool
    }

    func release(partition: Int, _ connection: PostgresConnection) async throws {
        _ = try await connection.query("SELECT pg_advisory_unlock($1)", [.int64(key(partition: partition))])
    }
}
