import KappaPostgres
import Logging

/// A read of the views users query (`kappa query …`): the statement for a schema and its parameters. Values
/// are always parameters; only the schema and view names are spliced in, quoted.
public struct ViewQuery: Sendable {
    /// The statement, given the quoted schema name.
    public var sql: @Sendable (String) -> String
    public var parameters: [PostgresValue]

    public init(sql: @escaping @Sendable (String) -> String, parameters: [PostgresValue]) {
        self.sql = sql
        self.parameters = parameters
    }

    /// The granularities with a rollup view in every schema; other widths have theirs once a processor wrote them.
    public static let granularities = ["1m", "1h", "1d"]

    /// Rollups of one granularity (`1m`, `1h`, `1d`, or another configured width's `5m`, …: the view
    /// `rollups_<granularity>`); `since`/`until` as timestamptz text (default: the last day).
    public static func rollups(granularity: String, device: String?, metric: String?, since: String?, until: String?) -> ViewQuery {
        let view = PostgresIdentifier("rollups_\(granularity)").quoted
        return ViewQuery(sql: { schema in
            """
            SELECT device, metric, bucket, count, sum, min, max, mean, stddev, first_value, first_time, last_value, last_time,
                   p50, p90, p99, unit
            FROM \(schema).\(view)
            WHERE ($1::text IS NULL OR device = $1) AND ($2::text IS NULL OR metric = $2)
              AND bucket >= coalesce($3::timestamptz, now() - interval '1 day') AND bucket < coalesce($4::timestamptz, 'infinity')
            ORDER BY device, metric, bucket
            """
        }, parameters: [PostgresValue(device), PostgresValue(metric), since.map(PostgresValue.untyped) ?? .null, until.map(PostgresValue.untyped) ?? .null])
    }

    /// The latest value of each device and metric.
    public static func latest(device: String?) -> ViewQuery {
        ViewQuery(sql: { schema in
            "SELECT device, metric, time, value FROM \(schema).latest WHERE ($1::text IS NULL OR device = $1) ORDER BY device, metric"
        }, parameters: [PostgresValue(device)])
    }

    /// Every device seen.
    public static func devices() -> ViewQuery {
        ViewQuery(sql: { schema in
            "SELECT device, first_seen, last_seen, readings, status, tags FROM \(schema).devices ORDER BY device"
        }, parameters: [])
    }

    /// Anomaly episodes, newest first, at most `limit`: a limit, not a fixed window, so imported or replayed
    /// history older than a day still shows.
    public static func anomalies(device: String?, openOnly: Bool, since: String?, limit: Int) -> ViewQuery {
        ViewQuery(sql: { schema in
            """
            SELECT device, metric, start_time, detected_at, end_time, detector, peak_score, value, expected_low, expected_high, severity
            FROM \(schema).anomalies
            WHERE ($1::text IS NULL OR device = $1) AND (NOT $2::boolean OR end_time IS NULL)
              AND ($3::timestamptz IS NULL OR start_time >= $3::timestamptz)
            ORDER BY start_time DESC, device, metric, detector
            LIMIT $4
            """
        }, parameters: [PostgresValue(device), .bool(openOnly), since.map(PostgresValue.untyped) ?? .null, .int64(Int64(max(0, limit)))])
    }

    /// Runs the query against `database`'s schema (no migration: reading never changes the schema) and closes.
    public func rows(in database: KappaDatabase, logger: Logger) async throws -> PostgresRows {
        let statement = sql(database.schemaIdentifier.quoted)
        let parameters = self.parameters
        return try await database.withConnection(migrate: false, logger: logger) { connection in
            try await connection.query(statement, parameters)
        }
    }
}
