import KappaCore
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaStorage
import KappaStream
import Logging

/// What `kappa run` does, each setting resolved on its own through ``SettingsLayers``: flag, environment
/// variable, configuration file, default. Every bad value is an error naming the setting and where its value
/// came from (the file and line for the file).
public struct GatewaySettings: Sendable {
    /// A part of the gateway: the bridge, or a processor registered in `ProcessorCatalog` (so a new processor
    /// is a role without an edit here).
    public struct Role: RawRepresentable, Hashable, CaseIterable, Sendable {
        public let rawValue: String

        public init?(rawValue: String) {
            guard rawValue == "bridge" || ProcessorRole(rawValue: rawValue) != nil else { return nil }
            self.rawValue = rawValue
        }

        private init(known: String) {
            rawValue = known
        }

        public static let bridge = Role(known: "bridge")
        public static let rollups = Role(known: ProcessorRole.rollups.rawValue)
        public static let anomalies = Role(known: ProcessorRole.anomalies.rawValue)
        public static let devices = Role(known: ProcessorRole.devices.rawValue)
        public static let archive = Role(known: ProcessorRole.archive.rawValue)
        public static let deadLetters = Role(known: ProcessorRole.deadLetters.rawValue)

        public static var allCases: [Role] { [.bridge] + ProcessorRole.allCases.map { Role(known: $0.rawValue) } }
    }

    public enum LogFormat: String, CaseIterable, Sendable {
        case text, json
    }

    public var bridge: BridgeConfiguration
    public var dataDirectory: String
    public var log: DiskLogConfiguration
    /// The embedded log (in `dataDirectory`, configured by `log`) or a JetStream cluster.
    public var logLocation: LogLocation = .embedded
    /// Credentials, TLS and the start-up wait of a nats:// log.
    public var natsAccess = NATSAccess()
    public var readingPartitions: Int
    public var database: PostgresConfiguration?
    public var databaseSchema: String
    public var roles: Set<Role>
    public var http: String
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    public var processors = ProcessorConfiguration()
    /// The detector settings as given (nil: the built-in defaults), recorded with a new anomaly output version.
    public var anomaly: AnomalyConfigurationFile?
    public var migrate: Bool
    public var maxReadyLagRecords: Int64
    public var alerts: AlertSettings

