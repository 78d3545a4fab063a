import KappaCore
import KappaMQTT
import KappaSparkplug
import Logging
import Synchronization

/// Publishes messages over MQTT connections (a pool the devices share, or one per device), in order per
/// device, with at most `PublishOptions.window` messages per connection unacknowledged.
///
/// The window without per-message bookkeeping: a connection's messages go out in slices of a quarter
/// window. Every message of a slice but the last is queued with the non-blocking `publish`; the last is sent
/// with `publishAndWait` from a task of its own. MQTT requires a broker to acknowledge a connection's
/// messages in the order it received them (3.1.1 §4.6), so that acknowledgement confirms the whole slice,
/// and the acknowledged count stays exact. A slice goes out as soon as the unconfirmed ones leave room for it
/// in the window, so a connection does not idle while acknowledgements travel (an idle connection would meet
/// the 40 ms stall of Nagle's algorithm on a broker against delayed ACKs).
///
/// Order: publishing runs on a serial executor (see `run(_:)`); the task sending a slice's last message is
/// enqueued there before the publishing task yields, so it sends before the next slice is queued.
///
/// Sparkplug messages (`SimulatedMessage.sparkplug`) go over one connection per edge node, whatever the
/// layout: its client id is the prefix followed by `{group}-{edge node}`, its will the node's NDEATH, and it
/// listens for the host's rebirth requests on its NCMD topic. Each slice is encoded just before it is sent
/// (`SimulatedEdgeNode`), so births come first after a rebirth request or a reconnect.
public final class MQTTFleetPublisher {
    public let options: PublishOptions
    public let statistics: RunStatistics
    private let logger: Logger
    /// Every connection, in the order it was opened.
    private var lanes: [Lane] = []
    /// Per-device layout: each device's connection.
    private var laneOfDevice: [String: Lane] = [:]
    private let executor = SerialQueueExecutor(label: "kappa-sim.publisher")

    private struct Slice {
        var task: Task<Void, any Error>
        var count: Int
    }

    /// Set from the network thread when the host asks the edge node to rebirth; taken by the publishing task.
    private final class RebirthFlag: Sendable {
        let requested = Atomic(false)
    }

    private final class Lane {
        var client: MQTTClient
        let clientID: String?
        /// Set for a Sparkplug edge node's connection.
        var edgeNode: SimulatedEdgeNode?
        let rebirth: RebirthFlag
        /// Sent and not yet confirmed, oldest first.
        var slices: [Slice] = []
        var unconfirmed = 0
        var sinceReconnect = 0
        var outgoing: [SimulatedMessage] = []

        init(client: MQTTClient, clientID: String?, rebirth: RebirthFlag = RebirthFlag()) {
            self.client = client
            self.clientID = clientID
            self.rebirth = rebirth
        }
    }

    public init(options: PublishOptions, statistics: RunStatistics, logger: Logger) {
        self.options = options
        self.statistics = statistics
        self.logger = logger
    }

    private var sliceSize: Int { max(1, options.window / 4) }

    /// Opens the pooled connections (per device, each opens when its device first sends); throws
    /// `connectionFailed` naming the broker when one cannot be opened in time.
    public func connect() async throws {
        guard case .pooled(let count) = options.layout else { return }
        for _ in 0..<max(1, count) {
            lanes.append(Lane(client: try await openClient(clientID: nil), clientID: nil))
            statistics.recordConnection()
        }
    }

    private func openClient(clientID: String?, will: MQTTConfiguration.Will? = nil, onMessage: @escaping MQTTClient.MessageHandler = { _ in }) async throws -> MQTTClient {
        var configuration = options.mqtt
        configuration.maxInflightMessages = max(configuration.maxInflightMessages, 1)
        if let clientID { configuration.clientID = clientID }
        configuration.will = will
        let client = try MQTTClient.make(configuration: configuration, logger: logger, onMessage: onMessage)
        try client.start()
        do {
            try await client.waitUntilConnected(timeout: options.connectTimeout)
        } catch {
            await Blocking.run { client.disconnect() }
            throw SimulatorError(
                code: .connectionFailed,
                message: "cannot connect to the MQTT broker at \(configuration.host):\(configuration.port)\(clientID.map { " as '\($0)'" } ?? ""): \(client.lastProblem ?? "\(error)")"
            )
        }
        return client
    }

