import KappaCore
import KappaSimulator
import Testing

@Suite("Fleet: payloads decode with the gateway's decoders")
struct PayloadDecodingTests {
    let decoder = PayloadDecoder()

    /// The default routes, the line topic's, and the routes `kappa-sim --print-routes` gives for `format`.
    func router(_ format: TelemetryFormat) throws -> TopicRouter {
        let printed = try SimulatorRoutes(format: format).routes.map { try $0.topicRoute() }
        return TopicRouter(routes: TopicRoute.defaults + [try TopicRoute("influx/{device}", format: .lineProtocol)] + printed)
    }

    // Sparkplug is encoded at publish time and decoded by its own session: SparkplugFleetTests.
    @Test("good messages give exactly their readings; bad ones fail for the labelled reason", arguments: TelemetryFormat.allCases.filter { $0 != .sparkplug })
    func decodes(format: TelemetryFormat) throws {
        let router = try router(format)
        let messages = Fleet.generate(Scenarios.everything(format: format), limit: 20_000).messages
        var good = 0, bad = 0
        for message in messages {
            let match = try #require(router.match(topic: message.topic), "\(message.topic)")
            var readings: [Reading] = []
            var problems: [DecodeProblem] = []
            decoder.decode(match: match, payload: message.payload, receivedAt: message.sendTime, into: &readings, problems: &problems)
            if message.isBad {
                let expected = try #require(message.labels.first { $0.kind == .chaos(message.chaos!) }?.reason)
                #expect(readings.isEmpty)
                #expect(problems.map(\.reason) == [expected], "\(problems)")
                bad += 1
            } else {
                #expect(problems.isEmpty, "\(message.topic): \(problems)")
                if format == .number {
                    #expect(readings.map(\.value) == message.readings.map(\.value))
                    #expect(readings.map(\.metric) == message.readings.map(\.metric))
                    #expect(readings.allSatisfy { $0.timeSource == .received })
                } else {
                    #expect(readings == message.readings, "\(String(decoding: message.payload, as: UTF8.self))")
                }
                good += 1
            }
        }
        #expect(good > 1_000 && bad > 0)
    }
}
