import KappaCore

/// An episode while it lasts: what folding needs to extend it, close it and report it.
struct OpenEpisode {
    var start: Int64
    var detectedAt: Int64
    var lastAnomalous: Int64
    var peakScore: Double
    var value: Double
    var expectedLow: Double
    var expectedHigh: Double
    /// The peak last sent in an event; `episodeUpdated` waits until the peak outgrows it.
    var reportedPeak: Double
    var normalReadings: Int64 = 0

    init(_ detection: Detection, at time: Int64) {
        start = min(detection.start, time)
        detectedAt = time
        lastAnomalous = time
        peakScore = detection.score
        value = detection.value
        expectedLow = detection.expectedLow
        expectedHigh = detection.expectedHigh
        reportedPeak = detection.score
    }

    /// Takes in another anomalous reading; true when the peak grew enough to report.
    mutating func extend(_ detection: Detection, at time: Int64, _ settings: DetectorSettings) -> Bool {
        start = min(start, detection.start)
        lastAnomalous = max(lastAnomalous, time)
        normalReadings = 0
        guard detection.score > peakScore else { return false }
        peakScore = detection.score
        value = detection.value
        expectedLow = detection.expectedLow
        expectedHigh = detection.expectedHigh
        guard peakScore >= reportedPeak * settings.updateGrowth else { return false }
        reportedPeak = peakScore
        return true
    }

    /// Takes in a normal reading; true when the series has been normal long enough to close.
    mutating func calm(at time: Int64, _ settings: DetectorSettings) -> Bool {
        normalReadings += 1
        return normalReadings >= Int64(settings.closeAfterNormalReadings) && time - lastAnomalous >= settings.closeAfterNanoseconds
    }

    func episode(device: String, metric: String, detector: AnomalyDetector, closed: Bool, _ settings: DetectorSettings) -> AnomalyEpisode {
        AnomalyEpisode(
            device: device, metric: metric, detector: detector,
            startTime: Timestamp(nanosecondsSinceEpoch: start),
            detectedAt: Timestamp(nanosecondsSinceEpoch: detectedAt),
            endTime: closed ? Timestamp(nanosecondsSinceEpoch: lastAnomalous) : nil,
            peakScore: peakScore, value: value.isNaN ? nil : value,
            expectedLow: expectedLow.isNaN ? nil : expectedLow,
            expectedHigh: expectedHigh.isNaN ? nil : expectedHigh,
            severity: Self.severity(peakScore, detector, settings)
        )
    }

    /// Threshold breaches are always critical; other detectors are critical from `criticalFactor` times their alarm level.
    static func severity(_ score: Double, _ detector: AnomalyDetector, _ settings: DetectorSettings) -> AnomalySeverity {
        let alarm: Double
        switch detector {
        case .threshold: return .critical
        case .spike: alarm = settings.spikeZ
        case .changePoint: alarm = settings.changeThreshold
        case .multivariate: alarm = settings.deviceAlarm
        case .rateOfChange, .flatline, .gap: alarm = 1
        }
        return score >= settings.criticalFactor * alarm ? .critical : .warning
    }

    func encode(into writer: inout SnapshotWriter) {
        writer.write(start)
        writer.write(detectedAt)
        writer.write(lastAnomalous)
        writer.write(peakScore)
        writer.write(value)
        writer.write(expectedLow)
        writer.write(expectedHigh)
        writer.write(reportedPeak)
        writer.write(normalReadings)
    }

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        start = try reader.read()
        detectedAt = try reader.read()
        lastAnomalous = try reader.read()
        peakScore = try reader.read()
        value = try reader.read()
        expectedLow = try reader.read()
        expectedHigh = try reader.read()
        reportedPeak = try reader.read()
        normalReadings = try reader.read()
    }
}
