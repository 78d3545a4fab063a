import KappaCore
import KappaStream

/// Processor lag and database health for /metrics and /readyz.
struct ProcessorMetrics: ProcessorReporting {
    let status: ProcessorStatus
    let health: DatabaseHealth
    /// Records a processor may lag behind the log and still be ready.
    let maxReadyLagRecords: Int64

    func renderMetrics(into out: inout PrometheusText) {
        let snapshots = status.snapshots.values.sorted { $0.processor < $1.processor }
        func samples(_ value: (ProcessorStatus.Snapshot) -> Double) -> [(labels: [(String, String)], value: Double)] {
            snapshots.map { ([("processor", $0.processor)], value($0)) }
        }
        out.family("kappa_processor_lag_records", .gauge, help: "Records in the log not yet committed by the processor.", samples: samples { Double($0.lagRecords) })
        out.family("kappa_processor_lag_seconds", .gauge, help: "Event-time lag of the processor behind the newest record.", samples: samples { $0.lagSeconds })
        out.family("kappa_processor_checkpoint_seconds", .gauge, help: "Duration of the last checkpoint transaction.", samples: samples {
            $0.lastCheckpointDuration?.seconds ?? 0
        })
        out.family("kappa_processor_checkpoints_total", .counter, help: "Checkpoints committed.", samples: samples { Double($0.checkpoints) })
        out.family("kappa_processor_postgres_errors_total", .counter, help: "PostgreSQL failures (each retried).", samples: samples { Double($0.postgresErrors) })
        out.family("kappa_processor_failed", .gauge, help: "1 once the processor stopped on an error retrying cannot cure (see /readyz).", samples: samples { $0.failure == nil ? 0 : 1 })
        out.family("kappa_processor_intake_deferrals_total", .counter, help: "20 ms pauses taken while intake drained a broker backlog.", samples: samples { Double($0.intakeDeferrals) })
        out.family("kappa_processor_rejected_records_total", .counter, help: "Records whose output PostgreSQL refused for their content, set aside in rejected_records.", samples: samples { Double($0.rejectedRecords) })
        out.family("kappa_processor_duplicates_total", .counter, help: "Redelivered readings not counted twice.", samples: samples { Double($0.duplicates) })
        out.family("kappa_processor_late_readings_total", .counter, help: "Readings merged into an already closed bucket.", samples: samples { Double($0.lateReadings) })
        out.family("kappa_processor_state_evictions_total", .counter, help: "Times an idle device's state left memory (anomalies).", samples: samples { Double($0.stateEvictions) })
        out.family("kappa_processor_state_reloads_total", .counter, help: "Times evicted state was read back from PostgreSQL before a batch needed it (anomalies).", samples: samples {
            Double($0.stateReloads)
        })
        out.family("kappa_processor_undecodable_total", .counter, help: "Log records that did not decode.", samples: samples { Double($0.undecodable) })
        out.family("kappa_processor_owned_partitions", .gauge, help: "Log partitions this gateway's processor consumes (its share when gateways share the log).", samples: samples {
            Double($0.ownedPartitions.count)
        })
        out.family("kappa_processor_owns_partition", .gauge, help: "1 for each log partition this gateway's processor consumes.", samples: snapshots.flatMap { snapshot in
            snapshot.ownedPartitions.map { (labels: [("processor", snapshot.processor), ("partition", String($0))], value: 1.0) }
        })
        out.family("kappa_processor_partitions_claimed_total", .counter, help: "Partitions claimed: at start, from a gateway that died or handed them over.", samples: samples {
            Double($0.partitionsClaimed)
        })
        out.family("kappa_processor_partitions_released_total", .counter, help: "Partitions handed over to a gateway holding fewer than its share.", samples: samples {
            Double($0.partitionsReleased)
        })
        out.family("kappa_processor_fenced_total", .counter, help: "Times another gateway had committed partitions this one consumed; its uncommitted work was dropped.", samples: samples {
            Double($0.fenced)
        })
        // A processor's failed checkpoint is news the pinger may not have yet; both must be clear for "up".
        let databaseAnswers = health.problem == nil && snapshots.allSatisfy { $0.databaseProblem == nil }
        out.family("kappa_database_up", .gauge, help: "1 while PostgreSQL answers the pinger and every processor.", value: databaseAnswers ? 1 : 0)
    }

    func notReadyReasons() -> [String] {
        var reasons: [String] = []
        if let problem = health.problem {
            reasons.append("database not reachable: \(problem)")
        }
        for snapshot in status.snapshots.values.sorted(by: { $0.processor < $1.processor }) {
            if snapshot.lagRecords > maxReadyLagRecords {
                reasons.append("processor \(snapshot.processor) lags \(snapshot.lagRecords) records behind the log (bound \(maxReadyLagRecords))")
            }
            if let failure = snapshot.failure {
                reasons.append("processor \(snapshot.processor) stopped: \(failure)")
            }
            if let problem = snapshot.databaseProblem {
                reasons.append("processor \(snapshot.processor): \(problem)")
            }
        }
        return reasons
    }
}
