import ArgumentParser
import Foundation
import KappaPostgres

/// How to reach PostgreSQL; shared by every command that talks to the database.
///
/// Precedence: `--database`, then `$KAPPA_DATABASE`, then libpq's own `PG*` variables (`PGHOST`, `PGPORT`,
/// `PGDATABASE`, `PGUSER`…). The password never comes from a flag: it is in `--password-file`, `PGPASSWORD`,
/// `~/.pgpass`, or the URL in the environment.
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

    func validate() throws {
        if let database {
            // As libpq reads it: `password = x` with spaces, quoted values, percent-encoded URL parameters.
            let carries: Bool
            do { carries = try PostgresConfiguration.carriesPassword(database) } catch { throw ValidationError("--database: \(error)") }
            if carries {
                throw ValidationError("Do not put the password on the command line: use --password-file or PGPASSWORD.")
            }
        }
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be at least 1 second.") }
    }

    /// The configuration to connect with, from the flags and `environment`.
    func configuration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresConfiguration {
        var password: String?
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw ValidationError("Cannot read the password file \(passwordFile).")
            }
            password = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
        }
        return PostgresConfiguration(
            conninfo: database ?? environment["KAPPA_DATABASE"] ?? "",
            password: password,
            applicationName: applicationName,
            connectTimeoutSeconds: connectTimeout
        )
    }

    /// Where the connection settings came from, for messages (never the settings themselves).
    func source(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if database != nil { return "--database" }
        if environment["KAPPA_DATABASE"] != nil { return "$KAPPA_DATABASE" }
        return "the PG* environment variables"
    }
}
