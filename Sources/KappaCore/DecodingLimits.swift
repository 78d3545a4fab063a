/// Bounds that keep decoding cheap and reject implausible input.
public struct DecodingLimits: Hashable, Sendable {
    /// Longer payloads are rejected whole with `oversized_payload`.
    public var maxPayloadBytes: Int
    /// Readings timed further than this after the receive time are rejected (`timestamp_out_of_range`).
    public var maxFutureNanoseconds: Int64
    /// Readings timed further than this before the receive time are rejected (`timestamp_out_of_range`).
    public var maxPastNanoseconds: Int64
    /// Objects and arrays nested deeper than this make the message `nesting_too_deep`; this also bounds
    /// the parser's recursion, so hostile input cannot exhaust the stack.
    public var maxNestingDepth: Int
    /// Bounds on device ids, metric names and tags (`invalid_device`, `invalid_metric`, `invalid_tag`).
    public var names: NameLimits

    public init(
        maxPayloadBytes: Int = 256 * 1024,
        maxFutureNanoseconds: Int64 = 86_400 * 1_000_000_000,
        maxPastNanoseconds: Int64 = 365 * 86_400 * 1_000_000_000,
        maxNestingDepth: Int = 16,
        names: NameLimits = .default
    ) {
        self.maxPayloadBytes = maxPayloadBytes
        self.maxFutureNanoseconds = maxFutureNanoseconds
        self.maxPastNanoseconds = maxPastNanoseconds
        self.maxNestingDepth = maxNestingDepth
        self.names = names
    }

    /// 256 KiB payloads, from one year in the past to one day in the future, 16 levels of nesting, and
    /// `NameLimits.default`.
    public static let `default` = DecodingLimits()

    /// Whether `time` lies within the accepted window around `receivedAt`.
    @inlinable
    public func accepts(_ time: Timestamp, receivedAt: Timestamp) -> Bool {
        let (earliest, underflow) = receivedAt.nanosecondsSinceEpoch.subtractingReportingOverflow(maxPastNanoseconds)
        let (latest, overflow) = receivedAt.nanosecondsSinceEpoch.addingReportingOverflow(maxFutureNanoseconds)
        let value = time.nanosecondsSinceEpoch
        return (underflow || value >= earliest) && (overflow || value <= latest)
    }
}

extension DecodingLimits {
    /// Gives `readings[first...]` (one object's or line's readings, appended with the receive time) the
    /// event time `time`, or removes them all where `time` is outside the accepted window.
    /// Returns how many were removed.
    func stamp(_ readings: inout [Reading], from first: Int, with time: Timestamp, receivedAt: Timestamp) -> Int {
        guard accepts(time, receivedAt: receivedAt) else {
            let removed = readings.count - first
            readings.removeSubrange(first...)
            return removed
        }
        for position in first..<readings.count {
            readings[position].time = time
            readings[position].timeSource = .device
        }
        return 0
    }
}
