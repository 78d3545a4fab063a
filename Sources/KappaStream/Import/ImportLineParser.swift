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
    private var columns: (device: Int?, metric: Int?, time: Int, value: Int)?

    /// The decoder's limits apply except the window around the receive time: history is old by nature.
    public init(format: ImportFormat, device: String?, metric: String?, limits: DecodingLimits = .default) {
        self.format = format
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
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " \t\"") }
        guard let columns else {
            let names = fields.map { $0.lowercased() }
            guard let time = names.firstIndex(of: "time"), let value = names.firstIndex(of: "value") else {
                return .failure(ImportProblem("the header must name the columns time and value (and device, metric unless given as options)"))
            }
            let deviceColumn = names.firstIndex(of: "device")
            let metricColumn = names.firstIndex(of: "metric")
            guard deviceColumn != nil || device != nil, metricColumn != nil || metric != nil else {
                return .failure(ImportProblem("no device or metric column: give --device / --metric"))
            }
            self.columns = (deviceColumn, metricColumn, time, value)
            return .success([])
        }
        let deviceColumn: Int = columns.device ?? 0
        let metricColumn: Int = columns.metric ?? 0
        let needed: Int = [columns.time, columns.value, deviceColumn, metricColumn].max()! + 1
        guard fields.count >= needed else {
            return .failure(ImportProblem("expected at least \(needed) fields, found \(fields.count)"))
        }
        guard let device = columns.device.map({ fields[$0] }) ?? device, !device.isEmpty,
              let metric = columns.metric.map({ fields[$0] }) ?? metric, !metric.isEmpty
        else { return .failure(ImportProblem("empty device or metric")) }
        // The same name limits as live intake: a name PostgreSQL cannot store must not reach the log.
        let names = decoder.limits.names
        if let flaw = NameLimits.flaw(in: device, maxBytes: names.maxDeviceBytes) { return .failure(ImportProblem("the device id \(flaw)")) }
        if let flaw = NameLimits.flaw(in: metric, maxBytes: names.maxMetricBytes) { return .failure(ImportProblem("the metric name \(flaw)")) }
        guard let time = Self.time(fields[columns.time]) else {
            return .failure(ImportProblem("'\(fields[columns.time])' is neither an RFC 3339 time nor epoch seconds"))
        }
        guard let value = Double(fields[columns.value]), value.isFinite else {
            return .failure(ImportProblem("'\(fields[columns.value])' is not a finite number"))
        }
        return .success([Reading(device: device, metric: metric, time: time, value: value, timeSource: .device)])
    }

    private static func time(_ text: String) -> Timestamp? {
        epochSeconds(text) ?? Timestamp(rfc3339: text)
    }

    /// `1714521720` or `1714521720.25`, exactly (no detour through a Double); times before 1970 need RFC 3339.
    private static func epochSeconds(_ text: String) -> Timestamp? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]), (0..<100_000_000_000).contains(whole) else { return nil }
        var nanoseconds: Int64 = 0
        if parts.count == 2 {
            let fraction = parts[1].prefix(9)
            guard !fraction.isEmpty, fraction.allSatisfy(\.isWholeNumber), let digits = Int64(fraction) else { return nil }
            nanoseconds = digits * Int64([1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000][9 - fraction.count])
        }
        return Timestamp(nanosecondsSinceEpoch: whole * 1_000_000_000 + nanoseconds)
    }
}

/// Why a line of an import file was refused.
public struct ImportProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}
