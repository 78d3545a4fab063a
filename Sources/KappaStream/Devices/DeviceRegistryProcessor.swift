public import KappaCore
public import KappaLog

/// The registry of devices and their metrics: first and last seen (event time), readings counted once, the
/// last value, and the device's tags (from its newest reading).
///
/// Checkpoints merge the changes since the last one into the stored rows (counts add, first is the least,
/// last the greatest; ties in time go to the later reading in the log), inside the offsets' transaction.
/// Every merge here is exact, so a crashed and resumed run ends identical to an uninterrupted one.
public final class DeviceRegistryProcessor: StreamProcessor {
    /// What changed for one series since the last checkpoint (times in µs).
    public struct MetricDelta: Sendable {
        public internal(set) var firstSeen: Int64
        public internal(set) var lastSeen: Int64
        public internal(set) var readings: Int64
        public internal(set) var lastValue: Double

        mutating func add(time: Int64, value: Double) {
            readings += 1
            firstSeen = min(firstSeen, time)
            if time >= lastSeen {
                lastSeen = time
                lastValue = value
            }
        }
    }

    /// What changed for one device since the last checkpoint (times in µs).
    public struct DeviceDelta: Sendable {
        public internal(set) var firstSeen: Int64
        public internal(set) var lastSeen: Int64
        public internal(set) var readings: Int64
        public internal(set) var tags: [Tag]

        mutating func add(time: Int64, tags: [Tag]) {
            readings += 1
            firstSeen = min(firstSeen, time)
            if time >= lastSeen {
                lastSeen = time
                self.tags = tags
            }
        }
    }

    private var intake: ReadingIntake
    /// Per series number (see ``seriesNames``), the changes since the last checkpoint.
    public private(set) var metrics: [UInt32: MetricDelta] = [:]
    /// Per device, the changes since the last checkpoint.
    public private(set) var devices: [String: DeviceDelta] = [:]
    public let settings: DeviceRegistrySettings
    /// The tables' sizes at the last checkpoint, reserved when the next batch starts (as ``RollupProcessor`` does).
    private var previousBatch = (metrics: 0, devices: 0)

    public init(partitionCount: Int, duplicateWindowRecords: Int, settings: DeviceRegistrySettings, memory: SeriesMemory = SeriesMemory()) {
        intake = ReadingIntake(partitionCount: partitionCount, windowRecords: duplicateWindowRecords, memory: memory)
        self.settings = settings
    }

    deinit {
        intake.releaseAll()
    }

    /// The names behind series numbers.
    public var seriesNames: SeriesRegistry { intake.series }

    public func resume(stream: any LogStream, offsets: [Int64]) async throws {
        try await intake.rebuild(stream: stream, resumeOffsets: offsets)
    }

    public func apply(_ record: LogRecord, partition: Int) {
        guard let (series, reading) = intake.accept(record, partition: partition) else { return }
        let time = reading.time.microsecondsSinceEpoch
        if metrics.isEmpty, previousBatch.metrics > 0 {
            metrics.reserveCapacity(previousBatch.metrics)
            devices.reserveCapacity(previousBatch.devices)
            previousBatch = (0, 0)
        }
        // One lookup each, updated in place (a new entry starts with no readings, at this reading's time).
        metrics[series, default: MetricDelta(firstSeen: time, lastSeen: time, readings: 0, lastValue: reading.value)]
            .add(time: time, value: reading.value)
        devices[reading.device, default: DeviceDelta(firstSeen: time, lastSeen: time, readings: 0, tags: reading.tags)]
            .add(time: time, tags: reading.tags)
    }

    public var hasPendingOutput: Bool { !metrics.isEmpty }

    public func committed() {
        // Given back rather than kept at the largest batch's size (see RollupProcessor.committed()).
        previousBatch = (metrics.count, devices.count)
        metrics = [:]
        devices = [:]
        // Everything is committed: nothing of an idle series is kept beyond the intake's.
        intake.release(intake.idleSeries(now: .now))
    }

    public var counters: ProcessorCounters {
        ProcessorCounters(duplicates: intake.duplicates, undecodable: intake.undecodable)
    }
}
