/// Two-sided CUSUM of the baseline's standardised residual: catches level shifts and drifts too fast for
/// the baseline's trend to follow, while single spikes (capped contributions) and noise (the slack) do not add up.
struct ChangePointDetector {
    var upper = 0.0
    var lower = 0.0

    /// How far the CUSUM has climbed towards declaring a change, in scales.
    var statistic: Double { max(upper, lower) }

    /// Takes in one standardised residual; returns the CUSUM sum when it declares a change (and starts over).
    mutating func observe(z: Double, _ settings: DetectorSettings) -> Double? {
        let capped = min(max(z, -settings.changeCap), settings.changeCap)
        upper = max(0, upper + capped - settings.changeSlack)
        lower = max(0, lower - capped - settings.changeSlack)
        let statistic = max(upper, lower)
        guard statistic >= settings.changeThreshold else { return nil }
        upper = 0
        lower = 0
        return statistic
    }

    func encode(into writer: inout SnapshotWriter) {
        writer.write(upper)
        writer.write(lower)
    }

    init() {}

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        upper = try reader.read()
        lower = try reader.read()
    }
}
