extension DetectorSettings {
    /// Every configuration key, in the order documentation lists them. `enable.<detector>` (1 or 0) also works.
    public static let keys: [String] = [
        "warmup_readings", "level_smoothing", "trend_smoothing", "scale_smoothing", "residual_clip", "minimum_scale", "tail_step",
        "spike_z", "change_slack", "change_threshold", "change_cap", "state_change_metrics", "state_change_settle_seconds",
        "device_smoothing", "device_learning", "device_warmup_instants", "device_alarm", "device_release", "device_close_instants", "device_absorb_instants", "min", "max", "max_rate_per_second",
        "flatline_min_readings", "flatline_min_seconds", "flatline_chance",
        "gap_factor", "gap_min_seconds", "gap_warmup_intervals",
        "close_after_normal_readings", "close_after_seconds", "quiet_readings", "critical_factor", "update_growth",
    ] + AnomalyDetector.allCases.map { "enable.\($0.name)" }

    /// Sets one value by its configuration key (seconds become nanoseconds; counts must be whole).
    public mutating func set(_ key: String, to value: Double) throws(AnomalyConfigurationError) {
        func invalid() -> AnomalyConfigurationError { AnomalyConfigurationError(code: .invalidValue, key: key, value: value) }
        guard value.isFinite else { throw invalid() }
        func positive() throws(AnomalyConfigurationError) -> Double {
            guard value > 0 else { throw invalid() }
            return value
        }
        func fraction() throws(AnomalyConfigurationError) -> Double {
            guard value > 0, value <= 1 else { throw invalid() }
            return value
        }
        func count() throws(AnomalyConfigurationError) -> Int {
            guard value >= 0, value <= 1e9, value.rounded() == value else { throw invalid() }
            return Int(value)
        }
        func nanoseconds() throws(AnomalyConfigurationError) -> Int64 {
            guard value >= 0, value <= 1e9 else { throw invalid() }
            return Int64((value * 1e9).rounded())
        }
        switch key {
        case "warmup_readings": warmupReadings = try count()
        case "level_smoothing": levelSmoothing = try fraction()
        case "trend_smoothing": trendSmoothing = try fraction()
        case "scale_smoothing": scaleSmoothing = try fraction()
        case "residual_clip": residualClip = try positive()
        case "minimum_scale":
            guard value >= 0 else { throw invalid() }
            minimumScale = value
        case "tail_step":
            guard value >= 0 else { throw invalid() }
            tailStep = value
        case "spike_z": spikeZ = try positive()
        case "change_slack":
            guard value >= 0 else { throw invalid() }
            changeSlack = value
        case "change_threshold": changeThreshold = try positive()
        case "change_cap": changeCap = try positive()
        case "state_change_metrics":
            // One metric jumping alone is exactly what a spike is, never a change of the device's state.
            guard value != 1 else { throw invalid() }
            stateChangeMetrics = try count()
        case "state_change_settle_seconds": stateChangeSettleNanoseconds = try nanoseconds()
        case "device_smoothing": deviceSmoothing = try fraction()
        case "device_learning": deviceLearning = try fraction()
        case "device_warmup_instants": deviceWarmupInstants = try count()
        case "device_alarm": deviceAlarm = try positive()
        case "device_release": deviceRelease = try positive()
        case "device_close_instants": deviceCloseInstants = max(1, try count())
        case "device_absorb_instants": deviceAbsorbInstants = max(1, try count())
        case "min": minimum = value
        case "max": maximum = value
        case "max_rate_per_second": maximumRatePerSecond = try positive()
        case "flatline_min_readings": flatlineMinimumReadings = max(2, try count())
        case "flatline_min_seconds": flatlineMinimumNanoseconds = try nanoseconds()
        case "flatline_chance": flatlineChance = try fraction()
        case "gap_factor":
            guard value > 1 else { throw invalid() }
            gapFactor = value
        case "gap_min_seconds": gapMinimumNanoseconds = try nanoseconds()
        case "gap_warmup_intervals": gapWarmupIntervals = max(1, try count())
        case "close_after_normal_readings": closeAfterNormalReadings = max(1, try count())
        case "close_after_seconds": closeAfterNanoseconds = try nanoseconds()
        case "quiet_readings": quietReadings = try count()
        case "critical_factor":
            guard value >= 1 else { throw invalid() }
            criticalFactor = value
        case "update_growth":
            guard value >= 1 else { throw invalid() }
            updateGrowth = value
        default:
            guard key.hasPrefix("enable."), let detector = AnomalyDetector(name: String(key.dropFirst(7))) else {
                throw AnomalyConfigurationError(code: .unknownKey, key: key, value: value)
            }
            guard value == 0 || value == 1 else { throw invalid() }
            if value == 1 { enabled.insert(AnomalyDetectorSet(detector)) } else { enabled.remove(AnomalyDetectorSet(detector)) }
        }
    }

    /// The value a configuration key holds (seconds for durations, 1 or 0 for `enable.*`); nil for a bound
    /// left unset or an unknown key. `set(key, to: value(of: key)!)` changes nothing.
    public func value(of key: String) -> Double? {
        switch key {
        case "warmup_readings": Double(warmupReadings)
        case "level_smoothing": levelSmoothing
        case "trend_smoothing": trendSmoothing
        case "scale_smoothing": scaleSmoothing
        case "residual_clip": residualClip
        case "minimum_scale": minimumScale
        case "tail_step": tailStep
        case "spike_z": spikeZ
        case "change_slack": changeSlack
        case "change_threshold": changeThreshold
        case "change_cap": changeCap
        case "state_change_metrics": Double(stateChangeMetrics)
        case "state_change_settle_seconds": Double(stateChangeSettleNanoseconds) / 1e9
        case "device_smoothing": deviceSmoothing
        case "device_learning": deviceLearning
        case "device_warmup_instants": Double(deviceWarmupInstants)
        case "device_alarm": deviceAlarm
        case "device_release": deviceRelease
        case "device_close_instants": Double(deviceCloseInstants)
        case "device_absorb_instants": Double(deviceAbsorbInstants)
        case "min": minimum
        case "max": maximum
        case "max_rate_per_second": maximumRatePerSecond
        case "flatline_min_readings": Double(flatlineMinimumReadings)
        case "flatline_min_seconds": Double(flatlineMinimumNanoseconds) / 1e9
        case "flatline_chance": flatlineChance
        case "gap_factor": gapFactor
        case "gap_min_seconds": Double(gapMinimumNanoseconds) / 1e9
        case "gap_warmup_intervals": Double(gapWarmupIntervals)
        case "close_after_normal_readings": Double(closeAfterNormalReadings)
        case "close_after_seconds": Double(closeAfterNanoseconds) / 1e9
        case "quiet_readings": Double(quietReadings)
        case "critical_factor": criticalFactor
        case "update_growth": updateGrowth
        default:
            if key.hasPrefix("enable."), let detector = AnomalyDetector(name: String(key.dropFirst(7))) {
                enabled.contains(AnomalyDetectorSet(detector)) ? 1 : 0
            } else {
                nil
            }
        }
    }
}
