/// What each processor owns in the schema: the base names of its versioned tables (`rollups` stands for
/// `rollups_v1`, `rollups_v2`, …) and the user-facing views that read them.
///
/// ``OutputVersions`` derives everything else from the database itself: a new version's tables are made
/// `LIKE` the active version's (same columns, keys, indexes and partitioning), and activation rewrites each
/// view's current definition to name the new tables. So a processor that adds tables in a migration only
/// names them in its ``ProcessorDescriptor``; no DDL is written twice.
public struct ProcessorOutputs: Sendable, Hashable {
    public var processor: String
    public var tables: [String]
    public var views: [String]

    public init(processor: String, tables: [String], views: [String]) {
        self.processor = processor
        self.tables = tables
        self.views = views
    }

    /// The processors whose outputs are versioned: those of ``ProcessorCatalog``.
    public static var all: [ProcessorOutputs] { ProcessorCatalog.builtIn.map(\.outputs) }

    public static func named(_ processor: String) -> ProcessorOutputs? {
        all.first { $0.processor == processor }
    }

    /// The table `base` of `version`, e.g. `rollups_v2`.
    public static func tableName(_ base: String, version: String) -> String {
        "\(base)_\(version)"
    }
}
