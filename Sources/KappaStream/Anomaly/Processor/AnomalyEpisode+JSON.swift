import KappaCore

extension AnomalyEpisode {
    /// The episode as one JSON object, the payload of `NOTIFY kappa_anomalies` and of MQTT alerts:
    /// `{"device":…,"metric":…,"detector":"spike","start_time":"…Z","detected_at":"…Z","end_time":null,
    /// "peak_score":9.1,"value":31.2,"expected_low":19.8,"expected_high":22.0,"severity":"critical"}`.
    /// Missing numbers are `null`.
    public var jsonText: String {
        var text = "{\"device\":"
        JSONText.appendString(device, to: &text)
        text += ",\"metric\":"
        JSONText.appendString(metric, to: &text)
        text += ",\"detector\":\"\(detector.name)\",\"start_time\":\"\(startTime)\",\"detected_at\":\"\(detectedAt)\",\"end_time\":"
        text += endTime.map { "\"\($0)\"" } ?? "null"
        text += ",\"peak_score\":" + Self.json(peakScore)
        text += ",\"value\":" + Self.json(value)
        text += ",\"expected_low\":" + Self.json(expectedLow)
        text += ",\"expected_high\":" + Self.json(expectedHigh)
        text += ",\"severity\":\"\(severity)\"}"
        return text
    }

    private static func json(_ number: Double?) -> String {
        guard let number, number.isFinite else { return "null" }
        return "\(number)"
    }
}
