public import KappaCore
public import KappaLog

/// Reads the `sparkplug-lifecycle` stream for the device registry: which devices a birth brought online and
/// an accepted death took offline (decided by the bridge at intake, `bdSeq` checked, so no Sparkplug decoding
/// here). The newest change per device in log order wins; one device's changes are in one partition (the
/// stream is keyed by edge node), so that order is the order they happened in.
public final class DeviceStatusProcessor: StreamProcessor {
    /// A device's latest announced status since the last checkpoint.
    public struct Change: Sendable, Equatable {
        public var online: Bool
        /// When the bridge received the birth or death.
        public var changedAt: Timestamp
        public var partition: Int32
        public var offset: Int64
    }

    /// Per device, the newest change since the last checkpoint.
    public private(set) var changes: [String: Change] = [:]
    private var undecodable: Int64 = 0

    public init() {}

    public func resume(stream: any LogStream, offsets: [Int64]) async throws {}

    public func apply(_ record: LogRecord, partition: Int) {
        let decoded = record.value.withUnsafeBytes { bytes in
            Result { () throws(RecordDecodingError) -> SparkplugLifecycleEntry in try SparkplugLifecycleRecord.decode(bytes) }
        }
        guard case .success(let entry) = decoded else {
            undecodable += 1
            return
        }
        for (devices, online) in [(entry.offline, false), (entry.online, true)] {
            for device in devices {
                changes[device] = Change(online: online, changedAt: entry.receivedAt, partition: Int32(partition), offset: record.offset)
            }
        }
    }

    public var hasPendingOutput: Bool { !changes.isEmpty }

    public func committed() {
        changes.removeAll(keepingCapacity: true)
    }

    public var counters: ProcessorCounters { ProcessorCounters(undecodable: undecodable) }
}
