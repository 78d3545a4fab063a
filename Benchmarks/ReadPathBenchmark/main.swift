// The processors' read path on HeadlineBenchmark's load, one core, no database: 20 devices × 15,000 readings
// appended as the bridge appends them (bursts of messages, one reading each, every record with its delivery),
// read back as the live tail is: after every `--messages-per-pass` messages appended, each of the four readings
// processors reads every partition up to its end (as the runner does after its 25 ms pause), in the same run:
//   read    each reader reads every record (framing and checksum checks included)
//   decode  read + ReadingRecord.decode of every record
//   apply   read + the processors' own apply (decode, series numbering, duplicate windows, state), sharing one
//           series registry as in `kappa run`
// Reading time is printed beside the same run's appending of the same records (the bridge's side), as a ratio.
//
// Synchronous on purpose, so `valgrind --tool=callgrind` can count its instructions; a stage's own count is
// its run's minus that of `--stage append` (appends alone):
//   swift build -c release --product ReadPathBenchmark
//   .build/release/ReadPathBenchmark [--readings-per-device 15000] [--readers 4] [--messages-per-pass 1000] [--stage apply]
//   valgrind --tool=callgrind .build/release/ReadPathBenchmark --stage decode
import BenchmarkSupport
import KappaCore
import KappaLog
import KappaStream
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

let devices = 20
let readingsPerDevice = Int(option("--readings-per-device") ?? "") ?? 15_000
let readerCount = Int(option("--readers") ?? "") ?? 4
let messagesPerPass = Int(option("--messages-per-pass") ?? "") ?? 1000
let messagesPerBurst = Int(option("--burst") ?? "") ?? 20
let stage = option("--stage") ?? "apply"
let partitions = KappaStreams.defaultReadingPartitions
let logger = Logger(label: "kappa.readpath.benchmark", factory: { _ in SwiftLogNoOpLogHandler() })

var template = "/tmp/kappa-readpath-XXXXXX".utf8CString
guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { fatalError("mkdtemp failed") }
let directory = String(cString: made)
defer { _ = system("rm -rf '\(directory)'") }

var configuration = DiskLogConfiguration()
configuration.diskFloorBytes = 0
let log = try DiskLog(directory: directory, configuration: configuration, logger: logger)
let stream = try log.createStream(named: KappaStreams.readings, partitionCount: partitions)
let clock = ContinuousClock()
let start = Int64(1_795_000_000_000)
let total = devices * readingsPerDevice
let keys = (1...devices).map { ReadingLogEntry.key(ofDevice: "dev\($0)") }

/// The bridge: one reading per message, messages of all devices interleaved, a burst appended at once.
func appendMessages(_ messages: Range<Int>) {
    var burst: [LogAppendRecord] = []
    burst.reserveCapacity(messagesPerBurst)
    for message in messages {
        let device = message % devices
        let index = message / devices
        let reading = Reading(device: "dev\(device + 1)", metric: "v", time: Timestamp(millisecondsSinceEpoch: start + Int64(index) * 1000), value: Double(index))
        let delivery = MessageDelivery(sequence: UInt64(message), packetID: UInt16(truncatingIfNeeded: message % 65_535 + 1), fingerprint: UInt32(truncatingIfNeeded: message &* 2_654_435_761), session: 7)
        burst.append(LogAppendRecord(ReadingLogEntry(reading, key: keys[device], delivery: delivery)))
        if burst.count == messagesPerBurst || message == messages.upperBound - 1 {
            do { _ = try stream.append(burst) } catch { fatalError("append failed: \(error)") }
            burst.removeAll(keepingCapacity: true)
        }
    }
}

/// One reader's pass: every partition read from its offset to the end, as the runner reads.
func readPass(offsets: inout [Int64], _ body: (LogRecord, Int) -> Void) -> Int {
    var records = 0
    for partition in 0..<partitions {
        while true {
            let result: LogReadResult
            do { result = try stream.read(partition: partition, from: offsets[partition], limits: LogReadLimits()) } catch { fatalError("read failed: \(error)") }
            if result.records.isEmpty { break }
            for record in result.records { body(record, partition) }
            records += result.records.count
            offsets[partition] = result.nextOffset
        }
    }
    return records
}

/// Appends everything in passes; after each, every reader reads what is new. Returns appending and reading time.
func run(readers: [(LogRecord, Int) -> Void]) -> (append: Duration, read: Duration) {
    var offsets = [[Int64]](repeating: [Int64](repeating: 0, count: partitions), count: readers.count)
    var appendTime = Duration.zero
    var readTime = Duration.zero
    var records = 0
    var message = 0
    while message < total {
        let pass = message..<min(total, message + messagesPerPass)
        appendTime += clock.measure { appendMessages(pass) }
        readTime += clock.measure {
            for reader in readers.indices { records += readPass(offsets: &offsets[reader], readers[reader]) }
        }
        message = pass.upperBound
    }
    precondition(records == total * readers.count, "read \(records) records, expected \(total * readers.count)")
    return (appendTime, readTime)
}

print("ReadPathBenchmark: \(total) readings (\(devices) devices), \(partitions) partitions, \(readerCount) readers reading after every \(messagesPerPass) messages, stage \(stage)")
var checksum = 0.0
let readers: [(LogRecord, Int) -> Void]
switch stage {
case "append":
    readers = []
case "read":
    readers = (0..<readerCount).map { _ in { record, _ in checksum += Double(record.value.count) } }
case "decode":
    readers = (0..<readerCount).map { _ in
        { record, _ in
            if let reading = try? record.value.withUnsafeBytes({ try ReadingRecord.decode($0) }) { checksum += reading.value }
        }
    }
default:
    let memory = SeriesMemory(registry: SeriesRegistry())
    let processors: [any StreamProcessor] = [
        RollupProcessor(widths: [60, 3600, 86_400], partitionCount: partitions, duplicateWindowRecords: 4096, memory: memory),
        AnomalyProcessor(partitionCount: partitions, duplicateWindowRecords: 4096, settings: AnomalyConfiguration(), alertSink: nil, memory: memory),
        DeviceRegistryProcessor(partitionCount: partitions, duplicateWindowRecords: 4096, settings: DeviceRegistrySettings(), memory: memory),
        ArchiveProcessor(partitionCount: partitions, duplicateWindowRecords: 4096, settings: ArchiveSettings(), memory: memory),
    ]
    readers = (0..<readerCount).map { number in
        let processor = processors[number % processors.count]
        return { record, partition in processor.apply(record, partition: partition) }
    }
}
let (appendTime, readTime) = run(readers: readers)
let nanoseconds = { (duration: Duration) in Int(seconds(duration) / Double(total) * 1e9) }
print("append (the bridge's side): \(nanoseconds(appendTime)) ns per reading")
if !readers.isEmpty {
    print("\(stage), \(readers.count) readers: \(nanoseconds(readTime)) ns per reading over all readers; ratio to append \(seconds(readTime) / seconds(appendTime))")
}
print("checksum \(checksum)")
log.close()
