import Logging
import Synchronization
import KappaCore

/// An MQTT client over libmosquitto, with its own network thread and automatic reconnection.
///
/// The client keeps the connection's state machine, the subscriptions and the callers waiting for
/// acknowledgements; ``MosquittoConnection`` below it makes every libmosquitto call and runs the thread.
///
/// ## Threading contract
/// The client runs one dedicated network thread (not a Swift concurrency thread). Every callback, and so the
/// message handler, runs on it, one message at a time, in the order the broker sent them.
/// - While the handler runs, nothing else happens on this connection: no keepalive, no acknowledgements. For
///   QoS ≥ 1 the PUBACK/PUBREC is written to the socket only after the handler returns (libmosquitto in
///   threaded mode queues it), so whatever the handler finished before returning (a log append) is done
///   before the broker hears that the message arrived. That is what makes the acknowledgement honest.
/// - The handler may: copy, decode, append to the log synchronously, call `publish`, count things.
/// - It must not: wait on Swift concurrency (no semaphores on tasks, no `await`), wait on PostgreSQL or on
///   anything slow (a handler slower than the keepalive gets the connection dropped), or call `disconnect()`.
///
/// ## Life cycle
/// `start()` connects in the background and keeps reconnecting with backoff until `disconnect()`; after every
/// CONNACK that did not find a stored session the client resubscribes to all its subscriptions. The network
/// thread keeps the client alive until `disconnect()` returns, so a started client must be disconnected.
public final class MQTTClient: Sendable {
    public typealias MessageHandler = @Sendable (MQTTMessage) -> Void
    /// Called on the network thread after a burst of messages was handed to the message handler and before
    /// their acknowledgements are written. Return true once they are stored; false cuts the connection so
    /// that none of them is acknowledged (the broker delivers them again after the reconnect).
    public typealias BatchEndHandler = @Sendable () -> Bool
    /// Called on the network thread when the broker accepted a connection, before any message of it is
    /// handled; `sessionPresent` tells whether the broker kept the session (and resends what was in flight).
    public typealias ConnectHandler = @Sendable (_ sessionPresent: Bool) -> Void

    private let connection: MosquittoConnection
    private let configuration: MQTTConfiguration
    private let logger: Logger
    private let onMessage: MessageHandler
    private let onConnect: ConnectHandler?
    private let shared: Mutex<SharedState>

    private struct SharedState: ~Copyable {
        var machine = ConnectionStateMachine()
        var subscriptions: [MQTTSubscription] = []
        var acknowledgements = AcknowledgementTracker<CheckedContinuation<AcknowledgementResult, any Error>>()
        var connectionWaiters: [Int: (count: Int, continuation: CheckedContinuation<Void, any Error>)] = [:]
        var nextWaiterID = 0
        var stopRequested = false
        var threadStarted = false
        var lastProblem: String? = nil
        /// SUBSCRIBEs sent after a CONNACK that found no session, not yet granted.
        var resubscribing: Set<Int32> = []
        /// Whether the broker holds the subscriptions for the current connection: it granted them, or it
        /// kept the session they were made in.
        var subscriptionsActive = false
    }

    private init(connection: MosquittoConnection, configuration: MQTTConfiguration, logger: Logger, onMessage: @escaping MessageHandler, onConnect: ConnectHandler?) {
        self.connection = connection
        self.configuration = configuration
        self.logger = logger
        self.onMessage = onMessage
        self.onConnect = onConnect
        self.shared = Mutex(SharedState())
    }

    /// Makes a client; nothing is sent until `start()`.
    /// - Parameters:
    ///   - onMessage: called on the network thread for every message received (see the threading contract).
    ///   - onBatchEnd: with it, the network thread reads every packet already waiting on the socket (up to a
    ///     bound) before it writes anything, calls `onBatchEnd`, and only then writes the acknowledgements of
    ///     that burst. A consumer can so store many messages with one write and still acknowledge none before
    ///     it is stored. Without it, each message is acknowledged after its own handler call returns.
    ///   - onConnect: called on the network thread at every accepted CONNACK, before the connection's messages
    ///     and after the subscriptions a new session needs are queued.
    public static func make(
        configuration: MQTTConfiguration,
        logger: Logger,
        onMessage: @escaping MessageHandler = { _ in },
        onBatchEnd: BatchEndHandler? = nil,
        onConnect: ConnectHandler? = nil
    ) throws -> MQTTClient {
        if !configuration.cleanSession && (configuration.clientID ?? "").isEmpty {
            throw MQTTError(code: .invalidConfiguration, message: "a persistent session (clean session off) needs a fixed client id")
        }
        let connection = try MosquittoConnection.make(configuration: configuration, logger: logger, onBatchEnd: onBatchEnd)
        return MQTTClient(connection: connection, configuration: configuration, logger: logger, onMessage: onMessage, onConnect: onConnect)
    }

    // MARK: - Public API

    public var isConnected: Bool { shared.withLock { $0.machine.isConnected } }

