import Foundation
import KappaCore
import KappaGateway
import KappaLog
import KappaPostgres
import KappaStream
import Logging
import ServiceLifecycle

/// The processors of `kappa run`, as one service: migrates the schema (retrying with backoff while
/// PostgreSQL is unreachable, so the bridge keeps filling the log meanwhile), then runs every processor
/// in an inner service group until graceful shutdown, when each makes its final checkpoint.
struct ProcessorsService: Service {
    let roles: [ProcessorRole]
    let log: DiskLog
    let database: PostgresConfiguration
    let schema: String
    let migrate: Bool
    let configuration: ProcessorConfiguration
    let status: ProcessorStatus
    let health: DatabaseHealth
    let alertSink: (any AnomalyAlertSink)?
    /// The bridge's, when it runs in this process: processors far behind give way while it drains a backlog.
    let intake: IntakePressure?
    let logger: Logger

    func run() async throws {
        guard let configurations = await prepareWhenReachable() else { return }
        var services: [any Service] = []
        for (role, configuration) in configurations {
            services += try ProcessorSet.make(
                roles: [role], log: log, database: database, schema: schema,
                configuration: configuration, status: status, alertSink: alertSink, intake: intake, logger: logger
            )
        }
        // One processor failing for good (its status says why, /readyz reports it) must not end the others,
        // nor, through the outer group, the bridge's intake.
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore) },
            logger: logger
        ))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
        // Every processor may have stopped on errors; returning now would end the gateway, bridge included.
        if !Task.isShuttingDownGracefully { try? await gracefulShutdown() }
    }

    /// Migrates (unless told not to) and finds each processor's active output version, retrying while
    /// PostgreSQL is unreachable; nil when shutdown came first.
    private func prepareWhenReachable() async -> [(ProcessorRole, ProcessorConfiguration)]? {
        var delay = Duration.milliseconds(500)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let connection = try await PostgresConnection.connect(database, logger: logger)
                defer { Task { await connection.close() } }
                if migrate {
                    let applied = try await SchemaMigrator(schema: PostgresIdentifier(schema)).migrate(connection)
                    logger.info("database schema ready", metadata: ["kappa.schema": "\(schema)", "kappa.migrations": "\(applied.count)"])
                }
                return try await activeConfigurations(connection)
            } catch {
                health.record(problem: "cannot prepare the schema: \(error)")
                logger.warning("PostgreSQL not reachable; processors wait, the bridge keeps ingesting", metadata: [
                    "kappa.error": "\(error)", "kappa.retry_in": "\(delay)",
                ])
                let wait = delay
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                } catch {
                    return nil
                }
                delay = min(delay * 2, .seconds(10))
            }
        }
        return nil
    }

    /// Each processor writes into the version its views show (`kappa versions activate`), with the settings
    /// recorded for that version, so a restart after a switch keeps feeding what users read.
    private func activeConfigurations(_ connection: PostgresConnection) async throws -> [(ProcessorRole, ProcessorConfiguration)] {
        let versions = OutputVersions(schema: PostgresIdentifier(schema))
        var result: [(ProcessorRole, ProcessorConfiguration)] = []
        for role in roles {
            var roleConfiguration = configuration
            if let active = try await versions.active(connection, processor: role.rawValue), active.version != configuration.outputVersion {
                roleConfiguration.outputVersion = active.version
                roleConfiguration.apply(outputSettings: active.configuration, for: role)
                logger.info("processor follows its active output version", metadata: [
                    "kappa.processor": "\(role.rawValue)", "kappa.version": "\(active.version)",
                ])
            }
            result.append((role, roleConfiguration))
        }
        return result
    }
}

extension ProcessorConfiguration {
    /// Applies the settings JSON recorded with an output version (see `outputSettingsJSON(for:)`).
    mutating func apply(outputSettings json: String, for role: ProcessorRole) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return }
        switch role {
        case .rollups:
            if let widths = object["rollup_widths"] as? [NSNumber], !widths.isEmpty {
                rollupWidths = widths.map(\.int64Value)
            }
        case .devices:
            if let seconds = object["offline_after_seconds"] as? NSNumber {
                deviceOfflineAfter = .seconds(seconds.int64Value)
            }
        case .archive:
            if object.keys.contains("retention_seconds") {
                archiveRetention = (object["retention_seconds"] as? NSNumber).map { .seconds($0.int64Value) }
            }
        case .anomalies:
            if let recorded = try? AnomalyConfigurationFile(json: json).configuration() {
                anomalies = recorded
            }
        case .deadLetters:
            break
        }
    }
}

/// Whether PostgreSQL answers, checked every few seconds, so readiness reflects an outage even while no
/// checkpoint is due.
final class DatabaseHealth: Service, Sendable {
    private let database: PostgresConfiguration
    private let logger: Logger
    private let state = Mutex<String?>("not checked yet")

    init(database: PostgresConfiguration, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Why the database is not reachable, or nil.
    var problem: String? { state.withLock { $0 } }

    func record(problem: String?) {
        state.withLock { $0 = problem }
    }

    func run() async throws {
        var connection: PostgresConnection?
        while !Task.isShuttingDownGracefully {
            do {
                if connection == nil {
                    connection = try await PostgresConnection.connect(database, logger: logger)
                }
                _ = try await connection!.query("SELECT 1", [])
                record(problem: nil)
            } catch {
                record(problem: "\(error)")
                if let broken = connection { await broken.close() }
                connection = nil
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
            } catch {
                break
            }
        }
        if let connection { await connection.close() }
    }
}

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
        out.family("kappa_processor_undecodable_total", .counter, help: "Log records that did not decode.", samples: samples { Double($0.undecodable) })
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

import Synchronization
