/// How far a replay has come, sampled from its committed offsets and the log's high watermarks.
public struct ReplayProgress: Sendable, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int
        /// The next offset the replay will commit from.
        public var committed: Int64
        public var highWatermark: Int64
        public var lag: Int64 { max(0, highWatermark - committed) }

        public init(partition: Int, committed: Int64, highWatermark: Int64) {
            self.partition = partition
            self.committed = committed
            self.highWatermark = highWatermark
        }
    }

    public var partitions: [Partition]
    /// Records committed per second since the previous sample.
    public var recordsPerSecond: Double
    /// Every partition has committed what the log held at the previous sample (or at the start).
    public var isCaughtUp: Bool

    public init(partitions: [Partition], recordsPerSecond: Double, isCaughtUp: Bool) {
        self.partitions = partitions
        self.recordsPerSecond = recordsPerSecond
        self.isCaughtUp = isCaughtUp
    }

    public var lag: Int64 { partitions.reduce(0) { $0 + $1.lag } }
    public var committed: Int64 { partitions.reduce(0) { $0 + $1.committed } }

    /// At the current rate; nil while nothing moves.
    public var estimatedSecondsLeft: Double? {
        recordsPerSecond > 0 ? Double(lag) / recordsPerSecond : nil
    }
}
