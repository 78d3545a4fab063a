import Dispatch
import KappaCore
import KappaLog
import KappaSparkplug
import Logging
import ServiceLifecycle
import Synchronization

/// The ingestion service: subscribes to the broker and appends every message's readings to the log before
/// its acknowledgement leaves.
///
/// When the log refuses appends (free disk below the floor, a JetStream log unreachable) the bridge holds the current message in the
/// network thread and tries again every `retryInterval`: nothing more is read from the broker, which keeps
/// the rest in the persistent session. It says so in the log and in `statistics`, and resumes by itself.
/// On graceful shutdown it disconnects (no more intake); the log is flushed by its owner afterwards.
///
/// With Sparkplug on, it restores the Sparkplug session from the `sparkplug-lifecycle` stream before it
/// subscribes, and acts as a primary host application: its `STATE` birth is published (retained) once its
/// subscriptions are in place on every connection, its death is the connection's will, and a graceful
/// shutdown publishes the death itself (a clean disconnect does not fire the will).
public final class MQTTBridge: Service, Sendable {
    public let configuration: BridgeConfiguration
    public let statistics: BridgeStatistics
    private let client: MQTTClient
    private let handler: BridgeMessageHandler
    private let logger: Logger
    private let subscriptionsConfirmed = Atomic<Bool>(false)

    private init(configuration: BridgeConfiguration, statistics: BridgeStatistics, client: MQTTClient, handler: BridgeMessageHandler, logger: Logger) {
        self.configuration = configuration
        self.statistics = statistics
        self.client = client
        self.handler = handler
        self.logger = logger
    }

    public static func make(
        configuration: BridgeConfiguration,
        readings: any LogStream,
        deadLetters: any LogStream,
        sparkplugLifecycle: (any LogStream)? = nil,
        intakePressure: IntakePressure = IntakePressure(),
        logger: Logger
    ) throws -> MQTTBridge {
        guard !configuration.sparkplug || sparkplugLifecycle != nil else {
            throw MQTTError(code: .invalidConfiguration, message: "Sparkplug needs the \(KappaStreams.sparkplugLifecycle) stream to keep births in")
        }
        let statistics = BridgeStatistics(routeCount: configuration.routes.count, intakePressure: intakePressure)
        let ingestor = MessageIngestor(
            router: TopicRouter(routes: configuration.routes),
            decoder: PayloadDecoder(limits: configuration.decodingLimits),
            readings: readings, deadLetters: deadLetters, statistics: statistics,
            sparkplugLifecycle: configuration.sparkplug ? sparkplugLifecycle : nil,
            session: configuration.mqtt.clientID.flatMap { $0.isEmpty ? nil : DeliverySession.of(clientID: $0) } ?? DeliverySession.unknown
        )
        var mqtt = configuration.mqtt
        var host: HostAnnouncement? = nil
        if configuration.sparkplug {
            // One timestamp for the birth and the will, as the specification asks: edge nodes tell a late
            // will of an earlier run from the current session's by it.
            let announcement = HostAnnouncement(state: SparkplugHostState(hostID: configuration.sparkplugHostID), sessionStart: .now())
            mqtt.will = MQTTConfiguration.Will(topic: announcement.state.topic, payload: announcement.death, qos: .atLeastOnce, retain: true)
            host = announcement
        }
        let handler = BridgeMessageHandler(ingestor: ingestor, retryInterval: configuration.retryInterval, host: host, logger: logger)
        let client = try MQTTClient.make(
            configuration: mqtt, logger: logger,
            onMessage: { message in handler.stage(message) },
            onBatchEnd: { handler.commit() },
            onConnect: { sessionPresent in
                ingestor.connectionStarted(sessionPresent: sessionPresent)
                handler.connected()
            }
        )
        handler.sendCommands(through: client)
        return MQTTBridge(configuration: configuration, statistics: statistics, client: client, handler: handler, logger: logger)
    }

    public var isConnected: Bool { client.isConnected }
    /// Whether the connection's socket is holding acknowledgements back (corked); only ever true during a burst.
    var acknowledgementsHeldBack: Bool { client.acknowledgementsHeldBack }
    public var connectionCount: Int { client.connectionCount }
    public var lastProblem: String? { client.lastProblem }

    /// Whether the broker has confirmed the bridge's subscriptions since it started.
    public var isSubscribed: Bool { subscriptionsConfirmed.load(ordering: .acquiring) }

