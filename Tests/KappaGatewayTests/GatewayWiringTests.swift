import Foundation
import KappaCore
import KappaGateway
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaStream
import KappaTestSupport
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import KappaStorage

/// How `kappa run` is put together from its settings (nothing is started here, so no broker is needed).
@Suite("gateway wiring")
struct GatewayWiringTests {
    static let logger = Logger(label: "kappa.test.wiring", factory: { _ in SwiftLogNoOpLogHandler() })

    struct NoReasons: ProcessorReporting {
        func renderMetrics(into out: inout PrometheusText) {}
        func notReadyReasons() -> [String] { [] }
    }

    /// A service that only waits for shutdown, standing for the processors' services.
    struct Placeholder: Service {
        func run() async throws { try? await gracefulShutdown() }
    }

    static func settings(_ flags: [Setting: [String]], dataDirectory: String) throws -> GatewaySettings {
        var flags = flags
        flags[GatewaySettingsCatalog.dataDirectory] = [dataDirectory]
        flags[GatewaySettingsCatalog.http] = ["127.0.0.1:0"]
        return try GatewaySettings.resolve(SettingsLayers(flags: flags, environment: [:]))
    }

    static func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-wiring")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    @Test("bridge only: the log first, then the bridge, then HTTP; the readings and dead-letter streams exist; no processors asked for")
    func bridgeOnly() throws {
        try Self.withDirectory { directory in
            let settings = try Self.settings([GatewaySettingsCatalog.roles: ["bridge"], GatewaySettingsCatalog.mqttURL: ["mqtt://127.0.0.1:1"]], dataDirectory: directory + "/data")
            let asked = Mutex(0)
            let gateway = try Gateway.make(settings: settings, logger: Self.logger) { _ in
                asked.withLock { $0 += 1 }
                return ([], NoReasons())
            }
            defer { gateway.log.close() }
            #expect(asked.withLock { $0 } == 0)
            #expect(gateway.bridge != nil)
            #expect(gateway.services.count == 3)
            #expect(gateway.services.first is LogService)
            #expect(gateway.services[1] is MQTTBridge)
            #expect(try gateway.log.streamNames().sorted() == [KappaStreams.deadLetters, KappaStreams.readings].sorted())
            #expect(gateway.streams.map(\.name) == [KappaStreams.readings, KappaStreams.deadLetters])
            #expect(gateway.streams[0].partitionCount == settings.readingPartitions)
        }
    }

    @Test("processor roles without a database: refused with what to give instead")
    func processorsNeedADatabase() throws {
        try Self.withDirectory { directory in
            let settings = try Self.settings([GatewaySettingsCatalog.roles: ["rollups"]], dataDirectory: directory + "/data")
            #expect(settings.database == nil)
            #expect(throws: SettingsError("the processors need a database: give --database, KAPPA_DATABASE or PG* variables, or run only --roles bridge")) {
                try Gateway.make(settings: settings, logger: Self.logger) { _ in ([], NoReasons()) }
            }
        }
    }

    @Test("processors and bridge: the factory gets the roles in order, the database, the bridge's intake; its services run between the log and the bridge")
    func processorsWiring() throws {
        try Self.withDirectory { directory in
            let settings = try Self.settings([
                GatewaySettingsCatalog.roles: ["bridge", "rollups", "devices"], GatewaySettingsCatalog.mqttURL: ["mqtt://127.0.0.1:1"],
                GatewaySettingsCatalog.database: ["host=127.0.0.1 port=1 dbname=kappa"],
            ], dataDirectory: directory + "/data")
            let seen = Mutex<Gateway.ProcessorWiring?>(nil)
            let gateway = try Gateway.make(settings: settings, logger: Self.logger) { wiring in
                seen.withLock { $0 = wiring }
                return ([Placeholder()], NoReasons())
            }
            defer { gateway.log.close() }
            let wiring = try #require(seen.withLock { $0 })
            #expect(wiring.roles == [.devices, .rollups])
            #expect(wiring.database.conninfo == "host=127.0.0.1 port=1 dbname=kappa")
            #expect(wiring.intake != nil)
            #expect(wiring.alertSink == nil)
            #expect(gateway.services.count == 4)
            #expect(gateway.services[1] is Placeholder)
            #expect(gateway.services[2] is MQTTBridge)
        }
    }

    @Test("anomalies with an alert topic and a webhook: both sinks fanned out, each delivering service before the processors")
    func alertSinks() async throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-wiring")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let settings = try Self.settings([
            GatewaySettingsCatalog.roles: ["anomalies"], GatewaySettingsCatalog.mqttURL: ["mqtt://127.0.0.1:1"],
            GatewaySettingsCatalog.database: ["host=127.0.0.1 port=1 dbname=kappa"],
            GatewaySettingsCatalog.alertTopic: ["alerts/{device}"], GatewaySettingsCatalog.alertWebhook: ["http://127.0.0.1:1/hook"],
        ], dataDirectory: directory + "/data")
        let seen = Mutex<Gateway.ProcessorWiring?>(nil)
        let gateway = try Gateway.make(settings: settings, logger: Self.logger) { wiring in
            seen.withLock { $0 = wiring }
            return ([Placeholder()], NoReasons())
        }
        defer { gateway.log.close() }
        let wiring = try #require(seen.withLock { $0 })
        let fanOut = try #require(wiring.alertSink as? AlertFanOut)
        #expect(fanOut.sinks.count == 2)
        #expect((fanOut.sinks.first as? MQTTAlertSink)?.topicTemplate == "alerts/{device}")
        #expect(wiring.intake == nil)
        #expect(gateway.bridge == nil)
        #expect(gateway.services.count == 5)
        #expect(gateway.services[1] is MQTTClientService)
        #expect(gateway.services[2] is WebhookAlertSink)
        #expect(gateway.services[3] is Placeholder)
        let webhook = try #require(fanOut.sinks.last as? WebhookAlertSink)
        await webhook.stop()
    }
}
