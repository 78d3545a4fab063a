// Append and replay throughput of the embedded log, each beside plain file I/O of the same bytes on the same
// disk in the same run. Run: swift run -c release LogBenchmark [directory]
import Dispatch
import BenchmarkSupport
import KappaCore
import KappaLog
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

let baseDirectory = CommandLine.arguments.dropFirst().first ?? "./.build/log-benchmark"
let logger = Logger(label: "kappa.log.benchmark", factory: { _ in SwiftLogNoOpLogHandler() })
let recordsPerBatch = 1000
let batchedRecords = 4_000_000
let singleRecords = 300_000

/// ~64-byte records as the log stores them: a 12-byte device id, an event time, a 48-byte value.
let keys = (0..<1000).map { Array("device-\(String(1000 + $0))".utf8) + [0] }
let values = (0..<1000).map { number in (0..<48).map { UInt8(truncatingIfNeeded: number &* 7 &+ $0) } }
let batches: [[LogAppendRecord]] = (0..<64).map { batch in
    (0..<recordsPerBatch).map { index in
        let number = batch * recordsPerBatch + index
        return LogAppendRecord(key: keys[number % keys.count], eventTime: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + Int64(number)), value: values[number % values.count])
    }
}

func fresh(_ name: String) -> String {
    let path = "\(baseDirectory)/\(name)"
    removeTree(path)
    _ = mkdir(baseDirectory, 0o755)
    return path
}

func removeTree(_ path: String) {
    _ = system("rm -rf '\(path)'")
}

func directoryBytes(_ path: String) -> Int64 {
    var total: Int64 = 0
    for file in logFiles(path) {
        var info = stat()
        if stat(file, &info) == 0 { total += Int64(info.st_size) }
    }
    return total
}

/// The segment files under a log directory.
func logFiles(_ path: String) -> [String] {
    var files: [String] = []
    func walk(_ directory: String) {
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let full = "\(directory)/\(name)"
            if entry.pointee.d_type == UInt8(DT_DIR) { walk(full) } else if name.hasSuffix(".log") { files.append(full) }
        }
    }
    walk(path)
    return files.sorted()
}

struct AppendFigure {
    var records: Int
    var bytes: Int64
    var duration: Duration
    var recordsPerSecond: Double { Double(records) / seconds(duration) }
    var megabytesPerSecond: Double { Double(bytes) / 1e6 / seconds(duration) }
}

func appendRun(name: String, writers: Int, partitions: Int, records: Int, batched: Bool) throws -> AppendFigure {
    let path = fresh(name)
    var configuration = DiskLogConfiguration()
    configuration.fsync = .default
    configuration.diskFloorBytes = 0
    let log = try DiskLog(directory: path, configuration: configuration, logger: logger)
    let stream = try log.createStream(named: "readings", partitionCount: partitions)
    let perWriter = records / writers
    let clock = ContinuousClock()
    let start = clock.now
    DispatchQueue.concurrentPerform(iterations: writers) { writer in
        do {
            if batched {
                for number in 0..<(perWriter / recordsPerBatch) {
                    _ = try stream.append(batches[(number * writers + writer) % batches.count])
                }
            } else {
                for number in 0..<perWriter {
                    let record = batches[number % batches.count][(number + writer) % recordsPerBatch]
                    _ = try stream.append(key: record.key, eventTime: record.eventTime, value: record.value)
                }
            }
        } catch {
            fatalError("append failed: \(error)")
        }
    }
    log.close()
    let duration = clock.now - start
    return AppendFigure(records: perWriter * writers, bytes: directoryBytes(path), duration: duration)
}

