import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaStream
import Logging

/// What `kappa run` does, resolved from flags, then environment, then the configuration file, then defaults.
struct GatewaySettings: Sendable {
    enum Role: String, CaseIterable, Sendable {
        case bridge, rollups, anomalies, devices, archive
        case deadLetters = "dead-letters"
    }

    var bridge: BridgeConfiguration
    var dataDirectory: String
    var log: DiskLogConfiguration
    var readingPartitions: Int
    var database: PostgresConfiguration?
    var databaseSchema: String
    var roles: Set<Role>
    var http: String
    var logLevel: Logger.Level
    var processors = ProcessorConfiguration()
    var migrate = true
    var maxReadyLagRecords: Int64 = 100_000
    var alertTopic = "alerts/{device}/{metric}"

    static func resolve(
        options: GatewayOptions,
        database: DatabaseOptions,
        roles roleFlag: String?,
        http httpFlag: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> GatewaySettings {
        let file = try (options.config ?? environment["KAPPA_CONFIG"]).map(ConfigurationFile.load(path:))

        // MQTT
        let url = options.mqtt ?? environment["KAPPA_MQTT"] ?? file?.mqtt?.url ?? "mqtt://127.0.0.1:1883"
        var mqtt = try MQTTConfiguration(url: url)
        mqtt.clientID = options.clientID ?? environment["KAPPA_MQTT_CLIENT_ID"] ?? file?.mqtt?.clientID ?? "kappa-gateway"
        mqtt.cleanSession = false
        if let passwordFile = options.mqttPasswordFile ?? file?.mqtt?.passwordFile {
            mqtt.password = try readSecret(passwordFile, what: "MQTT password")
        } else if let password = environment["KAPPA_MQTT_PASSWORD"] {
            mqtt.password = password
        }
        switch options.mqttProtocol ?? environment["KAPPA_MQTT_PROTOCOL"] ?? file?.mqtt?.protocol ?? "3.1.1" {
        case "3.1.1", "311", "3": mqtt.protocolVersion = .v311
        case "5", "5.0": mqtt.protocolVersion = .v5
        case let other: throw ConfigurationError("unknown MQTT protocol version '\(other)': use 3.1.1 or 5")
        }
        if let seconds = file?.mqtt?.keepaliveSeconds { mqtt.keepAlive = .seconds(seconds) }
        if let tls = file?.mqtt?.tls {
            mqtt.tls = MQTTConfiguration.TLS(caFile: tls.caFile, certificateFile: tls.certFile, keyFile: tls.keyFile)
        }
        let qosNumber = options.qos ?? file?.mqtt?.qos ?? 1
        guard qosNumber == 1 || qosNumber == 2, let qos = MQTTQoS(rawValue: Int32(qosNumber)) else {
            throw ConfigurationError("MQTT QoS must be 1 or 2 (QoS 0 would lose messages on a crash)")
        }
        var routes = TopicRoute.defaults
        let topicSpecs = !options.topics.isEmpty ? options.topics.map(parseTopicFlag)
            : (file?.topics ?? []).map { ($0.template, $0.format) }
        if !topicSpecs.isEmpty {
            routes = try topicSpecs.map { template, format in
                var parsedFormat: PayloadFormat? = nil
                if let format {
                    guard let known = PayloadFormat(rawValue: format.replacingOccurrences(of: "-", with: "_")) else {
                        throw ConfigurationError("unknown payload format '\(format)' for \(template): use \(PayloadFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    parsedFormat = known
                }
                do {
                    return try TopicRoute(template, format: parsedFormat)
                } catch {
                    throw ConfigurationError("topic template '\(template)': \(error)")
                }
            }
        }
        let bridge = BridgeConfiguration(
            mqtt: mqtt, routes: routes, qos: qos,
            shareGroup: options.shareGroup ?? environment["KAPPA_MQTT_SHARE_GROUP"] ?? file?.mqtt?.shareGroup
        )

        // Log
        var log = DiskLogConfiguration()
        switch options.fsync ?? environment["KAPPA_FSYNC"] ?? file?.log?.fsync ?? "interval" {
        case "interval": log.fsync = .default
        case "always": log.fsync = .always
        case "never": log.fsync = .never
        case let other: throw ConfigurationError("unknown fsync policy '\(other)': use interval, always or never")
        }
        if let floor = options.diskFloorMB ?? file?.log?.diskFloorMB {
            log.diskFloorBytes = Int64(floor) << 20
        }
        if let hours = file?.log?.retentionHours {
            log.retention.maxAge = .seconds(hours * 3600)
        }

        // Database: only what is given; processors need it, the bridge alone does not.
        var databaseConfiguration: PostgresConfiguration? = nil
        if database.database != nil || environment["KAPPA_DATABASE"] != nil || file?.database?.url == nil {
            let resolved = try database.configuration(environment: environment)
            if !resolved.conninfo.isEmpty || environment["PGHOST"] != nil || environment["PGDATABASE"] != nil {
                databaseConfiguration = resolved
            }
        } else if let url = file?.database?.url {
            let password = try (database.passwordFile ?? file?.database?.passwordFile).map { try readSecret($0, what: "database password") }
            databaseConfiguration = PostgresConfiguration(conninfo: url, password: password, applicationName: database.applicationName, connectTimeoutSeconds: database.connectTimeout)
        }

        let roleNames: [String]
        if let roleFlag {
            roleNames = roleFlag.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else if let fromEnvironment = environment["KAPPA_ROLES"] {
            roleNames = fromEnvironment.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else if let fromFile = file?.roles {
            roleNames = fromFile
        } else {
            roleNames = Role.allCases.map(\.rawValue)
        }
        var roles = Set<Role>()
        for name in roleNames where !name.isEmpty {
            guard let role = Role(rawValue: name) else {
                throw ConfigurationError("unknown role '\(name)': use \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            roles.insert(role)
        }

        let levelName = options.logLevel ?? environment["KAPPA_LOG_LEVEL"] ?? "info"
        guard let logLevel = Logger.Level(rawValue: levelName) else {
            throw ConfigurationError("unknown log level '\(levelName)'")
        }
        return GatewaySettings(
            bridge: bridge,
            dataDirectory: options.dataDir ?? environment["KAPPA_DATA_DIR"] ?? file?.dataDir ?? "./data",
            log: log,
            readingPartitions: options.partitions ?? file?.log?.partitions ?? KappaStreams.defaultReadingPartitions,
            database: databaseConfiguration,
            databaseSchema: file?.database?.schema ?? environment["KAPPA_SCHEMA"] ?? "kappa",
            roles: roles,
            http: httpFlag ?? environment["KAPPA_HTTP"] ?? file?.http ?? "127.0.0.1:9464",
            logLevel: logLevel
        )
    }

    private static func parseTopicFlag(_ flag: String) -> (String, String?) {
        guard let equals = flag.lastIndex(of: "=") else { return (flag, nil) }
        return (String(flag[..<equals]), String(flag[flag.index(after: equals)...]))
    }

    private static func readSecret(_ path: String, what: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("cannot read the \(what) file \(path)")
        }
        return text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
    }
}
