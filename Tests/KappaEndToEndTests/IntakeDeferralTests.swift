import Foundation
import KappaCore
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

/// A backlog at the broker drains into the log first; the processors give way meanwhile and then catch up.
@Suite("kappa run: processors give way while a backlog drains", .serialized, .timeLimit(.minutes(5)))
struct IntakeDeferralTests {
    let logger = Logger(label: "kappa.test.e2e", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("a broker backlog makes the processors defer, and afterwards every reading is committed once")
    func backlogDrainsThenProcessorsCatchUp() async throws {
        try await GatewayUnderTest.withFresh(name: "deferral") { gateway in
            // Any lag counts, so the deferral does not hinge on how fast this machine's processors are.
            let arguments = ["--intake-deferral-lag", "0"]
            var process = try await gateway.start(extraArguments: arguments)
            // The session exists; stop kappa and let the backlog pile up at the broker.
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(20)) == 0)

            let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: gateway.broker.port, maxInflightMessages: 100), logger: logger)
            try publisher.start()
            try await publisher.waitUntilConnected()
            defer { publisher.disconnect() }
            let count = 10_000, devices = 20
            let origin = (Timestamp.now().nanosecondsSinceEpoch / 1_000_000 / 1000 - 3600) * 1000
            for index in 0..<count {
                let time = origin + Int64(index / devices) * 100
                try publisher.publish(topic: "\(gateway.topicPrefix)/devices/d\(index % devices)/telemetry",
                                      payload: Array(#"{"ts":\#(time),"level":\#(index)}"#.utf8), qos: .atLeastOnce)
                if index % 500 == 0 { await Task.yield() }
            }
            try await publisher.publishAndWait(topic: "\(gateway.topicPrefix)/devices/d0/telemetry", payload: Array(#"{"ts":\#(origin - 1000),"level":-1}"#.utf8))

            // The processors must be running when the backlog arrives: started together with the bridge, they
            // came up after it had drained on a loaded machine, with nothing left to give way to. So the broker is
            // frozen until every processor of the first run has resumed in this one.
            let processors = process.output.components(separatedBy: "Processor resumed").count - 1
            gateway.broker.pause()
            process = try gateway.launch(extraArguments: arguments)  // on a throw, stopping the broker resumes it
            let resumed = await gateway.eventually(timeout: .seconds(60), every: .milliseconds(50)) {
                process.output.components(separatedBy: "Processor resumed").count - 1 >= processors
            }
            gateway.broker.resume()
            #expect(processors > 0 && resumed, "the processors should resume while the broker is frozen:\n\(process.output.suffix(2000))")
            #expect(await gateway.eventually(timeout: .seconds(120)) {
                let metrics = try await gateway.metrics()
                return metrics.total("kappa_readings_appended_total") == Double(count + 1) && metrics.total("kappa_processor_lag_records") == 0
            }, "the backlog should drain and the processors catch up:\n\(process.output.suffix(2000))")
            let metrics = try await gateway.metrics()
            #expect(metrics.total("kappa_processor_intake_deferrals_total") > 0, "no processor gave way while the backlog drained")
            #expect(metrics.declaredFamilies["kappa_processor_intake_deferrals_total"] == "counter")
            #expect(await gateway.eventually(timeout: .seconds(30)) {
                try await gateway.scalar("SELECT sum(count)::bigint FROM kappa.rollups_1m") == Int64(count + 1)
            })
            #expect(try await gateway.scalar("SELECT count(*) FROM kappa.readings") == Int64(count + 1))
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(20)) == 0)
            try await gateway.expectFullyCommitted()
        }
    }
}
