/// A spike or change point held back until the device's other readings of the same instant have been seen,
/// so that a jump of several metrics together can be told from one sensor's fault.
struct PendingDetection {
    var series: Int32
    var detector: AnomalyDetector
    var detection: Detection

    func encode(into writer: inout SnapshotWriter) {
        writer.write(series)
        writer.write(detector.rawValue)
        writer.write(detection.start)
        writer.write(detection.score)
        writer.write(detection.value)
        writer.write(detection.expectedLow)
        writer.write(detection.expectedHigh)
    }

    init(series: Int32, detector: AnomalyDetector, detection: Detection) {
        self.series = series
        self.detector = detector
        self.detection = detection
    }

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        series = try reader.read()
        guard let detector = AnomalyDetector(rawValue: try reader.read()), detector == .spike || detector == .changePoint else {
            throw reader.corrupt()
        }
        self.detector = detector
        detection = Detection(start: try reader.read(), score: try reader.read(), value: try reader.read(), expectedLow: try reader.read(), expectedHigh: try reader.read())
    }
}
