/// What shapes the raw archive.
public struct ArchiveSettings: Sendable, Hashable {
    /// Raw readings older than this are not archived, and their day partitions are dropped; nil keeps all.
    public var retention: Duration?
    /// Day partitions created ahead of today.
    public var daysAhead: Int

    public init(retention: Duration? = .seconds(30 * 86_400), daysAhead: Int = 3) {
        self.retention = retention
        self.daysAhead = daysAhead
    }
}
