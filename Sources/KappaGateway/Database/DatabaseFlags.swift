import Foundation
import KappaPostgres

/// How a command other than `kappa run` reaches PostgreSQL (`kappa run` resolves the same through
/// ``GatewaySettings``, with a configuration file).
///
/// Precedence: `--database`, then `$KAPPA_DATABASE`, then libpq's own `PG*` variables (`PGHOST`, `PGPORT`,
/// `PGDATABASE`, `PGUSER`…). The password never comes from a flag: it is in the password file, `PGPASSWORD`,
/// `~/.pgpass`, or the URL in the environment.
public struct DatabaseFlags: Sendable {
    public var database: String?
    public var passwordFile: String?
    public var applicationName: String
    public var connectTimeoutSeconds: Int

    public init(database: String?, passwordFile: String?, applicationName: String = "kappa", connectTimeoutSeconds: Int = 10) {
        self.database = database
        self.passwordFile = passwordFile
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    /// The checks that need nothing but the flags: no password on the command line, a usable timeout.
    public func check() throws(SettingsError) {
        if let database {
            // As libpq reads it: `password = x` with spaces, quoted values, percent-encoded URL parameters.
            let carries: Bool
            do { carries = try PostgresConfiguration.carriesPassword(database) } catch { throw SettingsError("--database: \(error)") }
            if carries {
                throw SettingsError("Do not put the password on the command line: use --password-file or PGPASSWORD.")
            }
        }
        guard connectTimeoutSeconds > 0 else { throw SettingsError("--connect-timeout must be at least 1 second.") }
    }

    /// The configuration to connect with, from the flags and `environment`.
    public func configuration(environment: [String: String] = ProcessInfo.processInfo.environment) throws(SettingsError) -> PostgresConfiguration {
        var password: String?
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw SettingsError("Cannot read the password file \(passwordFile).")
            }
            password = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
        }
        return PostgresConfiguration(
            conninfo: database ?? environment["KAPPA_DATABASE"] ?? "",
            password: password,
            applicationName: applicationName,
            connectTimeoutSeconds: connectTimeoutSeconds
        )
    }

    /// Where the connection settings came from, for messages (never the settings themselves).
    public func source(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if database != nil { return "--database" }
        if environment["KAPPA_DATABASE"] != nil { return "$KAPPA_DATABASE" }
        return "the PG* environment variables"
    }
}
