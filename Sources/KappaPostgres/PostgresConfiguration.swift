/// Where and how to connect.
///
/// `conninfo` is anything libpq accepts: `host=… port=… dbname=…` or a URL `postgres://user@host:port/db?sslmode=…`.
/// An empty `conninfo` uses the standard `PG*` environment variables (`PGHOST`, `PGPORT`, `PGDATABASE`,
/// `PGUSER`, `PGPASSWORD`, `PGPASSFILE`…) and libpq's defaults. Its `description` never shows the conninfo,
/// which may carry a password.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// A libpq connection string or URL; empty for the `PG*` environment variables.
    public var conninfo: String
    /// A password that overrides any in `conninfo` (read it from a file or the environment, never a flag).
    public var password: String?
    /// `application_name` for `pg_stat_activity`, used unless `conninfo` sets one.
    public var applicationName: String
    /// How long connecting may take (libpq `connect_timeout`, whole seconds) unless `conninfo` sets one; nil waits forever.
    public var connectTimeoutSeconds: Int?
    /// libpq connection keywords that override the conninfo's (`sslmode`, `sslrootcert`…), so a setting of
    /// its own reaches libpq however the conninfo is written (URL or key=value).
    public var parameters: [String: String] = [:]

    public init(
        conninfo: String = "",
        password: String? = nil,
        applicationName: String = "kappa",
        connectTimeoutSeconds: Int? = 10
    ) {
        self.conninfo = conninfo
        self.password = password
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    public var description: String {
        "PostgresConfiguration(conninfo: \(conninfo.isEmpty ? "<PG* environment>" : "<redacted>"), "
            + "password: \(password == nil ? "none" : "<redacted>"), applicationName: \(applicationName))"
    }
}
