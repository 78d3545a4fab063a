import KappaPostgres
import KappaTestSupport
import Logging
import Testing

/// Settings that reach libpq as its own connection keywords, and the password check that reads a conninfo as
/// libpq does.
@Suite("libpq parameters and passwords in conninfo")
struct ConnectionParameterTests {
    @Test("sslmode given as a parameter reaches libpq and overrides the conninfo's")
    func sslmodeReachesLibpq() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "sslmode")
        // The test server has no TLS: require must fail, disable must connect, whatever the conninfo says.
        var required = PostgresConfiguration(conninfo: database.conninfo + " sslmode=disable", connectTimeoutSeconds: 5)
        required.parameters["sslmode"] = "require"
        let refused = try await #require(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(required, logger: PostgresServer.logger)
        }
        #expect(refused.description.contains("SSL"), "\(refused)")

        var disabled = PostgresConfiguration(conninfo: database.conninfo + " sslmode=require", connectTimeoutSeconds: 5)
        disabled.parameters["sslmode"] = "disable"
        let connection = try await PostgresConnection.connect(disabled, logger: PostgresServer.logger)
        await connection.close()
    }

    @Test("a password is found however libpq would read it", arguments: [
        ("host=db password=x", true),
        ("host=db password = x", true),
        ("host=db password='a b' user=kappa", true),
        ("postgresql://kappa:x@db/kappa", true),
        ("postgresql://kappa@db/kappa?password=x", true),
        ("postgresql://kappa@db/kappa?pass%77ord=x", true),
        ("host=db user=kappa dbname=kappa", false),
        ("postgresql://kappa@db/kappa?sslmode=require", false),
        ("", false),
    ])
    func passwordDetection(conninfo: String, carries: Bool) throws {
        #expect(try PostgresConfiguration.carriesPassword(conninfo) == carries)
    }

    @Test("an unparsable conninfo is an error that does not quote it")
    func unparsable() {
        let error = #expect(throws: PostgresError.self) { try PostgresConfiguration.carriesPassword("host=db password='unterminated") }
        #expect(error?.description.contains("unterminated") == false)
    }
}
