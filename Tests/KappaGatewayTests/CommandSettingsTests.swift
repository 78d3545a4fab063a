import Foundation
import KappaGateway
import KappaPostgres
import KappaTestSupport
import Testing
import KappaStorage

/// How the commands other than `kappa run` resolve the database, the schema and the data directory.
@Suite("command settings")
struct CommandSettingsTests {
    @Test("--database beats KAPPA_DATABASE, which beats the PG* variables (an empty conninfo); the source says which")
    func databasePrecedence() throws {
        let environment = ["KAPPA_DATABASE": "postgres://from-env@db/kappa"]
        let flag = DatabaseFlags(database: "postgres://from-flag@db/kappa", passwordFile: nil)
        #expect(try flag.configuration(environment: environment).conninfo == "postgres://from-flag@db/kappa")
        #expect(flag.source(environment: environment) == "--database")
        let none = DatabaseFlags(database: nil, passwordFile: nil)
        #expect(try none.configuration(environment: environment).conninfo == "postgres://from-env@db/kappa")
        #expect(none.source(environment: environment) == "$KAPPA_DATABASE")
        #expect(try none.configuration(environment: [:]).conninfo == "")
        #expect(none.source(environment: [:]) == "the PG* environment variables")
    }

    @Test("the password file's first line is the password; application name and timeout are passed on")
    func passwordFile() throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-password")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/password"
        try "s3cret word\nignored\n".write(toFile: path, atomically: true, encoding: .utf8)
        let flags = DatabaseFlags(database: "host=db", passwordFile: path, applicationName: "kappa-test", connectTimeoutSeconds: 3)
        let configuration = try flags.configuration(environment: [:])
        #expect(configuration.password == "s3cret word")
        #expect(configuration.applicationName == "kappa-test")
        #expect(configuration.connectTimeoutSeconds == 3)
        #expect(throws: SettingsError("Cannot read the password file \(directory)/missing.")) {
            try DatabaseFlags(database: nil, passwordFile: directory + "/missing").configuration(environment: [:])
        }
    }

    @Test("a password on the command line, in any form libpq reads, and a timeout below 1 s are refused")
    func databaseChecks() throws {
        let refusal = SettingsError("Do not put the password on the command line: use --password-file or PGPASSWORD.")
        for database in ["postgres://kappa:secret@db/kappa", "host=db password=secret", "host=db password = 'a b'", "postgres://db/kappa?password=x"] {
            #expect(throws: refusal) { try DatabaseFlags(database: database, passwordFile: nil).check() }
        }
        try DatabaseFlags(database: "postgres://kappa@db/kappa", passwordFile: nil).check()
        #expect(throws: SettingsError("--connect-timeout must be at least 1 second.")) {
            try DatabaseFlags(database: nil, passwordFile: nil, connectTimeoutSeconds: 0).check()
        }
    }

    @Test("the schema: --schema, else KAPPA_SCHEMA, else kappa; a bad name says where it came from")
    func schema() throws {
        #expect(try SchemaName.resolve(flag: "flagged", environment: ["KAPPA_SCHEMA": "environment"]) == "flagged")
        #expect(try SchemaName.resolve(flag: nil, environment: ["KAPPA_SCHEMA": "environment"]) == "environment")
        #expect(try SchemaName.resolve(flag: nil, environment: [:]) == KappaSchema.defaultSchema)
        #expect {
            try SchemaName.resolve(flag: "", environment: [:])
        } throws: { error in
            (error as? SettingsError)?.description.hasPrefix("--schema: the schema name is unusable") == true
        }
        #expect {
            try SchemaName.resolve(flag: nil, environment: ["KAPPA_SCHEMA": String(repeating: "x", count: 64)])
        } throws: { error in
            (error as? SettingsError)?.description.hasPrefix("KAPPA_SCHEMA: the schema name is unusable") == true
        }
    }

    @Test("the data directory: --data-dir, else KAPPA_DATA_DIR, else ./data")
    func dataDirectory() {
        #expect(LogDirectory(flag: "/flag", environment: ["KAPPA_DATA_DIR": "/env"]).path == "/flag")
        #expect(LogDirectory(flag: nil, environment: ["KAPPA_DATA_DIR": "/env"]).path == "/env")
        #expect(LogDirectory(flag: nil, environment: [:]).path == "./data")
    }
}
