import KappaStream

/// Hands each new episode to every configured sink (MQTT, webhook); each sink queues and never blocks.
public struct AlertFanOut: AnomalyAlertSink {
    public let sinks: [any AnomalyAlertSink]

    public init(_ sinks: [any AnomalyAlertSink]) {
        self.sinks = sinks
    }

    public func announce(_ episodes: [AnomalyEpisode]) {
        for sink in sinks { sink.announce(episodes) }
    }
}
