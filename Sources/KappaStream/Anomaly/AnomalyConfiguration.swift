/// Defaults for every metric, and overrides for metrics matching a name or glob.
///
/// Every override whose pattern matches a metric applies, in the order given, on top of the defaults;
/// so put broad patterns first and exact names last.
public struct AnomalyConfiguration: Hashable, Sendable {
    public struct Override: Hashable, Sendable {
        public var pattern: MetricPattern
        /// Configuration keys (see `DetectorSettings.keys`) and values, applied in this order.
        public var assignments: [Assignment]

        public init(pattern: MetricPattern, assignments: [Assignment]) {
            self.pattern = pattern
            self.assignments = assignments
        }
    }

    public struct Assignment: Hashable, Sendable {
        public var key: String
        public var value: Double

        public init(_ key: String, _ value: Double) {
            self.key = key
            self.value = value
        }
    }

    public var defaults: DetectorSettings
    public private(set) var overrides: [Override]

    public init(defaults: DetectorSettings = DetectorSettings()) {
        self.defaults = defaults
        self.overrides = []
    }

    /// Adds an override, checking every key and value now so that resolving never fails later.
    public mutating func override(_ pattern: String, _ assignments: [Assignment]) throws(AnomalyConfigurationError) {
        var probe = defaults
        for assignment in assignments {
            do {
                try probe.set(assignment.key, to: assignment.value)
            } catch {
                var located = error
                located.pattern = pattern
                throw located
            }
        }
        overrides.append(Override(pattern: MetricPattern(pattern), assignments: assignments))
    }

    /// The settings for one metric: the defaults with each matching override applied in order.
    public func settings(for metric: String) -> DetectorSettings {
        var resolved = defaults
        for override in overrides where override.pattern.matches(metric) {
            for assignment in override.assignments {
                // Checked in `override(_:_:)`.
                try? resolved.set(assignment.key, to: assignment.value)
            }
        }
        return resolved
    }
}

/// The shape of the anomaly section of a configuration file (JSON or YAML decode into it):
///
/// ```yaml
/// defaults: { spike_z: 6, gap_factor: 5 }
/// metrics:
///   - pattern: "*temperature*"
///     settings: { min: -40, max: 85 }
/// ```
public struct AnomalyConfigurationFile: Codable, Hashable, Sendable {
    public struct MetricEntry: Codable, Hashable, Sendable {
        public var pattern: String
        public var settings: [String: Double]

        public init(pattern: String, settings: [String: Double]) {
            self.pattern = pattern
            self.settings = settings
        }
    }

    public var defaults: [String: Double]?
    public var metrics: [MetricEntry]?

    public init(defaults: [String: Double]? = nil, metrics: [MetricEntry]? = nil) {
        self.defaults = defaults
        self.metrics = metrics
    }

    /// Builds the configuration. Keys within one mapping are applied in sorted order (a mapping has no order
    /// of its own, and the result must not depend on the process).
    public func configuration() throws(AnomalyConfigurationError) -> AnomalyConfiguration {
        var defaultSettings = DetectorSettings()
        for (key, value) in (defaults ?? [:]).sorted(by: { $0.key < $1.key }) {
            try defaultSettings.set(key, to: value)
        }
        var configuration = AnomalyConfiguration(defaults: defaultSettings)
        for entry in metrics ?? [] {
            let assignments = entry.settings.sorted(by: { $0.key < $1.key }).map { AnomalyConfiguration.Assignment($0.key, $0.value) }
            try configuration.override(entry.pattern, assignments)
        }
        return configuration
    }
}

extension AnomalyConfigurationFile {
    /// The file that builds `configuration` exactly: every key of the effective defaults with its value (so the
    /// record does not depend on the built-in defaults of the build that reads it back), then the overrides.
    public init(_ configuration: AnomalyConfiguration) {
        var defaults: [String: Double] = [:]
        for key in DetectorSettings.keys {
            if let value = configuration.defaults.value(of: key) { defaults[key] = value }
        }
        self.init(defaults: defaults, metrics: configuration.overrides.map { override in
            MetricEntry(pattern: override.pattern.text, settings: Dictionary(override.assignments.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }))
        })
    }
}
