import CMosquitto
import Foundation
import Logging
import Synchronization
import KappaCore

/// An MQTT client over libmosquitto, with its own network thread and automatic reconnection.
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

    private let handle: MosquittoHandle
    private let configuration: MQTTConfiguration
    private let logger: Logger
    private let onMessage: MessageHandler
    private let onBatchEnd: BatchEndHandler?
    private let onConnect: ConnectHandler?
    private let shared: Mutex<SharedState>
    /// Wakes the network thread from a reconnect backoff, and signals its end.
    private let wakeup = NSCondition()

    private struct SharedState: ~Copyable {
        var machine = ConnectionStateMachine()
        var subscriptions: [MQTTSubscription] = []
        var acknowledgements = AcknowledgementTracker<CheckedContinuation<AcknowledgementResult, any Error>>()
        var connectionWaiters: [Int: (count: Int, continuation: CheckedContinuation<Void, any Error>)] = [:]
        var nextWaiterID = 0
        var stopRequested = false
        var threadRunning = false
        var networkThread: pthread_t? = nil
        var lastProblem: String? = nil
        /// SUBSCRIBEs sent after a CONNACK that found no session, not yet granted.
        var resubscribing: Set<Int32> = []
        /// Whether the broker holds the subscriptions for the current connection: it granted them, or it
        /// kept the session they were made in.
        var subscriptionsActive = false
    }

    private init(handle: MosquittoHandle, configuration: MQTTConfiguration, logger: Logger, onMessage: @escaping MessageHandler, onBatchEnd: BatchEndHandler?, onConnect: ConnectHandler?) {
        self.handle = handle
        self.configuration = configuration
        self.logger = logger
        self.onMessage = onMessage
        self.onBatchEnd = onBatchEnd
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
    ///   - onConnect: called on the network thread at every accepted CONNACK, before the connection's messages.
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
        let handle = try MosquittoHandle.make(clientID: configuration.clientID, cleanSession: configuration.cleanSession)
        let pointer = handle.pointer
        // From here on a throw releases `handle`, whose deinit destroys the mosquitto struct.
        if configuration.protocolVersion == .v5 {
            try MQTTError.check(mosquitto_int_option(pointer, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5), "mosquitto_int_option(PROTOCOL_VERSION)")
        }
        try MQTTError.check(mosquitto_int_option(pointer, MOSQ_OPT_TCP_NODELAY, 1), "mosquitto_int_option(TCP_NODELAY)")
        try MQTTError.check(
            mosquitto_int_option(pointer, MOSQ_OPT_SEND_MAXIMUM, Int32(clamping: max(1, configuration.maxInflightMessages))),
            "mosquitto_int_option(SEND_MAXIMUM)"
        )
        if let username = configuration.username {
            try MQTTError.check(mosquitto_username_pw_set(pointer, username, configuration.password), "mosquitto_username_pw_set")
        }
        if let tls = configuration.tls {
            var caFile = tls.caFile
            if caFile == nil && tls.caDirectory == nil {
                caFile = "/etc/ssl/certs/ca-certificates.crt"
            }
            try MQTTError.check(
                mosquitto_tls_set(pointer, caFile, tls.caDirectory, tls.certificateFile, tls.keyFile, nil),
                "mosquitto_tls_set"
            )
            if tls.allowHostnameMismatch {
                try MQTTError.check(mosquitto_tls_insecure_set(pointer, true), "mosquitto_tls_insecure_set")
            }
        }
        let client = MQTTClient(handle: handle, configuration: configuration, logger: logger, onMessage: onMessage, onBatchEnd: onBatchEnd, onConnect: onConnect)
        // Unretained: callbacks run only on the network thread, which holds a strong reference to the client.
        mosquitto_user_data_set(pointer, Unmanaged.passUnretained(client).toOpaque())
        mosquitto_connect_v5_callback_set(pointer, mosquittoOnConnect)
        mosquitto_disconnect_v5_callback_set(pointer, mosquittoOnDisconnect)
        mosquitto_message_v5_callback_set(pointer, mosquittoOnMessage)
        mosquitto_publish_v5_callback_set(pointer, mosquittoOnPublish)
        mosquitto_subscribe_v5_callback_set(pointer, mosquittoOnSubscribe)
        if logger.logLevel <= .debug {
            // Only when someone reads it: with a log callback set, libmosquitto formats a line per packet.
            mosquitto_log_callback_set(pointer, mosquittoOnLog)
        }
        return client
    }

    // MARK: - Public API

    public var isConnected: Bool { shared.withLock { $0.machine.isConnected } }

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
            guard !state.threadRunning, !state.stopRequested else { return false }
            state.threadRunning = true
            return true
        }
        guard proceed else { return }
        let box = Unmanaged.passRetained(self)  // released by the thread when its loop ends
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            let client = Unmanaged<MQTTClient>.fromOpaque(argument!).takeRetainedValue()
            client.runNetworkThread()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            shared.withLock { $0.threadRunning = false }
            throw MQTTError(code: .library, message: "pthread_create: \(String(cString: strerror(rc)))")
        }
        shared.withLock { $0.networkThread = thread }
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
        let (action, thread) = shared.withLock { state in
            state.stopRequested = true
            return (state.machine.stopRequested(), state.networkThread)
        }
        if action == .disconnect {
            _ = mosquitto_disconnect(handle.pointer)
        }
        wakeup.lock()
        wakeup.broadcast()
        wakeup.unlock()
        if let thread {
            if pthread_equal(thread, pthread_self()) != 0 {
                logger.error("MQTTClient.disconnect() called from the network thread; not waiting for it")
            } else {
                pthread_join(thread, nil)
                shared.withLock { $0.networkThread = nil }
            }
        }
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
        let socket = mosquitto_socket(handle.pointer)
        if socket >= 0 {
            _ = shutdown(socket, Int32(SHUT_RDWR))
        }
        logger.warning("MQTT connection cut without acknowledging the current message; the broker will deliver it again")
    }

    // MARK: - Sending

    private func sendPublish(topic: String, payload: some Collection<UInt8>, qos: MQTTQoS, retain: Bool) throws -> Int32 {
        var id: Int32 = 0
        let rc: Int32
        if let rcFast = payload.withContiguousStorageIfAvailable({ buffer in
            mosquitto_publish(handle.pointer, &id, topic, Int32(buffer.count), buffer.baseAddress, qos.rawValue, retain)
        }) {
            rc = rcFast
        } else {
            let bytes = Array(payload)
            rc = bytes.withUnsafeBufferPointer { buffer in
                mosquitto_publish(handle.pointer, &id, topic, Int32(buffer.count), buffer.baseAddress, qos.rawValue, retain)
            }
        }
        try MQTTError.check(rc, "mosquitto_publish to '\(topic)'")
        return id
    }

    private func sendSubscribe(_ subscription: MQTTSubscription) throws -> Int32 {
        var id: Int32 = 0
        try MQTTError.check(
            mosquitto_subscribe_v5(handle.pointer, &id, subscription.filter, subscription.qos.rawValue, 0, nil),
            "mosquitto_subscribe to '\(subscription.filter)'"
        )
        return id
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

    // MARK: - The network thread

    private func runNetworkThread() {
        // Named for `top -H` and /proc: operators (and a test) can tell intake from the rest.
        nameCurrentThread("mqtt-network")
        var action = shared.withLock { $0.machine.start() }
        while !shared.withLock({ $0.stopRequested }) {
            switch action {
            case .connect:
                let rc = connectOnce()
                if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) {
                    let problem = MQTTError.library(rc, "connect to \(configuration.host):\(configuration.port)").message
                    logger.warning("MQTT connect failed", metadata: ["mqtt.problem": "\(problem)"])
                    action = shared.withLock { state in
                        state.lastProblem = problem
                        return state.machine.connectAttemptFailed()
                    }
                    continue
                }
                let loopRC = pumpUntilDisconnected()
                if shared.withLock({ $0.stopRequested }) { break }
                let problem = MQTTError.library(loopRC, "connection to \(configuration.host):\(configuration.port)").message
                logger.warning("MQTT connection lost; reconnecting", metadata: ["mqtt.problem": "\(problem)"])
                action = shared.withLock { state in
                    state.lastProblem = problem
                    state.subscriptionsActive = false
                    return state.machine.connectionLost()
                }
            case .reconnectAfterBackoff(let attempt):
                let delay = configuration.reconnectBackoff.delay(attempt: attempt, jitter: Double.random(in: 0...1))
                sleepUnlessStopped(delay)
                action = shared.withLock { $0.machine.backoffElapsed() }
            case .none, .subscribeAll, .disconnect:
                // Nothing left to drive; only a stop gets here.
                action = shared.withLock { $0.machine.connectionLost() }
                if action == .none { sleepUnlessStopped(.milliseconds(100)) }
            }
        }
        // The user's mosquitto_disconnect may have raced with a connect in progress; closing again is harmless.
        _ = mosquitto_disconnect(handle.pointer)
        _ = mosquitto_loop(handle.pointer, 10, 1)
        shared.withLock { $0.threadRunning = false }
    }

    private func connectOnce() -> Int32 {
        var properties: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&properties) }
        if configuration.protocolVersion == .v5 && !configuration.cleanSession {
            // MQTT 5 ends a session at disconnect unless the client asks for an expiry.
            let seconds = UInt32(clamping: configuration.sessionExpiry.components.seconds)
            _ = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), seconds)
        }
        let keepAlive = Int32(clamping: max(5, configuration.keepAlive.components.seconds))
        return mosquitto_connect_bind_v5(handle.pointer, configuration.host, Int32(configuration.port), keepAlive, nil, properties)
    }

    /// Runs libmosquitto's loop until the connection ends; returns the code that ended it.
    private func pumpUntilDisconnected() -> Int32 {
        if let onBatchEnd {
            return pumpInBursts(onBatchEnd)
        }
        while true {
            let rc = mosquitto_loop(handle.pointer, 1000, 1)
            if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) { return rc }
            if shared.withLock({ $0.stopRequested }) { return rc }
        }
    }

    /// The loop for a client with a batch-end handler, built from libmosquitto's parts for external event
    /// loops. `mosquitto_loop` reads one packet per wake-up and writes the queued acknowledgements right
    /// after; here every packet already on the socket is read first (up to `maxBurst`), the handler stores
    /// them, and then the acknowledgements go out together. In threaded mode libmosquitto only queues the
    /// PUBACKs it makes while reading, so nothing is written before `mosquitto_loop_write`.
    private func pumpInBursts(_ onBatchEnd: BatchEndHandler) -> Int32 {
        let success = Int32(MOSQ_ERR_SUCCESS.rawValue)
        let maxBurst = 1_024
        while true {
            if shared.withLock({ $0.stopRequested }) { return success }
            let socket = mosquitto_socket(handle.pointer)
            guard socket >= 0 else { return Int32(MOSQ_ERR_NO_CONN.rawValue) }
            var events = Int16(POLLIN)
            if mosquitto_want_write(handle.pointer) { events |= Int16(POLLOUT) }
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            // A short timeout: SUBSCRIBEs and pings queued by other threads go out within it.
            let ready = poll(&descriptor, 1, 100)
            if ready < 0 && errno != EINTR {
                return Int32(MOSQ_ERR_ERRNO.rawValue)
            }
            if ready > 0 && descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                var rc = success
                var burst = 0
                repeat {
                    rc = mosquitto_loop_read(handle.pointer, 1)
                    burst += 1
                } while rc == success && burst < maxBurst && bytesWaiting(on: socket) > 0
                // Store what was read even if the connection broke meanwhile: those messages come again, and
                // the processors count a redelivered reading once.
                guard onBatchEnd() else {
                    abortConnectionWithoutAcknowledging()
                    return Int32(MOSQ_ERR_CONN_LOST.rawValue)
                }
                if rc != success { return rc }
            }
            if mosquitto_want_write(handle.pointer) {
                let rc = mosquitto_loop_write(handle.pointer, 1)
                if rc != success { return rc }
            }
            let rc = mosquitto_loop_misc(handle.pointer)
            if rc != success { return rc }
        }
    }

    /// pthread_setname_np is not visible from Swift's Glibc module; /proc/thread-self/comm is the same name.
    private func nameCurrentThread(_ name: String) {
        #if os(Linux)
        let descriptor = open("/proc/thread-self/comm", O_WRONLY)
        guard descriptor >= 0 else { return }
        _ = Array(name.utf8.prefix(15)).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        #endif
    }

    private func bytesWaiting(on socket: Int32) -> Int32 {
        var count: Int32 = 0
        return ioctl(socket, UInt(FIONREAD), &count) == 0 ? count : 0
    }

    private func sleepUnlessStopped(_ delay: Duration) {
        let deadline = Date().addingTimeInterval(delay.seconds)
        wakeup.lock()
        defer { wakeup.unlock() }
        while !shared.withLock({ $0.stopRequested }) && Date() < deadline {
            _ = wakeup.wait(until: deadline)
        }
    }

    // MARK: - Callbacks (on the network thread)

    fileprivate func connackReceived(reasonCode: Int32, flags: Int32) {
        let accepted = reasonCode == 0
        let sessionPresent = flags & 1 == 1
        let (action, subscriptions, waiters) = shared.withLock { state in
            let action = state.machine.connackReceived(accepted: accepted, sessionPresent: sessionPresent)
            state.resubscribing.removeAll()
            state.subscriptionsActive = accepted && action != .subscribeAll && !state.subscriptions.isEmpty
            var ready: [CheckedContinuation<Void, any Error>] = []
            if accepted {
                state.lastProblem = nil
                for (id, waiter) in state.connectionWaiters where waiter.count <= state.machine.connectionCount {
                    ready.append(waiter.continuation)
                    state.connectionWaiters[id] = nil
                }
            } else {
                state.lastProblem = "the broker refused the connection: \(refusalText(reasonCode))"
            }
            return (action, state.subscriptions, ready)
        }
        if accepted {
            logger.info("MQTT connected", metadata: [
                "mqtt.broker": "\(configuration.host):\(configuration.port)",
                "mqtt.session_present": "\(sessionPresent)",
            ])
            onConnect?(sessionPresent)
        } else {
            logger.error("MQTT broker refused the connection", metadata: [
                "mqtt.reason": "\(refusalText(reasonCode))",
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
        waiters.forEach { $0.resume() }
    }

    /// CONNACK codes differ by protocol: MQTT 3.1.1 has its own small table, MQTT 5 uses reason codes.
    private func refusalText(_ code: Int32) -> String {
        let text = configuration.protocolVersion == .v5 ? mosquitto_reason_string(code) : mosquitto_connack_string(code)
        return text.map { String(cString: $0) } ?? "code \(code)"
    }

    fileprivate func disconnected(reasonCode: Int32) {
        logger.debug("MQTT disconnected", metadata: ["mqtt.rc": "\(reasonCode)"])
    }

    fileprivate func messageReceived(_ message: UnsafePointer<mosquitto_message>) {
        let raw = message.pointee
        let topic = String(cString: raw.topic)
        let payload: [UInt8]
        if raw.payloadlen > 0, let bytes = raw.payload {
            payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(raw.payloadlen)))
        } else {
            payload = []
        }
        let qos = MQTTQoS(rawValue: raw.qos) ?? .atMostOnce
        let packetID = qos == .atMostOnce ? 0 : UInt16(truncatingIfNeeded: raw.mid)
        onMessage(MQTTMessage(topic: topic, payload: payload, qos: qos, retain: raw.retain, packetID: packetID))
    }

    fileprivate func acknowledged(id: Int32, result: AcknowledgementResult) {
        let waiter = shared.withLock { $0.acknowledgements.acknowledged(id, result) }
        waiter?.resume(returning: result)
    }

    fileprivate func subscriptionAcknowledged(id: Int32, granted: UnsafeBufferPointer<Int32>) {
        let refused = granted.first { $0 >= 0x80 }
        if let refused {
            logger.error("MQTT broker refused a subscription", metadata: ["mqtt.reason_code": "\(refused)"])
        }
        shared.withLock { state in
            guard state.resubscribing.remove(id) != nil else { return }
            if refused == nil && state.resubscribing.isEmpty && state.machine.isConnected { state.subscriptionsActive = true }
        }
        acknowledged(id: id, result: refused.map { .refused(reasonCode: $0) } ?? .accepted)
    }

    fileprivate func libraryLogged(level: Int32, text: String) {
        let swiftLevel: Logger.Level
        switch level {
        case MOSQ_LOG_ERR: swiftLevel = .error
        case MOSQ_LOG_WARNING: swiftLevel = .warning
        case MOSQ_LOG_NOTICE, MOSQ_LOG_INFO: swiftLevel = .debug
        default: swiftLevel = .trace
        }
        logger.log(level: swiftLevel, "libmosquitto: \(text)")
    }
}

