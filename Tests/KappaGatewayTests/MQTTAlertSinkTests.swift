import KappaCore
import KappaGateway
import KappaMQTT
import KappaStream
import KappaTestSupport
import Logging
import Testing

/// Anomaly alerts published to the harness's real mosquitto.
@Suite("MQTT alert sink", .serialized)
struct MQTTAlertSinkTests {
    static let logger = Logger(label: "kappa.test.mqtt-alerts", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("the topic template takes the device, metric, detector and severity")
    func topic() throws {
        let client = try MQTTClient.make(configuration: MQTTConfiguration(url: "mqtt://127.0.0.1:1"), logger: Self.logger)
        let sink = MQTTAlertSink(client: client, topicTemplate: "site/{device}/{metric}/{detector}/{severity}", logger: Self.logger)
        #expect(sink.topic(for: WebhookAlertSinkTests.episode(3)) == "site/pump-3/pressure/spike/critical")
        #expect(MQTTAlertSink(client: client, logger: Self.logger).topic(for: WebhookAlertSinkTests.episode(4)) == "alerts/pump-4/pressure")
    }

    @Test("each new episode arrives as its JSON on its topic, and is counted as sent", .timeLimit(.minutes(1)))
    func publishes() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("alerts")
        let collector = MessageCollector()
        let subscriber = try MQTTClient.make(configuration: MQTTConfiguration(url: broker.url), logger: Self.logger, onMessage: collector.handler)
        try subscriber.start()
        defer { subscriber.disconnect() }
        try await subscriber.waitUntilConnected()
        try await subscriber.subscribe([MQTTSubscription("\(prefix)/#", qos: .atLeastOnce)])

        var configuration = try MQTTConfiguration(url: broker.url)
        configuration.cleanSession = true
        let publisher = try MQTTClient.make(configuration: configuration, logger: Self.logger)
        try publisher.start()
        defer { publisher.disconnect() }
        try await publisher.waitUntilConnected()
        let sink = MQTTAlertSink(client: publisher, topicTemplate: "\(prefix)/{device}/{metric}", logger: Self.logger)
        let episodes = [WebhookAlertSinkTests.episode(1), WebhookAlertSinkTests.episode(2)]
        sink.announce(episodes)

        let received = await collector.waitFor(count: 2)
        try #require(received.count == 2)
        for episode in episodes {
            let message = try #require(received.first { $0.topic == "\(prefix)/\(episode.device)/pressure" })
            #expect(message.payload == Array(episode.jsonText.utf8))
        }
        #expect(sink.counters.sent == 2)
        #expect(sink.counters.failed == 0)
    }
}
