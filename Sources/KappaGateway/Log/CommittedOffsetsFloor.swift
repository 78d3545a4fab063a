import KappaCore
import KappaLog
import KappaPostgres
import Logging

/// Before intake starts, moves each partition's next offset past what PostgreSQL says the processors
/// committed, for a log that ends before it (restored from an older copy, or cut by recovery while it knew
/// nothing of their progress).
///
/// Each processor does the same when it starts, but the bridge may append first: those records would take
/// offsets the processors already count as done, and be skipped. Done here, no offset is handed out twice
/// whichever service starts first, even for a gateway that runs only the bridge.
public enum CommittedOffsetsFloor {
    public static func apply(to streams: [any LogStream], database: PostgresConfiguration, schema: String, logger: Logger) async {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(database, logger: logger)
        } catch {
            logger.warning("could not read the processors' committed offsets before intake; each processor checks them when it starts", metadata: ["kappa.error": "\(error)"])
            return
        }
        do {
            let table = PostgresIdentifier("processor_offsets").qualified(in: PostgresIdentifier(schema))
            let rows = try await connection.query("SELECT stream, partition, max(next_offset) FROM \(table) GROUP BY stream, partition")
            for row in rows {
                let (name, partition, committed) = (try row[0].string, try row[1].int, try row[2].int64)
                guard let stream = streams.first(where: { $0.name == name }), partition < stream.partitionCount,
                      committed > stream.offsets(partition: partition).highWatermark
                else { continue }
                let reason = "processors committed up to offset \(committed)"
                _ = try await Blocking.run { try stream.ensureNextOffset(partition: partition, atLeast: committed, reason: reason) }
            }
        } catch let error as PostgresError where error.sqlState == .undefinedTable {
            // A database not migrated yet: nothing was committed to it.
        } catch {
            logger.warning("could not apply the processors' committed offsets before intake; each processor checks them when it starts", metadata: ["kappa.error": "\(error)"])
        }
        await connection.close()
    }
}
