import KappaCore
import KappaLog

/// Reads a `sparkplug-lifecycle` stream whole, partition by partition in offset order (log order per edge
/// node), for the bridge's restore at start and for `kappa dead-letters replay`. Blocks on the log's reads.
enum SparkplugLifecycleReading {
    /// Calls `body` with every record that decodes; returns how many did not.
    static func forEach(in stream: any LogStream, _ body: (SparkplugLifecycleEntry) -> Void) throws(LogError) -> Int {
        var undecodable = 0
        for partition in 0..<stream.partitionCount {
            var offset = stream.offsets(partition: partition).start
            while true {
                let read = try stream.read(partition: partition, from: offset, limits: LogReadLimits())
                guard !read.records.isEmpty else { break }
                for record in read.records {
                    guard let entry = try? SparkplugLifecycleRecord.decode(record.value) else {
                        undecodable += 1
                        continue
                    }
                    body(entry)
                }
                offset = read.nextOffset
            }
        }
        return undecodable
    }
}
