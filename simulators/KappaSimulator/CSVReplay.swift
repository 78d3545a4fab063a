import KappaCore

/// A recorded series replayed as messages: CSV rows of `timestamp,value[,device,metric]`.
///
/// - `timestamp`: epoch seconds, ms, µs or ns (by magnitude) or RFC 3339, read as the gateway reads `ts`.
/// - A first row whose timestamp does not parse is a header and is skipped; blank lines are skipped.
/// - Without device or metric columns, `defaultDevice` and `defaultMetric` apply.
/// - Each row becomes one JSON telemetry message `{"ts":<ms>,"<metric>":<value>}` on
///   `devices/{device}/telemetry` (or a bare number on `devices/{device}/{metric}`), sent at its timestamp.
public struct CSVReplay: MessageSource {
    public struct Row: Hashable, Sendable {
        public var time: Timestamp
        public var value: Double
        public var device: String
        public var metric: String
    }

    public let rows: [Row]
    public let format: TelemetryFormat
    public let topicPrefix: String
    private var position = 0

    public var startTime: Timestamp { rows.first?.time ?? Timestamp(nanosecondsSinceEpoch: 0) }

    public init(rows: [Row], format: TelemetryFormat = .json, topicPrefix: String = "") {
        self.rows = rows
        self.format = format
        self.topicPrefix = topicPrefix.isEmpty || topicPrefix.hasSuffix("/") ? topicPrefix : topicPrefix + "/"
    }

    /// Parses CSV text; throws `invalidCSV` naming the first bad line.
    public static func parse(_ text: String, defaultDevice: String, defaultMetric: String) throws -> [Row] {
        var rows: [Row] = []
        var lineNumber = 0
        // "\r\n" is one Character in Swift, so a CRLF file needs its own separator.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
            if fields.allSatisfy(\.isEmpty) { continue }
            func fail(_ problem: String) -> SimulatorError {
                SimulatorError(code: .invalidCSV, message: "line \(lineNumber): \(problem)")
            }
            guard let time = TimeText.timestamp(fields[0]) else {
                if rows.isEmpty && lineNumber == 1 { continue }
                throw fail("'\(fields[0])' is not a timestamp (epoch seconds/ms/µs/ns or RFC 3339)")
            }
            guard fields.count >= 2, let value = Double(fields[1]), value.isFinite else {
                throw fail("expected a finite number in the value column")
            }
            let device = fields.count > 2 && !fields[2].isEmpty ? fields[2] : defaultDevice
            let metric = fields.count > 3 && !fields[3].isEmpty ? fields[3] : defaultMetric
            guard !device.contains("/"), !metric.contains("/"), !device.contains("+"), !device.contains("#") else {
                throw fail("device and metric may not contain '/', '+' or '#'")
            }
            rows.append(Row(time: time, value: value, device: device, metric: metric))
        }
        return rows
    }

    public mutating func next() -> SimulatedMessage? {
        guard position < rows.count else { return nil }
        let row = rows[position]
        position += 1
        let reading = Reading(device: row.device, metric: row.metric, time: row.time, value: row.value)
        // The recorded value as written (shortest round-trip), not rounded like simulated ones.
        let number = Array("\(row.value)".utf8)
        if format == .number {
            var received = reading
            received.timeSource = .received
            return SimulatedMessage(device: row.device, topic: "\(topicPrefix)devices/\(row.device)/\(row.metric)", payload: number,
                                    eventTime: row.time, sendTime: row.time, readings: [received])
        }
        var payload: [UInt8] = Array(#"{"ts":"#.utf8)
        PayloadBytes.appendInteger(row.time.nanosecondsSinceEpoch / 1_000_000, to: &payload)
        payload.append(UInt8(ascii: ","))
        PayloadBytes.appendJSONString(row.metric, to: &payload)
        payload.append(UInt8(ascii: ":"))
        payload += number
        payload.append(UInt8(ascii: "}"))
        var timed = reading
        timed.time = Timestamp(millisecondsSinceEpoch: row.time.nanosecondsSinceEpoch / 1_000_000)
        return SimulatedMessage(device: row.device, topic: "\(topicPrefix)devices/\(row.device)/telemetry", payload: payload,
                                eventTime: row.time, sendTime: row.time, readings: [timed])
    }

    public mutating func finish() -> [GroundTruthLabel] { [] }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\"" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\"" }.reversed())
    }
}
