// PostgreSQL.
import ArgumentParser
import KappaPostgres
import Logging

/// `kappa db …`: the PostgreSQL side.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Check and manage the PostgreSQL database.",
        subcommands: [MigrateCommand.self, StatusCommand.self, PingCommand.self]
    )
}

/// `kappa db ping`: can we reach the database, which server is it, how far away is it.
struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Connect to PostgreSQL and report the server version and round-trip time."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let report = try await Self.ping(database, logger: Logger(label: "kappa.db"))
        print(report.description)
    }

    struct Report: CustomStringConvertible {
        var serverVersion: String
        var target: String
        var connectTime: Duration
        var roundTripTime: Duration

        var description: String {
            "PostgreSQL \(serverVersion) at \(target): connected in \(Self.milliseconds(connectTime)), "
                + "round trip \(Self.milliseconds(roundTripTime))"
        }

        private static func milliseconds(_ duration: Duration) -> String {
            let microseconds = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
            return "\(microseconds / 1_000).\(String(microseconds % 1_000 / 10 + 100).dropFirst()) ms"
        }
    }

    /// Connects, times one `SELECT 1`, and closes.
    static func ping(_ options: DatabaseOptions, logger: Logger) async throws -> Report {
        let configuration = try options.configuration()
        let clock = ContinuousClock()
        let started = clock.now
        do {
            let connection = try await PostgresConnection.connect(configuration, logger: logger)
            let connected = clock.now
            _ = try await connection.query("SELECT 1")
            let answered = clock.now
            let report = Report(
                serverVersion: connection.serverVersion,
                target: await connection.target(),
                connectTime: connected - started,
                roundTripTime: answered - connected
            )
            await connection.close()
            return report
        } catch let error as PostgresError {
            throw PingFailed(source: options.source(), error: error)
        }
    }

    struct PingFailed: Error, CustomStringConvertible {
        var source: String
        var error: PostgresError

        var description: String {
            "cannot reach PostgreSQL (settings from \(source)): \(error.message)"
        }
    }
}
