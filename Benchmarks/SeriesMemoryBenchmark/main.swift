// Heap bytes per active series of `kappa run`'s readings processors (rollups, devices, archive, anomalies) over
// one shared SeriesRegistry, as the gateway builds them, with nothing else in the process: no broker, log files
// or database. ScaleBenchmark's load (SyntheticFleet: devices × 10 metrics, one JSON message per device per
// round, 3 rounds) is decoded as the bridge decodes it, partitioned as the log partitions it, and fed to each
// processor in turn in checkpoint-sized batches; after each batch the checkpoint's commit is simulated (what
// the writers read, then `committed()`), so what is left is what a gateway keeps between checkpoints.
//
// Deterministic: heap in use (glibc mallinfo2: arena + mmapped bytes) does not depend on the machine's load.
// Each size runs in a process of its own, so sizes do not inherit each other's freed memory.
//   swift build -c release --product SeriesMemoryBenchmark
//   .build/release/SeriesMemoryBenchmark [10k 100k 1M] [--batch 50000] [--rounds 3]
import BenchmarkSupport
import CMalloc
import Foundation
import KappaCore
import KappaLog
import KappaStream

let batchRecords = Int(option("--batch") ?? "") ?? ProcessorConfiguration().maxBatchRecords
let roundCount = Int(option("--rounds") ?? "") ?? 3

/// Heap bytes in use: small blocks in the arenas plus blocks glibc mmapped on their own.
func heapInUse() -> Int {
    let info = mallinfo2()
    return Int(info.uordblks) + Int(info.hblkhd)
}

/// The process's resident set, from /proc (kB there).
func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
    return 0
}

/// The fleet's records in log order: round by round, each device's message decoded into its ten readings,
/// each reading a record of its device's partition. Made again for each processor, so the benchmark holds
/// no more than one batch.
struct FleetLog {
    let fleet: SyntheticFleet
    let partitions: Int
    let decoder = PayloadDecoder()
    let deviceNames: [String]
    let deviceKeys: [[UInt8]]
    let devicePartitions: [Int]

    init(series: Int, rounds: Int, partitions: Int) {
        fleet = SyntheticFleet(devices: series / SyntheticFleet.metrics.count, rounds: rounds, topicPrefix: "scale", now: Timestamp(nanosecondsSinceEpoch: 1_795_000_000_000_000_000))
        self.partitions = partitions
        deviceNames = (0..<fleet.devices).map { SyntheticFleet.deviceName($0) }
        deviceKeys = deviceNames.map { ReadingLogEntry.key(ofDevice: $0) }
        devicePartitions = deviceKeys.map { StableHash.partition(forKey: $0, partitionCount: partitions) }
    }

    /// Calls `apply` with each record and its partition in log order, and `checkpoint` after every
    /// `batchRecords` records and at the end.
    func feed(_ apply: (LogRecord, Int) -> Void, checkpoint: () -> Void) {
        var offsets = [Int64](repeating: 0, count: partitions)
        var readings: [Reading] = []
        var problems: [DecodeProblem] = []
        var sinceCheckpoint = 0
        for round in 0..<fleet.rounds {
            for device in 0..<fleet.devices {
                readings.removeAll(keepingCapacity: true)
                let payload = fleet.payload(device: device, round: round)
                payload.withUnsafeBytes { bytes in
                    decoder.decode(
                        match: TopicMatch(format: .json, device: deviceNames[device]), payload: bytes,
                        receivedAt: Timestamp(nanosecondsSinceEpoch: fleet.firstTime * 1_000_000), into: &readings, problems: &problems
                    )
                }
                let partition = devicePartitions[device]
                for reading in readings {
                    let entry = ReadingLogEntry(reading, key: deviceKeys[device])
                    apply(LogRecord(offset: offsets[partition], eventTime: entry.eventTime, key: entry.key[...], value: entry.value[...]), partition)
                    offsets[partition] += 1
                    sinceCheckpoint += 1
                    if sinceCheckpoint == batchRecords {
                        checkpoint()
                        sinceCheckpoint = 0
                    }
                }
            }
        }
        precondition(problems.isEmpty, "the fleet's payloads decode: \(problems)")
        if sinceCheckpoint > 0 { checkpoint() }
    }
}

/// One processor's part: heap and RSS before it took any series, at its largest batch, and after its last commit.
struct Stage {
    var name: String
    var heapAfter = 0
    var heapPeak = 0
    var rssAfter = 0
    var seconds = 0.0
    var checkpointSeconds = 0.0
    var extra = ""
}

