public import KappaCore
public import KappaLog

extension AnomalyPipeline {
    /// Runs a whole readings stream through, partition by partition (each in log order, as the processor
    /// reads it), and returns every episode as its row would end, plus the newest event time seen.
    public mutating func run(over stream: any LogStream) async throws -> (episodes: [AnomalyEpisode], newestEventTime: Timestamp?) {
        var ledger = EpisodeLedger()
        var events: [AnomalyEvent] = []
        var newest: Timestamp?
        for partition in 0..<stream.partitionCount {
            var offset = stream.offsets(partition: partition).start
            while true {
                let result = try await stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 10_000, maxBytes: 4 << 20))
                guard !result.records.isEmpty else { break }
                for record in result.records {
                    apply(record, partition: partition, into: &events)
                    for event in events { ledger.record(event) }
                    events.removeAll(keepingCapacity: true)
                }
                offset = result.nextOffset
            }
            finish(partition: partition, into: &events)
            for event in events { ledger.record(event) }
            events.removeAll(keepingCapacity: true)
            if let watermark = engines[partition].currentWatermark { newest = max(newest ?? watermark, watermark) }
        }
        let episodes = ledger.episodes.sorted {
            ($0.device, $0.metric, $0.detector, $0.startTime) < ($1.device, $1.metric, $1.detector, $1.startTime)
        }
        return (episodes, newest)
    }
}
