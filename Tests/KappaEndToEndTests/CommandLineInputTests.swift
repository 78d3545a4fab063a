import Foundation
import KappaTestSupport
import Testing

/// Every input error of the command line is a message and exit status 2, never a crash; help reads well.
@Suite("command-line input")
struct CommandLineInputTests {
    struct Outcome {
        var status: Int32?
        var output: String
    }

    func kappa(_ arguments: [String], environment: [String: String] = [:], executable: String = "kappa") async throws -> Outcome {
        let output = "\(try TemporaryDirectory.make(prefix: "kappa-cli"))/output.txt"
        let process = try KappaProcess(executable, arguments: arguments, environment: environment, outputFile: output)
        let status = await process.waitForExit(timeout: .seconds(30))
        return Outcome(status: status, output: process.output)
    }

    static let inputErrors: [(arguments: [String], environment: [String: String], message: String)] = [
        (["db", "status"], ["KAPPA_SCHEMA": ""], "KAPPA_SCHEMA: the schema name is unusable: it is empty"),
        (["run", "--roles", "bridge"], ["KAPPA_SCHEMA": ""], "database.schema (environment variable KAPPA_SCHEMA): the schema name is unusable: it is empty"),
        (["replay", "rollups", "--output-version", "v2", "--rollup-widths", "999999999999999999d"], [:], "wider than 366d"),
        (["replay", "rollups", "--output-version", "v$x"], [:], "a version name is 1 to 24 lower-case letters"),
        (["replay", "rollups", "--output-version", "vé"], [:], "a version name is 1 to 24 lower-case letters"),
        (["db", "ping", "--database", "host=127.0.0.1 password = x"], [:], "Do not put the password on the command line"),
        (["db", "ping", "--database", "postgresql://kappa@127.0.0.1/kappa?pass%77ord=x"], [:], "Do not put the password on the command line"),
        (["run", "--database", "host=127.0.0.1 password='a b'"], [:], "Do not put the database password on the command line"),
        (["run", "--qos", "0"], [:], "mqtt.qos (flag --qos): must be 1 or 2"),
        (["run", "--log", "http://127.0.0.1:4222"], [:], "log.url (flag --log): must be nats://host:port"),
        (["run"], ["KAPPA_LOG": "nats://127.0.0.1:4222,127.0.0.1"], "log.url (environment variable KAPPA_LOG): '127.0.0.1' is not host:port"),
        (["run", "--log", "nats://127.0.0.1:4222", "--log-replicas", "2"], [:], "log.replicas (flag --log-replicas): must be 1, 3 or 5"),
        (["run", "--no-such-flag"], [:], "Unknown option '--no-such-flag'"),
        (["config", "check", "/nonexistent/kappa.yaml"], [:], "cannot read the configuration file /nonexistent/kappa.yaml"),
    ]

    @Test("input errors exit 2 with a message", arguments: 0..<inputErrors.count)
    func inputError(index: Int) async throws {
        let (arguments, environment, message) = Self.inputErrors[index]
        let outcome = try await kappa(arguments, environment: environment)
        #expect(outcome.status == 2, "\(arguments) \(environment) exited \(String(describing: outcome.status)):\n\(outcome.output)")
        #expect(outcome.output.contains(message), "\(arguments): \(outcome.output)")
    }

    @Test("an unknown key in the configuration file exits 2 naming the file and line")
    func unknownKeyInFile() async throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-cli-config")
        try "mqtt:\n  url: mqtt://127.0.0.1:1\n  tsl:\n    ca_file: /x\n".write(toFile: "\(directory)/kappa.yaml", atomically: true, encoding: .utf8)
        let check = try await kappa(["config", "check", "\(directory)/kappa.yaml"])
        #expect(check.status == 2)
        #expect(check.output.contains("\(directory)/kappa.yaml, line 3: unknown key 'mqtt.tsl'"), "\(check.output)")
        let run = try await kappa(["run", "--roles", "bridge", "--data-dir", "\(directory)/data"], environment: ["KAPPA_CONFIG": "\(directory)/kappa.yaml"])
        #expect(run.status == 2)
        #expect(run.output.contains("line 3: unknown key 'mqtt.tsl'"), "\(run.output)")
    }

    @Test("kappa-sim resolves the broker settings like kappa run: the same variables and file, errors exit 2")
    func simulatorSettings() async throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-cli-sim")
        try "mqtt:\n  url: mqtt://127.0.0.1:1\n  tls:\n    cert_file: /c.pem\n".write(toFile: "\(directory)/kappa.yaml", atomically: true, encoding: .utf8)
        let file = try await kappa(["--count", "1", "--config", "\(directory)/kappa.yaml"], executable: "kappa-sim")
        #expect(file.status == 2, "\(file.output)")
        #expect(file.output.contains("mqtt.tls.cert_file (\(directory)/kappa.yaml, line 4): a client certificate needs both"), "\(file.output)")
        let password = try await kappa(["--count", "1"], environment: ["KAPPA_MQTT": "mqtt://127.0.0.1:1", "KAPPA_MQTT_PASSWORD": "x"], executable: "kappa-sim")
        #expect(password.status == 2)
        #expect(password.output.contains("mqtt.password (environment variable KAPPA_MQTT_PASSWORD): a broker password needs a user name"), "\(password.output)")
        let flag = try await kappa(["--count", "1", "--password-file", "/nonexistent/password"], executable: "kappa-sim")
        #expect(flag.status == 2)
        #expect(flag.output.contains("(flag --password-file): cannot read the password file /nonexistent/password"), "\(flag.output)")
    }

    @Test("kappa config show says where each setting came from, and redacts secrets")
    func configShow() async throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-cli-show")
        try "database:\n  schema: from_file\nlog:\n  fsync: never\n".write(toFile: "\(directory)/kappa.yaml", atomically: true, encoding: .utf8)
        let outcome = try await kappa(
            ["config", "show", "--config", "\(directory)/kappa.yaml", "--fsync", "always"],
            environment: ["KAPPA_SCHEMA": "from_env", "KAPPA_MQTT": "mqtt://gateway@127.0.0.1:1", "KAPPA_MQTT_PASSWORD": "hunter2-secret"]
        )
        #expect(outcome.status == 0, "\(outcome.output)")
        let lines = outcome.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        func line(_ key: String) -> [String]? { lines.first { $0.first == key } }
        #expect(line("database.schema") == ["database.schema", "from_env", "$KAPPA_SCHEMA"])
        #expect(line("log.fsync") == ["log.fsync", "always", "--fsync"])
        #expect(line("log.partitions") == ["log.partitions", "8", "default"])
        #expect(line("mqtt.password")?.contains("$KAPPA_MQTT_PASSWORD") == true)
        #expect(!outcome.output.contains("hunter2-secret"))
    }

    @Test("help: every setting's flag is in kappa run --help; replay shows --version once")
    func help() async throws {
        let run = try await kappa(["run", "--help"])
        #expect(run.status == 0)
        for flag in ["--config", "--mqtt", "--mqtt-tls-ca", "--mqtt-tls-cert", "--mqtt-tls-key", "--schema", "--database-sslmode",
                     "--alert-webhook", "--anomaly-config", "--log-format", "--ready-max-lag"] {
            #expect(run.output.contains(flag), "\(flag) missing from kappa run --help")
        }
        let replay = try await kappa(["replay", "--help"])
        #expect(replay.output.components(separatedBy: "--version").count - 1 == 1, "\(replay.output)")
        #expect(replay.output.contains("--output-version"))
    }
}
