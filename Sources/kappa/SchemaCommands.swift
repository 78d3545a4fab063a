import ArgumentParser
import KappaGateway
import KappaPostgres
import KappaStorage
import Logging

/// `--schema`: where Kappa's tables and views live.
struct SchemaOptions: ParsableArguments {
    @Option(help: "PostgreSQL schema of Kappa's tables and views (default: $KAPPA_SCHEMA, else kappa).")
    var schema: String?

    var name: String {
        schema ?? ProcessEnvironment.value("KAPPA_SCHEMA") ?? KappaSchema.defaultSchema
    }

    func validate() throws {
        if let schema {
            do { _ = try SchemaName.check(schema) } catch { throw ValidationError("--schema: \(error)") }
        } else if let fromEnvironment = ProcessEnvironment.value("KAPPA_SCHEMA") {
            do { _ = try SchemaName.check(fromEnvironment) } catch { throw ValidationError("KAPPA_SCHEMA: \(error)") }
        }
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
        let connection = try await PostgresConnection.connect(database.configuration(), logger: Logger(label: "kappa.db"))
        let applied = try await SchemaMigrator(schema: PostgresIdentifier(schema.name)).migrate(connection)
        await connection.close()
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
        let connection = try await PostgresConnection.connect(database.configuration(), logger: Logger(label: "kappa.db"))
        let statuses = try await SchemaMigrator(schema: PostgresIdentifier(schema.name)).status(connection)
        await connection.close()
        for status in statuses {
            print("\(status.version)\t\(status.appliedAt.map { "applied \($0)" } ?? "pending")\t\(status.name)")
        }
        let pending = statuses.filter { !$0.isApplied }.count
        print(pending == 0 ? "schema \(schema.name): up to date" : "schema \(schema.name): \(pending) pending")
    }
}

enum ProcessEnvironment {
    static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
