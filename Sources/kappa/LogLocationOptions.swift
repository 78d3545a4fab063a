import ArgumentParser
import Foundation
import KappaGateway
import Logging

/// Where the log lives and how to reach it, for `kappa run` and every command that reads or writes the log:
/// the embedded log in the data directory, or a NATS JetStream cluster (`--log nats://…`) with its
/// credentials and TLS. Each is also an environment variable and a key of the configuration file.
struct LogLocationOptions: ParsableArguments {
    typealias Key = GatewaySettingsCatalog

    @Option(name: .customLong("log"), help: help(Key.logURL, "nats://host:port,…"))
    var logURL: String?

    @Option(name: .customLong("log-replicas"), help: help(Key.logReplicas, "n"))
    var logReplicas: String?

    @Option(name: .customLong("nats-user"), help: help(Key.natsUser, "name"))
    var natsUser: String?

    @Option(name: .customLong("nats-password-file"), help: help(Key.natsPasswordFile, "path", extra: "Or the password itself in $KAPPA_NATS_PASSWORD."))
    var natsPasswordFile: String?

    @Option(name: .customLong("nats-token-file"), help: help(Key.natsTokenFile, "path", extra: "Or the token itself in $KAPPA_NATS_TOKEN."))
    var natsTokenFile: String?

    @Option(name: .customLong("nats-creds"), help: help(Key.natsCredentials, "path"))
    var natsCredentials: String?

    @Option(name: .customLong("nats-tls-ca"), help: help(Key.natsTLSCA, "path"))
    var natsTLSCA: String?

    @Option(name: .customLong("nats-tls-cert"), help: help(Key.natsTLSCertificate, "path"))
    var natsTLSCertificate: String?

    @Option(name: .customLong("nats-tls-key"), help: help(Key.natsTLSKey, "path"))
    var natsTLSKey: String?

    @Option(name: .customLong("nats-startup-wait"), help: help(Key.natsStartupWait, "seconds"))
    var natsStartupWait: String?

    var flags: [Setting: [String]] {
        var flags: [Setting: [String]] = [:]
        flags[Key.logURL] = logURL.map { [$0] }
        flags[Key.logReplicas] = logReplicas.map { [$0] }
        flags[Key.natsUser] = natsUser.map { [$0] }
        flags[Key.natsPasswordFile] = natsPasswordFile.map { [$0] }
        flags[Key.natsTokenFile] = natsTokenFile.map { [$0] }
        flags[Key.natsCredentials] = natsCredentials.map { [$0] }
        flags[Key.natsTLSCA] = natsTLSCA.map { [$0] }
        flags[Key.natsTLSCertificate] = natsTLSCertificate.map { [$0] }
        flags[Key.natsTLSKey] = natsTLSKey.map { [$0] }
        flags[Key.natsStartupWait] = natsStartupWait.map { [$0] }
        return flags
    }
}

/// The log a command other than `kappa run` works on: `--data-dir` for the embedded log, or `--log nats://…`
/// (with `KAPPA_LOG`, `log.url` in `KAPPA_CONFIG`'s file, and the NATS credentials settings).
struct CommandLogOptions: ParsableArguments {
    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var location: LogLocationOptions

    /// The settings as `kappa run` would resolve them from these flags, the environment and the file.
    func settings() throws -> GatewaySettings {
        try reportingInputErrors {
            var flags = location.flags
            flags[GatewaySettingsCatalog.dataDirectory] = data.dataDirectory.map { [$0] }
            let layers = try SettingsLayers.load(flags: flags, environment: ProcessInfo.processInfo.environment)
            return try GatewaySettings.resolve(layers)
        }
    }

    func open(_ access: CommandLogAccess, logger: Logger) throws -> (log: GatewayLog, refresher: LogRefresher?) {
        try GatewayLog.openForCommand(settings: try settings(), access: access, logger: logger)
    }
}