/// The comparator: the same number of bytes written sequentially with write(2) in chunks of `chunkSize`, synced once.
func plainWrite(name: String, bytes: Int64, chunkSize: Int) -> Duration {
    let path = fresh(name)
    _ = mkdir(path, 0o755)
    let descriptor = open("\(path)/plain.bin", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(descriptor >= 0, "open failed")
    let chunk = [UInt8](repeating: 0x5A, count: chunkSize)
    let clock = ContinuousClock()
    let start = clock.now
    var written: Int64 = 0
    chunk.withUnsafeBytes { buffer in
        while written < bytes {
            let count = write(descriptor, buffer.baseAddress, min(chunkSize, Int(bytes - written)))
            precondition(count > 0, "write failed")
            written += Int64(count)
        }
    }
    fdatasync(descriptor)
    close(descriptor)
    return clock.now - start
}

func replay(_ path: String) throws -> (records: Int, duration: Duration) {
    var configuration = DiskLogConfiguration()
    configuration.readOnly = true
    let log = try DiskLog(directory: path, configuration: configuration, logger: logger)
    defer { log.close() }
    let stream = try log.openStream(named: "readings")
    let clock = ContinuousClock()
    let start = clock.now
    var records = 0
    var checksum = 0
    for partition in 0..<stream.partitionCount {
        var offset = stream.offsets(partition: partition).start
        while true {
            let result = try stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 20_000, maxBytes: 2 << 20))
            if result.records.isEmpty { break }
            records += result.records.count
            checksum &+= result.records.reduce(0) { $0 &+ Int($1.value.first ?? 0) }
            offset = result.nextOffset
        }
    }
    let duration = clock.now - start
    precondition(checksum != -1)
    return (records, duration)
}

/// The comparator: the same segment files read sequentially in 2 MiB chunks.
func plainRead(_ path: String) -> (bytes: Int64, duration: Duration) {
    var buffer = [UInt8](repeating: 0, count: 2 << 20)
    let clock = ContinuousClock()
    let start = clock.now
    var total: Int64 = 0
    for file in logFiles(path) {
        let descriptor = open(file, O_RDONLY)
        buffer.withUnsafeMutableBytes { raw in
            while true {
                let count = read(descriptor, raw.baseAddress, raw.count)
                if count <= 0 { break }
                total += Int64(count)
            }
        }
        close(descriptor)
    }
    return (total, clock.now - start)
}

func format(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return "\(rounded)"
}

print("LogBenchmark: ~64-byte records, fsync=interval (100 ms), directory \(baseDirectory)")
print("")
for (writers, partitions) in [(1, 1), (4, 4)] {
    let name = "append-\(writers)w"
    let figure = try appendRun(name: name, writers: writers, partitions: partitions, records: batchedRecords, batched: true)
    let averageBatchBytes = Int(figure.bytes / Int64(figure.records / recordsPerBatch))
    let plain = plainWrite(name: "plain-\(writers)w", bytes: figure.bytes, chunkSize: averageBatchBytes)
    let plainMegabytesPerSecond = Double(figure.bytes) / 1e6 / seconds(plain)
    print("append, \(writers) writer(s), \(partitions) partition(s), batches of \(recordsPerBatch): \(format(figure.recordsPerSecond / 1e6)) M records/s, \(format(figure.megabytesPerSecond)) MB/s (\(figure.bytes) bytes, \(format(Double(figure.bytes) / Double(figure.records))) bytes/record)")
    print("  plain write(2) of the same bytes in \(averageBatchBytes)-byte chunks: \(format(plainMegabytesPerSecond)) MB/s; ratio log/plain = \(format(figure.megabytesPerSecond / plainMegabytesPerSecond))")
    if writers == 1 {
        let read = plainRead("\(baseDirectory)/\(name)")
        let replayed = try replay("\(baseDirectory)/\(name)")
        let replayRate = Double(replayed.records) / seconds(replayed.duration)
        let plainRate = Double(read.bytes) / 1e6 / seconds(read.duration)
        let replayBytesRate = Double(read.bytes) / 1e6 / seconds(replayed.duration)
        print("replay, 1 reader (page cache warm): \(format(replayRate / 1e6)) M records/s, \(format(replayBytesRate)) MB/s")
        print("  plain read(2) of the same files: \(format(plainRate)) MB/s; ratio replay/plain = \(format(replayBytesRate / plainRate))")
    }
    removeTree("\(baseDirectory)/plain-\(writers)w")
}
let single = try appendRun(name: "append-single", writers: 1, partitions: 1, records: singleRecords, batched: false)
let plainSingle = plainWrite(name: "plain-single", bytes: single.bytes, chunkSize: Int(single.bytes / Int64(single.records)))
let plainSingleRate = Double(single.bytes) / 1e6 / seconds(plainSingle)
print("append, 1 writer, one record per call: \(format(single.recordsPerSecond / 1e6)) M records/s, \(format(single.megabytesPerSecond)) MB/s")
print("  plain write(2) of the same bytes, one record per call: \(format(plainSingleRate)) MB/s; ratio log/plain = \(format(single.megabytesPerSecond / plainSingleRate))")
removeTree(baseDirectory)
