import KappaCore

extension Timestamp {
    /// Sparkplug's unsigned milliseconds since the epoch. Values past what 64-bit nanoseconds hold (the year
    /// 2262) are held at that limit, so the intake's window around the receive time refuses them as it
    /// refuses any far-future device time.
    init(sparkplugMilliseconds milliseconds: UInt64) {
        self.init(millisecondsSinceEpoch: Int64(min(milliseconds, UInt64(Int64.max / 1_000_000))))
    }
}
