public import KappaCore

/// Turns the lines of an import file into readings with their own event times.
///
/// JSON lines and line protocol go through the gateway's ``PayloadDecoder`` as if each line were a message
/// on a topic naming `device` (and `metric`), so an import decodes exactly as live ingestion would. A line
/// without an event time of its own is refused: history stamped with the import time would be wrong.
public struct ImportLineParser: Sendable {
    public let format: ImportFormat
    public let device: String?
    public let metric: String?
    private let decoder: PayloadDecoder
    public let csv: CSVOptions
    private var layout: CSVLayout?

    /// The decoder's limits apply except the window around the receive time: history is old by nature.
    public init(format: ImportFormat, device: String?, metric: String?, csv: CSVOptions = CSVOptions(), limits: DecodingLimits = .default) {
        self.format = format
        self.csv = csv
        self.device = device
        self.metric = metric
        var limits = limits
        limits.maxPastNanoseconds = .max
        limits.maxFutureNanoseconds = .max
        self.decoder = PayloadDecoder(limits: limits)
    }

    /// The readings of one line (empty for blank lines and the CSV header), or why it was refused.
    public mutating func parse(_ line: Substring) -> Result<[Reading], ImportProblem> {
        let trimmed = line.last == "\r" ? line.dropLast() : line
        guard trimmed.contains(where: { $0 != " " && $0 != "\t" }) else { return .success([]) }
        switch format {
        case .csv: return parseCSV(trimmed)
        case .jsonl: return decode(trimmed, as: .json)
        case .line: return decode(trimmed, as: .lineProtocol)
        }
    }

    private func decode(_ line: Substring, as payloadFormat: PayloadFormat) -> Result<[Reading], ImportProblem> {
        guard let device else { return .failure(ImportProblem("--device is needed for \(format.rawValue) files")) }
        var readings: [Reading] = []
        var problems: [DecodeProblem] = []
        let match = TopicMatch(format: payloadFormat, device: device, metric: metric)
        decoder.decode(match: match, payload: Array(line.utf8), receivedAt: Timestamp(nanosecondsSinceEpoch: 0), into: &readings, problems: &problems)
        if let problem = problems.first { return .failure(ImportProblem(problem.description)) }
        guard readings.allSatisfy({ $0.timeSource == .device }) else { return .failure(ImportProblem("no event time in the line")) }
        return .success(readings)
    }

    private mutating func parseCSV(_ line: Substring) -> Result<[Reading], ImportProblem> {
        guard let layout else {
            do {
                layout = try CSVLayout(header: line, options: csv, device: device, metric: metric)
            } catch {
                return .failure(error)
            }
            return .success([])
        }
        let fields = CSVFields.split(line, by: layout.delimiter)
        let needed = ([layout.time, layout.device ?? 0, layout.metric ?? 0] + layout.values.map(\.column)).max()! + 1
        guard fields.count >= needed else {
            return .failure(ImportProblem("expected at least \(needed) fields, found \(fields.count)"))
        }
        guard let device = layout.device.map({ fields[$0] }) ?? device, !device.isEmpty else { return .failure(ImportProblem("empty device")) }
        // The same name limits as live intake: a name PostgreSQL cannot store must not reach the log.
        let names = decoder.limits.names
        if let flaw = NameLimits.flaw(in: device, maxBytes: names.maxDeviceBytes) { return .failure(ImportProblem("the device id \(flaw)")) }
        guard let time = ImportTimestamp.parse(fields[layout.time], zone: csv.timeZone) else {
            return .failure(ImportProblem("'\(fields[layout.time])' is neither an RFC 3339 time, a local date and time, nor an epoch time"))
        }
        var readings: [Reading] = []
        for (column, columnMetric) in layout.values {
            let text = fields[column]
            if text.isEmpty, layout.isWide { continue }
            guard let metric = columnMetric ?? layout.metric.map({ fields[$0] }) ?? metric, !metric.isEmpty else {
                return .failure(ImportProblem("empty metric"))
            }
            if let flaw = NameLimits.flaw(in: metric, maxBytes: names.maxMetricBytes) { return .failure(ImportProblem("the metric name \(flaw)")) }
            guard let value = Double(text), value.isFinite else {
                return .failure(ImportProblem("'\(text)' is not a finite number"))
            }
            readings.append(Reading(device: device, metric: metric, time: time, value: value, timeSource: .device))
        }
        return .success(readings)
    }
}

/// Why a line of an import file was refused.
public struct ImportProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
