import KappaCore

/// Scores episodes against row labels (``LabelledRows``), the way labelled real-world benchmarks are scored.
///
/// - Per row: a row is flagged when its time lies inside an episode of its device (`[startTime, endTime]`,
///   an open episode lasting to the device's last row); precision, recall and F1 over labelled devices.
/// - Per event: each labelled stretch (consecutive anomalous rows of a device) is found when an episode of
///   its device overlaps it; its delay is from its first row to the earliest such episode's `detectedAt`.
/// - False episodes per 10,000 readings on devices with no anomalous row (anomaly-free runs).
/// - The early-detection score of ``NABScore``.
public struct RowEvaluation: Sendable {
    public var truePositives = 0
    public var falsePositives = 0
    public var falseNegatives = 0
    public var trueNegatives = 0
    public var stretches = 0
    public var stretchesFound = 0
    public var delaysSeconds: [Double] = []
    /// Episodes on labelled devices that overlap no labelled stretch.
    public var episodesOutsideStretches = 0
    public var cleanEpisodes = 0
    public var cleanReadings = 0
    public var nab: NABScore

    public var precision: Double { truePositives + falsePositives == 0 ? 1 : Double(truePositives) / Double(truePositives + falsePositives) }
    public var recall: Double { truePositives + falseNegatives == 0 ? 1 : Double(truePositives) / Double(truePositives + falseNegatives) }
    public var f1: Double {
        let p = precision, r = recall
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }
    public var falseEpisodesPer10kReadings: Double? { cleanReadings == 0 ? nil : Double(cleanEpisodes) * 10_000 / Double(cleanReadings) }
    public var medianDelaySeconds: Double? {
        guard !delaysSeconds.isEmpty else { return nil }
        let sorted = delaysSeconds.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// - Parameters:
    ///   - rows: every file's rows; a device's rows in time order.
    ///   - readingsByDevice: readings imported per device (for the false-episode rate).
    public init(rows: [LabelledRows.Row], episodes: [AnomalyEpisode], readingsByDevice: [String: Int]) {
        let rowsByDevice = Dictionary(grouping: rows, by: \.device)
        let episodesByDevice = Dictionary(grouping: episodes, by: \.device)
        var nab = NABScore()
        for (device, deviceRows) in rowsByDevice.sorted(by: { $0.key < $1.key }) {
            let mine = episodesByDevice[device] ?? []
            let lastTime = deviceRows.last!.time.nanosecondsSinceEpoch
            let ranges = mine.map { ($0.startTime.nanosecondsSinceEpoch, $0.endTime?.nanosecondsSinceEpoch ?? Int64.max) }
            guard deviceRows.contains(where: \.anomalous) else {
                cleanEpisodes += mine.count
                cleanReadings += readingsByDevice[device] ?? 0
                continue
            }
            for row in deviceRows {
                let time = row.time.nanosecondsSinceEpoch
                let flagged = ranges.contains { $0.0 <= time && time <= $0.1 }
                switch (row.anomalous, flagged) {
                case (true, true): truePositives += 1
                case (false, true): falsePositives += 1
                case (true, false): falseNegatives += 1
                case (false, false): trueNegatives += 1
                }
            }
            let labelled = Self.stretches(deviceRows)
            stretches += labelled.count
            for stretch in labelled {
                let start = deviceRows[stretch.lowerBound].time.nanosecondsSinceEpoch, end = deviceRows[stretch.upperBound].time.nanosecondsSinceEpoch
                let overlapping = mine.filter { $0.startTime.nanosecondsSinceEpoch <= end && ($0.endTime?.nanosecondsSinceEpoch ?? lastTime) >= start }
                guard let first = overlapping.map(\.detectedAt.nanosecondsSinceEpoch).min() else { continue }
                stretchesFound += 1
                delaysSeconds.append(max(0, Double(first - start) / 1e9))
            }
            episodesOutsideStretches += mine.filter { episode in
                !labelled.contains { stretch in
                    episode.startTime.nanosecondsSinceEpoch <= deviceRows[stretch.upperBound].time.nanosecondsSinceEpoch
                        && (episode.endTime?.nanosecondsSinceEpoch ?? lastTime) >= deviceRows[stretch.lowerBound].time.nanosecondsSinceEpoch
                }
            }.count
            nab.add(rowTimes: deviceRows.map(\.time.nanosecondsSinceEpoch), stretches: labelled, alarms: mine.map(\.detectedAt.nanosecondsSinceEpoch))
        }
        self.nab = nab
    }

    /// Index ranges of consecutive anomalous rows.
    static func stretches(_ rows: [LabelledRows.Row]) -> [ClosedRange<Int>] {
        var result: [ClosedRange<Int>] = []
        var start: Int?
        for (index, row) in rows.enumerated() {
            if row.anomalous, start == nil { start = index }
            if !row.anomalous, let first = start {
                result.append(first...(index - 1))
                start = nil
            }
        }
        if let first = start { result.append(first...(rows.count - 1)) }
        return result
    }

    /// What `kappa eval anomalies --labelled` prints.
    public var report: String {
        func fixed(_ value: Double) -> String {
            let rounded = (value * 1000).rounded() / 1000
            return "\(rounded)"
        }
        var lines: [String] = []
        if stretches > 0 {
            lines.append("per row: precision \(fixed(precision))  recall \(fixed(recall))  F1 \(fixed(f1))  (tp \(truePositives) fp \(falsePositives) fn \(falseNegatives) tn \(trueNegatives))")
            lines.append("flag every row: F1 \(fixed(Double(2 * (truePositives + falseNegatives)) / Double(2 * (truePositives + falseNegatives) + falsePositives + trueNegatives)))")
            lines.append("events: \(stretchesFound)/\(stretches) labelled stretches found, median delay \(medianDelaySeconds.map { fixed($0) } ?? "-") s; \(episodesOutsideStretches) episodes outside every stretch")
            lines.append("NAB score (standard profile): \(fixed(nab.normalised)) (never fires 0, perfect 100)")
        }
        if let rate = falseEpisodesPer10kReadings {
            lines.append("anomaly-free: \(cleanEpisodes) episodes in \(cleanReadings) readings = \(fixed(rate)) per 10,000 readings")
        }
        return lines.joined(separator: "\n")
    }
}
