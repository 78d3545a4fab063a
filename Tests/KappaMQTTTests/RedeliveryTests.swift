import KappaCore
import KappaLog
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

@Suite("Message ingestor: what the broker resends after a crash is stored once")
struct RedeliveryTests {
    let logger = Logger(label: "kappa.test.redelivery")

    func ingestor(readings: any LogStream, deadLetters: any LogStream, session: UInt32 = DeliverySession.unknown) -> MessageIngestor {
        MessageIngestor(
            router: TopicRouter(routes: TopicRoute.defaults), decoder: PayloadDecoder(),
            readings: readings, deadLetters: deadLetters, statistics: BridgeStatistics(routeCount: TopicRoute.defaults.count),
            session: session
        )
    }

    /// Bare numbers are stamped with the receive time, so only the delivery tells a resent one apart.
    func message(_ index: Int) -> (topic: String, payload: [UInt8], packetID: UInt16) {
        ("devices/d\(index % 5)/v", Array("\(index % 3)".utf8), UInt16(index))
    }

    @Test func afterARestartTheResentMessagesAreAcknowledgedNotStored() throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-redelivery")
        do {
            let log = try DiskLog(directory: directory, logger: logger)
            let first = ingestor(readings: try log.createStream(named: KappaStreams.readings, partitionCount: 4),
                                 deadLetters: try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1))
            try first.recoverDeliveries()
            first.connectionStarted(sessionPresent: false)
            for index in 1...300 {
                let (topic, payload, id) = message(index)
                first.stage(topic: topic, payload: payload, packetID: id, receivedAt: .now())
            }
            try first.commit()
            log.close()  // the process dies here: nothing of 201…300 was acknowledged
        }
        let log = try DiskLog(directory: directory, logger: logger)
        defer { log.close() }
        let readings = try log.openStream(named: KappaStreams.readings)
        let second = ingestor(readings: readings, deadLetters: try log.openStream(named: KappaStreams.deadLetters))
        try second.recoverDeliveries()
        second.connectionStarted(sessionPresent: true)
        // The broker resends 201…300 with their identifiers, then sends new messages whose payloads repeat old ones.
        for index in 201...400 {
            let (topic, payload, id) = message(index)
            second.stage(topic: topic, payload: payload, packetID: id, receivedAt: .now())
        }
        try second.commit()

        let stored = try LogContents.readings(of: readings)
        #expect(stored.count == 400, "\(stored.count) readings for 400 messages")
        let statistics = second.statistics.snapshot
        #expect(statistics.redeliveredMessages == 100)
        #expect(statistics.redeliveredReadings == 100)
    }

    @Test func aResentMessageTheLogLacksIsStored() throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-redelivery")
        let log = try DiskLog(directory: directory, logger: logger)
        defer { log.close() }
        let readings = try log.createStream(named: KappaStreams.readings, partitionCount: 4)
        let ingest = ingestor(readings: readings, deadLetters: try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1))
        try ingest.recoverDeliveries()
        ingest.connectionStarted(sessionPresent: false)
        try ingest.ingest(topic: "devices/d1/v", payload: Array("1".utf8), packetID: 10, receivedAt: .now())
        // A burst the log refused: never stored, so its resending must be.
        ingest.stage(topic: "devices/d1/v", payload: Array("2".utf8), packetID: 11, receivedAt: .now())
        ingest.discardPending()
        ingest.connectionStarted(sessionPresent: true)
        try ingest.ingest(topic: "devices/d1/v", payload: Array("2".utf8), packetID: 11, receivedAt: .now())
        try ingest.ingest(topic: "devices/d1/v", payload: Array("1".utf8), packetID: 10, receivedAt: .now())
        #expect(try LogContents.readings(of: readings).map(\.value) == [1, 2])
    }

    /// Two gateways' sessions on one log (a shared JetStream log, here a disk log): A crashes, B goes on
    /// appending (its identifiers behind A's), then A comes back and the broker resends A's messages.
    @Test func aSessionRecognisesItsResendsAmongAnotherSessionsDeliveries() throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-redelivery")
        let log = try DiskLog(directory: directory, logger: logger)
        defer { log.close() }
        let readings = try log.createStream(named: KappaStreams.readings, partitionCount: 4)
        let deadLetters = try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1)
        let sessionA = DeliverySession.of(clientID: "gateway-a"), sessionB = DeliverySession.of(clientID: "gateway-b")
        func message(_ gateway: String, _ index: Int) -> (topic: String, payload: [UInt8], packetID: UInt16) {
            ("devices/\(gateway)\(index % 5)/v", Array("\(index % 3)".utf8), UInt16(gateway == "a" ? 1_000 + index : index))
        }
        let first = ingestor(readings: readings, deadLetters: deadLetters, session: sessionA)
        let other = ingestor(readings: readings, deadLetters: deadLetters, session: sessionB)
        for gateway in [first, other] {
            try gateway.recoverDeliveries()
            gateway.connectionStarted(sessionPresent: false)
        }
        for index in 1...300 {
            for (name, gateway) in [("a", first), ("b", other)] {
                let (topic, payload, id) = message(name, index)
                try gateway.ingest(topic: topic, payload: payload, packetID: id, receivedAt: .now())
            }
        }
        // A dies with 201…300 unacknowledged; B stores 301…400, the newest deliveries in the log.
        for index in 301...400 {
            let (topic, payload, id) = message("b", index)
            try other.ingest(topic: topic, payload: payload, packetID: id, receivedAt: .now())
        }
        let restarted = ingestor(readings: readings, deadLetters: deadLetters, session: sessionA)
        try restarted.recoverDeliveries()
        restarted.connectionStarted(sessionPresent: true)
        for index in 201...400 {
            let (topic, payload, id) = message("a", index)
            restarted.stage(topic: topic, payload: payload, packetID: id, receivedAt: .now())
        }
        try restarted.commit()

        let stored = try LogContents.readings(of: readings)
        let storedByA = stored.filter { $0.device.hasPrefix("a") }.count
        #expect(storedByA == 400, "\(storedByA) readings for A's 400 messages")
        #expect(stored.count - storedByA == 400)
        #expect(restarted.statistics.snapshot.redeliveredMessages == 100)
    }
}
