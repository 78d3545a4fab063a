import ArgumentParser
import Foundation
import KappaGateway

/// The options of `kappa run` (and `kappa dead-letters replay`) that say where messages come from and where
/// the log lives. Each is also an environment variable and a key of the configuration file (see
/// `kappa config show` and deploy/kappa.example.yaml); a flag beats the variable, which beats the file.
/// Values stay text here so that every bad value gets the same message, naming the setting and its origin.
struct GatewayOptions: ParsableArguments {
    typealias Key = GatewaySettingsCatalog

    @Option(help: help(Key.config, "path"))
    var config: String?

    @Option(help: help(Key.mqttURL, "url"))
    var mqtt: String?

    @Option(help: help(Key.mqttUsername, "name"))
    var mqttUsername: String?

    @Option(help: help(Key.mqttPasswordFile, "path", extra: "Or the password itself in $KAPPA_MQTT_PASSWORD."))
    var mqttPasswordFile: String?

    @Option(name: .customLong("client-id"), help: help(Key.mqttClientID, "id"))
    var clientID: String?

    @Option(help: help(Key.mqttShareGroup, "group"))
    var shareGroup: String?

    @Option(help: help(Key.mqttQoS, "1|2"))
    var qos: String?

    @Option(help: help(Key.mqttProtocol, "version"))
    var mqttProtocol: String?

    @Option(help: help(Key.mqttKeepalive, "seconds"))
    var mqttKeepaliveSeconds: String?

    @Option(name: .customLong("mqtt-tls-ca"), help: help(Key.mqttTLSCA, "path"))
    var mqttTLSCA: String?

    @Option(name: .customLong("mqtt-tls-cert"), help: help(Key.mqttTLSCertificate, "path"))
    var mqttTLSCertificate: String?

    @Option(name: .customLong("mqtt-tls-key"), help: help(Key.mqttTLSKey, "path"))
    var mqttTLSKey: String?

    @Option(name: .customLong("topic"), help: help(Key.topics, "template[=format]", extra: "Repeat for several, e.g. --topic 'sites/{site}/{device}/{metric}=number'."))
    var topics: [String] = []

    @Flag(inversion: .prefixedNo, help: ArgumentHelp("Also subscribe spBv1.0/# and decode Sparkplug B there (docs/sparkplug.md). Env: KAPPA_SPARKPLUG. Default: false."))
    var sparkplug: Bool?

    @Option(help: help(Key.sparkplugHostID, "id"))
    var sparkplugHostId: String?

    @Option(help: help(Key.dataDirectory, "dir"))
    var dataDir: String?

    @Option(help: help(Key.logPartitions, "n"))
    var partitions: String?

    @Option(help: help(Key.logFsync, "policy"))
    var fsync: String?

    @Option(name: .customLong("disk-floor-mb"), help: help(Key.logDiskFloor, "MiB"))
    var diskFloorMB: String?

    @Option(help: help(Key.logRetention, "hours"))
    var logRetentionHours: String?

    @Option(help: help(Key.logLevel, "level"))
    var logLevel: String?

    @Option(help: help(Key.logFormat, "format"))
    var logFormat: String?

    func validate() throws {
        if let mqtt, mqtt.range(of: #"://[^/@]*:[^/@]*@"#, options: .regularExpression) != nil {
            throw ValidationError("Do not put the MQTT password in the URL: use --mqtt-password-file or KAPPA_MQTT_PASSWORD.")
        }
    }

    /// The flags given, by setting.
    var flags: [Setting: [String]] {
        var flags: [Setting: [String]] = [:]
        flags[Key.config] = config.map { [$0] }
        flags[Key.mqttURL] = mqtt.map { [$0] }
        flags[Key.mqttUsername] = mqttUsername.map { [$0] }
        flags[Key.mqttPasswordFile] = mqttPasswordFile.map { [$0] }
        flags[Key.mqttClientID] = clientID.map { [$0] }
        flags[Key.mqttShareGroup] = shareGroup.map { [$0] }
        flags[Key.mqttQoS] = qos.map { [$0] }
        flags[Key.mqttProtocol] = mqttProtocol.map { [$0] }
        flags[Key.mqttKeepalive] = mqttKeepaliveSeconds.map { [$0] }
        flags[Key.mqttTLSCA] = mqttTLSCA.map { [$0] }
        flags[Key.mqttTLSCertificate] = mqttTLSCertificate.map { [$0] }
        flags[Key.mqttTLSKey] = mqttTLSKey.map { [$0] }
        flags[Key.topics] = topics.isEmpty ? nil : topics
        flags[Key.sparkplug] = sparkplug.map { [$0 ? "true" : "false"] }
        flags[Key.sparkplugHostID] = sparkplugHostId.map { [$0] }
        flags[Key.dataDirectory] = dataDir.map { [$0] }
        flags[Key.logPartitions] = partitions.map { [$0] }
        flags[Key.logFsync] = fsync.map { [$0] }
        flags[Key.logDiskFloor] = diskFloorMB.map { [$0] }
        flags[Key.logRetention] = logRetentionHours.map { [$0] }
        flags[Key.logLevel] = logLevel.map { [$0] }
        flags[Key.logFormat] = logFormat.map { [$0] }
        return flags
    }
}

/// A flag's help from the catalog: what it does, its variable, its default. One sentence each, unwrapped:
/// the terminal wraps it.
func help(_ setting: Setting, _ valueName: String, extra: String? = nil) -> ArgumentHelp {
    var text = setting.summary
    if let extra { text += " " + extra }
    text += " Env: \(setting.environment)."
    if let value = setting.defaultValue { text += " Default: \(value)." }
    return ArgumentHelp(text, valueName: valueName)
}
