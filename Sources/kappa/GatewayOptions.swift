import ArgumentParser
import Foundation

/// The options of `kappa run` that say where messages come from and where the log lives.
/// Each falls back to its environment variable, then to the configuration file, then to a default.
struct GatewayOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Broker URL mqtt://[user@]host[:port] or mqtts://… (default: $KAPPA_MQTT, else mqtt://127.0.0.1:1883).", valueName: "url"))
    var mqtt: String?

    @Option(help: ArgumentHelp("File whose first line is the MQTT password (else $KAPPA_MQTT_PASSWORD).", valueName: "path"))
    var mqttPasswordFile: String?

    @Option(help: ArgumentHelp("MQTT client id; keep it fixed so the broker keeps the session across restarts (default: $KAPPA_MQTT_CLIENT_ID, else kappa-gateway).", valueName: "id"))
    var clientID: String?

    @Option(help: ArgumentHelp("Share the subscriptions with other gateways as $share/<group>/… (each gateway needs its own --client-id).", valueName: "group"))
    var shareGroup: String?

    @Option(help: "Subscription QoS: 1 (default) or 2. QoS 0 would lose messages on a crash and is refused.")
    var qos: Int?

    @Option(help: ArgumentHelp("MQTT protocol version: 3.1.1 (default) or 5.", valueName: "version"))
    var mqttProtocol: String?

    @Option(name: .customLong("topic"), help: ArgumentHelp(
        "A topic template and its payload format, e.g. 'sites/{site}/{device}/{metric}=number'; repeat for several (default: devices/{device}/telemetry=json and devices/{device}/{metric}=number).",
        valueName: "template[=format]"
    ))
    var topics: [String] = []

    @Option(help: ArgumentHelp("Directory of the partitioned log (default: $KAPPA_DATA_DIR, else ./data).", valueName: "dir"))
    var dataDir: String?

    @Option(help: ArgumentHelp("Partitions of a new readings stream (fixed once created).", valueName: "n"))
    var partitions: Int?

    @Option(help: ArgumentHelp("When the log fsyncs: interval (default, every 100 ms), always (group commit), never.", valueName: "policy"))
    var fsync: String?

    @Option(help: ArgumentHelp("Free disk (MiB) below which intake pauses instead of filling the disk (default 256).", valueName: "MiB"))
    var diskFloorMB: Int?

    @Option(help: ArgumentHelp("YAML configuration file (lowest precedence; default: $KAPPA_CONFIG).", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Log level: trace, debug, info (default), notice, warning, error.", valueName: "level"))
    var logLevel: String?

    func validate() throws {
        if let qos, qos != 1 && qos != 2 {
            throw ValidationError("--qos must be 1 or 2: at QoS 0 the broker does not resend, so a crash would lose messages.")
        }
        if let mqtt, mqtt.range(of: #"://[^/@]*:[^/@]*@"#, options: .regularExpression) != nil {
            throw ValidationError("Do not put the MQTT password in the URL: use --mqtt-password-file or KAPPA_MQTT_PASSWORD.")
        }
        if let partitions, !(1...1024).contains(partitions) {
            throw ValidationError("--partitions must be between 1 and 1024.")
        }
    }
}
