import ArgumentParser
import Foundation

@main
struct Kappa: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kappa",
        abstract: "IoT telemetry gateway: MQTT in, a durable partitioned log, rollups and anomalies out to PostgreSQL.",
        version: KappaVersion.current,
        subcommands: [
            DatabaseCommand.self,
            LogCommand.self,
            RunCommand.self,
            ConfigCommand.self,
            ProcessCommand.self,
            QueryCommand.self,
            EvalCommand.self,
            ReplayCommand.self,
            ImportCommand.self,
            DeadLettersCommand.self,
            VersionsCommand.self,
        ]
    )

    /// As ArgumentParser's, except that a usage or validation error (a bad flag, environment variable or
    /// configuration value) exits 2, the usual status of a command used wrongly, instead of 64.
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exitOnInputError(error, message: fullMessage(for: error))
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // Found while running (a bad environment variable or file value): the message, without the root's usage.
            exitOnInputError(error, message: "Error: \(message(for: error))")
            exit(withError: error)
        }
    }

    private static func exitOnInputError(_ error: any Error, message: String) {
        guard exitCode(for: error) == .validationFailure else { return }
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(2)
    }
}

enum KappaVersion {
    static let current = "0.1.0"
}
