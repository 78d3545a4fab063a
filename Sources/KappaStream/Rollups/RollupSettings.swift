/// What shapes the rollup processor's output.
public struct RollupSettings: Sendable, Hashable {
    /// Bucket widths in seconds, each once; each has its view (`rollups_1m`, `rollups_5m`, …).
    public var widths: [Int64]

    public init(widths: [Int64] = [60, 3600, 86_400]) {
        self.widths = widths
    }
}
