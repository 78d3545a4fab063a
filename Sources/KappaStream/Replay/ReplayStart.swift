public import KappaCore
public import KappaLog

/// Where a replay starts reading each partition: the oldest record kept, the first record at or after an
/// event time, or an offset (the same number in every partition, clamped to what the partition holds).
public enum ReplayStart: Sendable, Hashable, CustomStringConvertible {
    case earliest
    case time(Timestamp)
    case offset(Int64)

    /// `earliest`, an RFC 3339 time, or a non-negative offset.
    public init?(argument: String) {
        if argument == "earliest" {
            self = .earliest
        } else if let offset = Int64(argument), offset >= 0 {
            self = .offset(offset)
        } else if let time = Timestamp(rfc3339: argument) {
            self = .time(time)
        } else {
            return nil
        }
    }

    public func offset(in stream: some LogStream, partition: Int) throws(LogError) -> Int64 {
        let range = stream.offsets(partition: partition)
        switch self {
        case .earliest: return range.start
        case .time(let time): return try stream.offset(partition: partition, atOrAfter: time)
        case .offset(let offset): return min(max(offset, range.start), range.highWatermark)
        }
    }

    public var description: String {
        switch self {
        case .earliest: "earliest"
        case .time(let time): "\(time)"
        case .offset(let offset): "offset \(offset)"
        }
    }
}