func measure(_ name: String, log: FleetLog, apply: (LogRecord, Int) -> Void, checkpoint: () -> Void) -> Stage {
    var stage = Stage(name: name)
    let before = heapInUse()
    var peak = before
    var checkpointTime = Duration.zero
    let clock = ContinuousClock()
    let started = clock.now
    log.feed(apply) {
        peak = max(peak, heapInUse())
        checkpointTime += clock.measure(checkpoint)
    }
    stage.seconds = seconds(clock.now - started)
    stage.checkpointSeconds = seconds(checkpointTime)
    stage.heapAfter = heapInUse() - before
    stage.heapPeak = peak - before
    stage.rssAfter = residentBytes()
    return stage
}

func runSize(_ series: Int) {
    let configuration = ProcessorConfiguration()
    let partitions = KappaStreams.defaultReadingPartitions
    let window = configuration.duplicateWindowRecords
    let memory = configuration.seriesMemory
    let log = FleetLog(series: series, rounds: roundCount, partitions: partitions)
    let heapBase = heapInUse()
    let rssBase = residentBytes()
    var stages: [Stage] = []

    // The archive twice: the first one's series are new to the registry, so the registry's entries are in its
    // figure; the second's (the same records, the same registry) are its own alone. Their difference is the registry.
    let archive = ArchiveProcessor(partitionCount: partitions, duplicateWindowRecords: window, settings: configuration.archive, memory: memory)
    stages.append(measure("archive + registry", log: log, apply: archive.apply) { archive.committed() })
    var secondArchive: ArchiveProcessor? = ArchiveProcessor(partitionCount: partitions, duplicateWindowRecords: window, settings: configuration.archive, memory: memory)
    stages.append(measure("archive", log: log, apply: secondArchive!.apply) { secondArchive!.committed() })
    let devices = DeviceRegistryProcessor(partitionCount: partitions, duplicateWindowRecords: window, settings: configuration.devices, memory: memory)
    stages.append(measure("devices", log: log, apply: devices.apply) { devices.committed() })
    let rollups = RollupProcessor(
        widths: configuration.rollups.widths, partitionCount: partitions, duplicateWindowRecords: window,
        tagKeys: configuration.rollupTagColumns, memory: memory
    )
    stages.append(measure("rollups", log: log, apply: rollups.apply) {
        // The writer's reads: stored watermarks of series it has not seen (none stored here), the sketches.
        rollups.resolve(storedWatermarks: [:])
        precondition(rollups.pendingSketches().count >= rollups.pendingCellCount / 3)
        rollups.committed()
    })
    let anomalies = AnomalyProcessor(
        partitionCount: partitions, duplicateWindowRecords: window, settings: configuration.anomalies, alertSink: nil, memory: memory
    )
    // Per checkpoint, what the writer saves now (each changed partition's header and its changed devices' chunks,
    // one chunk at a time) beside what it saved before (each changed partition's whole snapshot), in one run.
    var checkpointCount = 0
    var snapshotBytes = 0, snapshotTotal = 0, snapshotSeconds = 0.0, snapshotSecondsTotal = 0.0
    var changedBytes = 0, changedTotal = 0, changedSeconds = 0.0, changedSecondsTotal = 0.0
    stages.append(measure("anomalies", log: log, apply: anomalies.apply) {
        let clock = ContinuousClock()
        let partitions = anomalies.dirtyPartitions.sorted()
        changedBytes = 0
        changedSeconds = seconds(clock.measure {
            for partition in partitions {
                changedBytes += anomalies.stateHeader(partition: partition).count
                let chunks = anomalies.changedDeviceChunks(partition: partition)
                for position in 0..<chunks.count { changedBytes += anomalies.deviceChunk(position, of: chunks, partition: partition).count }
            }
        })
        snapshotBytes = 0
        snapshotSeconds = seconds(clock.measure {
            for partition in partitions { snapshotBytes += anomalies.snapshot(partition: partition).count }
        })
        checkpointCount += 1
        snapshotTotal += snapshotBytes
        snapshotSecondsTotal += snapshotSeconds
        changedTotal += changedBytes
        changedSecondsTotal += changedSeconds
        anomalies.committed()
    })
    stages[stages.count - 1].extra = String(
        format: "\n      %d checkpoints, state written per checkpoint (mean): by device %.0f B (%.1f B per series, %.3f s) against whole snapshots %.0f B (%.1f B per series, %.3f s): %.3f×"
            + "\n      last checkpoint: by device %d B in %.3f s, whole snapshots %d B in %.3f s",
        checkpointCount, Double(changedTotal) / Double(checkpointCount), Double(changedTotal) / Double(checkpointCount * series), changedSecondsTotal / Double(checkpointCount),
        Double(snapshotTotal) / Double(checkpointCount), Double(snapshotTotal) / Double(checkpointCount * series), snapshotSecondsTotal / Double(checkpointCount),
        Double(changedTotal) / Double(max(1, snapshotTotal)), changedBytes, changedSeconds, snapshotBytes, snapshotSeconds
    )
    let heapAll = heapInUse() - heapBase
    let rssAll = residentBytes() - rssBase
    secondArchive = nil
    let heapKept = heapInUse() - heapBase
    let rssKept = residentBytes() - rssBase
    malloc_trim(0)
    let rssTrimmed = residentBytes() - rssBase

    let perSeries = { (bytes: Int) in Double(bytes) / Double(series) }
    print("\n== \(series) series (\(log.fleet.devices) devices × \(SyntheticFleet.metrics.count) metrics × \(roundCount) readings; \(partitions) partitions, "
          + "checkpoint every \(batchRecords) records); registry holds \(memory.registry.heldCount)")
    for stage in stages {
        print("  " + stage.name.padding(toLength: 20, withPad: " ", startingAt: 0)
              + String(format: " heap kept %7.1f B/series (peak in a batch %7.1f), fed in %.2f s, checkpoints %.2f s",
                       perSeries(stage.heapAfter), perSeries(stage.heapPeak), stage.seconds, stage.checkpointSeconds) + stage.extra)
    }
    let registry = stages[0].heapAfter - stages[1].heapAfter
    print("  " + "registry".padding(toLength: 20, withPad: " ", startingAt: 0)
          + String(format: " heap kept %7.1f B/series (archive + registry − archive)", perSeries(registry)))
    print(String(format: "TOTAL %d series: heap in use %.1f B/series (all four processors + registry, second archive dropped); "
                 + "RSS %.1f B/series, %.1f after malloc_trim; with the second archive: heap %.1f, RSS %.1f",
                 series, perSeries(heapKept), perSeries(rssKept), perSeries(rssTrimmed), perSeries(heapAll), perSeries(rssAll)))
    // One line for the parent to read.
    print("RESULT \(series) \(heapKept) \(rssKept) \(rssTrimmed)")
    withExtendedLifetime((archive, devices, rollups, anomalies)) {}
}

