/// What shapes the rollup processor's output.
public struct RollupSettings: Sendable, Hashable {
    /// Bucket widths in seconds (the views cover 60, 3600 and 86400).
    public var widths: [Int64]

    public init(widths: [Int64] = [60, 3600, 86_400]) {
        self.widths = widths
    }
}
