import Foundation
import KappaCore
import Logging
@testable import KappaLog

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "kappa-log-test-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: created)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

let quietLogger = Logger(label: "kappa.log.tests", factory: { _ in SwiftLogNoOpLogHandler() })

func testConfiguration(
    segmentMaxBytes: Int64 = 128 << 20,
    fsync: FsyncPolicy = .never,
    diskFloorBytes: Int64 = 0
) -> DiskLogConfiguration {
    var configuration = DiskLogConfiguration()
    configuration.segmentMaxBytes = segmentMaxBytes
    configuration.fsync = fsync
    configuration.diskFloorBytes = diskFloorBytes
    configuration.indexIntervalBytes = 256
    return configuration
}

/// A value that says which record it is, so a read-back can be checked record by record.
func testValue(_ number: Int) -> [UInt8] {
    Array("value-\(number)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: number), count: number % 50)
}

func testTime(_ number: Int) -> Timestamp {
    Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + Int64(number))
}

/// Reads all of a partition from its start.
func readAll(_ stream: DiskStream, partition: Int, from start: Int64? = nil) throws -> [LogRecord] {
    var offset = start ?? stream.offsets(partition: partition).start
    var records: [LogRecord] = []
    while true {
        let result = try stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 1000, maxBytes: 64 << 10))
        if result.records.isEmpty { return records }
        records += result.records
        offset = result.nextOffset
    }
}

func segmentFiles(_ directory: String, stream: String, partition: Int) throws -> [String] {
    let partitionDirectory = "\(directory)/\(stream)/\(DiskLog.partitionDirectoryName(partition))"
    return try FileManager.default.contentsOfDirectory(atPath: partitionDirectory)
        .filter { $0.hasSuffix(".log") }.sorted().map { "\(partitionDirectory)/\($0)" }
}