// C callbacks: free functions with libmosquitto's exact signatures, reaching the client through userdata.

private func client(_ userdata: UnsafeMutableRawPointer?) -> MQTTClient {
    Unmanaged<MQTTClient>.fromOpaque(userdata!).takeUnretainedValue()
}

private func mosquittoOnConnect(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32, _ flags: Int32, _: OpaquePointer?) {
    client(userdata).connackReceived(reasonCode: rc, flags: flags)
}

private func mosquittoOnDisconnect(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32, _: OpaquePointer?) {
    client(userdata).disconnected(reasonCode: rc)
}

private func mosquittoOnMessage(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ message: UnsafePointer<mosquitto_message>?, _: OpaquePointer?) {
    guard let message else { return }
    client(userdata).messageReceived(message)
}

private func mosquittoOnPublish(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ id: Int32, _ reasonCode: Int32, _: OpaquePointer?) {
    client(userdata).acknowledged(id: id, result: reasonCode >= 0x80 ? .refused(reasonCode: reasonCode) : .accepted)
}

private func mosquittoOnSubscribe(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ id: Int32, _ count: Int32, _ granted: UnsafePointer<Int32>?, _: OpaquePointer?) {
    client(userdata).subscriptionAcknowledged(id: id, granted: UnsafeBufferPointer(start: granted, count: Int(count)))
}

private func mosquittoOnLog(_: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ level: Int32, _ text: UnsafePointer<CChar>?) {
    guard let text else { return }
    client(userdata).libraryLogged(level: level, text: String(cString: text))
}
