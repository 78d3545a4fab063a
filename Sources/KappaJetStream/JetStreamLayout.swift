import KappaLog

/// How Kappa's streams and partitions map onto JetStream: one JetStream stream per partition, so that a
/// partition's offsets are exactly its stream's sequence numbers minus one (JetStream numbers from 1).
///
/// `readings` partition 3 is the stream `KAPPA_readings_3` on the subject `kappa.readings.3`; a stream's
/// consumer offsets live in `KAPPA_readings_consumers`, one subject per group, keeping the latest message.
/// The partition count is written into every partition's description, which is how a later start finds it.
struct JetStreamLayout: Sendable {
    let streamPrefix: String
    let subjectPrefix: String

    func streamName(_ stream: String, partition: Int) -> String { "\(streamPrefix)_\(stream)_\(partition)" }
    func subject(_ stream: String, partition: Int) -> String { "\(subjectPrefix).\(stream).\(partition)" }
    func consumerStreamName(_ stream: String) -> String { "\(streamPrefix)_\(stream)_consumers" }
    func consumerSubjects(_ stream: String) -> String { "\(subjectPrefix).\(stream).consumers.>" }

    /// Group names may hold characters a subject token cannot (dots, spaces, wildcards): hex keeps them apart.
    func consumerSubject(_ stream: String, group: String) -> String {
        let hex = group.utf8.map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
        }.joined()
        return "\(subjectPrefix).\(stream).consumers.\(hex)"
    }

    func description(_ stream: String, partition: Int, of partitionCount: Int) -> String {
        "kappa stream \(stream) partition \(partition) of \(partitionCount)"
    }

    /// The partition count a description written by ``description(_:partition:of:)`` states.
    func partitionCount(fromDescription description: String) -> Int? {
        let words = description.split(separator: " ")
        guard words.count >= 2, words[words.count - 2] == "of", let last = words.last else { return nil }
        return Int(last)
    }

    /// The Kappa stream a partition-0 JetStream stream belongs to, or nil for any other stream.
    func kappaStream(ofPartitionZero name: String) -> String? {
        let prefix = "\(streamPrefix)_"
        guard name.hasPrefix(prefix), name.hasSuffix("_0") else { return nil }
        let stream = String(name.dropFirst(prefix.count).dropLast(2))
        return stream.isEmpty ? nil : stream
    }

    /// Names go into stream names and subjects: letters, digits, `-` and `_` only.
    static func validate(streamName: String) throws(LogError) {
        let allowed = streamName.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
        guard allowed, !streamName.isEmpty, streamName.utf8.count <= 200 else {
            var error = LogError(code: .invalidArgument, message: "a stream name on JetStream may hold only letters, digits, '-' and '_'")
            error.stream = streamName
            throw error
        }
    }
}
