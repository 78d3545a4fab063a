import Foundation
import KappaCore
import KappaGateway
import KappaStream
import KappaTestSupport
import Logging
import Testing

/// The webhook sink against a real HTTP receiver on loopback, started in the test.
@Suite("webhook alert sink")
struct WebhookAlertSinkTests {
    static let logger = Logger(label: "kappa.test.webhook", factory: { _ in SwiftLogNoOpLogHandler() })

    static func episode(_ number: Int, closed: Bool = false) -> AnomalyEpisode {
        AnomalyEpisode(
            device: "pump-\(number)", metric: "pressure", detector: .spike,
            startTime: Timestamp(secondsSinceEpoch: 1_764_000_000 + Int64(number)), detectedAt: Timestamp(secondsSinceEpoch: 1_764_000_000 + Int64(number)),
            endTime: closed ? Timestamp(secondsSinceEpoch: 1_764_000_060) : nil,
            peakScore: 9.5, value: 42, expectedLow: 1, expectedHigh: 3, severity: .critical
        )
    }

    static func sink(_ receiver: HTTPReceiver, format: AlertSettings.WebhookFormat = .json, path: String = "/hook") throws -> WebhookAlertSink {
        var configuration = WebhookAlertSink.Configuration(url: try WebhookURL("\(receiver.url)\(path)"), format: format)
        configuration.firstRetryDelay = .milliseconds(20)
        configuration.longestRetryDelay = .milliseconds(100)
        return WebhookAlertSink(configuration: configuration, logger: logger)
    }

    @Test("a receiver that answers 500 three times gets every alert, in order, none lost or repeated after success", .timeLimit(.minutes(1)))
    func retriesOn500() async throws {
        let receiver = try HTTPReceiver { number in number < 3 ? 500 : 200 }
        defer { receiver.stop() }
        let sink = try Self.sink(receiver)
        sink.announce((0..<5).map { Self.episode($0) })
        #expect(await receiver.waitForRequests(8, timeout: .seconds(20)))
        await sink.stop()
        let bodies = receiver.received.map(\.body)
        // The first alert was tried 4 times (3 × 500, then 200); each of the others once.
        let devices = bodies.compactMap { body -> String? in
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            return object?["device"] as? String
        }
        #expect(devices == ["pump-0", "pump-0", "pump-0", "pump-0", "pump-1", "pump-2", "pump-3", "pump-4"])
        #expect(receiver.received.allSatisfy { $0.path == "/hook" && $0.headers["content-type"] == "application/json" })
        #expect(sink.counters.sent == 5)
        #expect(sink.counters.failed == 3)
        #expect(sink.counters.dropped == 0)
        #expect(sink.backlog == 0)
    }

    @Test("Alertmanager's format: a list of alerts with labels, annotations and times", .timeLimit(.minutes(1)))
    func alertmanagerFormat() async throws {
        let receiver = try HTTPReceiver()
        defer { receiver.stop() }
        let sink = try Self.sink(receiver, format: .alertmanager, path: "/api/v2/alerts")
        sink.announce([Self.episode(7, closed: true)])
        #expect(await receiver.waitForRequests(1, timeout: .seconds(10)))
        await sink.stop()
        let request = try #require(receiver.received.first)
        #expect(request.path == "/api/v2/alerts")
        let alerts = try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [[String: Any]])
        #expect(alerts.count == 1)
        let labels = try #require(alerts[0]["labels"] as? [String: String])
        #expect(labels == ["alertname": "KappaAnomaly", "device": "pump-7", "metric": "pressure", "detector": "spike", "severity": "critical"])
        #expect(alerts[0]["startsAt"] as? String == Timestamp(secondsSinceEpoch: 1_764_000_007).description)
        #expect(alerts[0]["endsAt"] as? String == Timestamp(secondsSinceEpoch: 1_764_000_060).description)
        #expect((alerts[0]["annotations"] as? [String: String])?["summary"]?.contains("spike on pump-7 pressure") == true)
        #expect(sink.counters.sent == 1)
    }

    @Test("a receiver that never answers 2xx: retries run out, the alert is dropped and counted", .timeLimit(.minutes(1)))
    func retriesRunOut() async throws {
        let receiver = try HTTPReceiver { _ in 503 }
        defer { receiver.stop() }
        var configuration = WebhookAlertSink.Configuration(url: try WebhookURL(receiver.url), format: .json)
        configuration.firstRetryDelay = .milliseconds(10)
        configuration.maximumAttempts = 3
        let sink = WebhookAlertSink(configuration: configuration, logger: Self.logger)
        sink.announce([Self.episode(1)])
        #expect(await receiver.waitForRequests(3, timeout: .seconds(10)))
        let deadline = ContinuousClock.now + .seconds(5)
        while sink.counters.dropped == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        await sink.stop()
        #expect(receiver.received.count == 3)
        #expect(sink.counters.failed == 3)
        #expect(sink.counters.dropped == 1)
        #expect(sink.counters.sent == 0)
    }

    @Test("webhook URLs: http only, host and port checked")
    func urls() throws {
        #expect(try WebhookURL("http://alertmanager:9093/api/v2/alerts") == WebhookURL("http://alertmanager:9093/api/v2/alerts"))
        let url = try WebhookURL("http://[::1]:8080")
        #expect(url.host == "::1" && url.port == 8080 && url.path == "/")
        #expect(throws: SettingsError.self) { try WebhookURL("https://example.com/hook") }
        #expect(throws: SettingsError.self) { try WebhookURL("http://user:pw@example.com/") }
        #expect(throws: SettingsError.self) { try WebhookURL("http://example.com:99999/") }
    }
}
