public import KappaCore
public import KappaLog

/// Decodes the dead-letter stream for `dead_letters_<version>`, each with its log position, so the store keeps
/// a record once however often it is read.
public final class DeadLetterProcessor: StreamProcessor {
    public struct Row: Sendable {
        public var partition: Int32
        public var offset: Int64
        public var deadLetter: DeadLetter
    }

    /// The dead letters read since the last checkpoint.
    public private(set) var rows: [Row] = []
    private var undecodable: Int64 = 0

    public init() {}

    public func resume(stream: any LogStream, offsets: [Int64]) async throws {}

    public func apply(_ record: LogRecord, partition: Int) {
        let decoded = record.value.withUnsafeBytes { bytes in
            Result { () throws(RecordDecodingError) -> DeadLetter in try DeadLetterRecord.decode(bytes) }
        }
        switch decoded {
        case .success(let deadLetter):
            rows.append(Row(partition: Int32(partition), offset: record.offset, deadLetter: deadLetter))
        case .failure:
            undecodable += 1
        }
    }

    public var hasPendingOutput: Bool { !rows.isEmpty }

    public func committed() {
        rows.removeAll(keepingCapacity: true)
    }

    public var counters: ProcessorCounters { ProcessorCounters(undecodable: undecodable) }
}