    /// Waits until the broker has confirmed the subscriptions: a new session takes nothing published before.
    public func waitUntilSubscribed(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isSubscribed {
            guard ContinuousClock.now < deadline else {
                throw MQTTError(code: .timedOut, message: "the broker did not confirm the subscriptions within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until the broker accepted the bridge (tests, readiness).
    public func waitUntilConnected(count: Int = 1, timeout: Duration = .seconds(10)) async throws {
        try await client.waitUntilConnected(count: count, timeout: timeout)
    }

    public func run() async throws {
        logger.info("MQTT bridge starting", metadata: [
            "mqtt.broker": "\(configuration.mqtt.host):\(configuration.mqtt.port)",
            "mqtt.client_id": "\(configuration.mqtt.clientID ?? "(generated)")",
            "mqtt.subscriptions": "\(configuration.subscriptions.map(\.filter))",
        ])
        // Before the first message: which deliveries the log already holds, so that what the broker resends
        // after a crash is acknowledged without being stored twice.
        let handler = self.handler
        try await Blocking.run { try handler.recoverDeliveries() }
        if let restored = try await Blocking.run({ try handler.restoreSparkplugSession() }) {
            logger.info("Sparkplug session restored from the log", metadata: [
                "kappa.records_read": "\(restored.recordsRead)", "kappa.records_fed": "\(restored.recordsFed)",
                "kappa.undecodable": "\(restored.undecodable)",
            ])
        }
        try client.start()
        do {
            // Recorded now and sent at every CONNACK that finds no session, so a broker that is down at
            // start is no failure: the bridge connects and subscribes when it comes up.
            try await client.subscribe(configuration.subscriptions)
        } catch let error as MQTTError where error.code == .subscriptionRefused {
            await stop()
            throw error
        } catch {
            logger.warning("MQTT subscribe not confirmed yet; it is sent again on the next connect", metadata: ["mqtt.problem": "\(error)"])
        }
        handler.subscriptionsRecorded()
        // Confirmed only once the broker granted them or kept them in its session: until then a new session
        // has no subscriptions, and what is published meanwhile is not ours to take.
        while !client.subscriptionsActive && !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if client.subscriptionsActive {
            subscriptionsConfirmed.store(true, ordering: .releasing)
            logger.info("MQTT subscriptions confirmed", metadata: ["mqtt.subscriptions": "\(configuration.subscriptions.map(\.filter))"])
            handler.announceHostIfNeeded()
        }
        try? await gracefulShutdown()
        await stop()
    }

    /// Stops intake: a held message is left unacknowledged, then the client disconnects.
    public func stop() async {
        handler.stopRequested()
        await handler.announceHostDeath()
        let client = self.client
        // disconnect() joins the network thread: do that off the cooperative pool.
        await Blocking.run { client.disconnect() }
        let totals = statistics.snapshot
        logger.info("MQTT bridge stopped", metadata: [
            "kappa.messages": "\(totals.messages)", "kappa.readings": "\(totals.readings)", "kappa.dead_letters": "\(totals.deadLetters)",
        ])
    }
}

/// Runs on the MQTT network thread: stages each message of a burst, then commits the burst to the log
/// before the client writes its acknowledgements; while the log refuses, it holds the burst and retries.
final class BridgeMessageHandler: Sendable {
    private let ingestor: MessageIngestor
    private let retryInterval: Duration
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    /// Where Sparkplug rebirth requests and the host's `STATE` go; set once the client exists (the client
    /// needs this handler first).
    private let commandClient = Mutex<MQTTClient?>(nil)
    private let host: HostAnnouncement?
    /// Whether the subscriptions are recorded in the client, so a connection sends them before the birth.
    private let announceOnConnect = Atomic<Bool>(false)
    /// The connection (by count) the host birth was last published on.
    private let announcedConnection = Atomic<Int>(0)

    init(ingestor: MessageIngestor, retryInterval: Duration, host: HostAnnouncement? = nil, logger: Logger) {
        self.ingestor = ingestor
        self.retryInterval = retryInterval
        self.host = host
        self.logger = logger
    }

    func sendCommands(through client: MQTTClient) {
        commandClient.withLock { $0 = client }
    }

    func stopRequested() {
        stopping.store(true, ordering: .releasing)
    }

    func recoverDeliveries() throws(LogError) {
        try ingestor.recoverDeliveries()
    }

    func restoreSparkplugSession() throws(LogError) -> SparkplugRestoreSummary? {
        try ingestor.restoreSparkplugSession()
    }

    func subscriptionsRecorded() {
        announceOnConnect.store(true, ordering: .releasing)
    }

    /// On the network thread, at every CONNACK, after the resubscriptions are queued: the host's birth goes
    /// out behind them, so edge nodes that answer it with births reach a subscribed session.
    func connected() {
        guard announceOnConnect.load(ordering: .acquiring) else { return }
        announceHostIfNeeded()
    }

    /// Publishes the host's `STATE` birth (QoS 1, retained) unless this connection already carried it. A
    /// second copy in a race is harmless: same payload, same timestamp.
    func announceHostIfNeeded() {
        guard let host, let client = commandClient.withLock({ $0 }) else { return }
        let connection = client.connectionCount
        guard announcedConnection.exchange(connection, ordering: .acquiringAndReleasing) != connection else { return }
        do {
            try client.publish(topic: host.state.topic, payload: host.birth, qos: .atLeastOnce, retain: true)
            logger.info("Sparkplug host STATE birth published", metadata: ["mqtt.topic": "\(host.state.topic)"])
        } catch {
            announcedConnection.store(0, ordering: .releasing)
            logger.warning("Sparkplug host STATE birth not sent", metadata: ["mqtt.topic": "\(host.state.topic)", "kappa.error": "\(error)"])
        }
    }

    /// On graceful shutdown: a clean DISCONNECT does not fire the will, so the death is published here,
    /// waiting at most two seconds for the broker's acknowledgement.
    func announceHostDeath() async {
        guard let host, let client = commandClient.withLock({ $0 }), client.isConnected else { return }
        let logger = self.logger
        // Unstructured: a stop that comes from cancellation must still wait (a cancelled sleep returns at once).
        await Task {
            let acknowledged = CompletionFlag()
            let failed = CompletionFlag()
            Task {
                do {
                    try await client.publishAndWait(topic: host.state.topic, payload: host.death, qos: .atLeastOnce, retain: true)
                    acknowledged.set()
                } catch {
                    failed.set()
                }
            }
            let deadline = ContinuousClock.now + .seconds(2)
            while !acknowledged.isSet && !failed.isSet && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            if acknowledged.isSet {
                logger.info("Sparkplug host STATE death published", metadata: ["mqtt.topic": "\(host.state.topic)"])
            } else {
                logger.warning("Sparkplug host STATE death not acknowledged; the broker may keep the birth", metadata: ["mqtt.topic": "\(host.state.topic)"])
            }
        }.value
    }

    func stage(_ message: MQTTMessage) {
        ingestor.stage(topic: message.topic, payload: message.payload, packetID: message.packetID, receivedAt: .now())
    }

    /// True once everything staged is in the log; false when it could not be stored and the burst must not
    /// be acknowledged (shutdown while held, or an error that waiting will not cure).
    func commit() -> Bool {
        var heldSince: ContinuousClock.Instant? = nil
        var lastWarning = ContinuousClock.now
        while true {
            do {
                try ingestor.commit()
                if let heldSince {
                    ingestor.statistics.resume()
                    logger.notice("log accepts appends again; MQTT intake resumed", metadata: ["kappa.held": "\(ContinuousClock.now - heldSince)"])
                }
                sendRebirthRequests()
                return true
            } catch {
                let retryable = error.isTransient
                if heldSince == nil || ContinuousClock.now - lastWarning > .seconds(30) {
                    logger.warning(retryable
                        ? "log refuses appends; MQTT intake paused, the broker keeps the rest"
                        : "log append failed; messages left unacknowledged for redelivery",
                        metadata: ["kappa.error": "\(error)"])
                    lastWarning = ContinuousClock.now
                }
                if heldSince == nil {
                    heldSince = ContinuousClock.now
                    ingestor.statistics.pause(because: "\(error)")
                }
                guard retryable, !stopping.load(ordering: .acquiring) else {
                    // Unacknowledged, so the broker sends them again: keeping them would store them twice.
                    ingestor.discardPending()
                    return false
                }
                sleep(retryInterval)
            }
        }
    }

    /// Queues the Sparkplug rebirth requests of the committed burst. QoS 0 and no waiting: libmosquitto writes
    /// them with the burst's acknowledgements, and a lost one is asked again at the edge node's next misstep.
    private func sendRebirthRequests() {
        let commands = ingestor.takeRebirthCommands()
        guard !commands.isEmpty, let client = commandClient.withLock({ $0 }) else { return }
        for command in commands {
            do {
                try client.publish(topic: command.topic, payload: command.payload, qos: .atMostOnce)
                ingestor.statistics.sparkplugRebirthRequested()
                logger.info("Sparkplug rebirth requested", metadata: ["mqtt.topic": "\(command.topic)"])
            } catch {
                logger.warning("Sparkplug rebirth request not sent", metadata: ["mqtt.topic": "\(command.topic)", "kappa.error": "\(error)"])
            }
        }
    }

    /// Sleeps in short slices so a shutdown is noticed soon. A plain thread sleep: this is libmosquitto's
    /// network thread, not a Swift concurrency thread.
    private func sleep(_ duration: Duration) {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline && !stopping.load(ordering: .acquiring) {
            var slice = timespec(tv_sec: 0, tv_nsec: 50_000_000)
            var left = timespec()
            while nanosleep(&slice, &left) != 0 && errno == EINTR { slice = left }
        }
    }
}

/// Kappa's Sparkplug `STATE` as a primary host: the topic and its two payloads, fixed for the bridge's life.
struct HostAnnouncement: Sendable {
    let state: SparkplugHostState
    let birth: [UInt8]
    let death: [UInt8]

    init(state: SparkplugHostState, sessionStart: Timestamp) {
        self.state = state
        birth = state.payload(online: true, sessionStart: sessionStart)
        death = state.payload(online: false, sessionStart: sessionStart)
    }
}

/// Set once by one task, polled by another.
private final class CompletionFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
