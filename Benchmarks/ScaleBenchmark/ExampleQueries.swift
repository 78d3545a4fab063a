import KappaPostgres

/// The README's example queries ("Querying the results"), on the probe device, timed from the client: each run
/// once unmeasured, then `repeats` times. The README's `rollups_5m` example runs on `rollups_1h`, since the
/// gateway here keeps the default widths (1m, 1h, 1d).
struct ExampleQuery {
    let name: String
    let sql: String
    let parameters: [PostgresValue]

    static func all(device: String) -> [ExampleQuery] {
        let device = PostgresValue.text(device)
        return [
            ExampleQuery(name: "round trip (SELECT 1)", sql: "SELECT 1", parameters: []),
            ExampleQuery(name: dayQueryName,
                         sql: "SELECT bucket, mean, max FROM kappa.rollups_1m WHERE device = $1 AND metric = 'temperature' AND bucket > now() - interval '24 hours' ORDER BY bucket",
                         parameters: [device]),
            ExampleQuery(name: "one device, 12 buckets (rollups_1h)",
                         sql: "SELECT bucket, p50, p99 FROM kappa.rollups_1h WHERE device = $1 AND metric = 'temperature' ORDER BY bucket DESC LIMIT 12",
                         parameters: [device]),
            ExampleQuery(name: "latest of one device", sql: "SELECT * FROM kappa.latest WHERE device = $1", parameters: [device]),
            ExampleQuery(name: "device_metrics of one device", sql: "SELECT * FROM kappa.device_metrics WHERE device = $1", parameters: [device]),
            ExampleQuery(name: "one device's last hour (readings)",
                         sql: "SELECT time, value FROM kappa.readings WHERE device = $1 AND metric = 'co2' AND time > now() - interval '1 hour'",
                         parameters: [device]),
            ExampleQuery(name: "offline devices", sql: "SELECT device, last_seen, status FROM kappa.devices WHERE status = 'offline'", parameters: []),
            ExampleQuery(name: "dead letters, newest 20",
                         sql: "SELECT received_at, topic, reason, message FROM kappa.dead_letters ORDER BY received_at DESC LIMIT 20", parameters: []),
            ExampleQuery(name: "open anomalies", sql: "SELECT * FROM kappa.open_anomalies ORDER BY start_time DESC", parameters: []),
            ExampleQuery(name: "all devices, last hour (GROUP BY)",
                         sql: "SELECT device, metric, avg(mean) FROM kappa.rollups_1m WHERE bucket > now() - interval '1 hour' GROUP BY 1, 2",
                         parameters: []),
        ]
    }

    /// The query whose latency the issue wants flat from 10 k to 1 M series.
    static let dayQueryName = "one device's last day (rollups_1m)"
}

/// What one query's runs measured: milliseconds, sorted, and the rows it returned.
struct QueryLatency {
    let name: String
    let milliseconds: [Double]
    let rows: Int
    let failure: String?

    var median: Double { milliseconds.isEmpty ? .nan : milliseconds[milliseconds.count / 2] }
    var maximum: Double { milliseconds.last ?? .nan }

    static func measure(_ query: ExampleQuery, on connection: PostgresConnection, repeats: Int) async -> QueryLatency {
        var rows = 0
        do {
            rows = try await connection.query(query.sql, query.parameters).count
        } catch {
            return QueryLatency(name: query.name, milliseconds: [], rows: 0, failure: "\(error)")
        }
        var milliseconds: [Double] = []
        for _ in 0..<repeats {
            let started = ContinuousClock.now
            _ = try? await connection.query(query.sql, query.parameters)
            let elapsed = ContinuousClock.now - started
            milliseconds.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)
        }
        return QueryLatency(name: query.name, milliseconds: milliseconds.sorted(), rows: rows, failure: nil)
    }
}
