import Foundation
import KappaCore
import KappaGateway
import KappaLog
import KappaTestSupport
import Logging
import Testing

/// /metrics and /readyz as the gateway computes them, over a real log.
@Suite("metrics and readiness")
struct ObservabilityTests {
    static let logger = Logger(label: "kappa.test.observability", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Processors that report fixed reasons: stands in for the processor runtime, not for a database or broker.
    struct FixedReporting: ProcessorReporting {
        var reasons: [String]
        func renderMetrics(into out: inout PrometheusText) {
            out.family("kappa_test_processor", .gauge, help: "A test figure.", value: Double(reasons.count))
        }
        func notReadyReasons() -> [String] { reasons }
    }

    @Test("the text format: HELP and TYPE lines, labels escaped, whole numbers below 1e15 without a point, NaN and infinities spelled out")
    func prometheusText() {
        var out = PrometheusText()
        out.family("kappa_things", .counter, help: "Things.", samples: [
            ([("name", #"a "quoted" back\slash"#), ("line", "one\ntwo")], 3),
            ([], 2.5),
        ])
        out.family("kappa_level", .gauge, help: "Level.", value: .infinity)
        #expect(out.text == """
            # HELP kappa_things Things.
            # TYPE kappa_things counter
            kappa_things{name="a \\"quoted\\" back\\\\slash",line="one\\ntwo"} 3
            kappa_things 2.5
            # HELP kappa_level Level.
            # TYPE kappa_level gauge
            kappa_level +Inf

            """)
        #expect(PrometheusText.format(.nan) == "NaN")
        #expect(PrometheusText.format(-.infinity) == "-Inf")
        #expect(PrometheusText.format(1e15) == "1000000000000000.0")
        #expect(PrometheusText.format(-42) == "-42")
    }

    @Test("/readyz: ready on a healthy log; an unacknowledged loss and the processors' reasons make it not ready, until acknowledged")
    func readiness() throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-readyz")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try DiskLog(directory: directory, logger: Self.logger)
        defer { log.close() }
        let stream = try log.createStream(named: KappaStreams.readings, partitionCount: 2)
        _ = try stream.append(key: Array("d".utf8), eventTime: Timestamp(secondsSinceEpoch: 1), value: [1])
        let healthy = GatewayMetrics(log: log, streams: [stream], bridge: nil, processors: FixedReporting(reasons: []))
        #expect(HTTPEndpoints.notReadyReasons(healthy).isEmpty)

        let lost = 10 - stream.offsets(partition: 1).highWatermark
        _ = try stream.ensureNextOffset(partition: 1, atLeast: 10, reason: "test")
        let lagging = GatewayMetrics(log: log, streams: [stream], bridge: nil, processors: FixedReporting(reasons: ["processor rollups stopped: test"]))
        let reasons = HTTPEndpoints.notReadyReasons(lagging)
        #expect(reasons.count == 2)
        #expect(reasons.first?.hasPrefix("the log lost \(lost) acknowledged records: ") == true)
        #expect(reasons.first?.hasSuffix("`kappa log acknowledge-loss` once handled") == true)
        #expect(reasons.last == "processor rollups stopped: test")

        _ = try log.acknowledgeLosses()
        #expect(HTTPEndpoints.notReadyReasons(healthy).isEmpty)
    }

    @Test("/metrics: the log's partitions and losses, the processors' figures, the alert counters")
    func metrics() throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-metrics")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try DiskLog(directory: directory, logger: Self.logger)
        defer { log.close() }
        let stream = try log.createStream(named: KappaStreams.readings, partitionCount: 2)
        for number in 0..<3 {
            _ = try stream.append(key: Array("device".utf8), eventTime: Timestamp(secondsSinceEpoch: Int64(number)), value: [UInt8(number)])
        }
        _ = try stream.ensureNextOffset(partition: 0, atLeast: 7, reason: "test")
        let counters = AlertCounters(sink: "webhook")
        counters.recordSent()
        counters.recordFailed()
        counters.recordFailed()
        let text = GatewayMetrics(log: log, streams: [stream], bridge: nil, processors: FixedReporting(reasons: ["x"]), alerts: [counters]).render()
        let lines = Set(text.split(separator: "\n").map(String.init))
        let partition = stream.partition(forKey: Array("device".utf8))
        #expect(lines.contains(#"kappa_log_high_watermark{stream="readings",partition="\#(partition)"} \#(partition == 0 ? 7 : 3)"#))
        #expect(lines.contains(#"kappa_log_records_lost_total{stream="readings",partition="0"} \#(partition == 0 ? 4 : 7)"#))
        #expect(lines.contains(#"kappa_log_records_lost_unacknowledged{stream="readings",partition="1"} 0"#))
        #expect(lines.contains("kappa_test_processor 1"))
        #expect(lines.contains(#"kappa_alerts_sent_total{sink="webhook"} 1"#))
        #expect(lines.contains(#"kappa_alerts_failed_total{sink="webhook"} 2"#))
        #expect(!text.contains("kappa_mqtt_connected"))
    }

    @Test("the HTTP address: host:port, [v6]:port, :port on loopback; anything else is refused")
    func httpAddress() throws {
        #expect(try HTTPEndpoints.parse("0.0.0.0:9464") == ("0.0.0.0", 9464))
        #expect(try HTTPEndpoints.parse("[::1]:80") == ("::1", 80))
        #expect(try HTTPEndpoints.parse(":9464") == ("127.0.0.1", 9464))
        for bad in ["localhost", "host:http", "host:70000"] {
            #expect(throws: SettingsError("the HTTP address '\(bad)' is not host:port")) { try HTTPEndpoints.parse(bad) }
        }
    }
}