func parseSize(_ text: String) -> Int? {
    let lower = text.lowercased()
    let multiplier = lower.hasSuffix("m") ? 1_000_000 : lower.hasSuffix("k") ? 1_000 : 1
    guard let number = Int(multiplier == 1 ? lower : String(lower.dropLast())) else { return nil }
    return number * multiplier / SyntheticFleet.metrics.count * SyntheticFleet.metrics.count
}

let arguments = Array(CommandLine.arguments.dropFirst())
if let index = arguments.firstIndex(of: "--child"), index + 1 < arguments.count, let size = parseSize(arguments[index + 1]) {
    runSize(size)
    exit(0)
}

var sizes: [Int] = []
var skipNext = false
for argument in arguments {
    if skipNext { skipNext = false; continue }
    if argument.hasPrefix("--") { skipNext = true; continue }
    guard let size = parseSize(argument) else { fatalError("not a size: \(argument) (e.g. 10k 100k 1M)") }
    sizes.append(size)
}
if sizes.isEmpty { sizes = [10_000, 100_000, 1_000_000] }

print("Series memory benchmark: heap (mallinfo2) and RSS per active series of the readings processors over one shared registry")
var results: [(series: Int, heap: Int, rss: Int, trimmed: Int)] = []
for size in sizes {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    var childArguments = ["--child", String(size)]
    for flag in ["--batch", "--rounds"] { if let value = option(flag) { childArguments += [flag, value] } }
    process.arguments = childArguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    for line in output.split(separator: "\n") {
        if line.hasPrefix("RESULT ") {
            let fields = line.split(separator: " ").dropFirst().compactMap { Int($0) }
            if fields.count == 4 { results.append((fields[0], fields[1], fields[2], fields[3])) }
        } else {
            print(line)
        }
    }
}
if results.count > 1 {
    print("\nmarginal cost per series between sizes:")
    for (smaller, larger) in zip(results, results.dropFirst()) {
        let added = Double(larger.series - smaller.series)
        print(String(format: "  %d → %d: heap %.1f B, RSS %.1f B, RSS after malloc_trim %.1f B", smaller.series, larger.series,
                     Double(larger.heap - smaller.heap) / added, Double(larger.rss - smaller.rss) / added, Double(larger.trimmed - smaller.trimmed) / added))
    }
}
