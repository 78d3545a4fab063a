/// Two-sided CUSUM of the baseline's standardised residual: catches level shifts and drifts too fast for
/// the baseline's trend to follow, while single spikes (capped contributions) and noise (the slack) do not add up.
///
/// A change is declared a few readings after it began; its onset is the event time at which the declaring
/// side's sum last left zero (the standard CUSUM change-time estimate), so an episode starts where the
/// shift did, not where it was confirmed.
struct ChangePointDetector {
    var upper = 0.0
    var lower = 0.0
    /// Event time of the reading with which each sum last rose from zero.
    var upperOnset: Int64 = 0
    var lowerOnset: Int64 = 0

    /// How far the CUSUM has climbed towards declaring a change, in scales.
    var statistic: Double { max(upper, lower) }

    /// Takes in one standardised residual; when it declares a change (and starts over), returns the CUSUM sum
    /// and the change's onset.
    mutating func observe(z: Double, at time: Int64, _ settings: DetectorSettings) -> (statistic: Double, onset: Int64)? {
        let capped = min(max(z, -settings.changeCap), settings.changeCap)
        if upper == 0 { upperOnset = time }
        if lower == 0 { lowerOnset = time }
        upper = max(0, upper + capped - settings.changeSlack)
        lower = max(0, lower - capped - settings.changeSlack)
        let statistic = max(upper, lower)
        guard statistic >= settings.changeThreshold else { return nil }
        let onset = upper >= lower ? upperOnset : lowerOnset
        reset()
        return (statistic, onset)
    }

    /// Forgets any change under way, for a series whose level was just taken as its new normal.
    mutating func reset() {
        upper = 0
        lower = 0
    }

    func encode(into writer: inout SnapshotWriter) {
        writer.write(upper)
        writer.write(lower)
        writer.write(upperOnset)
        writer.write(lowerOnset)
    }

    init() {}

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        upper = try reader.read()
        lower = try reader.read()
        upperOnset = try reader.read()
        lowerOnset = try reader.read()
    }
}
