import ArgumentParser
import Foundation
import KappaCore
import KappaGateway
import KappaLog
import KappaMQTT
import KappaStorage
import KappaStream
import Logging
import ServiceLifecycle

/// `kappa run`: the gateway. Bridge and processors in one process, as one service group.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway: MQTT into the log, processors into PostgreSQL.",
        // Paragraphs are single lines (the terminal wraps them); examples are short lines that paste as they are.
        discussion: """
        Subscribes to the broker with a persistent session (fixed client id, QoS 1), appends every reading to \
        the partitioned log before acknowledging it, and runs the processors over the log. SIGTERM or Ctrl-C \
        stops intake, lets the processors make a final checkpoint, syncs the log and exits 0.

        Every option is also an environment variable and a key of the --config file; a flag beats the \
        variable, which beats the file. `kappa config show` prints the effective settings and where each came \
        from; deploy/kappa.example.yaml lists every key. Invalid settings exit 2.

        Examples:

        kappa run --mqtt mqtt://127.0.0.1:1883 \\
          --database postgres://kappa@127.0.0.1/kappa \\
          --data-dir /var/lib/kappa

        KAPPA_MQTT=mqtt://gateway@broker:1883 \\
          KAPPA_MQTT_PASSWORD_FILE=/etc/kappa/mqtt-password \\
          kappa run --roles bridge

        kappa run --config /etc/kappa/kappa.yaml \\
          --topic 'sites/{site}/{device}/{metric}=number'
        """
    )

    @OptionGroup var options: RunOptions

    @Option(help: ArgumentHelp("While intake drains a broker backlog, processors more than this many records behind put off their work (at most 5 s between checkpoints); -1 never (default 10000).", valueName: "records", visibility: .hidden))
    var intakeDeferralLag: Int64 = 10_000

    func run() async throws {
        MallocTuning.configureForLargeFleet()
        var settings: GatewaySettings
        do {
            let layers = try SettingsLayers.load(flags: options.flags, environment: ProcessInfo.processInfo.environment)
            settings = try GatewaySettings.resolve(layers)
        } catch {
            throw ValidationError(error.description)
        }
        settings.processors.intakeDeferral = intakeDeferralLag < 0 ? nil : IntakeDeferral(lagRecords: intakeDeferralLag)
        GatewayLogging.bootstrap(level: settings.logLevel, format: settings.logFormat)
        let logger = Logger(label: "kappa")
        let resolved = settings
        let gateway = try await reportingInputErrors {
            try await Blocking.run { try Gateway.make(settings: resolved, logger: logger, processors: Gateway.standardProcessors) }
        }
        try await gateway.run(settings: settings, logger: logger)
        logger.info("kappa stopped cleanly")
    }
}