    /// Which pooled connection a device uses: a stable FNV-1a hash of its id (never Swift's seeded `Hasher`).
    static func pooledLane(for device: String, of count: Int) -> Int {
        guard count > 1 else { return 0 }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in device.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(count))
    }

    private func lane(for message: SimulatedMessage) async throws -> Lane {
        if let sparkplug = message.sparkplug { return try await lane(for: sparkplug.edgeNode) }
        let device = message.device
        switch options.layout {
        case .pooled:
            return lanes[Self.pooledLane(for: device, of: lanes.count)]
        case .perDevice:
            if let lane = laneOfDevice[device] { return lane }
            let clientID = options.clientIDPrefix + device
            let lane = Lane(client: try await openClient(clientID: clientID), clientID: clientID)
            lanes.append(lane)
            laneOfDevice[device] = lane
            statistics.recordConnection()
            return lane
        }
    }

    /// The edge node's connection, opened with its NDEATH as the will and subscribed to its NCMD topic.
    private func lane(for edgeNode: SparkplugEdgeNode) async throws -> Lane {
        let key = "spBv1.0/" + edgeNode.kappaDevice
        if let lane = laneOfDevice[key] { return lane }
        let clientID = options.clientIDPrefix + "\(edgeNode.group)-\(edgeNode.node)"
        let node = SimulatedEdgeNode(edgeNode: edgeNode)
        let rebirth = RebirthFlag()
        let client = try await openEdgeNodeClient(node, clientID: clientID, rebirth: rebirth)
        let lane = Lane(client: client, clientID: clientID, rebirth: rebirth)
        lane.edgeNode = node
        lanes.append(lane)
        laneOfDevice[key] = lane
        statistics.recordConnection()
        return lane
    }

    private func openEdgeNodeClient(_ node: SimulatedEdgeNode, clientID: String, rebirth: RebirthFlag) async throws -> MQTTClient {
        let death = try node.death()
        let commandTopic = SparkplugTopic(edgeNode: node.edgeNode, messageType: .nodeCommand).topic
        let client = try await openClient(clientID: clientID, will: MQTTConfiguration.Will(topic: death.topic, payload: death.payload)) { command in
            if command.topic == commandTopic, SparkplugEdgeNodePublisher.isRebirthRequest(command.payload) {
                rebirth.requested.store(true, ordering: .relaxed)
            }
        }
        do {
            try await client.subscribe([MQTTSubscription(commandTopic, qos: .atLeastOnce)])
        } catch {
            await Blocking.run { client.disconnect() }
            throw SimulatorError(code: .connectionFailed, message: "edge node \(node.edgeNode) cannot subscribe to \(commandTopic): \(error)")
        }
        return client
    }

    /// An edge node's part of a slice as it goes out now: births first where due (see `SimulatedEdgeNode`).
    private func encode(_ messages: ArraySlice<SimulatedMessage>, on lane: Lane) throws -> ArraySlice<SimulatedMessage> {
        guard var node = lane.edgeNode else { return messages }
        var encoded: [SimulatedMessage] = []
        encoded.reserveCapacity(messages.count + 1)
        for message in messages {
            if lane.rebirth.requested.exchange(false, ordering: .relaxed) { node.requestRebirth() }
            encoded += try node.encode(message)
        }
        lane.edgeNode = node
        return encoded[...]
    }

    /// Runs `body`, which calls `publish` and `finish`, on the publisher's serial executor (see the type's
    /// comment on order).
    public func run<Value>(_ body: () async throws -> Value) async throws -> Value {
        try await withTaskExecutorPreference(executor) {
            try await body()
        }
    }

    /// Hands `batch` over, each connection's part as soon as its window has room. Call inside `run(_:)`.
    public func publish(_ batch: [SimulatedMessage]) async throws {
        var touched: [Lane] = []
        for message in batch {
            let lane = try await lane(for: message)
            if lane.outgoing.isEmpty { touched.append(lane) }
            lane.outgoing.append(message)
        }
        for lane in touched {
            var start = lane.outgoing.startIndex
            while start < lane.outgoing.endIndex {
                let end = min(start + sliceSize, lane.outgoing.endIndex)
                while lane.unconfirmed + (end - start) > options.window, !lane.slices.isEmpty {
                    await settleOldest(lane)
                }
                if let dropEvery = options.dropEvery, lane.sinceReconnect >= dropEvery {
                    while !lane.slices.isEmpty { await settleOldest(lane) }
                    try await reconnect(lane)
                }
                await send(try encode(lane.outgoing[start..<end], on: lane), on: lane)
                start = end
            }
            lane.outgoing.removeAll(keepingCapacity: true)
        }
    }

    /// Waits until everything sent is acknowledged, then closes the connections.
    public func finish() async {
        for lane in lanes {
            while !lane.slices.isEmpty { await settleOldest(lane) }
        }
        for lane in lanes where lane.edgeNode != nil {
            await announceDeath(lane)
        }
        let clients = lanes.map(\.client)
        lanes.removeAll()
        laneOfDevice.removeAll()
        await Blocking.run { clients.forEach { $0.disconnect() } }
    }

    private func send(_ messages: ArraySlice<SimulatedMessage>, on lane: Lane) async {
        let qos = options.qos
        let client = lane.client
        var queued = 0
        for message in messages.dropLast() {
            do {
                try client.publish(topic: message.topic, payload: message.payload, qos: qos)
                statistics.recordPublished(message, qos: qos)
                queued += 1
            } catch {
                statistics.recordError()
                logger.debug("publish failed", metadata: ["kappa.topic": "\(message.topic)", "kappa.problem": "\(error)"])
            }
        }
        guard let last = messages.last else { return }
        statistics.recordPublished(last, qos: qos)
        let task = Task(executorPreference: executor) {
            try await client.publishAndWait(topic: last.topic, payload: last.payload, qos: qos)
        }
        lane.slices.append(Slice(task: task, count: queued + 1))
        lane.unconfirmed += queued + 1
        lane.sinceReconnect += messages.count
        // The task is queued on the serial executor ahead of us: it sends `last` before we publish more.
        await Task.yield()
    }

    private func settleOldest(_ lane: Lane) async {
        guard !lane.slices.isEmpty else { return }
        let slice = lane.slices.removeFirst()
        lane.unconfirmed -= slice.count
        do {
            try await slice.task.value
            statistics.recordAcknowledged(slice.count)
        } catch {
            statistics.recordError()
            logger.warning("messages were not acknowledged", metadata: ["kappa.count": "\(slice.count)", "kappa.problem": "\(error)"])
        }
    }

    /// An edge node leaving on purpose publishes its NDEATH itself: a DISCONNECT tells the broker not to.
    private func announceDeath(_ lane: Lane) async {
        guard let node = lane.edgeNode else { return }
        do {
            let death = try node.death()
            try await lane.client.publishAndWait(topic: death.topic, payload: death.payload, qos: .atLeastOnce)
        } catch {
            statistics.recordError()
            logger.warning("the edge node's NDEATH was not acknowledged", metadata: ["kappa.problem": "\(error)"])
        }
    }

    /// Chaos: drops the connection and opens a new one (everything sent so far is acknowledged first). An edge
    /// node announces its death, and starts a new session on the new connection (next `bdSeq`, births first).
    private func reconnect(_ lane: Lane) async throws {
        let old = lane.client
        await announceDeath(lane)
        await Blocking.run { old.disconnect() }
        if var node = lane.edgeNode {
            node.startNewSession()
            lane.edgeNode = node
            lane.client = try await openEdgeNodeClient(node, clientID: lane.clientID!, rebirth: lane.rebirth)
            lane.sinceReconnect = 0
            statistics.recordReconnect()
            return
        }
        lane.client = try await openClient(clientID: lane.clientID)
        lane.sinceReconnect = 0
        statistics.recordReconnect()
    }
}
