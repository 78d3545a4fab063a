import KappaCore
import KappaJetStream
import KappaLog
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

/// Two gateways' bridges on one JetStream log (docs/several-gateways.md), one of them behind the other's
/// appends when it commits a burst, then killed before acknowledging it: the burst must be in the log once,
/// and the restarted gateway must recognise every message the broker resends.
///
/// This is what `SeveralGatewaysTests` saw as "resends not recognised": readings the processors dropped as
/// duplicates there were one append's records stored twice by JetStream, not resends stored again.
@Suite("Message ingestor on a shared JetStream log: a stale gateway's burst is stored once and its resends recognised", .timeLimit(.minutes(2)))
struct SharedJetStreamRedeliveryTests {
    let logger = Logger(label: "kappa.test.shared-jetstream-redelivery")

    struct Gateway {
        let log: JetStreamLog
        let readings: any LogStream
        let ingestor: MessageIngestor
    }

    /// A gateway as `kappa run` makes it: its own NATS connection and view of the streams, its own session.
    func gateway(_ clientID: String, cluster: NATSCluster, creating: Bool) throws -> Gateway {
        let log = try JetStreamLog.connect(configuration: JetStreamConfiguration(servers: cluster.urls, replicas: 1), logger: logger)
        let readings = creating ? try log.createStream(named: KappaStreams.readings, partitionCount: 1) : try log.openStream(named: KappaStreams.readings)
        let deadLetters = creating ? try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1) : try log.openStream(named: KappaStreams.deadLetters)
        let ingestor = MessageIngestor(
            router: TopicRouter(routes: TopicRoute.defaults), decoder: PayloadDecoder(),
            readings: readings, deadLetters: deadLetters, statistics: BridgeStatistics(routeCount: TopicRoute.defaults.count),
            session: DeliverySession.of(clientID: clientID)
        )
        try ingestor.recoverDeliveries()
        return Gateway(log: log, readings: readings, ingestor: ingestor)
    }

    /// Bare numbers are stamped with the receive time, so only the delivery tells a resent one apart.
    func message(_ gateway: String, _ index: Int) -> (topic: String, payload: [UInt8], packetID: UInt16) {
        ("devices/\(gateway)\(index)/v", Array("\(index)".utf8), UInt16(index))
    }

    @Test func aGatewayBehindAnothersAppendsStoresItsBurstOnceAndRecognisesTheResends() async throws {
        let cluster = try await NATSCluster.start(nodes: 1)
        defer { cluster.stop() }
        let (stored, recognised) = try await Blocking.run { () throws -> ([Reading], Int) in
            let a = try gateway("gateway-a", cluster: cluster, creating: true)
            let b = try gateway("gateway-b", cluster: cluster, creating: false)
            defer { b.log.close() }
            for gateway in [a, b] { gateway.ingestor.connectionStarted(sessionPresent: false) }
            let first = message("a", 1)
            try a.ingestor.ingest(topic: first.topic, payload: first.payload, packetID: first.packetID, receivedAt: .now())
            // B appends three: A's view of the partition's end is now three records behind.
            for index in 1...3 {
                let next = message("b", index)
                try b.ingestor.ingest(topic: next.topic, payload: next.payload, packetID: next.packetID, receivedAt: .now())
            }
            // A commits a burst of ten and dies before acknowledging it (its connection simply goes away).
            for index in 2...11 {
                let next = message("a", index)
                a.ingestor.stage(topic: next.topic, payload: next.payload, packetID: next.packetID, receivedAt: .now())
            }
            try a.ingestor.commit()
            a.log.close()

            // A again, same client id: the broker resends the unacknowledged burst.
            let restarted = try gateway("gateway-a", cluster: cluster, creating: false)
            defer { restarted.log.close() }
            restarted.ingestor.connectionStarted(sessionPresent: true)
            for index in 2...11 {
                let next = message("a", index)
                restarted.ingestor.stage(topic: next.topic, payload: next.payload, packetID: next.packetID, receivedAt: .now())
            }
            try restarted.ingestor.commit()
            return (try LogContents.readings(of: restarted.readings), restarted.ingestor.statistics.snapshot.redeliveredMessages)
        }
        let devices = stored.map(\.device)
        #expect(devices.filter { $0.hasPrefix("a") }.sorted() == (1...11).map { "a\($0)" }.sorted(),
                "A's 11 messages as stored: \(devices)")
        #expect(devices.filter { $0.hasPrefix("b") } == ["b1", "b2", "b3"])
        #expect(recognised == 10, "resends recognised: \(recognised) of 10")
    }
}