    /// Whether the socket is corked (see ``MosquittoConnection``): only ever true while a burst's
    /// acknowledgements are being written.
    var acknowledgementsHeldBack: Bool { connection.acknowledgementsHeldBack }

    /// How many times a CONNACK accepted this client; grows by one on every reconnect.
    public var connectionCount: Int { shared.withLock { $0.machine.connectionCount } }

    /// Whether the broker holds this client's subscriptions on the current connection: granted by SUBACK, or
    /// kept in the session the broker found at CONNACK. False before the first connection.
    public var subscriptionsActive: Bool { shared.withLock { $0.subscriptionsActive } }

    /// Why the last connection attempt or connection failed, for health reports.
    public var lastProblem: String? { shared.withLock { $0.lastProblem } }

    /// Starts the network thread, which connects and keeps reconnecting until `disconnect()`.
    public func start() throws {
        let proceed = shared.withLock { state -> Bool in
            guard !state.threadStarted, !state.stopRequested else { return false }
            state.threadStarted = true
            return true
        }
        guard proceed else { return }
        do {
            try connection.start(delegate: self)
        } catch {
            shared.withLock { $0.threadStarted = false }
            throw error
        }
    }

    /// Waits until the client has been accepted by the broker at least `count` times (1: the first connect;
    /// `connectionCount + 1`: the next reconnect).
    public func waitUntilConnected(count: Int = 1, timeout: Duration = .seconds(10)) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.waitForConnection(count: count) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw MQTTError(code: .timedOut, message: "not connected to \(self.configuration.host):\(self.configuration.port) after \(timeout)\(self.lastProblem.map { ": \($0)" } ?? "")")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Adds subscriptions. They are remembered and sent again after any reconnect that lost the session.
    /// If connected, waits until the broker has granted them (throws if it refused one); if not, returns once
    /// they are recorded, and they are sent at the next CONNACK.
    public func subscribe(_ subscriptions: [MQTTSubscription]) async throws {
        let connected = shared.withLock { state -> Bool in
            for subscription in subscriptions where !state.subscriptions.contains(subscription) {
                state.subscriptions.append(subscription)
            }
            return state.machine.isConnected
        }
        guard connected else { return }
        for subscription in subscriptions {
            let id = try sendSubscribe(subscription)
            let result = try await waitForAcknowledgement(of: id)
            if case .refused(let reasonCode) = result {
                throw MQTTError(code: .subscriptionRefused, reasonCode: reasonCode, message: "the broker refused the subscription to '\(subscription.filter)'")
            }
        }
        shared.withLock { state in
            if state.machine.isConnected && state.resubscribing.isEmpty { state.subscriptionsActive = true }
        }
    }

    /// Queues a message for sending and returns at once. QoS ≥ 1 messages queued while disconnected are
    /// sent after the reconnect.
    public func publish(topic: String, payload: some Collection<UInt8>, qos: MQTTQoS = .atLeastOnce, retain: Bool = false) throws {
        let id = try sendPublish(topic: topic, payload: payload, qos: qos, retain: retain)
        shared.withLock { $0.acknowledgements.ignore(id) }
    }

    /// Publishes and waits until the broker acknowledged it (PUBACK for QoS 1, PUBCOMP for QoS 2; for QoS 0,
    /// until it was written to the socket).
    public func publishAndWait(topic: String, payload: some Collection<UInt8>, qos: MQTTQoS = .atLeastOnce, retain: Bool = false) async throws {
        let id = try sendPublish(topic: topic, payload: payload, qos: qos, retain: retain)
        let result = try await waitForAcknowledgement(of: id)
        if case .refused(let reasonCode) = result {
            throw MQTTError(code: .library, reasonCode: reasonCode, message: "the broker refused the message to '\(topic)'")
        }
    }

    /// Sends DISCONNECT, stops the network thread and waits for it to end. Waiters still pending fail with
    /// `.shutDown`. A persistent session stays on the broker. Must not be called from the message handler.
    public func disconnect() {
        let action = shared.withLock { state in
            state.stopRequested = true
            return state.machine.stopRequested()
        }
        connection.stop(sendDisconnect: action == .disconnect)
        let (acknowledgementWaiters, connectionWaiters) = shared.withLock { state in
            let connections = state.connectionWaiters.values.map(\.continuation)
            state.connectionWaiters.removeAll()
            return (state.acknowledgements.removeAllWaiters(), connections)
        }
        let error = MQTTError(code: .shutDown, message: "the MQTT client was disconnected")
        acknowledgementWaiters.forEach { $0.resume(throwing: error) }
        connectionWaiters.forEach { $0.resume(throwing: error) }
    }

    /// Cuts the connection so that the acknowledgement of the message being handled never leaves; for use
    /// inside the message handler when the message could not be stored. The broker keeps the message (in a
    /// persistent session) and delivers it again after the reconnect that follows.
    ///
    /// libmosquitto has queued the PUBACK/PUBREC before calling the handler and writes it only after the
    /// handler returns (threaded mode), so shutting the socket down now makes that write fail.
    public func abortConnectionWithoutAcknowledging() {
        connection.abortWithoutAcknowledging()
    }

