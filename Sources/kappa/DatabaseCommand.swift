// PostgreSQL.
import ArgumentParser
import KappaGateway
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
        let configuration = try database.configuration()
        print(try await DatabasePing.measure(configuration, source: database.flags.source(), logger: Logger(label: "kappa.db")).description)
    }
}

/// `kappa db migrate`: create or upgrade the schema.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade Kappa's schema (safe to run again, and from several processes at once)."
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var schema: SchemaOptions

    func run() async throws {
        let applied = try await database.kappaDatabase(schema: schema).migrate(logger: Logger(label: "kappa.db"))
        if applied.isEmpty {
            print("schema \(schema.name) is up to date")
        }
        for migration in applied {
            print("applied \(migration.version) \(migration.name)")
        }
    }
}

/// `kappa db status`: which migrations ran, which are pending.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List the schema migrations, applied and pending."
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var schema: SchemaOptions

    func run() async throws {
        let statuses = try await database.kappaDatabase(schema: schema).migrationStatus(logger: Logger(label: "kappa.db"))
        for status in statuses {
            print("\(status.version)\t\(status.appliedAt.map { "applied \($0)" } ?? "pending")\t\(status.name)")
        }
        let pending = statuses.filter { !$0.isApplied }.count
        print(pending == 0 ? "schema \(schema.name): up to date" : "schema \(schema.name): \(pending) pending")
    }
}