    public static func resolve(_ layers: SettingsLayers) throws(SettingsError) -> GatewaySettings {
        var read = SettingReader(layers: layers)
        typealias Key = GatewaySettingsCatalog

        // MQTT
        var mqtt = try MQTTConnectionSettings.resolve(layers)
        mqtt.clientID = try read.text(Key.mqttClientID)
        mqtt.cleanSession = false
        let qos = try read.parse(Key.mqttQoS) { text throws(SettingsError) -> MQTTQoS in
            guard text == "1" || text == "2", let qos = MQTTQoS(rawValue: Int32(text)!) else {
                throw SettingsError("must be 1 or 2, not '\(text)' (at QoS 0 the broker does not resend, so a crash would lose messages)")
            }
            return qos
        }!
        var routes = TopicRoute.defaults
        if let topics = layers.value(Key.topics), topics.origin != .defaultValue {
            do { routes = try TopicSpecification.routes(topics.texts) } catch { throw SettingsError(Key.topics, topics, error.description) }
        }
        var bridge = BridgeConfiguration(mqtt: mqtt, routes: routes, qos: qos, shareGroup: try read.text(Key.mqttShareGroup))
        bridge.sparkplug = try read.boolean(Key.sparkplug)!
        bridge.sparkplugHostID = try read.parse(Key.sparkplugHostID) { text throws(SettingsError) -> String in
            guard !text.isEmpty, !text.contains(where: { "/+#".contains($0) }) else {
                throw SettingsError("must be one MQTT topic level (not empty, no '/', '+' or '#'), not '\(text)'")
            }
            return text
        }!

        // Log
        var log = DiskLogConfiguration()
        log.fsync = try read.parse(Key.logFsync) { text throws(SettingsError) -> FsyncPolicy in
            switch text {
            case "interval": return .default
            case "always": return .always
            case "never": return .never
            default: throw SettingsError("use interval, always or never, not '\(text)'")
            }
        }!
        log.diskFloorBytes = Int64(try read.integer(Key.logDiskFloor, in: 0...(1 << 40))!) << 20
        log.retention.maxAge = .seconds(try read.integer(Key.logRetention, in: 1...(24 * 365 * 100))! * 3600)

        let replicas = try read.parse(Key.logReplicas) { text throws(SettingsError) -> Int in
            guard let replicas = Int(text.trimmed), [1, 3, 5].contains(replicas) else { throw SettingsError("must be 1, 3 or 5, not '\(text)'") }
            return replicas
        }!
        let logLocation = try read.parse(Key.logURL) { text throws(SettingsError) in try LogLocation.parse(text, replicas: replicas) } ?? .embedded

        // Database: only what is given; processors need it, the bridge alone does not.
        var database: PostgresConfiguration? = nil
        let conninfo = try read.text(Key.database)
        if conninfo != nil || layers.environment["PGHOST"] != nil || layers.environment["PGDATABASE"] != nil
            || layers.environment["PGSERVICE"] != nil {
            if let conninfo, let value = layers.value(Key.database) {
                let carries: Bool
                do { carries = try PostgresConfiguration.carriesPassword(conninfo) } catch { throw SettingsError(Key.database, value, "\(error)") }
                if carries, value.origin != .environment(Key.database.environment) {
                    throw SettingsError(Key.database, value, "holds a password: put it in database.password_file, PGPASSWORD or ~/.pgpass")
                }
            }
            var configuration = PostgresConfiguration(
                conninfo: conninfo ?? "",
                applicationName: try read.text(Key.databaseApplicationName)!,
                connectTimeoutSeconds: try read.integer(Key.databaseConnectTimeout, in: 1...3600)!
            )
            if let file = layers.value(Key.databasePasswordFile) {
                configuration.password = try Secrets.firstLine(of: file.text, Key.databasePasswordFile, file)
            }
            if let mode = try read.parse(Key.databaseSSLMode, { text throws(SettingsError) in
                guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(text) else {
                    throw SettingsError("use disable, allow, prefer, require, verify-ca or verify-full, not '\(text)'")
                }
                return text
            }) {
                configuration.parameters["sslmode"] = mode
            }
            if let rootCertificate = try read.path(Key.databaseSSLRootCert) {
                configuration.parameters["sslrootcert"] = rootCertificate
            }
            database = configuration
        }
        let schema = try read.parse(Key.databaseSchema) { text throws(SettingsError) in try SchemaName.check(text) }!
        let migrate = try read.boolean(Key.databaseMigrate)!

        let roleNames = try read.list(Key.roles)!
        var roles = Set<Role>()
        for name in roleNames.map(\.trimmed) where !name.isEmpty {
            guard let role = Role(rawValue: name) else {
                throw SettingsError(Key.roles, layers.value(Key.roles)!, "unknown role '\(name)': use \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            roles.insert(role)
        }
        if roles.isEmpty { throw SettingsError(Key.roles, layers.value(Key.roles)!, "names no role") }

        let http = try read.parse(Key.http) { text throws(SettingsError) in
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port),
                  colon != text.startIndex else {
                throw SettingsError("must be host:port, not '\(text)'")
            }
            return text
        }!
        let logLevel = try read.parse(Key.logLevel) { text throws(SettingsError) in
            guard let level = Logger.Level(rawValue: text) else {
                throw SettingsError("use trace, debug, info, notice, warning, error or critical, not '\(text)'")
            }
            return level
        }!
        let logFormat = try read.parse(Key.logFormat) { text throws(SettingsError) in
            guard let format = LogFormat(rawValue: text) else { throw SettingsError("use text or json, not '\(text)'") }
            return format
        }!
        var processors = ProcessorConfiguration()
        processors.threadNiceness = Int32(try read.integer(Key.processorNice, in: 0...19)!)
        let idleSeconds = try read.integer(Key.seriesIdle, in: 0...(366 * 86_400))!
        processors.seriesMemory.idleAfter = idleSeconds == 0 ? nil : .seconds(idleSeconds)
        if let widths = layers.value(Key.rollupWidths) {
            do {
                processors.rollupWidths = try ProcessorTuning.rollupWidths(widths.texts.joined(separator: ","), naming: nil)
            } catch {
                throw SettingsError(Key.rollupWidths, widths, error.description)
            }
            processors.rollupWidthsGiven = widths.origin != .defaultValue
        }
        if let retention = layers.value(Key.rollupRetention) {
            do {
                processors.rollupRetention = try ProcessorTuning.rollupRetention(retention.texts.joined(separator: ","), naming: nil)
            } catch {
                throw SettingsError(Key.rollupRetention, retention, error.description)
            }
        }
        if let tagColumns = layers.value(Key.rollupTagColumns) {
            do {
                processors.rollupTagColumns = try ProcessorTuning.tagColumns(tagColumns.texts, naming: nil)
            } catch {
                throw SettingsError(Key.rollupTagColumns, tagColumns, error.description)
            }
        }
        processors.archiveRetention = try read.parse(Key.archiveRetention) { text throws(SettingsError) in try ProcessorTuning.retention(text) } ?? nil
        processors.deadLetterRetention = try read.parse(Key.deadLetterRetention) { text throws(SettingsError) in try ProcessorTuning.retention(text) } ?? nil
        var anomaly: AnomalyConfigurationFile? = nil
        if let value = layers.value(Key.anomaly) {
            if case .file = value.origin {
                anomaly = layers.file?.anomaly
            } else {
                anomaly = try AnomalySection.load(path: value.text, Key.anomaly, value)
            }
        }
        if let anomaly {
            do { processors.anomalies = try anomaly.configuration() } catch {
                throw SettingsError(Key.anomaly, layers.value(Key.anomaly)!, "\(error)")
            }
        }
        var settings = GatewaySettings(
            bridge: bridge,
            dataDirectory: try read.parse(Key.dataDirectory) { text throws(SettingsError) in
                guard !text.isEmpty else { throw SettingsError("must name a directory") }
                return text
            }!,
            log: log,
            logLocation: logLocation,
            readingPartitions: try read.integer(Key.logPartitions, in: 1...1024)!,
            database: database,
            databaseSchema: schema,
            roles: roles,
            http: http,
            logLevel: logLevel,
            logFormat: logFormat,
            processors: processors,
            anomaly: anomaly,
            migrate: migrate,
            maxReadyLagRecords: Int64(try read.integer(Key.readyMaxLag, in: 1...Int(Int32.max))!),
            alerts: try AlertSettings.resolve(&read)
        )
        settings.natsAccess = try NATSAccess.resolve(layers)
        return settings
    }
}
