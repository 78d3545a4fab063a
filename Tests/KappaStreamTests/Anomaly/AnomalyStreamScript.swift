import KappaCore
import KappaPostgres

/// A seeded fleet with every anomaly kind planted (``SyntheticFleet``), as the log would hold it: in event
/// time, with some neighbours swapped and some readings redelivered a few records later.
struct AnomalyStreamScript {
    var devices = 20
    var seed: UInt64 = 1
    var hours = 4.0
    var duplicateEvery = 13
    var swapEvery = 11

    var fleet: SyntheticFleet { SyntheticFleet(devices: devices, seed: seed, hours: hours) }

    func readings() -> [Reading] {
        var ordered: [Reading] = []
        for (index, reading) in fleet.readings.enumerated() {
            if swapEvery > 0, index % swapEvery == 3, let last = ordered.popLast() {
                ordered.append(reading)
                ordered.append(last)
            } else {
                ordered.append(reading)
            }
            if duplicateEvery > 0, index % duplicateEvery == 0, ordered.count > 4 {
                ordered.append(ordered[ordered.count - 4])
            }
        }
        return ordered
    }
}

/// The anomaly tables after a run, in an order that does not depend on how it got there.
struct AnomalyTableContents: Equatable {
    var episodes: [[String]]
    /// Each partition's header, then each device's chunk.
    var snapshots: [[String]]

    static func read(_ connection: PostgresConnection, schema: String = "kappa") async throws -> AnomalyTableContents {
        AnomalyTableContents(
            episodes: try await rowsAsText(connection, """
                SELECT device, metric, detector, start_time, detected_at, end_time, peak_score, value, expected_low, expected_high, severity
                FROM \(schema).anomalies_v1 ORDER BY device, metric, detector, start_time
                """),
            snapshots: try await rowsAsText(connection, "SELECT partition, md5(snapshot) FROM \(schema).anomaly_state_v1 ORDER BY partition")
                + rowsAsText(connection, "SELECT partition, device_slot, md5(state) FROM \(schema).anomaly_device_state_v1 ORDER BY partition, device_slot")
        )
    }
}
