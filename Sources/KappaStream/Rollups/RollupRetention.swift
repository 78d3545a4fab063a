/// How long the rollups of each bucket width are kept (by the gateway, dropping whole partitions).
///
/// Widths without an explicit entry keep the defaults by size: under an hour 30 days, under a day 400 days,
/// a day or wider forever. So `1m=7d` shortens the minutes and leaves 1h and 1d as they were.
public struct RollupRetention: Sendable, Hashable {
    /// Width in seconds → how long its buckets are kept; a nil value keeps them forever.
    public var explicit: [Int64: Duration?]

    public init(_ explicit: [Int64: Duration?] = [:]) {
        self.explicit = explicit
    }

    /// How long buckets of `width` (seconds) are kept; nil keeps them forever.
    public func retention(ofWidth width: Int64) -> Duration? {
        if let set = explicit[width] { return set }
        return Self.defaultRetention(ofWidth: width)
    }

    public static func defaultRetention(ofWidth width: Int64) -> Duration? {
        if width < 3600 { return .seconds(30 * 86_400) }
        if width < 86_400 { return .seconds(400 * 86_400) }
        return nil
    }
}
