import ArgumentParser
import Foundation
import KappaCore
import KappaGateway
import KappaMQTT
import KappaSimulator

/// Where and how to publish; shared by the fleet and the CSV replay.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("YAML configuration file, the same as kappa run's: kappa-sim takes the broker settings (mqtt.url, username, password_file, tls) from it. Env: KAPPA_CONFIG.", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Broker URL, mqtt://[user@]host[:port] or mqtts:// for TLS. Env: KAPPA_MQTT. Default: mqtt://127.0.0.1:1883.", discussion: "The password comes from KAPPA_MQTT_PASSWORD or a password file, never the command line.", valueName: "url"))
    var mqtt: String?

    @Option(help: ArgumentHelp("Username (overrides one in the URL). Env: KAPPA_MQTT_USERNAME.", valueName: "name"))
    var username: String?

    @Option(help: ArgumentHelp("File holding the password (first line). Env: KAPPA_MQTT_PASSWORD_FILE, or the password itself in KAPPA_MQTT_PASSWORD.", valueName: "file"))
    var passwordFile: String?

    @Option(name: .customLong("tls-ca"), help: ArgumentHelp("CA certificate (PEM) to verify the broker; turns TLS on. Env: KAPPA_MQTT_TLS_CA.", valueName: "file"))
    var tlsCA: String?

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("Client certificate (PEM), for brokers that require one. Env: KAPPA_MQTT_TLS_CERT.", valueName: "file"))
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("Private key (PEM) of the client certificate. Env: KAPPA_MQTT_TLS_KEY.", valueName: "file"))
    var tlsKey: String?

    @Option(help: "MQTT quality of service: 0, 1 or 2.")
    var qos: Int = 1

    @Option(help: ArgumentHelp(
        "MQTT connections to spread the devices over (a device always uses the same one), or 'per-device': each device connects on its own with client id <--client-id-prefix><device> (up to \(PerDeviceConnections.maximumDevices) devices).",
        valueName: "n|per-device"))
    var connections: ConnectionsOption = .pooled(1)

    @Option(help: ArgumentHelp("Client id prefix of per-device connections.", valueName: "prefix"))
    var clientIDPrefix: String = "kappa-sim-"

    @Option(help: "Messages per connection handed to the broker before waiting for their acknowledgement (backpressure).")
    var window: Int = 2_000

    @Option(help: ArgumentHelp("Prepended to every topic, e.g. 'test/run-1' gives test/run-1/devices/….", valueName: "prefix"))
    var topicPrefix: String = ""

    @Flag(help: "No progress line on stderr.")
    var quiet = false

    func validate() throws {
        guard (0...2).contains(qos) else { throw ValidationError("--qos must be 0, 1 or 2") }
        guard window >= 1 else { throw ValidationError("--window must be at least 1") }
    }

    func publishOptions(dropEvery: Int? = nil) throws -> PublishOptions {
        // The broker connection resolves as kappa run's does: flag, then environment, then --config, then default.
        typealias Key = GatewaySettingsCatalog
        var flags: [Setting: [String]] = [:]
        flags[Key.config] = config.map { [$0] }
        flags[Key.mqttURL] = mqtt.map { [$0] }
        flags[Key.mqttUsername] = username.map { [$0] }
        flags[Key.mqttPasswordFile] = passwordFile.map { [$0] }
        flags[Key.mqttTLSCA] = tlsCA.map { [$0] }
        flags[Key.mqttTLSCertificate] = tlsCertificate.map { [$0] }
        flags[Key.mqttTLSKey] = tlsKey.map { [$0] }
        var mqtt: MQTTConfiguration
        do {
            var layers = try SettingsLayers.load(flags: flags, environment: ProcessInfo.processInfo.environment)
            layers.flagNames = [Key.mqttPasswordFile.key: "--password-file", Key.mqttUsername.key: "--username",
                                Key.mqttTLSCA.key: "--tls-ca", Key.mqttTLSCertificate.key: "--tls-cert", Key.mqttTLSKey.key: "--tls-key"]
            mqtt = try MQTTConnectionSettings.resolve(layers)
        } catch {
            throw ValidationError(error.description)
        }
        // libmosquitto's own in-flight limit; our window bounds what is queued behind it.
        mqtt.maxInflightMessages = min(window, PublishOptions.libraryInflightLimit)
        return PublishOptions(
            mqtt: mqtt, qos: MQTTQoS(rawValue: Int32(qos))!, layout: connections.layout, window: window, dropEvery: dropEvery,
            clientIDPrefix: clientIDPrefix
        )
    }
}

/// `--connections`: a number, or `per-device`.
enum ConnectionsOption: ExpressibleByArgument, Equatable, CustomStringConvertible {
    case pooled(Int)
    case perDevice

    var description: String {
        switch self {
        case .pooled(let count): "\(count)"
        case .perDevice: "per-device"
        }
    }

    init?(argument: String) {
        let text = argument.lowercased()
        if text == "per-device" || text == "device" {
            self = .perDevice
        } else if let count = Int(text), count >= 1 {
            self = .pooled(count)
        } else {
            return nil
        }
    }

    var layout: PublishOptions.ConnectionLayout {
        switch self {
        case .pooled(let count): .pooled(count)
        case .perDevice: .perDevice
        }
    }

    /// How many connections share the window-sized batches the run generates ahead.
    func connectionCount(devices: Int) -> Int {
        switch self {
        case .pooled(let count): count
        case .perDevice: devices
        }
    }
}

/// How fast time runs: `fast`, `realtime`, or a factor (`60` or `60x`: a simulated minute per second).
enum SpeedOption: ExpressibleByArgument, Equatable {
    case fast
    case factor(Double)

    init?(argument: String) {
        let text = argument.lowercased()
        if text == "fast" || text == "max" {
            self = .fast
        } else if text == "realtime" || text == "real-time" {
            self = .factor(1)
        } else if let factor = Double(text.hasSuffix("x") ? String(text.dropLast()) : text), factor > 0, factor.isFinite {
            self = .factor(factor)
        } else {
            return nil
        }
    }

    var pacing: Pacing {
        switch self {
        case .fast: .fast
        case .factor(let factor): .realTime(speed: factor)
        }
    }
}

/// Parses `30s`, `10m`, `1d`.
struct DurationOption: ExpressibleByArgument {
    var duration: Duration

    init?(argument: String) {
        guard let duration = DurationText.duration(argument) else { return nil }
        self.duration = duration
    }
}
