import KappaCore
import KappaStream

/// The body of one webhook request for one episode.
enum WebhookPayload {
    static func body(_ episode: AnomalyEpisode, format: AlertSettings.WebhookFormat) -> String {
        switch format {
        case .json:
            return episode.jsonText
        case .alertmanager:
            return alertmanager(episode)
        }
    }

    /// Prometheus Alertmanager's `POST /api/v2/alerts`: a list of alerts with labels (which identify the
    /// alert and group it), annotations, and the times it started and, for a closed episode, ended.
    static func alertmanager(_ episode: AnomalyEpisode) -> String {
        func string(_ value: String) -> String {
            var text = ""
            JSONLogHandler.appendString(value, to: &text)
            return text
        }
        var labels = [
            ("alertname", "KappaAnomaly"), ("device", episode.device), ("metric", episode.metric),
            ("detector", episode.detector.name), ("severity", episode.severity.description),
        ].map { "\(string($0.0)):\(string($0.1))" }.joined(separator: ",")
        labels = "{" + labels + "}"
        var summary = "\(episode.detector.name) on \(episode.device) \(episode.metric)"
        if let value = episode.value { summary += ": value \(value)" }
        if let low = episode.expectedLow, let high = episode.expectedHigh { summary += ", expected \(low)…\(high)" }
        var alert = "{\"labels\":\(labels),\"annotations\":{\"summary\":\(string(summary)),\"peak_score\":\(string(String(episode.peakScore)))}"
        alert += ",\"startsAt\":\(string(episode.startTime.description))"
        if let end = episode.endTime { alert += ",\"endsAt\":\(string(end.description))" }
        return "[" + alert + "}]"
    }
}
