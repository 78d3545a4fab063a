import KappaMQTT
import KappaTestSupport
import Logging

/// A client subscribed at QoS 1 to everything under `prefix`, collecting what arrives; disconnect it after.
func subscribedCollector(_ broker: MosquittoBroker, prefix: String, logger: Logger) async throws -> (client: MQTTClient, collector: MessageCollector) {
    let collector = MessageCollector()
    let client = try MQTTClient.make(configuration: MQTTConfiguration(host: "127.0.0.1", port: broker.port), logger: logger, onMessage: collector.handler)
    try client.start()
    do {
        try await client.waitUntilConnected()
        try await client.subscribe([MQTTSubscription("\(prefix)/#", qos: .atLeastOnce)])
    } catch {
        client.disconnect()
        throw error
    }
    return (client, collector)
}
