import Foundation
import KappaCore
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

/// A static threshold set in the configuration file's anomaly section reaches the detectors of a running
/// `kappa run`, and the alert reaches a webhook receiver and /metrics.
@Suite("kappa run: configured thresholds and webhook alerts")
struct ConfiguredAlertTests {
    @Test("a per-metric max from the file raises a threshold episode that is POSTed to the webhook and counted", .timeLimit(.minutes(2)))
    func thresholdToWebhook() async throws {
        try await GatewayUnderTest.withFresh(name: "webhook") { gateway in
            let receiver = try HTTPReceiver()
            defer { receiver.stop() }
            let configuration = "\(gateway.root)/kappa.yaml"
            try """
                anomaly:
                  metrics:
                    - pattern: "pressure"
                      settings: { max: 10 }
                alerts:
                  webhook_url: \(receiver.url)/hook
                """.write(toFile: configuration, atomically: true, encoding: .utf8)
            _ = try await gateway.start(extraArguments: ["--config", configuration])

            let logger = Logger(label: "kappa.test.webhook", factory: { _ in SwiftLogNoOpLogHandler() })
            let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: gateway.broker.port), logger: logger)
            try publisher.start()
            try await publisher.waitUntilConnected()
            defer { publisher.disconnect() }
            let now = Timestamp.now().nanosecondsSinceEpoch / 1_000_000
            // pressure is over its configured max; temperature has no threshold, so 50 is no episode for it.
            try await publisher.publishAndWait(
                topic: "\(gateway.topicPrefix)/devices/pump-1/telemetry",
                payload: Array(#"{"ts":\#(now),"pressure":50,"temperature":50}"#.utf8)
            )

            #expect(await receiver.waitForRequests(1, timeout: .seconds(60)), "no webhook request:\n\(gateway.gateway?.output.suffix(2000) ?? "")")
            let alerts = receiver.received.compactMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any] }
            #expect(alerts.count == 1, "\(receiver.received.map(\.body))")
            #expect(alerts.first?["device"] as? String == "pump-1")
            #expect(alerts.first?["metric"] as? String == "pressure")
            #expect(alerts.first?["detector"] as? String == "threshold")
            #expect(receiver.received.first?.path == "/hook")

            let metrics = try await gateway.metrics()
            #expect(metrics.total("kappa_alerts_sent_total", matching: ["sink": "webhook"]) == 1)
            #expect(metrics.total("kappa_alerts_dropped_total", matching: ["sink": "webhook"]) == 0)
        }
    }
}
