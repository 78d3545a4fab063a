import KappaMQTT
import KappaStream
import Logging

/// Publishes each new anomaly episode to MQTT as JSON (``AnomalyEpisode/jsonText``), on a topic made from a
/// template: `{device}`, `{metric}`, `{detector}` and `{severity}` are replaced (default `alerts/{device}/{metric}`).
///
/// `publish` only queues the message with libmosquitto, so announcing never blocks the processor. A failure
/// (not connected, queue full) drops the alert: the episode is in PostgreSQL either way. The first failure is
/// logged; the rest are only counted (`kappa_alerts_dropped_total`), so a missing broker is one warning, not
/// one per episode.
public struct MQTTAlertSink: AnomalyAlertSink {
    public static let defaultTopic = "alerts/{device}/{metric}"

    public let client: MQTTClient
    public let topicTemplate: String
    let logger: Logger
    /// A publish that fails counts as failed and dropped: there is no retry (the client queues for us).
    public let counters = AlertCounters(sink: "mqtt")

    public init(client: MQTTClient, topicTemplate: String = Self.defaultTopic, logger: Logger) {
        self.client = client
        self.topicTemplate = topicTemplate
        self.logger = logger
    }

    public func topic(for episode: AnomalyEpisode) -> String {
        topicTemplate
            .replacing("{device}", with: episode.device)
            .replacing("{metric}", with: episode.metric)
            .replacing("{detector}", with: episode.detector.name)
            .replacing("{severity}", with: episode.severity.description)
    }

    public func announce(_ episodes: [AnomalyEpisode]) {
        for episode in episodes {
            do {
                try client.publish(topic: topic(for: episode), payload: Array(episode.jsonText.utf8), qos: .atLeastOnce)
                counters.recordSent()
            } catch {
                // The first failure is worth a line; a missing broker would otherwise log one per episode.
                let firstFailure = counters.failed == 0
                counters.recordFailed()
                counters.recordDropped()
                guard firstFailure else { continue }
                logger.warning(
                    "Could not publish an anomaly alert; further failures are counted in kappa_alerts_dropped_total",
                    metadata: ["kappa.device": "\(episode.device)", "kappa.error": "\(error)"]
                )
            }
        }
    }
}
