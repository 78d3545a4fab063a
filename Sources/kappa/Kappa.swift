import ArgumentParser
import KappaCommandLine

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

    static func main() async {
        await mainExitingTwoOnInputError()
    }
}

enum KappaVersion {
    static let current = "0.1.0"
}
