import Foundation
import KappaCore
import KappaLog
import Logging

/// Log recovery: a partition whose only segment holds the fuzzer's bytes is opened, read to the end and
/// appended to. Whatever the bytes, opening either fails with a `LogError` or recovers a log that reads
/// and appends; it never traps.
///
/// The input's first byte is a set of flags: bit 0 removes the segment's index (else it is kept, stale
/// for the new bytes); bit 1 patches the real segment of three valid batches instead of replacing it,
/// at the offset in the next two bytes (little-endian, modulo the segment's size), so the fuzzer reaches
/// valid batches and CRCs without a binary seed; bit 2 then cuts the segment at the end of the patch.
/// In memory where the machine has /dev/shm: each run copies a log directory, and disk I/O bounded the rate.
private let scratch: String = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()

private let pristine: String = {
    let directory = scratch + "kappa-fuzz-recovery-\(getpid())"
    try? FileManager.default.removeItem(atPath: directory)
    let log = try! DiskLog(directory: directory, configuration: fuzzConfiguration, logger: quietLogger)
    let stream = try! log.createStream(named: "s", partitionCount: 1)
    for batch in 0..<3 {
        _ = try! stream.append((0..<3).map { record in
            LogAppendRecord(key: "k", eventTime: Timestamp(nanosecondsSinceEpoch: Int64(batch * 3 + record)), value: [UInt8](repeating: UInt8(batch), count: 16))
        })
    }
    log.close()
    atexit { try? FileManager.default.removeItem(atPath: scratch + "kappa-fuzz-recovery-\(getpid())") }
    return directory
}()

private let fuzzConfiguration: DiskLogConfiguration = {
    var configuration = DiskLogConfiguration()
    configuration.fsync = .never
    configuration.diskFloorBytes = 0
    configuration.maxBatchBytes = 1 << 20
    return configuration
}()

private let quietLogger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }


nonisolated(unsafe) private var runs = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLogRecovery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    runs += 1
    let directory = pristine + "-run-\(runs)"
    let files = FileManager.default
    // libFuzzer's timeout alarm can interrupt the copy (EINTR), which Foundation does not retry: about once in
    // 500,000 runs that stopped the harness, not the log. Try again from scratch.
    var attempts = 0
    while (try? files.copyItem(atPath: pristine, toPath: directory)) == nil {
        attempts += 1
        precondition(attempts < 5, "cannot copy the pristine log to \(directory)")
        try? files.removeItem(atPath: directory)
    }
    let partition = directory + "/s/p0000"
    let names = try! files.contentsOfDirectory(atPath: partition)
    let segment = partition + "/" + names.first { $0.hasSuffix(".log") }!
    if data[0] & 1 == 1 {
        for index in names where index.hasSuffix(".index") { try? files.removeItem(atPath: partition + "/" + index) }
    }
    let flags = data[0]
    var contents = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if flags & 2 == 2 && contents.count >= 2 {
        var original = Array(try! Data(contentsOf: URL(fileURLWithPath: segment)))
        let at = (Int(contents[0]) | Int(contents[1]) << 8) % max(original.count, 1)
        let patch = contents[2...]
        let end = at + patch.count
        if end > original.count { original += [UInt8](repeating: 0, count: end - original.count) }
        original.replaceSubrange(at..<end, with: patch)
        if flags & 4 == 4 { original.removeSubrange(end...) }
        contents = original
    }
    try! Data(contents).write(to: URL(fileURLWithPath: segment))
    defer { try? files.removeItem(atPath: directory) }

    guard let log = try? DiskLog(directory: directory, configuration: fuzzConfiguration, logger: quietLogger) else { return 0 }
    defer { log.close() }
    guard let stream = try? log.openStream(named: "s") else { return 0 }
    let range = stream.offsets(partition: 0)
    precondition(range.start <= range.highWatermark, "recovered offsets run backwards")
    var offset = range.start
    while offset < range.highWatermark {
        guard let batch = try? stream.read(partition: 0, from: offset, limits: LogReadLimits(maxRecords: 1_000, maxBytes: 1 << 20)),
              !batch.records.isEmpty else { break }
        for record in batch.records { precondition(record.offset >= offset, "records read out of order") }
        offset = batch.nextOffset
    }
    if let position = try? stream.append(key: "k", eventTime: fuzzReceivedAt, value: [1, 2, 3]) {
        precondition(position.offset >= range.highWatermark, "an append reused an offset recovery had handed out")
    }
    return 0
}
