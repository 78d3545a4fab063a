import KappaCore
import KappaPostgres
import Logging

/// `kappa db ping`: can we reach the database, which server is it, how far away is it.
public struct DatabasePing: Sendable, CustomStringConvertible {
    public var serverVersion: String
    /// `user@host:port/database` as connected; no password.
    public var target: String
    public var connectTime: Duration
    public var roundTripTime: Duration

    public init(serverVersion: String, target: String, connectTime: Duration, roundTripTime: Duration) {
        self.serverVersion = serverVersion
        self.target = target
        self.connectTime = connectTime
        self.roundTripTime = roundTripTime
    }

    /// The database did not answer; says where the settings came from (never the settings themselves).
    public struct Unreachable: Error, CustomStringConvertible {
        public var source: String
        public var error: PostgresError

        public var description: String {
            "cannot reach PostgreSQL (settings from \(source)): \(error.message)"
        }
    }

    /// Connects, times one `SELECT 1`, and closes. PostgreSQL's errors come as ``Unreachable`` naming `source`.
    public static func measure(_ configuration: PostgresConfiguration, source: String, logger: Logger) async throws -> DatabasePing {
        let clock = ContinuousClock()
        let started = clock.now
        do {
            return try await PostgresConnection.withConnection(configuration, logger: logger) { connection in
                let connected = clock.now
                _ = try await connection.query("SELECT 1")
                let answered = clock.now
                return DatabasePing(
                    serverVersion: connection.serverVersion,
                    target: await connection.target(),
                    connectTime: connected - started,
                    roundTripTime: answered - connected
                )
            }
        } catch let error as PostgresError {
            throw Unreachable(source: source, error: error)
        }
    }

    public var description: String {
        "PostgreSQL \(serverVersion) at \(target): connected in \(Self.milliseconds(connectTime)), "
            + "round trip \(Self.milliseconds(roundTripTime))"
    }

    /// `12.34 ms`: two decimals, truncated.
    static func milliseconds(_ duration: Duration) -> String {
        let microseconds = duration.nanoseconds / 1_000
        return "\(microseconds / 1_000).\(String(microseconds % 1_000 / 10 + 100).dropFirst()) ms"
    }
}
