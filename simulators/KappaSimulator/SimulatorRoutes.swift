import KappaCore

/// One `--topic` route of `kappa run`: `TEMPLATE=FORMAT[;MAPPING]`.
public struct SimulatorRoute: Hashable, Sendable {
    public var template: String
    public var format: PayloadFormat
    /// The payload mapping's options (docs/payload-mapping.md), nil for none.
    public var mapping: String?

    public init(template: String, format: PayloadFormat, mapping: String? = nil) {
        self.template = template
        self.format = format
        self.mapping = mapping
    }

    /// The value of `--topic`.
    public var specification: String {
        "\(template)=\(format.rawValue)" + (mapping.map { ";\($0)" } ?? "")
    }

    /// The route as the gateway builds it from `specification`.
    public func topicRoute() throws -> TopicRoute {
        try TopicRoute(template, format: format, mapping: mapping.map { try PayloadMapping(options: $0) })
    }
}

/// What `kappa run` needs to map every reading of a format without a dead letter: `--topic` routes, and
/// `--sparkplug` for the Sparkplug fleet. `kappa-sim --print-routes` prints `arguments` one per line.
public struct SimulatorRoutes: Hashable, Sendable {
    public var routes: [SimulatorRoute]
    public var sparkplug: Bool

    public init(format: TelemetryFormat, topicPrefix: String = "", lineTopic: String = "influx/{device}") {
        let prefix = topicPrefix.isEmpty || topicPrefix.hasSuffix("/") ? topicPrefix : topicPrefix + "/"
        sparkplug = format == .sparkplug
        switch format {
        case .json, .values, .batch:
            routes = [SimulatorRoute(template: "\(prefix)devices/{device}/telemetry", format: .json)]
        case .number:
            routes = [SimulatorRoute(template: "\(prefix)devices/{device}/{metric}", format: .number)]
        case .line:
            routes = [SimulatorRoute(template: prefix + lineTopic, format: .lineProtocol)]
        case .zigbee2mqtt, .tasmota, .shelly, .ttn:
            routes = [format.family!.route(prefix: prefix)]
        case .sparkplug:
            // Sparkplug topics are fixed (`spBv1.0/…`, no prefix) and need no route.
            routes = []
        }
    }

    /// `kappa run` arguments, one option with its value each: `--topic '<route>'` (quoted for a POSIX shell:
    /// routes hold `;`, `|` and `{…}`), `--sparkplug`.
    public var arguments: [String] {
        routes.map { "--topic \(Self.shellQuoted($0.specification))" } + (sparkplug ? ["--sparkplug"] : [])
    }

    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingAll("'", with: #"'\''"#) + "'"
    }
}