    // MARK: - Sending

    private func sendPublish(topic: String, payload: some Collection<UInt8>, qos: MQTTQoS, retain: Bool) throws -> Int32 {
        try connection.publish(topic: topic, payload: payload, qos: qos, retain: retain)
    }

    private func sendSubscribe(_ subscription: MQTTSubscription) throws -> Int32 {
        try connection.subscribe(subscription)
    }

    private func waitForAcknowledgement(of id: Int32) async throws -> AcknowledgementResult {
        try await withCheckedThrowingContinuation { continuation in
            let outcome = shared.withLock { state in
                state.stopRequested ? nil : state.acknowledgements.wait(for: id, with: continuation)
            }
            switch outcome {
            case .none:
                continuation.resume(throwing: MQTTError(code: .shutDown, message: "the MQTT client was disconnected"))
            case .alreadyAcknowledged(let result)?:
                continuation.resume(returning: result)
            case .registered?:
                break
            }
        }
    }

    private func waitForConnection(count: Int) async throws {
        let id = shared.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = shared.withLock { state -> Bool in
                    if state.machine.connectionCount >= count && state.machine.isConnected { return true }
                    if Task.isCancelled { return true }
                    state.connectionWaiters[id] = (count, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            try Task.checkCancellation()
        } onCancel: {
            let waiter = shared.withLock { $0.connectionWaiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}

// The network thread's events, decided by the state machine (see ``MosquittoConnection``).
extension MQTTClient: MosquittoConnectionDelegate {
    func networkThreadStarted() -> ConnectionStateMachine.Action {
        shared.withLock { $0.machine.start() }
    }

    func connectAttemptFailed(problem: String) -> ConnectionStateMachine.Action {
        shared.withLock { state in
            state.lastProblem = problem
            return state.machine.connectAttemptFailed()
        }
    }

    func connectionLost(problem: String) -> ConnectionStateMachine.Action {
        shared.withLock { state in
            state.lastProblem = problem
            state.subscriptionsActive = false
            return state.machine.connectionLost()
        }
    }

    func backoffElapsed() -> ConnectionStateMachine.Action {
        shared.withLock { $0.machine.backoffElapsed() }
    }

    func idle() -> ConnectionStateMachine.Action {
        shared.withLock { $0.machine.connectionLost() }
    }

    func connackReceived(sessionPresent: Bool, refusal: String?) {
        let accepted = refusal == nil
        let (action, subscriptions, waiters) = shared.withLock { state in
            let action = state.machine.connackReceived(accepted: accepted, sessionPresent: sessionPresent)
            state.resubscribing.removeAll()
            state.subscriptionsActive = accepted && action != .subscribeAll && !state.subscriptions.isEmpty
            var ready: [CheckedContinuation<Void, any Error>] = []
            if let refusal {
                state.lastProblem = "the broker refused the connection: \(refusal)"
            } else {
                state.lastProblem = nil
                for (id, waiter) in state.connectionWaiters where waiter.count <= state.machine.connectionCount {
                    ready.append(waiter.continuation)
                    state.connectionWaiters[id] = nil
                }
            }
            return (action, state.subscriptions, ready)
        }
        if let refusal {
            logger.error("MQTT broker refused the connection", metadata: [
                "mqtt.reason": "\(refusal)",
            ])
        } else {
            logger.info("MQTT connected", metadata: [
                "mqtt.broker": "\(configuration.host):\(configuration.port)",
                "mqtt.session_present": "\(sessionPresent)",
            ])
        }
        if action == .subscribeAll {
            for subscription in subscriptions {
                do {
                    // Registered before the SUBACK can arrive: it is read on this same thread, later.
                    let id = try sendSubscribe(subscription)
                    shared.withLock { state in
                        state.resubscribing.insert(id)
                        state.acknowledgements.ignore(id)
                    }
                } catch {
                    logger.error("MQTT resubscribe failed", metadata: ["mqtt.filter": "\(subscription.filter)", "mqtt.problem": "\(error)"])
                }
            }
        }
        // After the resubscriptions are queued: what the handler publishes reaches the broker behind them.
        if refusal == nil { onConnect?(sessionPresent) }
        waiters.forEach { $0.resume() }
    }

    func messageReceived(_ message: MQTTMessage) {
        onMessage(message)
    }

    func acknowledged(id: Int32, result: AcknowledgementResult) {
        let waiter = shared.withLock { $0.acknowledgements.acknowledged(id, result) }
        waiter?.resume(returning: result)
    }

    func subscriptionAcknowledged(id: Int32, refusedWith reasonCode: Int32?) {
        shared.withLock { state in
            guard state.resubscribing.remove(id) != nil else { return }
            if reasonCode == nil && state.resubscribing.isEmpty && state.machine.isConnected { state.subscriptionsActive = true }
        }
        acknowledged(id: id, result: reasonCode.map { .refused(reasonCode: $0) } ?? .accepted)
    }
}
