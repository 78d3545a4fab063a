import KappaCore
import KappaMQTT
import Logging

/// Publishes batches of messages over one or more MQTT connections, in order per connection, with a
/// bounded number of messages in flight.
///
/// Backpressure without per-message bookkeeping: within a batch, every message but the last is queued with
/// the non-blocking `publish`; the last is sent with `publishAndWait` from a task of its own. MQTT requires a
/// broker to acknowledge a connection's messages in the order it received them (3.1.1 §4.6), so that last
/// acknowledgement confirms the whole batch. A connection has at most two batches in flight: batch k+1 goes
/// out while batch k's acknowledgement travels (waiting with an idle connection would meet the 40 ms stall of
/// Nagle's algorithm on a broker against delayed ACKs), and batch k+2 only after it.
///
/// Order: publishing runs on a serial executor (see `run(_:)`); the task sending a batch's last message is
/// enqueued there before the publishing task yields, so it sends before the next batch is queued.
public final class MQTTFleetPublisher {
    public let options: PublishOptions
    public let statistics: RunStatistics
    private let logger: Logger
    private var lanes: [Lane] = []
    private let executor = SerialQueueExecutor(label: "kappa-sim.publisher")
    /// Batches a connection may have unacknowledged at once.
    private let batchesInFlight = 2

    private final class Lane {
        var client: MQTTClient
        var awaited: [(task: Task<Void, any Error>, count: Int)] = []
        var sinceReconnect = 0
        var outgoing: [SimulatedMessage] = []

        init(client: MQTTClient) {
            self.client = client
        }
    }

    public init(options: PublishOptions, statistics: RunStatistics, logger: Logger) {
        self.options = options
        self.statistics = statistics
        self.logger = logger
    }

    /// Opens every connection; throws `connectionFailed` naming the broker when one cannot be opened in time.
    public func connect() async throws {
        for _ in 0..<max(1, options.connections) {
            lanes.append(Lane(client: try await openClient()))
        }
    }

    private func openClient() async throws -> MQTTClient {
        var configuration = options.mqtt
        configuration.maxInflightMessages = max(configuration.maxInflightMessages, 1)
        let client = try MQTTClient.make(configuration: configuration, logger: logger)
        try client.start()
        do {
            try await client.waitUntilConnected(timeout: options.connectTimeout)
        } catch {
            await Blocking.run { client.disconnect() }
            throw SimulatorError(
                code: .connectionFailed,
                message: "cannot connect to the MQTT broker at \(configuration.host):\(configuration.port): \(client.lastProblem ?? "\(error)")"
            )
        }
        return client
    }

    /// Which connection a device uses: a stable FNV-1a hash of its id (never Swift's seeded `Hasher`).
    func lane(for device: String) -> Int {
        guard lanes.count > 1 else { return 0 }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in device.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(lanes.count))
    }

    /// Runs `body`, which calls `publish` and `finish`, on the publisher's serial executor (see the type's
    /// comment on order).
    public func run<Value>(_ body: () async throws -> Value) async throws -> Value {
        try await withTaskExecutorPreference(executor) {
            try await body()
        }
    }

    /// Hands `batch` over once each connection it uses has fewer than two batches unacknowledged.
    /// Call inside `run(_:)`.
    public func publish(_ batch: [SimulatedMessage]) async throws {
        for message in batch {
            lanes[lane(for: message.device)].outgoing.append(message)
        }
        for lane in lanes where !lane.outgoing.isEmpty {
            while lane.awaited.count >= batchesInFlight {
                await settleOldest(lane)
            }
            if let dropEvery = options.dropEvery, lane.sinceReconnect >= dropEvery {
                while !lane.awaited.isEmpty { await settleOldest(lane) }
                try await reconnect(lane)
            }
            await send(lane)
        }
    }

    /// Waits until everything sent is acknowledged, then closes the connections.
    public func finish() async {
        for lane in lanes {
            while !lane.awaited.isEmpty { await settleOldest(lane) }
        }
        let clients = lanes.map(\.client)
        lanes.removeAll()
        await Blocking.run { clients.forEach { $0.disconnect() } }
    }

    private func send(_ lane: Lane) async {
        let qos = options.qos
        let client = lane.client
        let messages = lane.outgoing
        lane.outgoing.removeAll(keepingCapacity: true)
        for message in messages.dropLast() {
            do {
                try client.publish(topic: message.topic, payload: message.payload, qos: qos)
                statistics.recordPublished(message, qos: qos)
            } catch {
                statistics.recordError()
                logger.debug("publish failed", metadata: ["kappa.topic": "\(message.topic)", "kappa.problem": "\(error)"])
            }
        }
        guard let last = messages.last else { return }
        lane.sinceReconnect += messages.count
        statistics.recordPublished(last, qos: qos)
        let task = Task(executorPreference: executor) {
            try await client.publishAndWait(topic: last.topic, payload: last.payload, qos: qos)
        }
        lane.awaited.append((task, messages.count))
        // The task is queued on the serial executor ahead of us: it sends `last` before we publish more.
        await Task.yield()
    }

    private func settleOldest(_ lane: Lane) async {
        guard !lane.awaited.isEmpty else { return }
        let (task, count) = lane.awaited.removeFirst()
        do {
            try await task.value
            statistics.recordAcknowledged(count)
        } catch {
            statistics.recordError()
            logger.warning("a batch was not acknowledged", metadata: ["kappa.problem": "\(error)"])
        }
    }

    /// Chaos: drops the connection and opens a new one (everything sent so far is acknowledged first).
    private func reconnect(_ lane: Lane) async throws {
        let old = lane.client
        await Blocking.run { old.disconnect() }
        lane.client = try await openClient()
        lane.sinceReconnect = 0
        statistics.recordReconnect()
    }
}
