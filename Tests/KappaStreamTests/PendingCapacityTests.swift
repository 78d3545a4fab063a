import KappaCore
import KappaLog
@testable import KappaStream
import Testing

/// The pending output of the readings processors is given back at each commit rather than kept at the largest
/// batch's size: after a backlog's batches, a million series' gateway would otherwise hold tens of megabytes
/// it never fills again.
@Suite struct PendingCapacityTests {
    static func records(devices: Int) -> [LogRecord] {
        var records: [LogRecord] = []
        for device in 0..<devices {
            for metric in 0..<3 {
                let reading = Reading(
                    device: "device-\(device)", metric: "metric-\(metric)",
                    time: Timestamp(microsecondsSinceEpoch: 1_795_000_000_000_000 + Int64(device) * 1_000_000), value: Double(device + metric)
                )
                records.append(LogRecord(
                    offset: Int64(records.count), eventTime: reading.time, key: Array(reading.device.utf8)[...],
                    value: ReadingRecord.encode(reading)[...]
                ))
            }
        }
        return records
    }

    @Test func rollupsGiveTheirPendingCellsBackAtCommit() {
        let rollups = RollupProcessor(widths: [60, 3600, 86_400], partitionCount: 1, duplicateWindowRecords: 64)
        for record in Self.records(devices: 2_000) { rollups.apply(record, partition: 0) }
        #expect(rollups.pendingCellCount > 0)
        rollups.committed()
        #expect(rollups.cells.capacity == 0)
    }

    @Test func theArchiveGivesItsPendingRowsBackAtCommit() {
        var configuration = ProcessorConfiguration()
        configuration.archiveRetention = nil
        let archive = ArchiveProcessor(partitionCount: 1, duplicateWindowRecords: 64, settings: configuration.archive)
        for record in Self.records(devices: 2_000) { archive.apply(record, partition: 0) }
        #expect(!archive.rows.isEmpty)
        archive.committed()
        #expect(archive.rows.capacity == 0)
    }

    @Test func theDeviceRegistryGivesItsPendingDeltasBackAtCommit() {
        let devices = DeviceRegistryProcessor(partitionCount: 1, duplicateWindowRecords: 64, settings: ProcessorConfiguration().devices)
        for record in Self.records(devices: 2_000) { devices.apply(record, partition: 0) }
        #expect(!devices.metrics.isEmpty)
        devices.committed()
        #expect(devices.metrics.capacity == 0)
    }
}
