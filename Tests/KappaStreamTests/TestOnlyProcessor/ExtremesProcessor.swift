import KappaCore
import KappaLog
import KappaStream

/// A processor that exists only in this test target, to prove that a processor is one folder: this file (the
/// computation), its writer and descriptor beside it, and nothing registered anywhere in the sources.
///
/// Per device, the lowest and highest value read since the last checkpoint. Both merge idempotently
/// (least/greatest), so redelivered duplicates and replays after a crash need no dedupe state.
final class ExtremesProcessor: StreamProcessor {
    struct Extremes: Equatable {
        var low: Double
        var high: Double
    }

    private(set) var pending: [String: Extremes] = [:]
    private var undecodable: Int64 = 0

    func resume(stream: any LogStream, offsets: [Int64]) async throws {}

    func apply(_ record: LogRecord, partition: Int) {
        let decoded = record.value.withUnsafeBytes { bytes in
            Result { () throws(RecordDecodingError) -> Reading in try ReadingRecord.decode(bytes) }
        }
        guard case .success(let reading) = decoded else {
            undecodable += 1
            return
        }
        if var extremes = pending[reading.device] {
            extremes.low = min(extremes.low, reading.value)
            extremes.high = max(extremes.high, reading.value)
            pending[reading.device] = extremes
        } else {
            pending[reading.device] = Extremes(low: reading.value, high: reading.value)
        }
    }

    var hasPendingOutput: Bool { !pending.isEmpty }

    func committed() {
        pending.removeAll(keepingCapacity: true)
    }

    var counters: ProcessorCounters { ProcessorCounters(undecodable: undecodable) }
}
