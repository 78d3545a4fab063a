/// What each processor owns in the schema: the base names of its versioned tables (`rollups` stands for
/// `rollups_v1`, `rollups_v2`, …) and the user-facing views that read them.
///
/// ``OutputVersions`` derives everything else from the database itself: a new version's tables are made
/// `LIKE` the active version's (same columns, keys, indexes and partitioning), and activation rewrites each
/// view's current definition to name the new tables. So a processor that adds tables in a migration only
/// adds its entry here; no DDL is written twice.
public struct ProcessorOutputs: Sendable, Hashable {
    public var processor: String
    public var tables: [String]
    public var views: [String]

    public init(processor: String, tables: [String], views: [String]) {
        self.processor = processor
        self.tables = tables
        self.views = views
    }

    /// The processors whose outputs are versioned.
    public static let all: [ProcessorOutputs] = [
        ProcessorOutputs(processor: "rollups", tables: ["rollups", "rollup_series"], views: ["rollups_1m", "rollups_1h", "rollups_1d"]),
        ProcessorOutputs(processor: "devices", tables: ["devices", "device_metrics"], views: ["devices", "device_metrics", "latest"]),
        ProcessorOutputs(processor: "archive", tables: ["readings"], views: ["readings"]),
        ProcessorOutputs(processor: "dead-letters", tables: ["dead_letters"], views: ["dead_letters"]),
        ProcessorOutputs(processor: "anomalies", tables: ["anomalies", "anomaly_state"], views: ["anomalies", "open_anomalies"]),
    ]

    public static func named(_ processor: String) -> ProcessorOutputs? {
        all.first { $0.processor == processor }
    }

    /// The table `base` of `version`, e.g. `rollups_v2`.
    public static func tableName(_ base: String, version: String) -> String {
        "\(base)_\(version)"
    }
}
