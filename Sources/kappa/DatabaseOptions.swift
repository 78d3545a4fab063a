import ArgumentParser
import Foundation
import KappaGateway
import KappaPostgres
import KappaStorage

/// How to reach PostgreSQL; shared by every command that talks to the database (resolved by ``DatabaseFlags``).
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database"),
        help: ArgumentHelp(
            "PostgreSQL URL or conninfo, e.g. postgres://kappa@localhost:5432/kappa (default: $KAPPA_DATABASE, else the PG* variables).",
            valueName: "url"
        )
    )
    var database: String?

    @Option(help: ArgumentHelp("File whose first line is the database password.", valueName: "path"))
    var passwordFile: String?

    @Option(help: "application_name the server shows for this session.")
    var applicationName = "kappa"

    @Option(help: "Seconds to wait for the server to answer when connecting.")
    var connectTimeout = 10

    var flags: DatabaseFlags {
        DatabaseFlags(database: database, passwordFile: passwordFile, applicationName: applicationName, connectTimeoutSeconds: connectTimeout)
    }

    func validate() throws {
        do { try flags.check() } catch { throw ValidationError(error.description) }
    }

    /// The configuration to connect with, from the flags and the environment.
    func configuration() throws -> PostgresConfiguration {
        do { return try flags.configuration() } catch { throw ValidationError(error.description) }
    }
}

/// `--schema`: where Kappa's tables and views live.
struct SchemaOptions: ParsableArguments {
    @Option(help: "PostgreSQL schema of Kappa's tables and views (default: $KAPPA_SCHEMA, else kappa).")
    var schema: String?

    var name: String {
        (try? SchemaName.resolve(flag: schema, environment: ProcessInfo.processInfo.environment)) ?? KappaSchema.defaultSchema
    }

    func validate() throws {
        do { _ = try SchemaName.resolve(flag: schema, environment: ProcessInfo.processInfo.environment) } catch { throw ValidationError(error.description) }
    }
}

extension DatabaseOptions {
    /// Kappa's schema in the database these options reach.
    func kappaDatabase(schema: SchemaOptions) throws -> KappaDatabase {
        KappaDatabase(configuration: try configuration(), schema: schema.name)
    }
}
